#include "internal/kv/kvrocks_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <unordered_set>
#include <utility>

#include <hiredis/hiredis.h>

#include "internal/crypto/crypto.h"
#include "internal/kv/store_support.h"

#define KV_TRY(expr)                                \
  do {                                              \
    auto kvTryResult_ = (expr);                     \
    if (!kvTryResult_) return kvTryResult_.error(); \
  } while (0)

namespace cs::kv {

// A server-side Lua script: its source and, once SCRIPT LOAD answered, its SHA-1.
struct KvrocksScript {
  const char* name;
  const char* source;
  std::string sha;  // guarded by KvrocksStore::scriptMu_
};

namespace {

using ReplyPtr = std::shared_ptr<redisReply>;

constexpr int kMinBackoffMs = 25;
constexpr int kMaxBackoffMs = 1000;
constexpr int kMaxScanCallsPerPage = 32;
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

// Script result codes (first element of the array a script returns).
constexpr long long kOk = 0;
constexpr long long kRefused = 1;       // not found / conflict / not the holder
constexpr long long kDraftMissing = 2;  // publish only
constexpr long long kCorrupt = 3;       // stored record unreadable
constexpr long long kReadError = 5;     // a read inside the script failed (e.g. WRONGTYPE)
constexpr long long kWriteError = 6;    // a write inside the script failed

// Returns {code, version} | {1} function missing or deleted | {2} draft missing | {3, why} |
// {5, err} | {6, err}. Everything is checked before the first write, so a refusal or error
// writes nothing; once writing starts only SETs and a DEL follow, which do not fail.
// KEYS: 1 function meta, 2 version_seq, 3 draft, 4 version key prefix
//       ("cs:fn:{t}:{ns}:{fn}:ver:", the script appends "{v}:meta" / "{v}:bundle"), [5 alias]
// ARGV: 1 bundle, 2/3 version meta JSON before/after the number, [4/5 alias JSON likewise]
constexpr const char* kPublishLua = R"lua(
local fn = redis.pcall('GET', KEYS[1])
if type(fn) == 'table' and fn.err then return {5, fn.err} end
if not fn then return {1} end
local ok, rec = pcall(cjson.decode, fn)
if not ok or type(rec) ~= 'table' then return {3, 'record is not a JSON object'} end
if rec.schema ~= 'cs.function.v1' then return {3, 'schema is not cs.function.v1'} end
for _, f in ipairs({'tenant', 'namespace', 'name', 'runtime', 'entry', 'handler'}) do
  if type(rec[f]) ~= 'string' then return {3, f .. ' is not a string'} end
end
local function isCount(x) return type(x) == 'number' and x >= 0 and x == math.floor(x) end
if not isCount(rec.created_at_ms) then return {3, 'created_at_ms is not an integer'} end
local deleted = rec.deleted_at_ms
if deleted ~= nil and deleted ~= cjson.null then
  if not isCount(deleted) then return {3, 'deleted_at_ms is not an integer'} end
  return {1}
end
if redis.call('EXISTS', KEYS[3]) == 0 then return {2} end
local v = redis.pcall('INCRBY', KEYS[2], 1)
if type(v) == 'table' and v.err then return {6, v.err} end
local vs = string.format('%d', v)
redis.call('SET', KEYS[4] .. vs .. ':meta', ARGV[2] .. vs .. ARGV[3])
redis.call('SET', KEYS[4] .. vs .. ':bundle', ARGV[1])
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[4] .. vs .. ARGV[5]) end
redis.call('DEL', KEYS[3])
return {0, v}
)lua";

// Returns {0} applied | {1[, current]} conflict | {3} stored record unreadable | {5, err}.
// KEYS: 1 activation record. ARGV: 1 new record, 2 TTL ms or "", 3.. expected statuses
// ("" = no record). No transition leaves success|error|timeout.
constexpr const char* kCasLua = R"lua(
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' and cur.err then return {5, cur.err} end
local status = ''
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if not ok or type(rec) ~= 'table' or type(rec.status) ~= 'string' or rec.status == '' then
    return {3}
  end
  status = rec.status
  if status == 'success' or status == 'error' or status == 'timeout' then return {1, cur} end
