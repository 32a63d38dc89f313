#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "internal/runtime/engine.h"

namespace cs::runtime {
namespace {

class RuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = makeV8Engine({.warmIsolates = 1}).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }

  ActivationResult run(const std::string& source, std::string event = "null",
                       Limits limits = {}, std::vector<HostProvider*> providers = {}) {
    files_ = SourceFiles{{"function.js", source}};
    return runFiles(std::move(event), limits, std::move(providers));
  }
  ActivationResult runFiles(std::string event = "null", Limits limits = {},
                            std::vector<HostProvider*> providers = {}) {
    Invocation inv;
    inv.files = &files_;
    inv.eventJson = std::move(event);
    inv.ctxJson = R"({"activation_id":"a1","tenant":"t_test01","function":"f"})";
    inv.limits = limits;
    inv.providers = std::move(providers);
    inv.redact = redact_;
    return engine_->run(inv);
  }

  static Engine* engine_;
  SourceFiles files_;
  std::vector<std::string> redact_;
};
Engine* RuntimeTest::engine_ = nullptr;

std::string body(const ActivationResult& r) { return r.response ? r.response->body : "<none>"; }
std::string errorMessage(const ActivationResult& r) { return r.error ? r.error->message : "<none>"; }

TEST_F(RuntimeTest, ModuleExecutesAndReturnsAResponseObject) {
  auto r = run(R"(export default async function (event, ctx) {
      return { statusCode: 201, headers: { "x-a": "1" }, body: `hi ${event.name} ${ctx.tenant}` };
    })",
               R"({"name":"ada"})");
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r);
  EXPECT_EQ(statusName(r.outcome), "success");
  EXPECT_EQ(r.response->statusCode, 201);
  EXPECT_EQ(r.response->headers.at("x-a"), "1");
  EXPECT_EQ(r.response->body, "hi ada t_test01");
  EXPECT_FALSE(r.response->isBase64Encoded);
}

TEST_F(RuntimeTest, IsolatesRecycleHeapChunksThroughThePageCache) {
  const PageCacheStats before = pageCacheStats();
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(run("export default () => ({ statusCode: 200, body: 'x'.repeat(1000) })").outcome,
              Outcome::Success);
  }
  const PageCacheStats after = pageCacheStats();
  // Fresh isolates, each on chunks a disposed isolate gave back (zeroed: page_cache_test).
  EXPECT_GT(after.hits, before.hits + 6) << "V8 does not allocate through the page cache";
}

TEST_F(RuntimeTest, PlainFunctionAndNonObjectResultsAreJsonBodies) {
  auto r = run("export default function () { return [1, 'two']; }");
  ASSERT_EQ(r.outcome, Outcome::Success);
  EXPECT_EQ(r.response->statusCode, 200);
  EXPECT_EQ(r.response->body, R"([1,"two"])");
  EXPECT_EQ(r.response->headers.at("content-type"), "application/json");
  EXPECT_EQ(body(run("export default () => 42")), "42");
  EXPECT_EQ(body(run("export default () => ({ ok: true })")), R"({"ok":true})");
  EXPECT_EQ(body(run("export default () => undefined")), "");
}

TEST_F(RuntimeTest, InvalidReturnTypeIsRuntimeException) {
  for (const char* bad : {"({ statusCode: '200' })", "({ statusCode: 99 })", "({ body: 5 })",
                          "({ headers: { a: 1 } })", "({ body: 'x', isBase64Encoded: 'yes' })",
                          "({ headers: { 'a': 'x\\r\\nset-cookie: y' } })"}) {
    auto r = run(std::string("export default () => ") + bad);
    EXPECT_EQ(r.outcome, Outcome::InvalidResult) << bad;
    EXPECT_EQ(statusName(r.outcome), "error");
    ASSERT_TRUE(r.error) << bad;
    EXPECT_EQ(r.error->code, ErrorCode::RuntimeException) << bad;
    EXPECT_NE(r.error->message.find("invalid result"), std::string::npos) << r.error->message;
  }
}

TEST_F(RuntimeTest, TopLevelAwaitWorks) {
  auto r = run(R"(const base = await Promise.resolve(40);
    export default async () => ({ body: String(base + 2) });)");
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r);
  EXPECT_EQ(body(r), "42");
}

