// Gates of the invoker pipeline with real parts: SqliteStore in memory, the V8 engine and a
// queue (the FakeQueue of testing/, and one end-to-end test on the EmbeddedQueue).
#include "internal/invoker/invoker.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "internal/api/validate.h"
#include "internal/bundle/bundle.h"
#include "internal/codeq/embedded_queue.h"
#include "internal/crypto/crypto.h"
#include "internal/invoker/testing/fake_queue.h"
#include "internal/kv/keys.h"
#include "internal/kv/testing/forwarding_store.h"
#include "internal/kv/records.h"
#include "internal/kv/sqlite_store.h"

namespace cs::invoker {
namespace {

using json = nlohmann::json;
using testing::FakeQueue;

constexpr char kTenant[] = "t_acme01";
constexpr char kNs[] = "payments";
constexpr char kResults[] = "cs.results";
constexpr char kDlq[] = "cs.dlq.invoke";

// Forwards to the V8 engine, counting runs and concurrent runs per ctx.version; hold() makes
// runs wait before they start, so a test can keep activations "running" deterministically.
class CountingEngine final : public runtime::Engine {
 public:
  explicit CountingEngine(runtime::Engine& inner) : inner_(inner) {}

  runtime::ActivationResult run(const runtime::Invocation& inv) override {
    int64_t version = json::parse(inv.ctxJson).value("version", int64_t{0});
    {
      std::unique_lock lock(mu_);
      ++runs_;
      int cur = ++current_[version];
      maxConcurrent_[version] = std::max(maxConcurrent_[version], cur);
      ++inside_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !held_; });
    }
    auto result = inner_.run(inv);
    {
      std::lock_guard lock(mu_);
      --current_[version];
      --inside_;
      lastTimeoutMs_ = inv.limits.timeoutMs;
    }
    return result;
  }

  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Waits (bounded) until `n` runs are inside run() at once.
  bool waitInside(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return inside_ >= n; });
  }
  int runs() const {
    std::lock_guard lock(mu_);
    return runs_;
  }
  int maxConcurrent(int64_t version) const {
    std::lock_guard lock(mu_);
    auto it = maxConcurrent_.find(version);
    return it == maxConcurrent_.end() ? 0 : it->second;
  }
  int64_t lastTimeoutMs() const {
    std::lock_guard lock(mu_);
    return lastTimeoutMs_;
  }

 private:
  runtime::Engine& inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int runs_ = 0;
  int inside_ = 0;
  int64_t lastTimeoutMs_ = 0;
  std::map<int64_t, int> current_;
  std::map<int64_t, int> maxConcurrent_;
};

class RecordingObserver final : public InvocationObserver {
 public:
  void onInvocation(const InvocationLabels& labels, std::string_view status,
                    int64_t /*durationMs*/) override {
    std::lock_guard lock(mu_);
    invocations.push_back(labels.function + "@" + labels.version + ":" + labels.trigger + ":" +
                          std::string(status));
  }
  void onCache(CacheEvent event, size_t /*items*/, size_t /*bytes*/) override {
    std::lock_guard lock(mu_);
    cache.push_back(event);
  }
  void onColdStart() override { ++coldStarts; }
  void onQueueLag(std::string_view topic, int64_t /*lagMs*/) override {
    std::lock_guard lock(mu_);
    lagTopics.emplace_back(topic);
  }

  std::mutex mu_;
  std::vector<std::string> invocations;
  std::vector<CacheEvent> cache;
  std::vector<std::string> lagTopics;
  std::atomic<int> coldStarts{0};
};

const char* kManifest = R"({"schema":"cs.function.script.v1","runtime":"cs-js",
  "entry":"function.js","handler":"default"})";

class InvokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    runtime::EngineOptions opts;
    opts.warmIsolates = 0;
    v8_ = runtime::makeV8Engine(opts).release();
  }
  static void TearDownTestSuite() {
    delete v8_;
    v8_ = nullptr;
  }

  void SetUp() override {
    kv::SqliteOptions so;
    so.path = ":memory:";
    so.clock = &clock_;
    auto store = kv::makeSqliteStore(so);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    engine_ = std::make_unique<CountingEngine>(*v8_);
  }

  void TearDown() override {
    engine_->release();
    if (invoker_) invoker_->stop();
  }

  void startInvoker(InvokerOptions options = {}, codeq::Queue* queue = nullptr) {
    invoker_ = std::make_unique<Invoker>(
        options, InvokerDeps{*store_, queue ? *queue : queue_, *engine_, clock_, &observer_, {}, {}});
    ASSERT_TRUE(invoker_->start().ok());
  }

  // Writes what cs-control's publish leaves behind: function meta, version meta and bundle.
  std::string putVersion(const std::string& fn, int64_t version, const std::string& code,
                         json config = json{
                             {"timeout_ms", 5000}, {"memory_mb", 128}, {"max_concurrency", 10}}) {
    auto tar = bundle::pack({{"function.js", code}, {"manifest.json", kManifest}});
    EXPECT_TRUE(tar.ok());
    kv::FunctionRecord f{kTenant, kNs, fn, "cs-js", "function.js", "default", clock_.nowMs(), {}};
    EXPECT_TRUE(
        store_->set(*kv::keys::functionMeta(kTenant, kNs, fn), kv::encode(f), kv::kNoTtl).ok());
    kv::VersionRecord v{version, bundle::sha256(*tar), std::move(config), clock_.nowMs()};
    EXPECT_TRUE(
        store_->set(*kv::keys::versionMeta(kTenant, kNs, fn, version), kv::encode(v), kv::kNoTtl)
            .ok());
    EXPECT_TRUE(
        store_->set(*kv::keys::versionBundle(kTenant, kNs, fn, version), *tar, kv::kNoTtl).ok());
    return v.sha256;
  }

  void putAlias(const std::string& fn, const std::string& alias, int64_t version) {
    kv::AliasRecord a{alias, version, clock_.nowMs()};
    ASSERT_TRUE(
        store_->set(*kv::keys::alias(kTenant, kNs, fn, alias), kv::encode(a), kv::kNoTtl).ok());
  }

  json request(const std::string& fn, json ref = json::object(),
               const std::string& id = crypto::uuidV4()) {
    ref["function"] = fn;
    if (!ref.contains("alias") && !ref.contains("version")) ref["version"] = 1;
    return json{{"activation_id", id},
                {"request_id", "req_" + crypto::randomHex(6)},
                {"tenant", kTenant},
                {"namespace", kNs},
                {"ref", ref},
                {"trigger", {{"type", "api"}, {"source", json::object()}}},
                {"principal", {{"sub", "user:1"}, {"roles", {"dev"}}}},
                {"deadline_ms", clock_.nowMs() + 60000},
                {"event", {{"n", 1}}}};
  }

  codeq::Envelope envelope(const json& body) {
    return codeq::Envelope{"msg_" + crypto::randomHex(8), clock_.nowMs(), kTenant,
                           std::string(codeq::kTypeInvoke), body};
  }

  // Delivers and waits for the n-th result on cs.results; returns its body.
  json invoke(const json& body, size_t nthResult = 1) {
    queue_.deliver(envelope(body));
    EXPECT_TRUE(queue_.waitForPublished(kResults, nthResult));
    auto results = queue_.published(kResults);
    return results.size() >= nthResult ? results[nthResult - 1].envelope.body : json();
  }

  std::optional<kv::ActivationRecord> record(const std::string& id) {
    auto raw = store_->get(*kv::keys::activation(kTenant, id));
    if (!raw.ok() || !*raw) return std::nullopt;
    auto rec = kv::decode<kv::ActivationRecord>(**raw);
    EXPECT_TRUE(rec.ok());
    return rec.ok() ? std::optional(*rec) : std::nullopt;
  }

  static runtime::Engine* v8_;
  kv::ManualClock clock_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<CountingEngine> engine_;
  FakeQueue queue_;
  RecordingObserver observer_;
  std::unique_ptr<Invoker> invoker_;
};

runtime::Engine* InvokerTest::v8_ = nullptr;

TEST_F(InvokerTest, SubscribesToTheInvokeTopicWithBackpressure) {
  InvokerOptions o;
  o.workers.maxInflight = 7;
  startInvoker(o);
  auto so = queue_.subscribeOptions();
  EXPECT_EQ(so.topic, "cs.invoke");
  EXPECT_EQ(so.group, "cs-invoker");
  EXPECT_EQ(so.maxInflight, 7);
  EXPECT_EQ(so.dlqTopic, kDlq);
}

TEST_F(InvokerTest, RejectsBadOptions) {
  InvokerOptions o;
  o.workers.threads = 0;
  Invoker inv(o, InvokerDeps{*store_, queue_, *engine_, clock_, nullptr, {}, {}});
  EXPECT_FALSE(inv.start().ok());
  EXPECT_FALSE(queue_.subscribed());
}

