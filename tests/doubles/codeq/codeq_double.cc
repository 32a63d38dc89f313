#include "tests/doubles/codeq/codeq_double.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "internal/crypto/crypto.h"
#include "internal/http/http.h"

namespace cs::doubles {

namespace {

using nlohmann::json;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC3339 with nanoseconds at a fixed offset (codeQ's default server zone is -03:00).
std::string rfc3339Local(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000) - 3 * 3600;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lld-03:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ms % 1000) * 1000000LL + 123);
  return buf;
}

// RFC3339 in UTC without fraction (leaseUntil).
std::string rfc3339Utc(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

http::Response err(int status, const std::string& text) {
  return http::Response::json(status, json{{"error", text}});
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Task {
  std::string id, command, payload, status = "PENDING", workerId, error, tenant, location;
  int priority = 0, attempts = 0, maxAttempts = 5;
  int64_t leaseUntilMs = 0, createdMs = 0, updatedMs = 0, visibleAtMs = 0;
};

struct Caller {
  bool worker = false;
  std::string sub;
};

}  // namespace

struct CodeqDouble::State {
  CodeqDoubleOptions options;
  std::unique_ptr<http::Server> server;
  std::atomic<int> redirectsLeft{0};
  std::atomic<int> redirectsServed{0};

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::string, Task> tasks;
  // (lower(command) + "\n" + tenant) → ready ids per priority.
  std::map<std::string, std::array<std::deque<std::string>, 10>> ready;
  std::map<std::string, std::string> idempotency;
  struct Waiter {
    std::vector<std::string> commands;
    int leaseSeconds;
    std::string sub;
    int64_t deadlineMs;
    http::Responder responder;
  };
  std::vector<Waiter> waiters;
  std::thread poller;

  static std::string queueKey(const std::string& command, const std::string& tenant) {
    return lower(command) + "\n" + tenant;
  }

  json taskJson(const Task& t) const {
    json j = {{"id", t.id},          {"command", t.command},
              {"payload", t.payload}, {"status", t.status},
              {"tenantId", t.tenant}, {"lastKnownLocation", t.location},
              {"maxAttempts", t.maxAttempts},
              {"createdAt", rfc3339Local(t.createdMs)},
              {"updatedAt", rfc3339Local(t.updatedMs)}};
    // omitempty, as in codeQ
    if (t.priority != 0) j["priority"] = t.priority;
    if (t.attempts != 0) j["attempts"] = t.attempts;
    if (!t.workerId.empty()) j["workerId"] = t.workerId;
    if (t.leaseUntilMs != 0) j["leaseUntil"] = rfc3339Utc(t.leaseUntilMs);
    if (!t.error.empty()) j["error"] = t.error;
    return j;
  }

  int backoffSeconds(int attempts) const {
    int64_t d = options.backoffBaseSeconds;
    for (int i = 1; i < attempts && d < options.backoffMaxSeconds; ++i) d *= 2;
    return static_cast<int>(std::min<int64_t>(d, options.backoffMaxSeconds));
  }

  void enqueue(Task& t) {
    t.status = "PENDING";
    t.workerId.clear();
    t.leaseUntilMs = 0;
    t.location = t.visibleAtMs > nowMs() ? "DELAYED_ZSET" : "PENDING_LIST";
    ready[queueKey(t.command, t.tenant)][static_cast<size_t>(t.priority)].push_back(t.id);
  }

  // attempts +1, then DLQ at attempts ≥ maxAttempts, else requeue after `delay` seconds.
  // Returns the applied delay, or -1 for DLQ.
  int retry(Task& t, int delaySeconds, const std::string& reason) {
    ++t.attempts;
    t.updatedMs = nowMs();
    if (t.attempts >= t.maxAttempts) {
      t.status = "FAILED";
      t.error = reason;
      t.workerId.clear();
      t.leaseUntilMs = 0;
      t.location = "DLQ_SET";
      return -1;
    }
    if (delaySeconds <= 0) delaySeconds = backoffSeconds(t.attempts);
    delaySeconds = std::min(delaySeconds, options.backoffMaxSeconds);
    t.visibleAtMs = nowMs() + int64_t{delaySeconds} * 1000;
    enqueue(t);
    return delaySeconds;
  }

  // One claim attempt over `commands` in order, priority 9 → 0. Caller holds mu.
  std::optional<json> tryClaim(const std::vector<std::string>& commands, int leaseSeconds,
                               const std::string& sub) {
    int64_t now = nowMs();
    // Lazy lease-expiry detection on claims, like codeQ's Redis mode.
    for (auto& [id, t] : tasks) {
      if (t.status == "IN_PROGRESS" && t.leaseUntilMs <= now) {
        for (const auto& c : commands) {
          if (lower(c) == lower(t.command) && t.tenant == options.tenant) {
            retry(t, 0, "LEASE_EXPIRED");
            break;
          }
        }
      }
    }
    for (const auto& c : commands) {
      auto it = ready.find(queueKey(c, options.tenant));
      if (it == ready.end()) continue;
      for (int p = 9; p >= 0; --p) {
        auto& q = it->second[static_cast<size_t>(p)];
        for (auto qi = q.begin(); qi != q.end(); ++qi) {
          auto ti = tasks.find(*qi);
          if (ti == tasks.end() || ti->second.status != "PENDING") {
            continue;
          }
          Task& t = ti->second;
          if (t.visibleAtMs > now) continue;  // delayed: not due yet
          q.erase(qi);
          ++t.attempts;
          t.status = "IN_PROGRESS";
          t.workerId = sub;
          t.leaseUntilMs = now + int64_t{leaseSeconds} * 1000;
          t.updatedMs = now;
          t.location = "INPROG_SET";
          return taskJson(t);
        }
      }
    }
    return std::nullopt;
  }

  // Bearer check. On failure fills `resp`.
  std::optional<Caller> auth(const http::Request& req, bool workerRoute, const char* scope,
                             http::Response& resp) const {
    auto h = req.header("authorization");
    if (!h) {
      resp = err(401, "missing Authorization header");
      return std::nullopt;
    }
    std::string v(*h);
    if (v.size() < 8 || lower(v.substr(0, 7)) != "bearer ") {
      resp = err(401, "invalid Authorization format");
      return std::nullopt;
    }
    std::string token = v.substr(7);
    if (workerRoute) {
      if (token != options.workerToken) {
        resp = err(401, "invalid token");
        return std::nullopt;
      }
      if (options.workerEventTypes.empty()) {
        resp = err(401, "missing eventTypes");
        return std::nullopt;
      }
      if (options.workerScopes.empty()) {
        resp = err(401, "missing scope");
        return std::nullopt;
      }
      if (scope != nullptr && std::find(options.workerScopes.begin(), options.workerScopes.end(),
                                        scope) == options.workerScopes.end()) {
        resp = err(403, "missing scope");
        return std::nullopt;
      }
      return Caller{true, options.workerSubject};
    }
    if (token != options.producerToken) {
      resp = err(401, "invalid token");
      return std::nullopt;
    }
    return Caller{false, options.producerSubject};
  }

  // Parses a required non-empty JSON object body.
  static std::optional<json> body(const http::Request& req, http::Response& resp) {
    if (req.body.empty()) {
      resp = err(400, "EOF");
      return std::nullopt;
    }
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      resp = err(400, "invalid character in request body");
      return std::nullopt;
    }
    return j;
  }

  bool redirect(const http::Request& req, http::Responder& r) {
    int left = redirectsLeft.load();
    while (left > 0 && !redirectsLeft.compare_exchange_weak(left, left - 1)) {
    }
    if (left <= 0) return false;
    ++redirectsServed;
    std::string leader = "http://127.0.0.1:" + std::to_string(server->port());
    http::Response resp = http::Response::json(307, json{{"error", "not leader"}, {"leader", leader}});
    resp.header("Location", leader + req.target);
    r.send(std::move(resp));
    return true;
  }

  void routes(http::Router& router);
  void pollLoop();
};

