#include "internal/gateway/web_gateway.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>
#include <vector>

#include "internal/api/names.h"
#include "internal/authz/authz.h"
#include "internal/crypto/crypto.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::gateway {

using nlohmann::json;

namespace {

constexpr std::string_view kRoutePrefixPattern = "/v1/web/{tenant}/{namespace}/{function}/{ref}";
constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
// /v1/web/{t}/{ns}/{fn}/{ref}: the segments before the proxy path.
constexpr int kRouteSegments = 6;
constexpr int64_t kMaxTimeoutMs = 900000;   // SPEC §8 limits.timeoutMs maximum
constexpr size_t kMaxPrincipalRoles = 256;  // SPEC §7 principal.roles
constexpr size_t kMaxPrincipalField = 256;

// Response headers a function may not set: hop-by-hop (RFC 7230 §6.1), framing the server
// computes, and the gateway's own correlation headers (a function must not spoof them).
constexpr std::string_view kBlockedResponseHeaders[] = {"connection",
                                                        "keep-alive",
                                                        "proxy-authenticate",
                                                        "proxy-authorization",
                                                        "proxy-connection",
                                                        "te",
                                                        "trailer",
                                                        "trailers",
                                                        "transfer-encoding",
                                                        "upgrade",
                                                        "content-length",
                                                        "x-activation-id",
                                                        "x-request-id"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The rest of `path` after `skip` segments, always starting with "/" ("/" when empty).
std::string pathAfterSegments(std::string_view path, int skip) {
  size_t pos = 0;
  for (int i = 0; i < skip; ++i) {
    if (pos >= path.size() || path[pos] != '/') return "/";
    size_t next = path.find('/', pos + 1);
    if (next == std::string_view::npos) return "/";
    pos = next;
  }
  return std::string(path.substr(pos));
}

bool isTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isValidHeaderName(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isTokenChar(static_cast<unsigned char>(c)); });
}

