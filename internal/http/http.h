// HTTP seam: request/response values, a router, and the server factory. Boost.Beast is
// included only in internal/http/*.cc (STYLE §4); handlers of control and gateway see only
// these types.
//
// Concurrency (DESIGN "Concurrency"): the server reads requests on its I/O threads and runs
// each handler on a separate worker pool, so a handler may block on storage. A handler answers
// through its Responder, from any thread, at any later time — a sync invoke registers a
// callback and returns, holding no thread while it waits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::http {

struct Request {
  std::string method;   // as received (HTTP methods are case-sensitive; clients send upper case)
  std::string target;   // as received: path + "?" + query
  std::string path;     // percent-decoded path
  std::string rawPath;  // path as received (not decoded)
  std::string query;    // raw query string without '?'
  // Header names lower-cased, in arrival order (duplicates kept).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remoteAddr;  // peer IP address (no port)
  std::string requestId;   // X-Request-Id from the client if valid, else generated (req_…)
  // Route parameters ({name} segments) filled by the router, percent-decoded.
  std::map<std::string, std::string> params;

  std::optional<std::string_view> header(std::string_view lowerName) const;
  std::string param(const std::string& name) const;
  // Decoded query parameter (first occurrence; '+' is a space; a bad %-escape stays literal).
  std::optional<std::string> queryParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  Response& header(std::string name, std::string value);
  // First header with this name (case-insensitive).
  std::optional<std::string_view> findHeader(std::string_view name) const;

  static Response json(int status, const nlohmann::json& body);
  static Response json(int status, const nlohmann::ordered_json& body);
  // Makes Response::json(200, {{"k", v}}) unambiguous between the two overloads above.
  static Response json(int status, nlohmann::json::initializer_list_t body);
  // The SPEC §5 error body with the error's HTTP status.
  static Response error(const cs::Error& error, std::string_view requestId);
  static Response text(int status, std::string body, std::string contentType = "text/plain");
};

// Sends the response of one request, exactly once (later calls are ignored). Copyable;
// thread-safe. The server adds X-Request-Id (and Content-Length) to every response.
class Responder {
 public:
  using SendFn = std::function<void(Response)>;
  Responder() = default;  // inert: send() does nothing
  explicit Responder(SendFn send);
  // Also guards against a handler that forgets to answer: when the last copy is destroyed
  // without a send, it sends 500 CS_INTERNAL (with this request id) itself, so the connection
  // is never pinned. The server uses this form.
  Responder(SendFn send, std::string requestId);
  void send(Response response) const;
  bool sent() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request& request, Responder responder)>;

// The router's answer for one request.
struct RouteMatch {
  const Handler* handler = nullptr;         // null when no route: see status
  int status = 404;                         // 404 or 405 when handler is null
  std::string pattern;                      // the matched route's pattern ("" when none)
  std::vector<std::string> allowedMethods;  // for 405: methods the path accepts
};

// Routes "METHOD pattern" to handlers. Pattern segments: literals, "{name}" (one non-empty
// segment), "{name}:verb" (a segment ending with ":verb", e.g. "{fn}:invoke"), and a final
// "{name*}" (the rest of the path, possibly empty). Segments are compared percent-decoded.
// When several routes match, the most specific wins, segment by segment:
// literal > {name}:verb > {name} > {name*}. No match → 404 CS_NOT_FOUND; path matches but
// method does not → 405. add() throws std::invalid_argument on a malformed pattern (start-up
// code). Not thread-safe for add(); add every route before the server starts.
class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  // Finds the handler and fills request.params (cleared first).
  RouteMatch find(Request& request) const;
  // Finds the handler and fills request.params; nullptr + status (404/405) when none.
  const Handler* match(Request& request, int& statusIfNone) const;

 private:
  enum class SegmentKind { Literal, Param, ParamVerb, Rest };
  struct Segment {
    SegmentKind kind = SegmentKind::Literal;
    std::string text;  // the literal, or the parameter name
    std::string verb;  // for ParamVerb, without ':'
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  static bool matchRoute(const Route& route, const std::vector<std::string>& segments,
                         std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;  // 0: pick a free port (tests); see Server::port()
  int ioThreads = 1;
  int workerThreads = 4;
  size_t maxBodyBytes = 6 * 1024 * 1024;  // larger → 413
  size_t maxHeaderBytes = 64 * 1024;      // larger → 431 (request line + header fields)
  int64_t readTimeoutMs = 30000;          // per request read, and idle keep-alive time
  int64_t writeTimeoutMs = 30000;         // per response write
  int64_t stopTimeoutMs = 10000;          // stop(): longest wait for in-flight responses
  std::string serviceName = "cs";
};

// Observes every finished request (for metrics and access logs). Called on an I/O thread
// after the response is written (or failed to write); must be thread-safe and must not block.
// Requests rejected before routing (400/413/431) are reported with routePattern "-".
// Unrouted ones (404/405) with "unmatched".
struct RequestObserver {
  virtual ~RequestObserver() = default;
  virtual void onRequest(const Request& request, const Response& response, double durationMs,
                         std::string_view routePattern) = 0;
  // A handler threw; the client got 500 CS_INTERNAL. Called on a worker thread.
  virtual void onHandlerException(const Request& /*request*/, std::string_view /*what*/) {}
};

// Route label for requests that matched no route / were rejected before routing.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";
inline constexpr std::string_view kRejectedRoute = "-";

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving. Once per Server.
  virtual Status start() = 0;
  // Stops accepting, waits (≤ stopTimeoutMs) for in-flight responses to be written, closes
  // every connection and joins the threads. Responders used afterwards do nothing. Call from
  // a thread that is not one of the server's. Idempotent; the destructor calls it.
  virtual void stop() = 0;
  virtual uint16_t port() const = 0;  // the bound port (after start)
};

std::unique_ptr<Server> makeServer(const ServerOptions& options, std::shared_ptr<Router> router,
                                   std::shared_ptr<RequestObserver> observer = nullptr);

// True for an acceptable client X-Request-Id: req_[A-Za-z0-9_-]{4,60}.
bool isValidRequestId(std::string_view id);
// "req_" + 24 lower-case hex characters.
std::string newRequestId();
// Percent-decoding. nullopt on a malformed escape or a decoded NUL byte.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace = false);

}  // namespace cs::http