TEST_F(RuntimeTest, InfiniteLoopTimesOut) {
  Limits limits;
  limits.timeoutMs = 200;
  auto r = run("export default function () { while (true) {} }", "null", limits);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  EXPECT_EQ(statusName(r.outcome), "timeout");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "Timeout");
  EXPECT_EQ(r.error->code, ErrorCode::RuntimeTimeout);
  EXPECT_GE(r.durationMs, 200);
}

// The watchdog sleeps until the earliest deadline it knows; a later activation with an
// earlier deadline must wake it (it is only left asleep for deadlines that come later).
TEST_F(RuntimeTest, AShortDeadlineFiresWhileALongerOneIsPending) {
  SourceFiles files{{"function.js", "export default function () { while (true) {} }"}};
  auto runLoop = [&files](int64_t timeoutMs) {
    Invocation inv;
    inv.files = &files;
    inv.limits.timeoutMs = timeoutMs;
    return engine_->run(inv);
  };
  std::atomic<bool> longDone{false};
  std::thread longOne([&] {
    EXPECT_EQ(runLoop(4000).outcome, Outcome::Timeout);
    longDone = true;
  });
  // Let the long activation register its deadline first.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto shortOne = runLoop(100);
  const bool longStillRunning = !longDone.load();
  longOne.join();
  EXPECT_EQ(shortOne.outcome, Outcome::Timeout);
  // Fired near its own deadline, not at the long one's (≈3.7 s after it started).
  EXPECT_LT(shortOne.durationMs, 2000);
  EXPECT_TRUE(longStillRunning);
}

TEST_F(RuntimeTest, NeverSettlingPromiseTimesOut) {
  Limits limits;
  limits.timeoutMs = 150;
  auto r = run("export default () => new Promise(() => {})", "null", limits);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "Timeout");
  EXPECT_GE(r.durationMs, 150);
}

TEST_F(RuntimeTest, TopLevelInfiniteLoopTimesOut) {
  Limits limits;
  limits.timeoutMs = 100;
  auto r = run("for(;;){}\nexport default () => 1", "null", limits);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
}

TEST_F(RuntimeTest, GrowingHeapHitsMemoryLimitAndHostStaysHealthy) {
  Limits limits;
  limits.memoryMb = 32;
  limits.timeoutMs = 20000;
  auto r = run(R"(export default () => {
      const keep = [];
      for (;;) keep.push(new Array(10000).fill({ x: Math.random() }));
    })",
               "null", limits);
  EXPECT_EQ(r.outcome, Outcome::MemoryLimit) << errorMessage(r);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "MemoryLimit");
  EXPECT_EQ(r.error->code, ErrorCode::RuntimeMemoryLimit);
  EXPECT_EQ(statusName(r.outcome), "error");
  // The process and the engine keep working.
  EXPECT_EQ(body(run("export default () => 'still alive'")), "\"still alive\"");
}

TEST_F(RuntimeTest, GrowingArrayBuffersHitMemoryLimit) {
  Limits limits;
  limits.memoryMb = 32;
  auto r = run(R"(export default () => {
      const keep = [];
      for (let i = 0; i < 1000; i++) keep.push(new Uint8Array(4 * 1024 * 1024));
      return keep.length;
    })",
               "null", limits);
  EXPECT_EQ(r.outcome, Outcome::MemoryLimit) << body(r) << errorMessage(r);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "MemoryLimit");
  // One huge buffer at once is refused the same way.
  auto big = run("export default () => new ArrayBuffer(64 * 1024 * 1024).byteLength", "null", limits);
  EXPECT_EQ(big.outcome, Outcome::MemoryLimit) << body(big);
}

TEST_F(RuntimeTest, UncaughtExceptionHasTypeMessageAndStack) {
  auto r = run(R"(function inner() { throw new TypeError("boom"); }
export default () => inner();)");
  EXPECT_EQ(r.outcome, Outcome::Exception);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "Exception");
  EXPECT_EQ(r.error->code, ErrorCode::RuntimeException);
  EXPECT_EQ(r.error->message, "TypeError: boom");
  EXPECT_NE(r.error->stack.find("inner"), std::string::npos) << r.error->stack;
  EXPECT_NE(r.error->stack.find("function.js:1"), std::string::npos) << r.error->stack;
}

