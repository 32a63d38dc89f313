#include "internal/kv/testing/store_contract.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::kv::testing {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

void PrintTo(const StoreContractParam& param, std::ostream* os) { *os << param.name; }

std::string storeContractParamName(const ::testing::TestParamInfo<StoreContractParam>& info) {
  return info.param.name;
}

void StoreContractTest::SetUp() {
  sut_ = GetParam().factory();
  ASSERT_NE(sut_.store, nullptr) << "factory returned no store";
  ASSERT_TRUE(sut_.advanceMs) << "factory returned no time control";
}

void StoreContractTest::TearDown() {
  if (sut_.store) sut_.store->stop();
  sut_.store.reset();
}

namespace {

constexpr const char* kT = "t_contract1";
constexpr const char* kNs = "payments";
constexpr const char* kFn = "charge";

std::string must(Result<std::string> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::string("invalid");
}

std::string fnMetaKey() { return must(keys::functionMeta(kT, kNs, kFn)); }
std::string draftKey(const std::string& id) { return must(keys::draft(kT, kNs, kFn, id)); }

void putFunction(Store& s, std::optional<int64_t> deletedAtMs = std::nullopt) {
  FunctionRecord f{kT, kNs, kFn, "cs-js", "function.js", "default", 1000, deletedAtMs};
  ASSERT_TRUE(s.set(fnMetaKey(), encode(f), kNoTtl).ok());
}

void putDraft(Store& s, const std::string& id, int64_t ttlMs = 86'400'000) {
  DraftRecord d;
  d.draftId = id;
  d.tenant = kT;
  d.ns = kNs;
  d.function = kFn;
  d.filesB64 = {{"function.js", "ZXhwb3J0"}, {"manifest.json", "e30="}};
  d.sha256 = std::string(64, 'a');
  d.sizeBytes = 10;
  d.createdAtMs = 1;
  d.expiresAtMs = 1 + ttlMs;
  ASSERT_TRUE(s.set(draftKey(id), encode(d), ttlMs).ok());
}

PublishRequest publishReq(const std::string& draftId, std::optional<std::string> alias = {}) {
  PublishRequest r;
  r.tenant = kT;
  r.ns = kNs;
  r.function = kFn;
  r.draftId = draftId;
  r.bundle = std::string("tar\0bytes\xff", 10);
  r.sha256 = std::string(64, 'b');
  r.config = {{"timeout_ms", 3000}, {"authz", {{"invoke_http_roles", {"dev"}}}}};
  r.publishedAtMs = 5000;
  r.alias = std::move(alias);
  return r;
}

std::string activationJson(std::string_view status, std::string_view marker = "") {
  nlohmann::json j{{"schema", "cs.activation.v1"}, {"status", status}, {"marker", marker}};
  return j.dump();
}

std::vector<std::string> scanAll(Store& s, const std::string& prefix, size_t limit) {
  std::vector<std::string> all;
  std::string cursor;
  for (int guard = 0; guard < 1000; ++guard) {
    auto page = s.scanPrefix(prefix, cursor, limit);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    if (!page.ok()) break;
    EXPECT_LE(page->keys.size(), limit);
    all.insert(all.end(), page->keys.begin(), page->keys.end());
    if (page->cursor.empty()) break;
    cursor = page->cursor;
  }
  return all;
}

}  // namespace

// --- strings ----------------------------------------------------------------------------------

TEST_P(StoreContractTest, GetMissingKeyIsAbsent) {
  auto v = store().get("cs:test:missing");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  auto e = store().exists("cs:test:missing");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(*e);
}

TEST_P(StoreContractTest, SetThenGetIsBinarySafeAndOverwrites) {
  std::string bytes("a\0b\xff\x01", 5);
  ASSERT_TRUE(store().set("cs:test:k", bytes, kNoTtl).ok());
  auto v = store().get("cs:test:k");
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, bytes);
  ASSERT_TRUE(store().set("cs:test:k", "", kNoTtl).ok());
  v = store().get("cs:test:k");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, "");
}

