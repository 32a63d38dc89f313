// Unit tests of the invoker's pure parts: request checks, result bodies, log chunking, the
// bundle cache and the per-version gate.
#include <gtest/gtest.h>

#include "internal/api/validate.h"
#include "internal/invoker/bundle_cache.h"
#include "internal/invoker/request.h"
#include "internal/invoker/version_gate.h"

namespace cs::invoker {
namespace {

using json = nlohmann::json;

json validBody() {
  return json{{"activation_id", "0b6f3c1e-8a4d-4c2b-9e0f-1a2b3c4d5e6f"},
              {"request_id", "req_12345678"},
              {"tenant", "t_acme01"},
              {"namespace", "payments"},
              {"ref", {{"function", "charge"}, {"alias", "live"}}},
              {"trigger", {{"type", "http"}, {"source", {{"reply_to", "cs.reply.gw1"}}}}},
              {"principal", {{"sub", "user:1"}, {"roles", {"admin"}}}},
              {"deadline_ms", 1700000060000},
              {"event", {{"x", 1}}}};
}

TEST(ParseRequest, AcceptsAValidRequestAndExtractsRoutingExtras) {
  auto r = parseRequest("cs.invoke.v1", "t_acme01", validBody());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->function, "charge");
  EXPECT_EQ(r->alias, "live");
  EXPECT_FALSE(r->version.has_value());
  EXPECT_EQ(r->triggerType, kv::TriggerType::Http);
  EXPECT_EQ(r->replyTo, "cs.reply.gw1");
  EXPECT_EQ(r->principalRoles, std::vector<std::string>{"admin"});
  EXPECT_EQ(r->deadlineMs, 1700000060000);
}

TEST(ParseRequest, RejectsWrongTypeSchemaAndNameViolations) {
  EXPECT_FALSE(parseRequest("cs.results.v1", "t_acme01", validBody()).ok());
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_other01", validBody()).ok());  // tenant mismatch

  json missing = validBody();
  missing.erase("event");
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_acme01", missing).ok());

  // Passes the message schema's character set but not SPEC §3.
  json badTenant = validBody();
  badTenant["tenant"] = "ACME.corp";
  auto r = parseRequest("cs.invoke.v1", "ACME.corp", badTenant);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::ValidationNameInvalid);

  json badReply = validBody();
  badReply["trigger"]["source"]["reply_to"] = 42;
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_acme01", badReply).ok());

  json badSchedule = validBody();
  badSchedule["trigger"] = {{"type", "schedule"}, {"source", {{"schedule", "Bad Name"}}}};
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_acme01", badSchedule).ok());
}

TEST(ParseRequest, AlreadyCheckedBodiesStillGetTheSemanticChecks) {
  constexpr auto kChecked = BodySchema::AlreadyChecked;
  EXPECT_TRUE(parseRequest("cs.invoke.v1", "t_acme01", validBody(), kChecked).ok());
  EXPECT_FALSE(parseRequest("cs.results.v1", "t_acme01", validBody(), kChecked).ok());
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_other01", validBody(), kChecked).ok());
  json badTenant = validBody();
  badTenant["tenant"] = "ACME.corp";
  auto r = parseRequest("cs.invoke.v1", "ACME.corp", badTenant, kChecked);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::ValidationNameInvalid);
  json badReply = validBody();
  badReply["trigger"]["source"]["reply_to"] = 42;
  EXPECT_FALSE(parseRequest("cs.invoke.v1", "t_acme01", badReply, kChecked).ok());
}

TEST(BuildCtx, HasTheSpecFields) {
  auto r = parseRequest("cs.invoke.v1", "t_acme01", validBody());
  ASSERT_TRUE(r.ok());
  json ctx = buildCtx(*r, 7);
  EXPECT_EQ(ctx["version"], 7);
  EXPECT_EQ(ctx["ref"], json({{"alias", "live"}}));
  EXPECT_EQ(ctx["trigger"], json({{"type", "http"}}));
  EXPECT_EQ(ctx["principal"]["sub"], "user:1");
  EXPECT_EQ(ctx["deadline_ms"], 1700000060000);
  for (const char* key : {"activation_id", "tenant", "namespace", "function"}) {
    EXPECT_TRUE(ctx.contains(key)) << key;
  }
}

TEST(BuildResultBody, ErrorBodiesAreSchemaValidAndCapped) {
  kv::ActivationRecord rec;
  rec.activationId = "0b6f3c1e-8a4d-4c2b-9e0f-1a2b3c4d5e6f";
  rec.status = kv::ActivationStatus::Error;
  rec.durationMs = 5;
  rec.version = 3;
  rec.error = kv::ActivationError{"Exception", "CS_RUNTIME_EXCEPTION", std::string(70000, 'm'),
                                  std::string(9000, 's')};
  json body = buildResultBody(rec, "req_abcdefgh");
  EXPECT_TRUE(api::validateInvocationResult(body).ok())
      << api::validateInvocationResult(body).error().message;
  EXPECT_EQ(body["request_id"], "req_abcdefgh");
  EXPECT_EQ(body["version"], 3);
  EXPECT_EQ(body["error"]["code"], "CS_RUNTIME_EXCEPTION");
  EXPECT_LE(body["error"]["message"].get<std::string>().size(), 65536u);
  EXPECT_LE(body["error"]["stack"].get<std::string>().size(), 8192u);
}

