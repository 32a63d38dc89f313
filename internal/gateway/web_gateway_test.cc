// WebGateway through http::Router with a real SqliteStore, real RS256 tokens (tikti driver
// over a JWKS file) and a FakeRequestReply the test answers.
#include "internal/gateway/web_gateway.h"

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "internal/api/validate.h"
#include "internal/authn/testing/test_keys.h"
#include "internal/codeq/embedded_queue.h"
#include "internal/crypto/crypto.h"
#include "internal/gateway/testing/fake_request_reply.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"
#include "internal/kv/sqlite_store.h"

namespace cs::gateway {
namespace {

using nlohmann::json;
using testing::FakeRequestReply;
using ::testing::HasSubstr;

constexpr const char* kTenant = "t_acme001";
constexpr const char* kOtherTenant = "t_other01";
constexpr const char* kNs = "shop";
constexpr const char* kFn = "checkout";
constexpr const char* kBase = "/v1/web/t_acme001/shop/checkout";

// A captured response (the Responder may be answered after handle() returns).
struct Captured {
  std::optional<http::Response> response;
  int sends = 0;
};

std::optional<std::string> headerOf(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (std::equal(n.begin(), n.end(), name.begin(), name.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return v;
    }
  }
  return std::nullopt;
}

std::string errorCode(const http::Response& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "<no error body: " + r.body + ">";
  return j["error"].value("code", "<no code>");
}

class RecordingObserver : public GatewayObserver {
 public:
  void onWebRequest(const WebInvocationReport& report) override { reports.push_back(report); }
  std::vector<WebInvocationReport> reports;
};

class WebGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new authn::testing::TempKeyPair();
    forger_ = new authn::testing::TempKeyPair();
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete forger_;
    keys_ = forger_ = nullptr;
  }

  void SetUp() override {
    dir_ = authn::testing::makeTempDir("cs-gateway-test");
    jwksFile_ = dir_ + "/jwks.json";
    authn::testing::writeFileForTest(jwksFile_, keys_->jwks());
    authn::TiktiOptions o;
    o.jwksFile = jwksFile_;
    auto auth = authn::makeTiktiAuthenticator(std::move(o));
    ASSERT_TRUE(auth.ok()) << auth.error().message;
    auth_ = std::move(*auth);

    kv::SqliteOptions so;
    so.path = ":memory:";
    so.clock = &clock_;
    auto store = kv::SqliteStore::open(so);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    seed();
    makeGateway(GatewayOptions{});
  }

  void TearDown() override {
    rr_.stop();
    std::filesystem::remove_all(dir_);
  }

  void makeGateway(GatewayOptions options) {
    rr_.stop();  // the old gateway must see its pending calls complete before it goes away
    router_ = http::Router();
    observer_ = std::make_shared<RecordingObserver>();
    gateway_ = std::make_unique<WebGateway>(options, *store_, *auth_, rr_, clock_, observer_);
    gateway_->registerRoutes(router_);
  }

  void put(const Result<std::string>& key, const std::string& value) {
    ASSERT_TRUE(key.ok()) << key.error().message;
    ASSERT_TRUE(store_->set(*key, value, kv::kNoTtl).ok());
  }

  void putFunction(const std::string& fn, std::optional<int64_t> deletedAtMs = std::nullopt) {
    kv::FunctionRecord f{kTenant, kNs, fn, "cs-js", "function.js", "default", 1000, deletedAtMs};
    put(kv::keys::functionMeta(kTenant, kNs, fn), kv::encode(f));
  }

  void putVersion(const std::string& fn, int64_t v, json roles, int64_t timeoutMs = 2000) {
    kv::VersionRecord r;
    r.version = v;
    r.sha256 = std::string(64, 'a');
    r.config = {{"timeout_ms", timeoutMs},
                {"memory_mb", 128},
                {"authz",
                 {{"invoke_http_roles", std::move(roles)},
                  {"invoke_schedule_roles", json::array()},
                  {"invoke_cadence_roles", json::array()}}}};
    r.publishedAtMs = 2000;
    put(kv::keys::versionMeta(kTenant, kNs, fn, v), kv::encode(r));
  }

