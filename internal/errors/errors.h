// The SPEC §5 error catalog, the HTTP status of every code, cs::Error and cs::Result<T>.
//
// Expected failures on request paths are values (Result<T>); the catalog is the one place that
// maps a code to its HTTP status, and errorBody() is the one JSON encoder of the error shape
// {"error":{"code","message","request_id"}}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cs {

enum class ErrorCode {
  // authn (401)
  AuthnMissingToken,
  AuthnInvalidToken,
  AuthnExpiredToken,
  // authz (403)
  AuthzDenied,
  AuthzRoleMissing,
  AuthzResourceMismatch,
  // validation (400; bundle too large 413 is NOT used: SPEC says 400)
  ValidationFailed,
  ValidationManifestInvalid,
  ValidationBundleTooLarge,
  ValidationNameInvalid,
  // not found (404) and conflicts (409): documented additions, see docs/errors.md
  NotFound,
  Conflict,
  // gateway protection
  RateLimited,        // 429
  PayloadTooLarge,    // 413
  HeadersTooLarge,    // 431
  // storage
  KvrocksUnavailable,  // 503
  KvrocksWriteFailed,
  KvrocksReadFailed,
  KvrocksCasFailed,
  // queue
  CodeqPublishFailed,
  CodeqSubscribeFailed,
  CodeqCorrelationTimeout,  // 504
  CodeqUnavailable,         // 503
  // runtime
  RuntimeTimeout,
  RuntimeMemoryLimit,
  RuntimeException,
  RuntimeCapabilityDenied,
  // cadence
  CadencePollFailed,
  CadenceRespondFailed,
  CadenceHeartbeatFailed,
  // scheduler
  SchedulerStateWriteFailed,
  // anything that is our own bug
  Internal,
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;  // "CS_…"
  int httpStatus;
};

// Every row of the catalog, in declaration order.
const std::vector<ErrorInfo>& errorCatalog();

std::string_view errorCodeName(ErrorCode code);
int httpStatus(ErrorCode code);
std::optional<ErrorCode> errorCodeFromName(std::string_view name);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;

  std::string_view name() const { return errorCodeName(code); }
  int status() const { return httpStatus(code); }
};

// JSON body of an error response: {"error":{"code","message","request_id"}}.
std::string errorBody(const Error& error, std::string_view requestId);

// A value or an Error. Small on purpose: tl::expected is not packaged on Debian 12.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}                  // NOLINT(google-explicit-constructor)
  Result(ErrorCode code, std::string message) : v_(Error{code, std::move(message)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() { return Ok{}; }

}  // namespace cs