void CodeqDouble::State::routes(http::Router& router) {
  State* s = this;
  router.add("GET", "/metrics", [](http::Request&, http::Responder r) {
    r.send(http::Response::text(200, "# codeq double\ncodeq_up 1\n"));
  });

  router.add("POST", "/v1/codeq/tasks", [s](http::Request& req, http::Responder r) {
    if (s->redirect(req, r)) return;
    http::Response resp;
    if (!s->auth(req, false, nullptr, resp)) return r.send(std::move(resp));
    auto b = body(req, resp);
    if (!b) return r.send(std::move(resp));
    const json& j = *b;
    if (!j.contains("command") || !j["command"].is_string() ||
        j["command"].get<std::string>().empty()) {
      return r.send(err(400, "invalid command"));
    }
    if (!j.contains("payload") || j["payload"].is_null()) {
      return r.send(err(400,
                        "Key: 'CreateTaskRequest.Payload' Error:Field validation for 'Payload' "
                        "failed on the 'required' tag"));
    }
    int64_t delay = 0;
    if (j.contains("delaySeconds")) {
      if (!j["delaySeconds"].is_number_integer() || j["delaySeconds"].get<int64_t>() < 0) {
        return r.send(err(400, "invalid delaySeconds"));
      }
      delay = j["delaySeconds"].get<int64_t>();
    }
    Task t;
    t.command = j["command"].get<std::string>();
    t.payload = j["payload"].dump(-1, ' ', false, json::error_handler_t::replace);
    if (j.contains("priority") && j["priority"].is_number_integer()) {
      t.priority = std::clamp(j["priority"].get<int>(), 0, 9);
    }
    t.maxAttempts = s->options.maxAttemptsDefault;
    if (j.contains("maxAttempts") && j["maxAttempts"].is_number_integer() &&
        j["maxAttempts"].get<int>() > 0) {
      t.maxAttempts = j["maxAttempts"].get<int>();
    }
    std::lock_guard lk(s->mu);
    std::string key;
    if (j.contains("idempotencyKey") && j["idempotencyKey"].is_string()) {
      key = j["idempotencyKey"].get<std::string>();
      auto it = s->idempotency.find(key);
      if (!key.empty() && it != s->idempotency.end() && s->tasks.count(it->second)) {
        return r.send(http::Response::json(202, s->taskJson(s->tasks.at(it->second))));
      }
    }
    t.id = crypto::uuidV4();
    t.tenant = s->options.tenant;
    t.createdMs = t.updatedMs = nowMs();
    t.visibleAtMs = t.createdMs + delay * 1000;
    s->enqueue(t);
    if (!key.empty()) s->idempotency[key] = t.id;
    json out = s->taskJson(t);
    s->tasks[t.id] = std::move(t);
    r.send(http::Response::json(202, out));
  });

  router.add("POST", "/v1/codeq/tasks/claim", [s](http::Request& req, http::Responder r) {
    if (s->redirect(req, r)) return;
    http::Response resp;
    auto caller = s->auth(req, true, "codeq:claim", resp);
    if (!caller) return r.send(std::move(resp));
    auto b = body(req, resp);
    if (!b) return r.send(std::move(resp));
    const json& j = *b;
    const auto& types = s->options.workerEventTypes;
    bool star = std::find(types.begin(), types.end(), "*") != types.end();
    std::vector<std::string> commands;
    if (j.contains("commands") && j["commands"].is_array()) {
      for (const auto& c : j["commands"]) {
        if (!c.is_string()) return r.send(err(400, "invalid commands"));
        commands.push_back(c.get<std::string>());
      }
    }
    if (commands.empty()) {
      commands = star ? std::vector<std::string>{"GENERATE_MASTER", "GENERATE_CREATIVE"} : types;
    }
    if (!star) {
      for (const auto& c : commands) {
        if (std::find(types.begin(), types.end(), c) == types.end()) {
          return r.send(err(403, "event type not allowed"));
        }
      }
    }
    int lease = j.value("leaseSeconds", 0);
    if (lease <= 0) lease = s->options.defaultLeaseSeconds;
    int wait = std::clamp(j.value("waitSeconds", 0), 0, 30);
    std::unique_lock lk(s->mu);
    if (auto t = s->tryClaim(commands, lease, caller->sub)) {
      lk.unlock();
      return r.send(http::Response::json(200, *t));
    }
    if (wait == 0) {
      lk.unlock();
      http::Response none;
      none.status = 204;
      return r.send(std::move(none));
    }
    s->waiters.push_back(Waiter{commands, lease, caller->sub, nowMs() + wait * 1000LL, r});
    s->cv.notify_all();
  });

  auto owned = [s](http::Request& req, http::Responder& r, const char* scope,
                   std::optional<json>* bodyOut) -> std::optional<Caller> {
    if (s->redirect(req, r)) return std::nullopt;
    http::Response resp;
    auto caller = s->auth(req, true, scope, resp);
    if (!caller) {
      r.send(std::move(resp));
      return std::nullopt;
    }
    if (bodyOut != nullptr) {
      *bodyOut = body(req, resp);
      if (!*bodyOut) {
        r.send(std::move(resp));
        return std::nullopt;
      }
    }
    return caller;
  };

  router.add("POST", "/v1/codeq/tasks/{id}/nack", [s, owned](http::Request& req,
                                                              http::Responder r) {
    std::optional<json> b;
    auto caller = owned(req, r, "codeq:nack", &b);
    if (!caller) return;
    int delay = b->value("delaySeconds", 0);
    std::string reason = b->value("reason", std::string("MAX_ATTEMPTS"));
    std::unique_lock lk(s->mu);
    auto it = s->tasks.find(req.param("id"));
    if (it == s->tasks.end()) return r.send(err(404, "not-found"));
    Task& t = it->second;
    if (t.workerId != caller->sub) return r.send(err(403, "not-owner"));
    if (t.status != "IN_PROGRESS") return r.send(err(409, "not-in-progress"));
    int applied = s->retry(t, delay, reason);
    lk.unlock();
    if (applied < 0) {
      return r.send(http::Response::json(200, json{{"status", "dlq"}, {"delaySeconds", 0}}));
    }
    r.send(http::Response::json(200, json{{"status", "requeued"}, {"delaySeconds", applied}}));
  });

  router.add("POST", "/v1/codeq/tasks/{id}/abandon", [s, owned](http::Request& req,
                                                                 http::Responder r) {
    auto caller = owned(req, r, "codeq:abandon", nullptr);
    if (!caller) return;
    std::unique_lock lk(s->mu);
    auto it = s->tasks.find(req.param("id"));
    if (it == s->tasks.end()) return r.send(err(500, "not-found"));
    Task& t = it->second;
    if (t.workerId != caller->sub) return r.send(err(403, "not-owner"));
    if (t.status != "IN_PROGRESS") return r.send(err(500, "not-in-progress"));
    t.visibleAtMs = 0;
    t.updatedMs = nowMs();
    s->enqueue(t);
    r.send(http::Response::json(200, json{{"status", "requeued"}}));
  });

  router.add("POST", "/v1/codeq/tasks/{id}/result", [s, owned](http::Request& req,
                                                                http::Responder r) {
    std::optional<json> b;
    auto caller = owned(req, r, "codeq:result", &b);
    if (!caller) return;
    std::string status = b->value("status", std::string());
    if (status != "COMPLETED" && status != "FAILED") return r.send(err(400, "invalid status"));
    if (status == "COMPLETED" && (!b->contains("result") || !(*b)["result"].is_object())) {
      return r.send(err(400, "result must be an object"));
    }
    std::string error;
    if (status == "FAILED") {
      if (b->contains("error") && (*b)["error"].is_string()) error = (*b)["error"];
      if (error.find_first_not_of(" \t\r\n") == std::string::npos) {
        return r.send(err(400, "error is required for FAILED"));
      }
    }
    std::unique_lock lk(s->mu);
    auto it = s->tasks.find(req.param("id"));
    if (it == s->tasks.end()) return r.send(err(404, "task not found"));
    Task& t = it->second;
    if (t.status != "IN_PROGRESS") return r.send(err(409, "not-in-progress"));
    if (t.workerId != caller->sub) return r.send(err(403, "not-owner"));
    t.status = status;
    t.error = error;
    t.updatedMs = nowMs();
    t.leaseUntilMs = 0;
    t.location = "NONE";
    json rec = {{"taskId", t.id}, {"status", status}, {"completedAt", rfc3339Local(t.updatedMs)}};
    if (status == "COMPLETED") rec["result"] = (*b)["result"];
    if (!error.empty()) rec["error"] = error;
    r.send(http::Response::json(200, rec));
  });

  router.add("GET", "/v1/codeq/tasks/{id}", [s](http::Request& req, http::Responder r) {
    http::Response resp;
    if (!s->auth(req, true, nullptr, resp) && !s->auth(req, false, nullptr, resp)) {
      return r.send(std::move(resp));
    }
    std::lock_guard lk(s->mu);
    auto it = s->tasks.find(req.param("id"));
    if (it == s->tasks.end()) return r.send(err(404, "not found"));
    r.send(http::Response::json(200, s->taskJson(it->second)));
  });
}

