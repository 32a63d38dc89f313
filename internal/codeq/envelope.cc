#include "internal/codeq/envelope.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>

#include "internal/api/validate.h"
#include "internal/crypto/crypto.h"

namespace cs::codeq {
namespace {

using nlohmann::json;

json toJson(const Envelope& e) {
  return json{{"schema", std::string(kEnvelopeSchema)},
              {"id", e.id},
              {"ts_ms", e.tsMs},
              {"tenant", e.tenant},
              {"type", e.type},
              {"body", e.body}};
}

// Known types get their body schema; unknown types travel unvalidated (forward compatible).
Status validateBody(const std::string& type, const json& body) {
  Status st = okStatus();
  if (type == kTypeInvoke) {
    st = api::validateInvocationRequest(body);
  } else if (type == kTypeResult) {
    st = api::validateInvocationResult(body);
  }
  if (!st.ok()) {
    return Error{ErrorCode::ValidationFailed, "envelope body (" + type + "): " + st.error().message};
  }
  return okStatus();
}

}  // namespace

Envelope makeEnvelope(std::string tenant, std::string type, nlohmann::json body) {
  Envelope e;
  e.id = "msg_" + crypto::randomHex(16);
  e.tsMs = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  e.tenant = std::move(tenant);
  e.type = std::move(type);
  e.body = std::move(body);
  return e;
}

std::string encode(const Envelope& envelope) {
  return toJson(envelope).dump(-1, ' ', false, json::error_handler_t::replace);
}

Status validate(const Envelope& envelope) {
  // The envelope schema allows any body ("body": {}); the body's own schema follows. A null
  // stands in for it so that the body is not copied.
  json shape = json{{"schema", std::string(kEnvelopeSchema)},
                    {"id", envelope.id},
                    {"ts_ms", envelope.tsMs},
                    {"tenant", envelope.tenant},
                    {"type", envelope.type},
                    {"body", nullptr}};
  if (Status st = api::validateEnvelope(shape); !st.ok()) {
    return Error{ErrorCode::ValidationFailed, st.error().message};
  }
  return validateBody(envelope.type, envelope.body);
}

Result<Envelope> decode(std::string_view text) {
  Result<json> parsed = api::parseJson(text);
  if (!parsed.ok()) {
    return Error{ErrorCode::ValidationFailed, "envelope: " + parsed.error().message};
  }
  const json& doc = *parsed;
  if (Status st = api::validateEnvelope(doc); !st.ok()) {
    return Error{ErrorCode::ValidationFailed, st.error().message};
  }
  // The schema guarantees the shapes below; ts_ms may still exceed int64 as an unsigned.
  const json& ts = doc.at("ts_ms");
  if (ts.is_number_unsigned() &&
      ts.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Error{ErrorCode::ValidationFailed, "envelope: /ts_ms: out of range"};
  }
  Envelope e;
  e.id = doc.at("id").get<std::string>();
  e.tsMs = ts.get<int64_t>();
  e.tenant = doc.at("tenant").get<std::string>();
  e.type = doc.at("type").get<std::string>();
  e.body = doc.at("body");
  if (Status st = validateBody(e.type, e.body); !st.ok()) return st.error();
  e.bodyChecked = e.type == kTypeInvoke || e.type == kTypeResult;
  return e;
}

}  // namespace cs::codeq
