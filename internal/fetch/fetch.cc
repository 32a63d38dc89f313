#include "internal/fetch/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "internal/api/manifest.h"
#include "internal/crypto/crypto.h"
#include "internal/fetch/address.h"

namespace cs::fetch {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kMaxUrlBytes = 8192;
constexpr size_t kMaxRequestHeaders = 100;
constexpr size_t kMaxRequestHeaderBytes = 64u << 10;

void ensureCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

cs::Error denied(std::string message) {
  return cs::Error{cs::ErrorCode::RuntimeCapabilityDenied, std::move(message)};
}
cs::Error invalid(std::string message) {
  return cs::Error{cs::ErrorCode::ValidationFailed, std::move(message)};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Shortened for messages; the URL is the function's own, but keep logs bounded.
std::string shown(std::string_view url) {
  return url.size() <= 200 ? std::string(url) : std::string(url.substr(0, 200)) + "…";
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                  std::string_view::npos;
  });
}

// Framing, hop-by-hop and routing headers are ours (curl's) to set, never the function's.
bool isForbiddenHeader(const std::string& lowerName) {
  static const char* const kForbidden[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "expect", "te", "trailer", "proxy-authorization", "proxy-connection", "http2-settings"};
  for (const char* f : kForbidden) {
    if (lowerName == f) return true;
  }
  return lowerName.starts_with("proxy-");
}

struct FetchRequest {
  std::string method = "GET";
  Headers headers;  // names as given (validated)
  std::string body;
  bool hasBody = false;
  bool bodyIsText = false;
  std::optional<int64_t> timeoutMs;
  bool followRedirects = true;
};

cs::Result<FetchRequest> parseOptions(const json& opts, const FetchPolicy& policy) {
  FetchRequest req;
  if (opts.is_null()) return req;
  if (!opts.is_object()) return invalid("options must be an object");
  for (const auto& [key, value] : opts.items()) {
    if (value.is_null()) continue;  // {x: undefined} arrives as null
    if (key == "method") {
      if (!value.is_string()) return invalid("options.method must be a string");
      std::string m = value.get<std::string>();
      std::transform(m.begin(), m.end(), m.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      static const char* const kMethods[] = {"GET",    "HEAD",   "POST",   "PUT",
                                             "PATCH", "DELETE", "OPTIONS"};
      if (std::none_of(std::begin(kMethods), std::end(kMethods),
                       [&](const char* k) { return m == k; })) {
        return invalid("options.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, "
                       "OPTIONS");
      }
      req.method = m;
    } else if (key == "headers") {
      if (!value.is_object()) return invalid("options.headers must be an object of strings");
      size_t total = 0;
      for (const auto& [name, v] : value.items()) {
        std::string text;
        if (v.is_string()) {
          text = v.get<std::string>();
        } else if (v.is_number() || v.is_boolean()) {
          text = v.dump();
        } else {
          return invalid("options.headers." + shown(name) + " must be a string");
        }
        if (!isToken(name)) return invalid("invalid header name \"" + shown(name) + "\"");
        if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
          return invalid("header " + name + " contains CR, LF or NUL");
        }
        if (isForbiddenHeader(lower(name))) {
          return invalid("header " + name + " may not be set by the function");
        }
        total += name.size() + text.size() + 4;
        req.headers.emplace_back(name, trim(text));
      }
      if (req.headers.size() > kMaxRequestHeaders || total > kMaxRequestHeaderBytes) {
        return invalid("options.headers exceeds 100 headers or 64 KiB");
      }
    } else if (key == "body") {
      if (value.is_string()) {
        req.body = value.get<std::string>();
        req.bodyIsText = true;
      } else if (value.is_object() && value.size() == 1 && value.contains("base64") &&
                 value["base64"].is_string()) {
        auto decoded = cs::crypto::base64Decode(value["base64"].get<std::string>());
        if (!decoded) return invalid("options.body.base64 is not valid base64");
        req.body = std::move(*decoded);
      } else {
        return invalid("options.body must be a string or {base64: string}");
      }
      req.hasBody = true;
    } else if (key == "timeoutMs") {
      if (!value.is_number()) return invalid("options.timeoutMs must be a number");
      double t = value.get<double>();
      if (!std::isfinite(t) || t < 1) return invalid("options.timeoutMs must be >= 1");
      req.timeoutMs = static_cast<int64_t>(std::min(t, 1e12));
    } else if (key == "redirect") {
      std::string r = value.is_string() ? value.get<std::string>() : "";
      if (r != "follow" && r != "manual") {
        return invalid("options.redirect must be \"follow\" or \"manual\"");
      }
      req.followRedirects = r == "follow";
    } else {
      return invalid("unknown option \"" + shown(key) + "\"");
    }
  }
  if (req.hasBody && (req.method == "GET" || req.method == "HEAD")) {
    return invalid(req.method + " requests cannot have a body");
  }
  if (req.body.size() > policy.maxRequestBodyBytes) {
    return cs::Error{cs::ErrorCode::PayloadTooLarge,
                     "request body is " + std::to_string(req.body.size()) + " bytes; the cap is " +
                         std::to_string(policy.maxRequestBodyBytes)};
  }
  return req;
}

