#include "internal/authn/keys.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/authn/jwks_verifier.h"
#include "internal/crypto/crypto.h"

namespace cs::authn {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

constexpr int kRsaBits = 2048;
constexpr size_t kMaxPemBytes = 64 * 1024;
constexpr int64_t kMaxTtlSeconds = 365LL * 24 * 3600;

Error opensslError(std::string what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    what += ": ";
    what += buf;
  }
  return Error{ErrorCode::Internal, std::move(what)};
}

// Never prompts for a passphrase: encrypted keys are simply rejected.
int noPassphrase(char*, int, int, void*) { return 0; }

Result<PkeyPtr> parsePrivateKey(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return Error{ErrorCode::ValidationFailed, "private key too large"};
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return opensslError("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
  ERR_clear_error();
  if (!key) {
    return Error{ErrorCode::ValidationFailed,
                 "not an unencrypted PEM private key (PKCS#8 or PKCS#1)"};
  }
  if (!EVP_PKEY_is_a(key.get(), "RSA") || EVP_PKEY_get_bits(key.get()) < kRsaBits) {
    return Error{ErrorCode::ValidationFailed, "private key must be RSA with at least 2048 bits"};
  }
  return key;
}

Result<std::string> readFile(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Error{ErrorCode::ValidationFailed, "cannot read " + path + ": " + ec.message()};
  if (size > kMaxPemBytes) return Error{ErrorCode::ValidationFailed, path + " is too large"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::ValidationFailed, "cannot open " + path};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes via a temp file + rename so readers never see half a file.
Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp" + crypto::randomHex(4);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return Error{ErrorCode::Internal, "cannot create " + tmp + ": " + std::strerror(errno)};
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error{ErrorCode::Internal, "cannot write " + tmp + ": " + std::strerror(err)};
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error{ErrorCode::Internal, "cannot write " + path + ": " + std::strerror(err)};
  }
  return okStatus();
}

std::string bioToString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> publicKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return opensslError("i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

Result<std::string> kidFor(EVP_PKEY* key) {
  auto der = publicKeyDer(key);
  if (!der) return der.error();
  return crypto::base64UrlEncode(crypto::sha256(*der).substr(0, 16));
}

Result<std::string> bnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return opensslError("EVP_PKEY_get_bn_param");
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

Result<std::string> jwksFor(EVP_PKEY* key) {
  auto kid = kidFor(key);
  if (!kid) return kid.error();
  auto n = bnParam(key, OSSL_PKEY_PARAM_RSA_N);
  if (!n) return n.error();
  auto e = bnParam(key, OSSL_PKEY_PARAM_RSA_E);
  if (!e) return e.error();
  json jwk = {{"kty", "RSA"},
              {"kid", *kid},
              {"n", crypto::base64UrlEncode(*n)},
              {"e", crypto::base64UrlEncode(*e)},
              {"alg", "RS256"},
              {"use", "sig"}};
  return json{{"keys", json::array({jwk})}}.dump(2) + "\n";
}

Result<std::string> publicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1)
    return opensslError("PEM_write_bio_PUBKEY");
  return bioToString(bio.get());
}

KeyPairInfo pathsFor(const std::string& dir, std::string kid) {
  fs::path d(dir);
  return KeyPairInfo{(d / "private.pem").string(), (d / "public.pem").string(),
                     (d / "jwks.json").string(), std::move(kid)};
}

// Writes public.pem and jwks.json for `key` (0644: both are public).
Status writePublicFiles(const KeyPairInfo& info, EVP_PKEY* key) {
  auto pub = publicPem(key);
  if (!pub) return pub.error();
  auto jwks = jwksFor(key);
  if (!jwks) return jwks.error();
  if (auto s = writeFileAtomic(info.publicKeyPath, *pub, 0644); !s) return s;
  return writeFileAtomic(info.jwksPath, *jwks, 0644);
}

}  // namespace

Result<std::string> kidForPrivateKeyPem(std::string_view privateKeyPem) {
  auto key = parsePrivateKey(privateKeyPem);
  if (!key) return key.error();
  return kidFor(key->get());
}

Result<std::string> jwksForPrivateKeyPem(std::string_view privateKeyPem) {
  auto key = parsePrivateKey(privateKeyPem);
  if (!key) return key.error();
  return jwksFor(key->get());
}

