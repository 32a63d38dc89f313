#include "internal/codeq/streams_queue.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cs::codeq {
namespace {

constexpr size_t kMaxNameLength = 256;
constexpr const char* kField = "e";  // the one field of a stream entry: the encoded envelope
constexpr int64_t kBackoffMinMs = 100;
constexpr int64_t kBackoffMaxMs = 2000;
constexpr int kMaxClaimRounds = 10;  // XAUTOCLAIM calls per claim pass (each scans a window)

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Args = std::vector<std::string>;

timeval toTimeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string text(const redisReply* r) {
  if (r == nullptr || r->str == nullptr) return "";
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
      r->type != REDIS_REPLY_ERROR) {
    return "";
  }
  return std::string(r->str, r->len);
}

bool isError(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ERROR; }

bool errorStartsWith(const redisReply* r, std::string_view prefix) {
  return isError(r) && text(r).rfind(prefix, 0) == 0;
}

bool isArray(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ARRAY; }

Status checkName(std::string_view what, std::string_view name) {
  return checkQueueName(what, name, kMaxNameLength);
}

// A stream entry id: <ms>-<seq>.
bool isEntryId(std::string_view id) {
  size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size() || id.size() > 41) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
  }
  return true;
}

// hiredis writes with write(2): a write to a connection the server (or interrupt()) closed
// raises SIGPIPE, which would kill the process. The signal is blocked on this thread for the
// duration of a command and a SIGPIPE it caused is consumed, so the write just fails with EPIPE
// — without touching the process-wide disposition.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    wasPending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!wasPending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool wasPending_ = false;
};

// One hiredis connection. Owned by one thread at a time; interrupt() may be called from any
// thread to break a blocking read (used to stop a reader without waiting out its BLOCK).
class Conn {
 public:
  Conn(const StreamsQueueOptions& o, int64_t replyTimeoutMs)
      : host_(o.host),
        port_(o.port),
        password_(o.password),
        connectTimeoutMs_(o.connectTimeoutMs),
        replyTimeoutMs_(replyTimeoutMs) {}
  ~Conn() { reset(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connected() const { return ctx_ != nullptr; }

  Status connect() {
    if (ctx_ != nullptr) return okStatus();
    {
      std::lock_guard lk(fdMu_);
      if (interrupted_) return Error{ErrorCode::CodeqUnavailable, "connection closed"};
    }
    redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, toTimeval(connectTimeoutMs_));
    if (c == nullptr) return Error{ErrorCode::CodeqUnavailable, "redis: out of memory"};
    if (c->err != 0) {
      std::string msg = c->errstr;
      redisFree(c);
      return Error{ErrorCode::CodeqUnavailable,
                   "redis " + host_ + ":" + std::to_string(port_) + ": " + msg};
    }
    redisSetTimeout(c, toTimeval(replyTimeoutMs_));
    redisEnableKeepAlive(c);
    if (!password_.empty()) {
      SigpipeGuard guard;
      const char* argv[] = {"AUTH", password_.c_str()};
      const size_t lens[] = {4, password_.size()};
      Reply r(static_cast<redisReply*>(redisCommandArgv(c, 2, argv, lens)));
      if (!r || isError(r.get())) {
        std::string msg = r ? text(r.get()) : std::string(c->errstr);
        redisFree(c);
        return Error{ErrorCode::CodeqUnavailable, "redis AUTH failed: " + msg};
      }
    }
    std::lock_guard lk(fdMu_);
    if (interrupted_) {
      redisFree(c);
      return Error{ErrorCode::CodeqUnavailable, "connection closed"};
    }
    ctx_ = c;
    return okStatus();
  }

  // One command. An I/O failure drops the connection: CS_CODEQ_UNAVAILABLE. Error replies are
  // returned as replies.
  Result<Reply> run(const Args& args) {
    if (Status st = connect(); !st.ok()) return st.error();
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    SigpipeGuard guard;
    void* r = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (r == nullptr) return ioError();
    return Reply(static_cast<redisReply*>(r));
  }

  // Several commands in one round trip.
  Result<std::vector<Reply>> pipeline(const std::vector<Args>& commands) {
    if (Status st = connect(); !st.ok()) return st.error();
    SigpipeGuard guard;
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(),
                                 lens.data()) != REDIS_OK) {
        return ioError();
      }
    }
    std::vector<Reply> replies;
    for (size_t i = 0; i < commands.size(); ++i) {
      void* r = nullptr;
      if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr) return ioError();
      replies.emplace_back(static_cast<redisReply*>(r));
    }
    return replies;
  }

  void reset() {
    std::lock_guard lk(fdMu_);
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
  }

  // Breaks a blocking read in progress and refuses to connect again.
  void interrupt() {
    std::lock_guard lk(fdMu_);
    interrupted_ = true;
    if (ctx_ != nullptr) ::shutdown(ctx_->fd, SHUT_RDWR);
  }

 private:
  Error ioError() {
    std::string msg = ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
    reset();
    return Error{ErrorCode::CodeqUnavailable, "redis: " + msg};
  }

  const std::string host_;
  const int port_;
  const std::string password_;
  const int64_t connectTimeoutMs_;
  const int64_t replyTimeoutMs_;
  std::mutex fdMu_;  // guards ctx_ against interrupt(); ctx_ changes only on the owner thread
  bool interrupted_ = false;
  redisContext* ctx_ = nullptr;
};

