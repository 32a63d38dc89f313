#include "internal/http/http.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal/http/client.h"

namespace cs::http {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// Bounded wait for a condition another thread makes true (liveness, not timing).
template <typename Pred>
bool waitFor(std::mutex& mu, std::condition_variable& cv, Pred pred) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, std::chrono::seconds(20), pred);
}

struct Recorded {
  std::string method, path, pattern, requestId;
  int status;
};

class RecordingObserver final : public RequestObserver {
 public:
  void onRequest(const Request& request, const Response& response, double,
                 std::string_view routePattern) override {
    std::lock_guard lock(mu);
    seen.push_back({request.method, request.path, std::string(routePattern), request.requestId,
                    response.status});
    cv.notify_all();
  }
  void onHandlerException(const Request&, std::string_view what) override {
    std::lock_guard lock(mu);
    exceptions.emplace_back(what);
  }
  bool waitCount(size_t n) {
    return waitFor(mu, cv, [&] { return seen.size() >= n; });
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Recorded> seen;
  std::vector<std::string> exceptions;
};

// A plain TCP connection for what libcurl will not send (malformed requests, keep-alive checks).
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  void send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads one response (Content-Length framed). Empty status on EOF / timeout.
  struct Raw {
    int status = 0;
    std::string head;
    std::string body;
  };
  Raw readResponse() {
    Raw raw;
    size_t headerEnd;
    while ((headerEnd = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return raw;
    }
    raw.head = buffer_.substr(0, headerEnd);
    raw.status = std::atoi(raw.head.substr(9, 3).c_str());
    size_t length = 0;
    std::string lowerHead = raw.head;
    for (auto& c : lowerHead) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = lowerHead.find("content-length:"); p != std::string::npos) {
      length = std::stoul(lowerHead.substr(p + 15));
    }
    while (buffer_.size() < headerEnd + 4 + length) {
      if (!fill()) return Raw{};
    }
    raw.body = buffer_.substr(headerEnd + 4, length);
    buffer_.erase(0, headerEnd + 4 + length);
    return raw;
  }
  // Reads one response head only (for HEAD requests and interim responses).
  std::string readHead() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return {};
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    return head;
  }
  const std::string& leftover() const { return buffer_; }
  // True when the server closed the connection (EOF) before the timeout.
  bool closedByPeer() {
    while (fill()) {
    }
    return eof_;
  }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

nlohmann::json parseJson(const std::string& body) {
  return nlohmann::json::parse(body, nullptr, false);
}

class ServerTest : public ::testing::Test {
 protected:
  void startServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = makeServer(options, router_, observer_);
    auto status = server_->start();
    ASSERT_TRUE(status.ok()) << status.error().message;
    ASSERT_NE(server_->port(), 0);
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  ClientResponse call(std::string method, std::string_view path, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    ClientRequest req;
    req.method = std::move(method);
    req.url = url(path);
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.timeoutMs = 20000;
    auto result = request(req);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? std::move(result).value() : ClientResponse{};
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  std::shared_ptr<Router> router_ = std::make_shared<Router>();
  std::shared_ptr<RecordingObserver> observer_ = std::make_shared<RecordingObserver>();
  std::unique_ptr<Server> server_;
};

Handler echoParams() {
  return [](Request& req, Responder responder) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : req.params) params[k] = v;
    responder.send(Response::json(200, {{"params", params},
                                        {"path", req.path},
                                        {"raw_path", req.rawPath},
                                        {"q", req.queryParam("q").value_or("<none>")}}));
  };
}

// ---- Router (no server) ----------------------------------------------------------------------

TEST(RouterTest, MostSpecificRouteWins) {
  Router router;
  std::string hit;
  auto mark = [&hit](std::string name) {
    return [&hit, name](Request&, Responder) { hit = name; };
  };
  router.add("GET", "/v1/f/{name}", mark("param"));
  router.add("GET", "/v1/f/{name}:invoke", mark("verb"));
  router.add("GET", "/v1/f/special", mark("literal"));
  router.add("GET", "/v1/f/{rest*}", mark("rest"));

  auto route = [&](std::string path) {
    Request req;
    req.method = "GET";
    req.rawPath = path;
    auto m = router.find(req);
    if (m.handler) (*m.handler)(req, Responder());
    return std::make_pair(m, req);
  };
  auto [m1, r1] = route("/v1/f/special");
  EXPECT_EQ(hit, "literal");
  EXPECT_EQ(m1.pattern, "/v1/f/special");
  auto [m2, r2] = route("/v1/f/abc:invoke");
  EXPECT_EQ(hit, "verb");
  EXPECT_EQ(r2.param("name"), "abc");
  auto [m3, r3] = route("/v1/f/abc");
  EXPECT_EQ(hit, "param");
  EXPECT_EQ(r3.param("name"), "abc");
  auto [m4, r4] = route("/v1/f/a/b/c");
  EXPECT_EQ(hit, "rest");
  EXPECT_EQ(r4.param("rest"), "a/b/c");
  EXPECT_EQ(m4.pattern, "/v1/f/{rest*}");
  // ":invoke" alone has no name before the verb: the plain {name} route takes it.
  auto [m5, r5] = route("/v1/f/:invoke");
  EXPECT_EQ(hit, "param");
}