TEST_F(InvokerTest, SuccessWritesRunningThenTerminalRecordAndLogsInOrder) {
  putVersion("charge", 1, R"(
    export default async function (event, ctx) {
      for (let i = 0; i < 150; i++) cs.log.info('line ' + i);
      return {statusCode: 201, headers: {'x-a': 'b'}, body: 'ok ' + event.n, isBase64Encoded: false};
    })");
  startInvoker();
  engine_->hold();
  json body = request("charge");
  std::string id = body["activation_id"];
  queue_.deliver(envelope(body));
  ASSERT_TRUE(engine_->waitInside(1));
  auto running = record(id);
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->status, kv::ActivationStatus::Running);
  EXPECT_EQ(running->version, 1);
  EXPECT_TRUE(running->startedAtMs.has_value());
  EXPECT_TRUE(queue_.published(kResults).empty());
  engine_->release();

  ASSERT_TRUE(queue_.waitForPublished(kResults, 1));
  json result = queue_.published(kResults)[0].envelope.body;
  EXPECT_TRUE(api::validateInvocationResult(result).ok()) << result.dump();
  EXPECT_EQ(result["status"], "success");
  EXPECT_EQ(result["request_id"], body["request_id"]);
  EXPECT_EQ(result["result"]["statusCode"], 201);
  EXPECT_EQ(result["result"]["body"], "ok 1");
  EXPECT_EQ(result["version"], 1);

  auto done = record(id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, kv::ActivationStatus::Success);
  EXPECT_EQ(done->requestId, body["request_id"]);
  ASSERT_TRUE(done->result.has_value());
  EXPECT_EQ((*done->result)["headers"]["x-a"], "b");
  EXPECT_TRUE(done->endedAtMs.has_value());
  EXPECT_TRUE(done->durationMs.has_value());
  EXPECT_EQ(done->logChunks, 2);
  EXPECT_GT(*store_->ttl(*kv::keys::activation(kTenant, id)), 0);

  // Logs: chunk seqs from the sorted set, entries in order.
  auto seqs = store_->zrangeByScore(*kv::keys::logChunks(kTenant, id), {});
  ASSERT_TRUE(seqs.ok());
  ASSERT_EQ(seqs->size(), 2u);
  std::vector<std::string> lines;
  for (const auto& m : *seqs) {
    auto raw = store_->get(*kv::keys::logChunk(kTenant, id, static_cast<int64_t>(m.score)));
    ASSERT_TRUE(raw.ok() && raw->has_value());
    auto chunk = kv::decode<kv::LogChunk>(**raw);
    ASSERT_TRUE(chunk.ok()) << chunk.error().message;
    for (const auto& e : chunk->entries) lines.push_back(e.message);
  }
  ASSERT_EQ(lines.size(), 150u);
  for (int i = 0; i < 150; ++i) EXPECT_EQ(lines[i], "line " + std::to_string(i));

  // Indexed by function, acked, reported.
  auto byFn = store_->zrangeByScore(*kv::keys::activationsByFunction(kTenant, kNs, "charge"), {});
  ASSERT_TRUE(byFn.ok());
  ASSERT_EQ(byFn->size(), 1u);
  EXPECT_EQ((*byFn)[0].member, id);
  ASSERT_TRUE(queue_.waitForSettled(1));
  EXPECT_EQ(queue_.acked().size(), 1u);
  EXPECT_TRUE(queue_.nacked().empty());
  std::lock_guard lock(observer_.mu_);
  EXPECT_EQ(observer_.invocations, std::vector<std::string>{"charge@1:api:success"});
  EXPECT_EQ(observer_.lagTopics, std::vector<std::string>{"cs.invoke"});
}

TEST_F(InvokerTest, RepeatedActivationIdDoesNotRunAgainAndRepublishes) {
  putVersion("charge", 1, R"(
    export default async function () { cs.log.info('ran'); return {statusCode: 200, body: 'once'}; })");
  startInvoker();
  json first = request("charge");
  json r1 = invoke(first);
  EXPECT_EQ(r1["status"], "success");
  ASSERT_EQ(engine_->runs(), 1);

  // Same activation id, a new request id and a reply address (a retry through the gateway).
  json again = request("charge", json::object(), first["activation_id"]);
  again["trigger"]["source"]["reply_to"] = "cs.reply.gw2";
  json r2 = invoke(again, 2);
  EXPECT_EQ(engine_->runs(), 1);
  EXPECT_EQ(r2["status"], "success");
  EXPECT_EQ(r2["result"], r1["result"]);
  EXPECT_EQ(r2["request_id"], again["request_id"]);
  ASSERT_TRUE(queue_.waitForPublished("cs.reply.gw2", 1));
  ASSERT_TRUE(queue_.waitForSettled(2));
  EXPECT_EQ(queue_.acked().size(), 2u);
  std::lock_guard lock(observer_.mu_);
  EXPECT_EQ(observer_.invocations.size(), 1u);  // republishing is not a new invocation
}

