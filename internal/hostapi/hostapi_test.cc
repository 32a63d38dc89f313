// cs.kv / cs.codeq providers, secrets and the provider factory, through the real V8 engine, a
// real SqliteStore (":memory:", ManualClock) and the embedded queue.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "internal/clock/clock.h"
#include "internal/codeq/embedded_queue.h"
#include "internal/hostapi/codeq_provider.h"
#include "internal/hostapi/factory.h"
#include "internal/hostapi/kv_provider.h"
#include "internal/hostapi/secrets.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"
#include "internal/kv/sqlite_store.h"
#include "internal/runtime/engine.h"

namespace cs::hostapi {
namespace {

using json = nlohmann::json;
using namespace std::string_literals;

constexpr char kTenantA[] = "t_tenanta";
constexpr char kTenantB[] = "t_tenantb";
constexpr char kNs[] = "payments";
constexpr char kNs2[] = "billing";
constexpr char kDenied[] = "CS_RUNTIME_CAPABILITY_DENIED";

class HostApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = runtime::makeV8Engine({.warmIsolates = 0}).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }

  void SetUp() override {
    auto opened = kv::SqliteStore::open({.path = ":memory:", .clock = &clock_});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(*opened);
    queue_ = codeq::makeEmbeddedQueue({});
    ASSERT_TRUE(queue_->start().ok());
  }
  void TearDown() override { queue_->stop(); }

  struct Run {
    runtime::ActivationResult result;
    json body;  // parsed response body (null when absent or not JSON)
    std::string allLogs() const {
      std::string s;
      for (const auto& e : result.logs) s += e.level + " " + e.message + "\n";
      return s;
    }
  };

  Run run(const std::string& source, std::vector<runtime::HostProvider*> providers,
          const json& ctx = json::object(), std::vector<std::string> redact = {}) {
    runtime::SourceFiles files{{"function.js", source}};
    runtime::Invocation inv;
    inv.files = &files;
    inv.ctxJson = ctx.dump();
    inv.limits.timeoutMs = 10000;
    inv.providers = std::move(providers);
    inv.redact = std::move(redact);
    Run r{engine_->run(inv), nullptr};
    if (r.result.response) r.body = json::parse(r.result.response->body, nullptr, false);
    return r;
  }

  KvProvider kvFor(const std::string& tenant, const std::string& ns,
                   std::vector<std::string> prefixes = {"user:"},
                   std::vector<std::string> ops = {"get", "set", "del"}) {
    return KvProvider(tenant, ns, api::KvCapability{std::move(prefixes), std::move(ops)}, *store_);
  }

  std::vector<std::string> keysWithPrefix(const std::string& prefix) {
    auto page = store_->scanPrefix(prefix, "", 10000);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->keys : std::vector<std::string>{};
  }

  static int64_t farDeadline() { return runtime::nowSteadyMs() + 60000; }

  static runtime::Engine* engine_;
  ManualClock clock_;
  std::unique_ptr<kv::SqliteStore> store_;
  std::unique_ptr<codeq::EmbeddedQueue> queue_;
};

runtime::Engine* HostApiTest::engine_ = nullptr;

// ---- cs.kv -------------------------------------------------------------------------------------

TEST_F(HostApiTest, KvCallsOutsidePrefixesOrOpsAreDeniedAndLogged) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"}, {"get", "set"});
  auto r = run(R"(export default async function () {
    const out = {};
    try { await cs.kv.set("admin:root", 1); out.prefix = "allowed"; } catch (e) { out.prefix = e.code; }
    try { await cs.kv.del("user:x"); out.op = "allowed"; } catch (e) { out.op = e.code; }
    await cs.kv.set("user:x", {a: [1, "two"]});
    out.value = await cs.kv.get("user:x");
    out.missing = await cs.kv.get("user:none");
    return out;
  })",
               {&kv});
  ASSERT_EQ(r.result.outcome, runtime::Outcome::Success) << r.result.error->message;
  EXPECT_EQ(r.body["prefix"], kDenied);
  EXPECT_EQ(r.body["op"], kDenied);
  EXPECT_EQ(r.body["value"], json::parse(R"({"a":[1,"two"]})"));
  EXPECT_TRUE(r.body["missing"].is_null());
  std::string logs = r.allLogs();
  EXPECT_NE(logs.find(std::string(kDenied) + " cs.kv.set: key \"admin:root\""), std::string::npos)
      << logs;
  EXPECT_NE(logs.find("cs.kv.del: op \"del\" on key \"user:x\""), std::string::npos) << logs;
  // The denied set wrote nothing; the allowed one wrote exactly one scoped key.
  EXPECT_EQ(keysWithPrefix("cs:ukv:"),
            std::vector<std::string>{*kv::keys::userKv(kTenantA, kNs, "user:x")});
}