struct Inflight {
  int attempt = 0;
  int64_t deadlineMs = 0;  // ack timeout: it no longer counts against maxInflight after this
};

// A nack with a delay longer than ackTimeoutMs: the entry's idle time is refreshed until the
// remaining delay fits in one ack timeout.
struct Deferred {
  int64_t dueMs = 0;
  int64_t touchedMs = 0;
};

struct Entry {
  std::string id;
  std::optional<std::string> bytes;  // none: the entry has no envelope field
  int attempt = 1;
};

struct Sub {
  uint64_t id = 0;
  SubscribeOptions options;
  std::string key;
  std::string dlqKey;
  DeliveryHandler handler;
  std::unique_ptr<Conn> conn;  // the reader's own (blocking) connection
  std::thread thread;
  // Guarded by Core::mu.
  bool stopped = false;
  std::map<std::string, Inflight> inflight;
  std::map<std::string, Deferred> deferred;
  // Reader thread only.
  std::string claimCursor = "0-0";
};

enum class Step { Ok, Reconnect, NoGroup, Failed };

struct StepResult {
  Step step = Step::Ok;
  std::string message;
  int handed = 0;  // entries taken from the server (delivered, moved or dropped)
};

StepResult replyFailure(const redisReply* r) {
  if (errorStartsWith(r, "NOGROUP")) return {Step::NoGroup, text(r), 0};
  return {Step::Failed, isError(r) ? text(r) : std::string("unexpected reply"), 0};
}

Status optionsStatus(const StreamsQueueOptions& o) {
  auto bad = [](const std::string& m) { return Error{ErrorCode::ValidationFailed, m}; };
  if (o.host.empty()) return bad("streams: host must be set");
  if (o.port < 1 || o.port > 65535) return bad("streams: port must be 1..65535");
  if (o.connectTimeoutMs < 1) return bad("streams: connectTimeoutMs must be at least 1");
  if (o.commandTimeoutMs < 1) return bad("streams: commandTimeoutMs must be at least 1");
  if (o.maxLen < 1) return bad("streams: maxLen must be at least 1");
  if (o.blockMs < 1) return bad("streams: blockMs must be at least 1");
  if (o.claimIntervalMs < 1) return bad("streams: claimIntervalMs must be at least 1");
  if (o.poolSize < 0) return bad("streams: poolSize must not be negative");
  if (o.keyPrefix.size() > kMaxNameLength) return bad("streams: keyPrefix is too long");
  for (unsigned char c : o.keyPrefix) {
    if (c <= 0x20 || c == 0x7f) return bad("streams: keyPrefix must not contain spaces");
  }
  return okStatus();
}

}  // namespace