Result<KeyPairInfo> generateKeyPair(const std::string& dir) {
  if (dir.empty()) return Error{ErrorCode::ValidationFailed, "key directory is empty"};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::Internal, "cannot create " + dir + ": " + ec.message()};
  KeyPairInfo info = pathsFor(dir, "");
  if (fs::exists(info.privateKeyPath, ec)) {
    return Error{ErrorCode::Conflict, info.privateKeyPath + " already exists; not overwriting"};
  }

  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kRsaBits)));
  if (!key) return opensslError("RSA key generation failed");
  auto kid = kidFor(key.get());
  if (!kid) return kid.error();
  info.kid = *kid;

  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return opensslError("PEM_write_bio_PKCS8PrivateKey");
  }
  if (auto s = writeFileAtomic(info.privateKeyPath, bioToString(bio.get()), 0600); !s) {
    return s.error();
  }
  if (auto s = writePublicFiles(info, key.get()); !s) {
    fs::remove(info.privateKeyPath, ec);
    return s.error();
  }
  return info;
}

Result<KeyPairInfo> ensureKeyPair(const std::string& dir) {
  if (dir.empty()) return Error{ErrorCode::ValidationFailed, "key directory is empty"};
  KeyPairInfo info = pathsFor(dir, "");
  std::error_code ec;
  if (!fs::exists(info.privateKeyPath, ec)) return generateKeyPair(dir);
  auto pem = readFile(info.privateKeyPath);
  if (!pem) return pem.error();
  auto key = parsePrivateKey(*pem);
  if (!key) return key.error();
  auto kid = kidFor(key->get());
  if (!kid) return kid.error();
  info.kid = *kid;
  // Re-derive the public files when missing, so a half-copied directory heals itself.
  if (!fs::exists(info.jwksPath, ec) || !fs::exists(info.publicKeyPath, ec)) {
    if (auto s = writePublicFiles(info, key->get()); !s) return s.error();
  }
  return info;
}

Result<std::string> signCompactJwt(std::string_view privateKeyPem, std::string_view headerJson,
                                   std::string_view payloadJson) {
  auto key = parsePrivateKey(privateKeyPem);
  if (!key) return key.error();
  std::string input =
      crypto::base64UrlEncode(headerJson) + "." + crypto::base64UrlEncode(payloadJson);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  size_t sigLen = 0;
  std::string sig;
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key->get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_DigestSign(ctx, nullptr, &sigLen,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (ok) {
    sig.resize(sigLen);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sigLen,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(sigLen);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return opensslError("RS256 signing failed");
  return input + "." + crypto::base64UrlEncode(sig);
}

Result<std::string> mintToken(std::string_view privateKey, const MintOptions& options) {
  if (!isValidTenant(options.tenant)) {
    return Error{ErrorCode::ValidationNameInvalid,
                 "tenant \"" + options.tenant + "\" must match t_[a-z0-9]{6,32}"};
  }
  if (options.sub.empty()) return Error{ErrorCode::ValidationFailed, "sub is required"};
  if (options.ttlSeconds <= 0 || options.ttlSeconds > kMaxTtlSeconds) {
    return Error{ErrorCode::ValidationFailed, "ttl_seconds must be within 1..31536000"};
  }
  std::string scope;
  for (const auto& r : options.roles) {
    if (r.empty()) return Error{ErrorCode::ValidationFailed, "roles must not be empty strings"};
  }
  for (const auto& s : options.scopes) {
    if (s.empty() || s.find(' ') != std::string::npos) {
      return Error{ErrorCode::ValidationFailed, "a scope must be non-empty and contain no space"};
    }
    if (!scope.empty()) scope += ' ';
    scope += s;
  }

  std::string pem;
  if (privateKey.find("-----BEGIN") != std::string_view::npos) {
    pem = std::string(privateKey);
  } else {
    auto text = readFile(std::string(privateKey));
    if (!text) return text.error();
    pem = std::move(*text);
  }
  std::string kid = options.kid;
  if (kid.empty()) {
    auto derived = kidForPrivateKeyPem(pem);
    if (!derived) return derived.error();
    kid = *derived;
  }

  const int64_t iat = options.issuedAtMs.value_or(systemNowMs()) / 1000;
  json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}};
  json claims = json::object();
  if (options.iss) claims["iss"] = *options.iss;
  if (options.aud) claims["aud"] = *options.aud;
  claims["sub"] = options.sub;
  claims["tid"] = options.tenant;
  claims["roles"] = options.roles;
  if (!scope.empty()) claims["scope"] = scope;
  claims["iat"] = iat;
  claims["exp"] = iat + options.ttlSeconds;
  return signCompactJwt(pem, header.dump(), claims.dump());
}

}  // namespace cs::authn
