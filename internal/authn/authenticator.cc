// The tikti and dev drivers: one JwksAuthenticator over a JWKS source (file or URL).
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include <curl/curl.h>

#include "internal/authn/authn.h"
#include "internal/authn/jwks_verifier.h"
#include "internal/authn/keys.h"
#include "internal/authn/token_cache.h"

namespace cs::authn {

namespace {

constexpr size_t kMaxJwksBytes = 1024 * 1024;

bool isBlank(char c) { return c == ' ' || c == '\t'; }

bool isTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Where a JWKS document comes from.
class JwksSource {
 public:
  virtual ~JwksSource() = default;
  virtual Result<std::string> fetch() = 0;
  virtual std::string describe() const = 0;
};

class FileJwksSource final : public JwksSource {
 public:
  explicit FileJwksSource(std::string path) : path_(std::move(path)) {}
  Result<std::string> fetch() override {
    std::error_code ec;
    auto size = std::filesystem::file_size(path_, ec);
    if (ec) return Error{ErrorCode::ValidationFailed, "jwks file " + path_ + ": " + ec.message()};
    if (size > kMaxJwksBytes) return Error{ErrorCode::ValidationFailed, "jwks file too large"};
    std::ifstream in(path_, std::ios::binary);
    if (!in) return Error{ErrorCode::ValidationFailed, "cannot open jwks file " + path_};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string describe() const override { return path_; }

 private:
  std::string path_;
};

size_t appendBounded(char* data, size_t size, size_t n, void* userp) {
  auto* out = static_cast<std::string*>(userp);
  size_t bytes = size * n;
  if (out->size() + bytes > kMaxJwksBytes) return 0;  // aborts the transfer
  out->append(data, bytes);
  return bytes;
}

class UrlJwksSource final : public JwksSource {
 public:
  UrlJwksSource(std::string url, int64_t timeoutMs) : url_(std::move(url)), timeoutMs_(timeoutMs) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  Result<std::string> fetch() override {
    CURL* curl = curl_easy_init();
    if (!curl) return Error{ErrorCode::Internal, "curl_easy_init failed"};
    std::string body;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeoutMs_));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeoutMs_));
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, appendBounded);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      return Error{ErrorCode::Internal, "jwks fetch " + url_ + " failed: " + why};
    }
    return body;
  }
  std::string describe() const override { return url_; }

 private:
  std::string url_;
  int64_t timeoutMs_;
};

struct AuthenticatorConfig {
  VerifierOptions verifier;
  int64_t cacheTtlMs;
  size_t cacheMaxEntries;
  int64_t refreshMinIntervalMs;
  int64_t maxAgeMs;  // 0 = never by age
};

// Thread-safe: the key set is an immutable shared_ptr swapped under mu_; one refresh at a time
// (refreshMu_, try-lock), rate-limited by lastAttemptMs_. A refresh fetches synchronously
// (up to httpTimeoutMs) on the calling thread.
class JwksAuthenticator final : public Authenticator {
 public:
  JwksAuthenticator(std::unique_ptr<JwksSource> source, AuthenticatorConfig config,
                    std::shared_ptr<const JwksVerifier> verifier, int64_t loadedAtMs)
      : source_(std::move(source)),
        config_(std::move(config)),
        cache_(config_.cacheMaxEntries, config_.cacheTtlMs, config_.verifier.nowMs),
        verifier_(std::move(verifier)),
        loadedAtMs_(loadedAtMs),
        lastAttemptMs_(loadedAtMs) {}

  Result<Principal> authenticate(std::string_view header) override {
    auto token = extractBearerToken(header);
    if (!token) return token.error();
    if (auto hit = cache_.get(*token)) return *hit;

    auto verifier = current();
    const int64_t now = config_.verifier.nowMs();
    auto kid = peekKid(*token);
    bool unknownKid = kid && !verifier->hasKey(*kid);
    bool stale = config_.maxAgeMs > 0 && now - loadedAt() >= config_.maxAgeMs;
    if (unknownKid || stale) {
      refresh(now);
      verifier = current();
    }
    auto result = verifier->verify(*token);
    if (result) cache_.put(*token, *result);
    return result;
  }

 private:
  std::shared_ptr<const JwksVerifier> current() {
    std::lock_guard lock(mu_);
    return verifier_;
  }
  int64_t loadedAt() {
    std::lock_guard lock(mu_);
    return loadedAtMs_;
  }

  // Best effort: a failed reload keeps the last good key set. A request never waits for
  // another thread's reload; it verifies against the keys it has.
  void refresh(int64_t now) {
    std::unique_lock refreshLock(refreshMu_, std::try_to_lock);
    if (!refreshLock.owns_lock()) return;
    if (now - lastAttemptMs_ < config_.refreshMinIntervalMs) return;
    lastAttemptMs_ = now;
    auto text = source_->fetch();
    if (!text) return;
    auto next = JwksVerifier::create(*text, config_.verifier);
    if (!next) return;
    std::lock_guard lock(mu_);
    verifier_ = std::move(*next);
    loadedAtMs_ = now;
  }