struct StreamsQueue::Core : std::enable_shared_from_this<StreamsQueue::Core> {
  explicit Core(StreamsQueueOptions o) : options(std::move(o)), valid(optionsStatus(options)) {
    if (!options.clock) options.clock = std::make_shared<SystemClock>();
  }

  StreamsQueueOptions options;
  const Status valid;

  std::mutex mu;
  std::condition_variable cv;  // acks, nacks, stops
  bool stopping = false;
  uint64_t nextSubId = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Sub>> subs;
  std::vector<std::thread> orphans;  // readers of subscriptions stopped from their own handler

  std::mutex poolMu;
  std::vector<std::unique_ptr<Conn>> pool;  // idle command connections
  bool poolClosed = false;                  // stop() ran: connections are no longer kept

  int64_t now() const { return options.clock->nowMs(); }
  std::string key(std::string_view topic) const { return options.keyPrefix + std::string(topic); }

  void log(const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "codeq(streams): %s\n", line.c_str());
    }
  }

  Args xaddArgs(const std::string& streamKey, std::string_view bytes) const {
    return {"XADD", streamKey, "MAXLEN", "~", std::to_string(options.maxLen), "*", kField,
            std::string(bytes)};
  }

  // A command on a pooled connection; a connection that went stale (server restarted) is
  // replaced and the command retried once.
  Result<Reply> command(const Args& args) {
    std::unique_ptr<Conn> conn;
    {
      std::lock_guard lk(mu);
      if (stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
    }
    {
      std::lock_guard lk(poolMu);
      if (!pool.empty()) {
        conn = std::move(pool.back());
        pool.pop_back();
      }
    }
    if (!conn) conn = std::make_unique<Conn>(options, options.commandTimeoutMs);
    const bool wasConnected = conn->connected();
    Result<Reply> r = conn->run(args);
    if (!r.ok() && wasConnected) r = conn->run(args);
    std::lock_guard lk(poolMu);
    if (!poolClosed && conn->connected() &&
        pool.size() < static_cast<size_t>(options.poolSize)) {
      pool.push_back(std::move(conn));
    }
    return r;
  }

  // The group at the start of the stream's history; an existing group is fine.
  static Status createGroup(Result<Reply> r) {
    if (!r.ok()) return r.error();
    const redisReply* reply = r.value().get();
    if (isError(reply) && !errorStartsWith(reply, "BUSYGROUP")) {
      return Error{ErrorCode::CodeqSubscribeFailed, "XGROUP CREATE: " + text(reply)};
    }
    return okStatus();
  }
  static Args createGroupArgs(const std::string& streamKey, const std::string& group) {
    return {"XGROUP", "CREATE", streamKey, group, "0", "MKSTREAM"};
  }

  // Waits up to ms; false once the subscription is stopped.
  bool sleepUnlessStopped(Sub& s, int64_t ms) {
    std::unique_lock lk(mu);
    return !cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return stopping || s.stopped; });
  }

  void run(const std::shared_ptr<Sub>& s);
  StepResult readNew(Sub& s, int slots, int64_t blockMs);
  StepResult claim(Sub& s, int slots);
  StepResult touchDeferred(Sub& s);
  StepResult handOut(Sub& s, std::vector<Entry> entries);
  StepResult settle(Sub& s, const Entry& e, const std::string& why);
  std::vector<Entry> parseEntries(const redisReply* entries, std::vector<std::string>* gone);
};

