#include "internal/authn/jwks_verifier.h"

#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "internal/authn/keys.h"
#include "internal/authn/testing/test_keys.h"
#include "internal/crypto/crypto.h"

namespace cs::authn {
namespace {

using nlohmann::json;
using testing::TempKeyPair;

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr const char* kIss = "https://tikti.test";
constexpr const char* kAud = "code-sous";

class JwksVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new TempKeyPair();
    b_ = new TempKeyPair();
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
  }

  std::shared_ptr<const JwksVerifier> verifier(const std::string& jwks, std::string iss = kIss,
                                               std::string aud = kAud) {
    auto v = JwksVerifier::create(jwks, VerifierOptions{iss, aud, 30'000, [this] { return now_; }});
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
    return v.ok() ? *v : nullptr;
  }

  static MintOptions mintOptions() {
    MintOptions o;
    o.tenant = "t_acme01";
    o.sub = "user-1";
    o.roles = {"developer", "viewer"};
    o.scopes = {"cs:read", "cs:write"};
    o.iss = kIss;
    o.aud = kAud;
    o.issuedAtMs = kNowMs;
    return o;
  }

  // The standard claims of mintOptions(), for tokens built by hand.
  static json claims() {
    return json{{"iss", kIss},
                {"aud", kAud},
                {"sub", "user-1"},
                {"tid", "t_acme01"},
                {"roles", {"dev"}},
                {"iat", kNowMs / 1000},
                {"exp", kNowMs / 1000 + 3600}};
  }
  static std::string signedBy(const TempKeyPair& key, const json& header, const json& payload) {
    auto t = signCompactJwt(key.privatePem(), header.dump(), payload.dump());
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : "";
  }
  static json headerFor(const TempKeyPair& key) {
    return json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", key.info().kid}};
  }

  static void expectCode(const Result<Principal>& r, ErrorCode code) {
    ASSERT_FALSE(r.ok()) << "accepted a token that must be rejected";
    EXPECT_EQ(r.error().code, code) << r.error().name() << ": " << r.error().message;
  }

  static TempKeyPair* a_;
  static TempKeyPair* b_;
  int64_t now_ = kNowMs;
};

TempKeyPair* JwksVerifierTest::a_ = nullptr;
TempKeyPair* JwksVerifierTest::b_ = nullptr;

TEST_F(JwksVerifierTest, AcceptsValidTokenWithClaims) {
  auto v = verifier(a_->jwks());
  auto r = v->verify(a_->mint(mintOptions()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sub, "user-1");
  EXPECT_EQ(r->tenant, "t_acme01");
  EXPECT_EQ(r->roles, (std::vector<std::string>{"developer", "viewer"}));
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"cs:read", "cs:write"}));
  EXPECT_EQ(r->expMs, kNowMs + 3600 * 1000);
}