void CodeqDouble::State::pollLoop() {
  std::unique_lock lk(mu);
  while (!stopping) {
    cv.wait_for(lk, std::chrono::milliseconds(options.claimPollMs));
    std::vector<std::pair<http::Responder, http::Response>> out;
    int64_t now = nowMs();
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (auto t = tryClaim(it->commands, it->leaseSeconds, it->sub)) {
        out.emplace_back(it->responder, http::Response::json(200, *t));
      } else if (stopping || it->deadlineMs <= now) {
        http::Response none;
        none.status = 204;
        out.emplace_back(it->responder, std::move(none));
      } else {
        ++it;
        continue;
      }
      it = waiters.erase(it);
    }
    lk.unlock();
    for (auto& [r, resp] : out) r.send(std::move(resp));
    lk.lock();
  }
}

CodeqDouble::CodeqDouble(CodeqDoubleOptions options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
}

CodeqDouble::~CodeqDouble() { stop(); }

Status CodeqDouble::start() {
  auto router = std::make_shared<http::Router>();
  state_->routes(*router);
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.workerThreads = 4;
  so.stopTimeoutMs = 2000;
  so.serviceName = "codeq-double";
  state_->server = http::makeServer(so, router);
  if (Status st = state_->server->start(); !st.ok()) return st;
  state_->poller = std::thread([s = state_.get()] { s->pollLoop(); });
  return okStatus();
}