  std::unique_ptr<JwksSource> source_;
  AuthenticatorConfig config_;
  TokenCache cache_;
  std::mutex mu_;
  std::shared_ptr<const JwksVerifier> verifier_;
  int64_t loadedAtMs_;
  std::mutex refreshMu_;
  int64_t lastAttemptMs_;
};

Result<std::unique_ptr<Authenticator>> build(std::unique_ptr<JwksSource> source,
                                             AuthenticatorConfig config) {
  if (!config.verifier.nowMs) config.verifier.nowMs = systemNowMs;
  auto text = source->fetch();
  if (!text) return text.error();
  auto verifier = JwksVerifier::create(*text, config.verifier);
  if (!verifier) {
    return Error{verifier.error().code, source->describe() + ": " + verifier.error().message};
  }
  const int64_t now = config.verifier.nowMs();
  return std::unique_ptr<Authenticator>(
      new JwksAuthenticator(std::move(source), std::move(config), std::move(*verifier), now));
}

Status checkDurations(int64_t cacheTtlSeconds, int64_t clockSkewSeconds) {
  if (cacheTtlSeconds < 0 || cacheTtlSeconds > 86400) {
    return Error{ErrorCode::ValidationFailed, "authn cache_ttl_seconds must be within 0..86400"};
  }
  if (clockSkewSeconds < 0 || clockSkewSeconds > 600) {
    return Error{ErrorCode::ValidationFailed, "authn clock skew must be within 0..600 seconds"};
  }
  return okStatus();
}

}  // namespace

Result<std::string> extractBearerToken(std::string_view value) {
  while (!value.empty() && isBlank(value.front())) value.remove_prefix(1);
  while (!value.empty() && isBlank(value.back())) value.remove_suffix(1);
  if (value.empty()) return Error{ErrorCode::AuthnMissingToken, "missing Authorization header"};
  constexpr std::string_view kScheme = "bearer";
  bool bearer = value.size() > kScheme.size() && isBlank(value[kScheme.size()]);
  for (size_t i = 0; bearer && i < kScheme.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) bearer = false;
  }
  if (!bearer) {
    return Error{ErrorCode::AuthnMissingToken, "Authorization header has no Bearer token"};
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && isBlank(token.front())) token.remove_prefix(1);
  if (token.empty()) return Error{ErrorCode::AuthnMissingToken, "empty Bearer token"};
  if (token.size() > kMaxTokenBytes) {
    return Error{ErrorCode::AuthnInvalidToken, "token too large"};
  }
  for (char c : token) {
    if (!isTokenChar(c)) return Error{ErrorCode::AuthnInvalidToken, "token has invalid characters"};
  }
  return std::string(token);
}

Result<std::unique_ptr<Authenticator>> makeTiktiAuthenticator(TiktiOptions options) {
  if (options.jwksUrl.empty() == options.jwksFile.empty()) {
    return Error{ErrorCode::ValidationFailed,
                 "plugins.authn.tikti: set exactly one of jwks_url and jwks_file"};
  }
  if (auto s = checkDurations(options.cacheTtlSeconds, options.clockSkewSeconds); !s) {
    return s.error();
  }
  if (options.refreshMinIntervalSeconds < 0 || options.jwksMaxAgeSeconds < 0 ||
      options.httpTimeoutMs <= 0) {
    return Error{ErrorCode::ValidationFailed, "plugins.authn.tikti: negative interval or timeout"};
  }
  AuthenticatorConfig config{VerifierOptions{options.issuer, options.audience,
                                             options.clockSkewSeconds * 1000, options.nowMs},
                             options.cacheTtlSeconds * 1000, options.cacheMaxEntries,
                             options.refreshMinIntervalSeconds * 1000,
                             options.jwksMaxAgeSeconds * 1000};
  std::unique_ptr<JwksSource> source;
  if (!options.jwksUrl.empty()) {
    source = std::make_unique<UrlJwksSource>(options.jwksUrl, options.httpTimeoutMs);
  } else {
    source = std::make_unique<FileJwksSource>(options.jwksFile);
  }
  return build(std::move(source), std::move(config));
}

Result<std::unique_ptr<Authenticator>> makeDevAuthenticator(DevOptions options) {
  if (auto s = checkDurations(options.cacheTtlSeconds, options.clockSkewSeconds); !s) {
    return s.error();
  }
  auto keys = ensureKeyPair(options.keyDir);
  if (!keys) return keys.error();
  AuthenticatorConfig config{VerifierOptions{options.issuer, options.audience,
                                             options.clockSkewSeconds * 1000, options.nowMs},
                             options.cacheTtlSeconds * 1000, 1000, /*refreshMinIntervalMs=*/30'000,
                             /*maxAgeMs=*/0};
  return build(std::make_unique<FileJwksSource>(keys->jwksPath), std::move(config));
}

}  // namespace cs::authn
