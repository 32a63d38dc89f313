#include "internal/codeq/testing/queue_contract.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "internal/crypto/crypto.h"

namespace cs::codeq::testing {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

void PrintTo(const QueueContractParam& param, std::ostream* os) { *os << param.name; }

std::string queueContractParamName(const ::testing::TestParamInfo<QueueContractParam>& info) {
  return info.param.name;
}

void QueueContractTest::SetUp() {
  sut_ = GetParam().factory();
  ASSERT_NE(sut_.queue, nullptr) << "factory returned no queue";
  ASSERT_TRUE(sut_.advanceMs) << "factory returned no time control";
  ASSERT_TRUE(sut_.publishRaw) << "factory returned no raw publish hook";
  ASSERT_TRUE(sut_.settle) << "factory returned no settle hook";
  Status st = sut_.queue->start();
  ASSERT_TRUE(st.ok()) << st.error().message;
}

void QueueContractTest::TearDown() {
  if (sut_.queue) sut_.queue->stop();
  sut_.queue.reset();
}

std::string QueueContractTest::topic(std::string_view prefix) {
  return "test." + std::string(prefix) + "." + crypto::randomHex(6);
}

namespace {

constexpr int64_t kWaitMs = 5000;  // upper bound for something that must happen
constexpr const char* kTenant = "t_contract";

// Collects deliveries from handler threads; the test waits for counts.
class Recorder {
 public:
  void add(const Delivery& d) {
    std::lock_guard lk(mu_);
    deliveries_.push_back(d);
    cv_.notify_all();
  }
  // True once at least n deliveries arrived (bounded wait).
  bool waitFor(size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::milliseconds(kWaitMs),
                        [&] { return deliveries_.size() >= n; });
  }
  std::vector<Delivery> all() {
    std::lock_guard lk(mu_);
    return deliveries_;
  }
  size_t size() {
    std::lock_guard lk(mu_);
    return deliveries_.size();
  }
  std::vector<std::string> ids() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const auto& d : deliveries_) out.push_back(d.envelope.id);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
};

Envelope testEnvelope(int n) {
  return makeEnvelope(kTenant, "cs.test.v1", nlohmann::json{{"n", n}});
}

nlohmann::json invocationRequest() {
  return {{"activation_id", crypto::uuidV4()},
          {"request_id", "req_" + crypto::randomHex(8)},
          {"tenant", kTenant},
          {"namespace", "default"},
          {"ref", {{"function", "hello"}, {"version", 1}}},
          {"trigger", {{"type", "api"}, {"source", nlohmann::json::object()}}},
          {"principal", {{"sub", "user-1"}, {"roles", nlohmann::json::array({"developer"})}}},
          {"deadline_ms", 1'700'000'000'000},
          {"event", {{"hello", "world"}}}};
}

SubscribeOptions opts(const std::string& topic, const std::string& group,
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

std::unique_ptr<Subscription> mustSubscribe(Queue& q, const SubscribeOptions& o,
                                            DeliveryHandler h) {
  auto sub = q.subscribe(o, std::move(h));
  EXPECT_TRUE(sub.ok()) << (sub.ok() ? "" : sub.error().message);
  return sub.ok() ? std::move(*sub) : nullptr;
}

std::vector<std::string> publishN(Queue& q, const std::string& topic, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    Envelope e = testEnvelope(i);
    Status st = q.publish(topic, e);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    ids.push_back(e.id);
  }
  return ids;
}

}  // namespace

TEST_P(QueueContractTest, PingIsOkWhenStarted) { EXPECT_TRUE(queue().ping().ok()); }

