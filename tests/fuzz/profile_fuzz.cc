// libFuzzer target: arithmetic profile texts (docs/fuzzing.md).
//
// ParseProfile on the bytes; a profile that parses must round-trip: ProfileToText (short and
// all-keys forms) parses again to the same profile, whose text is the same text (the defaults'
// short form is "", which is not parsed). ProfileName,
// when it names a profile, must name one that parses to it. A mismatch traps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reference/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = qfarm::ParseProfile(text);
  if (!p.ok()) return 0;
  for (bool all_keys : {false, true}) {
    const std::string t = qfarm::ProfileToText(*p, all_keys);
    // The short form of the defaults is "", which ParseProfile refuses ("empty profile") by
    // design: callers print it as the defaults. Check that it really is the defaults.
    if (t.empty()) {
      if (all_keys || !(*p == qfarm::Profile{})) __builtin_trap();
      continue;
    }
    auto again = qfarm::ParseProfile(t);
    if (!again.ok()) __builtin_trap();
    if (!(*again == *p)) __builtin_trap();
    if (qfarm::ProfileToText(*again, all_keys) != t) __builtin_trap();
  }
  if (auto name = qfarm::ProfileName(*p)) {
    auto named = qfarm::ParseProfile(*name);
    if (!named.ok() || !(*named == *p)) __builtin_trap();
  }
  return 0;
}
