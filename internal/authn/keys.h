// Key management for operators, `cs dev` and tests: RSA key pairs, JWKS documents and minted
// RS256 tokens. Library API the CLI calls; nothing here is on a request path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::authn {

struct KeyPairInfo {
  std::string privateKeyPath;  // <dir>/private.pem, PKCS#8, mode 0600
  std::string publicKeyPath;   // <dir>/public.pem, SubjectPublicKeyInfo
  std::string jwksPath;        // <dir>/jwks.json, one RS256 signing key
  std::string kid;
};

// Generates an RSA-2048 key pair into `dir` (created if needed). Refuses (CS_CONFLICT) to
// overwrite an existing private.pem, so a key cannot be lost by accident.
Result<KeyPairInfo> generateKeyPair(const std::string& dir);
// generateKeyPair() unless <dir>/private.pem and <dir>/jwks.json already exist; then their
// info (kid read from the private key).
Result<KeyPairInfo> ensureKeyPair(const std::string& dir);

// kid = base64url(sha256(SubjectPublicKeyInfo DER)), first 16 bytes of the digest (22 chars).
Result<std::string> kidForPrivateKeyPem(std::string_view privateKeyPem);
// {"keys":[{"kty":"RSA","kid","n","e","alg":"RS256","use":"sig"}]} for the key's public half.
Result<std::string> jwksForPrivateKeyPem(std::string_view privateKeyPem);

struct MintOptions {
  std::string tenant;  // `tid`, must match t_[a-z0-9]{6,32} (CS_VALIDATION_NAME_INVALID)
  std::string sub;     // required
  std::vector<std::string> roles;
  std::vector<std::string> scopes;  // joined by spaces into `scope` (omitted when empty)
  int64_t ttlSeconds = 3600;        // 1 … 31536000
  std::optional<std::string> iss;
  std::optional<std::string> aud;
  std::string kid;                    // empty = derived from the key (kidForPrivateKeyPem)
  std::optional<int64_t> issuedAtMs;  // `iat`; empty = now
};

// A compact JWT, header {"alg":"RS256","typ":"JWT","kid"}, claims iss?, aud?, sub, tid, roles,
// scope?, iat, exp. `privateKey` is PEM text (starts with "-----BEGIN") or a path to a PEM file.
Result<std::string> mintToken(std::string_view privateKey, const MintOptions& options);

// Signs arbitrary header/payload JSON texts with RS256 and returns "b64(h).b64(p).b64(sig)".
// The header is used as given (callers choose alg/kid); meant for mintToken and for tests
// that need malformed-but-signed tokens.
Result<std::string> signCompactJwt(std::string_view privateKeyPem, std::string_view headerJson,
                                   std::string_view payloadJson);

}  // namespace cs::authn
