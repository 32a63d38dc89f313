#include "internal/control/testing/fake_codeq.h"

#include <utility>

namespace cs::control::testing {

Status FakeQueue::publish(std::string_view topic, const codeq::Envelope& envelope) {
  std::lock_guard lock(mu_);
  if (fail_) return Error{ErrorCode::CodeqPublishFailed, "fake queue: publish refused"};
  published_.push_back(Published{std::string(topic), envelope});
  return okStatus();
}

Result<std::unique_ptr<codeq::Subscription>> FakeQueue::subscribe(const codeq::SubscribeOptions&,
                                                                  codeq::DeliveryHandler) {
  return Error{ErrorCode::CodeqSubscribeFailed, "fake queue: subscribe not supported"};
}

std::vector<FakeQueue::Published> FakeQueue::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

void FakeQueue::failPublishesForTest(bool fail) {
  std::lock_guard lock(mu_);
  fail_ = fail;
}

void FakeRequestReply::call(const std::string& tenant, nlohmann::json invocationRequest,
                            int64_t timeoutMs, codeq::ReplyCallback callback) {
  if (invocationRequest.is_object() && invocationRequest["trigger"].is_object()) {
    invocationRequest["trigger"]["source"]["reply_to"] = replyTopic_;
  }
  std::lock_guard lock(mu_);
  pending_.push_back(
      Entry{PendingCall{tenant, std::move(invocationRequest), timeoutMs}, std::move(callback)});
}

void FakeRequestReply::stop() {
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mu_);
    entries.swap(pending_);
  }
  for (auto& e : entries) {
    e.callback(Error{ErrorCode::CodeqCorrelationTimeout, "request-reply stopped"});
  }
}

std::vector<FakeRequestReply::PendingCall> FakeRequestReply::pending() const {
  std::lock_guard lock(mu_);
  std::vector<PendingCall> calls;
  for (const auto& e : pending_) calls.push_back(e.call);
  return calls;
}

std::optional<codeq::ReplyCallback> FakeRequestReply::take(const std::string& requestId) {
  std::lock_guard lock(mu_);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->call.request.value("request_id", std::string()) == requestId) {
      codeq::ReplyCallback cb = std::move(it->callback);
      pending_.erase(it);
      return cb;
    }
  }
  return std::nullopt;
}

bool FakeRequestReply::reply(const std::string& requestId, nlohmann::json invocationResult) {
  auto cb = take(requestId);
  if (!cb) return false;
  (*cb)(std::move(invocationResult));
  return true;
}

bool FakeRequestReply::timeOut(const std::string& requestId) {
  auto cb = take(requestId);
  if (!cb) return false;
  (*cb)(Error{ErrorCode::CodeqCorrelationTimeout, "no result within the wait time"});
  return true;
}

}  // namespace cs::control::testing
