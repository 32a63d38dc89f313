#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "internal/authn/authn.h"
#include "internal/authn/keys.h"
#include "internal/authn/testing/test_keys.h"

namespace cs::authn {
namespace {

using testing::TempKeyPair;

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr const char* kIss = "https://tikti.test";
constexpr const char* kAud = "code-sous";

void expectCode(const Result<Principal>& r, ErrorCode code) {
  ASSERT_FALSE(r.ok()) << "accepted";
  EXPECT_EQ(r.error().code, code) << r.error().name() << ": " << r.error().message;
}

TEST(ExtractBearerToken, Cases) {
  EXPECT_EQ(extractBearerToken("Bearer abc.def.ghi").value(), "abc.def.ghi");
  EXPECT_EQ(extractBearerToken("  bearer   abc.def.ghi  ").value(), "abc.def.ghi");
  EXPECT_EQ(extractBearerToken("BEARER a-b_c.d.e").value(), "a-b_c.d.e");
  for (const char* missing :
       {"", "   ", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Bearerabc", "Token abc.def.ghi"}) {
    auto r = extractBearerToken(missing);
    ASSERT_FALSE(r.ok()) << missing;
    EXPECT_EQ(r.error().code, ErrorCode::AuthnMissingToken) << missing;
  }
  for (const char* invalid : {"Bearer abc def", "Bearer abc\"def", "Bearer a+b/c=", "Bearer é"}) {
    auto r = extractBearerToken(invalid);
    ASSERT_FALSE(r.ok()) << invalid;
    EXPECT_EQ(r.error().code, ErrorCode::AuthnInvalidToken) << invalid;
  }
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new TempKeyPair();
    b_ = new TempKeyPair();
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
  }
  void SetUp() override {
    dir_ = testing::makeTempDir("cs-authn-auth-");
    jwksFile_ = dir_ + "/jwks.json";
    testing::writeFileForTest(jwksFile_, a_->jwks());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TiktiOptions options() {
    TiktiOptions o;
    o.jwksFile = jwksFile_;
    o.issuer = kIss;
    o.audience = kAud;
    o.cacheTtlSeconds = 60;
    o.refreshMinIntervalSeconds = 30;
    o.jwksMaxAgeSeconds = 0;
    o.nowMs = [this] { return now_.load(); };
    return o;
  }
  std::unique_ptr<Authenticator> make(TiktiOptions o) {
    auto r = makeTiktiAuthenticator(std::move(o));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : nullptr;
  }
  static MintOptions mintOptions() {
    MintOptions o;
    o.tenant = "t_acme01";
    o.sub = "user-1";
    o.roles = {"developer"};
    o.iss = kIss;
    o.aud = kAud;
    o.issuedAtMs = kNowMs;
    return o;
  }
  static std::string bearer(const std::string& token) { return "Bearer " + token; }

  static TempKeyPair* a_;
  static TempKeyPair* b_;
  std::string dir_, jwksFile_;
  std::atomic<int64_t> now_{kNowMs};
};
TempKeyPair* AuthenticatorTest::a_ = nullptr;
TempKeyPair* AuthenticatorTest::b_ = nullptr;

TEST_F(AuthenticatorTest, TiktiFileAcceptsValidToken) {
  auto auth = make(options());
  auto p = auth->authenticate(bearer(a_->mint(mintOptions())));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->tenant, "t_acme01");
  EXPECT_EQ(p->sub, "user-1");
  EXPECT_EQ(p->roles, std::vector<std::string>{"developer"});
}

TEST_F(AuthenticatorTest, TiktiRejections) {
  auto auth = make(options());
  expectCode(auth->authenticate(""), ErrorCode::AuthnMissingToken);
  expectCode(auth->authenticate("Basic Zm9vOmJhcg=="), ErrorCode::AuthnMissingToken);
  expectCode(auth->authenticate("Bearer x.y.z"), ErrorCode::AuthnInvalidToken);
  MintOptions o = mintOptions();
  o.iss = "https://other.test";
  expectCode(auth->authenticate(bearer(a_->mint(o))), ErrorCode::AuthnInvalidToken);
  o = mintOptions();
  o.aud = "other";
  expectCode(auth->authenticate(bearer(a_->mint(o))), ErrorCode::AuthnInvalidToken);
  expectCode(auth->authenticate(bearer(b_->mint(mintOptions()))), ErrorCode::AuthnInvalidToken);
  o = mintOptions();
  o.issuedAtMs = kNowMs - 7200 * 1000;  // expired an hour ago
  expectCode(auth->authenticate(bearer(a_->mint(o))), ErrorCode::AuthnExpiredToken);
}

TEST_F(AuthenticatorTest, CacheDoesNotOutliveTokenExp) {
  auto auth = make(options());
  MintOptions o = mintOptions();
  o.ttlSeconds = 10;
  std::string token = bearer(a_->mint(o));
  auto first = auth->authenticate(token);
  ASSERT_TRUE(first.ok());
  auto second = auth->authenticate(token);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  now_ = kNowMs + 10'000 + 30'000;  // exp + skew: cache entry gone, verifier says expired
  expectCode(auth->authenticate(token), ErrorCode::AuthnExpiredToken);
}

TEST_F(AuthenticatorTest, RotationRefreshesOnUnknownKidAtMostOncePerInterval) {
  auto auth = make(options());
  std::string tokenA = bearer(a_->mint(mintOptions()));
  ASSERT_TRUE(auth->authenticate(tokenA).ok());  // now cached

  // Tikti rotates: the JWKS now holds only key B.
  testing::writeFileForTest(jwksFile_, b_->jwks());
  MintOptions o = mintOptions();
  o.issuedAtMs = kNowMs + 5'000;
  std::string tokenB = bearer(b_->mint(o));
  now_ = kNowMs + 5'000;  // within the refresh interval of the initial load: no reload yet
  expectCode(auth->authenticate(tokenB), ErrorCode::AuthnInvalidToken);
  now_ = kNowMs + 31'000;
  auto pb = auth->authenticate(tokenB);
  ASSERT_TRUE(pb.ok()) << pb.error().message;

  // Token A is still served from the cache until the cache TTL (60 s from first use) ends...
  now_ = kNowMs + 59'000;
  EXPECT_TRUE(auth->authenticate(tokenA).ok());
  // ...then key A is gone from the key set.
  now_ = kNowMs + 61'000;
  expectCode(auth->authenticate(tokenA), ErrorCode::AuthnInvalidToken);
}

TEST_F(AuthenticatorTest, FailedReloadKeepsLastGoodKeys) {
  auto auth = make(options());
  testing::writeFileForTest(jwksFile_, "{not json");
  now_ = kNowMs + 60'000;
  // An unknown kid triggers a reload, which fails.
  MintOptions o = mintOptions();
  o.kid = "junk-kid";
  expectCode(auth->authenticate(bearer(a_->mint(o))), ErrorCode::AuthnInvalidToken);
  auto p = auth->authenticate(bearer(a_->mint(mintOptions())));
  EXPECT_TRUE(p.ok()) << p.error().message;
}

TEST_F(AuthenticatorTest, MaxAgeReloadDropsRevokedKey) {
  TiktiOptions opts = options();
  opts.cacheTtlSeconds = 0;
  opts.jwksMaxAgeSeconds = 300;
  auto auth = make(opts);
  std::string tokenA = bearer(a_->mint(mintOptions()));
  ASSERT_TRUE(auth->authenticate(tokenA).ok());
  testing::writeFileForTest(jwksFile_, b_->jwks());  // key A revoked
  now_ = kNowMs + 200'000;
  EXPECT_TRUE(auth->authenticate(tokenA).ok());  // key set not yet stale
  now_ = kNowMs + 301'000;
  expectCode(auth->authenticate(tokenA), ErrorCode::AuthnInvalidToken);
}

TEST_F(AuthenticatorTest, JwksUrlOverFileScheme) {
  TiktiOptions o = options();
  o.jwksFile.clear();
  o.jwksUrl = "file://" + jwksFile_;
  auto auth = make(o);
  ASSERT_TRUE(auth);
  EXPECT_TRUE(auth->authenticate(bearer(a_->mint(mintOptions()))).ok());
}

TEST_F(AuthenticatorTest, OptionsAreValidated) {
  TiktiOptions o = options();
  o.jwksUrl = "file://" + jwksFile_;  // both set
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
  o.jwksUrl.clear();
  o.jwksFile.clear();  // neither
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
  o = options();
  o.cacheTtlSeconds = -1;
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
  o = options();
  o.jwksFile = dir_ + "/missing.json";
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
  o = options();
  o.jwksFile.clear();
  o.jwksUrl = "http://127.0.0.1:1/.well-known/jwks.json";  // nothing listens on port 1
  o.httpTimeoutMs = 2000;
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
  o.jwksUrl = "gopher://example.invalid/jwks";
  EXPECT_FALSE(makeTiktiAuthenticator(o).ok());
}

TEST_F(AuthenticatorTest, ConcurrentAuthentication) {
  auto auth = make(options());
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    MintOptions o = mintOptions();
    o.sub = "user-" + std::to_string(i);
    tokens.push_back(bearer(a_->mint(o)));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto p = auth->authenticate(tokens[(t + i) % 4]);
        if (!p.ok() || p->sub != "user-" + std::to_string((t + i) % 4)) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(AuthenticatorTest, DevDriverGeneratesKeysAndVerifiesItsOwnTokens) {
  std::string keyDir = dir_ + "/dev-keys";
  DevOptions dev;
  dev.keyDir = keyDir;
  dev.nowMs = [this] { return now_.load(); };
  auto auth = makeDevAuthenticator(dev);
  ASSERT_TRUE(auth.ok()) << auth.error().message;
  ASSERT_TRUE(std::filesystem::exists(keyDir + "/private.pem"));

  MintOptions o = mintOptions();
  o.iss = std::string(kDevIssuer);
  o.aud = std::string(kDevAudience);
  auto token = mintToken(keyDir + "/private.pem", o);
  ASSERT_TRUE(token.ok()) << token.error().message;
  auto p = (*auth)->authenticate(bearer(*token));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->tenant, "t_acme01");

  // A restarted dev process reuses the key: old tokens stay valid.
  auto again = makeDevAuthenticator(dev);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->authenticate(bearer(*token)).ok());
  // Tokens from another key or for another audience are refused.
  expectCode((*again)->authenticate(bearer(a_->mint(o))), ErrorCode::AuthnInvalidToken);
  o.aud = "elsewhere";
  expectCode((*again)->authenticate(bearer(mintToken(keyDir + "/private.pem", o).value())),
             ErrorCode::AuthnInvalidToken);
}

}  // namespace
}  // namespace cs::authn
