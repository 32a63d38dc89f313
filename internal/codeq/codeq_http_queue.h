// The `codeq` codeq::Queue driver: speaks the codeQ server's HTTP API
// (docs/codeq-http-api.md) over libcurl with keep-alive handle reuse.
//
// Mapping:
//   publish(topic, e)  POST /v1/codeq/tasks {command: topic, payload: <encoded envelope as
//                      JSON>, priority: 0, maxAttempts, idempotencyKey: "cs:<topic>:<e.id>"}
//                      with the producer token (a retried publish of one envelope is one task).
//   subscribe          one loop thread per subscription long-polling POST /tasks/claim
//                      {commands:[topic], leaseSeconds, waitSeconds} with the worker token,
//                      only while fewer than maxInflight deliveries are outstanding.
//   ack                POST /tasks/{id}/result COMPLETED {"ok":true}; 404/409 (already settled)
//                      count as done, so ack is idempotent.
//   nack(delayMs)      POST /tasks/{id}/nack {delaySeconds: max(1, ceil(delayMs/1000))}: codeQ
//                      has second granularity and treats 0 as "use backoff", so 0 becomes 1 s;
//                      403 not-owner/404/409 (an older attempt) are ignored.
//   attempt            codeQ counts +1 per claim and +1 per nack/lease expiry, so
//                      attempt = (attempts + 1) / 2.
//   redelivery         codeQ's lease: leaseSeconds = options.leaseSeconds, or
//                      ceil(ackTimeoutMs / 1000). Expired leases come back via the server.
//   DLQ                done by the driver, not codeQ (codeQ's DLQ cannot be read over HTTP):
//                      tasks are created with a high maxAttempts; a claim whose attempt exceeds
//                      maxDeliveries, or whose payload fails decode(), is published to dlqTopic
//                      (payload unchanged) and the task is closed FAILED.
//   groups             codeQ has no consumer groups: the group is NOT sent on the wire and every
//                      subscriber of a topic competes for its tasks (one group per topic).
//                      Subscribing to a topic that an active subscription in this process
//                      consumes under another group is refused (CS_VALIDATION_FAILED); other
//                      processes cannot be checked. Use one topic per group for fan-out.
//   ping               GET /metrics (codeQ has no /healthz).
// 307 answers are followed (same method and body, ≤ maxRedirects). Transport failures are
// CS_CODEQ_UNAVAILABLE; 4xx/5xx are CS_CODEQ_PUBLISH_FAILED (publish) or
// CS_CODEQ_SUBSCRIBE_FAILED (claim/ack/nack) carrying the server's {"error"} text.
//
// Threads: every method may be called from any thread. Subscription::stop() returns once the
// handler call in progress (if any) returned; its loop thread finishes its long-poll in the
// background and abandons a task claimed after the stop. Queue::stop() waits for all loops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "internal/codeq/clock.h"
#include "internal/codeq/queue.h"

namespace cs::codeq {

struct CodeqHttpOptions {
  std::string baseUrl;        // e.g. "http://codeq:8080" (no /v1/codeq)
  std::string producerToken;  // create
  std::string workerToken;    // claim/nack/result/abandon; empty: producerToken
  int leaseSeconds = 0;       // 0: ceil(ackTimeoutMs / 1000) of each subscription
  int claimWaitSeconds = 10;  // claim long-poll, 0..30 (0: poll every 100 ms)
  int64_t requestTimeoutMs = 15000;  // per request; a claim gets claimWaitSeconds on top
  int maxAttempts = 1000;     // sent on create; must exceed 2 * maxDeliveries of every consumer
  int maxRedirects = 3;
  std::shared_ptr<Clock> clock;  // null: SystemClock (local inflight lease bookkeeping)
  std::function<void(std::string_view line)> log;  // null: stderr
};

class CodeqHttpQueue final : public Queue {
 public:
  explicit CodeqHttpQueue(CodeqHttpOptions options);
  ~CodeqHttpQueue() override;  // stop()
  CodeqHttpQueue(const CodeqHttpQueue&) = delete;
  CodeqHttpQueue& operator=(const CodeqHttpQueue&) = delete;

  // Bad options: CS_VALIDATION_FAILED. An unreachable server is reported
  // (CS_CODEQ_UNAVAILABLE) but the queue stays usable.
  Status start() override;
  void stop() override;
  Status ping() override;
  Status publish(std::string_view topic, const Envelope& envelope) override;
  Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                  DeliveryHandler handler) override;
  Status ack(const Delivery& delivery) override;
  Status nack(const Delivery& delivery, int64_t delayMs) override;

  // Creates a task whose payload is `bytes` (as JSON if they parse, else as a JSON string),
  // bypassing encode/validate, like a foreign producer.
  Status publishRawForTest(std::string_view topic, std::string_view bytes);

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

std::unique_ptr<CodeqHttpQueue> makeCodeqHttpQueue(CodeqHttpOptions options);

// RFC3339 (any offset, optional fraction; codeQ's createdAt and leaseUntil) → Unix ms.
// Malformed: CS_VALIDATION_FAILED.
Result<int64_t> parseRfc3339Ms(std::string_view text);

}  // namespace cs::codeq
