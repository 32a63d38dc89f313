// Hand-written fakes of the codeq seams for cs-control tests (STYLE §13): a Queue that records
// publishes, and a RequestReply whose calls stay pending until the test answers them.
//
// Threads: every method may be called from any thread (one mutex per object). Callbacks run on
// the thread of the test method that completes them, outside the lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/codeq/queue.h"
#include "internal/codeq/request_reply.h"

namespace cs::control::testing {

class FakeQueue final : public codeq::Queue {
 public:
  struct Published {
    std::string topic;
    codeq::Envelope envelope;
  };

  Status start() override { return okStatus(); }
  void stop() override {}
  Status ping() override { return okStatus(); }
  Status publish(std::string_view topic, const codeq::Envelope& envelope) override;
  // Subscriptions are not needed by cs-control; refused so a misuse shows up.
  Result<std::unique_ptr<codeq::Subscription>> subscribe(const codeq::SubscribeOptions& options,
                                                         codeq::DeliveryHandler handler) override;
  Status ack(const codeq::Delivery&) override { return okStatus(); }
  Status nack(const codeq::Delivery&, int64_t) override { return okStatus(); }

  std::vector<Published> published() const;
  // Makes every later publish fail with CS_CODEQ_PUBLISH_FAILED (or succeed again).
  void failPublishesForTest(bool fail);

 private:
  mutable std::mutex mu_;
  std::vector<Published> published_;
  bool fail_ = false;
};

class FakeRequestReply final : public codeq::RequestReply {
 public:
  struct PendingCall {
    std::string tenant;
    nlohmann::json request;  // with trigger.source.reply_to set, like the real one
    int64_t timeoutMs = 0;
  };

  Status start() override { return okStatus(); }
  // Like the real one: pending waiters get CS_CODEQ_CORRELATION_TIMEOUT.
  void stop() override;
  const std::string& replyTopic() const override { return replyTopic_; }
  void call(const std::string& tenant, nlohmann::json invocationRequest, int64_t timeoutMs,
            codeq::ReplyCallback callback) override;

  // Calls not answered yet, oldest first.
  std::vector<PendingCall> pending() const;
  // Completes the pending call with this request_id; false if there is none.
  bool reply(const std::string& requestId, nlohmann::json invocationResult);
  // Completes it with CS_CODEQ_CORRELATION_TIMEOUT, as the real waiter does after timeoutMs.
  bool timeOut(const std::string& requestId);

 private:
  struct Entry {
    PendingCall call;
    codeq::ReplyCallback callback;
  };
  std::optional<codeq::ReplyCallback> take(const std::string& requestId);

  const std::string replyTopic_ = "cs.reply.fake";
  mutable std::mutex mu_;
  std::vector<Entry> pending_;
};

}  // namespace cs::control::testing
