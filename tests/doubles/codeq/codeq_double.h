// CodeqDouble: an in-process protocol double of the codeQ HTTP API (docs/codeq-http-api.md),
// for driver tests. It is NOT codeQ: it implements only the endpoints the `codeq` driver uses —
// create, claim (with long-poll), nack, result, abandon, GET task, GET /metrics — with the
// documented wire shapes: task.payload re-serialised as a JSON string, RFC3339 timestamps
// (createdAt with nanoseconds at -03:00, leaseUntil in UTC without fraction), errors as
// {"error":"…"}, static bearer tokens for producer vs worker routes with scope/eventTypes rules,
// attempts +1 per claim and +1 per nack/lease expiry, lease expiry detected lazily on claims,
// nack/expiry delay by backoff (the deterministic `exponential` policy), DLQ at attempts ≥
// maxAttempts. A switch answers the next write requests with 307 to the same URI (raft mode).
//
// Threads: all methods are thread-safe; the server runs on its own threads plus one long-poll
// thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::doubles {

struct CodeqDoubleOptions {
  std::string producerToken = "producer-token";
  std::string producerSubject = "producer-dev";
  std::string workerToken = "worker-token";
  std::string workerSubject = "worker-dev";
  std::string tenant = "dev-tenant";  // both tokens resolve to it (raw.tid)
  // codeq:claim, codeq:heartbeat, codeq:abandon, codeq:nack, codeq:result, codeq:subscribe.
  std::vector<std::string> workerScopes = {"codeq:claim", "codeq:heartbeat", "codeq:abandon",
                                           "codeq:nack",  "codeq:result",    "codeq:subscribe"};
  std::vector<std::string> workerEventTypes = {"*"};
  int defaultLeaseSeconds = 300;
  int maxAttemptsDefault = 5;
  // exponential backoff: min(max, base * 2^(attempts-1)); base 0 makes retries immediate.
  int backoffBaseSeconds = 5;
  int backoffMaxSeconds = 900;
  int64_t claimPollMs = 250;  // long-poll re-try interval (codeQ: 250 ms)
};

class CodeqDouble {
 public:
  explicit CodeqDouble(CodeqDoubleOptions options = {});
  ~CodeqDouble();  // stop()
  CodeqDouble(const CodeqDouble&) = delete;
  CodeqDouble& operator=(const CodeqDouble&) = delete;

  // Binds 127.0.0.1:0 and serves.
  Status start();
  void stop();
  uint16_t port() const;
  std::string baseUrl() const;  // http://127.0.0.1:<port>

  // The next `n` requests under /v1/codeq answer 307 with Location = this server + the same
  // URI and {"error":"not leader","leader":…}.
  void redirectNext(int n = 1);
  int redirectsServed() const;
  // The task as GET /v1/codeq/tasks/{id} would return it; nullopt if unknown.
  std::optional<nlohmann::json> task(const std::string& id) const;
  // Number of tasks created with this command (any state).
  size_t taskCount(const std::string& command) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cs::doubles