TEST(RouterTest, RestMayBeEmptyAndExactRouteIsPreferred) {
  Router router;
  router.add("GET", "/w/{ref}", [](Request&, Responder) {});
  router.add("GET", "/w/{ref}/{proxy*}", [](Request&, Responder) {});
  Request a;
  a.method = "GET";
  a.rawPath = "/w/v1";
  EXPECT_EQ(router.find(a).pattern, "/w/{ref}");
  Request b;
  b.method = "GET";
  b.rawPath = "/w/v1/";
  auto mb = router.find(b);
  EXPECT_EQ(mb.pattern, "/w/{ref}/{proxy*}");
  EXPECT_EQ(b.param("proxy"), "");
  Request c;
  c.method = "GET";
  c.rawPath = "/w/v1/x%2Fy/z";
  router.find(c);
  EXPECT_EQ(c.param("proxy"), "x/y/z");
}

TEST(RouterTest, EmptySegmentDoesNotMatchParam) {
  Router router;
  router.add("GET", "/a/{x}/b", [](Request&, Responder) {});
  Request req;
  req.method = "GET";
  req.rawPath = "/a//b";
  EXPECT_EQ(router.find(req).status, 404);
}

TEST(RouterTest, MethodMismatchIs405WithAllowedMethods) {
  Router router;
  router.add("GET", "/x", [](Request&, Responder) {});
  router.add("DELETE", "/x", [](Request&, Responder) {});
  Request req;
  req.method = "POST";
  req.rawPath = "/x";
  int status = 0;
  EXPECT_EQ(router.match(req, status), nullptr);
  EXPECT_EQ(status, 405);
  auto m = router.find(req);
  EXPECT_THAT(m.allowedMethods, ::testing::UnorderedElementsAre("GET", "DELETE"));
  req.rawPath = "/y";
  EXPECT_EQ(router.find(req).status, 404);
}

TEST(RouterTest, MalformedPatternsThrow) {
  Router router;
  Handler h = [](Request&, Responder) {};
  EXPECT_THROW(router.add("GET", "nope", h), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/{rest*}/b", h), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/{x", h), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/{x}y", h), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/{}", h), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/b{x}", h), std::invalid_argument);
  EXPECT_NO_THROW(router.add("POST", "/a/{x}:invoke", h));
}

TEST(HelpersTest, RequestIdRules) {
  EXPECT_TRUE(isValidRequestId("req_abcd"));
  EXPECT_TRUE(isValidRequestId("req_AZaz09_-xyz"));
  EXPECT_FALSE(isValidRequestId("req_abc"));
  EXPECT_FALSE(isValidRequestId("req_abc def"));
  EXPECT_FALSE(isValidRequestId("rq_abcdef"));
  EXPECT_FALSE(isValidRequestId("req_" + std::string(61, 'a')));
  EXPECT_TRUE(isValidRequestId("req_" + std::string(60, 'a')));
  EXPECT_THAT(newRequestId(), MatchesRegex("req_[0-9a-f]{24}"));
  EXPECT_NE(newRequestId(), newRequestId());
}

TEST(HelpersTest, PercentDecode) {
  EXPECT_EQ(percentDecode("a%20b%2Fc").value(), "a b/c");
  EXPECT_EQ(percentDecode("a+b", true).value(), "a b");
  EXPECT_EQ(percentDecode("a+b").value(), "a+b");
  EXPECT_FALSE(percentDecode("%zz").has_value());
  EXPECT_FALSE(percentDecode("%4").has_value());
  EXPECT_FALSE(percentDecode("abc%").has_value());
  EXPECT_FALSE(percentDecode("a%00b").has_value());
}

