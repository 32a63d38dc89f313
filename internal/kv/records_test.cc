#include "internal/kv/records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace cs::kv {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

template <typename T>
T roundTrip(const T& in) {
  std::string bytes = encode(in);
  auto out = decode<T>(bytes);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message) << "\n" << bytes;
  // Encoding the decoded record gives the same bytes: nothing lost or invented.
  if (out.ok()) {
    EXPECT_EQ(encode(*out), bytes);
  }
  return out.ok() ? *out : T{};
}

template <typename T>
void expectCorrupt(const json& j, const std::string& why) {
  auto r = fromJson<T>(j);
  ASSERT_FALSE(r.ok()) << why << ": " << j.dump();
  EXPECT_EQ(r.error().code, ErrorCode::KvrocksReadFailed) << why;
}

ActivationRecord fullActivation() {
  ActivationRecord a;
  a.activationId = "2f1e6c9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
  a.tenant = "t_acme01";
  a.ns = "payments";
  a.function = "charge";
  a.version = 3;
  a.alias = "prod";
  a.trigger.type = TriggerType::Http;
  a.trigger.source = {{"reply_to", "gw-1"}, {"traceparent", "00-abc-def-01"}};
  a.requestId = "req_12345678";
  a.status = ActivationStatus::Error;
  a.createdAtMs = 100;
  a.startedAtMs = 110;
  a.endedAtMs = 150;
  a.durationMs = 40;
  a.result = json{
      {"statusCode", 500}, {"headers", json::object()}, {"body", "x"}, {"isBase64Encoded", false}};
  a.error = ActivationError{"Exception", "CS_RUNTIME_EXCEPTION", "boom", "at f (function.js:1)"};
  a.resultTruncated = true;
  a.logsTruncated = true;
  a.logChunks = 2;
  return a;
}

TEST(RecordsTest, FunctionRoundTripAndSchema) {
  FunctionRecord f{"t_acme01", "payments", "charge", "cs-js", "function.js", "default", 42, {}};
  auto out = roundTrip(f);
  EXPECT_EQ(out.name, "charge");
  EXPECT_EQ(out.createdAtMs, 42);
  EXPECT_FALSE(out.deletedAtMs.has_value());
  json j = toJson(f);
  EXPECT_EQ(j["schema"], "cs.function.v1");
  EXPECT_EQ(j["namespace"], "payments");
  EXPECT_TRUE(j["deleted_at_ms"].is_null());
  f.deletedAtMs = 99;
  EXPECT_EQ(roundTrip(f).deletedAtMs, 99);
}

TEST(RecordsTest, DraftVersionAliasRoundTrip) {
  DraftRecord d;
  d.draftId = "drf_1";
  d.tenant = "t_acme01";
  d.ns = "payments";
  d.function = "charge";
  d.filesB64 = {{"function.js", "ZXhwb3J0"}, {"manifest.json", "e30="}};
  d.sha256 = std::string(64, 'c');
  d.sizeBytes = 1024;
  d.createdAtMs = 1;
  d.expiresAtMs = 86'400'001;
  auto dOut = roundTrip(d);
  EXPECT_EQ(dOut.filesB64, d.filesB64);
  EXPECT_EQ(dOut.expiresAtMs, 86'400'001);
  EXPECT_EQ(toJson(d)["schema"], "cs.draft.v1");

  VersionRecord v{7, std::string(64, 'd'), json{{"timeout_ms", 1000}, {"env", {{"A", "b"}}}}, 5};
  auto vOut = roundTrip(v);
  EXPECT_EQ(vOut.version, 7);
  EXPECT_EQ(vOut.config, v.config);
  EXPECT_EQ(toJson(v)["schema"], "cs.version.v1");

  AliasRecord a{"prod", 7, 9};
  auto aOut = roundTrip(a);
  EXPECT_EQ(aOut.alias, "prod");
  EXPECT_EQ(aOut.version, 7);
  EXPECT_EQ(toJson(a)["schema"], "cs.alias.v1");
}

TEST(RecordsTest, ActivationRoundTripWithEveryField) {
  auto a = fullActivation();
  auto out = roundTrip(a);
  EXPECT_EQ(out.activationId, a.activationId);
  EXPECT_EQ(out.version, 3);
  EXPECT_EQ(out.alias, "prod");
  EXPECT_EQ(out.trigger.type, TriggerType::Http);
  EXPECT_EQ(out.trigger.source, a.trigger.source);
  EXPECT_EQ(out.status, ActivationStatus::Error);
  EXPECT_EQ(out.durationMs, 40);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, "CS_RUNTIME_EXCEPTION");
  EXPECT_EQ(out.error->stack, "at f (function.js:1)");
  EXPECT_EQ(out.result, a.result);
  EXPECT_TRUE(out.resultTruncated);
  EXPECT_TRUE(out.logsTruncated);
  EXPECT_EQ(out.logChunks, 2);
  json j = toJson(a);
  EXPECT_EQ(j["schema"], "cs.activation.v1");
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["trigger"]["type"], "http");
}