std::vector<Entry> StreamsQueue::Core::parseEntries(const redisReply* entries,
                                                    std::vector<std::string>* gone) {
  std::vector<Entry> out;
  if (!isArray(entries)) return out;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (!isArray(e) || e->elements < 1) continue;  // Redis 6.2: nil for a trimmed entry
    Entry entry;
    entry.id = text(e->element[0]);
    if (e->elements >= 2 && isArray(e->element[1])) {
      const redisReply* fields = e->element[1];
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (text(fields->element[f]) == kField) {
          entry.bytes = text(fields->element[f + 1]);
          break;
        }
      }
    } else if (gone != nullptr) {
      gone->push_back(entry.id);  // claimed, but its body was trimmed away
      continue;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

void StreamsQueue::Core::run(const std::shared_ptr<Sub>& s) {
  const SubscribeOptions& o = s->options;
  int64_t backoffMs = 0;
  bool groupReady = false;
  int64_t nextClaimMs = 0;
  std::string lastError;
  auto fail = [&](const std::string& message) {
    if (message != lastError) {
      log("topic " + o.topic + " group " + o.group + " consumer " + o.consumer + ": " + message +
          "; retrying");
    }
    lastError = message;
    backoffMs = std::clamp(backoffMs * 2, kBackoffMinMs, kBackoffMaxMs);
    sleepUnlessStopped(*s, backoffMs);
  };
  auto healthy = [&] {
    if (!lastError.empty()) {
      log("topic " + o.topic + " group " + o.group + " consumer " + o.consumer + ": recovered");
    }
    lastError.clear();
    backoffMs = 0;
  };

  while (true) {
    {
      std::lock_guard lk(mu);
      if (stopping || s->stopped) break;
    }
    if (!s->conn->connected()) {
      if (Status st = s->conn->connect(); !st.ok()) {
        fail(st.error().message);
        continue;
      }
      groupReady = false;  // the server may have restarted empty
    }
    if (!groupReady) {
      Status st = createGroup(s->conn->run(createGroupArgs(s->key, o.group)));
      if (!st.ok()) {
        fail(st.error().message);
        continue;
      }
      groupReady = true;
      healthy();
    }

    StepResult r = touchDeferred(*s);
    int slots = 0;
    if (r.step == Step::Ok) {
      std::unique_lock lk(mu);
      const int64_t nowMs = now();
      int64_t nextDeadline = nowMs + options.claimIntervalMs;
      for (auto it = s->inflight.begin(); it != s->inflight.end();) {
        if (it->second.deadlineMs <= nowMs) {
          it = s->inflight.erase(it);
        } else {
          nextDeadline = std::min(nextDeadline, it->second.deadlineMs);
          ++it;
        }
      }
      slots = o.maxInflight - static_cast<int>(s->inflight.size());
      if (slots <= 0) {
        // At the limit: no reading, no buffering; wait for an ack, a nack or a timeout.
        cv.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(1, nextDeadline - nowMs)));
        continue;
      }
    }
    if (r.step == Step::Ok && now() >= nextClaimMs) {
      nextClaimMs = now() + options.claimIntervalMs;
      r = claim(*s, slots);
      if (r.step == Step::Ok && r.handed > 0) {
        healthy();
        continue;
      }
    }
    if (r.step == Step::Ok) {
      const int64_t block = std::clamp<int64_t>(nextClaimMs - now(), 1, options.blockMs);
      r = readNew(*s, slots, block);
    }
    switch (r.step) {
      case Step::Ok:
        healthy();
        break;
      case Step::NoGroup:
        groupReady = false;
        break;
      case Step::Reconnect:
      case Step::Failed:
        fail(r.message);
        break;
    }
  }
  s->conn->reset();
}

StepResult StreamsQueue::Core::readNew(Sub& s, int slots, int64_t blockMs) {
  const SubscribeOptions& o = s.options;
  Result<Reply> r = s.conn->run({"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT",
                                 std::to_string(slots), "BLOCK", std::to_string(blockMs),
                                 "STREAMS", s.key, ">"});
  if (!r.ok()) return {Step::Reconnect, r.error().message, 0};
  const redisReply* reply = r.value().get();
  if (reply->type == REDIS_REPLY_NIL) return {};
  if (!isArray(reply)) return replyFailure(reply);
  std::vector<Entry> entries;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* stream = reply->element[i];
    if (!isArray(stream) || stream->elements < 2) continue;
    for (Entry& e : parseEntries(stream->element[1], nullptr)) entries.push_back(std::move(e));
  }
  return handOut(s, std::move(entries));
}