TEST(HelpersTest, ResponderSendsOnceAndAbandonmentSends500) {
  std::vector<Response> sent;
  {
    Responder r([&](Response resp) { sent.push_back(std::move(resp)); }, "req_abandoned");
    Responder copy = r;  // copies share one state
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status, 500);
  auto body = parseJson(sent[0].body);
  EXPECT_EQ(body["error"]["code"], "CS_INTERNAL");
  EXPECT_EQ(body["error"]["request_id"], "req_abandoned");

  // The one-argument form (handler unit tests) has no abandonment answer.
  sent.clear();
  {
    Responder r([&](Response resp) { sent.push_back(std::move(resp)); });
  }
  EXPECT_TRUE(sent.empty());

  {
    Responder r([&](Response resp) { sent.push_back(std::move(resp)); });
    r.send(Response::text(201, "first"));
    r.send(Response::text(202, "second"));
    EXPECT_TRUE(r.sent());
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status, 201);
}

TEST(HelpersTest, QueryParams) {
  Request req;
  req.query = "a=1&q=hello+world%21&q=second&flag&bad=%zz";
  EXPECT_EQ(req.queryParam("q").value(), "hello world!");
  EXPECT_EQ(req.queryParam("a").value(), "1");
  EXPECT_EQ(req.queryParam("flag").value(), "");
  EXPECT_EQ(req.queryParam("bad").value(), "%zz");
  EXPECT_FALSE(req.queryParam("missing").has_value());
}

// ---- Server ----------------------------------------------------------------------------------

TEST_F(ServerTest, RoutesAndParams) {
  router_->add("GET", "/v1/tenants/{t}/namespaces/{ns}/functions/{fn}", echoParams());
  router_->add("POST", "/v1/tenants/{t}/namespaces/{ns}/functions/{fn}:invoke", echoParams());
  router_->add("GET", "/v1/web/{tenant}/{rest*}", echoParams());
  startServer();

  auto get = call("GET", "/v1/tenants/t_abcdef/namespaces/ns1/functions/h%65llo?q=a+b");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.header("content-type").value_or(""), "application/json");
  auto body = parseJson(get.body);
  EXPECT_EQ(body["params"]["t"], "t_abcdef");
  EXPECT_EQ(body["params"]["ns"], "ns1");
  EXPECT_EQ(body["params"]["fn"], "hello");
  EXPECT_EQ(body["path"], "/v1/tenants/t_abcdef/namespaces/ns1/functions/hello");
  EXPECT_EQ(body["raw_path"], "/v1/tenants/t_abcdef/namespaces/ns1/functions/h%65llo");
  EXPECT_EQ(body["q"], "a b");

  auto invoke = call("POST", "/v1/tenants/t_abcdef/namespaces/ns1/functions/hello:invoke", "{}");
  EXPECT_EQ(invoke.status, 200);
  EXPECT_EQ(parseJson(invoke.body)["params"]["fn"], "hello");

  auto rest = call("GET", "/v1/web/t_abcdef/ns/fn/v1/deep/p%20ath");
  EXPECT_EQ(parseJson(rest.body)["params"]["rest"], "ns/fn/v1/deep/p ath");

  ASSERT_TRUE(observer_->waitCount(3));
  std::lock_guard lock(observer_->mu);
  EXPECT_EQ(observer_->seen[0].pattern, "/v1/tenants/{t}/namespaces/{ns}/functions/{fn}");
  EXPECT_EQ(observer_->seen[1].pattern, "/v1/tenants/{t}/namespaces/{ns}/functions/{fn}:invoke");
  EXPECT_EQ(observer_->seen[1].status, 200);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedBodies) {
  router_->add("GET", "/things/{id}", echoParams());
  startServer();

  auto nf = call("GET", "/nothing/here");
  EXPECT_EQ(nf.status, 404);
  auto body = parseJson(nf.body);
  EXPECT_EQ(body["error"]["code"], "CS_NOT_FOUND");
  EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr("/nothing/here"));
  EXPECT_EQ(body["error"]["request_id"], std::string(nf.header("x-request-id").value_or("?")));

  auto na = call("DELETE", "/things/1");
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("allow").value_or(""), "GET");
  auto naBody = parseJson(na.body);
  EXPECT_TRUE(naBody["error"]["code"].is_string());
  EXPECT_EQ(naBody["error"]["request_id"], std::string(na.header("x-request-id").value_or("?")));

  ASSERT_TRUE(observer_->waitCount(2));
  std::lock_guard lock(observer_->mu);
  EXPECT_EQ(observer_->seen[0].pattern, kUnmatchedRoute);
  EXPECT_EQ(observer_->seen[0].status, 404);
}