TEST_P(StoreContractTest, ValueWithTtlExpires) {
  ASSERT_TRUE(store().set("cs:test:ttl", "v", 1000).ok());
  auto t = store().ttl("cs:test:ttl");
  ASSERT_TRUE(t.ok());
  EXPECT_GT(*t, 0);
  EXPECT_LE(*t, 1000);
  advanceMs(1001);
  auto v = store().get("cs:test:ttl");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
  EXPECT_FALSE(*store().exists("cs:test:ttl"));
  EXPECT_EQ(*store().ttl("cs:test:ttl"), kTtlKeyAbsent);
  EXPECT_FALSE(*store().del("cs:test:ttl"));
}

TEST_P(StoreContractTest, SetWithoutTtlClearsTtl) {
  ASSERT_TRUE(store().set("cs:test:k", "1", 1000).ok());
  ASSERT_TRUE(store().set("cs:test:k", "2", kNoTtl).ok());
  EXPECT_EQ(*store().ttl("cs:test:k"), kTtlNone);
  advanceMs(1001);
  EXPECT_EQ(store().get("cs:test:k")->value_or("absent"), "2");
}

TEST_P(StoreContractTest, SetIfAbsentWritesOnlyOnce) {
  auto first = store().setIfAbsent("cs:test:nx", "a", 1000);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = store().setIfAbsent("cs:test:nx", "b", 1000);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  EXPECT_EQ(store().get("cs:test:nx")->value_or(""), "a");
  advanceMs(1001);
  EXPECT_TRUE(*store().setIfAbsent("cs:test:nx", "c", kNoTtl));
  EXPECT_EQ(store().get("cs:test:nx")->value_or(""), "c");
}

TEST_P(StoreContractTest, IncrByCountsAndKeepsTtl) {
  EXPECT_EQ(*store().incrBy("cs:test:n", 1), 1);
  EXPECT_EQ(*store().incrBy("cs:test:n", 5), 6);
  EXPECT_EQ(*store().incrBy("cs:test:n", -10), -4);
  EXPECT_EQ(store().get("cs:test:n")->value_or(""), "-4");
  ASSERT_TRUE(*store().expire("cs:test:n", 5000));
  EXPECT_EQ(*store().incrBy("cs:test:n", 1), -3);
  EXPECT_GT(*store().ttl("cs:test:n"), 0);
}

TEST_P(StoreContractTest, IncrByRejectsNonIntegerAndOverflow) {
  ASSERT_TRUE(store().set("cs:test:s", "12abc", kNoTtl).ok());
  auto r = store().incrBy("cs:test:s", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::KvrocksWriteFailed);
  EXPECT_EQ(store().get("cs:test:s")->value_or(""), "12abc");

  ASSERT_TRUE(
      store().set("cs:test:max", std::to_string(std::numeric_limits<int64_t>::max()), kNoTtl).ok());
  auto o = store().incrBy("cs:test:max", 1);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, ErrorCode::KvrocksWriteFailed);
}

TEST_P(StoreContractTest, DelRemovesAnyType) {
  ASSERT_TRUE(store().set("cs:test:s", "v", kNoTtl).ok());
  ASSERT_TRUE(store().sadd("cs:test:set", "m").ok());
  ASSERT_TRUE(store().zadd("cs:test:z", "m", 1).ok());
  for (const char* k : {"cs:test:s", "cs:test:set", "cs:test:z"}) {
    auto d = store().del(k);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(*d) << k;
    EXPECT_FALSE(*store().exists(k)) << k;
    EXPECT_FALSE(*store().del(k)) << k;
  }
  EXPECT_TRUE(store().smembers("cs:test:set")->empty());
  EXPECT_EQ(*store().zcard("cs:test:z"), 0);
}

