#include "internal/invoker/request.h"

#include "internal/api/validate.h"
#include "internal/codeq/envelope.h"
#include "internal/kv/keys.h"
#include "internal/runtime/text.h"

namespace cs::invoker {

namespace {

using json = nlohmann::json;

// spec/invocation-result.schema.json limits (bytes here; the schema counts characters, so a
// byte cap is always within it).
constexpr size_t kResultMaxMessageBytes = 65536;
constexpr size_t kResultMaxStackBytes = 8192;
constexpr size_t kResultMaxTypeBytes = 128;
constexpr size_t kMaxReplyToBytes = 256;

Error invalid(std::string message) {
  return Error{ErrorCode::ValidationFailed, "invocation request: " + std::move(message)};
}

bool isCsCode(std::string_view code) {
  if (code.size() < 4 || code.size() > 64 || code.substr(0, 3) != "CS_") return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<InvocationRequest> parseRequest(std::string_view envelopeType,
                                       std::string_view envelopeTenant, const json& body,
                                       BodySchema schema) {
  if (envelopeType != codeq::kTypeInvoke) {
    return invalid("envelope type is \"" + std::string(envelopeType) + "\", expected " +
                   std::string(codeq::kTypeInvoke));
  }
  if (schema == BodySchema::Check) {
    if (auto st = api::validateInvocationRequest(body); !st.ok()) return st.error();
  }

  InvocationRequest r;
  r.activationId = body["activation_id"].get<std::string>();
  r.requestId = body["request_id"].get<std::string>();
  r.tenant = body["tenant"].get<std::string>();
  r.ns = body["namespace"].get<std::string>();
  const json& ref = body["ref"];
  r.function = ref["function"].get<std::string>();
  if (ref.contains("alias")) r.alias = ref["alias"].get<std::string>();
  if (ref.contains("version")) r.version = ref["version"].get<int64_t>();
  const json& trigger = body["trigger"];
  auto type = kv::parseTriggerType(trigger["type"].get<std::string>());
  if (!type) return invalid("/trigger/type: unknown trigger type");
  r.triggerType = *type;
  r.triggerSource = trigger["source"];
  r.principalSub = body["principal"]["sub"].get<std::string>();
  for (const auto& role : body["principal"]["roles"]) {
    r.principalRoles.push_back(role.get<std::string>());
  }
  r.deadlineMs = body["deadline_ms"].get<int64_t>();
  r.event = body["event"];

  if (envelopeTenant != r.tenant) return invalid("/tenant: differs from the envelope's tenant");
  // Storage key components must follow SPEC §3, which is stricter than the message schema.
  if (!kv::keys::isValidActivationId(r.activationId)) {
    return Error{ErrorCode::ValidationNameInvalid,
                 "invocation request: /activation_id: not a "
                 "canonical lower-case UUID"};
  }
  if (!kv::keys::isValidTenant(r.tenant)) {
    return Error{ErrorCode::ValidationNameInvalid, "invocation request: /tenant: invalid name"};
  }
  if (!kv::keys::isValidNamespace(r.ns)) {
    return Error{ErrorCode::ValidationNameInvalid, "invocation request: /namespace: invalid name"};
  }
  if (!kv::keys::isValidFunctionName(r.function)) {
    return Error{ErrorCode::ValidationNameInvalid,
                 "invocation request: /ref/function: invalid name"};
  }
  if (r.alias && !kv::keys::isValidAlias(*r.alias)) {
    return Error{ErrorCode::ValidationNameInvalid, "invocation request: /ref/alias: invalid name"};
  }
  if (r.version && !kv::keys::isValidVersion(*r.version)) {
    return invalid("/ref/version: must be >= 1");
  }
  if (auto it = r.triggerSource.find("reply_to"); it != r.triggerSource.end()) {
    if (!it->is_string() || it->get<std::string>().empty() ||
        it->get<std::string>().size() > kMaxReplyToBytes) {
      return invalid("/trigger/source/reply_to: must be a topic name of 1-256 bytes");
    }
    r.replyTo = it->get<std::string>();
  }
  if (r.triggerType == kv::TriggerType::Schedule) {
    if (auto it = r.triggerSource.find("schedule"); it != r.triggerSource.end()) {
      if (!it->is_string() || !kv::keys::isValidScheduleName(it->get<std::string>())) {
        return Error{ErrorCode::ValidationNameInvalid,
                     "invocation request: /trigger/source/schedule: invalid schedule name"};
      }
      r.scheduleName = it->get<std::string>();
    }
  }
  return r;
}

json buildCtx(const InvocationRequest& request, int64_t version) {
  json ref = json::object();
  if (request.alias) ref["alias"] = *request.alias;
  return json{
      {"activation_id", request.activationId},
      {"deadline_ms", request.deadlineMs},
      {"tenant", request.tenant},
      {"namespace", request.ns},
      {"function", request.function},
      {"version", version},
      {"ref", std::move(ref)},
      {"trigger", {{"type", std::string(kv::toString(request.triggerType))}}},
      {"principal", {{"sub", request.principalSub}, {"roles", request.principalRoles}}},
  };
}

kv::ActivationError invokerError(std::string type, ErrorCode code, std::string message) {
  return kv::ActivationError{std::move(type), std::string(errorCodeName(code)), std::move(message),
                             ""};
}

kv::ActivationError toActivationError(const runtime::ErrorDetail& detail) {
  return kv::ActivationError{detail.type.empty() ? "Exception" : detail.type,
                             std::string(errorCodeName(detail.code)), detail.message, detail.stack};
}

kv::ActivationStatus toActivationStatus(runtime::Outcome outcome) {
  switch (outcome) {
    case runtime::Outcome::Success:
      return kv::ActivationStatus::Success;
    case runtime::Outcome::Timeout:
      return kv::ActivationStatus::Timeout;
    case runtime::Outcome::Exception:
    case runtime::Outcome::InvalidResult:
    case runtime::Outcome::MemoryLimit:
    case runtime::Outcome::CapabilityDenied:
      return kv::ActivationStatus::Error;
  }
  return kv::ActivationStatus::Error;
}

json buildResultBody(const kv::ActivationRecord& record, const std::string& requestId) {
  json body{{"activation_id", record.activationId},
            {"request_id", requestId},
            {"status", std::string(kv::toString(record.status))},
            {"duration_ms", std::max<int64_t>(0, record.durationMs.value_or(0))}};
  if (record.version) body["version"] = *record.version;
  if (record.resultTruncated) body["result_truncated"] = true;
  if (record.logsTruncated) body["logs_truncated"] = true;
  if (record.status == kv::ActivationStatus::Success) {
    // A success always carries a result; the runtime normalises it, this guards old records.
    body["result"] = record.result && record.result->is_object() ? *record.result
                                                                 : json{{"statusCode", 200},
                                                                        {"headers", json::object()},
                                                                        {"body", ""},
                                                                        {"isBase64Encoded", false}};
    return body;
  }
  kv::ActivationError err = record.error.value_or(kv::ActivationError{});
  if (err.type.empty()) {
    err.type = record.status == kv::ActivationStatus::Timeout ? "Timeout" : "Exception";
  }
  json e{{"type", runtime::truncateUtf8(err.type, kResultMaxTypeBytes)},
         {"message", runtime::truncateUtf8(err.message, kResultMaxMessageBytes)}};
  if (!err.stack.empty()) e["stack"] = runtime::truncateUtf8(err.stack, kResultMaxStackBytes);
  if (isCsCode(err.code)) e["code"] = err.code;
  body["error"] = std::move(e);
  return body;
}

std::vector<kv::LogChunk> chunkLogs(const std::vector<runtime::LogEntry>& logs) {
  std::vector<kv::LogChunk> chunks;
  size_t chunkBytes = 0;
  for (const auto& entry : logs) {
    // The same per-entry cost the runtime charges against max_log_bytes.
    size_t cost = entry.message.size() + entry.level.size() + 16;
    if (chunks.empty() || chunks.back().entries.size() >= kMaxChunkEntries ||
        (!chunks.back().entries.empty() && chunkBytes + cost > kMaxChunkBytes)) {
      chunks.push_back(kv::LogChunk{static_cast<int64_t>(chunks.size()), {}});
      chunkBytes = 0;
    }
    chunks.back().entries.push_back(kv::LogEntry{entry.level, entry.tsMs, entry.message});
    chunkBytes += cost;
  }
  return chunks;
}

}  // namespace cs::invoker