end
for i = 3, #ARGV do
  if ARGV[i] == status then
    if ARGV[2] == '' then
      redis.call('SET', KEYS[1], ARGV[1])
    else
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    end
    return {0}
  end
end
if cur then return {1, cur} end
return {1}
)lua";

// Leases. KEYS: 1 lease key. ARGV: 1 owner token, 2 TTL ms. {0} done | {1} refused | {5, err}.
constexpr const char* kLeaseAcquireLua = R"lua(
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' and cur.err then return {5, cur.err} end
if cur and cur ~= ARGV[1] then return {1} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {0}
)lua";

constexpr const char* kLeaseRenewLua = R"lua(
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' and cur.err then return {5, cur.err} end
if not cur or cur ~= ARGV[1] then return {1} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {0}
)lua";

constexpr const char* kLeaseReleaseLua = R"lua(
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' and cur.err then return {5, cur.err} end
if not cur or cur ~= ARGV[1] then return {1} end
redis.call('DEL', KEYS[1])
return {0}
)lua";

timeval toTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string replyText(const redisReply* r) {
  if (!r || !r->str) return {};
  return std::string(r->str, r->len);
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// Error replies that mean "the server cannot serve now" rather than "this command failed".
bool isUnavailableReply(std::string_view msg) {
  for (std::string_view p :
       {"LOADING", "BUSY ", "NOAUTH", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOPERM"}) {
    if (startsWith(msg, p)) return true;
  }
  return false;
}

Error errorReply(const redisReply* r, ErrorCode code, std::string_view what) {
  std::string msg = replyText(r);
  if (isUnavailableReply(msg)) code = ErrorCode::KvrocksUnavailable;
  return Error{code, "kvrocks " + std::string(what) + ": " + msg};
}

Error unexpected(ErrorCode code, std::string_view what) {
  return Error{code, "kvrocks " + std::string(what) + ": unexpected reply type"};
}

Result<int64_t> asInteger(const ReplyPtr& r, ErrorCode code, std::string_view what) {
  if (r->type != REDIS_REPLY_INTEGER) return unexpected(code, what);
  return static_cast<int64_t>(r->integer);
}

// Redis scores are printed with %.17g, which round-trips every double.
std::string formatScore(double score) {
  if (std::isinf(score)) return score > 0 ? "+inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", score);
  return buf;
}

std::optional<double> parseScore(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_STRING) return std::nullopt;
  std::string s = replyText(r);
  if (s == "inf" || s == "+inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s.empty()) return std::nullopt;
  return d;
}

// SCAN MATCH pattern matching keys that start with `prefix` literally.
std::string prefixPattern(std::string_view prefix) {
  std::string out;
  out.reserve(prefix.size() + 2);
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('*');
  return out;
}

// A JSON record with the version number left out: head + v + tail. Built by encoding with two
// sentinel numbers of the same width and cutting where they differ, so the bytes are exactly
// what store_support (and hence the embedded driver) produces for any v.
struct VersionTemplate {
  std::string head;
  std::string tail;
};

Result<VersionTemplate> versionTemplate(const std::function<std::string(int64_t)>& build) {
  constexpr int64_t kA = 1111111111111111111;
  constexpr int64_t kB = 2222222222222222222;
  const std::string a = build(kA);
  const std::string b = build(kB);
  const std::string da = std::to_string(kA);
  const std::string db = std::to_string(kB);
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  VersionTemplate t;
  if (a.compare(i, da.size(), da) == 0) {
    t.head = a.substr(0, i);
    t.tail = a.substr(i + da.size());
  }
  if (t.head + db + t.tail != b || t.head + da + t.tail != a) {
    return Error{ErrorCode::Internal, "cannot build the version record template"};
  }
  return t;
}

struct ScanCursor {
  std::string serverCursor = "0";
  std::vector<std::string> pending;
};

std::string encodeCursor(const ScanCursor& c) {
  std::string out = crypto::base64Encode(c.serverCursor);
  for (const auto& k : c.pending) {
    out.push_back(',');
    out += crypto::base64Encode(k);
  }
  return out;
}

std::optional<ScanCursor> decodeCursor(std::string_view text) {
  ScanCursor c;
  c.serverCursor.clear();
  bool first = true;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view part =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto bytes = crypto::base64Decode(part);
    if (!bytes) return std::nullopt;
    if (first) {
      if (bytes->empty()) return std::nullopt;
      c.serverCursor = std::move(*bytes);
      first = false;
    } else {
      c.pending.push_back(std::move(*bytes));
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return c;
}

}  // namespace

// A borrowed connection; gives itself back to the pool (or closes itself if broken).
class KvrocksStore::Conn {
 public:
  Conn(KvrocksStore* store, redisContext* ctx, uint64_t generation, bool fresh)
      : store_(store), ctx_(ctx), generation_(generation), fresh_(fresh) {}
  Conn(Conn&& o) noexcept
      : store_(std::exchange(o.store_, nullptr)),
        ctx_(std::exchange(o.ctx_, nullptr)),
        generation_(o.generation_),
        fresh_(o.fresh_),
        broken_(o.broken_) {}
  Conn& operator=(Conn&&) = delete;
  Conn(const Conn&) = delete;
  ~Conn() {
    if (store_) store_->giveBack(ctx_, generation_, broken_);
  }

  redisContext* ctx() const { return ctx_; }
  bool fresh() const { return fresh_; }
  void markBroken() { broken_ = true; }

 private:
  KvrocksStore* store_;
  redisContext* ctx_;
  uint64_t generation_;
  bool fresh_;
  bool broken_ = false;
};

Result<std::unique_ptr<KvrocksStore>> KvrocksStore::open(const KvrocksOptions& options) {
  Endpoint ep;
  if (!options.addr.empty()) {
    if (startsWith(options.addr, "unix:")) {
      ep.unixPath = options.addr.substr(5);
      if (ep.unixPath.empty()) {
        return Error{ErrorCode::ValidationFailed, "kvrocks addr: unix socket path is empty"};
      }
    } else {
      auto colon = options.addr.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == options.addr.size()) {
        return Error{ErrorCode::ValidationFailed,
                     "kvrocks addr must be host:port or unix:/path, got \"" + options.addr + "\""};
      }
      ep.host = options.addr.substr(0, colon);
      if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') {
        ep.host = ep.host.substr(1, ep.host.size() - 2);
      }
      std::string_view portText = std::string_view(options.addr).substr(colon + 1);
      int port = 0;
      auto [ptr, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
      if (ec != std::errc() || ptr != portText.data() + portText.size()) {
        return Error{ErrorCode::ValidationFailed, "kvrocks addr: port is not a number"};
      }
      ep.port = port;
    }
  } else {
    ep.host = options.host;
    ep.port = options.port;
  }
  if (ep.unixPath.empty()) {
    if (ep.host.empty()) return Error{ErrorCode::ValidationFailed, "kvrocks host is empty"};
    if (ep.port < 1 || ep.port > 65535) {
      return Error{ErrorCode::ValidationFailed, "kvrocks port must be 1..65535"};
    }
    ep.display = ep.host + ":" + std::to_string(ep.port);
  } else {
    ep.display = "unix:" + ep.unixPath;
  }
  if (options.connectTimeoutMs < 1 || options.commandTimeoutMs < 1) {
    return Error{ErrorCode::ValidationFailed, "kvrocks timeouts must be >= 1 ms"};
  }
  if (options.poolSize < 1 || options.poolSize > 1024) {
    return Error{ErrorCode::ValidationFailed, "kvrocks pool size must be 1..1024"};
  }
  return std::unique_ptr<KvrocksStore>(new KvrocksStore(std::move(ep), options));
}

