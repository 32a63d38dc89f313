// Integration tests of cs.http.fetch against loopback HTTP/1.1 servers written here on plain
// sockets, plus one end-to-end run through the real V8 engine.
#include "internal/fetch/fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "internal/api/manifest.h"
#include "internal/crypto/crypto.h"

namespace cs::fetch {
namespace {

using nlohmann::json;

struct Recorded {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

std::string response(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body, bool contentLength = true) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  for (const auto& [n, v] : headers) out += n + ": " + v + "\r\n";
  if (contentLength) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n" + body;
  return out;
}

// A tiny HTTP/1.1 server on 127.0.0.1:<free port>: one connection at a time, one request per
// connection, the handler returns the raw response bytes.
class TestServer {
 public:
  using Handler = std::function<std::string(const Recorded&)>;
  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd_, 16) != 0) {
      throw std::runtime_error("test server: bind/listen failed");
    }
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Recorded> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string data;
    char buf[4096];
    size_t headerEnd;
    while ((headerEnd = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
    }
    Recorded r;
    std::string head = data.substr(0, headerEnd);
    size_t lineEnd = head.find("\r\n");
    std::string requestLine = head.substr(0, lineEnd);
    r.method = requestLine.substr(0, requestLine.find(' '));
    r.target = requestLine.substr(r.method.size() + 1,
                                  requestLine.rfind(' ') - r.method.size() - 1);
    size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = e + 2;
    }
    size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    r.body = data.substr(headerEnd + 4);
    while (r.body.size() < length) {
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      r.body.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
    }
    std::string out = handler_(r);
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Recorded> requests_;
  std::thread thread_;
};

TestServer::Handler ok(std::string body = "hello") {
  return [body](const Recorded&) { return response(200, {{"Content-Type", "text/plain"}}, body); };
}

int64_t farDeadline() { return runtime::nowSteadyMs() + 20000; }

cs::Result<json> fetch(HttpFetchProvider& p, const std::string& url, json opts = nullptr,
                       int64_t deadline = 0) {
  return p.call("fetch", json::array({url, opts}), deadline == 0 ? farDeadline() : deadline);
}

FetchPolicy loopbackPolicy(std::vector<std::string> hosts = {"127.0.0.1"}) {
  FetchPolicy p;
  p.allowHosts = std::move(hosts);
  p.allowLoopbackForTest = true;
  return p;
}

std::string errorText(const cs::Result<json>& r) {
  return r.ok() ? "ok: " + r->dump() : std::string(r.error().name()) + " " + r.error().message;
}

void expectDenied(const cs::Result<json>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << r->dump();
  EXPECT_EQ(r.error().code, ErrorCode::RuntimeCapabilityDenied) << errorText(r);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << errorText(r);
}

std::string decoded(const json& j) {
  auto bytes = crypto::base64Decode(j.at("body").get<std::string>());
  return bytes ? *bytes : "<bad base64>";
}

TEST(FetchTest, HappyPathReturnsStatusLowerCasedHeadersAndBase64Body) {
  std::string binary("bin\0\xff\x01 body", 11);
  TestServer server([&](const Recorded&) {
    return response(201, {{"X-Multi", "a"}, {"X-MULTI", "b"}, {"Content-Type", "app/x"}}, binary);
  });
  HttpFetchProvider provider(loopbackPolicy());
  auto r = fetch(provider, server.url("/path?q=1"));
  ASSERT_TRUE(r.ok()) << errorText(r);
  EXPECT_EQ(r->at("status"), 201);
  EXPECT_EQ(r->at("isBase64Encoded"), true);
  EXPECT_EQ(r->at("body"), crypto::base64Encode(binary));
  EXPECT_EQ(decoded(*r), binary);
  EXPECT_EQ(r->at("headers").at("x-multi"), "a, b");
  EXPECT_EQ(r->at("headers").at("content-type"), "app/x");
  EXPECT_FALSE(r->at("headers").contains("Content-Type"));
  EXPECT_EQ(r->at("redirected"), false);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/path?q=1");
  EXPECT_EQ(server.requests()[0].headers["user-agent"], "code-sous-fetch/1");
}

