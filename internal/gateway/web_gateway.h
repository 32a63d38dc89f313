// WebGateway — the `/v1/web/...` handler of cs-http-gateway (SPEC §11, HTTP part).
//
// Per request: route → size limits → client-IP rate limit → authenticate → tenant match →
// tenant/function rate limits → resolve alias and version (kv) → invoke_http_roles allowlist →
// API-Gateway-v2 event → InvocationRequest → RequestReply::call(timeout_ms + waitSlackMs) →
// the function's response (or an SPEC §5 error). The wait holds no thread: the handler returns
// after call(), and the reply callback (queue delivery or timeout thread) sends the response.
//
// Decisions (README.md has the full list): the Authorization header is not forwarded to the
// function; a query string over max_query_bytes is 400 CS_VALIDATION_FAILED (the catalog has
// no 414); rawPath is the proxy path after the ref; an Idempotency-Key gives a UUIDv5
// activation id so a retried request maps to the same activation (the invoker then replays
// the stored result instead of running again).
//
// Threads: handle() runs on the HTTP server's worker pool and may block on storage and token
// verification. The gateway must outlive every pending call: stop the RequestReply (which
// completes pending waiters) before destroying the gateway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "internal/authn/authn.h"
#include "internal/codeq/request_reply.h"
#include "internal/errors/errors.h"
#include "internal/gateway/rate_limiter.h"
#include "internal/http/http.h"
#include "internal/kv/clock.h"
#include "internal/kv/store.h"

namespace cs::gateway {

struct GatewayLimits {
  size_t maxBodyBytes = 6 * 1024 * 1024;  // larger → 413 CS_PAYLOAD_TOO_LARGE
  size_t maxHeaderBytes = 64 * 1024;      // sum of name + value + 4 per header → 431
  size_t maxQueryBytes = 16 * 1024;       // larger → 400 CS_VALIDATION_FAILED
};

// Requests per second (burst = one second's worth); 0 disables a limit. Exhausted → 429
// CS_RATE_LIMITED with Retry-After (seconds).
struct GatewayRateLimits {
  double tenantRps = 200;
  double functionRps = 20;  // per tenant/namespace/function/ref
  double ipRps = 100;       // per client address (request.remoteAddr)
};

struct GatewayOptions {
  GatewayLimits limits;
  GatewayRateLimits rateLimits;
  // Extra wait beyond the version's timeout_ms before answering 504 (SPEC §11: 250 ms).
  int64_t waitSlackMs = 250;
  // Used when a version's config has no valid timeout_ms (SPEC §14 HTTP timeout).
  int64_t defaultTimeoutMs = 3000;
};

// What one finished /v1/web request did, for metrics and logs.
struct WebInvocationReport {
  std::string tenant, ns, function, ref;
  std::optional<int64_t> version;  // once resolved
  std::string activationId;        // empty when rejected before an activation existed
  std::string requestId;
  int httpStatus = 0;
  std::string errorCode;   // CS_* when the gateway or the function failed; empty otherwise
  std::string outcome;     // rejected | success | error | timeout | wait_timeout | failed
  int64_t durationMs = 0;  // gateway time, from handle() to the response
};

// Observability hook with no-op defaults (STYLE §12). Called on the thread that sends the
// response; must not block.
class GatewayObserver {
 public:
  virtual ~GatewayObserver() = default;
  virtual void onWebRequest(const WebInvocationReport& /*report*/) {}
};

// The fixed namespace of the tenant namespaces used for Idempotency-Key activation ids:
// activation_id = uuidV5(uuidV5(kIdempotencyNamespaceUuid, tenant),
//                        key + "\n" + namespace + "/" + function + "/" + ref).
inline constexpr std::string_view kIdempotencyNamespaceUuid =
    "8a4f3c62-1d7e-5b90-a3c4-6e2f0d9b7c15";
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

// Pure function behind the Idempotency-Key activation id (exposed for tests and cs-control).
std::string idempotentActivationId(std::string_view tenant, std::string_view ns,
                                   std::string_view function, std::string_view ref,
                                   std::string_view idempotencyKey);

class WebGateway {
 public:
  // All references must outlive the gateway. `observer` may be null (no-op).
  WebGateway(GatewayOptions options, kv::Store& store, authn::Authenticator& authenticator,
             codeq::RequestReply& requestReply, const kv::Clock& clock,
             std::shared_ptr<GatewayObserver> observer = nullptr);
  WebGateway(const WebGateway&) = delete;
  WebGateway& operator=(const WebGateway&) = delete;

  // Registers GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS on
  // /v1/web/{tenant}/{namespace}/{function}/{ref} and .../{ref}/{proxyPath*}.
  void registerRoutes(http::Router& router);

  // The handler behind every registered route (request.params filled by the router).
  void handle(http::Request& request, http::Responder responder);

  static constexpr std::string_view kRoutePattern =
      "/v1/web/{tenant}/{namespace}/{function}/{ref}/{proxyPath*}";

 private:
  struct Call;
  void finish(const Call& call, http::Response response, std::string outcome,
              std::string errorCode);
  void reject(const Call& call, const Error& error, std::optional<int64_t> retryAfterMs = {});
  void onReply(const Call& call, Result<nlohmann::json> reply);

  GatewayOptions options_;
  kv::Store& store_;
  authn::Authenticator& authenticator_;
  codeq::RequestReply& requestReply_;
  const kv::Clock& clock_;
  std::shared_ptr<GatewayObserver> observer_;
  TokenBucketLimiter limiter_;
};

}  // namespace cs::gateway