TEST_P(StoreContractTest, ExpireAndTtl) {
  auto missing = store().expire("cs:test:none", 1000);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  ASSERT_TRUE(store().set("cs:test:k", "v", kNoTtl).ok());
  EXPECT_EQ(*store().ttl("cs:test:k"), kTtlNone);
  EXPECT_TRUE(*store().expire("cs:test:k", 2000));
  auto t = store().ttl("cs:test:k");
  EXPECT_GT(*t, 1000);
  EXPECT_LE(*t, 2000);
  advanceMs(2001);
  EXPECT_FALSE(store().get("cs:test:k")->has_value());
}

TEST_P(StoreContractTest, RejectsBadArguments) {
  auto emptyKey = store().set("", "v", kNoTtl);
  ASSERT_FALSE(emptyKey.ok());
  EXPECT_EQ(emptyKey.error().code, ErrorCode::ValidationFailed);
  for (int64_t bad : {int64_t{0}, int64_t{-5}}) {
    auto r = store().set("cs:test:k", "v", bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::ValidationFailed);
    auto e = store().expire("cs:test:k", bad);
    ASSERT_FALSE(e.ok());
  }
  EXPECT_FALSE(store().exists("cs:test:k").value());
  auto nan = store().zadd("cs:test:z", "m", std::nan(""));
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.error().code, ErrorCode::ValidationFailed);
  EXPECT_FALSE(store().scanPrefix("cs:", "", 0).ok());
  EXPECT_FALSE(store().leaseAcquire("cs:lease:x", "", 1000).ok());
}

TEST_P(StoreContractTest, WrongTypeIsAnErrorNotACrash) {
  ASSERT_TRUE(store().set("cs:test:str", "v", kNoTtl).ok());
  auto a = store().sadd("cs:test:str", "m");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::KvrocksWriteFailed);
  EXPECT_FALSE(store().zadd("cs:test:str", "m", 1).ok());
  EXPECT_FALSE(store().smembers("cs:test:str").ok());
  ASSERT_TRUE(store().sadd("cs:test:set", "m").ok());
  auto g = store().get("cs:test:set");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, ErrorCode::KvrocksReadFailed);
  EXPECT_FALSE(store().incrBy("cs:test:set", 1).ok());
  // set() overwrites whatever type was there, like Redis SET.
  ASSERT_TRUE(store().set("cs:test:set", "now a string", kNoTtl).ok());
  EXPECT_EQ(store().get("cs:test:set")->value_or(""), "now a string");
}

// --- sets -------------------------------------------------------------------------------------

TEST_P(StoreContractTest, SetMembership) {
  EXPECT_TRUE(*store().sadd("cs:test:set", "b"));
  EXPECT_TRUE(*store().sadd("cs:test:set", "a"));
  EXPECT_FALSE(*store().sadd("cs:test:set", "a"));
  EXPECT_TRUE(*store().sismember("cs:test:set", "a"));
  EXPECT_FALSE(*store().sismember("cs:test:set", "c"));
  EXPECT_THAT(*store().smembers("cs:test:set"), UnorderedElementsAre("a", "b"));
  EXPECT_TRUE(*store().srem("cs:test:set", "a"));
  EXPECT_FALSE(*store().srem("cs:test:set", "a"));
  EXPECT_THAT(*store().smembers("cs:test:set"), ElementsAre("b"));
  EXPECT_TRUE(*store().srem("cs:test:set", "b"));
  EXPECT_FALSE(*store().exists("cs:test:set")) << "an empty set is removed";
  EXPECT_TRUE(store().smembers("cs:test:missing")->empty());
}

TEST_P(StoreContractTest, SetExpiresAsAWhole) {
  ASSERT_TRUE(store().sadd("cs:test:set", "a").ok());
  ASSERT_TRUE(*store().expire("cs:test:set", 1000));
  advanceMs(1001);
  EXPECT_TRUE(store().smembers("cs:test:set")->empty());
  EXPECT_FALSE(*store().sismember("cs:test:set", "a"));
  // A new set under the same key starts empty and without TTL.
  ASSERT_TRUE(*store().sadd("cs:test:set", "b"));
  EXPECT_THAT(*store().smembers("cs:test:set"), ElementsAre("b"));
  EXPECT_EQ(*store().ttl("cs:test:set"), kTtlNone);
}