  void putAlias(const std::string& fn, const std::string& alias, int64_t v) {
    put(kv::keys::alias(kTenant, kNs, fn, alias), kv::encode(kv::AliasRecord{alias, v, 3000}));
  }

  // checkout: v1 (roles web), v2 (no roles = deny), alias live → 1, locked → 2, ghost → 9.
  // refunds: v1 (roles web). gone: deleted, v1 (roles web).
  void seed() {
    putFunction(kFn);
    putVersion(kFn, 1, {"web"});
    putVersion(kFn, 2, json::array());
    putAlias(kFn, "live", 1);
    putAlias(kFn, "locked", 2);
    putAlias(kFn, "ghost", 9);
    putFunction("refunds");
    putVersion("refunds", 1, {"web"}, 5000);
    putAlias("refunds", "live", 1);
    putFunction("gone", /*deletedAtMs=*/5000);
    putVersion("gone", 1, {"web"});
  }

  std::string token(std::vector<std::string> roles = {"web"}, std::string tenant = kTenant) {
    authn::MintOptions m;
    m.tenant = std::move(tenant);
    m.sub = "user-1";
    m.roles = std::move(roles);
    return keys_->mint(m);
  }

  std::string bearer(std::vector<std::string> roles = {"web"}, std::string tenant = kTenant) {
    return "Bearer " + token(std::move(roles), std::move(tenant));
  }

  // Sends a request through the router; `target` is path[?query]. Headers as given (the server
  // lower-cases names; tests may pass other case to check the gateway's own lower-casing).
  std::shared_ptr<Captured> send(const std::string& method, const std::string& target,
                                 std::vector<std::pair<std::string, std::string>> headers = {},
                                 std::string body = "", std::string remoteAddr = "10.0.0.1") {
    http::Request req;
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    req.rawPath = req.path;
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    req.headers = std::move(headers);
    req.body = std::move(body);
    req.remoteAddr = std::move(remoteAddr);
    req.requestId = "req_test0001";
    auto captured = std::make_shared<Captured>();
    int status = 0;
    const http::Handler* h = router_.match(req, status);
    if (h == nullptr) {
      ADD_FAILURE() << method << " " << target << " matched no route (" << status << ")";
      return captured;
    }
    http::Responder responder([captured](http::Response r) {
      captured->response = std::move(r);
      captured->sends++;
    });
    (*h)(req, responder);
    return captured;
  }

  // A request with a valid token that reaches the queue; returns the call index.
  size_t invoke(const std::string& target,
                std::vector<std::pair<std::string, std::string>> extra = {},
                const std::string& method = "GET", std::string body = "") {
    extra.emplace_back("authorization", bearer());
    size_t before = rr_.callCount();
    auto c = send(method, target, std::move(extra), std::move(body));
    EXPECT_FALSE(c->response.has_value())
        << "answered before the function ran: " << c->response->status << " " << c->response->body;
    EXPECT_EQ(rr_.callCount(), before + 1);
    last_ = c;
    return before;
  }

  static authn::testing::TempKeyPair* keys_;
  static authn::testing::TempKeyPair* forger_;
  std::string dir_, jwksFile_;
  kv::ManualClock clock_;
  std::unique_ptr<authn::Authenticator> auth_;
  std::unique_ptr<kv::SqliteStore> store_;
  FakeRequestReply rr_;
  http::Router router_;
  std::shared_ptr<RecordingObserver> observer_;
  std::unique_ptr<WebGateway> gateway_;
  std::shared_ptr<Captured> last_;
};

authn::testing::TempKeyPair* WebGatewayTest::keys_ = nullptr;
authn::testing::TempKeyPair* WebGatewayTest::forger_ = nullptr;

// --- routing and validation -----------------------------------------------------------------