TEST(FetchTest, MethodHeadersAndBodyAreForwarded) {
  TestServer server(ok());
  HttpFetchProvider provider(loopbackPolicy());
  auto r = fetch(provider, server.url("/post"),
                 {{"method", "post"},
                  {"headers", {{"X-Test", "yes"}, {"Content-Type", "application/json"}}},
                  {"body", "{\"name\":\"caf\xc3\xa9\"}"}});
  ASSERT_TRUE(r.ok()) << errorText(r);
  auto r2 = fetch(provider, server.url("/put"),
                  {{"method", "PUT"}, {"body", {{"base64", crypto::base64Encode("\x01\x02z")}}}});
  ASSERT_TRUE(r2.ok()) << errorText(r2);
  auto r3 = fetch(provider, server.url("/del"), {{"method", "DELETE"}});
  ASSERT_TRUE(r3.ok()) << errorText(r3);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].headers["x-test"], "yes");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].body, "{\"name\":\"caf\xc3\xa9\"}");
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].body, "\x01\x02z");
  EXPECT_EQ(reqs[2].method, "DELETE");
  EXPECT_TRUE(reqs[2].body.empty());
}

TEST(FetchTest, BadOptionsAreValidationErrors) {
  TestServer server(ok());
  HttpFetchProvider provider(loopbackPolicy());
  for (const json& opts : {json{{"method", "CONNECT"}}, json{{"method", 5}},
                           json{{"headers", {{"Host", "evil"}}}},
                           json{{"headers", {{"Transfer-Encoding", "chunked"}}}},
                           json{{"headers", {{"X-A", "v\r\nX-Injected: 1"}}}},
                           json{{"headers", {{"Bad Name", "v"}}}},
                           json{{"body", {{"base64", "!!"}}}}, json{{"body", 5}},
                           json{{"method", "GET"}, {"body", "x"}}, json{{"timeoutMs", -1}},
                           json{{"nope", 1}}, json("string")}) {
    auto r = fetch(provider, server.url(), opts);
    ASSERT_FALSE(r.ok()) << opts.dump();
    EXPECT_EQ(r.error().code, ErrorCode::ValidationFailed) << opts.dump() << errorText(r);
  }
  for (const json& args : {json::array(), json::array({5}), json(nullptr)}) {
    auto r = provider.call("fetch", args, farDeadline());
    EXPECT_FALSE(r.ok()) << args.dump();
  }
  EXPECT_FALSE(fetch(provider, "not a url").ok());
  EXPECT_FALSE(fetch(provider, "http://").ok());
  EXPECT_TRUE(server.requests().empty());
}

TEST(FetchTest, HostOutsideTheAllowlistIsDenied) {
  TestServer server(ok());
  HttpFetchProvider other(loopbackPolicy({"api.example.com", "*.example.org"}));
  expectDenied(fetch(other, server.url()), "not in capabilities.http.allowHosts");
  HttpFetchProvider none(loopbackPolicy({}));
  expectDenied(fetch(none, server.url()), "allowHosts is empty");
  EXPECT_TRUE(server.requests().empty());
  // Positive control: the same URL passes once the host is listed.
  HttpFetchProvider listed(loopbackPolicy({"127.0.0.1"}));
  EXPECT_TRUE(fetch(listed, server.url()).ok());
}

TEST(FetchTest, WildcardAllowsSubdomainsOnly) {
  TestServer server(ok());
  FetchPolicy policy = loopbackPolicy({"*.allowed.test"});
  std::string port = std::to_string(server.port());
  policy.resolveForTest = {"a.b.allowed.test:" + port + ":127.0.0.1",
                           "allowed.test:" + port + ":127.0.0.1"};
  HttpFetchProvider provider(policy);
  auto r = fetch(provider, "http://A.B.Allowed.Test:" + port + "/");
  ASSERT_TRUE(r.ok()) << errorText(r);
  expectDenied(fetch(provider, "http://allowed.test:" + port + "/"), "not in");
}

TEST(FetchTest, SchemesOtherThanHttpAndCredentialsAreDenied) {
  TestServer server(ok());
  HttpFetchProvider provider(loopbackPolicy({"127.0.0.1", "localhost"}));
  std::string port = std::to_string(server.port());
  expectDenied(fetch(provider, "file:///etc/passwd"), "scheme");
  expectDenied(fetch(provider, "ftp://127.0.0.1:" + port + "/"), "scheme");
  expectDenied(fetch(provider, "gopher://127.0.0.1:" + port + "/"), "scheme");
  expectDenied(fetch(provider, "http://user:pass@127.0.0.1:" + port + "/"), "credentials");
  expectDenied(fetch(provider, "http://user@127.0.0.1:" + port + "/"), "credentials");
  EXPECT_TRUE(server.requests().empty());
}

