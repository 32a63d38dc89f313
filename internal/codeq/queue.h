// codeq::Queue — the messaging seam (DESIGN "Seams", SPEC §7): publish, subscribe with a
// consumer group, ack/nack, redelivery, DLQ. Drivers: `embedded` (in-process, embedded_queue.h),
// `streams` (Redis Streams) and `codeq` (codeQ HTTP API) later. The envelope codec
// (envelope.h) is shared by every driver.
//
// Threads: every method may be called from any thread. A subscription's handler runs on a
// thread owned by the driver; it may ack/nack from any thread, later.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "internal/codeq/envelope.h"
#include "internal/errors/errors.h"

namespace cs::codeq {

// Topic names of SPEC §7 (configurable through plugins.messaging.codeq.topics).
inline constexpr std::string_view kTopicInvoke = "cs.invoke";
inline constexpr std::string_view kTopicResults = "cs.results";
inline constexpr std::string_view kTopicDlqInvoke = "cs.dlq.invoke";
inline constexpr std::string_view kTopicDlqResults = "cs.dlq.results";
inline constexpr std::string_view kTopicCadenceHeartbeat = "cs.cadence.heartbeat";

// One delivery of one message to one consumer.
struct Delivery {
  std::string topic;
  std::string group;
  std::string deliveryId;  // driver-specific handle (stream entry id, codeQ task id …)
  int attempt = 1;         // 1 on the first delivery, incremented on each redelivery
  Envelope envelope;
};

struct SubscribeOptions {
  std::string topic;
  std::string group;     // consumer group: each message goes to one consumer of the group
  std::string consumer;  // this consumer's name within the group
  // At most this many deliveries handed to the handler and not yet acked/nacked
  // (backpressure: the driver stops reading instead of buffering).
  int maxInflight = 64;
  // A delivery not acked within this time is redelivered (to any consumer of the group).
  int64_t ackTimeoutMs = 60000;
  // After this many deliveries a message goes to `dlqTopic` instead (empty: dropped with a log).
  int maxDeliveries = 5;
  std::string dlqTopic;
};

using DeliveryHandler = std::function<void(Delivery)>;

// Stops the subscription when destroyed (after the handler calls in progress return).
// stop() is idempotent and may be called from the subscription's own handler (it then does
// not wait for that call). Unacked deliveries of a stopped subscription are redelivered to
// another consumer of the group after their ack timeout.
class Subscription {
 public:
  virtual ~Subscription() = default;
  virtual void stop() = 0;
};

class Queue {
 public:
  virtual ~Queue() = default;

  virtual Status start() = 0;
  virtual void stop() = 0;
  // Reachability, for /readyz.
  virtual Status ping() = 0;

  // Durable once it returns ok. Failure: CS_CODEQ_PUBLISH_FAILED / CS_CODEQ_UNAVAILABLE; an
  // envelope that fails codeq::validate() is refused with CS_VALIDATION_FAILED (producers
  // find their bug at once; consumers still re-validate, see decode()).
  virtual Status publish(std::string_view topic, const Envelope& envelope) = 0;

  // The group is created on first use at the start of the topic's retained history. Bad
  // options (empty names, limits < 1, no handler): CS_VALIDATION_FAILED. A message that fails
  // decode() never reaches the handler: it goes to options.dlqTopic (bytes unchanged) or is
  // dropped with a log.
  virtual Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                          DeliveryHandler handler) = 0;

  // Done with the delivery: it is never delivered again. Idempotent; acking an older attempt
  // of a redelivered message acks the message.
  virtual Status ack(const Delivery& delivery) = 0;
  // Give it back for redelivery after `delayMs` ≥ 0 (counts as an attempt). A nack of an
  // attempt that is no longer the current one is ignored.
  virtual Status nack(const Delivery& delivery, int64_t delayMs) = 0;
};

// Shared argument checks of every driver (same messages everywhere): a topic/group/consumer
// name is 1..maxLength bytes without spaces or control characters.
Status checkQueueName(std::string_view what, std::string_view name, size_t maxLength);
Status checkSubscribe(const SubscribeOptions& options, const DeliveryHandler& handler,
                      size_t maxNameLength);

}  // namespace cs::codeq