KvrocksStore::KvrocksStore(Endpoint endpoint, const KvrocksOptions& options)
    : endpoint_(std::move(endpoint)),
      password_(options.password),
      connectTimeoutMs_(options.connectTimeoutMs),
      commandTimeoutMs_(options.commandTimeoutMs),
      poolSize_(static_cast<size_t>(options.poolSize)),
      publishScript_(new KvrocksScript{"publish", kPublishLua, {}}),
      casScript_(new KvrocksScript{"cas", kCasLua, {}}),
      leaseAcquireScript_(new KvrocksScript{"lease acquire", kLeaseAcquireLua, {}}),
      leaseRenewScript_(new KvrocksScript{"lease renew", kLeaseRenewLua, {}}),
      leaseReleaseScript_(new KvrocksScript{"lease release", kLeaseReleaseLua, {}}) {}

KvrocksStore::~KvrocksStore() { stop(); }

Status KvrocksStore::start() { return okStatus(); }

void KvrocksStore::stop() {
  std::vector<redisContext*> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
    open_ -= idle.size();
  }
  for (auto* c : idle) redisFree(c);
  cv_.notify_all();
}

// --- connection pool --------------------------------------------------------------------------

Result<redisContext*> KvrocksStore::connect() {
  timeval ctv = toTimeval(connectTimeoutMs_);
  redisContext* c = endpoint_.unixPath.empty()
                        ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ctv)
                        : redisConnectUnixWithTimeout(endpoint_.unixPath.c_str(), ctv);
  auto fail = [&](std::string why) -> Error {
    if (c) redisFree(c);
    return Error{ErrorCode::KvrocksUnavailable,
                 "kvrocks unavailable at " + endpoint_.display + ": " + why};
  };
  if (!c) return fail("cannot allocate a connection");
  if (c->err) return fail(c->errstr);
  if (redisSetTimeout(c, toTimeval(commandTimeoutMs_)) != REDIS_OK) {
    return fail("cannot set the command timeout");
  }
  if (!password_.empty()) {
    const char* argv[] = {"AUTH", password_.data()};
    size_t lens[] = {4, password_.size()};
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, 2, argv, lens));
    if (!r) return fail(std::string("AUTH: ") + c->errstr);
    std::string text = replyText(r);
    bool ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!ok) return fail("AUTH refused: " + text);
  }
  return c;
}