TEST_F(InvokerTest, ActivationIndexGetsItsTtlAndIsTrimmedAtMostOnceAMinute) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  InvokerOptions o;
  o.activationTtlSeconds = 100;
  startInvoker(o);
  const std::string index = *kv::keys::activationsByFunction(kTenant, kNs, "charge");
  auto members = [&] {
    std::set<std::string> out;
    auto all = store_->zrangeByScore(index, {});
    EXPECT_TRUE(all.ok());
    if (all.ok()) {
      for (const auto& m : *all) out.insert(m.member);
    }
    return out;
  };
  auto expired = [&] { return static_cast<double>(clock_.nowMs() - 200'000); };

  ASSERT_TRUE(store_->zadd(index, "old-1", expired()).ok());
  json first = request("charge");
  invoke(first, 1);
  ASSERT_TRUE(queue_.waitForSettled(1));
  EXPECT_EQ(members(), (std::set<std::string>{first["activation_id"].get<std::string>()}));
  auto ttl = store_->ttl(index);
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 0) << "the index expires with the activations it lists";

  // Within the minute: indexed, not trimmed again.
  ASSERT_TRUE(store_->zadd(index, "old-2", expired()).ok());
  json second = request("charge");
  invoke(second, 2);
  ASSERT_TRUE(queue_.waitForSettled(2));
  EXPECT_EQ(members().count("old-2"), 1u);
  EXPECT_EQ(members().count(second["activation_id"].get<std::string>()), 1u);

  clock_.advanceMs(61'000);
  json third = request("charge");
  invoke(third, 3);
  ASSERT_TRUE(queue_.waitForSettled(3));
  EXPECT_EQ(members().count("old-2"), 0u) << "trimmed once the minute passed";
  EXPECT_EQ(members().size(), 3u);
}

TEST_F(InvokerTest, AnIndexAddThatFailsAtTheStartIsRetriedAtTheEnd) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  const std::string index = *kv::keys::activationsByFunction(kTenant, kNs, "charge");
  struct FirstIndexAddFails : kv::testing::ForwardingStore {
    FirstIndexAddFails(kv::Store& inner, std::string key)
        : ForwardingStore(inner), indexKey(std::move(key)) {}
    Result<bool> zadd(std::string_view key, std::string_view member, double score) override {
      if (key == indexKey && !failed.exchange(true)) {
        return Error{ErrorCode::KvrocksWriteFailed, "injected"};
      }
      return ForwardingStore::zadd(key, member, score);
    }
    const std::string indexKey;
    std::atomic<bool> failed{false};
  } store(*store_, index);
  invoker_ = std::make_unique<Invoker>(
      InvokerOptions{}, InvokerDeps{store, queue_, *engine_, clock_, &observer_, {}, {}});
  ASSERT_TRUE(invoker_->start().ok());

  json body = request("charge");
  EXPECT_EQ(invoke(body)["status"], "success");
  ASSERT_TRUE(queue_.waitForSettled(1));
  EXPECT_TRUE(store.failed.load());
  auto listed = store_->zrangeByScore(index, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].member, body["activation_id"].get<std::string>());
  invoker_->stop();
  invoker_.reset();  // before `store`, which it uses, goes away
}

TEST_F(InvokerTest, SecondInvocationOfAVersionHitsTheBundleCache) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  invoke(request("charge"), 1);
  invoke(request("charge"), 2);
  EXPECT_EQ(engine_->runs(), 2);
  std::lock_guard lock(observer_.mu_);
  EXPECT_EQ(observer_.cache, (std::vector<CacheEvent>{CacheEvent::Miss, CacheEvent::Hit}));
  EXPECT_EQ(observer_.coldStarts.load(), 1);
  EXPECT_EQ(invoker_->cacheStatsForTest().items, 1u);
}

TEST_F(InvokerTest, Sha256MismatchIsAnErrorWithoutRunning) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  // The stored bytes change after publish: a valid bundle, but not the published one.
  auto other = bundle::pack({{"function.js", "export default async function () { return 2; }"},
                             {"manifest.json", kManifest}});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      store_->set(*kv::keys::versionBundle(kTenant, kNs, "charge", 1), *other, kv::kNoTtl).ok());
  startInvoker();
  json body = request("charge");
  json result = invoke(body);
  EXPECT_TRUE(api::validateInvocationResult(result).ok()) << result.dump();
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result["error"]["type"], "BundleInvalid");
  EXPECT_EQ(result["error"]["code"], "CS_VALIDATION_FAILED");
  EXPECT_NE(result["error"]["message"].get<std::string>().find("sha256"), std::string::npos);
  EXPECT_EQ(engine_->runs(), 0);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Error);
  EXPECT_EQ(invoker_->cacheStatsForTest().items, 0u);
}

TEST_F(InvokerTest, InvalidManifestInTheBundleIsAnError) {
  auto tar =
      bundle::pack({{"function.js", "export default async function () { return 1; }"},
                    {"manifest.json", R"({"schema":"cs.function.script.v1","runtime":"node"})"}});
  ASSERT_TRUE(tar.ok());
  putVersion("charge", 1, "unused");
  kv::VersionRecord v{1, bundle::sha256(*tar), json::object(), 0};
  ASSERT_TRUE(
      store_->set(*kv::keys::versionMeta(kTenant, kNs, "charge", 1), kv::encode(v), kv::kNoTtl)
          .ok());
  ASSERT_TRUE(
      store_->set(*kv::keys::versionBundle(kTenant, kNs, "charge", 1), *tar, kv::kNoTtl).ok());
  startInvoker();
  json result = invoke(request("charge"));
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result["error"]["code"], "CS_VALIDATION_MANIFEST_INVALID");
  EXPECT_EQ(engine_->runs(), 0);
}

TEST_F(InvokerTest, InvalidRequestsGoToTheDlqAndAreAcked) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  // A name that passes the message schema but not SPEC §3.
  json badName = request("charge");
  badName["namespace"] = "Payments.EU";
  codeq::Envelope e1 = envelope(badName);
  queue_.deliver(e1);
  // A body that breaks the schema (the embedded driver would not deliver it; others might).
  json noEvent = request("charge");
  noEvent.erase("event");
  codeq::Envelope e2 = envelope(noEvent);
  queue_.deliver(e2);
  ASSERT_TRUE(queue_.waitForPublished(kDlq, 2));
  ASSERT_TRUE(queue_.waitForSettled(2));
  auto dlq = queue_.published(kDlq);
  std::set<std::string> ids{dlq[0].envelope.id, dlq[1].envelope.id};
  EXPECT_EQ(ids, (std::set<std::string>{e1.id, e2.id}));
  EXPECT_EQ(queue_.acked().size(), 2u);
  EXPECT_TRUE(queue_.published(kResults).empty());
  EXPECT_EQ(engine_->runs(), 0);
}

