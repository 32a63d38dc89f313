#include "internal/codeq/request_reply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "internal/codeq/embedded_queue.h"
#include "internal/crypto/crypto.h"

namespace cs::codeq {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kTenant = "t_acme";
constexpr auto kWait = std::chrono::seconds(5);

json request(const std::string& requestId) {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", requestId},
          {"tenant", kTenant},
          {"namespace", "default"},
          {"ref", {{"function", "hello"}, {"version", 3}}},
          {"trigger", {{"type", "http"}, {"source", {{"route", "/hello"}, {"method", "GET"}}}}},
          {"principal", {{"sub", "user-1"}, {"roles", json::array()}}},
          {"deadline_ms", 1'700'000'000'000},
          {"event", {{"n", requestId}}}};
}

json resultFor(const json& req) {
  return {{"activation_id", req["activation_id"]},
          {"request_id", req["request_id"]},
          {"status", "success"},
          {"duration_ms", 1},
          {"result", {{"statusCode", 200}, {"body", req["request_id"]}}}};
}

// Records everything a callback receives, per request id.
class Replies {
 public:
  ReplyCallback callbackFor(const std::string& requestId) {
    return [this, requestId](Result<json> r) {
      std::lock_guard lk(mu_);
      got_[requestId].push_back(std::move(r));
      ++total_;
      cv_.notify_all();
    };
  }
  bool waitTotal(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return total_ >= n; });
  }
  std::vector<Result<json>> of(const std::string& requestId) {
    std::lock_guard lk(mu_);
    return got_[requestId];
  }
  size_t total() {
    std::lock_guard lk(mu_);
    return total_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<Result<json>>> got_;
  size_t total_ = 0;
};

// A fake invoker: collects cs.invoke deliveries; the test decides when to answer.
class FakeInvoker {
 public:
  explicit FakeInvoker(EmbeddedQueue& q) : q_(q) {
    SubscribeOptions o;
    o.topic = std::string(kTopicInvoke);
    o.group = "invoker";
    o.consumer = "fake-1";
    o.maxInflight = 1000;
    auto sub = q.subscribe(o, [this](Delivery d) {
      EXPECT_TRUE(q_.ack(d).ok());
      std::lock_guard lk(mu_);
      requests_.push_back(d.envelope);
      cv_.notify_all();
    });
    EXPECT_TRUE(sub.ok());
    if (sub.ok()) sub_ = std::move(*sub);
  }
  bool waitFor(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return requests_.size() >= n; });
  }
  std::vector<Envelope> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }
  // Publishes the result where the request asked for it, like the invoker does.
  void answer(const Envelope& req) {
    std::string replyTo = req.body["trigger"]["source"]["reply_to"].get<std::string>();
    Status st = q_.publish(replyTo, makeEnvelope(req.tenant, std::string(kTypeResult),
                                                 resultFor(req.body)));
    EXPECT_TRUE(st.ok()) << st.error().message;
  }

 private:
  EmbeddedQueue& q_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Envelope> requests_;
  std::unique_ptr<Subscription> sub_;
};

// Collects whatever lands on a topic (e.g. the results DLQ).
class TopicReader {
 public:
  TopicReader(EmbeddedQueue& q, const std::string& topic) : q_(q) {
    SubscribeOptions o;
    o.topic = topic;
    o.group = "reader";
    o.consumer = "r1";
    auto sub = q.subscribe(o, [this](Delivery d) {
      EXPECT_TRUE(q_.ack(d).ok());
      std::lock_guard lk(mu_);
      got_.push_back(d.envelope);
      cv_.notify_all();
    });
    EXPECT_TRUE(sub.ok());
    if (sub.ok()) sub_ = std::move(*sub);
  }
  bool waitFor(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return got_.size() >= n; });
  }
  std::vector<Envelope> got() {
    std::lock_guard lk(mu_);
    return got_;
  }

 private:
  EmbeddedQueue& q_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Envelope> got_;
  std::unique_ptr<Subscription> sub_;
};

class RequestReplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmbeddedQueueOptions o;
    o.log = [](std::string_view) {};
    queue_ = makeEmbeddedQueue(o);
    ASSERT_TRUE(queue_->start().ok());
    RequestReplyOptions ro;
    ro.replyTopic = "cs.reply.gw-1";
    ro.consumer = "gw-1";
    rr_ = makeRequestReply(*queue_, ro);
    Status st = rr_->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  void TearDown() override {
    if (rr_) rr_->stop();
    if (queue_) queue_->stop();
  }

  std::unique_ptr<EmbeddedQueue> queue_;
  std::unique_ptr<RequestReply> rr_;
};