TEST_F(HostApiTest, UncaughtDenialEndsTheActivationAsCapabilityDenied) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"}, {"get"});
  auto r = run("export default async function () { return await cs.kv.get('secret:x'); }", {&kv});
  EXPECT_EQ(r.result.outcome, runtime::Outcome::CapabilityDenied);
  ASSERT_TRUE(r.result.error.has_value());
  EXPECT_EQ(r.result.error->code, ErrorCode::RuntimeCapabilityDenied);
  EXPECT_NE(r.result.error->message.find("secret:x"), std::string::npos);
}

TEST_F(HostApiTest, KvEmptyPrefixListOrEmptyOpsDenyEverything) {
  KvProvider noPrefixes = kvFor(kTenantA, kNs, {}, {"get", "set", "del"});
  KvProvider noOps = kvFor(kTenantA, kNs, {"user:"}, {});
  for (KvProvider* kv : {&noPrefixes, &noOps}) {
    for (const char* method : {"get", "set", "del"}) {
      json args = std::string(method) == "set" ? json::array({"user:x", 1}) : json::array({"user:x"});
      auto res = kv->call(method, args, farDeadline());
      ASSERT_FALSE(res.ok()) << method;
      EXPECT_EQ(res.error().code, ErrorCode::RuntimeCapabilityDenied) << method;
    }
  }
  EXPECT_TRUE(keysWithPrefix("cs:").empty());
}

TEST_F(HostApiTest, KvTrailingStarOnAPrefixIsIgnored) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:*"}, {"set"});
  EXPECT_TRUE(kv.authorize("set", "user:1").ok());
  EXPECT_FALSE(kv.authorize("set", "use").ok());
  EXPECT_FALSE(kv.authorize("set", "other").ok());
}

TEST_F(HostApiTest, TwoTenantsAndTwoNamespacesNeverSeeEachOthersValues) {
  KvProvider a = kvFor(kTenantA, kNs);
  KvProvider b = kvFor(kTenantB, kNs);
  KvProvider a2 = kvFor(kTenantA, kNs2);
  // Each writes its own marker, then reads it back; earlier writes by others are invisible.
  const std::string src = R"(export default async function (event, ctx) {
    const before = await cs.kv.get("user:shared");
    await cs.kv.set("user:shared", ctx.marker);
    return {before, after: await cs.kv.get("user:shared")};
  })";
  auto ra = run(src, {&a}, {{"marker", "A"}});
  auto rb = run(src, {&b}, {{"marker", "B"}});
  auto ra2 = run(src, {&a2}, {{"marker", "A2"}});
  for (const Run* r : {&ra, &rb, &ra2}) {
    ASSERT_EQ(r->result.outcome, runtime::Outcome::Success);
    EXPECT_TRUE(r->body["before"].is_null()) << r->body.dump();
  }
  EXPECT_EQ(ra.body["after"], "A");
  EXPECT_EQ(rb.body["after"], "B");
  EXPECT_EQ(ra2.body["after"], "A2");
  // A second run of tenant A still sees its own value, not B's.
  auto again = run(src, {&a}, {{"marker", "A-again"}});
  EXPECT_EQ(again.body["before"], "A");
  // Deleting in tenant B leaves tenant A's value.
  ASSERT_TRUE(b.call("del", json::array({"user:shared"}), farDeadline()).ok());
  auto got = a.call("get", json::array({"user:shared"}), farDeadline());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "A-again");
  EXPECT_EQ(keysWithPrefix(std::string("cs:ukv:") + kTenantB + ":").size(), 0u);
  EXPECT_EQ(keysWithPrefix(std::string("cs:ukv:") + kTenantA + ":").size(), 2u);
}