bool loopbackExempt(const FetchPolicy& policy, long port) {
  if (!policy.allowLoopbackForTest) return false;
  if (policy.allowLoopbackPortsForTest.empty()) return true;
  return std::find(policy.allowLoopbackPortsForTest.begin(),
                   policy.allowLoopbackPortsForTest.end(),
                   port) != policy.allowLoopbackPortsForTest.end();
}

struct CurlStr {
  char* p = nullptr;
  ~CurlStr() { curl_free(p); }
  std::string str() const { return p ? std::string(p) : std::string(); }
};

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

struct Target {
  std::string url;
  std::string scheme;
  std::string host;  // canonical
  long port = 0;
};

// Parse-time checks of one hop. `u` already holds the URL.
cs::Result<Target> checkTarget(CURLU* u, const FetchPolicy& policy) {
  Target t;
  CurlStr scheme, host, port, user, password, zone, full;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme.p, 0) != CURLUE_OK) {
    return invalid("URL has no scheme");
  }
  t.scheme = lower(scheme.str());
  if (t.scheme != "http" && t.scheme != "https") {
    return denied("scheme \"" + shown(t.scheme) + "\" is not allowed (http and https only)");
  }
  if (curl_url_get(u, CURLUPART_USER, &user.p, 0) == CURLUE_OK ||
      curl_url_get(u, CURLUPART_PASSWORD, &password.p, 0) == CURLUE_OK) {
    return denied("credentials in the URL are not allowed; send an Authorization header");
  }
  if (curl_url_get(u, CURLUPART_ZONEID, &zone.p, 0) == CURLUE_OK) {
    return denied("IPv6 zone ids are not allowed");
  }
  if (curl_url_get(u, CURLUPART_HOST, &host.p, 0) != CURLUE_OK || host.str().empty()) {
    return invalid("URL has no host");
  }
  std::string rawHost = host.str();
  if (std::any_of(rawHost.begin(), rawHost.end(),
                  [](unsigned char c) { return c >= 0x80 || c <= 0x20; })) {
    return invalid("host must be ASCII (use the punycode form)");
  }
  t.host = canonicalHost(rawHost);
  if (curl_url_get(u, CURLUPART_PORT, &port.p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return invalid("URL has no port");
  }
  t.port = std::strtol(port.p, nullptr, 10);
  if (curl_url_get(u, CURLUPART_URL, &full.p, 0) != CURLUE_OK) return invalid("invalid URL");
  t.url = full.str();

  if (policy.allowHosts.empty()) {
    return denied("capabilities.http.allowHosts is empty; no host may be fetched");
  }
  if (!hostAllowed(t.host, policy.allowHosts)) {
    return denied("host \"" + shown(t.host) + "\" is not in capabilities.http.allowHosts");
  }
  // Literal addresses: a clear message now; the connect-time check is the real guard.
  std::optional<std::string> blocked;
  bool loopback = false;
  if (t.host.find(':') != std::string::npos) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, t.host.c_str(), &a6) != 1) return invalid("invalid IPv6 host");
    uint8_t bytes[16];
    std::memcpy(bytes, a6.s6_addr, 16);
    blocked = blockedRangeV6(bytes);
    loopback = IN6_IS_ADDR_LOOPBACK(&a6);
  } else if (auto v4 = parseNumericIpv4(t.host)) {
    blocked = blockedRangeV4(*v4);
    loopback = (*v4 >> 24) == 127;
  } else if (looksNumericIpv4(t.host)) {
    return denied("host \"" + shown(t.host) + "\" is a malformed numeric address");
  }
  if (blocked && !(loopback && loopbackExempt(policy, t.port))) {
    return denied("host " + t.host + " is a private/reserved address: " + *blocked);
  }
  return t;
}

