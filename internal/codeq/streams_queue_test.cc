// The streams driver against a real redis-server: the queue contract suite in real time, plus
// the Redis-specific behaviour (consumer groups on the wire, reclaim from a dead replica, DLQ,
// MAXLEN, request-reply with per-replica reply streams, server restart).
#include "internal/codeq/streams_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "internal/codeq/request_reply.h"
#include "internal/codeq/testing/queue_contract.h"
#include "internal/crypto/crypto.h"
#include "internal/testing/redis_server.h"

namespace cs::codeq {
namespace {

using codeq::testing::QueueContractParam;
using codeq::testing::QueueContractTest;
using codeq::testing::QueueUnderTest;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr const char* kTenant = "t_streams";
constexpr auto kWait = std::chrono::seconds(5);

// One redis-server for the whole binary; every test uses its own topic names.
std::shared_ptr<cs::testing::RedisServer> sharedServer() {
  static std::shared_ptr<cs::testing::RedisServer> server =
      std::make_shared<cs::testing::RedisServer>();
  return server;
}

struct LogSink {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> fn() {
    return [this](std::string_view line) {
      std::lock_guard lk(mu);
      lines.emplace_back(line);
    };
  }
  std::string joined() {
    std::lock_guard lk(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

// Short timings so the real-time contract runs fast: a reader looks for reclaimable entries
// every 20 ms and never blocks more than 50 ms.
StreamsQueueOptions testOptions(const cs::testing::RedisServer& server, LogSink* log) {
  StreamsQueueOptions o;
  o.host = server.host();
  o.port = server.port();
  o.connectTimeoutMs = 500;
  o.commandTimeoutMs = 2000;
  o.blockMs = 50;
  o.claimIntervalMs = 20;
  if (log != nullptr) o.log = log->fn();
  return o;
}

// The contract in real time: advanceMs sleeps; settle sleeps several reader loops (the
// contract's "must not happen yet" windows are ≥ 250 ms, so 150 ms keeps a margin).
QueueUnderTest streamsQueue() {
  struct Keep {
    std::shared_ptr<cs::testing::RedisServer> server = sharedServer();
    LogSink log;
  };
  auto keep = std::make_shared<Keep>();
  EXPECT_TRUE(keep->server->ok()) << keep->server->error();
  std::unique_ptr<StreamsQueue> q = makeStreamsQueue(testOptions(*keep->server, &keep->log));
  StreamsQueue* raw = q.get();
  QueueUnderTest sut;
  sut.keepAlive = keep;
  sut.queue = std::move(q);
  sut.advanceMs = [](int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  sut.publishRaw = [raw](std::string_view t, std::string_view b) {
    return raw->publishRawForTest(t, b);
  };
  sut.settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); };
  return sut;
}

INSTANTIATE_TEST_SUITE_P(Streams, QueueContractTest,
                         ::testing::Values(QueueContractParam{"streams", streamsQueue}),
                         codeq::testing::queueContractParamName);

// Direct access to the server, to look at what the driver left there.
class RawRedis {
 public:
  explicit RawRedis(const cs::testing::RedisServer& server) {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout(server.host().c_str(), server.port(), tv);
  }
  ~RawRedis() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  // The reply as JSON: strings, integers, null, arrays; errors as {"error": "..."}.
  json cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) return json{{"error", "io"}};
    json out = toJson(r);
    freeReplyObject(r);
    return out;
  }
  int64_t xlen(const std::string& key) { return cmd({"XLEN", key}).get<int64_t>(); }
  // Number of pending (delivered, unacked) entries of a group.
  int64_t pendingCount(const std::string& key, const std::string& group) {
    json r = cmd({"XPENDING", key, group});
    return r.is_array() && !r.empty() && r[0].is_number() ? r[0].get<int64_t>() : -1;
  }
  // (consumer, delivery count) of each pending entry.
  std::vector<std::pair<std::string, int64_t>> pending(const std::string& key,
                                                       const std::string& group) {
    std::vector<std::pair<std::string, int64_t>> out;
    json r = cmd({"XPENDING", key, group, "-", "+", "100"});
    if (!r.is_array()) return out;
    for (const auto& e : r) out.emplace_back(e[1].get<std::string>(), e[3].get<int64_t>());
    return out;
  }
  // The `e` field of every entry, oldest first.
  std::vector<std::string> bodies(const std::string& key) {
    std::vector<std::string> out;
    json r = cmd({"XRANGE", key, "-", "+"});
    if (!r.is_array()) return out;
    for (const auto& e : r) {
      const json& fields = e[1];
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i] == "e") out.push_back(fields[i + 1].get<std::string>());
      }
    }
    return out;
  }

 private:
  static json toJson(const redisReply* r) {
    switch (r->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        return std::string(r->str, r->len);
      case REDIS_REPLY_ERROR:
        return json{{"error", std::string(r->str, r->len)}};
      case REDIS_REPLY_INTEGER:
        return r->integer;
      case REDIS_REPLY_ARRAY: {
        json a = json::array();
        for (size_t i = 0; i < r->elements; ++i) a.push_back(toJson(r->element[i]));
        return a;
      }
      default:
        return nullptr;
    }
  }
  redisContext* ctx_ = nullptr;
};