Result<KvrocksStore::Conn> KvrocksStore::borrow() {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(connectTimeoutMs_ + commandTimeoutMs_);
  std::unique_lock lock(mu_);
  while (true) {
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return Conn(this, c, generation_, false);
    }
    if (open_ < poolSize_) {
      auto now = Clock::now();
      if (now < nextConnectAt_) {
        return Error{ErrorCode::KvrocksUnavailable,
                     lastConnectError_ + " (reconnecting with backoff)"};
      }
      ++open_;
      uint64_t generation = generation_;
      lock.unlock();
      auto c = connect();
      lock.lock();
      if (!c) {
        --open_;
        backoffMs_ = backoffMs_ == 0 ? kMinBackoffMs : std::min(backoffMs_ * 2, kMaxBackoffMs);
        nextConnectAt_ = Clock::now() + std::chrono::milliseconds(backoffMs_);
        lastConnectError_ = c.error().message;
        cv_.notify_one();
        return c.error();
      }
      backoffMs_ = 0;
      nextConnectAt_ = {};
      return Conn(this, *c, generation, true);
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= poolSize_) {
      return Error{ErrorCode::KvrocksUnavailable,
                   "kvrocks connection pool exhausted (" + std::to_string(poolSize_) + ")"};
    }
  }
}

void KvrocksStore::giveBack(redisContext* ctx, uint64_t generation, bool broken) {
  std::vector<redisContext*> toFree;
  {
    std::lock_guard lock(mu_);
    if (broken) {
      // A server restart breaks every connection: drop the idle ones too, so later calls do
      // not each discover it the hard way.
      ++generation_;
      toFree.swap(idle_);
      open_ -= toFree.size();
    }
    if (broken || generation != generation_) {
      toFree.push_back(ctx);
      --open_;
    } else {
      idle_.push_back(ctx);
    }
  }
  for (auto* c : toFree) redisFree(c);
  cv_.notify_one();
}

// --- commands ---------------------------------------------------------------------------------

Result<ReplyPtr> KvrocksStore::raw(Conn& conn, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(conn.ctx(), static_cast<int>(args.size()), argv.data(), lens.data()));
  if (!r) {
    conn.markBroken();
    std::string why = conn.ctx()->errstr;
    if (conn.ctx()->err == REDIS_ERR_IO &&
        (why.find("temporarily unavailable") != std::string::npos ||
         why.find("timed out") != std::string::npos)) {
      why = "timed out after " + std::to_string(commandTimeoutMs_) + " ms";
    }
    return Error{ErrorCode::KvrocksUnavailable,
                 "kvrocks unavailable at " + endpoint_.display + ": " + args[0] + ": " + why};
  }
  return ReplyPtr(r, freeReplyObject);
}