TEST_P(QueueContractTest, DeliversTheEnvelopeIntact) {
  const std::string t = topic("intact");
  Recorder rec;
  auto sub = mustSubscribe(queue(), opts(t, "g", "c1"), [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  Envelope sent = makeEnvelope(kTenant, std::string(kTypeInvoke), invocationRequest());
  ASSERT_TRUE(queue().publish(t, sent).ok());
  ASSERT_TRUE(rec.waitFor(1));
  Delivery d = rec.all().at(0);
  EXPECT_EQ(d.topic, t);
  EXPECT_EQ(d.group, "g");
  EXPECT_FALSE(d.deliveryId.empty());
  EXPECT_EQ(d.attempt, 1);
  EXPECT_EQ(d.envelope.id, sent.id);
  EXPECT_EQ(d.envelope.tsMs, sent.tsMs);
  EXPECT_EQ(d.envelope.tenant, sent.tenant);
  EXPECT_EQ(d.envelope.type, sent.type);
  EXPECT_EQ(d.envelope.body, sent.body);
}

TEST_P(QueueContractTest, EveryGroupGetsEveryMessage) {
  const std::string t = topic("groups");
  Recorder a, b;
  auto subA = mustSubscribe(queue(), opts(t, "ga", "c1"), [&](Delivery d) {
    a.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  auto subB = mustSubscribe(queue(), opts(t, "gb", "c1"), [&](Delivery d) {
    b.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  std::vector<std::string> ids = publishN(queue(), t, 5);
  ASSERT_TRUE(a.waitFor(5));
  ASSERT_TRUE(b.waitFor(5));
  settle();
  EXPECT_THAT(a.ids(), UnorderedElementsAreArray(ids));
  EXPECT_THAT(b.ids(), UnorderedElementsAreArray(ids));
}

TEST_P(QueueContractTest, ConsumersOfOneGroupSplitTheMessages) {
  const std::string t = topic("split");
  Recorder a, b, both;
  // Each consumer holds its first message (maxInflight 1) until the other has one too, so
  // neither can take everything.
  auto holdFirst = [&](Recorder& self, Recorder& other, const Delivery& d) {
    self.add(d);
    both.add(d);
    if (self.size() == 1) {
      EXPECT_TRUE(other.waitFor(1)) << "the other consumer got nothing";
    }
    EXPECT_TRUE(queue().ack(d).ok());
  };
  SubscribeOptions oa = opts(t, "g", "ca");
  SubscribeOptions ob = opts(t, "g", "cb");
  oa.maxInflight = ob.maxInflight = 1;
  auto subA = mustSubscribe(queue(), oa, [&](Delivery d) { holdFirst(a, b, d); });
  auto subB = mustSubscribe(queue(), ob, [&](Delivery d) { holdFirst(b, a, d); });
  std::vector<std::string> ids = publishN(queue(), t, 8);
  ASSERT_TRUE(both.waitFor(ids.size()));
  settle();
  EXPECT_FALSE(a.ids().empty());
  EXPECT_FALSE(b.ids().empty());
  EXPECT_THAT(both.ids(), UnorderedElementsAreArray(ids)) << "each message once in the group";
}

TEST_P(QueueContractTest, MessagePublishedBeforeSubscribeIsDelivered) {
  const std::string t = topic("before");
  std::vector<std::string> ids = publishN(queue(), t, 3);
  Recorder rec;
  auto sub = mustSubscribe(queue(), opts(t, "late-group", "c1"), [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  ASSERT_TRUE(rec.waitFor(3));
  settle();
  EXPECT_THAT(rec.ids(), UnorderedElementsAreArray(ids));
}

TEST_P(QueueContractTest, AckedMessageIsNotRedelivered) {
  const std::string t = topic("acked");
  Recorder rec;
  SubscribeOptions o = opts(t, "g", "c1");
  o.ackTimeoutMs = 200;
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
    EXPECT_TRUE(queue().ack(d).ok()) << "ack is idempotent";
  });
  std::vector<std::string> first = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(1));
  advanceMs(500);
  settle();
  std::vector<std::string> second = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(2));
  settle();
  EXPECT_THAT(rec.ids(), ElementsAre(first[0], second[0]));
}

TEST_P(QueueContractTest, UnackedMessageIsRedeliveredAfterAckTimeout) {
  const std::string t = topic("unacked");
  Recorder rec;
  SubscribeOptions o = opts(t, "g", "c1");
  o.ackTimeoutMs = 300;
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    rec.add(d);
    if (d.attempt >= 2) {
      EXPECT_TRUE(queue().ack(d).ok());
    }
  });
  std::vector<std::string> ids = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(1));
  settle();
  EXPECT_EQ(rec.size(), 1u) << "redelivered before the ack timeout";
  advanceMs(400);
  ASSERT_TRUE(rec.waitFor(2));
  std::vector<Delivery> ds = rec.all();
  EXPECT_EQ(ds[0].attempt, 1);
  EXPECT_EQ(ds[1].attempt, 2);
  EXPECT_EQ(ds[1].envelope.id, ids[0]);
  EXPECT_EQ(ds[1].envelope.body, ds[0].envelope.body);
  advanceMs(400);
  settle();
  EXPECT_EQ(rec.size(), 2u) << "redelivered after the ack of attempt 2";
}

TEST_P(QueueContractTest, UnackedDeliveryOfAStoppedConsumerGoesToAnother) {
  const std::string t = topic("crashed");
  Recorder a, b;
  SubscribeOptions oa = opts(t, "g", "ca");
  oa.ackTimeoutMs = 200;
  auto subA = mustSubscribe(queue(), oa, [&](Delivery d) { a.add(d); });  // never acks
  std::vector<std::string> ids = publishN(queue(), t, 1);
  ASSERT_TRUE(a.waitFor(1));
  subA->stop();
  SubscribeOptions ob = opts(t, "g", "cb");
  ob.ackTimeoutMs = 200;
  auto subB = mustSubscribe(queue(), ob, [&](Delivery d) {
    b.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  advanceMs(300);
  ASSERT_TRUE(b.waitFor(1));
  settle();
  EXPECT_EQ(a.size(), 1u) << "a stopped subscription got a delivery";
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.all()[0].envelope.id, ids[0]);
  EXPECT_EQ(b.all()[0].attempt, 2);
}

TEST_P(QueueContractTest, NackRedeliversAfterTheDelay) {
  const std::string t = topic("nack");
  Recorder rec;
  auto sub = mustSubscribe(queue(), opts(t, "g", "c1"), [&](Delivery d) {
    rec.add(d);
    if (d.attempt == 1) {
      EXPECT_TRUE(queue().nack(d, 500).ok());
    } else {
      EXPECT_TRUE(queue().ack(d).ok());
    }
  });
  std::vector<std::string> ids = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(1));
  advanceMs(100);
  settle();
  EXPECT_EQ(rec.size(), 1u) << "redelivered before the nack delay";
  advanceMs(500);
  ASSERT_TRUE(rec.waitFor(2));
  std::vector<Delivery> ds = rec.all();
  EXPECT_EQ(ds[1].attempt, 2);
  EXPECT_EQ(ds[1].envelope.id, ids[0]);
}

TEST_P(QueueContractTest, MessageGoesToDlqAfterMaxDeliveries) {
  const std::string t = topic("dlq-src");
  const std::string dlq = topic("dlq");
  Recorder main, dead;
  SubscribeOptions o = opts(t, "g", "c1");
  o.maxDeliveries = 3;
  o.dlqTopic = dlq;
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    main.add(d);
    EXPECT_TRUE(queue().nack(d, 0).ok());
  });
  auto dlqSub = mustSubscribe(queue(), opts(dlq, "dlq-reader", "c1"), [&](Delivery d) {
    dead.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  Envelope sent = makeEnvelope(kTenant, std::string(kTypeInvoke), invocationRequest());
  ASSERT_TRUE(queue().publish(t, sent).ok());
  ASSERT_TRUE(dead.waitFor(1));
  settle();
  std::vector<int> attempts;
  for (const auto& d : main.all()) attempts.push_back(d.attempt);
  EXPECT_THAT(attempts, ElementsAre(1, 2, 3));
  ASSERT_EQ(dead.size(), 1u);
  Delivery d = dead.all()[0];
  EXPECT_EQ(d.envelope.id, sent.id) << "the envelope travels to the DLQ unchanged";
  EXPECT_EQ(d.envelope.type, sent.type);
  EXPECT_EQ(d.envelope.body, sent.body);
  EXPECT_EQ(d.attempt, 1);
}

TEST_P(QueueContractTest, MaxDeliveriesWithoutDlqStopsRedelivering) {
  const std::string t = topic("nodlq");
  Recorder rec;
  SubscribeOptions o = opts(t, "g", "c1");
  o.maxDeliveries = 2;
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().nack(d, 0).ok());
  });
  publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(2));
  advanceMs(100);
  settle();
  EXPECT_EQ(rec.size(), 2u);
}