TEST_F(HostApiTest, HostileUserKeysStayInsideTheTenantNamespaceScope) {
  // Platform records that a key-injection attempt would like to reach.
  const std::string fnMeta = *kv::keys::functionMeta(kTenantB, kNs, "victim");
  const std::string secretB = *kv::keys::secret(kTenantB, "db/password");
  ASSERT_TRUE(store_->set(fnMeta, "meta-b", kv::kNoTtl).ok());
  ASSERT_TRUE(store_->set(secretB, "secret-b", kv::kNoTtl).ok());

  KvProvider kv = kvFor(kTenantA, kNs, {"u"});
  const std::vector<std::string> hostile = {
      "u../../cs:fn:t_tenantb:payments:victim:meta",
      std::string("u:") + "t_tenantb:payments:x",
      "u*",
      "u:*",
      "u\0:cs:secret:t_tenantb:db/password"s,
      "u\xE2\x98\x83 snow",  // unicode
      "u%3Ax",
      "u:x",
      "u\r\n:SET cs:lease:x",
  };
  // Through the engine (the keys arrive as the event, so JS holds the exact bytes).
  runtime::SourceFiles files{{"function.js", R"(export default async function (event) {
    for (let i = 0; i < event.length; i++) await cs.kv.set(event[i], i);
    const back = [];
    for (const k of event) back.push(await cs.kv.get(k));
    return back;
  })"}};
  runtime::Invocation inv;
  inv.files = &files;
  inv.eventJson = json(hostile).dump();
  inv.providers = {&kv};
  auto res = engine_->run(inv);
  ASSERT_EQ(res.outcome, runtime::Outcome::Success) << (res.error ? res.error->message : "");
  json back = json::parse(res.response->body);
  ASSERT_EQ(back.size(), hostile.size());
  for (size_t i = 0; i < hostile.size(); ++i) EXPECT_EQ(back[i], i) << i;  // all distinct keys

  // Platform records untouched, and every written key is scoped and decodes to the user key.
  EXPECT_EQ(*store_->get(fnMeta), std::optional<std::string>("meta-b"));
  EXPECT_EQ(*store_->get(secretB), std::optional<std::string>("secret-b"));
  const std::string scope = std::string("cs:ukv:") + kTenantA + ":" + kNs + ":";
  auto keys = keysWithPrefix("cs:ukv:");
  ASSERT_EQ(keys.size(), hostile.size());
  std::vector<std::string> decoded;
  for (const auto& k : keys) {
    ASSERT_TRUE(k.starts_with(scope)) << k;
    std::string rest = k.substr(scope.size());
    EXPECT_EQ(rest.find(':'), std::string::npos) << k;
    EXPECT_EQ(rest.find('\0'), std::string::npos) << k;
    auto d = kv::keys::decodeUserKey(rest);
    ASSERT_TRUE(d.has_value()) << k;
    decoded.push_back(*d);
  }
  std::vector<std::string> expected = hostile;
  std::sort(expected.begin(), expected.end());
  std::sort(decoded.begin(), decoded.end());
  EXPECT_EQ(decoded, expected);
}

TEST_F(HostApiTest, KvRejectsBadArgumentsWithValidationFailed) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"});
  const auto d = farDeadline();
  auto code = [&](const char* method, json args) {
    auto res = kv.call(method, args, d);
    return res.ok() ? std::string("ok") : std::string(res.error().name());
  };
  const std::string big(256 << 10, 'x');
  EXPECT_EQ(code("get", json::array({42})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("get", json::array({nullptr})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("get", json::array({""})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("get", json::array({"user:" + std::string(507, 'k')})), "ok");  // 512 bytes
  EXPECT_EQ(code("get", json::array({"user:" + std::string(508, 'k')})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("get", json::array({"user:a", "extra"})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("get", json::object()), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", big})), "CS_VALIDATION_FAILED");  // + quotes
  EXPECT_EQ(code("set", json::array({"user:a", std::string((256 << 10) - 2, 'x')})), "ok");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", 0}}})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", -5}}})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", 1.5}}})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", "10"}}})),
            "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", 365 * 86400 + 1}}})),
            "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttlSeconds", 365 * 86400}}})), "ok");
  EXPECT_EQ(code("set", json::array({"user:a", 1, {{"ttl", 10}}})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, "10"})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code("set", json::array({"user:a", 1, nullptr})), "ok");
  EXPECT_EQ(code("nope", json::array({"user:a"})), "CS_VALIDATION_FAILED");
  // A passed deadline refuses the call.
  auto late = kv.call("get", json::array({"user:a"}), runtime::nowSteadyMs() - 1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::RuntimeTimeout);
}

TEST_F(HostApiTest, KvValidationErrorsReachJsWithTheirCode) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"});
  auto r = run(R"(export default async function () {
    try { await cs.kv.set("user:a", "x".repeat(300 * 1024)); return "stored"; }
    catch (e) { return e.code; }
  })",
               {&kv});
  EXPECT_EQ(r.body, "CS_VALIDATION_FAILED");
  EXPECT_TRUE(keysWithPrefix("cs:ukv:").empty());
}