Result<ReplyPtr> KvrocksStore::command(const std::vector<std::string>& args, ErrorCode code,
                                       bool readOnly) {
  for (int attempt = 0;; ++attempt) {
    auto conn = borrow();
    if (!conn) return conn.error();
    bool reused = !conn->fresh();
    auto r = raw(*conn, args);
    if (!r) {
      if (readOnly && reused && attempt == 0) continue;
      return r.error();
    }
    if ((*r)->type == REDIS_REPLY_ERROR) return errorReply(r->get(), code, args[0]);
    return r;
  }
}

Result<std::string> KvrocksStore::loadScript(Conn& conn, KvrocksScript& script) {
  auto r = raw(conn, {"SCRIPT", "LOAD", script.source});
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) {
    return errorReply(r->get(), ErrorCode::KvrocksWriteFailed,
                      std::string("SCRIPT LOAD ") + script.name);
  }
  if ((*r)->type != REDIS_REPLY_STRING) {
    return unexpected(ErrorCode::KvrocksWriteFailed, "SCRIPT LOAD");
  }
  std::string sha = replyText(r->get());
  std::lock_guard lock(scriptMu_);
  script.sha = sha;
  return sha;
}

Result<ReplyPtr> KvrocksStore::evalScript(KvrocksScript& script,
                                          const std::vector<std::string>& keys,
                                          const std::vector<std::string>& args, ErrorCode code) {
  auto conn = borrow();
  if (!conn) return conn.error();
  std::string sha;
  {
    std::lock_guard lock(scriptMu_);
    sha = script.sha;
  }
  if (sha.empty()) {
    auto loaded = loadScript(*conn, script);
    if (!loaded) return loaded.error();
    sha = *loaded;
  }
  std::vector<std::string> cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(sha);
  cmd.push_back(std::to_string(keys.size()));
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  auto r = raw(*conn, cmd);
  if (r && (*r)->type == REDIS_REPLY_ERROR && startsWith(replyText(r->get()), "NOSCRIPT")) {
    // The server lost its script cache (restart, SCRIPT FLUSH): nothing ran; load and retry.
    auto loaded = loadScript(*conn, script);
    if (!loaded) return loaded.error();
    cmd[1] = *loaded;
    r = raw(*conn, cmd);
  }
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_ERROR) {
    return errorReply(r->get(), code, std::string("script ") + script.name);
  }
  if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements < 1 ||
      (*r)->element[0]->type != REDIS_REPLY_INTEGER) {
    return unexpected(code, std::string("script ") + script.name);
  }
  return r;
}

// --- Store ------------------------------------------------------------------------------------

Status KvrocksStore::ping() {
  auto r = command({"PING"}, ErrorCode::KvrocksUnavailable, true);
  if (!r) return r.error();
  if ((*r)->type != REDIS_REPLY_STATUS) return unexpected(ErrorCode::KvrocksUnavailable, "PING");
  return okStatus();
}

Result<std::optional<std::string>> KvrocksStore::get(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"GET", std::string(key)}, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_NIL) return std::optional<std::string>{};
  if ((*r)->type != REDIS_REPLY_STRING) return unexpected(ErrorCode::KvrocksReadFailed, "GET");
  return std::optional<std::string>(replyText(r->get()));
}

Status KvrocksStore::set(std::string_view key, std::string_view value,
                         std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  std::vector<std::string> cmd{"SET", std::string(key), std::string(value)};
  if (ttlMs) {
    cmd.push_back("PX");
    cmd.push_back(std::to_string(*ttlMs));
  }
  auto r = command(cmd, ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  if ((*r)->type != REDIS_REPLY_STATUS) return unexpected(ErrorCode::KvrocksWriteFailed, "SET");
  return okStatus();
}

Result<bool> KvrocksStore::setIfAbsent(std::string_view key, std::string_view value,
                                       std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  std::vector<std::string> cmd{"SET", std::string(key), std::string(value), "NX"};
  if (ttlMs) {
    cmd.push_back("PX");
    cmd.push_back(std::to_string(*ttlMs));
  }
  auto r = command(cmd, ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  if ((*r)->type == REDIS_REPLY_NIL) return false;
  if ((*r)->type != REDIS_REPLY_STATUS) return unexpected(ErrorCode::KvrocksWriteFailed, "SET NX");
  return true;
}

Result<int64_t> KvrocksStore::incrBy(std::string_view key, int64_t delta) {
  KV_TRY(support::checkKey(key));
  auto r = command({"INCRBY", std::string(key), std::to_string(delta)},
                   ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  return asInteger(*r, ErrorCode::KvrocksWriteFailed, "INCRBY");
}

Result<bool> KvrocksStore::del(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"DEL", std::string(key)}, ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "DEL");
  if (!n) return n.error();
  return *n > 0;
}

Result<bool> KvrocksStore::exists(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"EXISTS", std::string(key)}, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksReadFailed, "EXISTS");
  if (!n) return n.error();
  return *n > 0;
}