StepResult StreamsQueue::Core::claim(Sub& s, int slots) {
  const SubscribeOptions& o = s.options;
  StepResult total;
  std::string cursor = s.claimCursor;
  for (int round = 0; round < kMaxClaimRounds && slots > 0; ++round) {
    Result<Reply> r = s.conn->run({"XAUTOCLAIM", s.key, o.group, o.consumer,
                                   std::to_string(o.ackTimeoutMs), cursor, "COUNT",
                                   std::to_string(slots)});
    if (!r.ok()) return {Step::Reconnect, r.error().message, total.handed};
    const redisReply* reply = r.value().get();
    if (!isArray(reply) || reply->elements < 2) return replyFailure(reply);
    cursor = text(reply->element[0]);
    if (!isEntryId(cursor)) cursor = "0-0";
    std::vector<std::string> gone;
    std::vector<Entry> entries = parseEntries(reply->element[1], &gone);
    if (reply->elements >= 3 && isArray(reply->element[2])) {
      for (size_t i = 0; i < reply->element[2]->elements; ++i) {
        gone.push_back(text(reply->element[2]->element[i]));
      }
    }
    if (!gone.empty()) {
      log("topic " + o.topic + " group " + o.group + ": " + std::to_string(gone.size()) +
          " pending message(s) were trimmed (maxLen) before being acked; lost");
      Args xack = {"XACK", s.key, o.group};
      xack.insert(xack.end(), gone.begin(), gone.end());
      if (Result<Reply> a = s.conn->run(xack); !a.ok()) {
        return {Step::Reconnect, a.error().message, total.handed};
      }
    }
    if (!entries.empty()) {
      // XAUTOCLAIM does not report delivery counters; XPENDING does (after the claim).
      std::vector<Args> queries;
      for (const Entry& e : entries) {
        queries.push_back({"XPENDING", s.key, o.group, e.id, e.id, "1"});
      }
      Result<std::vector<Reply>> counts = s.conn->pipeline(queries);
      if (!counts.ok()) return {Step::Reconnect, counts.error().message, total.handed};
      std::vector<Entry> claimed;
      for (size_t i = 0; i < entries.size(); ++i) {
        const redisReply* p = counts.value()[i].get();
        if (!isArray(p) || p->elements < 1 || !isArray(p->element[0]) ||
            p->element[0]->elements < 4 ||
            p->element[0]->element[3]->type != REDIS_REPLY_INTEGER) {
          continue;  // acked in the meantime
        }
        entries[i].attempt = static_cast<int>(std::min<long long>(
            p->element[0]->element[3]->integer, static_cast<long long>(o.maxDeliveries) + 1));
        claimed.push_back(std::move(entries[i]));
      }
      slots -= static_cast<int>(entries.size());
      StepResult h = handOut(s, std::move(claimed));
      total.handed += h.handed;
      if (h.step != Step::Ok) {
        h.handed = total.handed;
        return h;
      }
    }
    if (cursor == "0-0") break;
  }
  s.claimCursor = cursor;
  return total;
}

StepResult StreamsQueue::Core::touchDeferred(Sub& s) {
  const SubscribeOptions& o = s.options;
  std::vector<std::pair<std::string, int64_t>> touches;  // (id, idle ms to set)
  {
    std::lock_guard lk(mu);
    const int64_t nowMs = now();
    for (auto it = s.deferred.begin(); it != s.deferred.end();) {
      const int64_t remaining = it->second.dueMs - nowMs;
      if (remaining <= o.ackTimeoutMs) {
        touches.emplace_back(it->first, o.ackTimeoutMs - std::max<int64_t>(remaining, 0));
        it = s.deferred.erase(it);
        continue;
      }
      if (nowMs - it->second.touchedMs >= o.ackTimeoutMs / 2) {
        touches.emplace_back(it->first, 0);
        it->second.touchedMs = nowMs;
      }
      ++it;
    }
  }
  for (const auto& [id, idle] : touches) {
    Result<Reply> r = s.conn->run({"XCLAIM", s.key, o.group, o.consumer, "0", id, "IDLE",
                                   std::to_string(idle), "JUSTID"});
    if (!r.ok()) return {Step::Reconnect, r.error().message, 0};
  }
  return {};
}