TEST_F(ServerTest, RequestIdEchoedOrGenerated) {
  router_->add("GET", "/id", [](Request& req, Responder responder) {
    responder.send(Response::json(200, {{"id", req.requestId}}));
  });
  startServer();

  auto echoed = call("GET", "/id", {}, {{"X-Request-Id", "req_client-given_1"}});
  EXPECT_EQ(echoed.header("x-request-id").value_or(""), "req_client-given_1");
  EXPECT_EQ(parseJson(echoed.body)["id"], "req_client-given_1");

  auto replaced = call("GET", "/id", {}, {{"X-Request-Id", "evil id\tvalue"}});
  std::string generated(replaced.header("x-request-id").value_or(""));
  EXPECT_THAT(generated, MatchesRegex("req_[0-9a-f]{24}"));
  EXPECT_EQ(parseJson(replaced.body)["id"], generated);

  auto none = call("GET", "/id");
  EXPECT_THAT(std::string(none.header("x-request-id").value_or("")),
              MatchesRegex("req_[0-9a-f]{24}"));
  EXPECT_NE(none.header("x-request-id"), replaced.header("x-request-id"));
  EXPECT_TRUE(none.header("content-length").has_value());
}

// Sync-invoke style: handlers park their Responder and return. With ONE worker thread, all 20
// handlers must still run, which proves a parked response holds no thread.
TEST_F(ServerTest, DeferredResponsesHoldNoWorkerThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, Responder>> parked;
  router_->add("POST", "/wait/{n}", [&](Request& req, Responder responder) {
    std::lock_guard lock(mu);
    parked.emplace_back(req.param("n"), responder);
    cv.notify_all();
  });
  ServerOptions options;
  options.workerThreads = 1;
  options.ioThreads = 2;
  startServer(options);

  constexpr int kClients = 20;
  std::vector<ClientResponse> results(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { results[i] = call("POST", "/wait/" + std::to_string(i), "x"); });
  }
  ASSERT_TRUE(waitFor(mu, cv, [&] { return parked.size() == kClients; }))
      << "only " << parked.size() << " handlers ran";

  std::thread answerer([&] {
    std::lock_guard lock(mu);
    for (auto& [n, responder] : parked) responder.send(Response::text(200, "done-" + n));
  });
  answerer.join();
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(results[i].status, 200);
    EXPECT_EQ(results[i].body, "done-" + std::to_string(i));
  }
}

TEST_F(ServerTest, BodyAndHeaderLimits) {
  router_->add("POST", "/upload", [](Request& req, Responder responder) {
    responder.send(Response::text(200, std::to_string(req.body.size())));
  });
  ServerOptions options;
  options.maxBodyBytes = 1024;
  options.maxHeaderBytes = 2048;
  startServer(options);

  EXPECT_EQ(call("POST", "/upload", std::string(1024, 'a')).body, "1024");

  auto big = call("POST", "/upload", std::string(4096, 'a'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(parseJson(big.body)["error"]["code"], "CS_PAYLOAD_TOO_LARGE");
  EXPECT_TRUE(big.header("x-request-id").has_value());

  auto hugeHeader = call("POST", "/upload", "x", {{"X-Big", std::string(4096, 'h')}});
  EXPECT_EQ(hugeHeader.status, 431);
  EXPECT_EQ(parseJson(hugeHeader.body)["error"]["code"], "CS_HEADERS_TOO_LARGE");

  // Chunked bodies are limited as they arrive.
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.connected());
  conn.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) conn.send("200\r\n" + std::string(512, 'c') + "\r\n");
  conn.send("0\r\n\r\n");
  auto raw = conn.readResponse();
  EXPECT_EQ(raw.status, 413);

  // The server is still healthy.
  EXPECT_EQ(call("POST", "/upload", "abc").body, "3");
}