TEST_F(RuntimeTest, RejectedPromiseAndThrownNonErrors) {
  auto r = run("export default async () => { await null; throw 'plain string'; }");
  EXPECT_EQ(r.outcome, Outcome::Exception);
  EXPECT_EQ(errorMessage(r), "Uncaught plain string");
}

TEST_F(RuntimeTest, SyntaxErrorIsAnException) {
  auto r = run("export default function () { return 1 +; }");
  EXPECT_EQ(r.outcome, Outcome::Exception);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->type, "Exception");
  EXPECT_NE(r.error->message.find("SyntaxError"), std::string::npos) << r.error->message;
  EXPECT_NE(r.error->stack.find("function.js:1"), std::string::npos) << r.error->stack;
}

TEST_F(RuntimeTest, StackIsCappedAt8KiB) {
  auto r = run(R"(export default () => { const e = new Error("x"); e.stack = "s".repeat(20000); throw e; })");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->stack.size(), 8u * 1024);
}

TEST_F(RuntimeTest, MissingDefaultExportIsAnException) {
  auto r = run("export const x = 1;");
  EXPECT_EQ(r.outcome, Outcome::Exception);
  EXPECT_NE(errorMessage(r).find("export default"), std::string::npos);
}

TEST_F(RuntimeTest, LogsAreCapturedInOrderWithLevels) {
  auto r = run(R"(export default () => {
      console.log("a", 1, { b: 2 });
      cs.log.warn({ c: 3 });
      console.error("e");
      cs.log.info("plain");
      return null;
    })");
  ASSERT_EQ(r.outcome, Outcome::Success);
  ASSERT_EQ(r.logs.size(), 4u);
  EXPECT_EQ(r.logs[0].level, "info");
  EXPECT_EQ(r.logs[0].message, R"(a 1 {"b":2})");
  EXPECT_EQ(r.logs[1].level, "warn");
  EXPECT_EQ(r.logs[1].message, R"({"c":3})");
  EXPECT_EQ(r.logs[2].level, "error");
  EXPECT_EQ(r.logs[3].message, "plain");
  EXPECT_GT(r.logs[0].tsMs, 1700000000000);
  EXPECT_FALSE(r.logsTruncated);
}

TEST_F(RuntimeTest, LogsAreCappedWithTruncationFlag) {
  auto r = run(R"(export default () => {
      const line = "x".repeat(1000);
      for (let i = 0; i < 2000; i++) console.log(line);
      return 1;
    })");
  ASSERT_EQ(r.outcome, Outcome::Success);
  EXPECT_TRUE(r.logsTruncated);
  size_t total = 0;
  for (const auto& e : r.logs) total += e.message.size();
  EXPECT_LE(total, 1u << 20);
  EXPECT_GT(total, 900u * 1024);
}

TEST_F(RuntimeTest, NoNodeOrHostEscapes) {
  auto r = run(R"(export default () => [typeof require, typeof process, typeof Deno,
      typeof WebAssembly, typeof fetch, typeof N, typeof globalThis.__native])");
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r);
  EXPECT_EQ(body(r),
            R"(["undefined","undefined","undefined","undefined","undefined","undefined","undefined"])");
}

TEST_F(RuntimeTest, ImportsOutsideTheBundleFail) {
  for (const char* spec : {"fs", "node:fs", "https://example.com/x.js", "../etc/passwd",
                           "/../../x.js"}) {
    auto r = run(std::string("import x from '") + spec + "';\nexport default () => 1");
    EXPECT_EQ(r.outcome, Outcome::Exception) << spec;
    auto dyn = run(std::string("export default async () => { await import('") + spec + "'); }");
    EXPECT_EQ(dyn.outcome, Outcome::Exception) << spec;
  }
}