TEST_F(HostApiTest, KvTtlSecondsIsHonoured) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"});
  auto r = run(R"(export default async function () {
    await cs.kv.set("user:short", "s", {ttlSeconds: 10});
    await cs.kv.set("user:forever", "f");
    return [await cs.kv.get("user:short"), await cs.kv.get("user:forever")];
  })",
               {&kv});
  ASSERT_EQ(r.result.outcome, runtime::Outcome::Success);
  EXPECT_EQ(r.body, json::parse(R"(["s","f"])"));
  const std::string readBoth = R"(export default async function () {
    return [await cs.kv.get("user:short"), await cs.kv.get("user:forever")];
  })";
  clock_.advanceMs(9999);
  EXPECT_EQ(run(readBoth, {&kv}).body, json::parse(R"(["s","f"])"));
  clock_.advanceMs(2);
  EXPECT_EQ(run(readBoth, {&kv}).body, json::parse(R"([null,"f"])"));
}

TEST_F(HostApiTest, KvDelReportsRemovalAndStorageErrorsKeepTheirCode) {
  KvProvider kv = kvFor(kTenantA, kNs, {"user:"});
  // A key of another type (WRONGTYPE) and a non-JSON string at the scoped keys.
  ASSERT_TRUE(store_->sadd(*kv::keys::userKv(kTenantA, kNs, "user:set"), "m").ok());
  ASSERT_TRUE(store_->set(*kv::keys::userKv(kTenantA, kNs, "user:raw"), "{not json", kv::kNoTtl).ok());
  auto r = run(R"(export default async function () {
    const codes = {};
    for (const k of ["user:set", "user:raw"]) {
      try { await cs.kv.get(k); codes[k] = "ok"; } catch (e) { codes[k] = e.code; }
    }
    await cs.kv.set("user:d", 1);
    codes.del1 = await cs.kv.del("user:d");
    codes.del2 = await cs.kv.del("user:d");
    return codes;
  })",
               {&kv});
  ASSERT_EQ(r.result.outcome, runtime::Outcome::Success);
  EXPECT_EQ(r.body["user:set"], "CS_KVROCKS_READ_FAILED");
  EXPECT_EQ(r.body["user:raw"], "CS_KVROCKS_READ_FAILED");
  EXPECT_EQ(r.body["del1"], true);
  EXPECT_EQ(r.body["del2"], false);
}

// ---- cs.codeq ----------------------------------------------------------------------------------

CodeqScope scopeA() { return {kTenantA, kNs, "checkout", "7d2c7a4e-1f7b-4a8e-9d8e-0a1b2c3d4e5f"}; }

TEST_F(HostApiTest, CodeqPublishesAllowedTopicsWithTheTenantAndDeniesOthers) {
  CodeqProvider codeq(scopeA(), api::CodeqCapability{{"orders", "events.*"}}, *queue_);
  auto r = run(R"(export default async function () {
    const out = {};
    for (const t of ["orders", "events.created", "events.", "events", "ordersX", "other"]) {
      try { await cs.codeq.publish(t, {n: 1, t}); out[t] = "ok"; } catch (e) { out[t] = e.code; }
    }
    return out;
  })",
               {&codeq});
  ASSERT_EQ(r.result.outcome, runtime::Outcome::Success);
  EXPECT_EQ(r.body["orders"], "ok");
  EXPECT_EQ(r.body["events.created"], "ok");
  EXPECT_EQ(r.body["events."], "ok");
  EXPECT_EQ(r.body["events"], kDenied);
  EXPECT_EQ(r.body["ordersX"], kDenied);
  EXPECT_EQ(r.body["other"], kDenied);
  EXPECT_NE(r.allLogs().find("topic \"other\" is not allowed"), std::string::npos) << r.allLogs();

  auto msgs = queue_->messagesForTest(userTopic(kTenantA, "orders"));
  ASSERT_EQ(msgs.size(), 1u);
  auto env = codeq::decode(msgs[0]);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->tenant, kTenantA);
  EXPECT_EQ(env->type, kUserMessageType);
  EXPECT_EQ(env->body, json({{"topic", "orders"},
                             {"payload", {{"n", 1}, {"t", "orders"}}},
                             {"namespace", kNs},
                             {"function", "checkout"},
                             {"activation_id", scopeA().activationId}}));
  EXPECT_EQ(queue_->messagesForTest(userTopic(kTenantA, "events.created")).size(), 1u);
  EXPECT_TRUE(queue_->messagesForTest(userTopic(kTenantA, "other")).empty());
  EXPECT_TRUE(queue_->messagesForTest("orders").empty());  // never the raw topic
}