// Every host is in the allowlist and loopback is NOT allowed: the address check denies.
TEST(FetchTest, PrivateAndLoopbackAddressesAreDeniedInEverySpelling) {
  TestServer server(ok());
  std::string port = std::to_string(server.port());
  std::vector<std::string> hosts = {"169.254.169.254", "127.0.0.1", "localhost", "[::1]",
                                    "0x7f000001", "2130706433", "[::ffff:127.0.0.1]",
                                    "0177.0.0.1", "127.1", "10.0.0.1", "[fe80::1]", "0.0.0.0"};
  FetchPolicy policy;
  policy.allowHosts = hosts;
  HttpFetchProvider provider(policy);
  for (const auto& host : hosts) {
    auto r = fetch(provider, "http://" + host + ":" + port + "/");
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_EQ(r.error().code, ErrorCode::RuntimeCapabilityDenied) << host << errorText(r);
    EXPECT_NE(r.error().message.find("private/reserved"), std::string::npos)
        << host << " " << errorText(r);
  }
  expectDenied(fetch(provider, "http://999.0.0.1/"), "not in");
  FetchPolicy numeric;
  numeric.allowHosts = {"999.0.0.1"};
  HttpFetchProvider malformed(numeric);
  expectDenied(fetch(malformed, "http://999.0.0.1/"), "malformed numeric");
  EXPECT_TRUE(server.requests().empty());
}

// localhost has no literal address: only the connect-time check (OPENSOCKETFUNCTION) sees it.
TEST(FetchTest, AllowedNameResolvingToPrivateAddressIsDeniedAtConnect) {
  TestServer server(ok());
  std::string port = std::to_string(server.port());
  FetchPolicy policy;
  policy.allowHosts = {"localhost", "api.allowed.test", "meta.allowed.test", "v6.allowed.test"};
  policy.resolveForTest = {"api.allowed.test:" + port + ":127.0.0.1",
                           "meta.allowed.test:80:169.254.169.254",
                           "v6.allowed.test:" + port + ":[::ffff:127.0.0.1]"};
  HttpFetchProvider provider(policy);
  expectDenied(fetch(provider, "http://localhost:" + port + "/"), "connection to");
  expectDenied(fetch(provider, "http://api.allowed.test:" + port + "/"),
               "connection to 127.0.0.1 denied");
  expectDenied(fetch(provider, "http://meta.allowed.test/latest/meta-data/"),
               "connection to 169.254.169.254 denied");
  expectDenied(fetch(provider, "http://v6.allowed.test:" + port + "/"), "127.0.0.0/8");
  EXPECT_TRUE(server.requests().empty());

  // Controls: the injected name does reach the server once loopback is allowed, and the
  // metadata address stays blocked even then.
  policy.allowLoopbackForTest = true;
  HttpFetchProvider loopback(policy);
  auto r = fetch(loopback, "http://api.allowed.test:" + port + "/");
  ASSERT_TRUE(r.ok()) << errorText(r);
  EXPECT_EQ(decoded(*r), "hello");
  expectDenied(fetch(loopback, "http://meta.allowed.test/"), "169.254.0.0/16");
}

TEST(FetchTest, RedirectsAreFollowedAndEveryHopIsRechecked) {
  TestServer target(ok("from-target"));
  std::string location = target.url("/final");
  TestServer redirector([&](const Recorded&) {
    return response(302, {{"Location", location}}, "");
  });
  FetchPolicy policy = loopbackPolicy();
  policy.allowLoopbackPortsForTest = {redirector.port()};
  HttpFetchProvider provider(policy);
  // Hop 2 is 127.0.0.1 on a port that is not exempt: denied, the target never sees a request.
  expectDenied(fetch(provider, redirector.url()), "redirect to");
  EXPECT_TRUE(target.requests().empty());
  EXPECT_EQ(redirector.requests().size(), 1u);

  // Control: with both ports exempt the redirect is followed.
  policy.allowLoopbackPortsForTest = {redirector.port(), target.port()};
  HttpFetchProvider both(policy);
  auto r = fetch(both, redirector.url());
  ASSERT_TRUE(r.ok()) << errorText(r);
  EXPECT_EQ(decoded(*r), "from-target");
  EXPECT_EQ(r->at("redirected"), true);
  EXPECT_EQ(r->at("url"), target.url("/final"));

  // Metadata address, non-allowlisted host, other schemes and names resolving to loopback.
  policy.allowHosts = {"127.0.0.1", "169.254.169.254", "rebind.allowed.test"};
  policy.resolveForTest = {"rebind.allowed.test:" + std::to_string(target.port()) + ":127.0.0.1"};
  policy.allowLoopbackPortsForTest = {redirector.port()};
  HttpFetchProvider checked(policy);
  for (const auto& [to, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"},
           {"http://evil.example/", "not in capabilities.http.allowHosts"},
           {"file:///etc/passwd", "scheme"},
           {"ftp://127.0.0.1/", "scheme"},
           {"http://rebind.allowed.test:" + std::to_string(target.port()) + "/",
            "connection to 127.0.0.1 denied"}}) {
    location = to;
    expectDenied(fetch(checked, redirector.url()), fragment);
  }
  EXPECT_EQ(target.requests().size(), 1u);  // only the control above
}