// State of one transfer, shared with curl's callbacks.
struct Hop {
  const FetchPolicy* policy = nullptr;
  std::optional<std::string> deniedReason;
  std::string body;
  bool bodyTooLarge = false;
  Headers headers;  // names lower-cased, values raw
  size_t headerBytes = 0;
  bool headersTooLarge = false;
};

// CURLOPT_OPENSOCKETFUNCTION: sees every address curl is about to connect to, after DNS (so
// rebinding and names resolving to private addresses are caught) and for every redirect hop.
curl_socket_t openSocket(void* clientp, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* hop = static_cast<Hop*>(clientp);
  const sockaddr* sa = &address->addr;
  auto len = static_cast<socklen_t>(address->addrlen);
  auto blocked = blockedRange(sa, len);
  if (blocked && isLoopback(sa, len)) {
    long port = 0;
    if (sa->sa_family == AF_INET) port = ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
    if (sa->sa_family == AF_INET6) {
      port = ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
    }
    if (loopbackExempt(*hop->policy, port)) blocked.reset();
  }
  if (blocked) {
    char text[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof(text));
    } else if (sa->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text,
                sizeof(text));
    }
    hop->deniedReason = "connection to " + std::string(text) +
                        " denied: private/reserved address in " + *blocked;
    return CURL_SOCKET_BAD;
  }
  int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

size_t writeBody(char* data, size_t size, size_t count, void* userdata) {
  auto* hop = static_cast<Hop*>(userdata);
  size_t n = size * count;
  if (hop->body.size() + n > hop->policy->maxResponseBodyBytes) {
    hop->bodyTooLarge = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  hop->body.append(data, n);
  return n;
}

size_t writeHeader(char* data, size_t size, size_t count, void* userdata) {
  auto* hop = static_cast<Hop*>(userdata);
  size_t n = size * count;
  hop->headerBytes += n;
  if (hop->headerBytes > hop->policy->maxResponseHeaderBytes) {
    hop->headersTooLarge = true;
    return 0;
  }
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {  // a new response (after 1xx): start over
    hop->headers.clear();
    return n;
  }
  std::string text = trim(line);
  if (text.empty()) return n;
  if ((line[0] == ' ' || line[0] == '\t') && !hop->headers.empty()) {  // obsolete folding
    hop->headers.back().second += " " + text;
    return n;
  }
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return n;
  hop->headers.emplace_back(lower(trim(std::string_view(text).substr(0, colon))),
                            trim(std::string_view(text).substr(colon + 1)));
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

struct HopResult {
  long status = 0;
  Headers headers;
  std::string body;
};

cs::Result<HopResult> runHop(CURLU* url, const FetchRequest& req, int64_t timeoutMs,
                             bool cappedByDeadline, const FetchPolicy& policy) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return cs::Error{cs::ErrorCode::Internal, "curl_easy_init failed"};
  CURL* c = curl.get();
  Hop hop;
  hop.policy = &policy;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_slist* list = nullptr;
  bool hasContentType = false;
  for (const auto& [name, value] : req.headers) {
    if (lower(name) == "content-type") hasContentType = true;
    // curl drops "Name:" with an empty value; "Name;" sends it empty.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  list = curl_slist_append(list, "Expect:");
  if (req.hasBody && !hasContentType) {
    list = curl_slist_append(
        list, req.bodyIsText ? "Content-Type: text/plain;charset=UTF-8" : "Content-Type:");
  }
  std::unique_ptr<curl_slist, SlistDeleter> headerList(list);

  curl_easy_setopt(c, CURLOPT_CURLU, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeoutMs));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeoutMs));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(policy.maxResponseBodyBytes));
  curl_easy_setopt(c, CURLOPT_USERAGENT, policy.userAgent.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headerList.get());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &openSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &hop);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &writeBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &hop);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &writeHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &hop);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_slist* resolve = nullptr;
  for (const auto& entry : policy.resolveForTest) resolve = curl_slist_append(resolve, entry.c_str());
  std::unique_ptr<curl_slist, SlistDeleter> resolveList(resolve);
  if (resolve != nullptr) curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);

  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.hasBody || req.method == "POST" || req.method == "PUT" ||
             req.method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    if (req.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    if (hop.deniedReason) return denied(*hop.deniedReason);
    if (hop.bodyTooLarge || rc == CURLE_FILESIZE_EXCEEDED) {
      return cs::Error{cs::ErrorCode::PayloadTooLarge,
                       "response body exceeds the cap of " +
                           std::to_string(policy.maxResponseBodyBytes) + " bytes"};
    }
    if (hop.headersTooLarge) {
      return cs::Error{cs::ErrorCode::PayloadTooLarge,
                       "response headers exceed " +
                           std::to_string(policy.maxResponseHeaderBytes) + " bytes"};
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return cs::Error{cs::ErrorCode::RuntimeTimeout,
                       "fetch timed out after " + std::to_string(timeoutMs) + " ms" +
                           (cappedByDeadline ? " (capped by the activation deadline)" : "")};
    }
    std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    return cs::Error{cs::ErrorCode::RuntimeException, "fetch failed: " + detail};
  }
  HopResult out;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  out.headers = std::move(hop.headers);
  out.body = std::move(hop.body);
  return out;
}

