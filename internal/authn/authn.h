// Authentication seam (DESIGN "Seams"): turn an `Authorization` header value into a Principal.
//
// Two drivers share one verification core (JwksVerifier + TokenCache):
//   tikti — RS256 JWTs checked offline against Tikti's JWKS (file or URL, refreshed on an
//           unknown kid), iss/aud/exp/iat/tid checks, a short-lived cache of verified tokens;
//   dev   — the `cs dev` process's own RS256 key pair (generated on first use in a directory).
// Nothing in the request path knows which driver runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::authn {

// Milliseconds since the Unix epoch. Injected so tests move time instead of sleeping.
using NowMsFn = std::function<int64_t()>;
// The wall clock (system_clock), used when an options struct leaves its clock empty.
int64_t systemNowMs();

// Who is calling, as proven by a verified token (SPEC §12: sub, tenant, roles[], exp).
struct Principal {
  std::string sub;
  std::string tenant;               // the token's `tid`
  std::vector<std::string> roles;   // the `roles` claim (array of strings)
  std::vector<std::string> scopes;  // the space-separated `scope` claim, split
  int64_t expMs = 0;                // the token's `exp`, in ms

  bool operator==(const Principal&) const = default;
};

// Pure interface. Implementations are thread-safe: any thread may call authenticate().
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `authorizationHeaderValue` is the raw header value, e.g. "Bearer eyJ…".
  // Errors: CS_AUTHN_MISSING_TOKEN (no header / not a Bearer token),
  //         CS_AUTHN_INVALID_TOKEN (anything not provably valid), CS_AUTHN_EXPIRED_TOKEN.
  virtual Result<Principal> authenticate(std::string_view authorizationHeaderValue) = 0;
};

// Extracts the token from "Bearer <token>" (scheme case-insensitive, surrounding blanks
// ignored). Missing/empty/other scheme → MISSING_TOKEN; characters outside the JWT
// alphabet (base64url and '.') → INVALID_TOKEN.
Result<std::string> extractBearerToken(std::string_view authorizationHeaderValue);

struct TiktiOptions {
  // Exactly one of the two. A URL may be http(s):// or file://.
  std::string jwksUrl;
  std::string jwksFile;
  std::string issuer;            // empty = `iss` not checked
  std::string audience;          // empty = `aud` not checked
  int64_t cacheTtlSeconds = 60;  // verified-token cache; 0 disables it
  size_t cacheMaxEntries = 10000;
  int64_t clockSkewSeconds = 30;
  // A JWKS reload (on an unknown kid, or when the key set is older than jwksMaxAgeSeconds)
  // happens at most once per this interval, so junk kids cannot hammer Tikti.
  int64_t refreshMinIntervalSeconds = 30;
  int64_t jwksMaxAgeSeconds = 3600;  // 0 = reload only on an unknown kid
  int64_t httpTimeoutMs = 5000;
  NowMsFn nowMs;  // empty = systemNowMs
};

// Loads the JWKS once at construction (fails fast: a service should not start without keys);
// later reload failures keep the last good key set.
Result<std::unique_ptr<Authenticator>> makeTiktiAuthenticator(TiktiOptions options);

inline constexpr std::string_view kDevIssuer = "cs-dev";
inline constexpr std::string_view kDevAudience = "code-sous";

struct DevOptions {
  // Holds private.pem, public.pem and jwks.json; created by ensureKeyPair() when absent.
  std::string keyDir;
  std::string issuer = std::string(kDevIssuer);
  std::string audience = std::string(kDevAudience);
  int64_t cacheTtlSeconds = 60;
  int64_t clockSkewSeconds = 30;
  NowMsFn nowMs;  // empty = systemNowMs
};

// The `cs dev` driver: the process's own key pair (see keys.h), verified by the same code as
// the tikti driver (a file JWKS at keyDir/jwks.json).
Result<std::unique_ptr<Authenticator>> makeDevAuthenticator(DevOptions options);

}  // namespace cs::authn