TEST_F(HostApiTest, CodeqPlatformTopicsAreDeniedEvenWhenListedOrWildcarded) {
  CodeqProvider all(scopeA(), api::CodeqCapability{{"*", "cs.invoke", "cs.*"}}, *queue_);
  for (const char* topic : {"cs.invoke", "cs.results", "CS.Invoke", "cs.dlq.invoke", "cs",
                            "cs.user.t_tenantb.orders"}) {
    auto res = all.call("publish", json::array({topic, 1}), farDeadline());
    ASSERT_FALSE(res.ok()) << topic;
    EXPECT_EQ(res.error().code, ErrorCode::RuntimeCapabilityDenied) << topic;
  }
  EXPECT_TRUE(all.call("publish", json::array({"csv.rows", 1}), farDeadline()).ok());
  EXPECT_TRUE(all.call("publish", json::array({"anything", 1}), farDeadline()).ok());
  EXPECT_TRUE(queue_->messagesForTest("cs.invoke").empty());
  EXPECT_TRUE(queue_->messagesForTest("cs.results").empty());
  EXPECT_TRUE(isReservedTopic("cs.x"));
  EXPECT_FALSE(isReservedTopic("csx"));
}

TEST_F(HostApiTest, CodeqEmptyAllowlistDeniesAndBadArgumentsAreValidationErrors) {
  CodeqProvider none(scopeA(), api::CodeqCapability{{}}, *queue_);
  auto denied = none.call("publish", json::array({"orders", 1}), farDeadline());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::RuntimeCapabilityDenied);

  CodeqProvider codeq(scopeA(), api::CodeqCapability{{"*"}}, *queue_);
  auto code = [&](json args) {
    auto res = codeq.call("publish", args, farDeadline());
    return res.ok() ? std::string("ok") : std::string(res.error().name());
  };
  EXPECT_EQ(code(json::array({1, 1})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"", 1})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"a b", 1})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"a*", 1})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({std::string(257, 'a'), 1})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"a", std::string(256 << 10, 'x')})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"a", 1, 2})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"a"})), "ok");  // payload undefined → null
  EXPECT_EQ(queue_->messagesForTest(userTopic(kTenantA, "a")).size(), 1u);
}

TEST_F(HostApiTest, TwoTenantsPublishingTheSameTopicUseSeparateQueues) {
  CodeqProvider a(scopeA(), api::CodeqCapability{{"orders"}}, *queue_);
  CodeqScope sb = scopeA();
  sb.tenant = kTenantB;
  CodeqProvider b(sb, api::CodeqCapability{{"orders"}}, *queue_);
  ASSERT_TRUE(a.call("publish", json::array({"orders", "from-a"}), farDeadline()).ok());
  ASSERT_TRUE(b.call("publish", json::array({"orders", "from-b"}), farDeadline()).ok());
  auto ma = queue_->messagesForTest(userTopic(kTenantA, "orders"));
  auto mb = queue_->messagesForTest(userTopic(kTenantB, "orders"));
  ASSERT_EQ(ma.size(), 1u);
  ASSERT_EQ(mb.size(), 1u);
  EXPECT_EQ(codeq::decode(ma[0])->tenant, kTenantA);
  EXPECT_EQ(codeq::decode(ma[0])->body["payload"], "from-a");
  EXPECT_EQ(codeq::decode(mb[0])->tenant, kTenantB);
}

TEST_F(HostApiTest, CodeqRecorderModeRecordsInsteadOfPublishing) {
  Recorder recorder(2);
  CodeqProvider codeq(scopeA(), api::CodeqCapability{{"orders"}}, recorder);
  auto r = run(R"(export default async function () {
    await cs.codeq.publish("orders", {id: 1});
    await cs.codeq.publish("orders", [2]);
    try { await cs.codeq.publish("orders", 3); return "third ok"; } catch (e) { return e.code; }
  })",
               {&codeq});
  EXPECT_EQ(r.body, "CS_VALIDATION_FAILED");
  EXPECT_EQ(recorder.toJson(), json::parse(R"([{"topic":"orders","payload":{"id":1}},
                                               {"topic":"orders","payload":[2]}])"));
  auto msgs = recorder.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].envelope.tenant, kTenantA);
  EXPECT_EQ(msgs[0].queueTopic, userTopic(kTenantA, "orders"));
  EXPECT_TRUE(codeq::validate(msgs[0].envelope).ok());
  EXPECT_TRUE(queue_->messagesForTest(userTopic(kTenantA, "orders")).empty());
}

// ---- secrets -----------------------------------------------------------------------------------

