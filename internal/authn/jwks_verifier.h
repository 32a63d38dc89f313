// The verification core shared by every authn driver: RS256 compact JWTs against a JWKS.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "internal/authn/authn.h"
#include "internal/errors/errors.h"

namespace cs::authn {

struct VerifierOptions {
  std::string issuer;    // empty = not checked
  std::string audience;  // empty = not checked; else `aud` (string or array) must contain it
  int64_t clockSkewMs = 30'000;
  NowMsFn nowMs;  // empty = systemNowMs
};

// Upper bound on a token we are willing to parse (bounds work per request).
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

// An immutable key set built from a JWKS document {"keys":[{kty,kid,n,e,alg?,use?}]}.
// Only RSA keys (2048–8192 bits) with alg RS256 (or none given) and use "sig" (or none given)
// are kept; other keys are skipped. Immutable after create(), so one instance may be shared by
// any number of threads (the authenticator swaps whole instances on refresh).
//
// verify() accepts only alg RS256 (never "none", never HMAC), selects the key by `kid` (a
// token without kid only when the set has exactly one key), then checks the claims:
// exp (required) / nbf / iat against the clock with skew, iss / aud when configured,
// non-empty `sub`, `tid` matching the tenant rule t_[a-z0-9]{6,32}, `roles` an array of
// strings, `scope` a string.
class JwksVerifier final {
 public:
  // Errors: CS_VALIDATION_FAILED when the document is not a JWKS or has no usable key.
  static Result<std::shared_ptr<const JwksVerifier>> create(std::string_view jwksJson,
                                                            VerifierOptions options);
  ~JwksVerifier();
  JwksVerifier(const JwksVerifier&) = delete;
  JwksVerifier& operator=(const JwksVerifier&) = delete;

  // Errors: CS_AUTHN_INVALID_TOKEN, CS_AUTHN_EXPIRED_TOKEN (signature valid but past exp+skew).
  Result<Principal> verify(std::string_view token) const;

  bool hasKey(std::string_view kid) const;
  size_t keyCount() const;

 private:
  struct Keys;
  JwksVerifier(std::unique_ptr<Keys> keys, VerifierOptions options);
  std::unique_ptr<Keys> keys_;
  VerifierOptions options_;
};

// The `kid` of a token's header without verifying anything (to decide on a JWKS refresh).
std::optional<std::string> peekKid(std::string_view token);

// The tenant rule of SPEC §3.
bool isValidTenant(std::string_view tenant);

}  // namespace cs::authn
