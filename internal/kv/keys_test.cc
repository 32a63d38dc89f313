#include "internal/kv/keys.h"

#include <gtest/gtest.h>

#include <string>

#include "internal/crypto/crypto.h"

namespace cs::kv::keys {
namespace {

constexpr const char* kT = "t_acme01";
constexpr const char* kNs = "payments";
constexpr const char* kFn = "charge";
constexpr const char* kAct = "2f1e6c9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

std::string ok(Result<std::string> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

void expectNameInvalid(const Result<std::string>& r, const char* what) {
  ASSERT_FALSE(r.ok()) << what << " produced " << (r.ok() ? *r : "");
  EXPECT_EQ(r.error().code, ErrorCode::ValidationNameInvalid) << what;
}

TEST(KeysTest, SpecSection6KeysExactly) {
  EXPECT_EQ(ok(functionMeta(kT, kNs, kFn)), "cs:fn:t_acme01:payments:charge:meta");
  EXPECT_EQ(ok(versionSeq(kT, kNs, kFn)), "cs:fn:t_acme01:payments:charge:version_seq");
  EXPECT_EQ(ok(draft(kT, kNs, kFn, "drf_9f8e7d")),
            "cs:fn:t_acme01:payments:charge:draft:drf_9f8e7d");
  EXPECT_EQ(ok(versionMeta(kT, kNs, kFn, 12)), "cs:fn:t_acme01:payments:charge:ver:12:meta");
  EXPECT_EQ(ok(versionBundle(kT, kNs, kFn, 12)), "cs:fn:t_acme01:payments:charge:ver:12:bundle");
  EXPECT_EQ(ok(alias(kT, kNs, kFn, "prod")), "cs:fn:t_acme01:payments:charge:alias:prod");
  EXPECT_EQ(ok(scheduleMeta(kT, kNs, "nightly")), "cs:schedule:t_acme01:payments:nightly:meta");
  EXPECT_EQ(ok(scheduleState(kT, kNs, "nightly")), "cs:schedule:t_acme01:payments:nightly:state");
  EXPECT_EQ(ok(scheduleInflight(kT, kNs, "nightly")),
            "cs:schedule:t_acme01:payments:nightly:inflight");
  EXPECT_EQ(ok(scheduleIndex(kT, kNs)), "cs:schedule:t_acme01:payments:index");
  EXPECT_EQ(ok(cadenceWorkerMeta(kT, kNs, "billing-worker")),
            "cs:cadence:t_acme01:payments:worker:billing-worker:meta");
  EXPECT_EQ(ok(cadenceWorkersIndex(kT, kNs)), "cs:cadence:t_acme01:payments:workers:index");
  std::string hash(64, 'a');
  EXPECT_EQ(ok(cadenceTask(kT, kNs, hash)), "cs:cadence:t_acme01:payments:task:" + hash);
  EXPECT_EQ(ok(activation(kT, kAct)), std::string("cs:act:t_acme01:") + kAct + ":meta");
  EXPECT_EQ(ok(logChunk(kT, kAct, 0)), std::string("cs:log:t_acme01:") + kAct + ":0");
  EXPECT_EQ(ok(logChunk(kT, kAct, 17)), std::string("cs:log:t_acme01:") + kAct + ":17");
  EXPECT_EQ(ok(logChunks(kT, kAct)), std::string("cs:log:t_acme01:") + kAct + ":chunks");
}

TEST(KeysTest, DocumentedAdditions) {
  EXPECT_EQ(ok(functionIndex(kT, kNs)), "cs:fn:t_acme01:payments:index");
  EXPECT_EQ(ok(activationsByFunction(kT, kNs, kFn)), "cs:act:t_acme01:byfn:payments:charge");
  EXPECT_EQ(ok(aliasPrefix(kT, kNs, kFn)), "cs:fn:t_acme01:payments:charge:alias:");
  EXPECT_EQ(ok(versionPrefix(kT, kNs, kFn)), "cs:fn:t_acme01:payments:charge:ver:");
  EXPECT_EQ(ok(userKv(kT, kNs, "orders/42")), "cs:ukv:t_acme01:payments:orders/42");
  EXPECT_EQ(ok(secret(kT, "payments/stripe_key")), "cs:secret:t_acme01:payments/stripe_key");
  EXPECT_EQ(ok(lease("cs-scheduler")), "cs:lease:cs-scheduler");
}

TEST(KeysTest, CadenceTaskForTokenHashesTheToken) {
  std::string token("\x01\x02raw-token:with:colons", 22);
  EXPECT_EQ(ok(cadenceTaskForToken(kT, kNs, token)),
            "cs:cadence:t_acme01:payments:task:" + crypto::sha256Hex(token));
  expectNameInvalid(cadenceTaskForToken(kT, kNs, ""), "empty token");
  expectNameInvalid(cadenceTask(kT, kNs, std::string(64, 'A')), "upper-case hash");
  expectNameInvalid(cadenceTask(kT, kNs, "abc:def"), "short hash");
}

TEST(KeysTest, NameRules) {
  EXPECT_TRUE(isValidTenant("t_abcdef"));
  EXPECT_TRUE(isValidTenant("t_" + std::string(32, '9')));
  EXPECT_FALSE(isValidTenant("t_abcde"));  // 5 chars
  EXPECT_FALSE(isValidTenant("t_" + std::string(33, 'a')));
  EXPECT_FALSE(isValidTenant("t_ABCDEF"));
  EXPECT_FALSE(isValidTenant("x_abcdef"));
  EXPECT_TRUE(isValidNamespace("abc"));
  EXPECT_FALSE(isValidNamespace("ab"));
  EXPECT_TRUE(isValidNamespace("a" + std::string(63, '-')));
  EXPECT_FALSE(isValidNamespace("a" + std::string(64, 'b')));
  EXPECT_FALSE(isValidNamespace("1abc"));
  EXPECT_TRUE(isValidAlias("v1"));
  EXPECT_FALSE(isValidAlias("v"));
  EXPECT_FALSE(isValidAlias("a" + std::string(32, 'b')));
  EXPECT_TRUE(isValidDraftId("drf_AbC-12_x"));
  EXPECT_FALSE(isValidDraftId("drf_"));
  EXPECT_FALSE(isValidDraftId("xyz_abc"));
  EXPECT_TRUE(isValidActivationId(kAct));
  EXPECT_FALSE(isValidActivationId("2F1E6C9A-3B4D-4E5F-8A9B-0C1D2E3F4A5B"));  // not canonical
  EXPECT_FALSE(isValidActivationId("2f1e6c9a3b4d4e5f8a9b0c1d2e3f4a5b0000"));
  EXPECT_TRUE(isValidSecretPath("payments/stripe_key"));
  EXPECT_TRUE(isValidSecretPath("a.b-c"));
  EXPECT_FALSE(isValidSecretPath("payments//x"));
  EXPECT_FALSE(isValidSecretPath("../x"));
  EXPECT_FALSE(isValidSecretPath("/x"));
  EXPECT_FALSE(isValidSecretPath("x/"));
  EXPECT_FALSE(isValidSecretPath("a:b"));
}

// A user-provided component must never be able to carry ':' (or anything else) that would
// reach another tenant's, namespace's or function's key space.
TEST(KeysTest, RejectsInjectionAttempts) {
  expectNameInvalid(functionMeta("t_acme01:payments", kNs, kFn), "tenant with ':'");
  expectNameInvalid(functionMeta("t_other1:x", kNs, kFn), "tenant injection");
  expectNameInvalid(functionMeta(kT, "pay:ments", kFn), "namespace with ':'");
  expectNameInvalid(functionMeta(kT, kNs, "charge:ver:1"), "function with ':'");
  expectNameInvalid(functionMeta(kT, kNs, "charge*"), "glob");
  expectNameInvalid(functionMeta(kT, kNs, std::string("cha\0rge", 7)), "NUL byte");
  expectNameInvalid(functionMeta(kT, kNs, "Charge"), "upper case");
  expectNameInvalid(functionMeta(kT, kNs, ""), "empty");
  expectNameInvalid(draft(kT, kNs, kFn, "drf_x:meta"), "draft id with ':'");
  expectNameInvalid(versionMeta(kT, kNs, kFn, 0), "version 0");
  expectNameInvalid(versionBundle(kT, kNs, kFn, -1), "negative version");
  expectNameInvalid(alias(kT, kNs, kFn, "prod:x"), "alias with ':'");
  expectNameInvalid(scheduleMeta(kT, kNs, "a:b:c"), "schedule with ':'");
  expectNameInvalid(cadenceWorkerMeta(kT, kNs, "w:x"), "worker with ':'");
  expectNameInvalid(activation(kT, "not-a-uuid"), "activation id");
  expectNameInvalid(activation("t_other1", std::string(kAct) + ":x"), "activation id suffix");
  expectNameInvalid(logChunk(kT, kAct, -1), "negative chunk");
  expectNameInvalid(secret(kT, "x:y"), "secret with ':'");
  expectNameInvalid(secret("t_a:b", "x"), "secret tenant");
  expectNameInvalid(userKv("t_acme01:payments", kNs, "k"), "ukv tenant");
  expectNameInvalid(lease("Leader:x"), "lease");
  // The error message does not echo control characters of the hostile value.
  auto r = functionMeta(kT, kNs, "bad\nname");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
}

TEST(KeysTest, UserKeysAreEscapedAndScoped) {
  // A user key with ':' stays inside the caller's tenant and namespace.
  std::string k = ok(userKv(kT, kNs, "x:cs:fn:t_other1:ns"));
  EXPECT_EQ(k, "cs:ukv:t_acme01:payments:x%3Acs%3Afn%3At_other1%3Ans");
  EXPECT_EQ(k.find(':', std::string("cs:ukv:t_acme01:payments:").size()), std::string::npos);
  EXPECT_EQ(ok(userKv(kT, kNs, "100%")), "cs:ukv:t_acme01:payments:100%25");
  EXPECT_EQ(ok(userKv(kT, kNs, std::string("a\0b\xff *", 6))),
            "cs:ukv:t_acme01:payments:a%00b%FF%20%2A");
  // Keys that differ only by escaping stay distinct.
  EXPECT_NE(ok(userKv(kT, kNs, "a:b")), ok(userKv(kT, kNs, "a%3Ab")));

  auto empty = userKv(kT, kNs, "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::ValidationFailed);
  EXPECT_TRUE(userKv(kT, kNs, std::string(kMaxUserKeyBytes, 'a')).ok());
  EXPECT_FALSE(userKv(kT, kNs, std::string(kMaxUserKeyBytes + 1, 'a')).ok());
}

TEST(KeysTest, UserKeyEncodingRoundTripsAndPreservesPrefixes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (const std::string& s : {std::string("plain/key-1.2_~"), std::string("a:b%c"), all}) {
    auto decoded = decodeUserKey(encodeUserKey(s));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(encodeUserKey("orders/42").rfind(encodeUserKey("orders/"), 0), 0u);
  EXPECT_EQ(ok(userKvPrefix(kT, kNs, "a:")), "cs:ukv:t_acme01:payments:a%3A");
  EXPECT_EQ(ok(userKvPrefix(kT, kNs, "")), "cs:ukv:t_acme01:payments:");
  // Non-canonical encodings are rejected, so decode is the exact inverse of encode.
  for (const char* bad : {"a:b", "%3a", "%41", "%4", "%", "%G0", "a b"}) {
    EXPECT_FALSE(decodeUserKey(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cs::kv::keys