// --- sorted sets ------------------------------------------------------------------------------

TEST_P(StoreContractTest, SortedSetRangesAndLimits) {
  const std::string k = "cs:test:z";
  EXPECT_TRUE(*store().zadd(k, "c", 3));
  EXPECT_TRUE(*store().zadd(k, "a", 1));
  EXPECT_TRUE(*store().zadd(k, "b", 2));
  EXPECT_TRUE(*store().zadd(k, "b2", 2));
  EXPECT_FALSE(*store().zadd(k, "c", 30)) << "existing member: score update";
  EXPECT_EQ(*store().zcard(k), 4);

  auto all = store().zrangeByScore(k, ZRangeQuery{});
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, ElementsAre(ScoredMember{"a", 1}, ScoredMember{"b", 2}, ScoredMember{"b2", 2},
                                ScoredMember{"c", 30}));

  ZRangeQuery mid;
  mid.minScore = 2;
  mid.maxScore = 30;
  mid.offset = 1;
  mid.limit = 1;
  EXPECT_THAT(*store().zrangeByScore(k, mid), ElementsAre(ScoredMember{"b2", 2}));

  ZRangeQuery desc;
  desc.order = ScoreOrder::Descending;
  desc.limit = 3;
  EXPECT_THAT(*store().zrangeByScore(k, desc),
              ElementsAre(ScoredMember{"c", 30}, ScoredMember{"b2", 2}, ScoredMember{"b", 2}));

  ZRangeQuery none;
  none.minScore = 100;
  EXPECT_TRUE(store().zrangeByScore(k, none)->empty());
  ZRangeQuery zero;
  zero.limit = 0;
  EXPECT_TRUE(store().zrangeByScore(k, zero)->empty());

  EXPECT_TRUE(*store().zrem(k, "a"));
  EXPECT_FALSE(*store().zrem(k, "a"));
  EXPECT_EQ(*store().zremRangeByScore(k, 2, 2), 2);
  EXPECT_THAT(*store().zrangeByScore(k, ZRangeQuery{}), ElementsAre(ScoredMember{"c", 30}));
  EXPECT_EQ(*store().zremRangeByScore(k, 0, 100), 1);
  EXPECT_FALSE(*store().exists(k)) << "an empty sorted set is removed";
}

TEST_P(StoreContractTest, SortedSetHoldsMillisecondTimestampsExactly) {
  const int64_t ts = 1'700'000'123'457;
  ASSERT_TRUE(store().zadd("cs:test:z", "act", static_cast<double>(ts)).ok());
  auto r = store().zrangeByScore("cs:test:z", ZRangeQuery{});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(static_cast<int64_t>((*r)[0].score), ts);
}

// --- scan -------------------------------------------------------------------------------------

TEST_P(StoreContractTest, ScanPrefixPagesThroughExactlyThePrefix) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    std::string k = "cs:scan:a:" + std::to_string(100 + i);
    expected.push_back(k);
    ASSERT_TRUE(store().set(k, "v", kNoTtl).ok());
  }
  ASSERT_TRUE(store().sadd("cs:scan:a:set", "m").ok());
  expected.push_back("cs:scan:a:set");
  ASSERT_TRUE(store().set("cs:scan:b:1", "v", kNoTtl).ok());
  ASSERT_TRUE(store().set("cs:scan:a", "v", kNoTtl).ok());  // prefix without the ':'
  ASSERT_TRUE(store().set("cs:scan:a:gone", "v", 1000).ok());
  advanceMs(1001);

  auto keys = scanAll(store(), "cs:scan:a:", 7);
  EXPECT_THAT(keys, UnorderedElementsAreArray(expected));
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size()) << "no key twice";
  EXPECT_TRUE(scanAll(store(), "cs:scan:zzz:", 5).empty());
}