TEST(RecordsTest, QueuedActivationOmitsUnsetFields) {
  ActivationRecord a;
  a.activationId = "2f1e6c9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
  a.trigger.type = TriggerType::Schedule;
  json j = toJson(a);
  for (const char* absent :
       {"version", "alias", "started_at_ms", "ended_at_ms", "duration_ms", "result", "error"}) {
    EXPECT_FALSE(j.contains(absent)) << absent;
  }
  auto out = roundTrip(a);
  EXPECT_FALSE(out.version.has_value());
  EXPECT_FALSE(out.error.has_value());
  EXPECT_EQ(out.status, ActivationStatus::Queued);
}

TEST(RecordsTest, StatusesAndTriggers) {
  for (auto s : {ActivationStatus::Queued, ActivationStatus::Running, ActivationStatus::Success,
                 ActivationStatus::Error, ActivationStatus::Timeout}) {
    EXPECT_EQ(parseActivationStatus(toString(s)), s);
  }
  EXPECT_FALSE(isTerminal(ActivationStatus::Queued));
  EXPECT_FALSE(isTerminal(ActivationStatus::Running));
  EXPECT_TRUE(isTerminal(ActivationStatus::Success));
  EXPECT_TRUE(isTerminal(ActivationStatus::Error));
  EXPECT_TRUE(isTerminal(ActivationStatus::Timeout));
  for (auto t :
       {TriggerType::Http, TriggerType::Schedule, TriggerType::Cadence, TriggerType::Api}) {
    EXPECT_EQ(parseTriggerType(toString(t)), t);
  }
  EXPECT_FALSE(parseActivationStatus("done").has_value());
  EXPECT_FALSE(parseTriggerType("HTTP").has_value());
}

TEST(RecordsTest, LogChunkScheduleWorkerRoundTrip) {
  LogChunk c{4, {{"info", 1, "hello"}, {"error", 2, "{\"k\":1}"}}};
  auto cOut = roundTrip(c);
  EXPECT_EQ(cOut.seq, 4);
  ASSERT_EQ(cOut.entries.size(), 2u);
  EXPECT_EQ(cOut.entries[1].level, "error");
  EXPECT_EQ(toJson(c)["schema"], "cs.log.v1");

  ScheduleRecord s;
  s.tenant = "t_acme01";
  s.ns = "payments";
  s.name = "nightly";
  s.everySeconds = 60;
  s.overlapPolicy = OverlapPolicy::Queue;
  s.ref = FunctionRef{"charge", "prod", std::nullopt};
  s.payload = json{{"x", 1}};
  s.enabled = false;
  auto sOut = roundTrip(s);
  EXPECT_EQ(sOut.overlapPolicy, OverlapPolicy::Queue);
  EXPECT_EQ(sOut.ref.alias, "prod");
  EXPECT_EQ(sOut.payload, s.payload);
  EXPECT_FALSE(sOut.enabled);

  ScheduleState st{1'700'000'000'000, 12};
  auto stOut = roundTrip(st);
  EXPECT_EQ(stOut.nextTickMs, 1'700'000'000'000);
  EXPECT_EQ(stOut.tickSeq, 12);

  WorkerBindingRecord w;
  w.tenant = "t_acme01";
  w.ns = "payments";
  w.name = "billing";
  w.domain = "prod";
  w.tasklist = "billing-tl";
  w.workerId = "w-1";
  w.activityMap = {{"ChargeCard", FunctionRef{"charge", std::nullopt, 3}},
                   {"Refund", FunctionRef{"refund", "live", std::nullopt}}};
  w.activityPollers = 4;
  w.maxInflightTasks = 100;
  auto wOut = roundTrip(w);
  ASSERT_EQ(wOut.activityMap.size(), 2u);
  EXPECT_EQ(wOut.activityMap["ChargeCard"].version, 3);
  EXPECT_EQ(wOut.activityPollers, 4);
  EXPECT_EQ(toJson(w)["pollers"]["activity"], 4);
  EXPECT_EQ(toJson(w)["limits"]["max_inflight_tasks"], 100);

  auto tOut = roundTrip(CadenceTaskRecord{"2f1e6c9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", 5});
  EXPECT_EQ(tOut.createdAtMs, 5);
  auto secOut = roundTrip(SecretRecord{"sk_live_123", 6});
  EXPECT_EQ(secOut.value, "sk_live_123");
}

TEST(RecordsTest, RejectsTextThatIsNotJson) {
  for (const char* bad : {"", "{", "nul", "{\"schema\":\"cs.function.v1\",}", "\xff\xfe"}) {
    auto r = decode<FunctionRecord>(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::KvrocksReadFailed);
  }
}

