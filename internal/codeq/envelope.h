// The message envelope of SPEC §7, shared by every queue driver:
// {schema:"cs.envelope.v1", id:"msg_…", ts_ms, tenant, type, body}. Bodies are validated
// against their schema by type (cs.invoke.v1 → InvocationRequest, cs.results.v1 →
// InvocationResult).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::codeq {

inline constexpr std::string_view kEnvelopeSchema = "cs.envelope.v1";
inline constexpr std::string_view kTypeInvoke = "cs.invoke.v1";
inline constexpr std::string_view kTypeResult = "cs.results.v1";

struct Envelope {
  std::string id;  // msg_ + unique id
  int64_t tsMs = 0;
  std::string tenant;
  std::string type;
  nlohmann::json body;
  // Set by decode() only: the body passed its type's schema (cs.invoke.v1, cs.results.v1), so
  // a consumer need not run that schema again. Never encoded; false on envelopes built in code.
  bool bodyChecked = false;
};

// A new envelope with a fresh id and the current time.
Envelope makeEnvelope(std::string tenant, std::string type, nlohmann::json body);

// Canonical JSON of the envelope (invalid UTF-8 in strings is replaced, never thrown on).
std::string encode(const Envelope& envelope);
// The checks decode() applies, on an envelope in hand: drivers run it in publish() so a
// malformed message is refused at the producer instead of travelling to a DLQ.
// Failure: CS_VALIDATION_FAILED naming the field.
Status validate(const Envelope& envelope);
// Parses and validates the envelope and, for known types, its body. Failure:
// CS_VALIDATION_FAILED naming the field (such messages go to the DLQ, never crash a consumer).
Result<Envelope> decode(std::string_view text);

}  // namespace cs::codeq
