// Status and Result<T>: the error contract at every module boundary.
//
// Expected failures (bad input, missing rows, I/O, network) are returned, never thrown. Codes are
// chosen by what the caller should do next (absl-style), and mapped to exit codes and HTTP statuses
// in exactly one place each (ExitCodeFor, HttpStatusFor). Thread-compatible value types.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace retention {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // fix the input (usage error, bad value, malformed file)
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // the object exists; the request would duplicate it
  kPermissionDenied,    // the caller's role does not allow this
  kFailedPrecondition,  // a rule refuses it now (no consent, on hold)
  kUnauthenticated,     // no valid credentials
  kResourceExhausted,   // rate limit; retry later
  kUnavailable,         // a backend is down; retry the call
  kAborted,             // a conflict; retry the transaction
  kInternal,            // a bug or an unexpected backend answer
};

// Returns the lower-case name of `code`, e.g. "not found".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message" (adds context on the way up).
  Status WithContext(const std::string& context) const;
  // "code name: message", for logs.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Process exit code for a status: 0 ok, 2 usage/invalid input, 3 refused by a rule (not found,
// not allowed, precondition), 1 anything else.
int ExitCodeFor(const Status& status);
// HTTP status for a status (400, 401, 403, 404, 409, 429, 503, 500).
int HttpStatusFor(const Status& status);

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  // Ok() when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

namespace internal {
inline Status AsStatus(const Status& s) { return s; }
template <typename T>
Status AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace retention

// NOLINTBEGIN(cppcoreguidelines-macro-usage): early-return helpers need to be macros.
#define RETENTION_CONCAT_INNER(a, b) a##b
#define RETENTION_CONCAT(a, b) RETENTION_CONCAT_INNER(a, b)

// Each expansion gets its own variable name, so the macro nests (e.g. inside a lambda argument)
// without -Wshadow warnings.
#define RETURN_IF_ERROR_IMPL(st, expr)                              \
  do {                                                              \
    ::retention::Status st = ::retention::internal::AsStatus(expr); \
    if (!st.ok()) return st;                                        \
  } while (false)
#define RETURN_IF_ERROR(expr) RETURN_IF_ERROR_IMPL(RETENTION_CONCAT(_status_, __COUNTER__), expr)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(RETENTION_CONCAT(_result_, __COUNTER__), lhs, expr)
// NOLINTEND(cppcoreguidelines-macro-usage)
