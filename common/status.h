// Status and StatusOr: errors as values across component boundaries (STYLE.md item 3).
//
// A Status is either OK or carries one human-readable line that names the file, node, field or
// device it is about, e.g. "model.onnx: node 'conv1' (QLinearConv): input 'x_scale': scale must be
// > 0, got -1". Callers prepend context with WithContext() as the error travels up, so the line a
// user finally sees says where, then what. Cheap to move; not thread-safe to share mutably.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace qfarm {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from a user or a file: exit status 2
  kNotFound,          // a named thing (file, input, profile) does not exist
  kUnimplemented,     // a valid request this build cannot serve
  kResourceExhausted, // a configured limit would be exceeded
  kInternal,          // a bug in qfarm
  kUnavailable,       // a device or peer could not be reached
  kPermissionDenied,  // no valid token for what was asked
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
inline Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }

// Holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {      // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "StatusOr built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qfarm

// Early-return helpers. QFARM_ASSIGN_OR_RETURN(auto x, Expr()) declares x from a StatusOr.
#define QFARM_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::qfarm::Status qfarm_status_ = (expr);      \
    if (!qfarm_status_.ok()) return qfarm_status_; \
  } while (0)

#define QFARM_CONCAT_INNER_(a, b) a##b
#define QFARM_CONCAT_(a, b) QFARM_CONCAT_INNER_(a, b)
#define QFARM_ASSIGN_OR_RETURN(lhs, expr) \
  QFARM_ASSIGN_OR_RETURN_IMPL_(QFARM_CONCAT_(qfarm_statusor_, __LINE__), lhs, expr)
#define QFARM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