void putSecret(kv::Store& store, const std::string& tenant, const std::string& path,
               const std::string& value) {
  kv::SecretRecord rec{value, 1};
  ASSERT_TRUE(store.set(*kv::keys::secret(tenant, path), kv::encode(rec), kv::kNoTtl).ok());
}

TEST_F(HostApiTest, SecretsResolveInsideTheTenantOnly) {
  putSecret(*store_, kTenantA, "payments/stripe_key", "sk_live_A");
  putSecret(*store_, kTenantB, "payments/other_key", "sk_live_B");
  auto ok = resolveSecrets(*store_, kTenantA,
                           {{"STRIPE", "kv:tenant/payments/stripe_key"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].name, "STRIPE");
  EXPECT_EQ((*ok)[0].value, "sk_live_A");
  EXPECT_EQ(secretEnv(*ok), json({{"STRIPE", "sk_live_A"}}));
  EXPECT_TRUE(resolveSecrets(*store_, kTenantA, nullptr)->empty());

  auto code = [&](json config) {
    auto res = resolveSecrets(*store_, kTenantA, config);
    if (res.ok()) return std::string("ok");
    EXPECT_EQ(res.error().message.find("sk_live"), std::string::npos) << res.error().message;
    return std::string(res.error().name());
  };
  // Tenant B's secret is not reachable from tenant A, whatever the reference says.
  EXPECT_EQ(code({{"X", "kv:tenant/payments/other_key"}}), "CS_NOT_FOUND");
  EXPECT_EQ(code({{"X", "kv:t_tenantb/payments/other_key"}}), "CS_AUTHZ_DENIED");
  EXPECT_EQ(code({{"X", "kv:other/payments/other_key"}}), "CS_AUTHZ_DENIED");
  EXPECT_EQ(code({{"X", "kv:t_tenanta/payments/stripe_key"}}), "CS_AUTHZ_DENIED");
  EXPECT_EQ(code({{"X", "env:STRIPE"}}), "CS_AUTHZ_DENIED");
  EXPECT_EQ(code({{"X", "kv:tenantpayments/stripe_key"}}), "CS_AUTHZ_DENIED");
  EXPECT_EQ(code({{"X", "kv:tenant/../t_tenantb/payments/other_key"}}), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code({{"X", "kv:tenant/a:b"}}), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code({{"X", "kv:tenant/"}}), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code({{"X", 5}}), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code({{"1BAD", "kv:tenant/payments/stripe_key"}}), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code(json::array({"kv:tenant/payments/stripe_key"})), "CS_VALIDATION_FAILED");
  EXPECT_EQ(code({{"X", "kv:tenant/missing"}}), "CS_NOT_FOUND");
  // A corrupt record is a read failure whose message does not leak the stored bytes.
  ASSERT_TRUE(store_->set(*kv::keys::secret(kTenantA, "bad"), R"({"value":"sk_live_bad"})",
                          kv::kNoTtl).ok());
  EXPECT_EQ(code({{"X", "kv:tenant/bad"}}), "CS_KVROCKS_READ_FAILED");
}

TEST_F(HostApiTest, SecretValuesNeverAppearInLogsErrorsOrResults) {
  const std::string plain = "sk_live_PLAIN_0123456789";
  const std::string tricky = "p\"ss\\w0rd\n-TRICKY-42";  // escaped in JSON output
  putSecret(*store_, kTenantA, "payments/stripe_key", plain);
  putSecret(*store_, kTenantA, "db/password", tricky);
  auto secrets = resolveSecrets(
      *store_, kTenantA,
      {{"STRIPE", "kv:tenant/payments/stripe_key"}, {"DB", "kv:tenant/db/password"}});
  ASSERT_TRUE(secrets.ok()) << secrets.error().message;
  json ctx = {{"env", secretEnv(*secrets)}};
  std::vector<std::string> redact = redactionValues(*secrets);

  auto leaks = [&](const std::string& text) {
    return text.find(plain) != std::string::npos || text.find(tricky) != std::string::npos ||
           text.find("p\\\"ss\\\\w0rd\\n-TRICKY-42") != std::string::npos ||
           text.find("TRICKY") != std::string::npos;
  };

  auto ok = run(R"(export default async function (event, ctx) {
    cs.log.info("key=" + ctx.env.STRIPE);
    cs.log.warn({db: ctx.env.DB, stripe: ctx.env.STRIPE});
    console.log(ctx.env.DB);
    return {statusCode: 200, headers: {"x-key": ctx.env.STRIPE},
            body: JSON.stringify(ctx.env)};
  })",
                {}, ctx, redact);
  ASSERT_EQ(ok.result.outcome, runtime::Outcome::Success);
  ASSERT_EQ(ok.result.logs.size(), 3u);
  for (const auto& e : ok.result.logs) {
    EXPECT_FALSE(leaks(e.message)) << e.message;
    EXPECT_NE(e.message.find("[REDACTED]"), std::string::npos) << e.message;
  }
  std::string response = runtime::toJson(ok.result).dump();
  EXPECT_FALSE(leaks(response)) << response;
  EXPECT_NE(ok.result.response->body.find("[REDACTED]"), std::string::npos);
  EXPECT_EQ(ok.result.response->headers.at("x-key"), "[REDACTED]");

  auto failed = run(R"(export default async function (event, ctx) {
    cs.log.error("about to fail with " + ctx.env.STRIPE);
    throw new Error("bad key " + ctx.env.STRIPE + " / " + ctx.env.DB);
  })",
                    {}, ctx, redact);
  ASSERT_EQ(failed.result.outcome, runtime::Outcome::Exception);
  ASSERT_TRUE(failed.result.error.has_value());
  EXPECT_FALSE(leaks(failed.result.error->message)) << failed.result.error->message;
  EXPECT_FALSE(leaks(failed.result.error->stack)) << failed.result.error->stack;
  EXPECT_NE(failed.result.error->message.find("[REDACTED]"), std::string::npos);
  std::string all = runtime::toJson(failed.result).dump();
  EXPECT_FALSE(leaks(all)) << all;

  // The control: without the redact list the values do show up, so the checks above can fail.
  auto unredacted = run("export default async function (e, ctx) { cs.log.info(ctx.env.STRIPE); }",
                        {}, ctx, {});
  ASSERT_EQ(unredacted.result.logs.size(), 1u);
  EXPECT_TRUE(leaks(unredacted.result.logs[0].message));
}

