// The kvrocks driver against a real redis-server (cs::testing::RedisServer): the whole
// kv::Store contract suite, plus what only a networked driver has (pools, reconnects, NOSCRIPT,
// timeouts, several processes, real server-side TTLs).
#include "internal/kv/kvrocks_store.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal/kv/keys.h"
#include "internal/kv/records.h"
#include "internal/kv/store_support.h"
#include "internal/kv/testing/store_contract.h"
#include "internal/testing/redis_server.h"

namespace cs::kv {
namespace {

using ::testing::HasSubstr;
using testing::StoreContractParam;
using testing::StoreContractTest;
using testing::StoreUnderTest;
using RedisServer = cs::testing::RedisServer;

// A plain hiredis connection for test set-up and inspection (FLUSHALL, SCRIPT FLUSH, ...).
class Raw {
 public:
  explicit Raw(const RedisServer& server) {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout(server.host().c_str(), server.port(), tv);
  }
  ~Raw() {
    if (ctx_) redisFree(ctx_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool ok() const { return ctx_ && !ctx_->err; }

  std::shared_ptr<redisReply> cmd(const std::vector<std::string>& args) {
    if (!ok()) return nullptr;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
    return std::shared_ptr<redisReply>(r, [](redisReply* p) {
      if (p) freeReplyObject(p);
    });
  }

 private:
  redisContext* ctx_ = nullptr;
};

std::string text(const redisReply* r) { return r && r->str ? std::string(r->str, r->len) : ""; }

// One redis-server for the contract suite and the tests that do not stop it.
RedisServer& sharedServer() {
  static RedisServer server;
  return server;
}

KvrocksOptions optionsFor(const RedisServer& server) {
  KvrocksOptions o;
  o.addr = server.addr();
  o.connectTimeoutMs = 500;
  o.commandTimeoutMs = 1000;
  o.poolSize = 4;
  return o;
}

std::unique_ptr<Store> openStore(const KvrocksOptions& o) {
  auto s = makeKvrocksStore(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.error().message;
    return nullptr;
  }
  return std::move(*s);
}

// The contract suite's advanceMs for a server that keeps its own time: move every key's expiry
// `ms` closer (deleting the ones that reach it), which is what the server would see if its clock
// jumped. Real-time expiry is covered separately below with short TTLs.
void shiftServerTime(const RedisServer& server, int64_t ms) {
  Raw raw(server);
  ASSERT_TRUE(raw.ok());
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = raw.cmd({"SCAN", cursor, "COUNT", "1000"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    cursor = text(r->element[0]);
    for (size_t i = 0; i < r->element[1]->elements; ++i)
      keys.push_back(text(r->element[1]->element[i]));
  } while (cursor != "0");
  for (const auto& k : keys) {
    auto t = raw.cmd({"PTTL", k});
    ASSERT_TRUE(t && t->type == REDIS_REPLY_INTEGER);
    if (t->integer < 0) continue;
    if (t->integer <= ms) {
      raw.cmd({"DEL", k});
    } else {
      raw.cmd({"PEXPIRE", k, std::to_string(t->integer - ms)});
    }
  }
}

StoreUnderTest makeContractSut() {
  RedisServer& server = sharedServer();
  if (!server.ok()) {
    ADD_FAILURE() << "redis-server: " << server.error();
    return {};
  }
  Raw raw(server);
  auto flushed = raw.cmd({"FLUSHALL"});
  if (!flushed || flushed->type != REDIS_REPLY_STATUS) {
    ADD_FAILURE() << "FLUSHALL failed";
    return {};
  }
  StoreUnderTest sut;
  sut.store = openStore(optionsFor(server));
  sut.advanceMs = [&server](int64_t ms) { shiftServerTime(server, ms); };
  return sut;
}

INSTANTIATE_TEST_SUITE_P(Kvrocks, StoreContractTest,
                         ::testing::Values(StoreContractParam{"redis", makeContractSut}),
                         testing::storeContractParamName);

// --- driver-specific tests --------------------------------------------------------------------

constexpr const char* kT = "t_kvrocks1";
constexpr const char* kNs = "payments";
constexpr const char* kFn = "charge";

std::string must(Result<std::string> r) {
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::string("invalid");
}

void putFunction(Store& s) {
  FunctionRecord f{kT, kNs, kFn, "cs-js", "function.js", "default", 1000, std::nullopt};
  ASSERT_TRUE(s.set(must(keys::functionMeta(kT, kNs, kFn)), encode(f), kNoTtl).ok());
}

void putDraft(Store& s, const std::string& id, int64_t ttlMs = 86'400'000) {
  DraftRecord d;
  d.draftId = id;
  d.tenant = kT;
  d.ns = kNs;
  d.function = kFn;
  d.filesB64 = {{"function.js", "ZXhwb3J0"}};
  d.sha256 = std::string(64, 'a');
  d.createdAtMs = 1;
  d.expiresAtMs = 1 + ttlMs;
  ASSERT_TRUE(s.set(must(keys::draft(kT, kNs, kFn, id)), encode(d), ttlMs).ok());
}

PublishRequest publishReq(const std::string& draftId, std::optional<std::string> alias = {}) {
  PublishRequest r;
  r.tenant = kT;
  r.ns = kNs;
  r.function = kFn;
  r.draftId = draftId;
  r.bundle = std::string("tar\0bytes\xff", 10);
  r.sha256 = std::string(64, 'b');
  // Holds one of the sentinel numbers the driver uses to cut the record template.
  r.config = {{"timeout_ms", 3000}, {"n", 1111111111111111111LL}, {"s", "ver:1:meta"}};
  r.publishedAtMs = 5000;
  r.alias = std::move(alias);
  return r;
}

std::string versionSeqKey() { return must(keys::versionSeq(kT, kNs, kFn)); }

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Polls ping() until it succeeds; bounded, so a driver that never reconnects fails the test.
bool waitUntilReachable(Store& s) {
  for (int i = 0; i < 200; ++i) {
    if (s.ping().ok()) return true;
    sleepMs(50);
  }
  return false;
}

class KvrocksStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sharedServer().ok()) << sharedServer().error();
    Raw raw(sharedServer());
    ASSERT_TRUE(raw.cmd({"FLUSHALL"}));
    store_ = openStore(optionsFor(sharedServer()));
    ASSERT_NE(store_, nullptr);
  }
  Store& store() { return *store_; }
  std::unique_ptr<Store> store_;
};

TEST(KvrocksOptionsTest, RejectsBadOptions) {
  auto bad = [](KvrocksOptions o) {
    auto s = makeKvrocksStore(o);
    return !s.ok() && s.error().code == ErrorCode::ValidationFailed;
  };
  KvrocksOptions o;
  o.addr = "no-port";
  EXPECT_TRUE(bad(o));
  o.addr = "host:abc";
  EXPECT_TRUE(bad(o));
  o.addr = "host:";
  EXPECT_TRUE(bad(o));
  o.addr = "unix:";
  EXPECT_TRUE(bad(o));
  o.addr = "host:70000";
  EXPECT_TRUE(bad(o));
  o = KvrocksOptions{};
  o.port = 0;
  EXPECT_TRUE(bad(o));
  o = KvrocksOptions{};
  o.host = "";
  EXPECT_TRUE(bad(o));
  o = KvrocksOptions{};
  o.poolSize = 0;
  EXPECT_TRUE(bad(o));
  o = KvrocksOptions{};
  o.commandTimeoutMs = 0;
  EXPECT_TRUE(bad(o));
  o = KvrocksOptions{};
  o.addr = "127.0.0.1:6666";
  EXPECT_TRUE(makeKvrocksStore(o).ok()) << "connects lazily";
}

TEST(KvrocksUnavailableTest, UnreachableServerIsUnavailable) {
  RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  auto opts = optionsFor(server);
  server.stop();
  auto s = openStore(opts);
  ASSERT_NE(s, nullptr);
  auto g = s->get("cs:test:k");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::KvrocksUnavailable);
  EXPECT_EQ(g.error().status(), 503);
  auto p = s->ping();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::KvrocksUnavailable);
  auto v = s->publishVersion(publishReq("drf_x"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::KvrocksUnavailable);
}

TEST_F(KvrocksStoreTest, PublishedRecordsAreByteIdenticalToTheSharedEncoders) {
  putFunction(store());
  putDraft(store(), "drf_a");
  auto req = publishReq("drf_a", "prod");
  auto v = store().publishVersion(req);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(store().get(must(keys::versionMeta(kT, kNs, kFn, 1)))->value_or(""),
            support::versionMetaJson(req, 1));
  EXPECT_EQ(store().get(must(keys::alias(kT, kNs, kFn, "prod")))->value_or(""),
            support::aliasJson(req, 1));
  auto rec =
      decode<VersionRecord>(store().get(must(keys::versionMeta(kT, kNs, kFn, 1)))->value_or(""));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->config["n"], 1111111111111111111LL) << "config untouched by the template";
}