TEST_P(QueueContractTest, MaxInflightLimitsUnackedDeliveries) {
  const std::string t = topic("inflight");
  constexpr int kLimit = 3;
  constexpr int kMessages = 10;
  Recorder rec;
  std::atomic<int> acked{0};
  std::atomic<int> maxOutstanding{0};
  SubscribeOptions o = opts(t, "g", "c1");
  o.maxInflight = kLimit;
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    rec.add(d);
    int outstanding = static_cast<int>(rec.size()) - acked.load();
    int prev = maxOutstanding.load();
    while (outstanding > prev && !maxOutstanding.compare_exchange_weak(prev, outstanding)) {
    }
  });
  publishN(queue(), t, kMessages);
  ASSERT_TRUE(rec.waitFor(kLimit));
  settle();
  EXPECT_EQ(rec.size(), static_cast<size_t>(kLimit)) << "handed out more than maxInflight";
  // Ack one at a time from this thread; each ack frees exactly one slot.
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(rec.waitFor(static_cast<size_t>(std::min(kMessages, i + kLimit))));
    Delivery d = rec.all().at(static_cast<size_t>(i));
    ++acked;  // counted before the ack, so a delivery it frees never looks like an excess
    ASSERT_TRUE(queue().ack(d).ok());
  }
  settle();
  EXPECT_EQ(rec.size(), static_cast<size_t>(kMessages));
  EXPECT_LE(maxOutstanding.load(), kLimit);
  EXPECT_EQ(maxOutstanding.load(), kLimit);
}

