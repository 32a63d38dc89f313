// cs.codeq (SPEC §8/§9): publish(topic, payload) of user messages, tenant-scoped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/api/manifest.h"
#include "internal/codeq/envelope.h"
#include "internal/codeq/queue.h"
#include "internal/errors/errors.h"
#include "internal/runtime/engine.h"

namespace cs::hostapi {

// Envelope type of messages published by functions.
inline constexpr std::string_view kUserMessageType = "cs.user.v1";

// User topics: 1..256 bytes of [A-Za-z0-9._:/-] ('*' is the allowlist wildcard, never a topic).
bool isValidUserTopic(std::string_view topic);
// "cs" and "cs.*" (any case: the codeQ driver lower-cases topic names) belong to the platform
// (SPEC §7 topics). Always denied, even when publishTopics lists them explicitly or via a
// wildcard such as "*": a function must never be able to inject into cs.invoke/cs.results.
bool isReservedTopic(std::string_view topic);
// The queue topic a user topic is published on: "cs.user.{tenant}.{topic}". Tenant-scoped, so
// two tenants using the same topic name never share a queue (a tenant id has no '.', so the
// mapping is injective), and disjoint from the SPEC §7 platform topics.
std::string userTopic(std::string_view tenant, std::string_view topic);

struct CodeqScope {
  std::string tenant;
  std::string ns;
  std::string function;
  std::string activationId;
};

struct CodeqLimits {
  size_t maxPayloadBytes = size_t{256} << 10;  // the payload's JSON text
};

// One recorded publish (Recorder mode).
struct PublishedMessage {
  std::string topic;       // the user topic
  std::string queueTopic;  // userTopic(tenant, topic)
  codeq::Envelope envelope;
};

// Local-runner sink (`cs fn test`): keeps publishes instead of sending them. Thread-safe.
class Recorder {
 public:
  explicit Recorder(size_t maxMessages = 1000) : maxMessages_(maxMessages) {}
  // CS_VALIDATION_FAILED once maxMessages are held.
  Status record(PublishedMessage message);
  std::vector<PublishedMessage> messages() const;
  // [{"topic","payload"}…] for the `cs fn test` output.
  nlohmann::json toJson() const;

 private:
  size_t maxMessages_;
  mutable std::mutex mu_;
  std::vector<PublishedMessage> messages_;
};

// Built per activation. publish(topic, payload) → null. Checks: arguments (topic syntax,
// payload size: CS_VALIDATION_FAILED), reserved topic and publishTopics (exact or trailing-'*'
// prefix; empty list = deny) → CS_RUNTIME_CAPABILITY_DENIED. The message is
// makeEnvelope(tenant, "cs.user.v1", {topic, payload, namespace, function, activation_id})
// on userTopic(tenant, topic). Queue errors keep their CS_CODEQ_* codes.
class CodeqProvider final : public runtime::HostProvider {
 public:
  // Publishes to `queue`.
  CodeqProvider(CodeqScope scope, api::CodeqCapability capability, codeq::Queue& queue,
                CodeqLimits limits = {});
  // Records into `recorder` (no queue).
  CodeqProvider(CodeqScope scope, api::CodeqCapability capability, Recorder& recorder,
                CodeqLimits limits = {});

  std::string name() const override { return "codeq"; }
  std::vector<std::string> methods() const override { return {"publish"}; }
  Result<nlohmann::json> call(std::string_view method, const nlohmann::json& args,
                              int64_t deadlineMs) override;

  // The capability check alone: ok, or CS_RUNTIME_CAPABILITY_DENIED.
  Status authorize(std::string_view topic) const;

 private:
  Result<nlohmann::json> publish(const nlohmann::json& args);

  CodeqScope scope_;
  api::CodeqCapability capability_;
  codeq::Queue* queue_ = nullptr;
  Recorder* recorder_ = nullptr;
  CodeqLimits limits_;
};

}  // namespace cs::hostapi