TEST_F(InvokerTest, ExceptionMapsToAnErrorRecord) {
  putVersion("charge", 1, R"(
    export default async function () { cs.log.warn('before'); throw new Error('boom'); })");
  startInvoker();
  json body = request("charge");
  json result = invoke(body);
  EXPECT_TRUE(api::validateInvocationResult(result).ok()) << result.dump();
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result["error"]["type"], "Exception");
  EXPECT_EQ(result["error"]["code"], "CS_RUNTIME_EXCEPTION");
  EXPECT_NE(result["error"]["message"].get<std::string>().find("boom"), std::string::npos);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Error);
  ASSERT_TRUE(rec->error.has_value());
  EXPECT_EQ(rec->error->type, "Exception");
  EXPECT_EQ(rec->error->code, "CS_RUNTIME_EXCEPTION");
  EXPECT_FALSE(rec->result.has_value());
  EXPECT_EQ(rec->logChunks, 1);  // logs of a failed run are kept too
}

TEST_F(InvokerTest, TimeoutMapsToATimeoutRecordWithTheConfigTimeout) {
  putVersion("spin", 1, "export default async function () { for (;;) {} }",
             json{{"timeout_ms", 300}, {"memory_mb", 128}, {"max_concurrency", 10}});
  startInvoker();
  json body = request("spin");
  json result = invoke(body);
  EXPECT_TRUE(api::validateInvocationResult(result).ok()) << result.dump();
  EXPECT_EQ(result["status"], "timeout");
  EXPECT_EQ(result["error"]["type"], "Timeout");
  EXPECT_EQ(result["error"]["code"], "CS_RUNTIME_TIMEOUT");
  EXPECT_EQ(engine_->lastTimeoutMs(), 300);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Timeout);
  EXPECT_EQ(rec->error->code, "CS_RUNTIME_TIMEOUT");
}

TEST_F(InvokerTest, EngineTimeoutIsCappedByTheRequestDeadline) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json body = request("charge");
  body["deadline_ms"] = clock_.nowMs() + 1234;  // config says 5000
  invoke(body);
  EXPECT_EQ(engine_->lastTimeoutMs(), 1234);
}

TEST_F(InvokerTest, ResultGoesToResultsAndToReplyTo) {
  putVersion("charge", 1, "export default async function () { return {statusCode: 202}; }");
  startInvoker();
  json body = request("charge");
  body["trigger"] = {{"type", "http"}, {"source", {{"reply_to", "cs.reply.gw1"}, {"route", "/x"}}}};
  json result = invoke(body);
  ASSERT_TRUE(queue_.waitForPublished("cs.reply.gw1", 1));
  auto replies = queue_.published("cs.reply.gw1");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].envelope.body, result);
  EXPECT_EQ(replies[0].envelope.type, "cs.results.v1");
  EXPECT_EQ(replies[0].envelope.tenant, kTenant);
  EXPECT_EQ(result["result"]["statusCode"], 202);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->trigger.type, kv::TriggerType::Http);
  EXPECT_EQ(rec->trigger.source["route"], "/x");
}

TEST_F(InvokerTest, AliasResolvesToItsVersionAndReachesCtx) {
  putVersion("charge", 1, "export default async function () { return 'v1'; }");
  putVersion("charge", 2, "export default async function (event, ctx) { return ctx; }");
  putAlias("charge", "live", 2);
  startInvoker();
  json body = request("charge", json{{"alias", "live"}});
  json result = invoke(body);
  ASSERT_EQ(result["status"], "success") << result.dump();
  EXPECT_EQ(result["version"], 2);
  json ctx = json::parse(result["result"]["body"].get<std::string>());
  EXPECT_EQ(ctx["version"], 2);
  EXPECT_EQ(ctx["ref"], json({{"alias", "live"}}));
  EXPECT_EQ(ctx["activation_id"], body["activation_id"]);
  EXPECT_EQ(ctx["tenant"], kTenant);
  EXPECT_EQ(ctx["namespace"], kNs);
  EXPECT_EQ(ctx["function"], "charge");
  EXPECT_EQ(ctx["deadline_ms"], body["deadline_ms"]);
  EXPECT_EQ(ctx["trigger"], json({{"type", "api"}}));
  EXPECT_EQ(ctx["principal"], json({{"sub", "user:1"}, {"roles", {"dev"}}}));
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->version, 2);
  EXPECT_EQ(rec->alias, "live");
}