std::optional<std::string> headerValue(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

json headersJson(const Headers& headers) {
  json out = json::object();
  for (const auto& [n, v] : headers) {
    if (out.contains(n)) {
      out[n] = out[n].get<std::string>() + ", " + v;
    } else {
      out[n] = v;
    }
  }
  return out;
}

// Headers that must not follow a redirect to another host.
void dropCredentialHeaders(Headers& headers) {
  std::erase_if(headers, [](const auto& h) {
    std::string n = lower(h.first);
    return n == "authorization" || n == "cookie";
  });
}

}  // namespace

FetchPolicy makePolicy(const api::HttpCapability& capability, const FetchSettings& settings) {
  FetchPolicy policy;
  policy.allowHosts = capability.allowHosts;
  policy.timeoutMs = std::clamp<int64_t>(capability.timeoutMs, 1, kMaxTimeoutMs);
  policy.maxRequestBodyBytes = settings.maxRequestBodyBytes;
  policy.maxResponseBodyBytes = settings.maxResponseBodyBytes;
  policy.userAgent = settings.userAgent;
  policy.allowLoopbackForTest = settings.allowLoopbackForTests;
  return policy;
}

std::unique_ptr<runtime::HostProvider> makeHttpFetchProvider(
    const api::HttpCapability* capability, const FetchSettings& settings) {
  if (capability == nullptr) return nullptr;
  return std::make_unique<HttpFetchProvider>(makePolicy(*capability, settings));
}

HttpFetchProvider::HttpFetchProvider(FetchPolicy policy) : policy_(std::move(policy)) {
  policy_.timeoutMs = std::clamp<int64_t>(policy_.timeoutMs, 1, kMaxTimeoutMs);
  policy_.maxRedirects = std::clamp(policy_.maxRedirects, 0, 20);
  ensureCurlInit();
}

