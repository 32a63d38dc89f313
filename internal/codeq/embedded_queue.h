// The `embedded` codeq::Queue driver: in-process topics for `cs dev` and tests.
//
// Semantics follow a Redis stream with consumer groups: a topic is an append-only log (created
// on first use, capped at maxTopicLength with the oldest message dropped and logged); a group
// is created at offset 0 the first time someone subscribes to it, so messages published before
// that are delivered too; each message goes to one consumer of every group. Unacked deliveries
// come back after the subscription's ackTimeoutMs with attempt+1; after maxDeliveries the bytes
// go unchanged to the subscription's dlqTopic. Messages are stored encoded and decoded on
// delivery, exactly like the wire drivers, so a message that fails decode goes to the DLQ (or
// is dropped with a log) and never reaches a handler. Nothing is persisted.
//
// Threads: every method may be called from any thread. Each subscription owns one delivery
// thread that calls its handler; stop() joins them all. Do not call EmbeddedQueue::stop() from
// a handler (a handler may stop its own Subscription).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "internal/codeq/clock.h"
#include "internal/codeq/queue.h"

namespace cs::codeq {

struct EmbeddedQueueOptions {
  std::shared_ptr<Clock> clock;  // null: SystemClock
  // Per topic; the oldest message is dropped (and logged) beyond this. Groups that had not
  // read it yet skip it.
  size_t maxTopicLength = 100000;
  // Operational log lines (drops, DLQ moves, handler exceptions); null: stderr.
  std::function<void(std::string_view line)> log;
};

class EmbeddedQueue final : public Queue {
 public:
  explicit EmbeddedQueue(EmbeddedQueueOptions options);
  ~EmbeddedQueue() override;  // stop()
  EmbeddedQueue(const EmbeddedQueue&) = delete;
  EmbeddedQueue& operator=(const EmbeddedQueue&) = delete;

  Status start() override;
  void stop() override;
  Status ping() override;
  // Refuses an envelope that fails validate() (CS_VALIDATION_FAILED); after stop():
  // CS_CODEQ_UNAVAILABLE.
  Status publish(std::string_view topic, const Envelope& envelope) override;
  // Bad options: CS_VALIDATION_FAILED; after stop(): CS_CODEQ_UNAVAILABLE.
  Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                  DeliveryHandler handler) override;
  // Acking or nacking a delivery that is already acked is ok (idempotent); a nack of an
  // older attempt than the current one is ignored.
  Status ack(const Delivery& delivery) override;
  Status nack(const Delivery& delivery, int64_t delayMs) override;

  // Appends bytes as they are (no encode/validate), like a foreign producer on the wire.
  Status publishRawForTest(std::string_view topic, std::string_view bytes);
  // The delivery threads wait on deadlines in real time; call after moving a ManualClock.
  void wakeForTest();
  // Blocks until every delivery thread is waiting with nothing it may deliver now (or
  // `maxWaitMs` of real time passed; returns false then). Deterministic with a ManualClock.
  bool waitIdleForTest(int64_t maxWaitMs = 5000);
  // The stored (encoded) messages of a topic, oldest first.
  std::vector<std::string> messagesForTest(std::string_view topic);

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

std::unique_ptr<EmbeddedQueue> makeEmbeddedQueue(EmbeddedQueueOptions options = {});

}  // namespace cs::codeq