TEST_F(JwksVerifierTest, RejectsChangedPayload) {
  auto v = verifier(a_->jwks());
  std::string token = a_->mint(mintOptions());
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  json forged = claims();
  forged["tid"] = "t_victim01";
  forged["roles"] = {"admin"};
  std::string tampered =
      token.substr(0, d1 + 1) + crypto::base64UrlEncode(forged.dump()) + token.substr(d2);
  expectCode(v->verify(tampered), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, RejectsTokenSignedWithAnotherKeyUnderKnownKid) {
  auto v = verifier(a_->jwks());
  std::string forged = signedBy(*b_, headerFor(*a_), claims());
  expectCode(v->verify(forged), ErrorCode::AuthnInvalidToken);
  // Sanity: the same header/claims signed by the right key pass.
  EXPECT_TRUE(v->verify(signedBy(*a_, headerFor(*a_), claims())).ok());
}

TEST_F(JwksVerifierTest, RejectsUnknownKid) {
  auto v = verifier(a_->jwks());
  auto r = v->verify(signedBy(*b_, headerFor(*b_), claims()));
  expectCode(r, ErrorCode::AuthnInvalidToken);
  EXPECT_NE(r.error().message.find("unknown signing key"), std::string::npos);
}

TEST_F(JwksVerifierTest, RejectsAlgNone) {
  auto v = verifier(a_->jwks());
  std::string h = crypto::base64UrlEncode(json{{"alg", "none"}, {"typ", "JWT"}}.dump());
  std::string p = crypto::base64UrlEncode(claims().dump());
  expectCode(v->verify(h + "." + p + "."), ErrorCode::AuthnInvalidToken);
  expectCode(v->verify(h + "." + p + ".AAAA"), ErrorCode::AuthnInvalidToken);
  // A valid RS256 signature does not rescue a header that says "none".
  std::string signedNone = signedBy(*a_, json{{"alg", "none"}, {"kid", a_->info().kid}}, claims());
  expectCode(v->verify(signedNone), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, RejectsHs256WithPublicKeyAsSecret) {
  auto v = verifier(a_->jwks());
  for (const std::string& secret : {a_->publicPem(), a_->jwks()}) {
    std::string input =
        crypto::base64UrlEncode(json{{"alg", "HS256"}, {"kid", a_->info().kid}}.dump()) + "." +
        crypto::base64UrlEncode(claims().dump());
    std::string token = input + "." + crypto::base64UrlEncode(crypto::hmacSha256(secret, input));
    expectCode(v->verify(token), ErrorCode::AuthnInvalidToken);
  }
}

TEST_F(JwksVerifierTest, ExpiryHonoursSkew) {
  auto v = verifier(a_->jwks());
  std::string token = a_->mint(mintOptions());  // exp = now + 3600 s
  now_ = kNowMs + 3600 * 1000 + 29'000;         // past exp, inside the 30 s skew
  EXPECT_TRUE(v->verify(token).ok());
  now_ = kNowMs + 3600 * 1000 + 30'000;
  expectCode(v->verify(token), ErrorCode::AuthnExpiredToken);
}

TEST_F(JwksVerifierTest, IatInTheFutureBeyondSkewIsInvalid) {
  auto v = verifier(a_->jwks());
  MintOptions o = mintOptions();
  o.issuedAtMs = kNowMs + 20'000;
  EXPECT_TRUE(v->verify(a_->mint(o)).ok());
  o.issuedAtMs = kNowMs + 120'000;
  expectCode(v->verify(a_->mint(o)), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, NbfInTheFutureIsInvalid) {
  auto v = verifier(a_->jwks());
  json c = claims();
  c["nbf"] = kNowMs / 1000 + 600;
  expectCode(v->verify(signedBy(*a_, headerFor(*a_), c)), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, IssuerAndAudienceAreChecked) {
  auto v = verifier(a_->jwks());
  MintOptions o = mintOptions();
  o.iss = "https://evil.test";
  expectCode(v->verify(a_->mint(o)), ErrorCode::AuthnInvalidToken);
  o = mintOptions();
  o.iss.reset();
  expectCode(v->verify(a_->mint(o)), ErrorCode::AuthnInvalidToken);
  o = mintOptions();
  o.aud = "another-service";
  expectCode(v->verify(a_->mint(o)), ErrorCode::AuthnInvalidToken);
  o.aud.reset();
  expectCode(v->verify(a_->mint(o)), ErrorCode::AuthnInvalidToken);

  json c = claims();
  c["aud"] = {"other", kAud};
  EXPECT_TRUE(v->verify(signedBy(*a_, headerFor(*a_), c)).ok());
  c["aud"] = {"other"};
  expectCode(v->verify(signedBy(*a_, headerFor(*a_), c)), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, UnconfiguredIssuerAndAudienceAreNotChecked) {
  auto v = verifier(a_->jwks(), "", "");
  MintOptions o = mintOptions();
  o.iss.reset();
  o.aud = "anything";
  EXPECT_TRUE(v->verify(a_->mint(o)).ok());
}

TEST_F(JwksVerifierTest, RequiredClaims) {
  auto v = verifier(a_->jwks());
  for (const char* name : {"sub", "tid", "exp"}) {
    json c = claims();
    c.erase(name);
    expectCode(v->verify(signedBy(*a_, headerFor(*a_), c)), ErrorCode::AuthnInvalidToken);
  }
  struct Case {
    const char* claim;
    json value;
  };
  for (const Case& bad : std::vector<Case>{{"sub", ""},
                                           {"sub", 42},
                                           {"tid", "acme"},
                                           {"tid", "t_ACME01"},
                                           {"tid", json::array()},
                                           {"exp", "tomorrow"},
                                           {"exp", -5},
                                           {"iat", "now"},
                                           {"roles", "admin"},
                                           {"roles", {"admin", 7}},
                                           {"scope", {"a", "b"}}}) {
    json c = claims();
    c[bad.claim] = bad.value;
    expectCode(v->verify(signedBy(*a_, headerFor(*a_), c)), ErrorCode::AuthnInvalidToken);
  }
  json h = headerFor(*a_);
  h["kid"] = 12;
  expectCode(v->verify(signedBy(*a_, h, claims())), ErrorCode::AuthnInvalidToken);
  h = headerFor(*a_);
  h["crit"] = {"exp"};
  expectCode(v->verify(signedBy(*a_, h, claims())), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, TokenWithoutKidOnlyWithSingleKeySet) {
  json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  std::string token = signedBy(*a_, header, claims());
  EXPECT_TRUE(verifier(a_->jwks())->verify(token).ok());
  auto both = verifier(testing::mergeJwks({a_->jwks(), b_->jwks()}));
  ASSERT_EQ(both->keyCount(), 2u);
  expectCode(both->verify(token), ErrorCode::AuthnInvalidToken);
  // With both keys, kid selects the right one.
  EXPECT_TRUE(both->verify(signedBy(*b_, headerFor(*b_), claims())).ok());
  EXPECT_TRUE(both->verify(signedBy(*a_, headerFor(*a_), claims())).ok());
}

TEST_F(JwksVerifierTest, GarbageIsInvalidNotACrash) {
  auto v = verifier(a_->jwks());
  const std::string h = crypto::base64UrlEncode(headerFor(*a_).dump());
  const std::string p = crypto::base64UrlEncode(claims().dump());
  std::vector<std::string> garbage = {
      "",
      ".",
      "..",
      "...",
      "a",
      "a.b",
      "a.b.c",
      "a.b.c.d",
      h + "." + p,
      h + "." + p + ".",
      "." + p + ".AAAA",
      h + "..AAAA",
      "%%%.***.$$$",
      h + "." + p + ".!!!!",
      crypto::base64UrlEncode("not json") + "." + p + ".AAAA",
      crypto::base64UrlEncode("[1,2]") + "." + p + ".AAAA",
      crypto::base64UrlEncode("{\"alg\":") + "." + p + ".AAAA",
      h + "." + crypto::base64UrlEncode("null") + ".AAAA",
      h + "." + p + "." + std::string(400, 'A'),
      h + "." + p + ".A",  // impossible base64 length
      std::string(kMaxTokenBytes + 1, 'a'),
      std::string("\0\0.\xff\xfe.\x01", 7),
  };
  for (const auto& g : garbage) {
    auto r = v->verify(g);
    ASSERT_FALSE(r.ok()) << g;
    EXPECT_EQ(r.error().code, ErrorCode::AuthnInvalidToken) << g;
  }
  // Valid JSON payload but not signed: "signature" of the right length, all zeros.
  std::string zeros = crypto::base64UrlEncode(std::string(256, '\0'));
  expectCode(v->verify(h + "." + p + "." + zeros), ErrorCode::AuthnInvalidToken);
}

TEST_F(JwksVerifierTest, SingleCharacterMutationsNeverYieldAnotherPrincipal) {
  auto v = verifier(a_->jwks());
  std::string token = a_->mint(mintOptions());
  size_t accepted = 0, rejected = 0;
  for (size_t i = 0; i < token.size(); i += 3) {
    std::string m = token;
    m[i] = (m[i] == 'A') ? 'B' : 'A';
    auto r = v->verify(m);
    if (r.ok()) {
      // Only a non-canonical base64 tail can survive, and then nothing changed.
      ++accepted;
      EXPECT_EQ(r->sub, "user-1");
      EXPECT_EQ(r->tenant, "t_acme01");
    } else {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, token.size() / 3 - 5);
}

TEST_F(JwksVerifierTest, JwksParsing) {
  for (const char* bad : {"", "nope", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})",
                          R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})",
                          R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})",
                          R"({"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]})"}) {
    auto r = JwksVerifier::create(bad, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::ValidationFailed) << bad;
  }
  json doc = json::parse(a_->jwks());
  json key = doc["keys"][0];
  // Keys for other algorithms/uses are skipped, not fatal.
  json hs = key;
  hs["alg"] = "RS512";
  hs["kid"] = "other-alg";
  json enc = key;
  enc["use"] = "enc";
  enc["kid"] = "enc-key";
  json ec = {{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"}};
  doc["keys"] = {ec, hs, enc, key};
  auto v = JwksVerifier::create(doc.dump(), {});
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ((*v)->keyCount(), 1u);
  EXPECT_TRUE((*v)->hasKey(a_->info().kid));
  EXPECT_FALSE((*v)->hasKey("enc-key"));
  // Two keys with one kid are ambiguous.
  doc["keys"] = {key, key};
  EXPECT_FALSE(JwksVerifier::create(doc.dump(), {}).ok());
}

TEST_F(JwksVerifierTest, PeekKid) {
  std::string token = a_->mint(mintOptions());
  EXPECT_EQ(peekKid(token), a_->info().kid);
  EXPECT_EQ(peekKid("garbage"), std::nullopt);
  EXPECT_EQ(peekKid(signedBy(*a_, json{{"alg", "RS256"}}, claims())), std::nullopt);
}

TEST(Tenant, Rule) {
  EXPECT_TRUE(isValidTenant("t_abc123"));
  EXPECT_TRUE(isValidTenant("t_" + std::string(32, 'a')));
  EXPECT_FALSE(isValidTenant("t_" + std::string(33, 'a')));
  EXPECT_FALSE(isValidTenant("t_abc12"));
  EXPECT_FALSE(isValidTenant("x_abc123"));
  EXPECT_FALSE(isValidTenant("t_abc-123"));
  EXPECT_FALSE(isValidTenant(""));
}

}  // namespace
}  // namespace cs::authn