class Recorder {
 public:
  void add(const Delivery& d) {
    std::lock_guard lk(mu_);
    deliveries_.push_back(d);
    cv_.notify_all();
  }
  bool waitFor(size_t n, std::chrono::milliseconds wait = kWait) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, wait, [&] { return deliveries_.size() >= n; });
  }
  std::vector<Delivery> all() {
    std::lock_guard lk(mu_);
    return deliveries_;
  }
  size_t size() {
    std::lock_guard lk(mu_);
    return deliveries_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
};

// Polls `pred` every 10 ms for at most `wait`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds wait = kWait) {
  auto end = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

json invocationRequest() {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", "req_" + crypto::randomHex(8)},
          {"tenant", kTenant},
          {"namespace", "default"},
          {"ref", {{"function", "hello"}, {"version", 1}}},
          {"trigger", {{"type", "api"}, {"source", json::object()}}},
          {"principal", {{"sub", "user-1"}, {"roles", json::array({"developer"})}}},
          {"deadline_ms", 1'700'000'000'000},
          {"event", {{"hello", "world"}}}};
}

SubscribeOptions subOpts(const std::string& topic, const std::string& group,
                         const std::string& consumer) {
  SubscribeOptions o;
  o.topic = topic;
  o.group = group;
  o.consumer = consumer;
  o.maxInflight = 16;
  o.ackTimeoutMs = 60000;
  o.maxDeliveries = 5;
  return o;
}

std::string unique(std::string_view prefix) {
  return std::string(prefix) + "." + crypto::randomHex(6);
}

class StreamsQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->error();
    queue_ = makeStreamsQueue(testOptions(*server_, &log_));
    Status st = queue_->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_TRUE(raw_.ok());
  }
  void TearDown() override {
    if (queue_) queue_->stop();
  }

  std::shared_ptr<cs::testing::RedisServer> server_ = sharedServer();
  LogSink log_;
  RawRedis raw_{*server_};
  std::unique_ptr<StreamsQueue> queue_;
};

// Issue gate: a cs.invoke.v1 message is published and consumed through a consumer group.
TEST_F(StreamsQueueTest, InvokeMessageIsPublishedAndConsumedThroughAConsumerGroup) {
  const std::string topic(kTopicInvoke);
  const std::string group = unique("invokers");
  const std::string key = queue_->streamKey(topic);
  EXPECT_EQ(key, "cs:stream:cs.invoke");
  Recorder rec;
  auto sub = queue_->subscribe(subOpts(topic, group, "invoker-1"),
                               [&](Delivery d) { rec.add(d); });
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  Envelope sent = makeEnvelope(kTenant, std::string(kTypeInvoke), invocationRequest());
  ASSERT_TRUE(queue_->publish(topic, sent).ok());

  // On the wire: the encoded envelope in the topic's stream.
  std::vector<std::string> bodies = raw_.bodies(key);
  ASSERT_FALSE(bodies.empty());
  EXPECT_EQ(bodies.back(), encode(sent));

  ASSERT_TRUE(rec.waitFor(1));
  Delivery d;
  for (const auto& got : rec.all()) {
    if (got.envelope.id == sent.id) d = got;
  }
  ASSERT_EQ(d.envelope.id, sent.id);
  EXPECT_EQ(d.envelope.type, kTypeInvoke);
  EXPECT_EQ(d.envelope.body, sent.body);
  EXPECT_EQ(d.group, group);
  EXPECT_EQ(d.attempt, 1);
  // Delivered through the group: pending for this consumer until acked.
  auto pending = raw_.pending(key, group);
  ASSERT_EQ(pending.size(), rec.size());
  EXPECT_EQ(pending[0].first, "invoker-1");
  for (const auto& got : rec.all()) ASSERT_TRUE(queue_->ack(got).ok());
  EXPECT_EQ(raw_.pendingCount(key, group), 0);
}

