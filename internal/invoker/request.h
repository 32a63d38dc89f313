// The invoker's view of the messages it consumes and produces (SPEC §7, docs/contracts.md):
// a checked InvocationRequest, the InvocationResult body, and the conversions between
// runtime outcomes, activation records and result bodies. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"
#include "internal/kv/records.h"
#include "internal/runtime/engine.h"

namespace cs::invoker {

// A cs.invoke.v1 body that passed the schema AND the semantic checks of parseRequest().
struct InvocationRequest {
  std::string activationId;
  std::string requestId;
  std::string tenant;
  std::string ns;
  std::string function;
  std::optional<std::string> alias;
  std::optional<int64_t> version;  // when absent, resolved from the alias
  kv::TriggerType triggerType = kv::TriggerType::Api;
  nlohmann::json triggerSource = nlohmann::json::object();
  std::string principalSub;
  std::vector<std::string> principalRoles;
  int64_t deadlineMs = 0;  // absolute wall-clock ms
  nlohmann::json event;
  // Routing extras from trigger.source (docs/contracts.md).
  std::optional<std::string> replyTo;
  std::optional<std::string> scheduleName;  // only for trigger type schedule
};

// Checks the envelope type and tenant, the body against spec/invocation-request.schema.json
// and the SPEC §3 name rules (stricter than the message schema: tenant, namespace, function,
// alias must be usable as storage key components). reply_to, when present, must be a
// non-empty string of at most 256 bytes; a schedule trigger's source.schedule, when present,
// a valid schedule name. CS_VALIDATION_FAILED / CS_VALIDATION_NAME_INVALID naming the field:
// such requests go to the DLQ.
// BodySchema::AlreadyChecked skips only the schema pass, for bodies that codeq::decode
// validated against the same schema (Envelope::bodyChecked). The other checks always run.
enum class BodySchema { Check, AlreadyChecked };
Result<InvocationRequest> parseRequest(std::string_view envelopeType,
                                       std::string_view envelopeTenant, const nlohmann::json& body,
                                       BodySchema schema = BodySchema::Check);

// The SPEC §9 ctx handed to the handler.
nlohmann::json buildCtx(const InvocationRequest& request, int64_t version);

// Error detail for failures the invoker decides itself (not found, bad bundle, deadline):
// type names the class of failure, code is the SPEC §5 code.
kv::ActivationError invokerError(std::string type, ErrorCode code, std::string message);

// The runtime's ErrorDetail as stored in the activation record.
kv::ActivationError toActivationError(const runtime::ErrorDetail& detail);
kv::ActivationStatus toActivationStatus(runtime::Outcome outcome);

// The cs.results.v1 body for a terminal record (SPEC §7 + contracts.md extras: error.code,
// version, result_truncated, logs_truncated). request_id is the one of the request being
// answered, which differs from the record's when a repeated activation id is republished.
// Error message and stack are cut to the schema's 64 KiB / 8 KiB, so the body always passes
// spec/invocation-result.schema.json.
nlohmann::json buildResultBody(const kv::ActivationRecord& record, const std::string& requestId);

// Splits log entries into chunks of at most kMaxChunkEntries entries and about
// kMaxChunkBytes bytes (an entry larger than that sits alone in its chunk), seq 0, 1, 2, ….
inline constexpr size_t kMaxChunkEntries = 100;
inline constexpr size_t kMaxChunkBytes = 64 * 1024;
std::vector<kv::LogChunk> chunkLogs(const std::vector<runtime::LogEntry>& logs);

}  // namespace cs::invoker