TEST_P(QueueContractTest, InvalidMessagesNeverReachTheHandler) {
  const std::string t = topic("invalid");
  Recorder rec;
  SubscribeOptions o = opts(t, "g", "c1");
  o.dlqTopic = topic("invalid-dlq");
  auto sub = mustSubscribe(queue(), o, [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  nlohmann::json badBody = {{"schema", "cs.envelope.v1"}, {"id", "msg_bad1"},
                            {"ts_ms", 1},                 {"tenant", kTenant},
                            {"type", "cs.invoke.v1"},     {"body", {{"request_id", "x"}}}};
  for (std::string raw : {std::string("not json at all"), std::string("{}"),
                          std::string("[1,2,3]"), std::string("\xff\xfe"), badBody.dump()}) {
    Status st = sut_.publishRaw(t, raw);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::vector<std::string> ids = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(1));
  advanceMs(100);
  settle();
  EXPECT_THAT(rec.ids(), ElementsAre(ids[0]));
}

TEST_P(QueueContractTest, PublishRefusesAnInvalidEnvelope) {
  const std::string t = topic("refuse");
  Recorder rec;
  auto sub = mustSubscribe(queue(), opts(t, "g", "c1"), [&](Delivery d) {
    rec.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  Envelope badId = testEnvelope(1);
  badId.id = "nope";
  Envelope badTenant = testEnvelope(2);
  badTenant.tenant = "has space";
  Envelope badBody = makeEnvelope(kTenant, std::string(kTypeInvoke), {{"request_id", "short"}});
  for (const Envelope* e : {&badId, &badTenant, &badBody}) {
    Status st = queue().publish(t, *e);
    ASSERT_FALSE(st.ok()) << e->id;
    EXPECT_EQ(st.error().code, ErrorCode::ValidationFailed) << st.error().message;
  }
  std::vector<std::string> ids = publishN(queue(), t, 1);
  ASSERT_TRUE(rec.waitFor(1));
  settle();
  EXPECT_THAT(rec.ids(), ElementsAre(ids[0]));
}

TEST_P(QueueContractTest, SubscribeRefusesBadOptions) {
  const std::string t = topic("opts");
  auto noop = [](Delivery) {};
  std::vector<SubscribeOptions> bad(7, opts(t, "g", "c1"));
  bad[0].topic = "";
  bad[1].group = "";
  bad[2].consumer = "";
  bad[3].maxInflight = 0;
  bad[4].ackTimeoutMs = 0;
  bad[5].maxDeliveries = 0;
  bad[6].topic = "has space";
  for (size_t i = 0; i < bad.size(); ++i) {
    auto sub = queue().subscribe(bad[i], noop);
    ASSERT_FALSE(sub.ok()) << "case " << i;
    EXPECT_EQ(sub.error().code, ErrorCode::ValidationFailed) << "case " << i;
  }
  EXPECT_FALSE(queue().subscribe(opts(t, "g", "c1"), nullptr).ok());
}

TEST_P(QueueContractTest, StoppedSubscriptionGetsNothingMore) {
  const std::string t = topic("stopped");
  Recorder a, b;
  auto subA = mustSubscribe(queue(), opts(t, "g", "ca"), [&](Delivery d) {
    a.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  publishN(queue(), t, 1);
  ASSERT_TRUE(a.waitFor(1));
  subA->stop();
  subA->stop();  // idempotent
  std::vector<std::string> later = publishN(queue(), t, 2);
  auto subB = mustSubscribe(queue(), opts(t, "g", "cb"), [&](Delivery d) {
    b.add(d);
    EXPECT_TRUE(queue().ack(d).ok());
  });
  ASSERT_TRUE(b.waitFor(2));
  settle();
  EXPECT_EQ(a.size(), 1u);
  EXPECT_THAT(b.ids(), UnorderedElementsAreArray(later));
}

}  // namespace cs::codeq::testing