TEST_F(WebGatewayTest, InvalidRefIs400ValidationFailed) {
  for (const char* ref : {"0", "01", "-1", "Live", "a", "live.v2", "9007199254740993"}) {
    auto c = send("GET", std::string(kBase) + "/" + ref + "/x", {{"authorization", bearer()}});
    ASSERT_TRUE(c->response) << ref;
    EXPECT_EQ(c->response->status, 400) << ref;
    EXPECT_EQ(errorCode(*c->response), "CS_VALIDATION_FAILED") << ref;
    EXPECT_FALSE(headerOf(*c->response, "X-Activation-Id")) << "no activation yet";
  }
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, InvalidNamesAre400NameInvalid) {
  for (std::string path : {"/v1/web/acme/shop/checkout/live", "/v1/web/t_acme001/S/checkout/live",
                           "/v1/web/t_acme001/shop/c/live"}) {
    auto c = send("GET", path, {{"authorization", bearer()}});
    ASSERT_TRUE(c->response) << path;
    EXPECT_EQ(c->response->status, 400) << path;
    EXPECT_EQ(errorCode(*c->response), "CS_VALIDATION_NAME_INVALID") << path;
  }
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, EveryMethodIsRouted) {
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    size_t i = invoke(std::string(kBase) + "/live/a", {}, m);
    EXPECT_EQ(rr_.captured(i).request["event"]["requestContext"]["http"]["method"], m);
  }
}

// --- authentication and authorization ---------------------------------------------------------