TEST_F(ServerTest, MalformedRequestsGet400) {
  router_->add("GET", "/ok", echoParams());
  startServer();
  {
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.connected());
    conn.send("THIS IS NOT HTTP\r\n\r\n");
    auto raw = conn.readResponse();
    EXPECT_EQ(raw.status, 400);
    EXPECT_EQ(parseJson(raw.body)["error"]["code"], "CS_VALIDATION_FAILED");
    EXPECT_TRUE(conn.closedByPeer());
  }
  {
    RawConn conn(server_->port());
    conn.send("GET /ok%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = conn.readResponse();
    EXPECT_EQ(raw.status, 400);
    EXPECT_THAT(raw.body, HasSubstr("percent"));
  }
  {
    RawConn conn(server_->port());
    conn.send("GET /o%00k HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(conn.readResponse().status, 400);
  }
  {
    RawConn conn(server_->port());
    conn.send("GET http://elsewhere/ok HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(conn.readResponse().status, 400);
  }
  {
    RawConn conn(server_->port());
    conn.send("POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n");
    EXPECT_EQ(conn.readResponse().status, 400);
  }
  EXPECT_EQ(call("GET", "/ok").status, 200);
}

TEST_F(ServerTest, HandlerExceptionAndAbandonmentGive500) {
  router_->add("GET", "/throw",
               [](Request&, Responder) -> void { throw std::runtime_error("boom"); });
  router_->add("GET", "/forget", [](Request&, Responder) {});
  router_->add("GET", "/ok", echoParams());
  startServer();

  auto thrown = call("GET", "/throw");
  EXPECT_EQ(thrown.status, 500);
  auto body = parseJson(thrown.body);
  EXPECT_EQ(body["error"]["code"], "CS_INTERNAL");
  EXPECT_EQ(body["error"]["request_id"], std::string(thrown.header("x-request-id").value_or("")));
  EXPECT_THAT(thrown.body, ::testing::Not(HasSubstr("boom")));  // no internals leak

  auto forgotten = call("GET", "/forget");
  EXPECT_EQ(forgotten.status, 500);
  EXPECT_EQ(parseJson(forgotten.body)["error"]["code"], "CS_INTERNAL");

  EXPECT_EQ(call("GET", "/ok").status, 200);
  std::lock_guard lock(observer_->mu);
  EXPECT_THAT(observer_->exceptions, ::testing::ElementsAre("boom"));
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> count{0};
  router_->add("POST", "/count", [&](Request& req, Responder responder) {
    responder.send(Response::text(200, req.body + ":" + std::to_string(++count)));
  });
  startServer();
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.connected());
  for (int i = 1; i <= 3; ++i) {
    std::string body = "r" + std::to_string(i);
    conn.send("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body);
    auto raw = conn.readResponse();
    ASSERT_EQ(raw.status, 200) << "request " << i;
    EXPECT_EQ(raw.body, body + ":" + std::to_string(i));
    EXPECT_THAT(raw.head, HasSubstr("x-request-id: req_"));
  }
  // Connection: close is honoured.
  conn.send("POST /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(conn.readResponse().status, 200);
  EXPECT_TRUE(conn.closedByPeer());
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  router_->add("PUT", "/put", [](Request& req, Responder responder) {
    responder.send(Response::text(200, req.body));
  });
  startServer();
  RawConn conn(server_->port());
  conn.send("PUT /put HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto interim = conn.readResponse();
  EXPECT_EQ(interim.status, 100);
  conn.send("hello");
  auto final = conn.readResponse();
  EXPECT_EQ(final.status, 200);
  EXPECT_EQ(final.body, "hello");
}

TEST_F(ServerTest, HeadGetsHeadersOnly) {
  router_->add("HEAD", "/h", [](Request&, Responder responder) {
    responder.send(Response::text(200, "twelve bytes"));
  });
  startServer();
  RawConn conn(server_->port());
  conn.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = conn.readHead();
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(first, HasSubstr("Content-Length: 12"));
  // No body bytes follow: the next response starts right after the first head.
  conn.send("HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(conn.readHead(), StartsWith("HTTP/1.1 200"));
  EXPECT_TRUE(conn.closedByPeer());
  EXPECT_EQ(conn.leftover(), "");
}

TEST_F(ServerTest, UnsafeResponseHeadersAreDropped) {
  router_->add("GET", "/h", [](Request&, Responder responder) {
    Response r = Response::text(200, "ok");
    r.header("x-good", "yes");
    r.header("x-bad", "a\r\nInjected: 1");
    r.header("bad name", "v");
    r.header("content-length", "999");
    responder.send(std::move(r));
  });
  startServer();
  auto res = call("GET", "/h");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
  EXPECT_EQ(res.header("x-good").value_or(""), "yes");
  EXPECT_FALSE(res.header("x-bad").has_value());
  EXPECT_FALSE(res.header("injected").has_value());
  EXPECT_EQ(res.header("content-length").value_or(""), "2");
}

TEST_F(ServerTest, NoContentAndInvalidStatusesAreSafe) {
  router_->add("GET", "/status/{code}", [](Request& req, Responder responder) {
    responder.send(Response::text(std::stoi(req.param("code")), "body the client must not get"));
  });
  startServer();
  RawConn conn(server_->port());
  conn.send("GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = conn.readHead();
  EXPECT_THAT(head, StartsWith("HTTP/1.1 204"));
  EXPECT_THAT(head, ::testing::Not(HasSubstr("Content-Length")));
  // The connection stays usable: no stray body bytes were written.
  conn.send("GET /status/42 HTTP/1.1\r\nHost: x\r\n\r\n");
  auto invalid = conn.readResponse();
  EXPECT_EQ(invalid.status, 500);
  EXPECT_THAT(invalid.body, HasSubstr("CS_INTERNAL"));
  conn.send("GET /status/101 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(conn.readResponse().status, 500);
  conn.send("GET /status/599 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(conn.readResponse().status, 599);
}

TEST_F(ServerTest, SilentClientIsDisconnectedAfterReadTimeout) {
  router_->add("GET", "/ok", echoParams());
  ServerOptions options;
  options.readTimeoutMs = 200;
  startServer(options);
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.connected());
  conn.send("GET /ok HTTP/1.1\r\nHost: x\r\n");  // never finishes the header block
  EXPECT_TRUE(conn.closedByPeer());
  EXPECT_EQ(call("GET", "/ok").status, 200);
}

TEST_F(ServerTest, StopWaitsForInFlightResponse) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Responder> parked;
  router_->add("GET", "/slow", [&](Request&, Responder responder) {
    std::lock_guard lock(mu);
    parked = responder;
    cv.notify_all();
  });
  startServer();
  uint16_t port = server_->port();

  ClientResponse result;
  std::thread client([&] { result = call("GET", "/slow"); });
  ASSERT_TRUE(waitFor(mu, cv, [&] { return parked.has_value(); }));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->stop();
    stopped = true;
  });
  // Wait until stop() has closed the listener, then answer the in-flight request.
  bool refused = false;
  for (int i = 0; i < 2000 && !refused; ++i) {
    RawConn probe(port);
    refused = !probe.connected();
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(stopped);  // still waiting for our response
  {
    std::lock_guard lock(mu);
    parked->send(Response::text(200, "late but delivered"));
  }
  stopper.join();
  client.join();
  EXPECT_TRUE(stopped);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "late but delivered");

  ClientRequest after;
  after.url = "http://127.0.0.1:" + std::to_string(port) + "/slow";
  auto refusedCall = request(after);
  ASSERT_FALSE(refusedCall.ok());
  EXPECT_THAT(refusedCall.error().message, StartsWith(std::string(kConnectErrorPrefix)));
}

TEST_F(ServerTest, StopIsBoundedWhenAHandlerNeverAnswers) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Responder> parked;
  router_->add("GET", "/never", [&](Request&, Responder responder) {
    std::lock_guard lock(mu);
    parked = responder;
    cv.notify_all();
  });
  ServerOptions options;
  options.stopTimeoutMs = 100;
  startServer(options);

  Result<ClientResponse> result = Error{ErrorCode::Internal, "not run"};
  std::thread client([&] {
    ClientRequest req;
    req.url = url("/never");
    req.timeoutMs = 20000;
    result = request(req);
  });
  ASSERT_TRUE(waitFor(mu, cv, [&] { return parked.has_value(); }));
  server_->stop();
  client.join();
  EXPECT_FALSE(result.ok());  // connection closed without a response
  // A Responder used after stop() is inert.
  std::lock_guard lock(mu);
  parked->send(Response::text(200, "too late"));
  EXPECT_TRUE(parked->sent());
}

TEST(ClientTest, ErrorsAreClassified) {
  ClientRequest bad;
  bad.url = "ftp://example.com/";
  auto r1 = request(bad);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::ValidationFailed);

  ClientRequest badHeader;
  badHeader.url = "http://127.0.0.1:1/";
  badHeader.headers = {{"X-A", "line\r\nbreak"}};
  auto r2 = request(badHeader);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ErrorCode::ValidationFailed);

  // Port 1 on loopback: nothing listens there.
  ClientRequest refused;
  refused.url = "http://127.0.0.1:1/";
  auto r3 = request(refused);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().code, ErrorCode::Internal);
  EXPECT_THAT(r3.error().message, StartsWith(std::string(kConnectErrorPrefix)));
}

}  // namespace
}  // namespace cs::http