// A replica that dies holding a message: another replica's consumer reclaims it (XAUTOCLAIM)
// once it has been idle for the ack timeout.
TEST_F(StreamsQueueTest, DeadConsumersPendingMessageIsReclaimedByAnotherReplica) {
  const std::string topic = unique("test.dead");
  const std::string key = queue_->streamKey(topic);
  LogSink otherLog;
  auto replica1 = makeStreamsQueue(testOptions(*server_, &otherLog));
  ASSERT_TRUE(replica1->start().ok());
  Recorder got1, got2;
  SubscribeOptions o1 = subOpts(topic, "workers", "replica-1");
  o1.ackTimeoutMs = 300;
  auto sub1 = replica1->subscribe(o1, [&](Delivery d) { got1.add(d); });  // never acks
  ASSERT_TRUE(sub1.ok());
  Envelope sent = makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}});
  ASSERT_TRUE(queue_->publish(topic, sent).ok());
  ASSERT_TRUE(got1.waitFor(1));
  sub1->reset();
  replica1.reset();  // the replica is gone; its delivery is still pending on the server
  auto pending = raw_.pending(key, "workers");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].first, "replica-1");

  SubscribeOptions o2 = subOpts(topic, "workers", "replica-2");
  o2.ackTimeoutMs = 300;
  auto sub2 = queue_->subscribe(o2, [&](Delivery d) {
    got2.add(d);
    EXPECT_TRUE(queue_->ack(d).ok());
  });
  ASSERT_TRUE(sub2.ok());
  ASSERT_TRUE(got2.waitFor(1));
  Delivery d = got2.all()[0];
  EXPECT_EQ(d.envelope.id, sent.id);
  EXPECT_EQ(d.attempt, 2);
  EXPECT_EQ(d.deliveryId, got1.all()[0].deliveryId);
  EXPECT_TRUE(eventually([&] { return raw_.pendingCount(key, "workers") == 0; }));
  EXPECT_EQ(got1.size(), 1u);
}

// Never acked: delivered maxDeliveries times (each after an ack timeout), then the bytes go
// unchanged to the DLQ stream and the source entry is settled.
TEST_F(StreamsQueueTest, UnackedMessageGoesToTheDlqStreamAfterMaxDeliveries) {
  const std::string topic = unique("test.dlqsrc");
  const std::string dlq = unique("test.dlq");
  Recorder rec;
  SubscribeOptions o = subOpts(topic, "g", "c1");
  o.ackTimeoutMs = 200;
  o.maxDeliveries = 2;
  o.dlqTopic = dlq;
  auto sub = queue_->subscribe(o, [&](Delivery d) { rec.add(d); });
  ASSERT_TRUE(sub.ok());
  Envelope sent = makeEnvelope(kTenant, std::string(kTypeInvoke), invocationRequest());
  ASSERT_TRUE(queue_->publish(topic, sent).ok());
  ASSERT_TRUE(eventually([&] { return raw_.xlen(queue_->streamKey(dlq)) == 1; }));
  EXPECT_THAT(raw_.bodies(queue_->streamKey(dlq)), ElementsAre(encode(sent)));
  EXPECT_TRUE(eventually([&] { return raw_.pendingCount(queue_->streamKey(topic), "g") == 0; }));
  std::vector<int> attempts;
  for (const auto& d : rec.all()) attempts.push_back(d.attempt);
  EXPECT_THAT(attempts, ElementsAre(1, 2));
  EXPECT_THAT(log_.joined(), HasSubstr("moved to " + dlq));
}

