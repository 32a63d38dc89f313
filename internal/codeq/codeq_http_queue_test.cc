// The `codeq` driver against the in-process codeQ protocol double (tests/doubles/codeq): the
// whole Queue contract suite in real time, plus codeQ-specific wire cases.
#include "internal/codeq/codeq_http_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "internal/codeq/request_reply.h"
#include "internal/codeq/testing/queue_contract.h"
#include "internal/crypto/crypto.h"
#include "tests/doubles/codeq/codeq_double.h"

namespace cs::codeq {
namespace {

using doubles::CodeqDouble;
using doubles::CodeqDoubleOptions;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr auto kWait = std::chrono::seconds(5);

// Contract cases this driver cannot satisfy, with the reason (see codeq_http_queue.h).
const std::set<std::string> kSkipped = {
    "EveryGroupGetsEveryMessage",  // codeQ has no consumer groups: one group per topic
};

CodeqDoubleOptions fastDouble() {
  CodeqDoubleOptions o;
  o.backoffBaseSeconds = 0;  // lease expiry redelivers at once (codeQ default: 5 s backoff)
  o.claimPollMs = 50;
  return o;
}

CodeqHttpOptions queueOptions(const CodeqDouble& server) {
  CodeqHttpOptions o;
  o.baseUrl = server.baseUrl();
  o.producerToken = "producer-token";
  o.workerToken = "worker-token";
  o.claimWaitSeconds = 1;
  o.requestTimeoutMs = 5000;
  o.log = [](std::string_view) {};
  return o;
}

void skipIfListed() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? info->name() : "";
  for (const auto& s : kSkipped) {
    if (name.rfind(s, 0) == 0) {
      GTEST_SKIP() << "codeQ has no consumer groups (every subscriber of a topic competes); "
                      "this driver supports one group per topic";
    }
  }
}

testing::QueueUnderTest makeUnderTest() {
  skipIfListed();
  auto server = std::make_shared<CodeqDouble>(fastDouble());
  Status st = server->start();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  testing::QueueUnderTest sut;
  auto q = makeCodeqHttpQueue(queueOptions(*server));
  CodeqHttpQueue* raw = q.get();
  sut.keepAlive = server;
  sut.queue = std::move(q);
  sut.advanceMs = [](int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  sut.publishRaw = [raw](std::string_view topic, std::string_view bytes) {
    return raw->publishRawForTest(topic, bytes);
  };
  sut.settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };
  return sut;
}

}  // namespace

namespace testing {
INSTANTIATE_TEST_SUITE_P(CodeqHttp, QueueContractTest,
                         ::testing::Values(QueueContractParam{"codeq_http", makeUnderTest}),
                         queueContractParamName);
}  // namespace testing

namespace {

json invocationRequest(const std::string& requestId) {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", requestId},
          {"tenant", "t_acme"},
          {"namespace", "default"},
          {"ref", {{"function", "hello"}, {"version", 1}}},
          {"trigger", {{"type", "api"}, {"source", json::object()}}},
          {"principal", {{"sub", "user-1"}, {"roles", json::array({"developer"})}}},
          {"deadline_ms", 1'700'000'000'000},
          {"event", {{"hello", "world"}}}};
}

// Waits for deliveries from handler threads.
class Inbox {
 public:
  void add(Delivery d) {
    std::lock_guard lk(mu_);
    got_.push_back(std::move(d));
    cv_.notify_all();
  }
  bool waitFor(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kWait, [&] { return got_.size() >= n; });
  }
  std::vector<Delivery> all() {
    std::lock_guard lk(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> got_;
};

SubscribeOptions opts(const std::string& topic) {
  SubscribeOptions o;
  o.topic = topic;
  o.group = "g";
  o.consumer = "c1";
  return o;
}

std::string topicName(const std::string& prefix) { return "test." + prefix + "." + crypto::randomHex(6); }

class CodeqHttpQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<CodeqDouble>(fastDouble());
    ASSERT_TRUE(server_->start().ok());
    queue_ = makeCodeqHttpQueue(queueOptions(*server_));
    ASSERT_TRUE(queue_->start().ok());
  }
  void TearDown() override {
    if (queue_) queue_->stop();
    queue_.reset();
    server_.reset();
  }

  std::unique_ptr<CodeqDouble> server_;
  std::unique_ptr<CodeqHttpQueue> queue_;
};

