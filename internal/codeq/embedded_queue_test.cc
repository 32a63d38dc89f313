#include "internal/codeq/embedded_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "internal/codeq/testing/queue_contract.h"

namespace cs::codeq {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::QueueContractParam;
using testing::QueueContractTest;
using testing::QueueUnderTest;

// Thread-safe sink for the queue's log lines.
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

QueueUnderTest manualClockQueue() {
  struct Keep {
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
    LogSink log;
  };
  auto keep = std::make_shared<Keep>();
  EmbeddedQueueOptions o;
  o.clock = keep->clock;
  o.log = keep->log.fn();
  std::unique_ptr<EmbeddedQueue> q = makeEmbeddedQueue(o);
  EmbeddedQueue* raw = q.get();
  QueueUnderTest sut;
  sut.keepAlive = keep;
  sut.queue = std::move(q);
  sut.advanceMs = [keep, raw](int64_t ms) {
    keep->clock->advanceMs(ms);
    raw->wakeForTest();
  };
  sut.publishRaw = [raw](std::string_view t, std::string_view b) {
    return raw->publishRawForTest(t, b);
  };
  sut.settle = [raw] { EXPECT_TRUE(raw->waitIdleForTest()); };
  return sut;
}

// The real-time path (what a wire driver sees): time passes by sleeping.
QueueUnderTest systemClockQueue() {
  auto log = std::make_shared<LogSink>();
  EmbeddedQueueOptions o;
  o.log = log->fn();
  std::unique_ptr<EmbeddedQueue> q = makeEmbeddedQueue(o);
  EmbeddedQueue* raw = q.get();
  QueueUnderTest sut;
  sut.keepAlive = log;
  sut.queue = std::move(q);
  sut.advanceMs = [](int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  sut.publishRaw = [raw](std::string_view t, std::string_view b) {
    return raw->publishRawForTest(t, b);
  };
  sut.settle = [raw] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(raw->waitIdleForTest());
  };
  return sut;
}

INSTANTIATE_TEST_SUITE_P(Embedded, QueueContractTest,
                         ::testing::Values(QueueContractParam{"manual_clock", manualClockQueue},
                                           QueueContractParam{"system_clock", systemClockQueue}),
                         testing::queueContractParamName);

// Driver-specific behaviour, on a manual clock.
class EmbeddedQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { make(100000); }
  void TearDown() override {
    if (queue_) queue_->stop();
  }
  void make(size_t cap) {
    if (queue_) queue_->stop();
    EmbeddedQueueOptions o;
    o.clock = clock_;
    o.maxTopicLength = cap;
    o.log = log_.fn();
    queue_ = makeEmbeddedQueue(o);
    ASSERT_TRUE(queue_->start().ok());
  }
  SubscribeOptions opts(const std::string& topic) {
    SubscribeOptions o;
    o.topic = topic;
    o.group = "g";
    o.consumer = "c1";
    o.ackTimeoutMs = 1000;
    return o;
  }
  Envelope env(int n) { return makeEnvelope("t_acme", "cs.test.v1", nlohmann::json{{"n", n}}); }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  LogSink log_;
  std::unique_ptr<EmbeddedQueue> queue_;
};