Result<bool> KvrocksStore::expire(std::string_view key, int64_t ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  auto r = command({"PEXPIRE", std::string(key), std::to_string(ttlMs)},
                   ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "PEXPIRE");
  if (!n) return n.error();
  return *n == 1;
}

Result<int64_t> KvrocksStore::ttl(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"PTTL", std::string(key)}, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  return asInteger(*r, ErrorCode::KvrocksReadFailed, "PTTL");
}

Result<ScanPage> KvrocksStore::scanPrefix(std::string_view prefix, std::string_view cursor,
                                          size_t limit) {
  KV_TRY(support::checkScanLimit(limit));
  ScanCursor state;
  bool resumed = !cursor.empty();
  if (resumed) {
    auto decoded = decodeCursor(cursor);
    if (!decoded) return Error{ErrorCode::ValidationFailed, "invalid scan cursor"};
    state = std::move(*decoded);
  }
  ScanPage page;
  std::unordered_set<std::string> seen;
  std::vector<std::string> pending;
  auto take = [&](std::string key) {
    if (!startsWith(key, prefix) || !seen.insert(key).second) return;
    if (page.keys.size() < limit) {
      page.keys.push_back(std::move(key));
    } else {
      pending.push_back(std::move(key));
    }
  };
  for (auto& k : state.pending) take(std::move(k));
  bool done = resumed && state.serverCursor == "0";
  const std::string pattern = prefixPattern(prefix);
  for (int calls = 0; !done && page.keys.size() < limit && calls < kMaxScanCallsPerPage; ++calls) {
    size_t want = std::clamp<size_t>(limit - page.keys.size(), 64, 1000);
    auto r = command({"SCAN", state.serverCursor, "MATCH", pattern, "COUNT", std::to_string(want)},
                     ErrorCode::KvrocksReadFailed, true);
    if (!r) return r.error();
    const redisReply* rep = r->get();
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
      return unexpected(ErrorCode::KvrocksReadFailed, "SCAN");
    }
    state.serverCursor = replyText(rep->element[0]);
    for (size_t i = 0; i < rep->element[1]->elements; ++i) {
      const redisReply* k = rep->element[1]->element[i];
      if (k->type == REDIS_REPLY_STRING) take(replyText(k));
    }
    done = state.serverCursor == "0";
  }
  if (!done || !pending.empty()) {
    state.pending = std::move(pending);
    page.cursor = encodeCursor(state);
  }
  return page;
}

Result<bool> KvrocksStore::sadd(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  auto r = command({"SADD", std::string(key), std::string(member)}, ErrorCode::KvrocksWriteFailed,
                   false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "SADD");
  if (!n) return n.error();
  return *n == 1;
}

Result<bool> KvrocksStore::srem(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  auto r = command({"SREM", std::string(key), std::string(member)}, ErrorCode::KvrocksWriteFailed,
                   false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "SREM");
  if (!n) return n.error();
  return *n == 1;
}

Result<bool> KvrocksStore::sismember(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  auto r = command({"SISMEMBER", std::string(key), std::string(member)},
                   ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksReadFailed, "SISMEMBER");
  if (!n) return n.error();
  return *n == 1;
}

Result<std::vector<std::string>> KvrocksStore::smembers(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"SMEMBERS", std::string(key)}, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  if ((*r)->type != REDIS_REPLY_ARRAY) return unexpected(ErrorCode::KvrocksReadFailed, "SMEMBERS");
  std::vector<std::string> out;
  out.reserve((*r)->elements);
  for (size_t i = 0; i < (*r)->elements; ++i) {
    if ((*r)->element[i]->type != REDIS_REPLY_STRING) {
      return unexpected(ErrorCode::KvrocksReadFailed, "SMEMBERS");
    }
    out.push_back(replyText((*r)->element[i]));
  }
  return out;
}

