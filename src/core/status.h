// Errors are values. Every fallible call in cryptolake returns a Status or a StatusOr<T>;
// exceptions from libraries are caught at the boundary that called them and turned into a
// Status with context. Assertions are kept for programmer errors only.
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cryptolake {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from the user or a file: malformed row, unknown flag value
  kNotFound,         // a file, symbol or dataset that does not exist
  kAlreadyExists,
  kDataLoss,  // a checksum mismatch, a truncated or corrupt file
  kFailedPrecondition,
  kIOError,      // the OS refused a read, write, fsync or rename
  kInternal,     // DuckDB or another library reported an error
  kUnavailable,  // a peer (network, lock holder) is not available now; retry may help
  kAborted,      // the operation was cancelled (signal, --strict rejection)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status InvalidArgument(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kInvalidArgument, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status NotFound(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kNotFound, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status DataLoss(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kDataLoss, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status AlreadyExists(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kAlreadyExists, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status IOError(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kIOError, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status Internal(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kInternal, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status FailedPrecondition(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kFailedPrecondition, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status Unavailable(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kUnavailable, fmt::format(f, std::forward<Args>(a)...)};
}
template <typename... Args>
Status Aborted(fmt::format_string<Args...> f, Args&&... a) {
  return {StatusCode::kAborted, fmt::format(f, std::forward<Args>(a)...)};
}

// The error a StatusOr holds when it was built from an OK status (see StatusOr(Status)).
inline constexpr std::string_view kStatusOrFromOk = "StatusOr built from an OK status: no value";

// Holds either a value or a non-OK Status. Accessing value() on an error is a programmer error.
// Building one from an OK status is a programmer error too (it would be neither a value nor an
// error): it asserts in Debug, and in Release the StatusOr holds Internal(kStatusOrFromOk), so
// ASSIGN_OR_RETURN can never return success without a value.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : v_(std::move(s)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "StatusOr built from an OK status: no value");
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, std::string(kStatusOrFromOk));
  }
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<Status, T> v_;
};

// Drops `status` on purpose, and says so: an error is logged as a warning with `why` (why
// dropping it is right, e.g. "best-effort cleanup; the caller already failed"). The only way to
// drop a Status: Status and StatusOr are [[nodiscard]] and the build has -Werror=unused-result.
void IgnoreError(const Status& status, std::string_view why);
template <typename T>
void IgnoreError(const StatusOr<T>& result, std::string_view why) {
  if (!result.ok()) IgnoreError(result.status(), why);
}

#define CL_CONCAT_INNER(a, b) a##b
#define CL_CONCAT(a, b) CL_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    ::cryptolake::Status _st = (expr); \
    if (!_st.ok()) return _st;         \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(CL_CONCAT(_so_, __LINE__), lhs, expr)

}  // namespace cryptolake