TEST(RecordsTest, RejectsWrongShapes) {
  json good = toJson(fullActivation());
  ASSERT_TRUE(fromJson<ActivationRecord>(good).ok());
  expectCorrupt<ActivationRecord>(json::array(), "array");
  expectCorrupt<ActivationRecord>(json("text"), "string");

  auto mutated = [&](auto change) {
    json j = good;
    change(j);
    return j;
  };
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j.erase("schema"); }), "no schema");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["schema"] = "cs.function.v1"; }),
                                  "other schema");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["schema"] = "cs.activation.v2"; }),
                                  "unknown version");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j.erase("activation_id"); }), "missing");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["activation_id"] = 7; }), "type");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["status"] = "finished"; }), "enum");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["status"] = nullptr; }), "null");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["created_at_ms"] = -1; }), "negative");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["created_at_ms"] = 1.5; }), "float");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["created_at_ms"] = "1"; }), "string num");
  expectCorrupt<ActivationRecord>(
      mutated([](json& j) { j["duration_ms"] = 18446744073709551615ULL; }), "uint64 overflow");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["version"] = 0; }), "version 0");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["trigger"]["type"] = "ftp"; }),
                                  "trigger type");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["trigger"]["source"] = "x"; }),
                                  "trigger source");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["trigger"] = 1; }), "trigger");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["error"]["message"] = 5; }),
                                  "error.message");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["result"] = "str"; }), "result");
  expectCorrupt<ActivationRecord>(mutated([](json& j) { j["logs_truncated"] = "yes"; }), "bool");

  // The message names the field so an operator can find the bad record.
  auto r = fromJson<ActivationRecord>(mutated([](json& j) { j["trigger"]["type"] = "ftp"; }));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("trigger.type"));

  // Unknown extra fields are tolerated (additive evolution).
  EXPECT_TRUE(fromJson<ActivationRecord>(mutated([](json& j) { j["new_field"] = 1; })).ok());
}

TEST(RecordsTest, RejectsBadNestedRecords) {
  json sched =
      toJson(ScheduleRecord{"t_acme01", "payments", "nightly", 60, OverlapPolicy::Skip,
                            FunctionRef{"charge", "prod", std::nullopt}, std::nullopt, true, 1, 1});
  ASSERT_TRUE(fromJson<ScheduleRecord>(sched).ok());
  json j = sched;
  j["every_seconds"] = 86401;
  expectCorrupt<ScheduleRecord>(j, "interval too large");
  j = sched;
  j["ref"]["version"] = 2;
  expectCorrupt<ScheduleRecord>(j, "alias and version");
  j = sched;
  j["ref"].erase("alias");
  expectCorrupt<ScheduleRecord>(j, "neither alias nor version");
  j = sched;
  j["ref"]["function"] = "Bad:Name";
  expectCorrupt<ScheduleRecord>(j, "bad function name");
  j = sched;
  j["overlap_policy"] = "sometimes";
  expectCorrupt<ScheduleRecord>(j, "overlap policy");

  json chunk = toJson(LogChunk{1, {{"info", 1, "m"}}});
  j = chunk;
  j["entries"][0]["level"] = "trace";
  expectCorrupt<LogChunk>(j, "level");
  j = chunk;
  j["entries"] = json::object();
  expectCorrupt<LogChunk>(j, "entries object");
  j = chunk;
  j["entries"][0] = "line";
  expectCorrupt<LogChunk>(j, "entry not object");

  WorkerBindingRecord w;
  w.activityMap = {{"A", FunctionRef{"charge", "prod", std::nullopt}}};
  json wj = toJson(w);
  ASSERT_TRUE(fromJson<WorkerBindingRecord>(wj).ok());
  j = wj;
  j["pollers"]["activity"] = 0;
  expectCorrupt<WorkerBindingRecord>(j, "pollers");
  j = wj;
  j["limits"]["max_inflight_tasks"] = 100001;
  expectCorrupt<WorkerBindingRecord>(j, "max inflight");
  j = wj;
  j["activity_map"]["A"] = "charge";
  expectCorrupt<WorkerBindingRecord>(j, "map entry");

  json draft = toJson(DraftRecord{});
  draft["files"]["function.js"] = 1;
  expectCorrupt<DraftRecord>(draft, "file not string");
  json version = toJson(VersionRecord{1, "x", json::object(), 1});
  version["config"] = json::array();
  expectCorrupt<VersionRecord>(version, "config not object");
}

TEST(RecordsTest, DeeplyNestedGarbageDoesNotCrash) {
  std::string deep(100000, '[');
  auto r = decode<ActivationRecord>(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::KvrocksReadFailed);
}

TEST(RecordsTest, EncodeNeverThrowsOnInvalidUtf8) {
  LogChunk c{0, {{"info", 1, std::string("bad \xff\xfe utf8")}}};
  std::string bytes;
  ASSERT_NO_THROW(bytes = encode(c));
  auto out = decode<LogChunk>(bytes);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_THAT(out->entries[0].message, HasSubstr("utf8"));
}

}  // namespace
}  // namespace cs::kv