Result<bool> KvrocksStore::zadd(std::string_view key, std::string_view member, double score) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(score));
  auto r = command({"ZADD", std::string(key), formatScore(score), std::string(member)},
                   ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "ZADD");
  if (!n) return n.error();
  return *n == 1;
}

Result<bool> KvrocksStore::zrem(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  auto r = command({"ZREM", std::string(key), std::string(member)}, ErrorCode::KvrocksWriteFailed,
                   false);
  if (!r) return r.error();
  auto n = asInteger(*r, ErrorCode::KvrocksWriteFailed, "ZREM");
  if (!n) return n.error();
  return *n == 1;
}

Result<std::vector<ScoredMember>> KvrocksStore::zrangeByScore(std::string_view key,
                                                              const ZRangeQuery& query) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(query.minScore));
  KV_TRY(support::checkScore(query.maxScore));
  std::vector<ScoredMember> out;
  if (query.limit == 0) return out;
  bool asc = query.order == ScoreOrder::Ascending;
  auto clamp = [](size_t n) { return std::to_string(std::min<size_t>(n, kMaxI64)); };
  std::vector<std::string> cmd{
      asc ? "ZRANGEBYSCORE" : "ZREVRANGEBYSCORE",
      std::string(key),
      formatScore(asc ? query.minScore : query.maxScore),
      formatScore(asc ? query.maxScore : query.minScore),
      "WITHSCORES",
      "LIMIT",
      clamp(query.offset),
      query.limit >= static_cast<size_t>(kMaxI64) ? std::string("-1") : clamp(query.limit)};
  auto r = command(cmd, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  const redisReply* rep = r->get();
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0) {
    return unexpected(ErrorCode::KvrocksReadFailed, cmd[0]);
  }
  out.reserve(rep->elements / 2);
  for (size_t i = 0; i < rep->elements; i += 2) {
    auto score = parseScore(rep->element[i + 1]);
    if (rep->element[i]->type != REDIS_REPLY_STRING || !score) {
      return unexpected(ErrorCode::KvrocksReadFailed, cmd[0]);
    }
    out.push_back({replyText(rep->element[i]), *score});
  }
  return out;
}

Result<int64_t> KvrocksStore::zremRangeByScore(std::string_view key, double minScore,
                                               double maxScore) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(minScore));
  KV_TRY(support::checkScore(maxScore));
  auto r =
      command({"ZREMRANGEBYSCORE", std::string(key), formatScore(minScore), formatScore(maxScore)},
              ErrorCode::KvrocksWriteFailed, false);
  if (!r) return r.error();
  return asInteger(*r, ErrorCode::KvrocksWriteFailed, "ZREMRANGEBYSCORE");
}

Result<int64_t> KvrocksStore::zcard(std::string_view key) {
  KV_TRY(support::checkKey(key));
  auto r = command({"ZCARD", std::string(key)}, ErrorCode::KvrocksReadFailed, true);
  if (!r) return r.error();
  return asInteger(*r, ErrorCode::KvrocksReadFailed, "ZCARD");
}

// --- atomic operations ------------------------------------------------------------------------

