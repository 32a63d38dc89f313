#include "internal/authn/keys.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "internal/authn/jwks_verifier.h"
#include "internal/authn/testing/test_keys.h"
#include "internal/crypto/crypto.h"

namespace cs::authn {
namespace {

using nlohmann::json;
using testing::readFileForTest;

json decodeSegment(const std::string& token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  size_t end = token.find('.', start);
  auto raw = crypto::base64UrlDecode(token.substr(start, end - start));
  EXPECT_TRUE(raw.has_value());
  return json::parse(raw.value_or("null"));
}

class KeysTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { keys_ = new testing::TempKeyPair(); }
  static void TearDownTestSuite() { delete keys_; }
  static testing::TempKeyPair* keys_;
};
testing::TempKeyPair* KeysTest::keys_ = nullptr;

TEST_F(KeysTest, GenerateWritesPemFilesAndJwks) {
  const KeyPairInfo& info = keys_->info();
  struct stat st {};
  ASSERT_EQ(::stat(info.privateKeyPath.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(keys_->privatePem().rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8
  EXPECT_EQ(keys_->publicPem().rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);

  json jwks = json::parse(keys_->jwks());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const json& k = jwks["keys"][0];
  EXPECT_EQ(k["kty"], "RSA");
  EXPECT_EQ(k["alg"], "RS256");
  EXPECT_EQ(k["use"], "sig");
  EXPECT_EQ(k["e"], "AQAB");
  EXPECT_EQ(crypto::base64UrlDecode(k["n"].get<std::string>())->size(), 256u);  // 2048 bits
  EXPECT_EQ(k["kid"], info.kid);
  EXPECT_EQ(info.kid.size(), 22u);
  EXPECT_EQ(kidForPrivateKeyPem(keys_->privatePem()).value(), info.kid);
  EXPECT_EQ(jwksForPrivateKeyPem(keys_->privatePem()).value(), keys_->jwks());
}

TEST_F(KeysTest, DistinctKeysHaveDistinctKids) {
  testing::TempKeyPair other;
  EXPECT_NE(other.info().kid, keys_->info().kid);
  EXPECT_NE(other.privatePem(), keys_->privatePem());
}

TEST_F(KeysTest, GenerateRefusesToOverwrite) {
  auto again = generateKeyPair(keys_->dir());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::Conflict);
  EXPECT_EQ(readFileForTest(keys_->info().privateKeyPath), keys_->privatePem());
}

TEST_F(KeysTest, EnsureKeyPairReusesAndHeals) {
  std::string dir = testing::makeTempDir("cs-authn-ensure-");
  auto first = ensureKeyPair(dir + "/nested");
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::string jwks = readFileForTest(first->jwksPath);
  std::filesystem::remove(first->jwksPath);
  auto second = ensureKeyPair(dir + "/nested");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->kid, first->kid);
  EXPECT_EQ(readFileForTest(second->jwksPath), jwks);
  std::filesystem::remove_all(dir);
}

TEST_F(KeysTest, MintTokenHeaderAndClaims) {
  MintOptions o;
  o.tenant = "t_acme01";
  o.sub = "alice";
  o.roles = {"admin"};
  o.scopes = {"a", "b"};
  o.iss = "iss-x";
  o.aud = "aud-y";
  o.issuedAtMs = 1'700'000'000'123;
  // From the PEM text and from the path: same header, claims and (deterministic) signature.
  std::string fromPem = keys_->mint(o);
  auto fromPath = mintToken(keys_->info().privateKeyPath, o);
  ASSERT_TRUE(fromPath.ok()) << fromPath.error().message;
  EXPECT_EQ(*fromPath, fromPem);

  json header = decodeSegment(fromPem, 0);
  EXPECT_EQ(header, (json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", keys_->info().kid}}));
  json claims = decodeSegment(fromPem, 1);
  EXPECT_EQ(claims["iss"], "iss-x");
  EXPECT_EQ(claims["aud"], "aud-y");
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["tid"], "t_acme01");
  EXPECT_EQ(claims["roles"], json({"admin"}));
  EXPECT_EQ(claims["scope"], "a b");
  EXPECT_EQ(claims["iat"], 1'700'000'000);
  EXPECT_EQ(claims["exp"], 1'700'000'000 + 3600);

  o.kid = "explicit-kid";
  EXPECT_EQ(decodeSegment(keys_->mint(o), 0)["kid"], "explicit-kid");
  o.iss.reset();
  o.aud.reset();
  json bare = decodeSegment(keys_->mint(o), 1);
  EXPECT_FALSE(bare.contains("iss"));
  EXPECT_FALSE(bare.contains("aud"));
}

TEST_F(KeysTest, MintedTokenVerifies) {
  MintOptions o;
  o.tenant = "t_acme01";
  o.sub = "alice";
  o.roles = {"admin"};
  auto v = JwksVerifier::create(keys_->jwks(), {});
  ASSERT_TRUE(v.ok());
  auto p = (*v)->verify(keys_->mint(o));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->sub, "alice");
  EXPECT_EQ(p->roles, std::vector<std::string>{"admin"});
  EXPECT_TRUE(p->scopes.empty());
}

TEST_F(KeysTest, MintValidatesInput) {
  MintOptions o;
  o.sub = "alice";
  for (const char* tenant : {"", "acme", "t_ab", "t_ACME01", "t_acme01!", "t_acme01 "}) {
    o.tenant = tenant;
    auto r = mintToken(keys_->privatePem(), o);
    ASSERT_FALSE(r.ok()) << tenant;
    EXPECT_EQ(r.error().code, ErrorCode::ValidationNameInvalid) << tenant;
  }
  o.tenant = "t_acme01";
  o.ttlSeconds = 0;
  EXPECT_EQ(mintToken(keys_->privatePem(), o).error().code, ErrorCode::ValidationFailed);
  o.ttlSeconds = 60;
  o.sub = "";
  EXPECT_EQ(mintToken(keys_->privatePem(), o).error().code, ErrorCode::ValidationFailed);
  o.sub = "alice";
  o.scopes = {"has space"};
  EXPECT_EQ(mintToken(keys_->privatePem(), o).error().code, ErrorCode::ValidationFailed);
  o.scopes.clear();
  EXPECT_FALSE(mintToken("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", o).ok());
  EXPECT_FALSE(mintToken(keys_->publicPem(), o).ok());
  EXPECT_FALSE(mintToken("/nonexistent/private.pem", o).ok());
  EXPECT_TRUE(mintToken(keys_->privatePem(), o).ok());
}

}  // namespace
}  // namespace cs::authn