TEST_F(InvokerTest, UnknownAliasFunctionOrVersionIsANotFoundResult) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json r1 = invoke(request("charge", json{{"alias", "nope"}}), 1);
  json r2 = invoke(request("refund"), 2);
  json r3 = invoke(request("charge", json{{"version", 9}}), 3);
  for (const json& r : {r1, r2, r3}) {
    EXPECT_TRUE(api::validateInvocationResult(r).ok()) << r.dump();
    EXPECT_EQ(r["status"], "error");
    EXPECT_EQ(r["error"]["type"], "NotFound");
    EXPECT_EQ(r["error"]["code"], "CS_NOT_FOUND");
  }
  EXPECT_NE(r1["error"]["message"].get<std::string>().find("alias nope"), std::string::npos);
  EXPECT_EQ(engine_->runs(), 0);
  ASSERT_TRUE(queue_.waitForSettled(3));
  EXPECT_EQ(queue_.acked().size(), 3u);
}

TEST_F(InvokerTest, PerVersionSemaphoreSerialisesWithoutBlockingOtherVersions) {
  json one = json{{"timeout_ms", 5000}, {"memory_mb", 128}, {"max_concurrency", 1}};
  putVersion("charge", 1, "export default async function () { return 'v1'; }", one);
  putVersion("charge", 2, "export default async function () { return 'v2'; }", one);
  InvokerOptions o;
  o.workers.threads = 2;
  startInvoker(o);
  engine_->hold();
  queue_.deliver(envelope(request("charge")));
  ASSERT_TRUE(engine_->waitInside(1));
  queue_.deliver(envelope(request("charge")));  // same version: must wait, parked
  ASSERT_TRUE(queue_.waitFor([&] { return invoker_->parkedForTest() == 1; }));
  // A worker is still free for another version.
  queue_.deliver(envelope(request("charge", json{{"version", 2}})));
  ASSERT_TRUE(engine_->waitInside(2));
  EXPECT_EQ(engine_->runs(), 2);
  engine_->release();
  ASSERT_TRUE(queue_.waitForPublished(kResults, 3));
  EXPECT_EQ(engine_->runs(), 3);
  EXPECT_EQ(engine_->maxConcurrent(1), 1);
  EXPECT_EQ(engine_->maxConcurrent(2), 1);
  for (const auto& p : queue_.published(kResults)) EXPECT_EQ(p.envelope.body["status"], "success");
  ASSERT_TRUE(queue_.waitForSettled(3));
  EXPECT_EQ(queue_.acked().size(), 3u);
}

TEST_F(InvokerTest, DeadlineAlreadyPassedEndsAsTimeoutWithoutRunning) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json body = request("charge");
  body["deadline_ms"] = clock_.nowMs() - 1;
  json result = invoke(body);
  EXPECT_TRUE(api::validateInvocationResult(result).ok()) << result.dump();
  EXPECT_EQ(result["status"], "timeout");
  EXPECT_EQ(result["error"]["code"], "CS_RUNTIME_TIMEOUT");
  EXPECT_EQ(engine_->runs(), 0);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Timeout);
  EXPECT_FALSE(rec->startedAtMs.has_value());
}

TEST_F(InvokerTest, QueuedRecordIsRunAndKeepsItsCreationTime) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json body = request("charge");
  kv::ActivationRecord queued;
  queued.activationId = body["activation_id"];
  queued.tenant = kTenant;
  queued.ns = kNs;
  queued.function = "charge";
  queued.requestId = body["request_id"];
  queued.status = kv::ActivationStatus::Queued;
  queued.createdAtMs = 1234;
  auto cas = store_->casActivationStatus(*kv::keys::activation(kTenant, queued.activationId), {""},
                                         kv::encode(queued), 60000);
  ASSERT_TRUE(cas.ok());
  json result = invoke(body);
  EXPECT_EQ(result["status"], "success");
  auto rec = record(queued.activationId);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Success);
  EXPECT_EQ(rec->createdAtMs, 1234);
  EXPECT_EQ(engine_->runs(), 1);
}

TEST_F(InvokerTest, RunningRecordIsLeftAloneUntilItsDeadlineThenFinishedAsTimeout) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json body = request("charge");
  kv::ActivationRecord running;
  running.activationId = body["activation_id"];
  running.tenant = kTenant;
  running.ns = kNs;
  running.function = "charge";
  running.version = 1;
  running.requestId = body["request_id"];
  running.status = kv::ActivationStatus::Running;
  running.createdAtMs = clock_.nowMs();
  running.startedAtMs = clock_.nowMs();
  ASSERT_TRUE(store_
                  ->casActivationStatus(*kv::keys::activation(kTenant, running.activationId), {""},
                                        kv::encode(running), 600000)
                  .ok());
  // Another replica may still be running it: no run, no result, come back after the deadline.
  std::string d1 = queue_.deliver(envelope(body));
  ASSERT_TRUE(queue_.waitForSettled(1));
  auto nacks = queue_.nacked();
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].deliveryId, d1);
  EXPECT_GT(nacks[0].delayMs, 60000);  // deadline (60 s ahead) + grace
  EXPECT_TRUE(queue_.published(kResults).empty());

  // After deadline + grace the runner is presumed dead: finished as timeout, never re-run.
  clock_.advanceMs(70000);
  json result = invoke(body);
  EXPECT_EQ(result["status"], "timeout");
  EXPECT_EQ(result["error"]["code"], "CS_RUNTIME_TIMEOUT");
  EXPECT_EQ(engine_->runs(), 0);
  auto rec = record(running.activationId);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Timeout);
}