TEST_F(RequestReplyTest, CorrelatesManyConcurrentCallsAnsweredOutOfOrder) {
  FakeInvoker invoker(*queue_);
  Replies replies;
  constexpr int kCalls = 60;
  std::vector<std::string> ids;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) ids.push_back("req_" + crypto::randomHex(8));
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = t; i < kCalls; i += 4) {
        rr_->call(kTenant, request(ids[i]), 10000, replies.callbackFor(ids[i]));
      }
    });
  }
  for (auto& c : callers) c.join();
  ASSERT_TRUE(invoker.waitFor(kCalls));
  std::vector<Envelope> reqs = invoker.requests();
  std::mt19937 rng(42);
  std::shuffle(reqs.begin(), reqs.end(), rng);
  for (const auto& r : reqs) invoker.answer(r);
  ASSERT_TRUE(replies.waitTotal(kCalls));
  for (const auto& id : ids) {
    auto got = replies.of(id);
    ASSERT_EQ(got.size(), 1u) << id;
    ASSERT_TRUE(got[0].ok()) << got[0].error().message;
    EXPECT_EQ(got[0]->at("request_id"), id);
    EXPECT_EQ(got[0]->at("result").at("body"), id);
  }
  // Each activation id came back to the caller that sent it.
  for (const auto& r : reqs) {
    auto got = replies.of(r.body["request_id"].get<std::string>());
    EXPECT_EQ(got.at(0)->at("activation_id"), r.body["activation_id"]);
  }
}

TEST_F(RequestReplyTest, SetsReplyToAndKeepsTheRestOfTheRequest) {
  FakeInvoker invoker(*queue_);
  Replies replies;
  json req = request("req_replyto1");
  rr_->call(kTenant, req, 10000, replies.callbackFor("req_replyto1"));
  ASSERT_TRUE(invoker.waitFor(1));
  Envelope got = invoker.requests().at(0);
  EXPECT_EQ(got.type, kTypeInvoke);
  EXPECT_EQ(got.tenant, kTenant);
  EXPECT_EQ(got.body["trigger"]["source"]["reply_to"], rr_->replyTopic());
  EXPECT_EQ(rr_->replyTopic(), "cs.reply.gw-1");
  json expected = req;
  expected["trigger"]["source"]["reply_to"] = "cs.reply.gw-1";
  EXPECT_EQ(got.body, expected);
  invoker.answer(got);
  ASSERT_TRUE(replies.waitTotal(1));
}

TEST_F(RequestReplyTest, TimeoutThenLateResultGoesToTheDlq) {
  FakeInvoker invoker(*queue_);
  TopicReader dlq(*queue_, std::string(kTopicDlqResults));
  Replies replies;
  rr_->call(kTenant, request("req_late0001"), 100, replies.callbackFor("req_late0001"));
  ASSERT_TRUE(invoker.waitFor(1));
  ASSERT_TRUE(replies.waitTotal(1));
  auto got = replies.of("req_late0001");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(got[0].ok());
  EXPECT_EQ(got[0].error().code, ErrorCode::CodeqCorrelationTimeout);

  invoker.answer(invoker.requests().at(0));
  ASSERT_TRUE(dlq.waitFor(1));
  Envelope dead = dlq.got().at(0);
  EXPECT_EQ(dead.type, kTypeResult);
  EXPECT_EQ(dead.body["request_id"], "req_late0001");
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(replies.of("req_late0001").size(), 1u) << "callback called twice";
}

TEST_F(RequestReplyTest, ResultBeforeTimeoutCallsBackOnceOnly) {
  FakeInvoker invoker(*queue_);
  TopicReader dlq(*queue_, std::string(kTopicDlqResults));
  Replies replies;
  rr_->call(kTenant, request("req_once0001"), 300, replies.callbackFor("req_once0001"));
  ASSERT_TRUE(invoker.waitFor(1));
  invoker.answer(invoker.requests().at(0));
  invoker.answer(invoker.requests().at(0));  // a duplicate result (redelivered activation)
  ASSERT_TRUE(dlq.waitFor(1)) << "the duplicate has nobody waiting";
  ASSERT_TRUE(replies.waitTotal(1));
  // Past the timeout: the timer must not fire for an answered call.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto got = replies.of("req_once0001");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].ok());
}