StepResult StreamsQueue::Core::settle(Sub& s, const Entry& e, const std::string& why) {
  const SubscribeOptions& o = s.options;
  const bool toDlq = !o.dlqTopic.empty() && e.bytes.has_value();
  log("topic " + o.topic + " group " + o.group + ": message " + e.id + " " + why + "; " +
      (toDlq ? "moved to " + o.dlqTopic : std::string("dropped")));
  if (toDlq) {
    Result<Reply> r = s.conn->run(xaddArgs(s.dlqKey, *e.bytes));
    if (!r.ok()) return {Step::Reconnect, r.error().message, 0};
    if (isError(r.value().get())) {
      // Left pending: it comes back after the ack timeout and is tried again.
      return {Step::Failed, "XADD to " + o.dlqTopic + ": " + text(r.value().get()), 0};
    }
  }
  Result<Reply> r = s.conn->run({"XACK", s.key, o.group, e.id});
  if (!r.ok()) return {Step::Reconnect, r.error().message, 0};
  if (isError(r.value().get())) return replyFailure(r.value().get());
  return {};
}

StepResult StreamsQueue::Core::handOut(Sub& s, std::vector<Entry> entries) {
  const SubscribeOptions& o = s.options;
  StepResult result;
  std::vector<std::pair<Entry, Envelope>> ready;
  for (Entry& e : entries) {
    ++result.handed;
    StepResult settled;
    if (!e.bytes) {
      settled = settle(s, e, "has no '" + std::string(kField) + "' field");
    } else if (e.attempt > o.maxDeliveries) {
      settled = settle(s, e,
                       "not acked after " + std::to_string(o.maxDeliveries) + " deliveries");
    } else if (Result<Envelope> env = decode(*e.bytes); !env.ok()) {
      settled = settle(s, e, "is not a valid envelope (" + env.error().message + ")");
    } else {
      ready.emplace_back(std::move(e), std::move(*env));
      continue;
    }
    if (settled.step != Step::Ok) {
      settled.handed = result.handed;
      return settled;
    }
  }
  {
    // Counted before the first handler call, so maxInflight holds while they run.
    std::lock_guard lk(mu);
    if (stopping || s.stopped) return result;
    const int64_t deadline = now() + o.ackTimeoutMs;
    for (const auto& [e, env] : ready) s.inflight[e.id] = Inflight{e.attempt, deadline};
  }
  for (auto& [e, env] : ready) {
    {
      std::lock_guard lk(mu);
      if (stopping || s.stopped) break;  // left pending; another consumer reclaims it
    }
    Delivery d;
    d.topic = o.topic;
    d.group = o.group;
    d.deliveryId = e.id;
    d.attempt = e.attempt;
    d.envelope = std::move(env);
    try {
      s.handler(std::move(d));
    } catch (const std::exception& ex) {
      log("topic " + o.topic + " group " + o.group + ": handler threw: " + ex.what());
    } catch (...) {
      log("topic " + o.topic + " group " + o.group + ": handler threw");
    }
  }
  return result;
}

namespace {

class StreamsSubscription final : public Subscription {
 public:
  StreamsSubscription(std::weak_ptr<StreamsQueue::Core> core, uint64_t id)
      : core_(std::move(core)), id_(id) {}
  ~StreamsSubscription() override { stop(); }

