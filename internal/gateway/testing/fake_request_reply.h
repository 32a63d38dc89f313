// A hand-written codeq::RequestReply fake for gateway (and cs-control) tests: call() records
// the InvocationRequest and keeps the callback; the test answers later with reply(), or
// times the waiter out with timeOut(). No threads, no queue.
//
// Threads: any thread; one mutex. Callbacks run on the thread that answers, with no lock held.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/codeq/request_reply.h"

namespace cs::gateway::testing {

class FakeRequestReply final : public codeq::RequestReply {
 public:
  struct Captured {
    std::string tenant;
    nlohmann::json request;  // as published: trigger.source.reply_to set
    int64_t timeoutMs = 0;
    bool answered = false;
  };

  explicit FakeRequestReply(std::string replyTopic = "cs.reply.fake");

  Status start() override;
  // Pending waiters get CS_CODEQ_CORRELATION_TIMEOUT (like the real one).
  void stop() override;
  const std::string& replyTopic() const override { return replyTopic_; }
  void call(const std::string& tenant, nlohmann::json invocationRequest, int64_t timeoutMs,
            codeq::ReplyCallback callback) override;

  // When set, call() fails at once with this error (e.g. CS_CODEQ_PUBLISH_FAILED).
  void failNextCallsWith(std::optional<Error> error);

  size_t callCount() const;
  // Copy of the i-th call (0-based); aborts the test (ADD_FAILURE + empty) when out of range.
  Captured captured(size_t index) const;
  Captured last() const;

  // Answers the i-th call with an InvocationResult body or an error. false if already answered
  // or out of range. A success helper builds {activation_id, request_id, status, ...}.
  bool reply(size_t index, Result<nlohmann::json> result);
  bool replySuccess(size_t index, nlohmann::json resultObject, int64_t durationMs = 5);
  bool replyError(size_t index, std::string status, nlohmann::json errorObject);
  bool timeOut(size_t index);

 private:
  mutable std::mutex mu_;
  std::string replyTopic_;
  std::optional<Error> failWith_;
  std::vector<Captured> calls_;
  std::vector<codeq::ReplyCallback> callbacks_;
};

}  // namespace cs::gateway::testing