TEST_F(InvokerTest, ScheduleTriggerClearsItsOwnInflightMarker) {
  putVersion("charge", 1, "export default async function () { return 1; }");
  startInvoker();
  json body = request("charge");
  body["trigger"] = {{"type", "schedule"}, {"source", {{"schedule", "nightly"}}}};
  std::string marker = *kv::keys::scheduleInflight(kTenant, kNs, "nightly");
  ASSERT_TRUE(store_->set(marker, body["activation_id"].get<std::string>(), 600000).ok());
  // A marker of another activation (another schedule) stays.
  std::string otherMarker = *kv::keys::scheduleInflight(kTenant, kNs, "hourly");
  ASSERT_TRUE(store_->set(otherMarker, crypto::uuidV4(), 600000).ok());
  json result = invoke(body);
  EXPECT_EQ(result["status"], "success");
  ASSERT_TRUE(queue_.waitForSettled(1));
  EXPECT_FALSE(*store_->exists(marker));
  EXPECT_TRUE(*store_->exists(otherMarker));

  // A marker holding another activation id is not ours to clear.
  json next = request("charge");
  next["trigger"] = body["trigger"];
  std::string newer = crypto::uuidV4();
  ASSERT_TRUE(store_->set(marker, newer, 600000).ok());
  invoke(next, 2);
  ASSERT_TRUE(queue_.waitForSettled(2));
  EXPECT_EQ(**store_->get(marker), newer);
}

TEST_F(InvokerTest, PublishFailureNacksAndTheRedeliveryRepublishesWithoutRunning) {
  putVersion("charge", 1, "export default async function () { return 'x'; }");
  startInvoker();
  queue_.failNextPublishes(1);
  json body = request("charge");
  std::string d1 = queue_.deliver(envelope(body));
  ASSERT_TRUE(queue_.waitForSettled(1));
  ASSERT_EQ(queue_.nacked().size(), 1u);
  EXPECT_EQ(queue_.nacked()[0].deliveryId, d1);
  auto rec = record(body["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Success);  // terminal before publishing
  json result = invoke(body);                             // the redelivery
  EXPECT_EQ(result["status"], "success");
  EXPECT_EQ(engine_->runs(), 1);
}

TEST_F(InvokerTest, StopNacksParkedDeliveries) {
  json one = json{{"timeout_ms", 5000}, {"memory_mb", 128}, {"max_concurrency", 1}};
  putVersion("charge", 1, "export default async function () { return 1; }", one);
  startInvoker();
  engine_->hold();
  queue_.deliver(envelope(request("charge")));
  ASSERT_TRUE(engine_->waitInside(1));
  std::string parked = queue_.deliver(envelope(request("charge")));
  ASSERT_TRUE(queue_.waitFor([&] { return invoker_->parkedForTest() == 1; }));
  std::thread releaser([&] {
    // Let the running activation finish once stop() has begun (it unsubscribes first), so
    // the parked job handed over by the semaphore is given back, not run.
    while (queue_.subscribed()) std::this_thread::yield();
    engine_->release();
  });
  invoker_->stop();
  releaser.join();
  auto nacks = queue_.nacked();
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].deliveryId, parked);
  EXPECT_EQ(nacks[0].delayMs, 0);
  EXPECT_EQ(queue_.acked().size(), 1u);
  EXPECT_EQ(engine_->runs(), 1);
}

class EchoProvider final : public runtime::HostProvider {
 public:
  std::string name() const override { return "echo"; }
  std::vector<std::string> methods() const override { return {"say"}; }
  Result<json> call(std::string_view, const json& args, int64_t) override { return args[0]; }
};

TEST_F(InvokerTest, ProviderFactoryBuildsHostProvidersPerActivation) {
  putVersion("charge", 1, R"(
    export default async function () { return await cs.echo.say('hello'); })");
  std::vector<std::string> seen;
  ProviderFactory factory = [&](const ActivationInfo& info) -> Result<Providers> {
    seen.push_back(info.request.activationId + "@" + std::to_string(info.version) + ":" +
                   std::to_string(info.config.value("max_concurrency", 0)));
    if (info.request.event.value("fail", false)) {
      return Error{ErrorCode::Internal, "no providers today"};
    }
    Providers out;
    out.push_back(std::make_unique<EchoProvider>());
    return out;
  };
  invoker_ = std::make_unique<Invoker>(
      InvokerOptions{}, InvokerDeps{*store_, queue_, *engine_, clock_, &observer_, factory, {}});
  ASSERT_TRUE(invoker_->start().ok());
  json body = request("charge");
  json result = invoke(body);
  EXPECT_EQ(result["status"], "success") << result.dump();
  EXPECT_EQ(result["result"]["body"], "\"hello\"");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], body["activation_id"].get<std::string>() + "@1:10");

  json failing = request("charge");
  failing["event"] = {{"fail", true}};
  json failed = invoke(failing, 2);
  EXPECT_EQ(failed["status"], "error");
  EXPECT_EQ(failed["error"]["code"], "CS_INTERNAL");
  EXPECT_EQ(engine_->runs(), 1);
  auto rec = record(failing["activation_id"]);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, kv::ActivationStatus::Error);
}