TEST_F(WebGatewayTest, NoTokenIs401) {
  auto c = send("GET", std::string(kBase) + "/live");
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 401);
  EXPECT_EQ(errorCode(*c->response), "CS_AUTHN_MISSING_TOKEN");
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, ForgedSignatureIs401) {
  authn::MintOptions m;
  m.tenant = kTenant;
  m.sub = "mallory";
  m.roles = {"web"};
  m.kid = keys_->info().kid;  // claims the trusted key, signed by another
  auto c =
      send("GET", std::string(kBase) + "/live", {{"authorization", "Bearer " + forger_->mint(m)}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 401);
  EXPECT_EQ(errorCode(*c->response), "CS_AUTHN_INVALID_TOKEN");
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, TokenOfAnotherTenantIs403Mismatch) {
  auto c =
      send("GET", std::string(kBase) + "/live", {{"authorization", bearer({"web"}, kOtherTenant)}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 403);
  EXPECT_EQ(errorCode(*c->response), "CS_AUTHZ_RESOURCE_MISMATCH");
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, MissingRoleIs403) {
  auto c = send("GET", std::string(kBase) + "/live", {{"authorization", bearer({"viewer"})}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 403);
  EXPECT_EQ(errorCode(*c->response), "CS_AUTHZ_ROLE_MISSING");
  // An empty invoke_http_roles denies everyone, by alias and by version.
  for (const char* ref : {"locked", "2"}) {
    auto d =
        send("GET", std::string(kBase) + "/" + ref, {{"authorization", bearer({"web", "admin"})}});
    ASSERT_TRUE(d->response) << ref;
    EXPECT_EQ(d->response->status, 403) << ref;
    EXPECT_EQ(errorCode(*d->response), "CS_AUTHZ_ROLE_MISSING") << ref;
  }
  EXPECT_EQ(rr_.callCount(), 0u);
}

TEST_F(WebGatewayTest, UnknownOrDeletedTargetsAre404) {
  for (std::string path :
       {std::string(kBase) + "/nope", std::string(kBase) + "/7", std::string(kBase) + "/ghost",
        std::string("/v1/web/t_acme001/shop/absent/live"),
        std::string("/v1/web/t_acme001/shop/gone/1")}) {
    auto c = send("GET", path, {{"authorization", bearer()}});
    ASSERT_TRUE(c->response) << path;
    EXPECT_EQ(c->response->status, 404) << path;
    EXPECT_EQ(errorCode(*c->response), "CS_NOT_FOUND") << path;
  }
  EXPECT_EQ(rr_.callCount(), 0u);
}

// --- the event and the InvocationRequest ---------------------------------------------------------

TEST_F(WebGatewayTest, EventHasApiGatewayV2Shape) {
  const std::string body = std::string("{\"a\":1}\x00\xff", 9);
  size_t i = invoke(std::string(kBase) + "/live/orders/42?x=1&y=a%20b",
                    {{"content-type", "application/json"},
                     {"x-multi", "a"},
                     {"X-Mixed-Case", "v"},
                     {"x-multi", "b"}},
                    "POST", body);
  json ev = rr_.captured(i).request["event"];
  EXPECT_EQ(ev["version"], "2.0");
  EXPECT_EQ(ev["routeKey"], "$default");
  EXPECT_EQ(ev["rawPath"], "/orders/42");
  EXPECT_EQ(ev["rawQueryString"], "x=1&y=a%20b");
  EXPECT_EQ(ev["requestContext"]["http"]["method"], "POST");
  EXPECT_EQ(ev["requestContext"]["http"]["path"], "/orders/42");
  EXPECT_EQ(ev["isBase64Encoded"], true);
  EXPECT_EQ(crypto::base64Decode(ev["body"].get<std::string>()).value_or("<bad>"), body);
  EXPECT_EQ(ev["headers"]["content-type"], "application/json");
  EXPECT_EQ(ev["headers"]["x-multi"], "a,b");
  EXPECT_EQ(ev["headers"]["x-mixed-case"], "v");
  EXPECT_FALSE(ev["headers"].contains("X-Mixed-Case"));
  EXPECT_FALSE(ev["headers"].contains("authorization")) << ev["headers"].dump();
  EXPECT_EQ(ev.dump().find("Bearer"), std::string::npos) << "no credential anywhere in the event";
}

TEST_F(WebGatewayTest, InvocationRequestCarriesRefPrincipalDeadlineAndTrigger) {
  size_t i = invoke(std::string(kBase) + "/live/orders");
  auto c = rr_.captured(i);
  const json& r = c.request;
  EXPECT_EQ(c.tenant, kTenant);
  EXPECT_EQ(c.timeoutMs, 2000 + 250) << "version timeout_ms + wait slack";
  EXPECT_EQ(r["tenant"], kTenant);
  EXPECT_EQ(r["namespace"], kNs);
  EXPECT_EQ(r["ref"], json({{"function", kFn}, {"alias", "live"}, {"version", 1}}));
  EXPECT_EQ(r["request_id"], "req_test0001");
  EXPECT_EQ(r["deadline_ms"], clock_.nowMs() + 2000);
  EXPECT_EQ(r["principal"], json({{"sub", "user-1"}, {"roles", {"web"}}}));
  EXPECT_EQ(r["trigger"]["type"], "http");
  EXPECT_EQ(r["trigger"]["source"]["method"], "GET");
  EXPECT_EQ(r["trigger"]["source"]["path"], std::string(kBase) + "/live/orders");
  EXPECT_FALSE(r["trigger"]["source"].contains("traceparent"));
  const std::string id = r["activation_id"];
  EXPECT_TRUE(crypto::isUuid(id)) << id;
  EXPECT_EQ(id[14], '4') << "UUIDv4 without Idempotency-Key";
  auto valid = api::validateInvocationRequest(r);
  EXPECT_TRUE(valid.ok()) << valid.error().message;
  // Only the SPEC §7 top-level fields.
  std::vector<std::string> fields;
  for (const auto& [k, v] : r.items()) fields.push_back(k);
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("activation_id", "request_id", "tenant",
                                                      "namespace", "ref", "trigger", "principal",
                                                      "deadline_ms", "event"));
}

TEST_F(WebGatewayTest, VersionRefWithoutProxyPath) {
  size_t i = invoke(std::string(kBase) + "/1");
  json r = rr_.captured(i).request;
  EXPECT_EQ(r["ref"], json({{"function", kFn}, {"version", 1}}));
  EXPECT_EQ(r["event"]["rawPath"], "/");
  EXPECT_EQ(r["event"]["rawQueryString"], "");
  EXPECT_EQ(r["event"]["body"], "");
  i = invoke(std::string(kBase) + "/1/");
  EXPECT_EQ(rr_.captured(i).request["event"]["rawPath"], "/");
}

TEST_F(WebGatewayTest, TraceparentIsForwardedWhenValid) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  size_t i = invoke(std::string(kBase) + "/live", {{"traceparent", tp}});
  EXPECT_EQ(rr_.captured(i).request["trigger"]["source"]["traceparent"], tp);
  i = invoke(std::string(kBase) + "/live", {{"traceparent", "00-not-a-trace"}});
  EXPECT_FALSE(rr_.captured(i).request["trigger"]["source"].contains("traceparent"));
}

TEST_F(WebGatewayTest, IdempotencyKeyGivesStableActivationIds) {
  auto idFor = [&](const std::string& target, std::optional<std::string> key) {
    std::vector<std::pair<std::string, std::string>> h;
    if (key) h.emplace_back("idempotency-key", *key);
    size_t i = invoke(target, std::move(h));
    return rr_.captured(i).request["activation_id"].get<std::string>();
  };
  const std::string live = std::string(kBase) + "/live";
  std::string a1 = idFor(live, "order-17");
  std::string a2 = idFor(live, "order-17");
  std::string b = idFor(live, "order-18");
  std::string otherFn = idFor("/v1/web/t_acme001/shop/refunds/live", "order-17");
  std::string otherRef = idFor(std::string(kBase) + "/1", "order-17");
  EXPECT_EQ(a1, a2);
  EXPECT_EQ(a1, idempotentActivationId(kTenant, kNs, kFn, "live", "order-17"));
  EXPECT_EQ(a1[14], '5') << "UUIDv5";
  EXPECT_NE(a1, b);
  EXPECT_NE(a1, otherFn);
  EXPECT_NE(a1, otherRef);
  EXPECT_NE(idempotentActivationId(kTenant, kNs, kFn, "live", "k"),
            idempotentActivationId(kOtherTenant, kNs, kFn, "live", "k"));
  EXPECT_NE(idFor(live, std::nullopt), idFor(live, std::nullopt));
}

TEST_F(WebGatewayTest, BadIdempotencyKeyIs400) {
  auto c = send("GET", std::string(kBase) + "/live",
                {{"authorization", bearer()}, {"idempotency-key", std::string(300, 'k')}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 400);
  EXPECT_EQ(errorCode(*c->response), "CS_VALIDATION_FAILED");
  EXPECT_EQ(rr_.callCount(), 0u);
}

// --- result mapping
// -------------------------------------------------------------------------------

TEST_F(WebGatewayTest, FunctionStatusHeadersAndBodyAreReturned) {
  size_t i = invoke(std::string(kBase) + "/live");
  const std::string activationId = rr_.captured(i).request["activation_id"];
  ASSERT_TRUE(rr_.replySuccess(i, {{"statusCode", 418},
                                   {"headers",
                                    {{"Content-Type", "text/plain"},
                                     {"X-Custom", "yes"},
                                     {"Content-Length", "999"},
                                     {"Transfer-Encoding", "chunked"},
                                     {"Connection", "close"},
                                     {"X-Activation-Id", "spoofed"},
                                     {"X-Evil", "a\r\nSet-Cookie: x=1"},
                                     {"Bad Name", "v"},
                                     {"X-Number", 5}}},
                                   {"body", "short and stout"},
                                   {"isBase64Encoded", false}}));
  ASSERT_TRUE(last_->response);
  const auto& r = *last_->response;
  EXPECT_EQ(last_->sends, 1);
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(r.body, "short and stout");
  EXPECT_EQ(headerOf(r, "Content-Type").value_or(""), "text/plain");
  EXPECT_EQ(headerOf(r, "X-Custom").value_or(""), "yes");
  EXPECT_EQ(headerOf(r, "X-Activation-Id").value_or(""), activationId);
  for (const char* dropped :
       {"Content-Length", "Transfer-Encoding", "Connection", "X-Evil", "Bad Name", "X-Number"}) {
    EXPECT_FALSE(headerOf(r, dropped)) << dropped;
  }
  int activationHeaders = 0;
  for (const auto& [n, v] : r.headers) activationHeaders += (n == "X-Activation-Id");
  EXPECT_EQ(activationHeaders, 1);
  ASSERT_EQ(observer_->reports.size(), 1u);
  EXPECT_EQ(observer_->reports[0].outcome, "success");
  EXPECT_EQ(observer_->reports[0].httpStatus, 418);
  EXPECT_EQ(observer_->reports[0].version, 1);
}

TEST_F(WebGatewayTest, Base64BodyIsDecoded) {
  const std::string bytes("\x00\x01\xfe\xffpng", 7);
  size_t i = invoke(std::string(kBase) + "/live");
  ASSERT_TRUE(rr_.replySuccess(i, {{"statusCode", 200},
                                   {"headers", {{"content-type", "image/png"}}},
                                   {"body", crypto::base64Encode(bytes)},
                                   {"isBase64Encoded", true}}));
  ASSERT_TRUE(last_->response);
  EXPECT_EQ(last_->response->status, 200);
  EXPECT_EQ(last_->response->body, bytes);
}

TEST_F(WebGatewayTest, InvalidFunctionResponseIs502) {
  size_t i = invoke(std::string(kBase) + "/live");
  ASSERT_TRUE(rr_.replySuccess(i, {{"statusCode", 700}, {"body", "x"}}));
  ASSERT_TRUE(last_->response);
  EXPECT_EQ(last_->response->status, 502);
  EXPECT_EQ(errorCode(*last_->response), "CS_RUNTIME_EXCEPTION");

  i = invoke(std::string(kBase) + "/live");
  ASSERT_TRUE(
      rr_.replySuccess(i, {{"statusCode", 200}, {"body", "%%%"}, {"isBase64Encoded", true}}));
  ASSERT_TRUE(last_->response);
  EXPECT_EQ(last_->response->status, 502);
  EXPECT_TRUE(headerOf(*last_->response, "X-Activation-Id"));
}

TEST_F(WebGatewayTest, WaitTimeoutIs504WithActivationId) {
  size_t i = invoke(std::string(kBase) + "/live");
  const std::string activationId = rr_.captured(i).request["activation_id"];
  ASSERT_TRUE(rr_.timeOut(i));
  ASSERT_TRUE(last_->response);
  EXPECT_EQ(last_->response->status, 504);
  EXPECT_EQ(errorCode(*last_->response), "CS_CODEQ_CORRELATION_TIMEOUT");
  EXPECT_EQ(headerOf(*last_->response, "X-Activation-Id").value_or(""), activationId);
  ASSERT_EQ(observer_->reports.size(), 1u);
  EXPECT_EQ(observer_->reports[0].outcome, "wait_timeout");
}

TEST_F(WebGatewayTest, RuntimeErrorsMapTo502And504) {
  struct Case {
    std::string status;
    json error;
    int http;
    std::string code;
  };
  std::vector<Case> cases = {
      {"error",
       {{"type", "MemoryLimit"}, {"message", "heap"}, {"code", "CS_RUNTIME_MEMORY_LIMIT"}},
       502,
       "CS_RUNTIME_MEMORY_LIMIT"},
      {"error", {{"type", "Exception"}, {"message", "boom"}}, 502, "CS_RUNTIME_EXCEPTION"},
      {"error",
       {{"type", "Exception"}, {"message", "x"}, {"code", "CS_RUNTIME_CAPABILITY_DENIED"}},
       502,
       "CS_RUNTIME_CAPABILITY_DENIED"},
      {"timeout", {{"type", "Timeout"}, {"message", "deadline"}}, 504, "CS_RUNTIME_TIMEOUT"},
  };
  for (const auto& tc : cases) {
    size_t i = invoke(std::string(kBase) + "/live");
    const std::string activationId = rr_.captured(i).request["activation_id"];
    ASSERT_TRUE(rr_.replyError(i, tc.status, tc.error));
    ASSERT_TRUE(last_->response) << tc.code;
    EXPECT_EQ(last_->response->status, tc.http) << tc.code;
    EXPECT_EQ(errorCode(*last_->response), tc.code);
    EXPECT_EQ(headerOf(*last_->response, "X-Activation-Id").value_or(""), activationId);
  }
  size_t i = invoke(std::string(kBase) + "/live");
  ASSERT_TRUE(rr_.replyError(i, "error", {{"type", "Exception"}, {"message", "boom at line 3"}}));
  EXPECT_THAT(last_->response->body, HasSubstr("boom at line 3"));
}

TEST_F(WebGatewayTest, PublishFailureKeepsItsCodeAndActivationId) {
  rr_.failNextCallsWith(Error{ErrorCode::CodeqUnavailable, "queue down"});
  auto c = send("GET", std::string(kBase) + "/live", {{"authorization", bearer()}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 503);
  EXPECT_EQ(errorCode(*c->response), "CS_CODEQ_UNAVAILABLE");
  EXPECT_EQ(headerOf(*c->response, "X-Activation-Id").value_or(""),
            rr_.last().request["activation_id"].get<std::string>());
}

// --- limits
// ---------------------------------------------------------------------------------------

TEST_F(WebGatewayTest, SizeLimitsAreEnforced) {
  GatewayOptions o;
  o.limits.maxQueryBytes = 16;
  o.limits.maxBodyBytes = 8;
  o.limits.maxHeaderBytes = 2048;
  makeGateway(o);
  auto q = send("GET", std::string(kBase) + "/live?" + std::string(17, 'q'),
                {{"authorization", bearer()}});
  ASSERT_TRUE(q->response);
  EXPECT_EQ(q->response->status, 400);
  EXPECT_EQ(errorCode(*q->response), "CS_VALIDATION_FAILED");
  auto b = send("POST", std::string(kBase) + "/live", {{"authorization", bearer()}}, "123456789");
  ASSERT_TRUE(b->response);
  EXPECT_EQ(b->response->status, 413);
  auto h = send("GET", std::string(kBase) + "/live",
                {{"authorization", bearer()}, {"x-big", std::string(2048, 'h')}});
  ASSERT_TRUE(h->response);
  EXPECT_EQ(h->response->status, 431);
  EXPECT_EQ(rr_.callCount(), 0u);
  // Exactly at the limits passes.
  invoke(std::string(kBase) + "/live?" + std::string(16, 'q'), {}, "POST", "12345678");
}

TEST_F(WebGatewayTest, FunctionRateLimitIs429WithRetryAfter) {
  GatewayOptions o;
  o.rateLimits.functionRps = 2;
  makeGateway(o);
  invoke(std::string(kBase) + "/live");
  invoke(std::string(kBase) + "/live");
  auto c = send("GET", std::string(kBase) + "/live", {{"authorization", bearer()}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 429);
  EXPECT_EQ(errorCode(*c->response), "CS_RATE_LIMITED");
  EXPECT_EQ(headerOf(*c->response, "Retry-After").value_or(""), "1");
  EXPECT_EQ(rr_.callCount(), 2u);
  invoke(std::string(kBase) + "/1");  // another ref has its own bucket
  clock_.advanceMs(500);
  invoke(std::string(kBase) + "/live");  // refilled one token
}

TEST_F(WebGatewayTest, TenantAndIpRateLimits) {
  GatewayOptions o;
  o.rateLimits.tenantRps = 1;
  o.rateLimits.ipRps = 0;
  makeGateway(o);
  invoke(std::string(kBase) + "/live");
  auto c = send("GET", "/v1/web/t_acme001/shop/refunds/live", {{"authorization", bearer()}});
  ASSERT_TRUE(c->response);
  EXPECT_EQ(c->response->status, 429) << "the tenant bucket is shared by its functions";

  o.rateLimits.tenantRps = 0;
  o.rateLimits.ipRps = 1;
  makeGateway(o);
  invoke(std::string(kBase) + "/live");
  auto d = send("GET", std::string(kBase) + "/live");  // no token: the IP limit comes first
  ASSERT_TRUE(d->response);
  EXPECT_EQ(d->response->status, 429);
  auto e = send("GET", std::string(kBase) + "/live", {{"authorization", bearer()}}, "", "10.0.0.2");
  EXPECT_FALSE(e->response) << "another client is not limited";
}

// --- over the real RequestReply and the embedded queue ---------------------------------------

TEST_F(WebGatewayTest, RoundTripOverRealRequestReplyAndEmbeddedQueue) {
  auto queue = codeq::makeEmbeddedQueue();
  ASSERT_TRUE(queue->start().ok());
  codeq::RequestReplyOptions rro;
  rro.replyTopic = "cs.reply.gw-test";
  rro.consumer = "gw-1";
  auto rr = codeq::makeRequestReply(*queue, rro);
  ASSERT_TRUE(rr->start().ok());
  // A minimal "invoker": answers every InvocationRequest on its reply_to topic.
  codeq::SubscribeOptions so;
  so.topic = "cs.invoke";
  so.group = "invokers";
  so.consumer = "inv-1";
  auto sub = queue->subscribe(so, [&](codeq::Delivery d) {
    const json& req = d.envelope.body;
    json result = {{"activation_id", req["activation_id"]},
                   {"request_id", req["request_id"]},
                   {"status", "success"},
                   {"duration_ms", 1},
                   {"result",
                    {{"statusCode", 207},
                     {"headers", {{"x-path", req["event"]["rawPath"]}}},
                     {"body", crypto::base64Encode("ok")},
                     {"isBase64Encoded", true}}}};
    (void)queue->publish(
        req["trigger"]["source"]["reply_to"].get<std::string>(),
        codeq::makeEnvelope(d.envelope.tenant, std::string(codeq::kTypeResult), result));
    (void)queue->ack(d);
  });
  ASSERT_TRUE(sub.ok()) << sub.error().message;

  WebGateway gw(GatewayOptions{}, *store_, *auth_, *rr, clock_);
  http::Router router;
  gw.registerRoutes(router);
  http::Request req;
  req.method = "GET";
  req.path = req.rawPath = req.target = std::string(kBase) + "/live/p/q";
  req.headers = {{"authorization", bearer()}};
  req.requestId = "req_roundtrip1";
  std::mutex mu;
  std::condition_variable cv;
  std::optional<http::Response> got;
  int status = 0;
  const http::Handler* h = router.match(req, status);
  ASSERT_NE(h, nullptr);
  (*h)(req, http::Responder([&](http::Response r) {
         std::lock_guard lock(mu);
         got = std::move(r);
         cv.notify_all();
       }));
  {
    std::unique_lock lock(mu);
    // Generous bound only so a broken build fails instead of hanging; not a timing assertion.
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return got.has_value(); });
  }
  (*sub)->stop();
  rr->stop();
  queue->stop();
  ASSERT_TRUE(got.has_value()) << "no response over the queue";
  EXPECT_EQ(got->status, 207) << got->body;
  EXPECT_EQ(got->body, "ok");
  EXPECT_EQ(got->findHeader("x-path").value_or(""), "/p/q");
  EXPECT_TRUE(got->findHeader("X-Activation-Id").has_value());
}

}  // namespace
}  // namespace cs::gateway
