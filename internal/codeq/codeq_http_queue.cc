#include "internal/codeq/codeq_http_queue.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace cs::codeq {

namespace {

using nlohmann::json;

constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;

Status checkName(std::string_view what, std::string_view name) {
  return checkQueueName(what, name, kMaxNameLength);
}

// A task id goes into a URL path: accept only what codeQ generates (UUIDs) and similar.
bool validTaskId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
  });
}

std::string dumpSafe(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Bytes as a JSON payload: the value if they parse, else a JSON string.
json payloadFromText(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  return json(std::string(text));
}

struct HttpReply {
  long status = 0;
  std::string body;
  std::string location;
};

// The {"error":"…"} text of a codeQ answer (or the start of the body).
std::string errorText(const HttpReply& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return r.body.substr(0, 200);
}

size_t writeBody(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxResponseBytes) return 0;
  out->append(data, size * n);
  return size * n;
}

size_t writeHeader(char* data, size_t size, size_t n, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  std::string_view line(data, size * n);
  if (line.size() > 9 && (line.substr(0, 9) == "Location:" || line.substr(0, 9) == "location:")) {
    std::string_view v = line.substr(9);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
      v.remove_suffix(1);
    }
    reply->location = std::string(v);
  }
  return size * n;
}

int abortCheck(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort != nullptr && abort->load() ? 1 : 0;
}

// libcurl easy handles kept between calls so connections are reused (keep-alive).
class Transport {
 public:
  Transport() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~Transport() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  // Any HTTP status is ok; transport failures are CS_CODEQ_UNAVAILABLE.
  Result<HttpReply> call(const std::string& method, const std::string& url,
                         const std::string& token, const std::string* body, int64_t timeoutMs,
                         const std::atomic<bool>* abort) {
    CURL* h = take();
    if (h == nullptr) return Error{ErrorCode::CodeqUnavailable, "codeQ: curl init failed"};
    HttpReply reply;
    curl_slist* headers = nullptr;
    std::string auth = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, auth.c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != nullptr) headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeoutMs));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeoutMs, 5000)));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, writeHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
    if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      const std::string empty;
      const std::string& b = body != nullptr ? *body : empty;
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(b.size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, b.c_str());
    }
    if (abort != nullptr) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abortCheck);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, abort);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    give(h);
    if (rc != CURLE_OK) {
      return Error{ErrorCode::CodeqUnavailable,
                   "codeQ unreachable: " + method + " " + url + ": " + curl_easy_strerror(rc)};
    }
    return reply;
  }

 private:
  CURL* take() {
    {
      std::lock_guard lk(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl_easy_reset(h);  // keeps the connection cache
        return h;
      }
    }
    return curl_easy_init();
  }
  void give(CURL* h) {
    std::lock_guard lk(mu_);
    if (idle_.size() < 16) {
      idle_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  std::mutex mu_;
  std::vector<CURL*> idle_;
};

// scheme://host[:port] of a URL.
std::string origin(const std::string& url) {
  size_t p = url.find("://");
  if (p == std::string::npos) return url;
  size_t slash = url.find('/', p + 3);
  return slash == std::string::npos ? url : url.substr(0, slash);
}

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct SubState {
  SubscribeOptions options;
  DeliveryHandler handler;
  int leaseSeconds = 1;
  std::mutex mu;  // inflight
  std::condition_variable cv;
  std::map<std::string, int64_t> inflight;  // task id → local lease end (ms)
  std::atomic<bool> stopped{false};
  std::atomic<bool> abort{false};  // aborts a long-poll (Queue::stop only)
  std::mutex handlerMu;            // held while the handler runs
  std::atomic<std::thread::id> loopThread{};
  std::atomic<bool> released{false};  // group registration dropped
};

}  // namespace

struct CodeqHttpQueue::Core : std::enable_shared_from_this<CodeqHttpQueue::Core> {
  CodeqHttpOptions o;
  Transport transport;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  int loopsRunning = 0;
  std::vector<std::weak_ptr<SubState>> subs;
  std::map<std::string, std::pair<std::string, int>> topicGroups;  // topic → (group, active)
  std::map<std::string, std::weak_ptr<SubState>> owners;           // task id → subscription

  void log(const std::string& line) {
    if (o.log) {
      o.log(line);
    } else {
      std::fprintf(stderr, "codeq-http: %s\n", line.c_str());
    }
  }

  int64_t nowMs() const { return o.clock->nowMs(); }

