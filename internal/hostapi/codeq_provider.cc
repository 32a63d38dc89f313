#include "internal/hostapi/codeq_provider.h"

#include <utility>

#include "internal/hostapi/call_args.h"

namespace cs::hostapi {

using nlohmann::json;
using detail::arg;
using detail::quote;

namespace {

constexpr size_t kMaxTopicBytes = 256;

bool isTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool isValidUserTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  for (char c : topic) {
    if (!isTopicChar(c)) return false;
  }
  return true;
}

bool isReservedTopic(std::string_view topic) {
  if (topic.size() < 2 || lower(topic[0]) != 'c' || lower(topic[1]) != 's') return false;
  return topic.size() == 2 || topic[2] == '.';
}

std::string userTopic(std::string_view tenant, std::string_view topic) {
  return "cs.user." + std::string(tenant) + "." + std::string(topic);
}

Status Recorder::record(PublishedMessage message) {
  std::lock_guard lock(mu_);
  if (messages_.size() >= maxMessages_) {
    return Error{ErrorCode::ValidationFailed,
                 "the local runner records at most " + std::to_string(maxMessages_) +
                     " published messages"};
  }
  messages_.push_back(std::move(message));
  return okStatus();
}

std::vector<PublishedMessage> Recorder::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

json Recorder::toJson() const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const auto& m : messages_) {
    out.push_back({{"topic", m.topic}, {"payload", m.envelope.body.value("payload", json())}});
  }
  return out;
}

CodeqProvider::CodeqProvider(CodeqScope scope, api::CodeqCapability capability,
                             codeq::Queue& queue, CodeqLimits limits)
    : scope_(std::move(scope)), capability_(std::move(capability)), queue_(&queue), limits_(limits) {}

CodeqProvider::CodeqProvider(CodeqScope scope, api::CodeqCapability capability,
                             Recorder& recorder, CodeqLimits limits)
    : scope_(std::move(scope)),
      capability_(std::move(capability)),
      recorder_(&recorder),
      limits_(limits) {}

Status CodeqProvider::authorize(std::string_view topic) const {
  if (isReservedTopic(topic)) {
    return Error{ErrorCode::RuntimeCapabilityDenied,
                 "topic " + quote(topic) + " is reserved for the platform (cs.*)"};
  }
  if (!capability_.allowsTopic(topic)) {
    return Error{ErrorCode::RuntimeCapabilityDenied,
                 "topic " + quote(topic) + " is not allowed by capabilities.codeq.publishTopics"};
  }
  return okStatus();
}

Result<json> CodeqProvider::call(std::string_view method, const json& args, int64_t deadlineMs) {
  if (Status st = detail::checkDeadline("cs.codeq", deadlineMs); !st.ok()) return st.error();
  if (method == "publish") return publish(args);
  return Error{ErrorCode::ValidationFailed, "unknown method " + quote(method)};
}

Result<json> CodeqProvider::publish(const json& args) {
  if (Status st = detail::checkArity("publish", args, 2); !st.ok()) return st.error();
  const json& topicArg = arg(args, 0);
  if (!topicArg.is_string()) return Error{ErrorCode::ValidationFailed, "topic must be a string"};
  const std::string& topic = topicArg.get_ref<const std::string&>();
  if (!isValidUserTopic(topic)) {
    return Error{ErrorCode::ValidationFailed,
                 "topic " + quote(topic) + " must be 1-256 characters of [A-Za-z0-9._:/-]"};
  }
  if (Status st = authorize(topic); !st.ok()) return st.error();
  const json& payload = arg(args, 1);
  size_t bytes = detail::dumpJson(payload).size();
  if (bytes > limits_.maxPayloadBytes) {
    return Error{ErrorCode::ValidationFailed, "payload is " + std::to_string(bytes) +
                                                  " bytes as JSON, the limit is " +
                                                  std::to_string(limits_.maxPayloadBytes)};
  }
  json body = {{"topic", topic},
               {"payload", payload},
               {"namespace", scope_.ns},
               {"function", scope_.function},
               {"activation_id", scope_.activationId}};
  codeq::Envelope envelope =
      codeq::makeEnvelope(scope_.tenant, std::string(kUserMessageType), std::move(body));
  std::string queueTopic = userTopic(scope_.tenant, topic);
  if (recorder_ != nullptr) {
    if (Status st = recorder_->record({topic, queueTopic, std::move(envelope)}); !st.ok()) {
      return st.error();
    }
    return json(nullptr);
  }
  if (Status st = queue_->publish(queueTopic, envelope); !st.ok()) return st.error();
  return json(nullptr);
}

}  // namespace cs::hostapi