cs::Result<json> HttpFetchProvider::call(std::string_view method, const json& args,
                                         int64_t deadlineMs) {
  if (method != "fetch") return denied("cs.http has no method \"" + shown(method) + "\"");
  if (!args.is_array() || args.empty() || !args[0].is_string()) {
    return invalid("fetch(url, options): url must be a string");
  }
  if (args.size() > 2) return invalid("fetch takes (url, options)");
  const std::string& urlText = args[0].get_ref<const std::string&>();
  if (urlText.size() > kMaxUrlBytes) return invalid("URL is longer than 8 KiB");
  if (std::any_of(urlText.begin(), urlText.end(),
                  [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return invalid("URL contains whitespace or control characters");
  }
  auto parsed = parseOptions(args.size() > 1 ? args[1] : json(), policy_);
  if (!parsed) return parsed.error();
  FetchRequest req = std::move(*parsed);

  // One budget for the whole fetch, redirects included, never past the activation deadline.
  int64_t now = runtime::nowSteadyMs();
  int64_t budget = std::min(policy_.timeoutMs, req.timeoutMs.value_or(policy_.timeoutMs));
  bool cappedByDeadline = deadlineMs - now < budget;
  budget = std::min(budget, deadlineMs - now);
  if (budget <= 0) {
    return cs::Error{cs::ErrorCode::RuntimeTimeout, "the activation deadline has passed"};
  }
  int64_t end = now + budget;

  UrlPtr url(curl_url());
  if (!url) return cs::Error{cs::ErrorCode::Internal, "curl_url failed"};
  CURLUcode uc = curl_url_set(url.get(), CURLUPART_URL, urlText.c_str(), 0);
  if (uc == CURLUE_UNSUPPORTED_SCHEME) {
    return denied("the URL scheme is not allowed (http and https only)");
  }
  if (uc != CURLUE_OK) {
    return invalid("invalid URL \"" + shown(urlText) + "\": " + curl_url_strerror(uc));
  }
  auto target = checkTarget(url.get(), policy_);
  if (!target) return target.error();

  for (int redirects = 0;; ++redirects) {
    int64_t remaining = end - runtime::nowSteadyMs();
    if (remaining <= 0) {
      return cs::Error{cs::ErrorCode::RuntimeTimeout,
                       "fetch timed out after " + std::to_string(budget) + " ms" +
                           (cappedByDeadline ? " (capped by the activation deadline)" : "")};
    }
    auto hop = runHop(url.get(), req, remaining, cappedByDeadline, policy_);
    if (!hop) return hop.error();
    long status = hop->status;
    auto location = headerValue(hop->headers, "location");
    bool isRedirect = status == 301 || status == 302 || status == 303 || status == 307 ||
                      status == 308;
    if (!req.followRedirects || !isRedirect || !location) {
      return json{{"status", status},
                  {"headers", headersJson(hop->headers)},
                  {"body", cs::crypto::base64Encode(hop->body)},
                  {"isBase64Encoded", true},
                  {"url", target->url},
                  {"redirected", redirects > 0}};
    }
    if (redirects >= policy_.maxRedirects) {
      return cs::Error{cs::ErrorCode::RuntimeException,
                       "too many redirects (more than " + std::to_string(policy_.maxRedirects) +
                           ")"};
    }
    // Resolve Location against the current URL, then re-check everything for the new hop.
    uc = curl_url_set(url.get(), CURLUPART_URL, location->c_str(), 0);
    if (uc == CURLUE_UNSUPPORTED_SCHEME) {
      return denied("redirect to " + shown(*location) + ": scheme not allowed (http and https)");
    }
    if (uc != CURLUE_OK) {
      return cs::Error{cs::ErrorCode::RuntimeException,
                       "redirect to an invalid URL \"" + shown(*location) + "\""};
    }
    auto next = checkTarget(url.get(), policy_);
    if (!next) {
      cs::Error e = next.error();
      e.message = "redirect to " + shown(*location) + ": " + e.message;
      return e;
    }
    if (next->host != target->host) dropCredentialHeaders(req.headers);
    if (status == 303 ? req.method != "HEAD" : (status <= 302 && req.method == "POST")) {
      req.method = "GET";
      req.hasBody = false;
      req.body.clear();
      std::erase_if(req.headers, [](const auto& h) { return lower(h.first) == "content-type"; });
    }
    target = std::move(next);
  }
}

}  // namespace cs::fetch