// End to end on the real embedded queue: publish to cs.invoke, read cs.results.
TEST_F(InvokerTest, EndToEndOnTheEmbeddedQueue) {
  putVersion("charge", 1, R"(
    export default async function (event) { return {statusCode: 200, body: 'hi ' + event.n}; })");
  auto queue = codeq::makeEmbeddedQueue();
  ASSERT_TRUE(queue->start().ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> results;
  codeq::SubscribeOptions so;
  so.topic = kResults;
  so.group = "test";
  so.consumer = "t1";
  auto sub = queue->subscribe(so, [&](codeq::Delivery d) {
    (void)queue->ack(d);
    std::lock_guard lock(mu);
    results.push_back(d.envelope.body);
    cv.notify_all();
  });
  ASSERT_TRUE(sub.ok());
  startInvoker({}, queue.get());

  json body = request("charge");
  ASSERT_TRUE(queue->publish("cs.invoke", codeq::makeEnvelope(kTenant, "cs.invoke.v1", body)).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return !results.empty(); }));
    EXPECT_EQ(results[0]["activation_id"], body["activation_id"]);
    EXPECT_EQ(results[0]["status"], "success");
    EXPECT_EQ(results[0]["result"]["body"], "hi 1");
  }
  invoker_->stop();
  invoker_.reset();
  (*sub)->stop();
  queue->stop();
  EXPECT_EQ(engine_->runs(), 1);
}

}  // namespace
}  // namespace cs::invoker

namespace cs::invoker {
namespace {

class InvokerEnvironmentTest : public InvokerTest {};

TEST_F(InvokerEnvironmentTest, EnvReachesCtxAndSecretsNeverReachStoredLogsOrErrors) {
  const std::string secret = "sk_live_4f9c2a7e11";
  putVersion("pay", 1, R"(
    export default async function (event, ctx) {
      console.log("plain", ctx.env.PLAIN, "key", ctx.env.KEY);
      throw new Error("charge failed for key " + ctx.env.KEY);
    })",
             json{{"timeout_ms", 5000},
                  {"memory_mb", 128},
                  {"max_concurrency", 10},
                  {"env", {{"PLAIN", "visible"}}},
                  {"secrets", {{"KEY", "kv:tenant/pay/key"}}}});
  json seenConfigEnv;
  invoker_ = std::make_unique<Invoker>(
      InvokerOptions{},
      InvokerDeps{*store_, queue_, *engine_, clock_, &observer_, {},
                  [&](const ActivationInfo& info) -> Result<ActivationEnv> {
                    seenConfigEnv = info.config["env"];
                    return ActivationEnv{json{{"PLAIN", "visible"}, {"KEY", secret}}, {secret}};
                  }});
  ASSERT_TRUE(invoker_->start().ok());
  auto body = request("pay");
  std::string id = body["activation_id"];
  auto result = invoke(body);
  EXPECT_EQ(seenConfigEnv["PLAIN"], "visible");
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result.dump().find(secret), std::string::npos) << result.dump();

  auto rec = record(id);
  ASSERT_TRUE(rec);
  ASSERT_TRUE(rec->error);
  EXPECT_EQ(rec->error->message, "Error: charge failed for key [REDACTED]");
  EXPECT_EQ(rec->error->stack.find(secret), std::string::npos);
  std::string logs;
  auto seqs = store_->zrangeByScore(*kv::keys::logChunks(kTenant, id), {});
  ASSERT_TRUE(seqs.ok());
  for (const auto& m : *seqs) {
    auto raw = store_->get(*kv::keys::logChunk(kTenant, id, static_cast<int64_t>(m.score)));
    ASSERT_TRUE(raw.ok() && *raw);
    logs += **raw;
  }
  EXPECT_NE(logs.find("plain visible key [REDACTED]"), std::string::npos) << logs;
  EXPECT_EQ(logs.find(secret), std::string::npos) << logs;
}

TEST_F(InvokerEnvironmentTest, UnresolvableEnvironmentFailsWithoutRunning) {
  putVersion("pay", 1, "export default () => 'ran'");
  invoker_ = std::make_unique<Invoker>(
      InvokerOptions{},
      InvokerDeps{*store_, queue_, *engine_, clock_, &observer_, {},
                  [](const ActivationInfo&) -> Result<ActivationEnv> {
                    return Error{ErrorCode::NotFound, "secret KEY not found"};
                  }});
  ASSERT_TRUE(invoker_->start().ok());
  int runsBefore = engine_->runs();
  auto result = invoke(request("pay"));
  EXPECT_EQ(result["status"], "error");
  EXPECT_EQ(result["error"]["code"], "CS_NOT_FOUND");
  EXPECT_EQ(engine_->runs(), runsBefore);
}

}  // namespace
}  // namespace cs::invoker
