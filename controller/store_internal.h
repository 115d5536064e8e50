// Helpers shared by the Store's implementation files (not part of its interface).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/db.h"

namespace qfarm::controller {

inline constexpr const char* kNameRule = "must be 1-64 characters of [A-Za-z0-9._-]";

// Agent names: [A-Za-z0-9._-]{1,64}, not starting with '.'.
bool ValidName(std::string_view s);
// Device names as agents report them: a name, or command:<path> / faulty:<fault> (printable, ≤ 256).
bool ValidDeviceName(std::string_view s);
// The text with anything unprintable escaped, cut at 80 characters, for error messages.
std::string Printable(std::string_view s);

// Runs f; an SQLite error becomes kUnavailable naming the operation (the transaction inside f
// has rolled back by then).
template <typename F>
auto Guarded(const char* what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const DbError& e) {
    return Unavailable(std::string(what) + ": database error: " + e.what());
  }
}

}  // namespace qfarm::controller