void CodeqDouble::stop() {
  {
    std::lock_guard lk(state_->mu);
    if (state_->stopping) return;
    state_->stopping = true;
    state_->cv.notify_all();
  }
  if (state_->poller.joinable()) state_->poller.join();
  std::vector<State::Waiter> left;
  {
    std::lock_guard lk(state_->mu);
    left.swap(state_->waiters);
  }
  for (auto& w : left) {
    http::Response none;
    none.status = 204;
    w.responder.send(std::move(none));
  }
  if (state_->server) state_->server->stop();
}

uint16_t CodeqDouble::port() const { return state_->server ? state_->server->port() : 0; }

std::string CodeqDouble::baseUrl() const { return "http://127.0.0.1:" + std::to_string(port()); }

void CodeqDouble::redirectNext(int n) { state_->redirectsLeft.store(n); }

int CodeqDouble::redirectsServed() const { return state_->redirectsServed.load(); }

std::optional<nlohmann::json> CodeqDouble::task(const std::string& id) const {
  std::lock_guard lk(state_->mu);
  auto it = state_->tasks.find(id);
  if (it == state_->tasks.end()) return std::nullopt;
  return state_->taskJson(it->second);
}

size_t CodeqDouble::taskCount(const std::string& command) const {
  std::lock_guard lk(state_->mu);
  size_t n = 0;
  for (const auto& [id, t] : state_->tasks) n += t.command == command ? 1 : 0;
  return n;
}

}  // namespace cs::doubles