// --- publish ----------------------------------------------------------------------------------

TEST_P(StoreContractTest, PublishWritesVersionBundleAliasAndConsumesDraft) {
  putFunction(store());
  putDraft(store(), "drf_one");
  auto v = store().publishVersion(publishReq("drf_one", "prod"));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, 1);

  auto meta = store().get(must(keys::versionMeta(kT, kNs, kFn, 1)));
  ASSERT_TRUE(meta.ok() && meta->has_value());
  auto rec = decode<VersionRecord>(**meta);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->version, 1);
  EXPECT_EQ(rec->sha256, std::string(64, 'b'));
  EXPECT_EQ(rec->publishedAtMs, 5000);
  EXPECT_EQ(rec->config["timeout_ms"], 3000);

  auto bundle = store().get(must(keys::versionBundle(kT, kNs, kFn, 1)));
  ASSERT_TRUE(bundle.ok() && bundle->has_value());
  EXPECT_EQ(**bundle, std::string("tar\0bytes\xff", 10));

  auto alias = store().get(must(keys::alias(kT, kNs, kFn, "prod")));
  ASSERT_TRUE(alias.ok() && alias->has_value());
  auto a = decode<AliasRecord>(**alias);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->alias, "prod");
  EXPECT_EQ(a->version, 1);

  EXPECT_FALSE(*store().exists(draftKey("drf_one"))) << "draft consumed";
  EXPECT_EQ(store().get(must(keys::versionSeq(kT, kNs, kFn)))->value_or(""), "1");

  putDraft(store(), "drf_two");
  auto v2 = store().publishVersion(publishReq("drf_two"));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2, 2);
  a = decode<AliasRecord>(store().get(must(keys::alias(kT, kNs, kFn, "prod")))->value_or(""));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->version, 1) << "publish without alias leaves aliases alone";
}

