// FakeQueue — a hand-written codeq::Queue for invoker tests (STYLE §13, a fake for state):
// records every publish, ack and nack, and lets the test hand deliveries to the subscriber.
// deliver() calls the handler on the calling thread, like a driver's delivery thread would.
// Nothing is redelivered by itself: a test re-delivers explicitly.
//
// Threads: any thread; one mutex; waits use a condition variable with a real-time bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "internal/codeq/queue.h"

namespace cs::invoker::testing {

class FakeQueue final : public codeq::Queue {
 public:
  struct Published {
    std::string topic;
    codeq::Envelope envelope;
  };
  struct Nacked {
    std::string deliveryId;
    int64_t delayMs = 0;
  };

  Status start() override { return okStatus(); }
  void stop() override {}
  Status ping() override { return okStatus(); }

  Status publish(std::string_view topic, const codeq::Envelope& envelope) override {
    std::lock_guard lock(mu_);
    if (failPublishes_ > 0) {
      --failPublishes_;
      return Error{ErrorCode::CodeqPublishFailed, "fake: publish failed"};
    }
    published_.push_back(Published{std::string(topic), envelope});
    cv_.notify_all();
    return okStatus();
  }

  Result<std::unique_ptr<codeq::Subscription>> subscribe(const codeq::SubscribeOptions& options,
                                                         codeq::DeliveryHandler handler) override {
    std::lock_guard lock(mu_);
    options_ = options;
    handler_ = std::move(handler);
    return std::unique_ptr<codeq::Subscription>(std::make_unique<Sub>(this));
  }

  Status ack(const codeq::Delivery& delivery) override {
    std::lock_guard lock(mu_);
    acked_.push_back(delivery.deliveryId);
    cv_.notify_all();
    return okStatus();
  }

  Status nack(const codeq::Delivery& delivery, int64_t delayMs) override {
    std::lock_guard lock(mu_);
    nacked_.push_back(Nacked{delivery.deliveryId, delayMs});
    cv_.notify_all();
    return okStatus();
  }

  // Hands one delivery of `envelope` to the subscriber; returns its delivery id.
  std::string deliver(const codeq::Envelope& envelope, int attempt = 1) {
    codeq::DeliveryHandler handler;
    codeq::Delivery d;
    {
      std::lock_guard lock(mu_);
      handler = handler_;
      d.topic = options_.topic;
      d.group = options_.group;
      d.deliveryId = "d-" + std::to_string(++seq_);
      d.attempt = attempt;
      d.envelope = envelope;
    }
    std::string id = d.deliveryId;
    if (handler) handler(std::move(d));
    return id;
  }

  bool subscribed() const {
    std::lock_guard lock(mu_);
    return static_cast<bool>(handler_);
  }
  codeq::SubscribeOptions subscribeOptions() const {
    std::lock_guard lock(mu_);
    return options_;
  }
  void failNextPublishes(int n) {
    std::lock_guard lock(mu_);
    failPublishes_ = n;
  }

  std::vector<Published> published(const std::string& topic) const {
    std::lock_guard lock(mu_);
    std::vector<Published> out;
    for (const auto& p : published_) {
      if (p.topic == topic) out.push_back(p);
    }
    return out;
  }
  std::vector<std::string> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::vector<Nacked> nacked() const {
    std::lock_guard lock(mu_);
    return nacked_;
  }

  // Waits (at most maxWait of real time) until pred() holds under the lock; returns pred().
  // Re-checks every few ms as well, so pred may also look at state outside this queue.
  bool waitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds maxWait = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + maxWait;
    std::unique_lock lock(mu_);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    return true;
  }
  bool waitForPublished(const std::string& topic, size_t n) {
    return waitFor([&] { return countLocked(topic) >= n; });
  }
  // Settled = acked or nacked.
  bool waitForSettled(size_t n) {
    return waitFor([&] { return acked_.size() + nacked_.size() >= n; });
  }

 private:
  class Sub final : public codeq::Subscription {
   public:
    explicit Sub(FakeQueue* q) : q_(q) {}
    ~Sub() override { stop(); }
    void stop() override {
      std::lock_guard lock(q_->mu_);
      q_->handler_ = nullptr;
    }

   private:
    FakeQueue* q_;
  };

  size_t countLocked(const std::string& topic) const {
    size_t n = 0;
    for (const auto& p : published_) n += p.topic == topic ? 1 : 0;
    return n;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  codeq::SubscribeOptions options_;
  codeq::DeliveryHandler handler_;
  std::vector<Published> published_;
  std::vector<std::string> acked_;
  std::vector<Nacked> nacked_;
  int failPublishes_ = 0;
  int64_t seq_ = 0;
};

}  // namespace cs::invoker::testing
