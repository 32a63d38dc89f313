#include "internal/gateway/testing/fake_request_reply.h"

#include <utility>

#include <gtest/gtest.h>

namespace cs::gateway::testing {

FakeRequestReply::FakeRequestReply(std::string replyTopic) : replyTopic_(std::move(replyTopic)) {}

Status FakeRequestReply::start() { return okStatus(); }

void FakeRequestReply::stop() {
  size_t n = callCount();
  for (size_t i = 0; i < n; ++i) timeOut(i);
}

void FakeRequestReply::call(const std::string& tenant, nlohmann::json invocationRequest,
                            int64_t timeoutMs, codeq::ReplyCallback callback) {
  std::optional<Error> fail;
  {
    std::lock_guard lock(mu_);
    if (invocationRequest.is_object() && invocationRequest.contains("trigger") &&
        invocationRequest["trigger"].is_object() &&
        invocationRequest["trigger"].contains("source") &&
        invocationRequest["trigger"]["source"].is_object()) {
      invocationRequest["trigger"]["source"]["reply_to"] = replyTopic_;
    }
    fail = failWith_;
    calls_.push_back(Captured{tenant, std::move(invocationRequest), timeoutMs, fail.has_value()});
    callbacks_.push_back(fail ? nullptr : std::move(callback));
  }
  if (fail) callback(*fail);
}

void FakeRequestReply::failNextCallsWith(std::optional<Error> error) {
  std::lock_guard lock(mu_);
  failWith_ = std::move(error);
}

size_t FakeRequestReply::callCount() const {
  std::lock_guard lock(mu_);
  return calls_.size();
}

FakeRequestReply::Captured FakeRequestReply::captured(size_t index) const {
  std::lock_guard lock(mu_);
  if (index >= calls_.size()) {
    ADD_FAILURE() << "no call #" << index << " (have " << calls_.size() << ")";
    return {};
  }
  return calls_[index];
}

FakeRequestReply::Captured FakeRequestReply::last() const {
  size_t n = callCount();
  if (n == 0) {
    ADD_FAILURE() << "no call was made";
    return {};
  }
  return captured(n - 1);
}

bool FakeRequestReply::reply(size_t index, Result<nlohmann::json> result) {
  codeq::ReplyCallback cb;
  {
    std::lock_guard lock(mu_);
    if (index >= calls_.size() || calls_[index].answered) return false;
    calls_[index].answered = true;
    cb = std::move(callbacks_[index]);
  }
  if (cb) cb(std::move(result));
  return true;
}

bool FakeRequestReply::replySuccess(size_t index, nlohmann::json resultObject, int64_t durationMs) {
  auto c = captured(index);
  nlohmann::json body = {{"activation_id", c.request.value("activation_id", "")},
                         {"request_id", c.request.value("request_id", "")},
                         {"status", "success"},
                         {"duration_ms", durationMs},
                         {"result", std::move(resultObject)}};
  return reply(index, std::move(body));
}

bool FakeRequestReply::replyError(size_t index, std::string status, nlohmann::json errorObject) {
  auto c = captured(index);
  nlohmann::json body = {{"activation_id", c.request.value("activation_id", "")},
                         {"request_id", c.request.value("request_id", "")},
                         {"status", std::move(status)},
                         {"duration_ms", 5},
                         {"error", std::move(errorObject)}};
  return reply(index, std::move(body));
}

bool FakeRequestReply::timeOut(size_t index) {
  return reply(index,
               Error{ErrorCode::CodeqCorrelationTimeout, "no result within the wait timeout"});
}

}  // namespace cs::gateway::testing
