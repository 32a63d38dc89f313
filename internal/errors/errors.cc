#include "internal/errors/errors.h"

#include <nlohmann/json.hpp>

namespace cs {

const std::vector<ErrorInfo>& errorCatalog() {
  static const std::vector<ErrorInfo> kCatalog = {
      {ErrorCode::AuthnMissingToken, "CS_AUTHN_MISSING_TOKEN", 401},
      {ErrorCode::AuthnInvalidToken, "CS_AUTHN_INVALID_TOKEN", 401},
      {ErrorCode::AuthnExpiredToken, "CS_AUTHN_EXPIRED_TOKEN", 401},
      {ErrorCode::AuthzDenied, "CS_AUTHZ_DENIED", 403},
      {ErrorCode::AuthzRoleMissing, "CS_AUTHZ_ROLE_MISSING", 403},
      {ErrorCode::AuthzResourceMismatch, "CS_AUTHZ_RESOURCE_MISMATCH", 403},
      {ErrorCode::ValidationFailed, "CS_VALIDATION_FAILED", 400},
      {ErrorCode::ValidationManifestInvalid, "CS_VALIDATION_MANIFEST_INVALID", 400},
      {ErrorCode::ValidationBundleTooLarge, "CS_VALIDATION_BUNDLE_TOO_LARGE", 400},
      {ErrorCode::ValidationNameInvalid, "CS_VALIDATION_NAME_INVALID", 400},
      {ErrorCode::NotFound, "CS_NOT_FOUND", 404},
      {ErrorCode::Conflict, "CS_CONFLICT", 409},
      {ErrorCode::RateLimited, "CS_RATE_LIMITED", 429},
      {ErrorCode::PayloadTooLarge, "CS_PAYLOAD_TOO_LARGE", 413},
      {ErrorCode::HeadersTooLarge, "CS_HEADERS_TOO_LARGE", 431},
      {ErrorCode::KvrocksUnavailable, "CS_KVROCKS_UNAVAILABLE", 503},
      {ErrorCode::KvrocksWriteFailed, "CS_KVROCKS_WRITE_FAILED", 500},
      {ErrorCode::KvrocksReadFailed, "CS_KVROCKS_READ_FAILED", 500},
      {ErrorCode::KvrocksCasFailed, "CS_KVROCKS_CAS_FAILED", 500},
      {ErrorCode::CodeqPublishFailed, "CS_CODEQ_PUBLISH_FAILED", 500},
      {ErrorCode::CodeqSubscribeFailed, "CS_CODEQ_SUBSCRIBE_FAILED", 500},
      {ErrorCode::CodeqCorrelationTimeout, "CS_CODEQ_CORRELATION_TIMEOUT", 504},
      {ErrorCode::CodeqUnavailable, "CS_CODEQ_UNAVAILABLE", 503},
      {ErrorCode::RuntimeTimeout, "CS_RUNTIME_TIMEOUT", 504},
      {ErrorCode::RuntimeMemoryLimit, "CS_RUNTIME_MEMORY_LIMIT", 502},
      {ErrorCode::RuntimeException, "CS_RUNTIME_EXCEPTION", 502},
      {ErrorCode::RuntimeCapabilityDenied, "CS_RUNTIME_CAPABILITY_DENIED", 502},
      {ErrorCode::CadencePollFailed, "CS_CADENCE_POLL_FAILED", 500},
      {ErrorCode::CadenceRespondFailed, "CS_CADENCE_RESPOND_FAILED", 500},
      {ErrorCode::CadenceHeartbeatFailed, "CS_CADENCE_HEARTBEAT_FAILED", 500},
      {ErrorCode::SchedulerStateWriteFailed, "CS_SCHEDULER_STATE_WRITE_FAILED", 500},
      {ErrorCode::Internal, "CS_INTERNAL", 500},
  };
  return kCatalog;
}

namespace {
const ErrorInfo& info(ErrorCode code) {
  // The catalog is in enum order; the unit test checks that invariant.
  return errorCatalog()[static_cast<size_t>(code)];
}
}  // namespace

std::string_view errorCodeName(ErrorCode code) { return info(code).name; }

int httpStatus(ErrorCode code) { return info(code).httpStatus; }

std::optional<ErrorCode> errorCodeFromName(std::string_view name) {
  for (const auto& row : errorCatalog()) {
    if (row.name == name) return row.code;
  }
  return std::nullopt;
}

std::string errorBody(const Error& error, std::string_view requestId) {
  nlohmann::json body = {{"error",
                          {{"code", std::string(error.name())},
                           {"message", error.message},
                           {"request_id", std::string(requestId)}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cs