TEST_P(StoreContractTest, PublishRejectsUnknownDraft) {
  putFunction(store());
  auto v = store().publishVersion(publishReq("drf_nope"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(v.error().message, HasSubstr("draft not found or expired"));
  EXPECT_FALSE(*store().exists(must(keys::versionSeq(kT, kNs, kFn)))) << "nothing written";
  EXPECT_FALSE(*store().exists(must(keys::versionMeta(kT, kNs, kFn, 1))));
}

TEST_P(StoreContractTest, PublishRejectsExpiredDraft) {
  putFunction(store());
  putDraft(store(), "drf_old", 86'400'000);
  advanceMs(86'400'001);
  auto v = store().publishVersion(publishReq("drf_old", "prod"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(v.error().message, HasSubstr("draft not found or expired"));
  EXPECT_FALSE(*store().exists(must(keys::versionMeta(kT, kNs, kFn, 1))));
  EXPECT_FALSE(*store().exists(must(keys::alias(kT, kNs, kFn, "prod"))));
}

TEST_P(StoreContractTest, PublishRequiresALiveFunction) {
  putDraft(store(), "drf_one");
  auto missing = store().publishVersion(publishReq("drf_one"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);

  putFunction(store(), /*deletedAtMs=*/9000);
  auto deleted = store().publishVersion(publishReq("drf_one"));
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, ErrorCode::NotFound);
  EXPECT_TRUE(*store().exists(draftKey("drf_one"))) << "a failed publish keeps the draft";
  EXPECT_FALSE(*store().exists(must(keys::versionSeq(kT, kNs, kFn))));
}

TEST_P(StoreContractTest, PublishRejectsCorruptFunctionRecord) {
  ASSERT_TRUE(store().set(fnMetaKey(), "{not json", kNoTtl).ok());
  putDraft(store(), "drf_one");
  auto v = store().publishVersion(publishReq("drf_one"));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::KvrocksReadFailed);
  EXPECT_TRUE(*store().exists(draftKey("drf_one")));
}

TEST_P(StoreContractTest, PublishValidatesNames) {
  auto req = publishReq("drf_one");
  req.tenant = "t_x:evil";
  auto bad = store().publishVersion(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::ValidationNameInvalid);
  req = publishReq("drf_one", "Bad:Alias");
  putFunction(store());
  putDraft(store(), "drf_one");
  auto badAlias = store().publishVersion(req);
  ASSERT_FALSE(badAlias.ok());
  EXPECT_EQ(badAlias.error().code, ErrorCode::ValidationNameInvalid);
  EXPECT_TRUE(*store().exists(draftKey("drf_one")));
}

TEST_P(StoreContractTest, ConcurrentPublishesGetUniqueGapFreeVersions) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
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
      for (int i = 0; i < kPerThread; ++i) {
        auto v = store().publishVersion(
            publishReq("drf_" + std::to_string(t) + "_" + std::to_string(i)));
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
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::sort(versions.begin(), versions.end());
  std::vector<int64_t> expected(kThreads * kPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i + 1);
  EXPECT_EQ(versions, expected);
  EXPECT_EQ(store().get(must(keys::versionSeq(kT, kNs, kFn)))->value_or(""),
            std::to_string(kThreads * kPerThread));
  for (int64_t v : expected) {
    auto meta = store().get(must(keys::versionMeta(kT, kNs, kFn, v)));
    ASSERT_TRUE(meta.ok() && meta->has_value()) << v;
    EXPECT_EQ(decode<VersionRecord>(**meta)->version, v);
  }
}

// --- activation CAS ---------------------------------------------------------------------------

TEST_P(StoreContractTest, CasCreatesRecordWhenAbsentIsExpected) {
  const std::string k = "cs:act:t_contract1:x:meta";
  auto r = store().casActivationStatus(k, {std::string(kStatusAbsent), "queued"},
                                       activationJson("running"), 60'000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->outcome, CasOutcome::Applied);
  EXPECT_EQ(r->current.value_or(""), activationJson("running"));
  EXPECT_GT(*store().ttl(k), 0);

  auto again = store().casActivationStatus(k, {std::string(kStatusAbsent)},
                                           activationJson("running", "2"), 60'000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, CasOutcome::Conflict) << "record exists now";
  EXPECT_EQ(again->current.value_or(""), activationJson("running"));
}

TEST_P(StoreContractTest, CasRunningToSuccessApplies) {
  const std::string k = "cs:act:t_contract1:x:meta";
  ASSERT_TRUE(store().set(k, activationJson("running"), kNoTtl).ok());
  auto r = store().casActivationStatus(k, {"queued", "running"}, activationJson("success"), 60'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CasOutcome::Applied);
  EXPECT_EQ(store().get(k)->value_or(""), activationJson("success"));
}

TEST_P(StoreContractTest, CasNeverLeavesATerminalState) {
  const std::string k = "cs:act:t_contract1:x:meta";
  for (const char* terminal : {"success", "error", "timeout"}) {
    ASSERT_TRUE(store().set(k, activationJson(terminal), kNoTtl).ok());
    // Even a caller that lists the terminal status as expected cannot move it.
    auto r = store().casActivationStatus(k, {"queued", "running", terminal},
                                         activationJson("error", "late"), 60'000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->outcome, CasOutcome::Conflict) << terminal;
    EXPECT_EQ(r->current.value_or(""), activationJson(terminal));
    EXPECT_EQ(store().get(k)->value_or(""), activationJson(terminal));
  }
}

TEST_P(StoreContractTest, CasRefusesUnexpectedStatus) {
  const std::string k = "cs:act:t_contract1:x:meta";
  ASSERT_TRUE(store().set(k, activationJson("queued"), kNoTtl).ok());
  auto r = store().casActivationStatus(k, {"running"}, activationJson("success"), kNoTtl);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, CasOutcome::Conflict);
  auto absent = store().casActivationStatus("cs:act:t_contract1:y:meta", {"running"},
                                            activationJson("success"), kNoTtl);
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->outcome, CasOutcome::Conflict);
  EXPECT_FALSE(absent->current.has_value());
  EXPECT_FALSE(*store().exists("cs:act:t_contract1:y:meta"));
}

TEST_P(StoreContractTest, CasRejectsBadRecords) {
  const std::string k = "cs:act:t_contract1:x:meta";
  for (const char* bad : {"not json", "[1]", R"({"status":3})", R"({"status":""})", "{}"}) {
    auto r = store().casActivationStatus(k, {std::string(kStatusAbsent)}, bad, kNoTtl);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::ValidationFailed) << bad;
  }
  EXPECT_FALSE(*store().exists(k));
  ASSERT_TRUE(store().set(k, "{corrupt", kNoTtl).ok());
  auto r = store().casActivationStatus(k, {"running"}, activationJson("success"), kNoTtl);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::KvrocksReadFailed);
  EXPECT_EQ(store().get(k)->value_or(""), "{corrupt");
}

TEST_P(StoreContractTest, ConcurrentTerminalCasHasExactlyOneWinner) {
  const std::string k = "cs:act:t_contract1:x:meta";
  ASSERT_TRUE(store().set(k, activationJson("running"), kNoTtl).ok());
  constexpr int kThreads = 8;
  std::atomic<int> applied{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = store().casActivationStatus(k, {"running"},
                                           activationJson("success", std::to_string(t)), kNoTtl);
      if (!r.ok()) {
        ++failed;
      } else if (r->outcome == CasOutcome::Applied) {
        ++applied;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), 1);
}

// --- leases -----------------------------------------------------------------------------------

TEST_P(StoreContractTest, LeaseHonoursOwnerTokens) {
  const std::string k = "cs:lease:scheduler";
  EXPECT_TRUE(*store().leaseAcquire(k, "a", 10'000));
  EXPECT_TRUE(*store().leaseAcquire(k, "a", 10'000)) << "re-acquire by the holder";
  EXPECT_FALSE(*store().leaseAcquire(k, "b", 10'000));
  EXPECT_FALSE(*store().leaseRenew(k, "b", 10'000));
  EXPECT_TRUE(*store().leaseRenew(k, "a", 20'000));
  EXPECT_GT(*store().ttl(k), 10'000);
  EXPECT_FALSE(*store().leaseRelease(k, "b"));
  EXPECT_EQ(store().get(k)->value_or(""), "a");
  EXPECT_TRUE(*store().leaseRelease(k, "a"));
  EXPECT_FALSE(*store().exists(k));
  EXPECT_FALSE(*store().leaseRenew(k, "a", 10'000)) << "renew does not re-create";
  EXPECT_FALSE(*store().leaseRelease(k, "a"));
  EXPECT_TRUE(*store().leaseAcquire(k, "b", 10'000));
}

TEST_P(StoreContractTest, ExpiredLeaseCanBeTakenOver) {
  const std::string k = "cs:lease:scheduler";
  ASSERT_TRUE(*store().leaseAcquire(k, "a", 1000));
  advanceMs(1001);
  EXPECT_FALSE(*store().leaseRenew(k, "a", 1000)) << "an expired lease is lost";
  EXPECT_TRUE(*store().leaseAcquire(k, "b", 1000));
  EXPECT_FALSE(*store().leaseRelease(k, "a"));
  EXPECT_EQ(store().get(k)->value_or(""), "b");
}

TEST_P(StoreContractTest, ConcurrentLeaseAcquireHasExactlyOneHolder) {
  const std::string k = "cs:lease:race";
  constexpr int kThreads = 8;
  std::atomic<int> won{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = store().leaseAcquire(k, "owner-" + std::to_string(t), 10'000);
      if (!r.ok()) {
        ++failed;
      } else if (*r) {
        ++won;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(won.load(), 1);
}

TEST_P(StoreContractTest, PingSucceeds) { EXPECT_TRUE(store().ping().ok()); }

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreContractTest);

}  // namespace cs::kv::testing