TEST_F(RuntimeTest, ImportsInsideTheBundleWork) {
  files_ = SourceFiles{
      {"function.js",
       "import { add } from './lib/math.js';\n"
       "export default async () => { const m = await import('./lib/extra.js'); return add(1, m.two); }"},
      {"lib/math.js", "import { one } from '../one.js'; export const add = (a, b) => a + b + one - 1;"},
      {"lib/extra.js", "export const two = await Promise.resolve(2);"},
      {"one.js", "export const one = 1;"}};
  auto r = runFiles();
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r);
  EXPECT_EQ(body(r), "3");
}

TEST_F(RuntimeTest, WebPlatformGlobals) {
  auto r = run(R"(export default async () => {
      const out = {};
      out.b64 = btoa("hello") + "|" + atob("aGVsbG8=") + "|" + atob(" aGVs bG8 ");
      const bytes = new TextEncoder().encode("héllo €");
      out.enc = bytes.length;
      out.dec = new TextDecoder().decode(bytes);
      try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])); out.fatal = "no"; }
      catch (e) { out.fatal = e instanceof TypeError; }
      const u = new URL("/a/../b?x=1#f", "https://Example.com:8080");
      u.searchParams.append("y", "2");
      out.url = u.href;
      out.params = new URLSearchParams("a=1&a=2").getAll("a");
      out.uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID());
      const rnd = crypto.getRandomValues(new Uint8Array(32));
      out.rnd = rnd.some((b) => b !== 0);
      const src = { d: new Date(0), m: new Map([[1, { n: 2 }]]) };
      const copy = structuredClone(src);
      out.clone = copy !== src && copy.m.get(1).n === 2 && copy.d.getTime() === 0;
      try { structuredClone(() => 1); out.cloneFn = "no"; } catch (e) { out.cloneFn = e.name; }
      const order = [];
      queueMicrotask(() => order.push("micro"));
      await new Promise((res) => setTimeout(() => { order.push("timer"); res(); }, 5));
      const cancelled = setTimeout(() => order.push("cancelled"), 1);
      clearTimeout(cancelled);
      await new Promise((res) => setTimeout(res, 10));
      out.order = order;
      return out;
    })");
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r) << (r.error ? r.error->stack : "");
  auto j = nlohmann::json::parse(body(r));
  EXPECT_EQ(j["b64"], "aGVsbG8=|hello|hello");
  EXPECT_EQ(j["enc"], 10);
  EXPECT_EQ(j["dec"], "héllo €");
  EXPECT_EQ(j["fatal"], true);
  EXPECT_EQ(j["url"], "https://example.com:8080/b?x=1&y=2#f");
  EXPECT_EQ(j["params"], nlohmann::json::array({"1", "2"}));
  EXPECT_EQ(j["uuid"], true);
  EXPECT_EQ(j["rnd"], true);
  EXPECT_EQ(j["clone"], true);
  EXPECT_EQ(j["cloneFn"], "DataCloneError");
  EXPECT_EQ(j["order"], nlohmann::json::array({"micro", "timer"}));
}

TEST_F(RuntimeTest, TimersNeverOutliveTheDeadline) {
  Limits limits;
  limits.timeoutMs = 100;
  auto r = run("export default () => new Promise((res) => setTimeout(res, 60000))", "null", limits);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  EXPECT_LT(r.durationMs, 5000);
}

TEST_F(RuntimeTest, ExceptionInTimerFailsTheActivation) {
  auto r = run(R"(export default () => new Promise(() => setTimeout(() => { throw new Error("late"); }, 1)))");
  EXPECT_EQ(r.outcome, Outcome::Exception);
  EXPECT_EQ(errorMessage(r), "Error: late");
}

TEST_F(RuntimeTest, IsolatesAreFresh) {
  auto first = run("globalThis.leak = 'x'; export default () => typeof globalThis.leak");
  auto second = run("export default () => typeof globalThis.leak");
  EXPECT_EQ(body(first), "\"string\"");
  EXPECT_EQ(body(second), "\"undefined\"");
  // Isolates come from one startup snapshot: Math.random must still differ between them.
  auto a = run("export default () => String(Math.random())");
  auto b = run("export default () => String(Math.random())");
  EXPECT_NE(body(a), body(b));
}