TEST(FetchTest, RelativeRedirectManualModeAndRedirectLimit) {
  TestServer server([](const Recorded& r) {
    if (r.target == "/start") return response(303, {{"Location", "/landing"}}, "");
    if (r.target == "/loop") return response(307, {{"Location", "/loop"}}, "");
    return response(200, {}, r.method + " " + r.body);
  });
  HttpFetchProvider provider(loopbackPolicy());
  auto r = fetch(provider, server.url("/start"), {{"method", "POST"}, {"body", "data"}});
  ASSERT_TRUE(r.ok()) << errorText(r);
  EXPECT_EQ(decoded(*r), "GET ");  // 303 turns POST into GET without a body
  auto manual = fetch(provider, server.url("/start"), {{"redirect", "manual"}});
  ASSERT_TRUE(manual.ok()) << errorText(manual);
  EXPECT_EQ(manual->at("status"), 303);
  EXPECT_EQ(manual->at("headers").at("location"), "/landing");
  size_t before = server.requests().size();
  auto loop = fetch(provider, server.url("/loop"));
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().code, ErrorCode::RuntimeException);
  EXPECT_NE(loop.error().message.find("too many redirects"), std::string::npos);
  EXPECT_EQ(server.requests().size() - before, 6u);  // first request + maxRedirects (5)
}

TEST(FetchTest, OversizedResponseIsAnError) {
  std::string big(4096, 'x');
  TestServer withLength(ok(big));
  TestServer withoutLength(
      [&](const Recorded&) { return response(200, {}, big, /*contentLength=*/false); });
  FetchPolicy policy = loopbackPolicy();
  policy.maxResponseBodyBytes = 1024;
  HttpFetchProvider provider(policy);
  for (TestServer* s : {&withLength, &withoutLength}) {
    auto r = fetch(provider, s->url());
    ASSERT_FALSE(r.ok()) << r->dump().substr(0, 100);
    EXPECT_EQ(r.error().code, ErrorCode::PayloadTooLarge) << errorText(r);
  }
  policy.maxResponseBodyBytes = 4096;  // control: exactly at the cap passes
  HttpFetchProvider exact(policy);
  auto r = fetch(exact, withoutLength.url());
  ASSERT_TRUE(r.ok()) << errorText(r);
  EXPECT_EQ(decoded(*r), big);
}

TEST(FetchTest, OversizedRequestBodyIsRejectedBeforeSending) {
  TestServer server(ok());
  FetchPolicy policy = loopbackPolicy();
  policy.maxRequestBodyBytes = 10;
  HttpFetchProvider provider(policy);
  auto r = fetch(provider, server.url(), {{"method", "POST"}, {"body", std::string(11, 'a')}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::PayloadTooLarge);
  EXPECT_TRUE(fetch(provider, server.url(), {{"method", "POST"}, {"body", "0123456789"}}).ok());
  EXPECT_EQ(server.requests().size(), 1u);
}

// The server holds the response until released, so only the fetch's own timeout can end it.
TEST(FetchTest, TimeoutIsCappedByTheActivationDeadline) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestServer server([released](const Recorded&) {
    released.wait_for(std::chrono::seconds(20));
    return response(200, {}, "late");
  });
  FetchPolicy policy = loopbackPolicy();
  policy.timeoutMs = 30000;
  HttpFetchProvider provider(policy);
  auto r = fetch(provider, server.url(), {{"timeoutMs", 30000}}, runtime::nowSteadyMs() + 300);
  ASSERT_FALSE(r.ok()) << r->dump();
  EXPECT_EQ(r.error().code, ErrorCode::RuntimeTimeout) << errorText(r);
  EXPECT_NE(r.error().message.find("capped by the activation deadline"), std::string::npos)
      << errorText(r);
  auto past = fetch(provider, server.url(), nullptr, runtime::nowSteadyMs() - 1);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, ErrorCode::RuntimeTimeout);
  release.set_value();
}