TEST_F(StreamsQueueTest, StreamLengthIsBoundedByMaxLen) {
  StreamsQueueOptions o = testOptions(*server_, &log_);
  o.maxLen = 20;
  auto q = makeStreamsQueue(o);
  const std::string topic = unique("test.capped");
  constexpr int kPublished = 1000;
  for (int i = 0; i < kPublished; ++i) {
    Status st = q->publish(topic, makeEnvelope(kTenant, "cs.test.v1", json{{"n", i}}));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  const int64_t len = raw_.xlen(q->streamKey(topic));
  EXPECT_GE(len, 20);
  // MAXLEN ~ trims whole nodes (stream-node-max-entries = 100).
  EXPECT_LE(len, 20 + 100);
  // The newest message is kept.
  std::vector<std::string> bodies = raw_.bodies(q->streamKey(topic));
  ASSERT_FALSE(bodies.empty());
  EXPECT_EQ(decode(bodies.back())->body, (json{{"n", kPublished - 1}}));
}

// nack with a delay longer than the ack timeout: the entry is kept from other consumers until
// the delay has passed.
TEST_F(StreamsQueueTest, NackDelayLongerThanAckTimeoutIsHonoured) {
  const std::string topic = unique("test.longnack");
  Recorder rec;
  SubscribeOptions o = subOpts(topic, "g", "c1");
  o.ackTimeoutMs = 200;
  auto sub = queue_->subscribe(o, [&](Delivery d) {
    rec.add(d);
    if (d.attempt == 1) {
      EXPECT_TRUE(queue_->nack(d, 800).ok());
    } else {
      EXPECT_TRUE(queue_->ack(d).ok());
    }
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish(topic, makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}})).ok());
  ASSERT_TRUE(rec.waitFor(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(450));  // > 2 ack timeouts
  EXPECT_EQ(rec.size(), 1u) << "redelivered before the nack delay";
  ASSERT_TRUE(rec.waitFor(2));
  EXPECT_EQ(rec.all()[1].attempt, 2);
}

TEST_F(StreamsQueueTest, StaleNackIsIgnoredAndBadDeliveriesAreRefused) {
  const std::string topic = unique("test.stale");
  Recorder rec;
  auto sub = queue_->subscribe(subOpts(topic, "g", "c1"), [&](Delivery d) { rec.add(d); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish(topic, makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}})).ok());
  ASSERT_TRUE(rec.waitFor(1));
  Delivery d = rec.all()[0];
  Delivery older = d;
  older.attempt = 7;
  ASSERT_TRUE(queue_->nack(older, 0).ok());  // not the current attempt: ignored
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(rec.size(), 1u);

  Delivery bad = d;
  bad.deliveryId = "not-an-id";
  EXPECT_EQ(queue_->ack(bad).error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(queue_->nack(bad, 0).error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(queue_->nack(d, -1).error().code, ErrorCode::ValidationFailed);
  Delivery badGroup = d;
  badGroup.group = "has space";
  EXPECT_EQ(queue_->ack(badGroup).error().code, ErrorCode::ValidationFailed);
  EXPECT_TRUE(queue_->ack(d).ok());
  EXPECT_EQ(raw_.pendingCount(queue_->streamKey(topic), "g"), 0);
}

TEST_F(StreamsQueueTest, SubscribeOnAKeyThatIsNotAStreamFails) {
  const std::string topic = unique("test.wrongtype");
  raw_.cmd({"SET", queue_->streamKey(topic), "x"});
  auto sub = queue_->subscribe(subOpts(topic, "g", "c1"), [](Delivery) {});
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().code, ErrorCode::CodeqSubscribeFailed);
  Status st = queue_->publish(topic, makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::CodeqPublishFailed);
}

TEST(StreamsQueueOptionsTest, BadOptionsAreRefused) {
  StreamsQueueOptions o;
  o.port = 0;
  auto q = makeStreamsQueue(o);
  EXPECT_EQ(q->start().error().code, ErrorCode::ValidationFailed);
  EXPECT_EQ(q->publish("t", makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}})).error().code,
            ErrorCode::ValidationFailed);
  StreamsQueueOptions o2;
  o2.maxLen = 0;
  EXPECT_EQ(makeStreamsQueue(o2)->start().error().code, ErrorCode::ValidationFailed);
}

TEST(StreamsQueueOptionsTest, UnreachableServerIsUnavailable) {
  cs::testing::RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  LogSink log;
  StreamsQueueOptions o = testOptions(server, &log);
  server.stop();
  auto q = makeStreamsQueue(o);
  EXPECT_EQ(q->start().error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(q->ping().error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(q->publish("t", makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}})).error().code,
            ErrorCode::CodeqUnavailable);
  q->stop();
  EXPECT_EQ(q->ping().error().code, ErrorCode::CodeqUnavailable);
}