class EchoProvider final : public HostProvider {
 public:
  std::string name() const override { return "kv"; }
  std::vector<std::string> methods() const override { return {"get", "set"}; }
  cs::Result<nlohmann::json> call(std::string_view method, const nlohmann::json& args,
                                  int64_t deadlineMs) override {
    calls++;
    lastDeadline = deadlineMs;
    if (method == "set") {
      return cs::Error{cs::ErrorCode::RuntimeCapabilityDenied, "op set is not allowed"};
    }
    return nlohmann::json{{"method", method}, {"args", args}};
  }
  int calls = 0;
  int64_t lastDeadline = 0;
};

TEST_F(RuntimeTest, HostProvidersPlugInAndDenialsAreVisible) {
  EchoProvider provider;
  auto r = run(R"(export default async () => {
      const got = await cs.kv.get("k", undefined);
      let denied;
      try { await cs.kv.set("k", 1); } catch (e) { denied = e.code; }
      return { body: JSON.stringify({ got, denied, codeq: typeof cs.codeq }) };
    })",
               "null", {}, {&provider});
  ASSERT_EQ(r.outcome, Outcome::Success) << errorMessage(r);
  auto j = nlohmann::json::parse(body(r));
  EXPECT_EQ(j["got"]["method"], "get");
  EXPECT_EQ(j["got"]["args"], nlohmann::json::parse(R"(["k", null])"));
  EXPECT_EQ(j["denied"], "CS_RUNTIME_CAPABILITY_DENIED");
  EXPECT_EQ(j["codeq"], "undefined");
  EXPECT_EQ(provider.calls, 2);
  EXPECT_GT(provider.lastDeadline, 0);
  ASSERT_FALSE(r.logs.empty());
  EXPECT_NE(r.logs.back().message.find("CS_RUNTIME_CAPABILITY_DENIED"), std::string::npos);
}

TEST_F(RuntimeTest, UncaughtDenialIsCapabilityDenied) {
  EchoProvider provider;
  auto r = run("export default async () => { await cs.kv.set('k', 1); }", "null", {}, {&provider});
  EXPECT_EQ(r.outcome, Outcome::CapabilityDenied);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::RuntimeCapabilityDenied);
}

TEST_F(RuntimeTest, SecretsAreRedacted) {
  redact_ = {"s3cr3t-value"};
  auto r = run(R"(export default () => { console.log("key=s3cr3t-value");
      throw new Error("bad s3cr3t-value"); })");
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_EQ(r.logs[0].message, "key=[REDACTED]");
  EXPECT_EQ(r.error->message, "Error: bad [REDACTED]");
  EXPECT_EQ(r.error->stack.find("s3cr3t"), std::string::npos);
}

TEST_F(RuntimeTest, ResultBodyIsCappedWithFlag) {
  auto r = run("export default () => ({ body: 'y'.repeat(300 * 1024) })");
  ASSERT_EQ(r.outcome, Outcome::Success);
  EXPECT_TRUE(r.resultTruncated);
  EXPECT_EQ(r.response->body.size(), 256u * 1024);
}

TEST_F(RuntimeTest, JsonShapeOfTheResult) {
  auto ok = toJson(run("export default () => { console.log('x'); return { body: 'b' }; }"));
  EXPECT_EQ(ok["status"], "success");
  EXPECT_EQ(ok["result"]["body"], "b");
  EXPECT_TRUE(ok["error"].is_null());
  EXPECT_EQ(ok["logs"][0]["message"], "x");
  EXPECT_TRUE(ok["duration_ms"].is_number_integer());
  auto bad = toJson(run("export default () => { throw new Error('no'); }"));
  EXPECT_EQ(bad["status"], "error");
  EXPECT_TRUE(bad["result"].is_null());
  EXPECT_EQ(bad["error"]["code"], "CS_RUNTIME_EXCEPTION");
  EXPECT_EQ(bad["error"]["type"], "Exception");
}

TEST_F(RuntimeTest, ConcurrentActivationsOnManyThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  SourceFiles files{{"function.js", "export default (e) => ({ body: String(e * 2) })"}};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        Invocation inv;
        inv.files = &files;
        inv.eventJson = std::to_string(t * 100 + i);
        auto r = engine_->run(inv);
        if (r.outcome == Outcome::Success && body(r) == std::to_string((t * 100 + i) * 2)) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
}

}  // namespace
}  // namespace cs::runtime