  // Sends one request, following 307/308 to the Location with the same method and body.
  Result<HttpReply> request(const std::string& method, const std::string& path,
                            const std::string& token, const json* body, int64_t timeoutMs,
                            const std::atomic<bool>* abort = nullptr) {
    std::string url = o.baseUrl + path;
    std::string text = body != nullptr ? dumpSafe(*body) : std::string();
    for (int hop = 0;; ++hop) {
      auto r = transport.call(method, url, token, body != nullptr ? &text : nullptr, timeoutMs,
                              abort);
      if (!r.ok()) return r;
      if ((r->status != 307 && r->status != 308) || r->location.empty() ||
          hop >= o.maxRedirects) {
        return r;
      }
      const std::string& loc = r->location;
      if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) {
        url = loc;
      } else if (!loc.empty() && loc.front() == '/') {
        url = origin(url) + loc;
      } else {
        return r;
      }
    }
  }

  const std::string& workerToken() const {
    return o.workerToken.empty() ? o.producerToken : o.workerToken;
  }

  Status createTask(const std::string& topic, json payload, const std::string& key) {
    json body = {{"command", topic}, {"payload", std::move(payload)}, {"priority", 0},
                 {"maxAttempts", o.maxAttempts}};
    if (!key.empty()) body["idempotencyKey"] = key;
    auto r = request("POST", "/v1/codeq/tasks", o.producerToken, &body, o.requestTimeoutMs);
    if (!r.ok()) return r.error();
    if (r->status >= 200 && r->status < 300) return okStatus();
    return Error{ErrorCode::CodeqPublishFailed, "codeQ create task on " + topic + ": HTTP " +
                                                    std::to_string(r->status) + " " +
                                                    errorText(*r)};
  }

  // Result/nack/abandon of a task; returns the HTTP status (errors only for transport).
  Result<HttpReply> settle(const std::string& id, const std::string& verb, const json& body) {
    return request("POST", "/v1/codeq/tasks/" + id + "/" + verb, workerToken(), &body,
                   o.requestTimeoutMs);
  }

  Result<std::optional<json>> claim(SubState& s) {
    json body = {{"commands", json::array({s.options.topic})},
                 {"leaseSeconds", s.leaseSeconds},
                 {"waitSeconds", o.claimWaitSeconds}};
    auto r = request("POST", "/v1/codeq/tasks/claim", workerToken(), &body,
                     o.requestTimeoutMs + int64_t{o.claimWaitSeconds} * 1000, &s.abort);
    if (!r.ok()) return r.error();
    if (r->status == 204) return std::optional<json>();
    if (r->status != 200) {
      return Error{ErrorCode::CodeqSubscribeFailed, "codeQ claim on " + s.options.topic +
                                                        ": HTTP " + std::to_string(r->status) +
                                                        " " + errorText(*r)};
    }
    json task = json::parse(r->body, nullptr, false);
    if (!task.is_object()) {
      return Error{ErrorCode::CodeqSubscribeFailed, "codeQ claim: response is not a task"};
    }
    return std::optional<json>(std::move(task));
  }

  void release(const std::string& id) {
    std::shared_ptr<SubState> s;
    {
      std::lock_guard lk(mu);
      auto it = owners.find(id);
      if (it == owners.end()) return;
      s = it->second.lock();
      owners.erase(it);
    }
    if (!s) return;
    std::lock_guard lk(s->mu);
    s->inflight.erase(id);
    s->cv.notify_all();
  }

  void abandon(const std::string& id) {
    auto r = settle(id, "abandon", json::object());
    if (!r.ok() || r->status != 200) log("abandon of task " + id + " failed");
  }

  // Moves the payload to the DLQ topic (or drops it) and closes the task FAILED.
  void toDlq(SubState& s, const std::string& id, const std::string& payloadText,
             const std::string& reason) {
    if (!s.options.dlqTopic.empty()) {
      Status st = createTask(s.options.dlqTopic, payloadFromText(payloadText),
                             "cs:dlq:" + s.options.dlqTopic + ":" + id);
      if (!st.ok()) {
        log("task " + id + " could not be moved to " + s.options.dlqTopic + ": " +
            st.error().message + " (retried after its lease)");
        return;
      }
      log("task " + id + " of " + s.options.topic + " moved to " + s.options.dlqTopic + ": " +
          reason);
    } else {
      log("task " + id + " of " + s.options.topic + " dropped (no dlqTopic): " + reason);
    }
    auto r = settle(id, "result", json{{"status", "FAILED"}, {"error", reason}});
    if (!r.ok() || r->status != 200) log("closing task " + id + " as FAILED failed");
  }

  void handleTask(const std::shared_ptr<SubState>& sp, const json& task) {
    SubState& s = *sp;
    std::string id = task.contains("id") && task["id"].is_string() ? task["id"].get<std::string>()
                                                                    : std::string();
    if (!validTaskId(id)) {
      log("claim returned a task without a usable id; ignored (its lease will expire)");
      return;
    }
    std::string payload;
    if (task.contains("payload") && task["payload"].is_string()) {
      payload = task["payload"].get<std::string>();  // JSON text inside a JSON string
    } else if (task.contains("payload")) {
      payload = dumpSafe(task["payload"]);
    }
    int attempts = task.contains("attempts") && task["attempts"].is_number_integer()
                       ? task["attempts"].get<int>()
                       : 0;
    int attempt = std::max(1, (attempts + 1) / 2);
    std::unique_lock hl(s.handlerMu);
    if (s.stopped) {
      hl.unlock();
      abandon(id);
      return;
    }
    auto envelope = decode(payload);
    if (!envelope.ok()) {
      hl.unlock();
      toDlq(s, id, payload, "invalid envelope: " + envelope.error().message);
      return;
    }
    if (attempt > s.options.maxDeliveries) {
      hl.unlock();
      toDlq(s, id, payload, "delivered " + std::to_string(attempt - 1) + " times");
      return;
    }
    int64_t leaseEnd = nowMs() + int64_t{s.leaseSeconds} * 1000;
    if (task.contains("leaseUntil") && task["leaseUntil"].is_string()) {
      auto t = parseRfc3339Ms(task["leaseUntil"].get<std::string>());
      if (t.ok()) leaseEnd = std::min(leaseEnd, *t + 999);
    }
    {
      std::lock_guard lk(mu);
      owners[id] = sp;
    }
    {
      std::lock_guard lk(s.mu);
      s.inflight[id] = leaseEnd;
    }
    Delivery d;
    d.topic = s.options.topic;
    d.group = s.options.group;
    d.deliveryId = id;
    d.attempt = attempt;
    d.envelope = std::move(*envelope);
    try {
      s.handler(std::move(d));
    } catch (const std::exception& e) {
      log("handler of " + s.options.topic + " threw: " + e.what());
    } catch (...) {
      log("handler of " + s.options.topic + " threw");
    }
  }

  void loop(std::shared_ptr<SubState> s) {
    s->loopThread = std::this_thread::get_id();
    int64_t backoffMs = 100;
    bool down = false;
    while (!s->stopped) {
      {
        std::unique_lock lk(s->mu);
        while (!s->stopped) {
          int64_t now = nowMs();
          for (auto it = s->inflight.begin(); it != s->inflight.end();) {
            it = it->second <= now ? s->inflight.erase(it) : std::next(it);
          }
          if (static_cast<int>(s->inflight.size()) < s->options.maxInflight) break;
          s->cv.wait_for(lk, std::chrono::milliseconds(100));
        }
      }
      if (s->stopped) break;
      auto r = claim(*s);
      if (!r.ok()) {
        if (s->stopped) break;
        if (!down) log("claim on " + s->options.topic + " failed: " + r.error().message);
        down = true;
        std::unique_lock lk(s->mu);
        s->cv.wait_for(lk, std::chrono::milliseconds(backoffMs), [&] { return s->stopped.load(); });
        backoffMs = std::min<int64_t>(backoffMs * 2, 2000);
        continue;
      }
      if (down) log("claim on " + s->options.topic + " works again");
      down = false;
      backoffMs = 100;
      if (!r->has_value()) {
        if (o.claimWaitSeconds == 0) {
          std::unique_lock lk(s->mu);
          s->cv.wait_for(lk, std::chrono::milliseconds(100), [&] { return s->stopped.load(); });
        }
        continue;
      }
      handleTask(s, **r);
    }
  }

  void stopSub(const std::shared_ptr<SubState>& s, bool abortPoll) {
    if (abortPoll) s->abort = true;
    s->stopped = true;
    s->cv.notify_all();
    if (!s->released.exchange(true)) {
      std::lock_guard lk(mu);
      auto it = topicGroups.find(s->options.topic);
      if (it != topicGroups.end() && --it->second.second <= 0) topicGroups.erase(it);
    }
    if (s->loopThread.load() != std::this_thread::get_id()) {
      std::lock_guard hl(s->handlerMu);  // the handler call in progress returns first
    }
  }
};