TEST_F(RequestReplyTest, NonResultMessagesOnTheReplyTopicGoToTheDlq) {
  TopicReader dlq(*queue_, std::string(kTopicDlqResults));
  ASSERT_TRUE(queue_->publish(rr_->replyTopic(),
                              makeEnvelope(kTenant, "cs.other.v1", json{{"x", 1}}))
                  .ok());
  ASSERT_TRUE(dlq.waitFor(1));
  EXPECT_EQ(dlq.got().at(0).type, "cs.other.v1");
}

TEST_F(RequestReplyTest, InvalidRequestsFailThroughTheCallback) {
  FakeInvoker invoker(*queue_);
  Replies replies;
  json noTrigger = request("req_bad00001");
  noTrigger.erase("trigger");
  rr_->call(kTenant, noTrigger, 1000, replies.callbackFor("a"));
  json badSource = request("req_bad00002");
  badSource["trigger"]["source"] = "nope";
  rr_->call(kTenant, badSource, 1000, replies.callbackFor("b"));
  rr_->call(kTenant, json::array(), 1000, replies.callbackFor("c"));
  json badBody = request("req_bad00003");
  badBody["deadline_ms"] = 0;
  rr_->call(kTenant, badBody, 1000, replies.callbackFor("d"));
  rr_->call(kTenant, request("req_bad00004"), 0, replies.callbackFor("e"));
  rr_->call("bad tenant", request("req_bad00005"), 1000, replies.callbackFor("f"));
  ASSERT_TRUE(replies.waitTotal(6));
  for (const char* k : {"a", "b", "c", "d", "e", "f"}) {
    auto got = replies.of(k);
    ASSERT_EQ(got.size(), 1u) << k;
    ASSERT_FALSE(got[0].ok()) << k;
    EXPECT_EQ(got[0].error().code, ErrorCode::ValidationFailed) << k;
  }
  EXPECT_THAT(replies.of("d")[0].error().message, HasSubstr("deadline_ms"));
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_TRUE(invoker.requests().empty()) << "an invalid request was published";
}

TEST_F(RequestReplyTest, DuplicateRequestIdIsAConflict) {
  FakeInvoker invoker(*queue_);
  Replies replies;
  rr_->call(kTenant, request("req_dup00001"), 10000, replies.callbackFor("first"));
  rr_->call(kTenant, request("req_dup00001"), 10000, replies.callbackFor("second"));
  ASSERT_TRUE(replies.waitTotal(1));
  auto second = replies.of("second");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].error().code, ErrorCode::Conflict);
  ASSERT_TRUE(invoker.waitFor(1));
  invoker.answer(invoker.requests().at(0));
  ASSERT_TRUE(replies.waitTotal(2));
  ASSERT_EQ(replies.of("first").size(), 1u);
  EXPECT_TRUE(replies.of("first")[0].ok());
}

TEST_F(RequestReplyTest, PublishFailureIsReported) {
  Replies replies;
  queue_->stop();
  rr_->call(kTenant, request("req_pubfail1"), 10000, replies.callbackFor("x"));
  ASSERT_TRUE(replies.waitTotal(1));
  auto got = replies.of("x");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error().code, ErrorCode::CodeqUnavailable);
}

TEST_F(RequestReplyTest, StopTimesOutPendingWaitersAndRefusesNewCalls) {
  FakeInvoker invoker(*queue_);
  Replies replies;
  rr_->call(kTenant, request("req_stop0001"), 60000, replies.callbackFor("pending"));
  ASSERT_TRUE(invoker.waitFor(1));
  rr_->stop();
  ASSERT_TRUE(replies.waitTotal(1));
  EXPECT_EQ(replies.of("pending").at(0).error().code, ErrorCode::CodeqCorrelationTimeout);
  rr_->call(kTenant, request("req_stop0002"), 60000, replies.callbackFor("after"));
  ASSERT_TRUE(replies.waitTotal(2));
  EXPECT_EQ(replies.of("after").at(0).error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(rr_->start().error().code, ErrorCode::CodeqUnavailable);
}

TEST(RequestReplyOptionsTest, StartRefusesMissingOptions) {
  EmbeddedQueueOptions o;
  o.log = [](std::string_view) {};
  auto queue = makeEmbeddedQueue(o);
  auto rr = makeRequestReply(*queue, RequestReplyOptions{});
  Status st = rr->start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::ValidationFailed);
  Replies replies;
  rr->call(kTenant, request("req_notstart"), 1000, replies.callbackFor("x"));
  ASSERT_EQ(replies.of("x").size(), 1u);
  EXPECT_EQ(replies.of("x")[0].error().code, ErrorCode::CodeqUnavailable);
}

}  // namespace
}  // namespace cs::codeq