TEST(FetchTest, CapabilityTimeoutAppliesAndCapsTheOption) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestServer server([released](const Recorded&) {
    released.wait_for(std::chrono::seconds(20));
    return response(200, {}, "late");
  });
  FetchPolicy policy = loopbackPolicy();
  policy.timeoutMs = 200;
  HttpFetchProvider provider(policy);
  auto r = fetch(provider, server.url(), {{"timeoutMs", 30000}});
  ASSERT_FALSE(r.ok()) << r->dump();
  EXPECT_EQ(r.error().code, ErrorCode::RuntimeTimeout) << errorText(r);
  EXPECT_EQ(r.error().message.find("activation deadline"), std::string::npos) << errorText(r);
  release.set_value();
}

TEST(FetchTest, FactoryDeniesByDefault) {
  EXPECT_EQ(makeHttpFetchProvider(nullptr, {}), nullptr);
  api::HttpCapability cap;
  cap.allowHosts = {"api.example.com"};
  cap.timeoutMs = 999999;
  auto provider = makeHttpFetchProvider(&cap, {});
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->name(), "http");
  EXPECT_EQ(provider->methods(), std::vector<std::string>{"fetch"});
  auto* fetchProvider = static_cast<HttpFetchProvider*>(provider.get());
  EXPECT_EQ(fetchProvider->policy().timeoutMs, 30000);
  EXPECT_FALSE(fetchProvider->policy().allowLoopbackForTest);
  EXPECT_FALSE(provider->call("get", json::array({"x"}), farDeadline()).ok());
}

class FetchV8Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = runtime::makeV8Engine({.warmIsolates = 0}).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  runtime::ActivationResult run(const std::string& source, HttpFetchProvider& provider,
                                const std::string& event) {
    files_ = runtime::SourceFiles{{"function.js", source}};
    runtime::Invocation inv;
    inv.files = &files_;
    inv.eventJson = event;
    inv.limits.timeoutMs = 10000;
    inv.providers = {&provider};
    return engine_->run(inv);
  }
  static runtime::Engine* engine_;
  runtime::SourceFiles files_;
};
runtime::Engine* FetchV8Test::engine_ = nullptr;

TEST_F(FetchV8Test, JsCatchesDenialAndReadsResponses) {
  TestServer server(ok("from-server"));
  FetchPolicy policy;
  policy.allowHosts = {"127.0.0.1"};  // listed, but loopback is not allowed
  HttpFetchProvider denying(policy);
  const std::string source = R"(export default async (event) => {
      try {
        const r = await cs.http.fetch(event.url, { method: "GET", headers: { "x-a": "1" } });
        return { body: JSON.stringify({ status: r.status, body: r.body, b64: r.isBase64Encoded }) };
      } catch (e) {
        return { body: JSON.stringify({ code: e.code, message: e.message }) };
      }
    })";
  json event = {{"url", server.url()}};
  auto r = run(source, denying, event.dump());
  ASSERT_EQ(r.outcome, runtime::Outcome::Success) << (r.error ? r.error->message : "");
  ASSERT_TRUE(r.response);
  auto out = json::parse(r.response->body);
  EXPECT_EQ(out["code"], "CS_RUNTIME_CAPABILITY_DENIED") << out.dump();
  EXPECT_NE(out["message"].get<std::string>().find("private/reserved"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());

  HttpFetchProvider allowing(loopbackPolicy());
  auto ok = run(source, allowing, event.dump());
  ASSERT_EQ(ok.outcome, runtime::Outcome::Success) << (ok.error ? ok.error->message : "");
  auto got = json::parse(ok.response->body);
  EXPECT_EQ(got["status"], 200) << got.dump();
  EXPECT_EQ(got["body"], crypto::base64Encode("from-server"));
  EXPECT_EQ(got["b64"], true);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers["x-a"], "1");
}

TEST_F(FetchV8Test, UncaughtDenialIsCapabilityDeniedOutcome) {
  FetchPolicy policy;
  policy.allowHosts = {"api.example.com"};
  HttpFetchProvider provider(policy);
  auto r = run("export default async () => { await cs.http.fetch('http://169.254.169.254/'); }",
               provider, "null");
  EXPECT_EQ(r.outcome, runtime::Outcome::CapabilityDenied);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, ErrorCode::RuntimeCapabilityDenied);
}

}  // namespace
}  // namespace cs::fetch