namespace {

class CodeqSubscription final : public Subscription {
 public:
  CodeqSubscription(std::weak_ptr<CodeqHttpQueue::Core> core, std::shared_ptr<SubState> s)
      : core_(std::move(core)), s_(std::move(s)) {}
  ~CodeqSubscription() override { stop(); }
  void stop() override {
    if (auto core = core_.lock()) {
      core->stopSub(s_, false);
    } else {
      s_->stopped = true;
      s_->cv.notify_all();
    }
  }

 private:
  std::weak_ptr<CodeqHttpQueue::Core> core_;
  std::shared_ptr<SubState> s_;
};

}  // namespace

CodeqHttpQueue::CodeqHttpQueue(CodeqHttpOptions options) : core_(std::make_shared<Core>()) {
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  while (!options.baseUrl.empty() && options.baseUrl.back() == '/') options.baseUrl.pop_back();
  core_->o = std::move(options);
}

CodeqHttpQueue::~CodeqHttpQueue() { stop(); }

Status CodeqHttpQueue::start() {
  const auto& o = core_->o;
  if (o.baseUrl.rfind("http://", 0) != 0 && o.baseUrl.rfind("https://", 0) != 0) {
    return Error{ErrorCode::ValidationFailed, "baseUrl: must be an http(s) URL"};
  }
  if (o.producerToken.empty()) {
    return Error{ErrorCode::ValidationFailed, "producerToken: must be set"};
  }
  if (o.claimWaitSeconds < 0 || o.claimWaitSeconds > 30) {
    return Error{ErrorCode::ValidationFailed, "claimWaitSeconds: must be 0..30"};
  }
  if (o.requestTimeoutMs < 1 || o.leaseSeconds < 0 || o.maxAttempts < 1 || o.maxRedirects < 0) {
    return Error{ErrorCode::ValidationFailed,
                 "requestTimeoutMs, maxAttempts: must be ≥ 1; leaseSeconds, maxRedirects: ≥ 0"};
  }
  return ping();
}

