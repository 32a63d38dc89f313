#include "internal/codeq/queue.h"

#include <string>

namespace cs::codeq {

Status checkQueueName(std::string_view what, std::string_view name, size_t maxLength) {
  if (name.empty() || name.size() > maxLength) {
    return Error{ErrorCode::ValidationFailed,
                 std::string(what) + ": must be 1.." + std::to_string(maxLength) + " bytes"};
  }
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f) {
      return Error{ErrorCode::ValidationFailed,
                   std::string(what) + ": must not contain spaces or control characters"};
    }
  }
  return okStatus();
}

Status checkSubscribe(const SubscribeOptions& options, const DeliveryHandler& handler,
                      size_t maxNameLength) {
  if (Status st = checkQueueName("topic", options.topic, maxNameLength); !st.ok()) return st;
  if (Status st = checkQueueName("group", options.group, maxNameLength); !st.ok()) return st;
  if (Status st = checkQueueName("consumer", options.consumer, maxNameLength); !st.ok()) return st;
  if (!options.dlqTopic.empty()) {
    if (Status st = checkQueueName("dlqTopic", options.dlqTopic, maxNameLength); !st.ok()) {
      return st;
    }
  }
  if (options.maxInflight < 1) {
    return Error{ErrorCode::ValidationFailed, "maxInflight: must be at least 1"};
  }
  if (options.ackTimeoutMs < 1) {
    return Error{ErrorCode::ValidationFailed, "ackTimeoutMs: must be at least 1"};
  }
  if (options.maxDeliveries < 1) {
    return Error{ErrorCode::ValidationFailed, "maxDeliveries: must be at least 1"};
  }
  if (!handler) return Error{ErrorCode::ValidationFailed, "handler: must be set"};
  return okStatus();
}

}  // namespace cs::codeq
