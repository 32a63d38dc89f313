#include "internal/codeq/request_reply.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cs::codeq {
namespace {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

// A result that could not be handed to a waiter is retried later instead of lost.
constexpr int64_t kDlqRetryDelayMs = 1000;

class RequestReplyImpl final : public RequestReply {
 public:
  RequestReplyImpl(Queue& queue, RequestReplyOptions options)
      : queue_(queue), options_(std::move(options)) {}
  ~RequestReplyImpl() override { stop(); }

  Status start() override;
  void stop() override;
  const std::string& replyTopic() const override { return options_.replyTopic; }
  void call(const std::string& tenant, json invocationRequest, int64_t timeoutMs,
            ReplyCallback callback) override;

 private:
  enum class State { Idle, Running, Stopping, Stopped };
  struct Waiter {
    ReplyCallback callback;
    SteadyTime deadline;
  };

  void onDelivery(const Delivery& delivery);
  void toDlq(const Delivery& delivery, const std::string& why);
  void timerLoop();
  // Removes and returns the waiter's callback; empty if someone else already took it.
  ReplyCallback takeLocked(const std::string& requestId);

  Queue& queue_;
  const RequestReplyOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::Idle;
  std::unordered_map<std::string, Waiter> waiters_;
  std::set<std::pair<SteadyTime, std::string>> deadlines_;
  std::unique_ptr<Subscription> subscription_;
  std::thread timer_;
};

Status RequestReplyImpl::start() {
  if (options_.replyTopic.empty() || options_.consumer.empty() || options_.invokeTopic.empty() ||
      options_.dlqResultsTopic.empty()) {
    return Error{ErrorCode::ValidationFailed,
                 "request-reply: replyTopic, consumer, invokeTopic and dlqResultsTopic are "
                 "required"};
  }
  {
    std::lock_guard lk(mu_);
    if (state_ == State::Running) return okStatus();
    if (state_ != State::Idle) return Error{ErrorCode::CodeqUnavailable, "request-reply stopped"};
  }
  SubscribeOptions so;
  so.topic = options_.replyTopic;
  so.group = options_.replyTopic;
  so.consumer = options_.consumer;
  so.maxInflight = options_.maxInflight;
  so.ackTimeoutMs = options_.ackTimeoutMs;
  so.dlqTopic = options_.dlqResultsTopic;
  auto sub = queue_.subscribe(so, [this](Delivery d) { onDelivery(d); });
  if (!sub.ok()) return sub.error();
  std::lock_guard lk(mu_);
  subscription_ = std::move(*sub);
  state_ = State::Running;
  timer_ = std::thread([this] { timerLoop(); });
  return okStatus();
}

void RequestReplyImpl::stop() {
  {
    std::lock_guard lk(mu_);
    if (state_ != State::Running) {
      state_ = State::Stopped;
      return;
    }
    state_ = State::Stopping;  // call() refuses from now on; replies still match
  }
  std::unique_ptr<Subscription> sub;
  {
    std::lock_guard lk(mu_);
    sub = std::move(subscription_);
  }
  sub.reset();  // joins the delivery thread (unless called from it)
  std::vector<ReplyCallback> pending;
  {
    std::lock_guard lk(mu_);
    state_ = State::Stopped;
    for (auto& [id, w] : waiters_) pending.push_back(std::move(w.callback));
    waiters_.clear();
    deadlines_.clear();
    cv_.notify_all();
  }
  if (timer_.joinable()) {
    if (timer_.get_id() == std::this_thread::get_id()) {
      std::fprintf(stderr, "codeq: RequestReply::stop() called from a callback\n");
      timer_.detach();
    } else {
      timer_.join();
    }
  }
  for (auto& cb : pending) {
    cb(Error{ErrorCode::CodeqCorrelationTimeout, "request-reply stopped before the result came"});
  }
}

ReplyCallback RequestReplyImpl::takeLocked(const std::string& requestId) {
  auto it = waiters_.find(requestId);
  if (it == waiters_.end()) return {};
  ReplyCallback cb = std::move(it->second.callback);
  deadlines_.erase({it->second.deadline, requestId});
  waiters_.erase(it);
  return cb;
}

void RequestReplyImpl::call(const std::string& tenant, json request, int64_t timeoutMs,
                            ReplyCallback callback) {
  if (!callback) return;
  if (timeoutMs < 1) {
    callback(Error{ErrorCode::ValidationFailed, "request-reply: timeoutMs must be at least 1"});
    return;
  }
  if (!request.is_object() || !request.contains("request_id") ||
      !request["request_id"].is_string()) {
    callback(Error{ErrorCode::ValidationFailed, "invocation request: /request_id: required"});
    return;
  }
  json& trigger = request["trigger"];
  if (!trigger.is_object()) {
    callback(Error{ErrorCode::ValidationFailed, "invocation request: /trigger: must be an object"});
    return;
  }
  json& source = trigger["source"];
  if (source.is_null()) source = json::object();
  if (!source.is_object()) {
    callback(Error{ErrorCode::ValidationFailed,
                   "invocation request: /trigger/source: must be an object"});
    return;
  }
  source["reply_to"] = options_.replyTopic;
  const std::string requestId = request["request_id"].get<std::string>();

  // Queue::publish validates the envelope and its body (every driver); a refusal reaches the
  // callback below, after the waiter is taken back.
  Envelope envelope = makeEnvelope(tenant, std::string(kTypeInvoke), std::move(request));

  {
    std::unique_lock lk(mu_);
    if (state_ != State::Running) {
      lk.unlock();
      callback(Error{ErrorCode::CodeqUnavailable, "request-reply is not running"});
      return;
    }
    if (waiters_.count(requestId) != 0) {
      lk.unlock();
      callback(Error{ErrorCode::Conflict, "request_id " + requestId + " is already waiting"});
      return;
    }
    // Registered before publishing so that even an instant reply finds its waiter.
    const SteadyTime deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    waiters_.emplace(requestId, Waiter{std::move(callback), deadline});
    const bool earliest = deadlines_.empty() || deadline < deadlines_.begin()->first;
    deadlines_.insert({deadline, requestId});
    if (earliest) cv_.notify_all();
  }

  Status published = queue_.publish(options_.invokeTopic, envelope);
  if (!published.ok()) {
    ReplyCallback cb;
    {
      std::lock_guard lk(mu_);
      cb = takeLocked(requestId);
    }
    if (cb) cb(published.error());
  }
}

void RequestReplyImpl::toDlq(const Delivery& delivery, const std::string& why) {
  Status st = queue_.publish(options_.dlqResultsTopic, delivery.envelope);
  if (st.ok()) {
    (void)queue_.ack(delivery);
    return;
  }
  std::fprintf(stderr, "codeq: %s: result %s not moved to %s (%s); retrying\n",
               options_.replyTopic.c_str(), why.c_str(), options_.dlqResultsTopic.c_str(),
               st.error().message.c_str());
  (void)queue_.nack(delivery, kDlqRetryDelayMs);
}

void RequestReplyImpl::onDelivery(const Delivery& delivery) {
  const Envelope& e = delivery.envelope;
  // decode() validated cs.results.v1 bodies, so request_id is a string there.
  if (e.type != kTypeResult || !e.body.is_object() || !e.body.contains("request_id") ||
      !e.body["request_id"].is_string()) {
    toDlq(delivery, "of type " + e.type + " (not a result)");
    return;
  }
  const std::string requestId = e.body["request_id"].get<std::string>();
  ReplyCallback cb;
  {
    std::lock_guard lk(mu_);
    cb = takeLocked(requestId);
  }
  if (!cb) {
    toDlq(delivery, "for request " + requestId + " (nobody waits)");
    return;
  }
  (void)queue_.ack(delivery);
  cb(e.body);
}

void RequestReplyImpl::timerLoop() {
  std::unique_lock lk(mu_);
  while (state_ == State::Running || state_ == State::Stopping) {
    if (deadlines_.empty()) {
      cv_.wait(lk);
      continue;
    }
    const SteadyTime next = deadlines_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lk, next);
      continue;
    }
    std::vector<ReplyCallback> expired;
    const SteadyTime now = std::chrono::steady_clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const std::string requestId = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      expired.push_back(takeLocked(requestId));
    }
    lk.unlock();
    for (auto& cb : expired) {
      if (cb) {
        cb(Error{ErrorCode::CodeqCorrelationTimeout,
                 "no result within the wait time; the activation may still complete"});
      }
    }
    lk.lock();
  }
}

}  // namespace

std::unique_ptr<RequestReply> makeRequestReply(Queue& queue, RequestReplyOptions options) {
  return std::make_unique<RequestReplyImpl>(queue, std::move(options));
}

}  // namespace cs::codeq