// ---- provider factory --------------------------------------------------------------------------

invoker::InvocationRequest requestFor(const std::string& tenant, const std::string& ns) {
  invoker::InvocationRequest r;
  r.activationId = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";
  r.requestId = "req-00000001";
  r.tenant = tenant;
  r.ns = ns;
  r.function = "checkout";
  r.deadlineMs = 1;
  return r;
}

// Stands in for internal/fetch's cs.http provider.
class FakeHttp final : public runtime::HostProvider {
 public:
  std::string name() const override { return "http"; }
  std::vector<std::string> methods() const override { return {"fetch"}; }
  Result<json> call(std::string_view, const json&, int64_t) override { return json("fetched"); }
};

std::vector<std::string> namesOf(const invoker::Providers& providers) {
  std::vector<std::string> names;
  for (const auto& p : providers) names.push_back(p->name());
  return names;
}

TEST_F(HostApiTest, FactoryBuildsOnlyTheProvidersTheCapabilitiesAllow) {
  auto request = requestFor(kTenantA, kNs);
  api::Manifest manifest;  // no capabilities
  json config = {{"capabilities", {{"kv", {{"prefixes", {"user:"}}, {"ops", {"get", "set"}}}}}}};
  int httpCalls = 0;
  HostDeps deps{*store_, *queue_};
  deps.http = [&](const invoker::ActivationInfo&, const api::HttpCapability& cap)
      -> Result<std::unique_ptr<runtime::HostProvider>> {
    ++httpCalls;
    EXPECT_EQ(cap.allowHosts, std::vector<std::string>{"api.example.com"});
    return std::unique_ptr<runtime::HostProvider>(std::make_unique<FakeHttp>());
  };
  auto factory = makeProviderFactory(deps);

  auto built = factory(invoker::ActivationInfo{request, 1, config, manifest});
  ASSERT_TRUE(built.ok()) << built.error().message;
  EXPECT_EQ(namesOf(*built), std::vector<std::string>{"kv"});
  std::vector<runtime::HostProvider*> raw;
  for (auto& p : *built) raw.push_back(p.get());
  auto r = run(R"(export default async function () {
    await cs.kv.set("user:k", 7);
    return [typeof cs.kv, typeof cs.codeq, typeof cs.http, await cs.kv.get("user:k")];
  })",
               raw);
  ASSERT_EQ(r.result.outcome, runtime::Outcome::Success);
  EXPECT_EQ(r.body, json::parse(R"(["object","undefined","undefined",7])"));
  EXPECT_EQ(keysWithPrefix("cs:ukv:"),
            std::vector<std::string>{*kv::keys::userKv(kTenantA, kNs, "user:k")});
  EXPECT_EQ(httpCalls, 0);

  // No "capabilities" in the config: the manifest's apply.
  manifest.capabilities.codeq = api::CodeqCapability{{"orders"}};
  manifest.capabilities.http = api::HttpCapability{{"api.example.com"}, 3000};
  auto fromManifest = factory(invoker::ActivationInfo{request, 1, json::object(), manifest});
  ASSERT_TRUE(fromManifest.ok()) << fromManifest.error().message;
  EXPECT_EQ(namesOf(*fromManifest), (std::vector<std::string>{"codeq", "http"}));
  EXPECT_EQ(httpCalls, 1);
  ASSERT_TRUE((*fromManifest)[0]->call("publish", json::array({"orders", 1}), farDeadline()).ok());
  auto msgs = queue_->messagesForTest(userTopic(kTenantA, "orders"));
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(codeq::decode(msgs[0])->body["activation_id"], request.activationId);

  // Nothing at all: no providers, so cs.kv is undefined.
  auto none = factory(invoker::ActivationInfo{request, 1, json::object(), api::Manifest{}});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto bare = run("export default async function () { return [typeof cs.kv, typeof cs.log]; }", {});
  EXPECT_EQ(bare.body, json::parse(R"(["undefined","object"])"));
}

