// Request–response over the queue (SPEC §7, DESIGN "Correlation of results"): a replica
// (gateway, cs-control) owns one reply topic, names it in trigger.source.reply_to of every
// InvocationRequest it publishes, and waits for the InvocationResult by request_id. A waiter
// that times out gets CS_CODEQ_CORRELATION_TIMEOUT while the activation still completes; a
// result nobody waits for goes to cs.dlq.results.
//
// Threads: call() from any thread; callbacks run on the queue's delivery thread or on the
// timeout thread, never while a lock of this class is held.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "internal/codeq/queue.h"

namespace cs::codeq {

struct RequestReplyOptions {
  std::string replyTopic;   // e.g. "cs.reply.<replica-id>"; unique per replica
  std::string consumer;     // consumer name within the reply topic's group
  std::string invokeTopic = std::string(kTopicInvoke);
  std::string dlqResultsTopic = std::string(kTopicDlqResults);
  // The reply subscription's maxInflight and ackTimeoutMs (a result is acked before its
  // callback runs, so a slow callback does not cause a redelivery).
  int maxInflight = 256;
  int64_t ackTimeoutMs = 30000;
};

// The InvocationResult body (cs.results.v1) or an error (timeout, publish failure).
using ReplyCallback = std::function<void(Result<nlohmann::json> result)>;

class RequestReply {
 public:
  virtual ~RequestReply() = default;
  // Subscribes to the reply topic (group = reply topic, consumer = options.consumer) and starts
  // the timeout thread. Bad options: CS_VALIDATION_FAILED; after stop(): CS_CODEQ_UNAVAILABLE.
  virtual Status start() = 0;
  // Pending waiters get CS_CODEQ_CORRELATION_TIMEOUT. Not from inside a callback.
  virtual void stop() = 0;
  virtual const std::string& replyTopic() const = 0;

  // Publishes `invocationRequest` (a cs.invoke.v1 body; its trigger.source.reply_to is set to
  // replyTopic() here) to the invoke topic and calls `callback` exactly once: with the result
  // whose request_id matches, or with CS_CODEQ_CORRELATION_TIMEOUT after `timeoutMs`, or with
  // the publish error. Also through the callback: an invalid request (CS_VALIDATION_FAILED),
  // a request_id already waiting here (CS_CONFLICT), not started/stopped
  // (CS_CODEQ_UNAVAILABLE). The callback may run before call() returns.
  virtual void call(const std::string& tenant, nlohmann::json invocationRequest, int64_t timeoutMs,
                    ReplyCallback callback) = 0;
};

// `queue` must outlive the RequestReply.
std::unique_ptr<RequestReply> makeRequestReply(Queue& queue, RequestReplyOptions options);

}  // namespace cs::codeq