Result<int64_t> KvrocksStore::publishVersion(const PublishRequest& request) {
  auto plan = support::planPublish(request);
  if (!plan) return plan.error();
  auto meta = versionTemplate([&](int64_t v) { return support::versionMetaJson(request, v); });
  if (!meta) return meta.error();
  std::vector<std::string> keys{plan->functionMetaKey, plan->versionSeqKey, plan->draftKey,
                                plan->versionKeyPrefix};
  std::vector<std::string> args{request.bundle, meta->head, meta->tail};
  if (plan->aliasKey) {
    auto alias = versionTemplate([&](int64_t v) { return support::aliasJson(request, v); });
    if (!alias) return alias.error();
    keys.push_back(*plan->aliasKey);
    args.push_back(alias->head);
    args.push_back(alias->tail);
  }
  auto r = evalScript(*publishScript_, keys, args, ErrorCode::KvrocksWriteFailed);
  if (!r) return r.error();
  const redisReply* rep = r->get();
  long long code = rep->element[0]->integer;
  std::string detail = rep->elements > 1 ? replyText(rep->element[1]) : std::string();
  switch (code) {
    case kOk:
      if (rep->elements < 2 || rep->element[1]->type != REDIS_REPLY_INTEGER) {
        return unexpected(ErrorCode::KvrocksWriteFailed, "script publish");
      }
      return static_cast<int64_t>(rep->element[1]->integer);
    case kRefused:
      return Error{ErrorCode::NotFound, "function not found"};
    case kDraftMissing:
      return support::draftMissing();
    case kCorrupt:
      return Error{ErrorCode::KvrocksReadFailed, "corrupt cs.function.v1 record: " + detail};
    case kReadError:
      return Error{ErrorCode::KvrocksReadFailed, "kvrocks publish: " + detail};
    case kWriteError:
      return Error{ErrorCode::KvrocksWriteFailed, "kvrocks publish: " + detail};
    default:
      return unexpected(ErrorCode::KvrocksWriteFailed, "script publish");
  }
}

Result<CasResult> KvrocksStore::casActivationStatus(
    std::string_view key, const std::vector<std::string>& expectedStatuses,
    std::string_view newRecordJson, std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  KV_TRY(support::checkNewActivationRecord(newRecordJson));
  std::vector<std::string> args{std::string(newRecordJson),
                                ttlMs ? std::to_string(*ttlMs) : std::string()};
  args.insert(args.end(), expectedStatuses.begin(), expectedStatuses.end());
  auto r = evalScript(*casScript_, {std::string(key)}, args, ErrorCode::KvrocksWriteFailed);
  if (!r) return r.error();
  const redisReply* rep = r->get();
  CasResult result;
  switch (rep->element[0]->integer) {
    case kOk:
      result.outcome = CasOutcome::Applied;
      result.current = std::string(newRecordJson);
      return result;
    case kRefused:
      result.outcome = CasOutcome::Conflict;
      if (rep->elements > 1 && rep->element[1]->type == REDIS_REPLY_STRING) {
        result.current = replyText(rep->element[1]);
      }
      return result;
    case kCorrupt:
      return Error{ErrorCode::KvrocksReadFailed, "stored activation has no string status"};
    case kReadError:
      return Error{ErrorCode::KvrocksReadFailed,
                   "kvrocks cas: " + (rep->elements > 1 ? replyText(rep->element[1]) : "")};
    default:
      return unexpected(ErrorCode::KvrocksWriteFailed, "script cas");
  }
}

Result<bool> KvrocksStore::leaseScript(KvrocksScript& script, std::string_view key,
                                       std::string_view owner, std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkOwner(owner));
  std::vector<std::string> args{std::string(owner)};
  if (ttlMs) {
    KV_TRY(support::checkTtl(ttlMs));
    args.push_back(std::to_string(*ttlMs));
  }
  auto r = evalScript(script, {std::string(key)}, args, ErrorCode::KvrocksWriteFailed);
  if (!r) return r.error();
  const redisReply* rep = r->get();
  switch (rep->element[0]->integer) {
    case kOk:
      return true;
    case kRefused:
      return false;
    case kReadError:
      return Error{ErrorCode::KvrocksWriteFailed,
                   std::string("kvrocks ") + script.name + ": " +
                       (rep->elements > 1 ? replyText(rep->element[1]) : "")};
    default:
      return unexpected(ErrorCode::KvrocksWriteFailed, std::string("script ") + script.name);
  }
}

Result<bool> KvrocksStore::leaseAcquire(std::string_view key, std::string_view owner,
                                        int64_t ttlMs) {
  return leaseScript(*leaseAcquireScript_, key, owner, ttlMs);
}

Result<bool> KvrocksStore::leaseRenew(std::string_view key, std::string_view owner, int64_t ttlMs) {
  return leaseScript(*leaseRenewScript_, key, owner, ttlMs);
}

Result<bool> KvrocksStore::leaseRelease(std::string_view key, std::string_view owner) {
  return leaseScript(*leaseReleaseScript_, key, owner, std::nullopt);
}

Result<std::unique_ptr<Store>> makeKvrocksStore(const KvrocksOptions& options) {
  auto store = KvrocksStore::open(options);
  if (!store) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace cs::kv
