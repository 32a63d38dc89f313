#include "internal/authn/jwks_verifier.h"

#include <chrono>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "internal/crypto/crypto.h"

namespace cs::authn {

using nlohmann::json;

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isValidTenant(std::string_view tenant) {
  if (tenant.size() < 2 + 6 || tenant.size() > 2 + 32) return false;
  if (tenant.substr(0, 2) != "t_") return false;
  for (char c : tenant.substr(2)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;

Error invalid(std::string message) {
  return Error{ErrorCode::AuthnInvalidToken, std::move(message)};
}

// Builds an RSA public key from the JWK's big-endian n and e.
PkeyPtr rsaPublicKey(const std::string& n, const std::string& e) {
  PkeyPtr result;
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                         static_cast<int>(n.size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                         static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
      (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY* pkey = nullptr;
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1) result.reset(pkey);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn);
  BN_free(be);
  ERR_clear_error();
  return result;
}

bool verifyRs256(EVP_PKEY* key, std::string_view signingInput, std::string_view signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signingInput.data()),
                             signingInput.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

struct Segments {
  std::string_view header, payload, signature, signingInput;
};

std::optional<Segments> split(std::string_view token) {
  size_t a = token.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = token.find('.', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  if (token.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  Segments s{token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1),
             token.substr(0, b)};
  if (s.header.empty() || s.payload.empty() || s.signature.empty()) return std::nullopt;
  return s;
}

// Decodes one base64url segment into a JSON object; nullopt on anything else.
std::optional<json> decodeObject(std::string_view segment) {
  auto raw = crypto::base64UrlDecode(segment);
  if (!raw) return std::nullopt;
  json j = json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// A NumericDate claim in ms. Absent → nullopt in `out` and true; malformed → false.
bool numericDateMs(const json& claims, const char* name, std::optional<int64_t>& out) {
  out.reset();
  auto it = claims.find(name);
  if (it == claims.end()) return true;
  if (!it->is_number()) return false;
  double seconds = it->get<double>();
  // Bounded so the ms value cannot overflow (1e11 s is the year ~5100).
  if (!(seconds >= 0 && seconds <= 1e11)) return false;
  out = static_cast<int64_t>(seconds * 1000.0);
  return true;
}

}  // namespace

struct JwksVerifier::Keys {
  struct Key {
    std::string kid;  // may be empty
    PkeyPtr pkey;
  };
  std::vector<Key> keys;
};

JwksVerifier::JwksVerifier(std::unique_ptr<Keys> keys, VerifierOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {
  if (!options_.nowMs) options_.nowMs = systemNowMs;
}

JwksVerifier::~JwksVerifier() = default;

Result<std::shared_ptr<const JwksVerifier>> JwksVerifier::create(std::string_view jwksJson,
                                                                 VerifierOptions options) {
  json doc = json::parse(jwksJson, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error{ErrorCode::ValidationFailed, "jwks: not a JSON object"};
  }
  auto it = doc.find("keys");
  if (it == doc.end() || !it->is_array()) {
    return Error{ErrorCode::ValidationFailed, "jwks: missing \"keys\" array"};
  }
  auto keys = std::make_unique<Keys>();
  auto str = [](const json& jwk, const char* name) -> std::optional<std::string> {
    auto f = jwk.find(name);
    if (f == jwk.end() || !f->is_string()) return std::nullopt;
    return f->get<std::string>();
  };
  for (const json& jwk : *it) {
    if (!jwk.is_object()) continue;
    if (str(jwk, "kty") != "RSA") continue;
    if (jwk.contains("alg") && str(jwk, "alg") != "RS256") continue;
    if (jwk.contains("use") && str(jwk, "use") != "sig") continue;
    auto kid = jwk.contains("kid") ? str(jwk, "kid") : std::optional<std::string>("");
    auto n64 = str(jwk, "n");
    auto e64 = str(jwk, "e");
    if (!kid || !n64 || !e64) continue;
    auto n = crypto::base64UrlDecode(*n64);
    auto e = crypto::base64UrlDecode(*e64);
    if (!n || !e || n->empty() || e->empty() || e->size() > 8) continue;
    PkeyPtr pkey = rsaPublicKey(*n, *e);
    if (!pkey) continue;
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) continue;
    if (!kid->empty()) {
      for (const auto& k : keys->keys) {
        if (k.kid == *kid) {
          return Error{ErrorCode::ValidationFailed, "jwks: duplicate kid \"" + *kid + "\""};
        }
      }
    }
    keys->keys.push_back(Keys::Key{std::move(*kid), std::move(pkey)});
  }
  if (keys->keys.empty()) {
    return Error{ErrorCode::ValidationFailed, "jwks: no usable RS256 RSA key (>= 2048 bits)"};
  }
  return std::shared_ptr<const JwksVerifier>(new JwksVerifier(std::move(keys), std::move(options)));
}

bool JwksVerifier::hasKey(std::string_view kid) const {
  for (const auto& k : keys_->keys) {
    if (!k.kid.empty() && k.kid == kid) return true;
  }
  return false;
}

size_t JwksVerifier::keyCount() const { return keys_->keys.size(); }

Result<Principal> JwksVerifier::verify(std::string_view token) const {
  if (token.empty()) return invalid("empty token");
  if (token.size() > kMaxTokenBytes) return invalid("token too large");
  auto seg = split(token);
  if (!seg) return invalid("token is not a compact JWS (header.payload.signature)");
  auto header = decodeObject(seg->header);
  if (!header) return invalid("token header is not base64url JSON object");

  // Only RS256: this rejects "none", HMAC (HS256 with the public key as secret) and the rest.
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "RS256") {
    return invalid("token alg must be RS256");
  }
  if (header->contains("crit")) return invalid("token header has unsupported crit extensions");

  const Keys::Key* key = nullptr;
  auto kidIt = header->find("kid");
  if (kidIt != header->end()) {
    if (!kidIt->is_string()) return invalid("token kid must be a string");
    const std::string kid = kidIt->get<std::string>();
    for (const auto& k : keys_->keys) {
      if (!k.kid.empty() && k.kid == kid) key = &k;
    }
    if (!key) return invalid("unknown signing key (kid \"" + kid.substr(0, 64) + "\")");
  } else {
    if (keys_->keys.size() != 1) return invalid("token has no kid and the key set has several");
    key = &keys_->keys.front();
  }

  auto signature = crypto::base64UrlDecode(seg->signature);
  if (!signature) return invalid("token signature is not base64url");
  if (!verifyRs256(key->pkey.get(), seg->signingInput, *signature)) {
    return invalid("token signature does not verify");
  }

  // The signature is good; from here on the claims decide.
  auto claims = decodeObject(seg->payload);
  if (!claims) return invalid("token payload is not a JSON object");

  if (!options_.issuer.empty()) {
    auto iss = claims->find("iss");
    if (iss == claims->end() || !iss->is_string() || iss->get<std::string>() != options_.issuer) {
      return invalid("token issuer is not accepted");
    }
  }
  if (!options_.audience.empty()) {
    bool match = false;
    auto aud = claims->find("aud");
    if (aud != claims->end()) {
      if (aud->is_string()) {
        match = aud->get<std::string>() == options_.audience;
      } else if (aud->is_array()) {
        for (const auto& a : *aud) {
          if (a.is_string() && a.get<std::string>() == options_.audience) match = true;
        }
      }
    }
    if (!match) return invalid("token audience is not accepted");
  }

  Principal p;
  auto sub = claims->find("sub");
  if (sub == claims->end() || !sub->is_string() || sub->get<std::string>().empty()) {
    return invalid("token has no sub");
  }
  p.sub = sub->get<std::string>();
  auto tid = claims->find("tid");
  if (tid == claims->end() || !tid->is_string()) return invalid("token has no tid (tenant)");
  p.tenant = tid->get<std::string>();
  if (!isValidTenant(p.tenant)) return invalid("token tid is not a valid tenant");

  if (auto roles = claims->find("roles"); roles != claims->end()) {
    if (!roles->is_array()) return invalid("token roles must be an array of strings");
    for (const auto& r : *roles) {
      if (!r.is_string()) return invalid("token roles must be an array of strings");
      if (!r.get<std::string>().empty()) p.roles.push_back(r.get<std::string>());
    }
  }
  if (auto scope = claims->find("scope"); scope != claims->end()) {
    if (!scope->is_string()) return invalid("token scope must be a space-separated string");
    const std::string& s = scope->get_ref<const std::string&>();
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find(' ', i);
      if (j == std::string::npos) j = s.size();
      if (j > i) p.scopes.push_back(s.substr(i, j - i));
      i = j + 1;
    }
  }

  std::optional<int64_t> expMs, nbfMs, iatMs;
  if (!numericDateMs(*claims, "exp", expMs) || !expMs) return invalid("token has no valid exp");
  if (!numericDateMs(*claims, "nbf", nbfMs)) return invalid("token nbf is malformed");
  if (!numericDateMs(*claims, "iat", iatMs)) return invalid("token iat is malformed");
  const int64_t now = options_.nowMs();
  const int64_t skew = options_.clockSkewMs;
  if (iatMs && *iatMs > now + skew) return invalid("token iat is in the future");
  if (nbfMs && *nbfMs > now + skew) return invalid("token is not valid yet (nbf)");
  if (now >= *expMs + skew) return Error{ErrorCode::AuthnExpiredToken, "token has expired"};
  p.expMs = *expMs;
  return p;
}

std::optional<std::string> peekKid(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  auto seg = split(token);
  if (!seg) return std::nullopt;
  auto header = decodeObject(seg->header);
  if (!header) return std::nullopt;
  auto kid = header->find("kid");
  if (kid == header->end() || !kid->is_string()) return std::nullopt;
  return kid->get<std::string>();
}

}  // namespace cs::authn