TEST_F(EmbeddedQueueTest, TopicCapDropsTheOldestWithALogLine) {
  make(3);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    Envelope e = env(i);
    ids.push_back(e.id);
    ASSERT_TRUE(queue_->publish("capped", e).ok());
  }
  std::vector<std::string> stored = queue_->messagesForTest("capped");
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(decode(stored.front())->id, ids[2]);
  EXPECT_THAT(log_.joined(), HasSubstr("dropped the oldest"));

  std::mutex mu;
  std::vector<std::string> seen;
  auto sub = queue_->subscribe(opts("capped"), [&](Delivery d) {
    std::lock_guard lk(mu);
    seen.push_back(d.envelope.id);
    EXPECT_TRUE(queue_->ack(d).ok());
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  std::lock_guard lk(mu);
  EXPECT_THAT(seen, ElementsAre(ids[2], ids[3], ids[4]));
}

TEST_F(EmbeddedQueueTest, UndecodableBytesGoToTheSubscriptionDlqUnchanged) {
  std::atomic<int> handled{0};
  SubscribeOptions o = opts("in");
  o.dlqTopic = "in.dlq";
  auto sub = queue_->subscribe(o, [&](Delivery) { ++handled; });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publishRawForTest("in", "garbage{").ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(handled.load(), 0);
  EXPECT_THAT(queue_->messagesForTest("in.dlq"), ElementsAre("garbage{"));
  EXPECT_THAT(log_.joined(), HasSubstr("not a valid envelope"));
  // It was settled (acked): moving past the ack timeout brings nothing back.
  clock_->advanceMs(5000);
  queue_->wakeForTest();
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(queue_->messagesForTest("in.dlq").size(), 1u);
}

TEST_F(EmbeddedQueueTest, UndecodableBytesWithoutDlqAreDroppedWithALog) {
  std::atomic<int> handled{0};
  auto sub = queue_->subscribe(opts("in"), [&](Delivery) { ++handled; });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publishRawForTest("in", "{\"schema\":1}").ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(handled.load(), 0);
  EXPECT_THAT(log_.joined(), HasSubstr("dropped"));
}

TEST_F(EmbeddedQueueTest, DlqGetsTheOriginalBytes) {
  SubscribeOptions o = opts("src");
  o.maxDeliveries = 1;
  o.dlqTopic = "src.dlq";
  auto sub = queue_->subscribe(o, [&](Delivery d) { EXPECT_TRUE(queue_->nack(d, 0).ok()); });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish("src", env(1)).ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(queue_->messagesForTest("src.dlq"), queue_->messagesForTest("src"));
  EXPECT_THAT(log_.joined(), HasSubstr("moved to src.dlq"));
}

TEST_F(EmbeddedQueueTest, HandlerExceptionLeavesTheMessageForRedelivery) {
  std::atomic<int> calls{0};
  auto sub = queue_->subscribe(opts("boom"), [&](Delivery d) {
    if (++calls == 1) throw std::runtime_error("kaput");
    EXPECT_EQ(d.attempt, 2);
    EXPECT_TRUE(queue_->ack(d).ok());
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish("boom", env(1)).ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_THAT(log_.joined(), HasSubstr("kaput"));
  clock_->advanceMs(1001);
  queue_->wakeForTest();
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(EmbeddedQueueTest, SubscriptionMayStopItselfFromItsHandler) {
  std::atomic<int> calls{0};
  std::unique_ptr<Subscription> self;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  auto sub = queue_->subscribe(opts("self"), [&](Delivery d) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return ready; });
    }
    ++calls;
    EXPECT_TRUE(queue_->ack(d).ok());
    self->stop();
  });
  ASSERT_TRUE(sub.ok());
  self = std::move(*sub);
  {
    std::lock_guard lk(mu);
    ready = true;
  }
  cv.notify_all();
  ASSERT_TRUE(queue_->publish("self", env(1)).ok());
  ASSERT_TRUE(queue_->publish("self", env(2)).ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  EXPECT_EQ(calls.load(), 1);
  queue_->stop();  // joins the orphaned thread
  self.reset();    // stopping again after the queue stopped is harmless
}

TEST_F(EmbeddedQueueTest, StopWaitsForTheHandlerInProgress) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false, finished = false;
  auto sub = queue_->subscribe(opts("slow"), [&](Delivery) {
    std::unique_lock lk(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lk, [&] { return release; });
    finished = true;
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish("slow", env(1)).ok());
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(5), [&] { return entered; }));
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    (*sub)->stop();
    stopped = true;
    std::lock_guard lk(mu);
    EXPECT_TRUE(finished) << "stop() returned while the handler was running";
  });
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  EXPECT_TRUE(stopped.load());
}

TEST_F(EmbeddedQueueTest, RefusesWorkAfterStop) {
  queue_->stop();
  EXPECT_EQ(queue_->publish("t", env(1)).error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(queue_->ping().error().code, ErrorCode::CodeqUnavailable);
  EXPECT_EQ(queue_->start().error().code, ErrorCode::CodeqUnavailable);
  auto sub = queue_->subscribe(opts("t"), [](Delivery) {});
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().code, ErrorCode::CodeqUnavailable);
}

TEST_F(EmbeddedQueueTest, AckAndNackCheckTheirArguments) {
  std::mutex mu;
  std::vector<Delivery> got;
  auto sub = queue_->subscribe(opts("args"), [&](Delivery d) {
    std::lock_guard lk(mu);
    got.push_back(d);
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish("args", env(1)).ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  std::lock_guard lk(mu);
  ASSERT_EQ(got.size(), 1u);
  Delivery d = got[0];
  EXPECT_EQ(queue_->nack(d, -1).error().code, ErrorCode::ValidationFailed);
  for (std::string id : {"", "abc", "12x", "-1"}) {
    Delivery bad = d;
    bad.deliveryId = id;
    EXPECT_EQ(queue_->ack(bad).error().code, ErrorCode::ValidationFailed) << id;
  }
  Delivery unknownTopic = d;
  unknownTopic.topic = "nowhere";
  EXPECT_EQ(queue_->ack(unknownTopic).error().code, ErrorCode::ValidationFailed);
  Delivery unknownGroup = d;
  unknownGroup.group = "nobody";
  EXPECT_EQ(queue_->nack(unknownGroup, 0).error().code, ErrorCode::ValidationFailed);
  EXPECT_TRUE(queue_->ack(d).ok());
  EXPECT_TRUE(queue_->nack(d, 0).ok()) << "nack after ack is a no-op";
}

TEST_F(EmbeddedQueueTest, NackOfAnOlderAttemptIsIgnored) {
  std::mutex mu;
  std::vector<Delivery> got;
  auto sub = queue_->subscribe(opts("stale"), [&](Delivery d) {
    std::lock_guard lk(mu);
    got.push_back(d);
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(queue_->publish("stale", env(1)).ok());
  ASSERT_TRUE(queue_->waitIdleForTest());
  clock_->advanceMs(1001);  // ack timeout: attempt 2 goes out
  queue_->wakeForTest();
  ASSERT_TRUE(queue_->waitIdleForTest());
  Delivery first;
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(got.size(), 2u);
    first = got[0];
  }
  EXPECT_TRUE(queue_->nack(first, 0).ok());
  queue_->wakeForTest();
  ASSERT_TRUE(queue_->waitIdleForTest());
  std::lock_guard lk(mu);
  EXPECT_EQ(got.size(), 2u) << "a stale nack redelivered the message";
}

}  // namespace
}  // namespace cs::codeq