TEST_F(HostApiTest, FactoryRejectsInvalidConfigCapabilitiesAndPassesHttpHookErrors) {
  auto request = requestFor(kTenantA, kNs);
  api::Manifest manifest;
  HostDeps deps{*store_, *queue_};
  deps.http = [](const invoker::ActivationInfo&, const api::HttpCapability&)
      -> Result<std::unique_ptr<runtime::HostProvider>> {
    return Error{ErrorCode::Internal, "fetch unavailable"};
  };
  auto factory = makeProviderFactory(deps);
  json bad = {{"capabilities", {{"kv", {{"prefixes", {"user:"}}, {"ops", {"drop"}}}}}}};
  auto r1 = factory(invoker::ActivationInfo{request, 1, bad, manifest});
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::ValidationManifestInvalid);
  json extra = {{"capabilities", {{"fs", json::object()}}}};
  EXPECT_FALSE(factory(invoker::ActivationInfo{request, 1, extra, manifest}).ok());
  json http = {{"capabilities", {{"http", {{"allowHosts", {"a.example"}}}}}}};
  auto r2 = factory(invoker::ActivationInfo{request, 1, http, manifest});
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message, "fetch unavailable");
}

TEST_F(HostApiTest, FactoryRecorderModeSendsNothingToTheQueue) {
  auto request = requestFor(kTenantA, kNs);
  api::Manifest manifest;
  manifest.capabilities.codeq = api::CodeqCapability{{"orders"}};
  Recorder recorder;
  HostDeps deps{*store_, *queue_};
  deps.recorder = &recorder;
  auto built = makeProviderFactory(deps)(invoker::ActivationInfo{request, 1, json::object(), manifest});
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->size(), 1u);
  ASSERT_TRUE((*built)[0]->call("publish", json::array({"orders", "x"}), farDeadline()).ok());
  EXPECT_EQ(recorder.messages().size(), 1u);
  EXPECT_TRUE(queue_->messagesForTest(userTopic(kTenantA, "orders")).empty());
}

TEST_F(HostApiTest, EnvironmentResolverMergesEnvAndSecretsAndListsRedactions) {
  putSecret(*store_, kTenantA, "payments/stripe_key", "sk_live_A");
  auto resolver = makeEnvironmentResolver(*store_);
  auto request = requestFor(kTenantA, "default");
  api::Manifest manifest;
  json config = {{"env", {{"MODE", "test"}, {"STRIPE", "overridden"}}},
                 {"secrets", {{"STRIPE", "kv:tenant/payments/stripe_key"}}}};
  auto env = resolver(invoker::ActivationInfo{request, 1, config, manifest});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->env, json({{"MODE", "test"}, {"STRIPE", "sk_live_A"}}));
  EXPECT_NE(std::find(env->redact.begin(), env->redact.end(), "sk_live_A"), env->redact.end());
  // Another tenant's activation cannot resolve tenant A's secret.
  auto other = requestFor(kTenantB, "default");
  auto denied = resolver(invoker::ActivationInfo{other, 1, config, manifest});
  EXPECT_FALSE(denied.ok());
  // No secrets: env only, nothing to redact.
  json plain = {{"env", {{"MODE", "x"}}}};
  auto onlyEnv = resolver(invoker::ActivationInfo{request, 1, plain, manifest});
  ASSERT_TRUE(onlyEnv.ok());
  EXPECT_TRUE(onlyEnv->redact.empty());
}

}  // namespace
}  // namespace cs::hostapi
