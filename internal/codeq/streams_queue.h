// The `streams` codeq::Queue driver: Redis Streams with consumer groups (Redis ≥ 6.2, KVRocks
// with XAUTOCLAIM / XCLAIM IDLE+JUSTID), over hiredis (kept inside streams_queue.cc).
//
// Wire layout: one stream per topic, key `<keyPrefix><topic>` (default `cs:stream:<topic>`),
// one field `e` holding the encoded envelope; XADD ... MAXLEN ~ maxLen trims each stream
// approximately. Groups are created at id 0 with MKSTREAM (messages published before the first
// subscribe are delivered, like the embedded driver); BUSYGROUP is ignored.
//
// Delivery: one reader thread per subscription with its own blocking connection runs
// XREADGROUP ... COUNT (maxInflight - inflight) BLOCK min(blockMs, time to next claim) >.
// Every claimIntervalMs it runs XAUTOCLAIM with min-idle = ackTimeoutMs, which takes over
// entries whose delivery timed out (its own or a dead consumer's); `attempt` is the entry's
// delivery counter (XPENDING) after the claim. A counter above maxDeliveries sends the bytes to
// the dlqTopic stream (or drops them with a log line) and XACKs. Consumers of one group should
// share ackTimeoutMs (each reclaims with its own).
//
// nack(delay) is server-side: XCLAIM to the same consumer with IDLE = ackTimeoutMs - delay and
// JUSTID (the counter is not incremented), so the entry becomes claimable by any live consumer
// exactly `delay` later, even if this process dies. A delay longer than ackTimeoutMs is kept in
// a local map and the entry's idle time is refreshed until the remainder fits (a crash then
// redelivers it early, after ackTimeoutMs). nack must go through the queue that delivered it.
//
// Failures: connection problems are CS_CODEQ_UNAVAILABLE, error replies to XADD are
// CS_CODEQ_PUBLISH_FAILED. Commands reconnect on their next call (one retry on a stale
// connection); readers reconnect with backoff (100 ms doubling to 2 s) and recreate their group
// after a server restart (NOGROUP), so no process restart is needed.
//
// Threads: every method may be called from any thread; handlers run on the subscription's reader
// thread. Do not call StreamsQueue::stop() from a handler (a handler may stop its own
// Subscription). The clock drives local bookkeeping only (inflight deadlines); idle times are
// the server's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "internal/codeq/clock.h"
#include "internal/codeq/queue.h"

namespace cs::codeq {

struct StreamsQueueOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // empty: no AUTH
  int64_t connectTimeoutMs = 2000;
  // Reply timeout of non-blocking commands (a blocking read waits blockMs longer).
  int64_t commandTimeoutMs = 5000;
  // Approximate cap (MAXLEN ~) per stream; Redis trims whole nodes, so a stream may hold up to
  // one node (stream-node-max-entries, 100) more.
  int64_t maxLen = 100000;
  // XREADGROUP BLOCK; also bounds how long a subscription's stop() waits without interrupt.
  int64_t blockMs = 1000;
  // How often each reader looks for timed-out or nacked entries (XAUTOCLAIM); keep it well
  // below the smallest ackTimeoutMs.
  int64_t claimIntervalMs = 1000;
  std::string keyPrefix = "cs:stream:";
  // Idle connections kept for publish/ack/nack/ping.
  int poolSize = 4;
  std::shared_ptr<Clock> clock;  // null: SystemClock
  // Operational log lines (outages, DLQ moves, drops, handler exceptions); null: stderr.
  std::function<void(std::string_view line)> log;
};

class StreamsQueue final : public Queue {
 public:
  explicit StreamsQueue(StreamsQueueOptions options);
  ~StreamsQueue() override;  // stop()
  StreamsQueue(const StreamsQueue&) = delete;
  StreamsQueue& operator=(const StreamsQueue&) = delete;

  // Bad options: CS_VALIDATION_FAILED (every other call then fails the same way). Server not
  // reachable: CS_CODEQ_UNAVAILABLE, but the queue stays usable and connects on later calls.
  Status start() override;
  // Stops every subscription (joins the readers) and closes the connections; later calls fail
  // with CS_CODEQ_UNAVAILABLE.
  void stop() override;
  // PING; CS_CODEQ_UNAVAILABLE when the server does not answer.
  Status ping() override;
  Status publish(std::string_view topic, const Envelope& envelope) override;
  // Creates the group (id 0, MKSTREAM) when the server is reachable; when it is not, the reader
  // keeps retrying. Server error (e.g. the key is not a stream): CS_CODEQ_SUBSCRIBE_FAILED.
  Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                  DeliveryHandler handler) override;
  // XACK (idempotent; an unknown topic or group has nothing to ack: ok). Malformed delivery:
  // CS_VALIDATION_FAILED; server unreachable: CS_CODEQ_UNAVAILABLE.
  Status ack(const Delivery& delivery) override;
  // Ignored (ok) unless the delivery is the current attempt in flight at a subscription of this
  // queue.
  Status nack(const Delivery& delivery, int64_t delayMs) override;

  // XADDs bytes as they are (no encode/validate), like a foreign producer on the wire.
  Status publishRawForTest(std::string_view topic, std::string_view bytes);
  // The stream key of a topic.
  std::string streamKey(std::string_view topic) const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

std::unique_ptr<StreamsQueue> makeStreamsQueue(StreamsQueueOptions options);

}  // namespace cs::codeq