void CodeqHttpQueue::stop() {
  std::vector<std::shared_ptr<SubState>> subs;
  {
    std::lock_guard lk(core_->mu);
    core_->stopped = true;
    for (auto& w : core_->subs) {
      if (auto s = w.lock()) subs.push_back(std::move(s));
    }
    core_->subs.clear();
  }
  for (auto& s : subs) core_->stopSub(s, true);
  std::unique_lock lk(core_->mu);
  core_->cv.wait_for(lk,
                     std::chrono::milliseconds(core_->o.requestTimeoutMs +
                                               int64_t{core_->o.claimWaitSeconds} * 1000 + 1000),
                     [&] { return core_->loopsRunning == 0; });
}

Status CodeqHttpQueue::ping() {
  auto r = core_->request("GET", "/metrics", core_->o.producerToken, nullptr,
                          std::min<int64_t>(core_->o.requestTimeoutMs, 5000));
  if (!r.ok()) return r.error();
  if (r->status != 200) {
    return Error{ErrorCode::CodeqUnavailable,
                 "codeQ /metrics answered HTTP " + std::to_string(r->status)};
  }
  return okStatus();
}

Status CodeqHttpQueue::publish(std::string_view topic, const Envelope& envelope) {
  if (Status st = checkName("topic", topic); !st.ok()) return st;
  if (Status st = validate(envelope); !st.ok()) return st;
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) return Error{ErrorCode::CodeqUnavailable, "codeq queue stopped"};
  }
  json payload = json::parse(encode(envelope), nullptr, false);
  if (payload.is_discarded()) {
    return Error{ErrorCode::ValidationFailed, "envelope: does not encode to JSON"};
  }
  std::string t(topic);
  return core_->createTask(t, std::move(payload), "cs:" + t + ":" + envelope.id);
}

Status CodeqHttpQueue::publishRawForTest(std::string_view topic, std::string_view bytes) {
  return core_->createTask(std::string(topic), payloadFromText(bytes), "");
}