TEST(BuildResultBody, SuccessCarriesTheResultAndFlags) {
  kv::ActivationRecord rec;
  rec.activationId = "0b6f3c1e-8a4d-4c2b-9e0f-1a2b3c4d5e6f";
  rec.status = kv::ActivationStatus::Success;
  rec.durationMs = 1;
  rec.result = json{
      {"statusCode", 201}, {"headers", json::object()}, {"body", "x"}, {"isBase64Encoded", false}};
  rec.resultTruncated = true;
  json body = buildResultBody(rec, "req_abcdefgh");
  EXPECT_TRUE(api::validateInvocationResult(body).ok());
  EXPECT_EQ(body["result"]["statusCode"], 201);
  EXPECT_EQ(body["result_truncated"], true);
  EXPECT_FALSE(body.contains("error"));
}

TEST(ChunkLogs, SplitsBy100EntriesAndBy64KiBInOrder) {
  std::vector<runtime::LogEntry> logs;
  for (int i = 0; i < 250; ++i) logs.push_back({"info", i, "line " + std::to_string(i)});
  auto chunks = chunkLogs(logs);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].entries.size(), 100u);
  EXPECT_EQ(chunks[2].entries.size(), 50u);
  int expect = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    EXPECT_EQ(chunks[c].seq, static_cast<int64_t>(c));
    for (const auto& e : chunks[c].entries)
      EXPECT_EQ(e.message, "line " + std::to_string(expect++));
  }

  std::vector<runtime::LogEntry> big(5, runtime::LogEntry{"warn", 0, std::string(40000, 'x')});
  auto bigChunks = chunkLogs(big);
  EXPECT_EQ(bigChunks.size(), 5u);  // two 40 KB entries exceed 64 KiB
  EXPECT_TRUE(chunkLogs({}).empty());
}

std::shared_ptr<const CachedBundle> entry(std::string sha, size_t bytes) {
  auto e = std::make_shared<CachedBundle>();
  e->sha256 = std::move(sha);
  e->bytes = bytes;
  return e;
}

TEST(BundleCache, EvictsLeastRecentlyUsedByCountAndBytes) {
  BundleCache cache(2, 100);
  cache.put(entry("a", 10));
  cache.put(entry("b", 10));
  ASSERT_NE(cache.get("a"), nullptr);  // a is now most recent
  cache.put(entry("c", 10));           // evicts b
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_NE(cache.get("a"), nullptr);
  EXPECT_NE(cache.get("c"), nullptr);
  EXPECT_EQ(cache.stats().items, 2u);
  EXPECT_EQ(cache.stats().bytes, 20u);

  cache.put(entry("d", 95));  // bytes limit: evicts until <= 100
  EXPECT_EQ(cache.stats().items, 1u);
  EXPECT_NE(cache.get("d"), nullptr);
  cache.put(entry("huge", 101));  // never cached
  EXPECT_EQ(cache.get("huge"), nullptr);
  EXPECT_NE(cache.get("d"), nullptr);
}

TEST(VersionGate, ParksBeyondTheLimitAndHandsThePermitOverInOrder) {
  VersionGate<int> gate;
  int a = 1, b = 2, c = 3, other = 4;
  EXPECT_TRUE(gate.acquireOrPark("v1", 1, a));
  EXPECT_FALSE(gate.acquireOrPark("v1", 1, b));
  EXPECT_FALSE(gate.acquireOrPark("v1", 1, c));
  EXPECT_TRUE(gate.acquireOrPark("v2", 1, other));  // other versions are not affected
  EXPECT_EQ(gate.parked(), 2u);
  auto next = gate.release("v1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, 2);
  EXPECT_EQ(gate.inUse("v1"), 1);  // handed over, still held
  next = gate.release("v1");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, 3);
  EXPECT_FALSE(gate.release("v1").has_value());
  EXPECT_EQ(gate.inUse("v1"), 0);
  EXPECT_EQ(gate.parked(), 0u);
}

TEST(VersionGate, AllowsUpToTheLimitAndDrains) {
  VersionGate<int> gate;
  int jobs[4] = {0, 1, 2, 3};
  EXPECT_TRUE(gate.acquireOrPark("v", 3, jobs[0]));
  EXPECT_TRUE(gate.acquireOrPark("v", 3, jobs[1]));
  EXPECT_TRUE(gate.acquireOrPark("v", 3, jobs[2]));
  EXPECT_FALSE(gate.acquireOrPark("v", 3, jobs[3]));
  EXPECT_EQ(gate.drain().size(), 1u);
  EXPECT_EQ(gate.parked(), 0u);
}

}  // namespace
}  // namespace cs::invoker