TEST_F(KvrocksStoreTest, WrongTypeInsideScriptsIsAnError) {
  ASSERT_TRUE(store().sadd(must(keys::functionMeta(kT, kNs, kFn)), "m").ok());
  putDraft(store(), "drf_a");
  auto v = store().publishVersion(publishReq("drf_a"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::KvrocksReadFailed);
  EXPECT_THAT(v.error().message, HasSubstr("WRONGTYPE"));
  EXPECT_TRUE(*store().exists(must(keys::draft(kT, kNs, kFn, "drf_a"))));

  ASSERT_TRUE(store().sadd("cs:lease:x", "m").ok());
  auto l = store().leaseAcquire("cs:lease:x", "a", 1000);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, ErrorCode::KvrocksWriteFailed);
  auto c =
      store().casActivationStatus("cs:lease:x", {"running"}, R"({"status":"success"})", kNoTtl);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::KvrocksReadFailed);

  putFunction(store());
  ASSERT_TRUE(store().set(versionSeqKey(), "not a number", kNoTtl).ok());
  auto w = store().publishVersion(publishReq("drf_a"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::KvrocksWriteFailed);
  EXPECT_TRUE(*store().exists(must(keys::draft(kT, kNs, kFn, "drf_a")))) << "nothing written";
}

TEST_F(KvrocksStoreTest, ConcurrentPublishesFromSeparatePoolsAreUniqueAndGapFree) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 15;
  putFunction(store());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      putDraft(store(), "drf_" + std::to_string(t) + "_" + std::to_string(i));
    }
  }
  std::mutex mu;
  std::vector<int64_t> versions;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto opts = optionsFor(sharedServer());
      opts.poolSize = 2;
      auto own = makeKvrocksStore(opts);
      if (!own.ok()) {
        std::lock_guard lock(mu);
        errors.push_back(own.error().message);
        return;
      }
      for (int i = 0; i < kPerThread; ++i) {
        auto v = (*own)->publishVersion(
            publishReq("drf_" + std::to_string(t) + "_" + std::to_string(i), "live"));
        std::lock_guard lock(mu);
        if (v.ok()) {
          versions.push_back(*v);
        } else {
          errors.push_back(v.error().message);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(errors.empty()) << errors.front();
  std::sort(versions.begin(), versions.end());
  std::vector<int64_t> expected(kThreads * kPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i + 1);
  EXPECT_EQ(versions, expected);
  for (int64_t v : expected) {
    EXPECT_TRUE(*store().exists(must(keys::versionBundle(kT, kNs, kFn, v)))) << v;
  }
  auto alias =
      decode<AliasRecord>(store().get(must(keys::alias(kT, kNs, kFn, "live")))->value_or(""));
  ASSERT_TRUE(alias.ok());
  EXPECT_EQ(alias->version, kThreads * kPerThread) << "the last publish set the alias last";
}

// Issue gate: concurrent publishes from several processes give unique versions.
TEST_F(KvrocksStoreTest, ConcurrentPublishesFromSeveralProcessesAreUnique) {
  constexpr int kProcs = 3;
  constexpr int kPerProc = 10;
  putFunction(store());
  for (int p = 0; p < kProcs; ++p) {
    for (int i = 0; i < kPerProc; ++i) {
      putDraft(store(), "drf_p" + std::to_string(p) + "_" + std::to_string(i));
    }
  }
  auto opts = optionsFor(sharedServer());
  std::vector<std::pair<pid_t, int>> children;  // pid, read end of its pipe
  for (int p = 0; p < kProcs; ++p) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: its own store and pool; reports each version as an int64 on the pipe; _exit so
      // no parent destructor (the redis fixture!) runs here.
      ::close(fds[0]);
      auto own = makeKvrocksStore(opts);
      if (!own.ok()) ::_exit(2);
      for (int i = 0; i < kPerProc; ++i) {
        auto v = (*own)->publishVersion(
            publishReq("drf_p" + std::to_string(p) + "_" + std::to_string(i)));
        if (!v.ok()) ::_exit(3);
        int64_t n = *v;
        if (::write(fds[1], &n, sizeof n) != static_cast<ssize_t>(sizeof n)) ::_exit(4);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    children.emplace_back(pid, fds[0]);
  }
  std::vector<int64_t> versions;
  for (auto [pid, fd] : children) {
    int64_t n = 0;
    while (::read(fd, &n, sizeof n) == static_cast<ssize_t>(sizeof n)) versions.push_back(n);
    ::close(fd);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  std::sort(versions.begin(), versions.end());
  std::vector<int64_t> expected(kProcs * kPerProc);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i + 1);
  EXPECT_EQ(versions, expected);
  EXPECT_EQ(store().get(versionSeqKey())->value_or(""), std::to_string(kProcs * kPerProc));
}

TEST_F(KvrocksStoreTest, RecoversFromAFlushedScriptCache) {
  putFunction(store());
  putDraft(store(), "drf_a");
  putDraft(store(), "drf_b");
  ASSERT_EQ(store().publishVersion(publishReq("drf_a")).value(), 1);
  ASSERT_TRUE(store().leaseAcquire("cs:lease:x", "a", 10'000).value());
  Raw raw(sharedServer());
  auto flushed = raw.cmd({"SCRIPT", "FLUSH"});
  ASSERT_TRUE(flushed && flushed->type == REDIS_REPLY_STATUS);
  auto v = store().publishVersion(publishReq("drf_b"));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, 2);
  EXPECT_TRUE(store().leaseRenew("cs:lease:x", "a", 10'000).value());
  auto c = store().casActivationStatus("cs:act:t_kvrocks1:x:meta", {std::string(kStatusAbsent)},
                                       R"({"status":"queued"})", 60'000);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->outcome, CasOutcome::Applied);
}

TEST_F(KvrocksStoreTest, ScanEscapesGlobCharactersAndNeverExceedsTheLimit) {
  const std::string odd = "cs:glob:a*b?[x]\\:";
  ASSERT_TRUE(store().set(odd + "1", "v", kNoTtl).ok());
  ASSERT_TRUE(store().set("cs:glob:aZbQx\\:1", "v", kNoTtl).ok());
  ASSERT_TRUE(store().set("cs:glob:aZbQ[x]\\:2", "v", kNoTtl).ok());
  std::vector<std::string> found;
  std::string cursor;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = store().scanPrefix(odd, cursor, 5);
    ASSERT_TRUE(page.ok()) << page.error().message;
    found.insert(found.end(), page->keys.begin(), page->keys.end());
    if (page->cursor.empty()) break;
    cursor = page->cursor;
  }
  EXPECT_THAT(found, ::testing::ElementsAre(odd + "1"));

  std::set<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    std::string k = "cs:many:" + std::to_string(i);
    expected.insert(k);
    ASSERT_TRUE(store().set(k, "v", kNoTtl).ok());
  }
  std::multiset<std::string> seen;
  cursor.clear();
  for (int guard = 0; guard < 1000; ++guard) {
    auto page = store().scanPrefix("cs:many:", cursor, 7);
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_LE(page->keys.size(), 7u);
    seen.insert(page->keys.begin(), page->keys.end());
    if (page->cursor.empty()) break;
    cursor = page->cursor;
  }
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
  EXPECT_EQ(seen.size(), expected.size()) << "no key twice";

  auto bad = store().scanPrefix("cs:", "!!not a cursor", 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::ValidationFailed);
}

// The contract suite moves server time by shifting expiries; these use the real clock.
TEST_F(KvrocksStoreTest, ShortTtlsExpireInRealTime) {
  ASSERT_TRUE(store().set("cs:rt:v", "v", 300).ok());
  ASSERT_TRUE(store().setIfAbsent("cs:rt:nx", "a", 300).value());
  ASSERT_TRUE(store().sadd("cs:rt:set", "m").ok());
  ASSERT_TRUE(store().expire("cs:rt:set", 300).value());
  ASSERT_TRUE(store().leaseAcquire("cs:lease:rt", "a", 300).value());
  ASSERT_TRUE(store().set("cs:rt:keep", "v", 60'000).ok());
  EXPECT_FALSE(store().leaseAcquire("cs:lease:rt", "b", 300).value()) << "held by a";
  sleepMs(700);
  EXPECT_FALSE(store().get("cs:rt:v")->has_value());
  EXPECT_EQ(*store().ttl("cs:rt:v"), kTtlKeyAbsent);
  EXPECT_TRUE(store().setIfAbsent("cs:rt:nx", "b", kNoTtl).value());
  EXPECT_TRUE(store().smembers("cs:rt:set")->empty());
  EXPECT_FALSE(store().leaseRenew("cs:lease:rt", "a", 300).value());
  EXPECT_TRUE(store().leaseAcquire("cs:lease:rt", "b", 10'000).value());
  EXPECT_TRUE(store().get("cs:rt:keep")->has_value()) << "a long TTL is still alive";
}

TEST_F(KvrocksStoreTest, DraftExpiredByRealTtlIsRejected) {
  putFunction(store());
  putDraft(store(), "drf_short", 300);
  putDraft(store(), "drf_long", 60'000);
  sleepMs(700);
  auto v = store().publishVersion(publishReq("drf_short", "prod"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(v.error().message, HasSubstr("draft not found or expired"));
  EXPECT_FALSE(*store().exists(versionSeqKey()));
  EXPECT_FALSE(*store().exists(must(keys::alias(kT, kNs, kFn, "prod"))));
  auto ok = store().publishVersion(publishReq("drf_long"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, 1);
}

TEST(KvrocksRestartTest, StoppedServerIsUnavailableAndARestartIsPickedUp) {
  RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  auto s = openStore(optionsFor(server));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->set("cs:test:k", "v", kNoTtl).ok());
  putFunction(*s);
  putDraft(*s, "drf_a");

  server.stop();
  auto g = s->get("cs:test:k");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::KvrocksUnavailable);
  auto w = s->set("cs:test:k", "w", kNoTtl);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::KvrocksUnavailable);
  auto v = s->publishVersion(publishReq("drf_a"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::KvrocksUnavailable);

  ASSERT_TRUE(server.start()) << server.error();
  ASSERT_TRUE(waitUntilReachable(*s)) << "the same store object reconnects";
  // The fixture runs without persistence: the restarted server is empty.
  ASSERT_TRUE(s->set("cs:test:k", "again", kNoTtl).ok());
  EXPECT_EQ(s->get("cs:test:k")->value_or(""), "again");
  putFunction(*s);
  putDraft(*s, "drf_b");
  auto v2 = s->publishVersion(publishReq("drf_b"));
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  EXPECT_EQ(*v2, 1);
}

pid_t serverPid(const RedisServer& server) {
  Raw raw(server);
  auto info = raw.cmd({"INFO", "server"});
  std::string s = text(info.get());
  auto pos = s.find("process_id:");
  if (pos == std::string::npos) return -1;
  return static_cast<pid_t>(std::stol(s.substr(pos + 11)));
}

// A hung server (SIGSTOP) makes calls fail with CS_KVROCKS_UNAVAILABLE after the command
// timeout instead of blocking; whatever the server does with the request once it resumes,
// the publish is all or nothing.
TEST(KvrocksRestartTest, HungServerTimesOutAndNeverHalfWritesAVersion) {
  RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  auto opts = optionsFor(server);
  opts.commandTimeoutMs = 300;
  auto s = openStore(opts);
  ASSERT_NE(s, nullptr);
  putFunction(*s);
  putDraft(*s, "drf_a");
  putDraft(*s, "drf_b");
  pid_t pid = serverPid(server);
  ASSERT_GT(pid, 0);

  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  auto v = s->publishVersion(publishReq("drf_a", "prod"));
  auto g = s->get("cs:test:k");
  ::kill(pid, SIGCONT);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::KvrocksUnavailable);
  EXPECT_THAT(v.error().message, HasSubstr("timed out"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::KvrocksUnavailable);

  ASSERT_TRUE(waitUntilReachable(*s));
  bool seq = *s->exists(versionSeqKey());
  bool meta = *s->exists(must(keys::versionMeta(kT, kNs, kFn, 1)));
  bool bundle = *s->exists(must(keys::versionBundle(kT, kNs, kFn, 1)));
  bool alias = *s->exists(must(keys::alias(kT, kNs, kFn, "prod")));
  bool draft = *s->exists(must(keys::draft(kT, kNs, kFn, "drf_a")));
  EXPECT_EQ(meta, seq);
  EXPECT_EQ(bundle, seq);
  EXPECT_EQ(alias, seq);
  EXPECT_EQ(draft, !seq);
  auto next = s->publishVersion(publishReq("drf_b"));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(*next, seq ? 2 : 1);
}

TEST(KvrocksAuthTest, PasswordIsSentOnEveryConnection) {
  RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  {
    Raw raw(server);
    auto r = raw.cmd({"CONFIG", "SET", "requirepass", "s3cret"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  }
  auto opts = optionsFor(server);
  opts.password = "s3cret";
  auto good = openStore(opts);
  ASSERT_NE(good, nullptr);
  ASSERT_TRUE(good->set("cs:test:k", "v", kNoTtl).ok());
  EXPECT_EQ(good->get("cs:test:k")->value_or(""), "v");

  opts.password = "";
  auto none = openStore(opts);
  auto r = none->get("cs:test:k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::KvrocksUnavailable) << r.error().message;

  opts.password = "wrong";
  auto wrong = openStore(opts);
  auto w = wrong->ping();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::KvrocksUnavailable);
  EXPECT_THAT(w.error().message, HasSubstr("AUTH"));
}

}  // namespace
}  // namespace cs::kv