Result<std::unique_ptr<Subscription>> CodeqHttpQueue::subscribe(const SubscribeOptions& options,
                                                                DeliveryHandler handler) {
  if (Status st = checkSubscribe(options, handler, kMaxNameLength); !st.ok()) return st.error();

  auto s = std::make_shared<SubState>();
  s->options = options;
  s->handler = std::move(handler);
  int64_t lease = core_->o.leaseSeconds > 0 ? core_->o.leaseSeconds
                                            : (options.ackTimeoutMs + 999) / 1000;
  s->leaseSeconds = static_cast<int>(std::clamp<int64_t>(lease, 1, 86400));
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) return Error{ErrorCode::CodeqUnavailable, "codeq queue stopped"};
    auto it = core_->topicGroups.find(options.topic);
    if (it != core_->topicGroups.end() && it->second.first != options.group) {
      return Error{ErrorCode::ValidationFailed,
                   "group: topic " + options.topic + " is already consumed by group " +
                       it->second.first +
                       " here; codeQ has no consumer groups (use one topic per group)"};
    }
    auto& entry = core_->topicGroups[options.topic];
    entry.first = options.group;
    ++entry.second;
    core_->subs.push_back(s);
    ++core_->loopsRunning;
  }
  std::thread([core = core_, s] {
    core->loop(s);
    std::lock_guard lk(core->mu);
    --core->loopsRunning;
    core->cv.notify_all();
  }).detach();
  return std::unique_ptr<Subscription>(std::make_unique<CodeqSubscription>(core_, s));
}

Status CodeqHttpQueue::ack(const Delivery& delivery) {
  if (!validTaskId(delivery.deliveryId)) {
    return Error{ErrorCode::ValidationFailed, "delivery: deliveryId is not a codeQ task id"};
  }
  core_->release(delivery.deliveryId);
  auto r = core_->settle(delivery.deliveryId, "result",
                         json{{"status", "COMPLETED"}, {"result", {{"ok", true}}}});
  if (!r.ok()) return r.error();
  if (r->status == 200 || r->status == 404 || r->status == 409) return okStatus();
  return Error{ErrorCode::CodeqSubscribeFailed, "codeQ result of task " + delivery.deliveryId +
                                                    ": HTTP " + std::to_string(r->status) + " " +
                                                    errorText(*r)};
}

Status CodeqHttpQueue::nack(const Delivery& delivery, int64_t delayMs) {
  if (delayMs < 0) return Error{ErrorCode::ValidationFailed, "delayMs: must not be negative"};
  if (!validTaskId(delivery.deliveryId)) {
    return Error{ErrorCode::ValidationFailed, "delivery: deliveryId is not a codeQ task id"};
  }
  core_->release(delivery.deliveryId);
  int64_t secs = std::clamp<int64_t>((delayMs + 999) / 1000, 1, 900);
  auto r = core_->settle(delivery.deliveryId, "nack", json{{"delaySeconds", secs}, {"reason", "NACK"}});
  if (!r.ok()) return r.error();
  if (r->status == 200) {
    json j = json::parse(r->body, nullptr, false);
    if (j.is_object() && j.value("status", "") == "dlq") {
      core_->log("codeQ moved task " + delivery.deliveryId + " to its own DLQ (maxAttempts)");
    }
    return okStatus();
  }
  // An older attempt (requeued or re-claimed): ignored. Other 403s (scope, tenant) are errors.
  if ((r->status == 403 && errorText(*r) == "not-owner") || r->status == 404 ||
      r->status == 409) {
    return okStatus();
  }
  return Error{ErrorCode::CodeqSubscribeFailed, "codeQ nack of task " + delivery.deliveryId +
                                                    ": HTTP " + std::to_string(r->status) + " " +
                                                    errorText(*r)};
}

std::unique_ptr<CodeqHttpQueue> makeCodeqHttpQueue(CodeqHttpOptions options) {
  return std::make_unique<CodeqHttpQueue>(std::move(options));
}

Result<int64_t> parseRfc3339Ms(std::string_view t) {
  auto bad = [&] {
    return Error{ErrorCode::ValidationFailed, "timestamp: not RFC3339: " + std::string(t.substr(0, 64))};
  };
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > t.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || t.size() < 20 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' ||
      !num(8, 2, d) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !num(11, 2, h) ||
      t[13] != ':' || !num(14, 2, mi) || t[16] != ':' || !num(17, 2, s)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return bad();
  size_t pos = 19;
  int64_t fracMs = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 3) fracMs = fracMs * 10 + (t[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 3; ++i) fracMs *= 10;
  }
  int64_t offsetMin = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !num(pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offsetMin = (t[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != t.size()) return bad();
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offsetMin * 60;
  return secs * 1000 + fracMs;
}

}  // namespace cs::codeq