// The server restarts (empty: no persistence): publish fails while it is down, then works again
// and the subscription reconnects, recreates its group and receives new messages.
TEST(StreamsQueueRestartTest, PublishAndSubscribeRecoverAfterAServerRestart) {
  cs::testing::RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  LogSink log;
  auto q = makeStreamsQueue(testOptions(server, &log));
  ASSERT_TRUE(q->start().ok());
  Recorder rec;
  auto sub = q->subscribe(subOpts("test.restart", "g", "c1"), [&](Delivery d) {
    Status st = q->ack(d);  // before recording: the test stops the server once it sees it
    EXPECT_TRUE(st.ok()) << st.error().message;
    rec.add(d);
  });
  ASSERT_TRUE(sub.ok());
  Envelope before = makeEnvelope(kTenant, "cs.test.v1", json{{"n", 1}});
  ASSERT_TRUE(q->publish("test.restart", before).ok());
  ASSERT_TRUE(rec.waitFor(1));

  server.stop();
  Status down = q->publish("test.restart", makeEnvelope(kTenant, "cs.test.v1", json{{"n", 2}}));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::CodeqUnavailable);
  EXPECT_FALSE(q->ping().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // readers are in backoff

  ASSERT_TRUE(server.start()) << server.error();
  EXPECT_TRUE(q->ping().ok());
  Envelope after = makeEnvelope(kTenant, "cs.test.v1", json{{"n", 3}});
  ASSERT_TRUE(q->publish("test.restart", after).ok());
  ASSERT_TRUE(rec.waitFor(2, std::chrono::seconds(10)));
  EXPECT_EQ(rec.all()[1].envelope.id, after.id);
  EXPECT_THAT(log.joined(), HasSubstr("recovered"));
  sub->reset();
  q->stop();
}

// RequestReply over streams: two replicas, each with its own reply stream, get exactly their
// own results from an invoker that answers to trigger.source.reply_to.
TEST_F(StreamsQueueTest, RequestReplyWorksWithPerReplicaReplyStreams) {
  const std::string invokeTopic = unique("test.invoke");
  const std::string dlqResults = unique("test.dlq.results");
  // The fake invoker.
  SubscribeOptions io = subOpts(invokeTopic, "invoker", "inv-1");
  auto invoker = queue_->subscribe(io, [&](Delivery d) {
    EXPECT_TRUE(queue_->ack(d).ok());
    const json& req = d.envelope.body;
    json result = {{"activation_id", req["activation_id"]},
                   {"request_id", req["request_id"]},
                   {"status", "success"},
                   {"duration_ms", 1},
                   {"result", {{"statusCode", 200}, {"body", req["request_id"]}}}};
    Status st = queue_->publish(req["trigger"]["source"]["reply_to"].get<std::string>(),
                                makeEnvelope(d.envelope.tenant, std::string(kTypeResult), result));
    EXPECT_TRUE(st.ok()) << st.error().message;
  });
  ASSERT_TRUE(invoker.ok());

  std::vector<std::unique_ptr<RequestReply>> replicas;
  for (const char* name : {"gw-1", "gw-2"}) {
    RequestReplyOptions ro;
    ro.replyTopic = unique(std::string("cs.reply.") + name);
    ro.consumer = name;
    ro.invokeTopic = invokeTopic;
    ro.dlqResultsTopic = dlqResults;
    replicas.push_back(makeRequestReply(*queue_, ro));
    Status st = replicas.back()->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<Result<json>>> got;  // request_id → callbacks
  size_t total = 0;
  constexpr int kPerReplica = 10;
  std::vector<std::string> ids;
  for (int i = 0; i < kPerReplica; ++i) {
    for (auto& rr : replicas) {
      json req = invocationRequest();
      std::string id = req["request_id"];
      ids.push_back(id);
      rr->call(kTenant, req, 10000, [&, id](Result<json> r) {
        std::lock_guard lk(mu);
        got[id].push_back(std::move(r));
        ++total;
        cv.notify_all();
      });
    }
  }
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return total >= ids.size(); }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(total, ids.size()) << "a callback ran twice";
    for (const auto& id : ids) {
      ASSERT_EQ(got[id].size(), 1u) << id;
      ASSERT_TRUE(got[id][0].ok()) << got[id][0].error().message;
      EXPECT_EQ(got[id][0]->at("result").at("body"), id);
    }
  }
  // Each reply stream carried only its replica's results; nothing was uncorrelated.
  for (auto& rr : replicas) {
    EXPECT_EQ(raw_.xlen(queue_->streamKey(rr->replyTopic())), kPerReplica);
  }
  EXPECT_EQ(raw_.xlen(queue_->streamKey(dlqResults)), 0);
  for (auto& rr : replicas) rr->stop();
}

}  // namespace
}  // namespace cs::codeq