  void stop() override {
    std::shared_ptr<StreamsQueue::Core> core = core_.lock();
    if (!core) return;
    std::shared_ptr<Sub> s;
    std::thread thread;
    {
      std::lock_guard lk(core->mu);
      auto it = core->subs.find(id_);
      if (it == core->subs.end()) return;
      s = it->second;
      s->stopped = true;
      s->inflight.clear();
      s->deferred.clear();
      core->subs.erase(it);
      if (s->thread.get_id() == std::this_thread::get_id()) {
        core->orphans.push_back(std::move(s->thread));  // ends when its handler returns
      } else {
        thread = std::move(s->thread);
      }
      core->cv.notify_all();
    }
    s->conn->interrupt();
    if (thread.joinable()) thread.join();
  }

 private:
  std::weak_ptr<StreamsQueue::Core> core_;
  uint64_t id_;
};

Status checkDelivery(const Delivery& d) {
  if (Status st = checkName("delivery.topic", d.topic); !st.ok()) return st;
  if (Status st = checkName("delivery.group", d.group); !st.ok()) return st;
  if (!isEntryId(d.deliveryId)) {
    return Error{ErrorCode::ValidationFailed, "delivery: deliveryId is not a stream entry id"};
  }
  return okStatus();
}

}  // namespace

StreamsQueue::StreamsQueue(StreamsQueueOptions options)
    : core_(std::make_shared<Core>(std::move(options))) {}

StreamsQueue::~StreamsQueue() { stop(); }

std::string StreamsQueue::streamKey(std::string_view topic) const { return core_->key(topic); }

Status StreamsQueue::start() {
  if (!core_->valid.ok()) return core_->valid;
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
  }
  return ping();
}

void StreamsQueue::stop() {
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(core_->mu);
    core_->stopping = true;
    for (auto& [id, s] : core_->subs) {
      s->stopped = true;
      subs.push_back(s);
      threads.push_back(std::move(s->thread));
    }
    core_->subs.clear();
    for (auto& t : core_->orphans) threads.push_back(std::move(t));
    core_->orphans.clear();
    core_->cv.notify_all();
  }
  for (auto& s : subs) s->conn->interrupt();
  for (auto& t : threads) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // misuse (stop from a handler); the thread keeps Core alive until it ends
    } else {
      t.join();
    }
  }
  std::lock_guard lk(core_->poolMu);
  core_->poolClosed = true;
  core_->pool.clear();
}

Status StreamsQueue::ping() {
  if (!core_->valid.ok()) return core_->valid;
  Result<Reply> r = core_->command({"PING"});
  if (!r.ok()) return r.error();
  if (isError(r.value().get())) {
    return Error{ErrorCode::CodeqUnavailable, "PING: " + text(r.value().get())};
  }
  return okStatus();
}

Status StreamsQueue::publish(std::string_view topic, const Envelope& envelope) {
  if (Status st = checkName("topic", topic); !st.ok()) return st;
  if (Status st = validate(envelope); !st.ok()) return st;
  return publishRawForTest(topic, encode(envelope));
}

Status StreamsQueue::publishRawForTest(std::string_view topic, std::string_view bytes) {
  if (!core_->valid.ok()) return core_->valid;
  if (Status st = checkName("topic", topic); !st.ok()) return st;
  Result<Reply> r = core_->command(core_->xaddArgs(core_->key(topic), bytes));
  if (!r.ok()) return r.error();
  if (isError(r.value().get())) {
    return Error{ErrorCode::CodeqPublishFailed,
                 "XADD " + std::string(topic) + ": " + text(r.value().get())};
  }
  return okStatus();
}