TEST_F(CodeqHttpQueueTest, InvokeEnvelopeRoundTripsThroughAPayloadString) {
  const std::string t = topicName("roundtrip");
  Envelope sent = makeEnvelope("t_acme", std::string(kTypeInvoke), invocationRequest("req_rt01"));
  Inbox inbox;
  auto sub = queue_->subscribe(opts(t), [&](Delivery d) {
    EXPECT_TRUE(queue_->ack(d).ok());
    inbox.add(std::move(d));
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish(t, sent).ok());
  ASSERT_TRUE(inbox.waitFor(1));
  Delivery d = inbox.all().at(0);
  EXPECT_EQ(d.envelope.id, sent.id);
  EXPECT_EQ(d.envelope.type, sent.type);
  EXPECT_EQ(d.envelope.body, sent.body);
  // On the wire, payload is a JSON string holding the envelope's JSON: parsed twice.
  auto task = server_->task(d.deliveryId);
  ASSERT_TRUE(task.has_value());
  ASSERT_TRUE((*task)["payload"].is_string());
  json inner = json::parse((*task)["payload"].get<std::string>());
  EXPECT_EQ(inner, json::parse(encode(sent)));
  EXPECT_EQ((*task)["command"], t);
  // The ack closed it COMPLETED.
  for (int i = 0; i < 50 && server_->task(d.deliveryId)->value("status", "") != "COMPLETED"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server_->task(d.deliveryId)->value("status", ""), "COMPLETED");
}

TEST_F(CodeqHttpQueueTest, RepublishingOneEnvelopeCreatesOneTask) {
  const std::string t = topicName("idem");
  Envelope e = makeEnvelope("t_acme", "cs.test.v1", json{{"n", 1}});
  ASSERT_TRUE(queue_->publish(t, e).ok());
  ASSERT_TRUE(queue_->publish(t, e).ok());
  EXPECT_EQ(server_->taskCount(t), 1u);
  ASSERT_TRUE(queue_->publish(t, makeEnvelope("t_acme", "cs.test.v1", json{{"n", 2}})).ok());
  EXPECT_EQ(server_->taskCount(t), 2u);
}

TEST_F(CodeqHttpQueueTest, WrongProducerTokenFailsPublishWithTheServerText) {
  CodeqHttpOptions o = queueOptions(*server_);
  o.producerToken = "worker-token";  // a worker token is not a producer token
  auto q = makeCodeqHttpQueue(o);
  Status st = q->publish("test.x", makeEnvelope("t_acme", "cs.test.v1", json{{"n", 1}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::CodeqPublishFailed);
  EXPECT_THAT(st.error().message, HasSubstr("401"));
  EXPECT_THAT(st.error().message, HasSubstr("invalid token"));
  EXPECT_EQ(server_->taskCount("test.x"), 0u);
}

TEST_F(CodeqHttpQueueTest, WrongWorkerTokenFailsAckAndNackAndNothingIsDelivered) {
  CodeqHttpOptions o = queueOptions(*server_);
  o.workerToken = "producer-token";  // producers may not claim (no allowProducerAsWorker)
  auto q = makeCodeqHttpQueue(o);
  const std::string t = topicName("wrongworker");
  ASSERT_TRUE(q->publish(t, makeEnvelope("t_acme", "cs.test.v1", json{{"n", 1}})).ok());
  Inbox inbox;
  auto sub = q->subscribe(opts(t), [&](Delivery d) { inbox.add(std::move(d)); });
  ASSERT_TRUE(sub.ok());
  Delivery d;
  d.topic = t;
  d.group = "g";
  d.deliveryId = crypto::uuidV4();
  Status ack = q->ack(d);
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.error().code, ErrorCode::CodeqSubscribeFailed);
  EXPECT_THAT(ack.error().message, HasSubstr("invalid token"));
  Status nack = q->nack(d, 0);
  ASSERT_FALSE(nack.ok());
  EXPECT_EQ(nack.error().code, ErrorCode::CodeqSubscribeFailed);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(inbox.all().empty());
  q->stop();
}

TEST_F(CodeqHttpQueueTest, MissingScopeIsASubscribeFailure) {
  CodeqDoubleOptions so = fastDouble();
  so.workerScopes = {"codeq:claim", "codeq:result"};  // no codeq:nack
  CodeqDouble narrow(so);
  ASSERT_TRUE(narrow.start().ok());
  auto q = makeCodeqHttpQueue(queueOptions(narrow));
  Delivery d;
  d.deliveryId = crypto::uuidV4();
  Status st = q->nack(d, 1000);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::CodeqSubscribeFailed);
  EXPECT_THAT(st.error().message, HasSubstr("403 missing scope"));
  q->stop();
}

TEST_F(CodeqHttpQueueTest, FollowsA307ForPublishAndClaim) {
  const std::string t = topicName("redirect");
  server_->redirectNext(1);
  Envelope e = makeEnvelope("t_acme", "cs.test.v1", json{{"n", 7}});
  ASSERT_TRUE(queue_->publish(t, e).ok());
  EXPECT_EQ(server_->redirectsServed(), 1);
  EXPECT_EQ(server_->taskCount(t), 1u) << "the body was resent to the Location";
  server_->redirectNext(1);  // the subscription's first claim is redirected
  Inbox inbox;
  auto sub = queue_->subscribe(opts(t), [&](Delivery d) {
    EXPECT_TRUE(queue_->ack(d).ok());
    inbox.add(std::move(d));
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(inbox.waitFor(1));
  EXPECT_EQ(server_->redirectsServed(), 2);
  EXPECT_EQ(inbox.all()[0].envelope.id, e.id);
}

TEST_F(CodeqHttpQueueTest, TooManyRedirectsIsAPublishFailure) {
  CodeqHttpOptions o = queueOptions(*server_);
  o.maxRedirects = 1;
  auto q = makeCodeqHttpQueue(o);
  server_->redirectNext(5);
  Status st = q->publish("test.loop", makeEnvelope("t_acme", "cs.test.v1", json{{"n", 1}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::CodeqPublishFailed);
  EXPECT_THAT(st.error().message, HasSubstr("307"));
  EXPECT_EQ(server_->taskCount("test.loop"), 0u);
}

TEST_F(CodeqHttpQueueTest, ServerDownIsUnavailable) {
  uint16_t port = 0;
  {
    CodeqDouble gone(fastDouble());
    ASSERT_TRUE(gone.start().ok());
    port = gone.port();
  }
  CodeqHttpOptions o = queueOptions(*server_);
  o.baseUrl = "http://127.0.0.1:" + std::to_string(port);
  auto q = makeCodeqHttpQueue(o);
  Status started = q->start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(q->ping().error().code, ErrorCode::CodeqUnavailable);
  Status st = q->publish("test.down", makeEnvelope("t_acme", "cs.test.v1", json{{"n", 1}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::CodeqUnavailable);
  Delivery d;
  d.deliveryId = crypto::uuidV4();
  EXPECT_EQ(q->ack(d).error().code, ErrorCode::CodeqUnavailable);
}

TEST_F(CodeqHttpQueueTest, StartRefusesBadOptions) {
  CodeqHttpOptions o = queueOptions(*server_);
  o.baseUrl = "ftp://x";
  EXPECT_EQ(makeCodeqHttpQueue(o)->start().error().code, ErrorCode::ValidationFailed);
  o = queueOptions(*server_);
  o.producerToken.clear();
  EXPECT_EQ(makeCodeqHttpQueue(o)->start().error().code, ErrorCode::ValidationFailed);
  o = queueOptions(*server_);
  o.claimWaitSeconds = 31;
  EXPECT_EQ(makeCodeqHttpQueue(o)->start().error().code, ErrorCode::ValidationFailed);
}

TEST_F(CodeqHttpQueueTest, SecondGroupOnATopicIsRefused) {
  const std::string t = topicName("twogroups");
  auto a = queue_->subscribe(opts(t), [](Delivery) {});
  ASSERT_TRUE(a.ok());
  SubscribeOptions other = opts(t);
  other.group = "other";
  auto b = queue_->subscribe(other, [](Delivery) {});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(b.error().message, HasSubstr("no consumer groups"));
  (*a)->stop();
  EXPECT_TRUE(queue_->subscribe(other, [](Delivery) {}).ok()) << "free again after stop";
}

TEST_F(CodeqHttpQueueTest, BadDeliveryIdsAreRefusedWithoutARequest) {
  Delivery d;
  d.deliveryId = "../../admin";
  EXPECT_EQ(queue_->ack(d).error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(queue_->nack(d, 0).error().code, ErrorCode::ValidationFailed);
  d.deliveryId = crypto::uuidV4();
  EXPECT_EQ(queue_->nack(d, -1).error().code, ErrorCode::ValidationFailed);
  EXPECT_TRUE(queue_->ack(d).ok()) << "an unknown task (404) counts as settled";
}

TEST_F(CodeqHttpQueueTest, RequestReplyOverCodeq) {
  const std::string invokeTopic = topicName("invoke");
  // A fake invoker answering on the request's reply_to.
  auto invoker = queue_->subscribe(opts(invokeTopic), [&](Delivery d) {
    EXPECT_TRUE(queue_->ack(d).ok());
    const json& req = d.envelope.body;
    json result = {{"activation_id", req["activation_id"]},
                   {"request_id", req["request_id"]},
                   {"status", "success"},
                   {"duration_ms", 1},
                   {"result", {{"statusCode", 200}, {"body", "hi"}}}};
    std::string replyTo = req["trigger"]["source"]["reply_to"].get<std::string>();
    EXPECT_TRUE(
        queue_->publish(replyTo, makeEnvelope(d.envelope.tenant, std::string(kTypeResult), result))
            .ok());
  });
  ASSERT_TRUE(invoker.ok());
  RequestReplyOptions ro;
  ro.replyTopic = topicName("reply");
  ro.consumer = "gw-1";
  ro.invokeTopic = invokeTopic;
  ro.dlqResultsTopic = topicName("dlqresults");
  auto rr = makeRequestReply(*queue_, ro);
  ASSERT_TRUE(rr->start().ok());
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<json>> got;
  rr->call("t_acme", invocationRequest("req_rr0001"), 5000, [&](Result<json> r) {
    std::lock_guard lk(mu);
    got = std::move(r);
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, kWait, [&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->error().message;
  EXPECT_EQ((**got)["request_id"], "req_rr0001");
  EXPECT_EQ((**got)["result"]["body"], "hi");
  lk.unlock();
  rr->stop();
}

TEST(ParseRfc3339, HandlesOffsetsFractionsAndUtc) {
  auto utc = parseRfc3339Ms("2026-11-26T21:52:14Z");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(*utc, 1795729934000);
  auto local = parseRfc3339Ms("2026-11-26T18:52:14.123456789-03:00");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(*local, 1795729934123);
  auto plus = parseRfc3339Ms("2026-11-27T00:22:14.5+02:30");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(*plus, 1795729934500);
  auto epoch = parseRfc3339Ms("1970-01-01T00:00:00Z");
  ASSERT_TRUE(epoch.ok());
  EXPECT_EQ(*epoch, 0);
  for (const char* bad : {"", "2026-11-26", "2026-11-26T21:52:14", "2026-13-26T21:52:14Z",
                          "2026-11-26T21:52:14.Z", "2026-11-26T21:52:14+0300",
                          "2026-11-26T21:52:14Zjunk", "x026-11-26T21:52:14Z"}) {
    EXPECT_FALSE(parseRfc3339Ms(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cs::codeq
