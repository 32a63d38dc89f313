// cs.http.fetch (SPEC §9): the "http" host provider, outbound HTTP for hostile function code.
//
// Deny by default: the invoker builds one HttpFetchProvider per activation, and only when the
// version's manifest has capabilities.http. Every request (and every redirect hop, followed
// here by hand) is checked for scheme http/https, a host in allowHosts, no credentials in the
// URL, and — at connect time, on the address curl actually connects to — no private or
// reserved address (see address.h). Denials are CS_RUNTIME_CAPABILITY_DENIED.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"
#include "internal/runtime/engine.h"

namespace cs::api {
struct HttpCapability;
}

namespace cs::fetch {

inline constexpr size_t kDefaultMaxBodyBytes = 6u << 20;  // SPEC §14 HTTP body
inline constexpr int64_t kMaxTimeoutMs = 30000;           // SPEC §14 HTTP timeout max

struct FetchPolicy {
  // capabilities.http.allowHosts: exact hosts (case-insensitive) or "*.example.com" for any
  // subdomain. Empty → every call is denied.
  std::vector<std::string> allowHosts;
  int64_t timeoutMs = 3000;  // capabilities.http.timeoutMs, clamped to 1..kMaxTimeoutMs
  size_t maxRequestBodyBytes = kDefaultMaxBodyBytes;
  size_t maxResponseBodyBytes = kDefaultMaxBodyBytes;
  size_t maxResponseHeaderBytes = 64u << 10;
  int maxRedirects = 5;
  std::string userAgent = "code-sous-fetch/1";
  // Test-only (config cs_invoker_pool.http_fetch.allow_loopback_for_tests): lets 127.0.0.0/8
  // and ::1 through the address check. Every other blocked range stays blocked.
  bool allowLoopbackForTest = false;
  // Test-only: when non-empty, the loopback exception above holds only for these ports, so a
  // redirect from a test server to another loopback port is still denied.
  std::vector<uint16_t> allowLoopbackPortsForTest;
  // Test-only: CURLOPT_RESOLVE entries ("host:port:address"), to make an allowed name resolve
  // to a chosen address without touching DNS.
  std::vector<std::string> resolveForTest;
};

// Process-wide settings of the invoker pool (config cs_invoker_pool.http_fetch.*).
struct FetchSettings {
  bool allowLoopbackForTests = false;  // allow_loopback_for_tests; never in production
  size_t maxRequestBodyBytes = kDefaultMaxBodyBytes;
  size_t maxResponseBodyBytes = kDefaultMaxBodyBytes;
  std::string userAgent = "code-sous-fetch/1";
};

// The policy of one version: capability + settings, timeout clamped to 1..30000 ms.
FetchPolicy makePolicy(const api::HttpCapability& capability, const FetchSettings& settings);

// cs.http with one method, fetch(url, {method, headers, body, timeoutMs, redirect}):
//   method   GET (default), HEAD, POST, PUT, PATCH, DELETE, OPTIONS
//   headers  object of string values; hop-by-hop and framing headers (host, content-length,
//            transfer-encoding, connection, …) are rejected
//   body     a string (sent as its UTF-8 bytes) or {base64: "…"} (sent as the decoded bytes)
//   timeoutMs  capped by the capability's timeoutMs and by the activation deadline; it covers
//            the whole fetch, redirects included
//   redirect "follow" (default, up to maxRedirects, each hop re-checked) or "manual"
// → {status, headers (names lower-case, repeats joined with ", "), body (base64),
//    isBase64Encoded: true, url (final URL), redirected}.
// Errors: CS_RUNTIME_CAPABILITY_DENIED (policy), CS_VALIDATION_FAILED (bad arguments),
// CS_PAYLOAD_TOO_LARGE (request or response body over its cap), CS_RUNTIME_TIMEOUT,
// CS_RUNTIME_EXCEPTION (network failure, too many redirects).
//
// Thread: call() is made on the activation's thread; one provider serves one activation, but
// the provider keeps no per-call state, so concurrent calls are safe.
class HttpFetchProvider final : public runtime::HostProvider {
 public:
  explicit HttpFetchProvider(FetchPolicy policy);

  std::string name() const override { return "http"; }
  std::vector<std::string> methods() const override { return {"fetch"}; }
  cs::Result<nlohmann::json> call(std::string_view method, const nlohmann::json& args,
                                  int64_t deadlineMs) override;

  const FetchPolicy& policy() const { return policy_; }

 private:
  FetchPolicy policy_;
};

// nullptr when `capability` is null: no capabilities.http → no cs.http at all.
std::unique_ptr<runtime::HostProvider> makeHttpFetchProvider(
    const api::HttpCapability* capability, const FetchSettings& settings);

}  // namespace cs::fetch