Result<std::unique_ptr<Subscription>> StreamsQueue::subscribe(const SubscribeOptions& options,
                                                              DeliveryHandler handler) {
  if (!core_->valid.ok()) return core_->valid.error();
  if (Status st = checkSubscribe(options, handler, kMaxNameLength); !st.ok()) return st.error();

  const std::string streamKey = core_->key(options.topic);
  Status created = Core::createGroup(core_->command(Core::createGroupArgs(streamKey, options.group)));
  if (!created.ok()) {
    if (created.error().code != ErrorCode::CodeqUnavailable) return created.error();
    {
      std::lock_guard lk(core_->mu);
      if (core_->stopping) return created.error();
    }
    core_->log("topic " + options.topic + " group " + options.group + ": " +
               created.error().message + "; the reader keeps trying");
  }

  auto s = std::make_shared<Sub>();
  s->options = options;
  s->key = streamKey;
  if (!options.dlqTopic.empty()) s->dlqKey = core_->key(options.dlqTopic);
  s->handler = std::move(handler);
  // A blocking read may take blockMs before the reply starts.
  s->conn = std::make_unique<Conn>(core_->options,
                                   core_->options.commandTimeoutMs + core_->options.blockMs);
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopping) return Error{ErrorCode::CodeqUnavailable, "queue is stopped"};
    s->id = core_->nextSubId++;
    core_->subs.emplace(s->id, s);
    s->thread = std::thread([core = core_, s] { core->run(s); });
  }
  return std::unique_ptr<Subscription>(std::make_unique<StreamsSubscription>(core_, s->id));
}

Status StreamsQueue::ack(const Delivery& delivery) {
  if (!core_->valid.ok()) return core_->valid;
  if (Status st = checkDelivery(delivery); !st.ok()) return st;
  Result<Reply> r =
      core_->command({"XACK", core_->key(delivery.topic), delivery.group, delivery.deliveryId});
  {
    std::lock_guard lk(core_->mu);
    for (auto& [id, s] : core_->subs) {
      if (s->options.topic != delivery.topic || s->options.group != delivery.group) continue;
      s->inflight.erase(delivery.deliveryId);
      s->deferred.erase(delivery.deliveryId);
    }
    core_->cv.notify_all();
  }
  if (!r.ok()) return r.error();
  const redisReply* reply = r.value().get();
  if (isError(reply)) return Error{ErrorCode::CodeqUnavailable, "XACK: " + text(reply)};
  return okStatus();
}

Status StreamsQueue::nack(const Delivery& delivery, int64_t delayMs) {
  if (!core_->valid.ok()) return core_->valid;
  if (delayMs < 0) return Error{ErrorCode::ValidationFailed, "delayMs: must not be negative"};
  if (Status st = checkDelivery(delivery); !st.ok()) return st;
  std::string consumer;
  int64_t ackTimeoutMs = 0;
  {
    std::lock_guard lk(core_->mu);
    for (auto& [id, s] : core_->subs) {
      if (s->options.topic != delivery.topic || s->options.group != delivery.group) continue;
      auto it = s->inflight.find(delivery.deliveryId);
      if (it == s->inflight.end() || it->second.attempt != delivery.attempt) continue;
      s->inflight.erase(it);
      consumer = s->options.consumer;
      ackTimeoutMs = s->options.ackTimeoutMs;
      if (delayMs > ackTimeoutMs) {
        const int64_t nowMs = core_->now();
        s->deferred[delivery.deliveryId] = Deferred{nowMs + delayMs, nowMs};
      }
      break;
    }
    core_->cv.notify_all();
  }
  if (consumer.empty()) return okStatus();  // acked, timed out or an older attempt: ignored
  // Claimable by any consumer whose min-idle is ackTimeoutMs exactly delayMs from now; JUSTID
  // leaves the delivery counter alone (the redelivering claim counts the attempt).
  const int64_t idle = delayMs >= ackTimeoutMs ? 0 : ackTimeoutMs - delayMs;
  Result<Reply> r = core_->command({"XCLAIM", core_->key(delivery.topic), delivery.group,
                                    consumer, "0", delivery.deliveryId, "IDLE",
                                    std::to_string(idle), "JUSTID"});
  if (!r.ok()) return r.error();
  if (isError(r.value().get())) {
    return Error{ErrorCode::CodeqUnavailable, "XCLAIM: " + text(r.value().get())};
  }
  return okStatus();
}

std::unique_ptr<StreamsQueue> makeStreamsQueue(StreamsQueueOptions options) {
  return std::make_unique<StreamsQueue>(std::move(options));
}

}  // namespace cs::codeq