bool isValidHeaderValue(std::string_view value) {
  // No CR, LF or NUL: a function must not be able to inject headers or split the response.
  return std::none_of(value.begin(), value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool isBlockedResponseHeader(std::string_view lowerName) {
  return std::find(std::begin(kBlockedResponseHeaders), std::end(kBlockedResponseHeaders),
                   lowerName) != std::end(kBlockedResponseHeaders);
}

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// W3C trace-context traceparent "vv-<32 hex>-<16 hex>-<2 hex>"; an invalid one is ignored,
// as the W3C spec asks.
bool isValidTraceparent(std::string_view s) {
  if (s.size() != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
  std::string_view version = s.substr(0, 2), trace = s.substr(3, 32), parent = s.substr(36, 16),
                   flags = s.substr(53, 2);
  if (!isLowerHex(version) || version == "ff") return false;
  if (!isLowerHex(trace) || trace == std::string(32, '0')) return false;
  if (!isLowerHex(parent) || parent == std::string(16, '0')) return false;
  return isLowerHex(flags);
}

bool isValidInvocationRequestId(std::string_view id) {
  if (id.size() < 8 || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool isPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Config written by cs-control at publish (docs/contracts.md "Version config").
int64_t timeoutFromConfig(const json& config, int64_t fallback) {
  if (!config.is_object()) return fallback;
  auto it = config.find("timeout_ms");
  if (it == config.end() || !it->is_number_integer()) return fallback;
  int64_t v = it->get<int64_t>();
  return (v >= 1 && v <= kMaxTimeoutMs) ? v : fallback;
}

std::vector<std::string> httpRolesFromConfig(const json& config) {
  std::vector<std::string> roles;
  if (!config.is_object()) return roles;
  auto authz = config.find("authz");
  if (authz == config.end() || !authz->is_object()) return roles;
  auto list = authz->find("invoke_http_roles");
  if (list == authz->end() || !list->is_array()) return roles;
  for (const auto& r : *list) {
    if (r.is_string() && !r.get_ref<const std::string&>().empty())
      roles.push_back(r.get<std::string>());
  }
  return roles;
}

int statusForFunctionError(ErrorCode code) {
  int catalog = httpStatus(code);
  if (catalog == 503 || catalog == 504 || code == ErrorCode::NotFound) return catalog;
  return 502;
}

ErrorCode codeForErrorType(std::string_view type, bool timedOut) {
  if (timedOut || type == "Timeout") return ErrorCode::RuntimeTimeout;
  if (type == "MemoryLimit") return ErrorCode::RuntimeMemoryLimit;
  if (type == "CapabilityDenied") return ErrorCode::RuntimeCapabilityDenied;
  return ErrorCode::RuntimeException;
}

}  // namespace

std::string idempotentActivationId(std::string_view tenant, std::string_view ns,
                                   std::string_view function, std::string_view ref,
                                   std::string_view idempotencyKey) {
  std::string tenantNs = crypto::uuidV5(kIdempotencyNamespaceUuid, tenant);
  std::string name;
  name.reserve(idempotencyKey.size() + ns.size() + function.size() + ref.size() + 3);
  name.append(idempotencyKey).append("\n").append(ns).append("/").append(function).append("/");
  name.append(ref);
  return crypto::uuidV5(tenantNs, name);
}

// Everything the reply callback needs; copied into it (the Request does not outlive handle()).
struct WebGateway::Call {
  http::Responder responder;
  std::string httpRequestId;  // for the error body (the server's X-Request-Id)
  std::string tenant, ns, function, ref;
  std::optional<int64_t> version;
  std::string activationId;
  int64_t startMs = 0;
};

WebGateway::WebGateway(GatewayOptions options, kv::Store& store,
                       authn::Authenticator& authenticator, codeq::RequestReply& requestReply,
                       const kv::Clock& clock, std::shared_ptr<GatewayObserver> observer)
    : options_(std::move(options)),
      store_(store),
      authenticator_(authenticator),
      requestReply_(requestReply),
      clock_(clock),
      observer_(observer ? std::move(observer) : std::make_shared<GatewayObserver>()),
      limiter_(clock) {}

void WebGateway::registerRoutes(http::Router& router) {
  for (const char* method : kMethods) {
    for (std::string_view pattern : {kRoutePrefixPattern, kRoutePattern}) {
      router.add(method, std::string(pattern),
                 [this](http::Request& request, http::Responder responder) {
                   handle(request, std::move(responder));
                 });
    }
  }
}

void WebGateway::finish(const Call& call, http::Response response, std::string outcome,
                        std::string errorCode) {
  if (!call.activationId.empty()) response.header("X-Activation-Id", call.activationId);
  WebInvocationReport report;
  report.tenant = call.tenant;
  report.ns = call.ns;
  report.function = call.function;
  report.ref = call.ref;
  report.version = call.version;
  report.activationId = call.activationId;
  report.requestId = call.httpRequestId;
  report.httpStatus = response.status;
  report.errorCode = std::move(errorCode);
  report.outcome = std::move(outcome);
  report.durationMs = std::max<int64_t>(0, clock_.nowMs() - call.startMs);
  call.responder.send(std::move(response));
  observer_->onWebRequest(report);
}

void WebGateway::reject(const Call& call, const Error& error, std::optional<int64_t> retryAfterMs) {
  http::Response response = http::Response::error(error, call.httpRequestId);
  if (retryAfterMs) {
    int64_t seconds = std::max<int64_t>(1, (*retryAfterMs + 999) / 1000);
    response.header("Retry-After", std::to_string(seconds));
  }
  finish(call, std::move(response), call.activationId.empty() ? "rejected" : "failed",
         std::string(error.name()));
}

void WebGateway::handle(http::Request& request, http::Responder responder) {
  Call call;
  call.responder = std::move(responder);
  call.httpRequestId = request.requestId;
  call.startMs = clock_.nowMs();
  call.tenant = request.param("tenant");
  call.ns = request.param("namespace");
  call.function = request.param("function");
  call.ref = request.param("ref");

  // --- route ------------------------------------------------------------------------------
  for (auto [kind, value] : {std::pair{api::NameKind::Tenant, &call.tenant},
                             std::pair{api::NameKind::Namespace, &call.ns},
                             std::pair{api::NameKind::Function, &call.function}}) {
    if (auto st = api::validateName(kind, *value); !st.ok()) return reject(call, st.error());
  }
  std::optional<std::string> alias;
  std::optional<int64_t> pinnedVersion = api::parseVersion(call.ref);
  if (!pinnedVersion) {
    if (!api::isValidName(api::NameKind::Alias, call.ref)) {
      return reject(call, Error{ErrorCode::ValidationFailed,
                                "ref must be an alias name or a positive version number"});
    }
    alias = call.ref;
  }

  // --- limits (the server enforces body and headers too; re-checked here) ----------------
  if (request.query.size() > options_.limits.maxQueryBytes) {
    return reject(call, Error{ErrorCode::ValidationFailed,
                              "query string exceeds " +
                                  std::to_string(options_.limits.maxQueryBytes) + " bytes"});
  }
  size_t headerBytes = 0;
  for (const auto& [name, value] : request.headers) headerBytes += name.size() + value.size() + 4;
  if (headerBytes > options_.limits.maxHeaderBytes) {
    return reject(call, Error{ErrorCode::HeadersTooLarge,
                              "request headers exceed " +
                                  std::to_string(options_.limits.maxHeaderBytes) + " bytes"});
  }
  if (request.body.size() > options_.limits.maxBodyBytes) {
    return reject(call, Error{ErrorCode::PayloadTooLarge,
                              "request body exceeds " +
                                  std::to_string(options_.limits.maxBodyBytes) + " bytes"});
  }
  std::optional<std::string> idempotencyKey;
  if (auto key = request.header("idempotency-key")) {
    if (key->empty() || key->size() > kMaxIdempotencyKeyBytes || !isPrintableAscii(*key)) {
      return reject(call, Error{ErrorCode::ValidationFailed,
                                "Idempotency-Key must be 1-255 printable ASCII characters"});
    }
    idempotencyKey = std::string(*key);
  }

  // --- client-IP limit before any expensive work (token verification, storage) ------------
  if (!request.remoteAddr.empty()) {
    auto d = limiter_.tryAcquire({{"ip:" + request.remoteAddr, {options_.rateLimits.ipRps, 0}}});
    if (!d.allowed) {
      return reject(call, Error{ErrorCode::RateLimited, "too many requests from this client"},
                    d.retryAfterMs);
    }
  }

  // --- authenticate + tenant ---------------------------------------------------------------
  auto authHeader = request.header("authorization");
  auto principal = authenticator_.authenticate(authHeader ? *authHeader : std::string_view());
  if (!principal.ok()) return reject(call, principal.error());
  if (principal->tenant != call.tenant) {
    return reject(
        call, Error{ErrorCode::AuthzResourceMismatch, "the token's tenant does not own this path"});
  }
  if (principal->sub.empty() || principal->sub.size() > kMaxPrincipalField) {
    return reject(call, Error{ErrorCode::AuthnInvalidToken, "token subject must be 1-256 bytes"});
  }

  // --- tenant and function limits (after authn, so strangers cannot drain a tenant) ------
  {
    auto d = limiter_.tryAcquire(
        {{"tenant:" + call.tenant, {options_.rateLimits.tenantRps, 0}},
         {"fn:" + call.tenant + "/" + call.ns + "/" + call.function + "/" + call.ref,
          {options_.rateLimits.functionRps, 0}}});
    if (!d.allowed) {
      return reject(call,
                    Error{ErrorCode::RateLimited, d.limitedKey.rfind("tenant:", 0) == 0
                                                      ? "tenant request rate limit exceeded"
                                                      : "function request rate limit exceeded"},
                    d.retryAfterMs);
    }
  }

  // --- resolve: function (live) → alias → version ------------------------------------------
  auto fnKey = kv::keys::functionMeta(call.tenant, call.ns, call.function);
  if (!fnKey.ok()) return reject(call, fnKey.error());
  auto fnBytes = store_.get(*fnKey);
  if (!fnBytes.ok()) return reject(call, fnBytes.error());
  const std::string fnLabel = call.ns + "/" + call.function;
  if (!fnBytes->has_value()) {
    return reject(call, Error{ErrorCode::NotFound, "function " + fnLabel + " not found"});
  }
  auto fnRecord = kv::decode<kv::FunctionRecord>(**fnBytes);
  if (!fnRecord.ok()) return reject(call, fnRecord.error());
  if (fnRecord->deletedAtMs) {
    return reject(call, Error{ErrorCode::NotFound, "function " + fnLabel + " not found"});
  }
  int64_t version = 0;
  if (alias) {
    auto aliasKey = kv::keys::alias(call.tenant, call.ns, call.function, *alias);
    if (!aliasKey.ok()) return reject(call, aliasKey.error());
    auto aliasBytes = store_.get(*aliasKey);
    if (!aliasBytes.ok()) return reject(call, aliasBytes.error());
    if (!aliasBytes->has_value()) {
      return reject(call, Error{ErrorCode::NotFound,
                                "alias " + *alias + " of function " + fnLabel + " not found"});
    }
    auto aliasRecord = kv::decode<kv::AliasRecord>(**aliasBytes);
    if (!aliasRecord.ok()) return reject(call, aliasRecord.error());
    version = aliasRecord->version;
  } else {
    version = *pinnedVersion;
  }
  auto verKey = kv::keys::versionMeta(call.tenant, call.ns, call.function, version);
  if (!verKey.ok()) return reject(call, verKey.error());
  auto verBytes = store_.get(*verKey);
  if (!verBytes.ok()) return reject(call, verBytes.error());
  if (!verBytes->has_value()) {
    return reject(call, Error{ErrorCode::NotFound, "version " + std::to_string(version) +
                                                       " of function " + fnLabel + " not found"});
  }
  auto verRecord = kv::decode<kv::VersionRecord>(**verBytes);
  if (!verRecord.ok()) return reject(call, verRecord.error());
  call.version = version;

  // --- authorize against the version's allowlist --------------------------------------------
  auto resource =
      alias ? authz::functionAliasResource(call.tenant, call.ns, call.function, *alias)
            : authz::functionVersionResource(call.tenant, call.ns, call.function, version);
  if (auto st = authz::authorizeInvoke(*principal, authz::Action::FunctionInvokeHttp, resource,
                                       httpRolesFromConfig(verRecord->config));
      !st.ok()) {
    return reject(call, st.error());
  }

  // --- event (API Gateway v2 payload shape) -------------------------------------------------
  const std::string rawProxyPath =
      pathAfterSegments(request.rawPath.empty() ? request.path : request.rawPath, kRouteSegments);
  const std::string proxyPath = pathAfterSegments(request.path, kRouteSegments);
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(name);
    if (key == "authorization") continue;  // the caller's credential stays with the gateway
    auto [it, inserted] = headers.try_emplace(key, value);
    if (!inserted) it->second.append(",").append(value);
  }
  const int64_t now = clock_.nowMs();
  json event = {
      {"version", "2.0"},
      {"routeKey", "$default"},
      {"rawPath", rawProxyPath},
      {"rawQueryString", request.query},
      {"headers", headers},
      {"requestContext",
       {{"http",
         {{"method", request.method}, {"path", proxyPath}, {"sourceIp", request.remoteAddr}}},
        {"requestId", request.requestId},
        {"timeEpoch", now}}},
      {"body", crypto::base64Encode(request.body)},
      {"isBase64Encoded", true},
  };

  // --- the InvocationRequest ----------------------------------------------------------------
  call.activationId = idempotencyKey ? idempotentActivationId(call.tenant, call.ns, call.function,
                                                              call.ref, *idempotencyKey)
                                     : crypto::uuidV4();
  const std::string invocationRequestId = isValidInvocationRequestId(request.requestId)
                                              ? request.requestId
                                              : "req_" + crypto::randomHex(12);
  const int64_t timeoutMs = timeoutFromConfig(verRecord->config, options_.defaultTimeoutMs);

  json source = {
      {"method", request.method}, {"path", request.path}, {"route", std::string(kRoutePattern)}};
  if (auto tp = request.header("traceparent"); tp && isValidTraceparent(*tp)) {
    source["traceparent"] = std::string(*tp);
  }
  json roles = json::array();
  for (const auto& role : principal->roles) {
    if (roles.size() >= kMaxPrincipalRoles) break;
    if (!role.empty() && role.size() <= kMaxPrincipalField) roles.push_back(role);
  }
  json ref = {{"function", call.function}, {"version", version}};
  if (alias) ref["alias"] = *alias;
  json invocation = {
      {"activation_id", call.activationId},
      {"request_id", invocationRequestId},
      {"tenant", call.tenant},
      {"namespace", call.ns},
      {"ref", std::move(ref)},
      {"trigger", {{"type", "http"}, {"source", std::move(source)}}},
      {"principal", {{"sub", principal->sub}, {"roles", std::move(roles)}}},
      {"deadline_ms", now + timeoutMs},
      {"event", std::move(event)},
  };

  // The callback owns a copy of the call; this handler returns and holds no thread.
  requestReply_.call(call.tenant, std::move(invocation), timeoutMs + options_.waitSlackMs,
                     [this, call](Result<json> reply) { onReply(call, std::move(reply)); });
}

void WebGateway::onReply(const Call& call, Result<json> reply) {
  if (!reply.ok()) {
    const Error& e = reply.error();
    std::string outcome = e.code == ErrorCode::CodeqCorrelationTimeout ? "wait_timeout" : "failed";
    finish(call, http::Response::error(e, call.httpRequestId), std::move(outcome),
           std::string(e.name()));
    return;
  }
  const json& r = *reply;
  auto badResult = [&](std::string message) {
    Error e{ErrorCode::RuntimeException, std::move(message)};
    finish(call, http::Response::error(e, call.httpRequestId), "error", std::string(e.name()));
  };
  if (!r.is_object()) return badResult("the invocation result is not an object");
  auto statusIt = r.find("status");
  std::string status =
      statusIt != r.end() && statusIt->is_string() ? statusIt->get<std::string>() : std::string();

  if (status == "success") {
    auto res = r.find("result");
    if (res == r.end() || !res->is_object()) return badResult("the function returned no response");
    auto sc = res->find("statusCode");
    if (sc == res->end() || !sc->is_number_integer() || sc->get<int64_t>() < 100 ||
        sc->get<int64_t>() > 599) {
      return badResult("the function's statusCode is not an integer in 100-599");
    }
    http::Response response;
    response.status = static_cast<int>(sc->get<int64_t>());
    auto body = res->find("body");
    std::string bodyText =
        body != res->end() && body->is_string() ? body->get<std::string>() : std::string();
    auto b64 = res->find("isBase64Encoded");
    if (b64 != res->end() && b64->is_boolean() && b64->get<bool>()) {
      auto decoded = crypto::base64Decode(bodyText);
      if (!decoded) return badResult("the function's body is flagged base64 but is not base64");
      bodyText = std::move(*decoded);
    }
    response.body = std::move(bodyText);
    auto hdrs = res->find("headers");
    if (hdrs != res->end() && hdrs->is_object()) {
      for (const auto& [name, value] : hdrs->items()) {
        if (!value.is_string()) continue;
        const auto& v = value.get_ref<const std::string&>();
        if (!isValidHeaderName(name) || !isValidHeaderValue(v)) continue;
        if (isBlockedResponseHeader(lower(name))) continue;
        response.header(name, v);
      }
    }
    finish(call, std::move(response), "success", "");
    return;
  }

  // error / timeout (anything else is treated as an error of the function's run)
  const bool timedOut = status == "timeout";
  std::string type, message, codeName;
  if (auto err = r.find("error"); err != r.end() && err->is_object()) {
    if (auto t = err->find("type"); t != err->end() && t->is_string()) type = t->get<std::string>();
    if (auto m = err->find("message"); m != err->end() && m->is_string()) {
      message = m->get<std::string>();
    }
    if (auto c = err->find("code"); c != err->end() && c->is_string()) {
      codeName = c->get<std::string>();
    }
  }
  ErrorCode code = codeForErrorType(type, timedOut);
  if (auto known = errorCodeFromName(codeName); known && !timedOut) code = *known;
  if (message.empty()) message = timedOut ? "the function timed out" : "the function failed";
  Error e{code, std::move(message)};
  http::Response response = http::Response::error(e, call.httpRequestId);
  response.status = statusForFunctionError(code);
  finish(call, std::move(response), timedOut ? "timeout" : "error", std::string(e.name()));
}

}  // namespace cs::gateway
