// ControlApi driven through a real http::Router with a capturing Responder (no network), a real
// SqliteStore on a ManualClock, real RS256 tokens checked against a JWKS file, and the codeq
// fakes of internal/control/testing.
#include "internal/control/control_api.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "internal/authn/keys.h"
#include "internal/authn/testing/test_keys.h"
#include "internal/codeq/embedded_queue.h"
#include "internal/control/testing/fake_codeq.h"
#include "internal/crypto/crypto.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"
#include "internal/kv/sqlite_store.h"

namespace cs::control {
namespace {

using authn::testing::TempKeyPair;
using nlohmann::json;

constexpr const char* kTenant = "t_acme01";
constexpr const char* kOtherTenant = "t_other99";
constexpr const char* kNsPath = "/v1/tenants/t_acme01/namespaces/prod";
constexpr const char* kFnPath = "/v1/tenants/t_acme01/namespaces/prod/functions/hello";

const char* kFunctionJs = "export default async function (event) { return {ok: true}; }\n";

std::string manifestJson(int timeoutMs = 3000) {
  return json{{"schema", "cs.function.script.v1"},
              {"runtime", "cs-js"},
              {"entry", "function.js"},
              {"handler", "default"},
              {"limits", {{"timeoutMs", timeoutMs}, {"memoryMb", 64}, {"maxConcurrency", 5}}},
              {"capabilities", json::object()}}
      .dump();
}

std::string draftBody(const std::string& manifest, const std::string& code = kFunctionJs) {
  return json{{"files",
               {{"function.js", crypto::base64Encode(code)},
                {"manifest.json", crypto::base64Encode(manifest)}}}}
      .dump();
}

// A response captured from a Responder; a sync invoke fills it later, from another thread.
struct Captured {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<http::Response> response;
  std::string requestId;

  // Real time, only as a bound for a response that comes from another thread.
  bool wait() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return response.has_value(); });
  }
};

class ControlApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempKeyPair();
    forger_ = new TempKeyPair();
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete forger_;
  }

  void SetUp() override {
    dir_ = authn::testing::makeTempDir("cs-control-test-");
    const std::string jwksFile = dir_ + "/jwks.json";
    authn::testing::writeFileForTest(jwksFile, keys_->jwks());
    authn::TiktiOptions authOptions;
    authOptions.jwksFile = jwksFile;  // tokens are checked on the wall clock
    auto authenticator = authn::makeTiktiAuthenticator(std::move(authOptions));
    ASSERT_TRUE(authenticator.ok()) << authenticator.error().message;
    authenticator_ = std::move(*authenticator);

    kv::SqliteOptions storeOptions;
    storeOptions.path = ":memory:";
    storeOptions.clock = &clock_;
    auto store = kv::SqliteStore::open(storeOptions);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);

    api_ = std::make_unique<ControlApi>(ControlOptions{}, *store_, *authenticator_, *queuePtr_,
                                        *requestReplyPtr_, clock_);
    api_->registerRoutes(router_);
  }

  void TearDown() override {
    requestReply_.stop();
    api_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string token(std::vector<std::string> roles = {"developer"},
                    std::string tenant = kTenant) const {
    authn::MintOptions o;
    o.tenant = std::move(tenant);
    o.sub = "user-1";
    o.roles = std::move(roles);
    return keys_->mint(o);
  }
  std::string bearer(std::vector<std::string> roles = {"developer"},
                     std::string tenant = kTenant) const {
    return "Bearer " + token(std::move(roles), std::move(tenant));
  }

  // Dispatches one request through the router; the response may arrive later.
  std::shared_ptr<Captured> dispatch(const std::string& method, const std::string& target,
                                     const std::string& body,
                                     const std::optional<std::string>& authorization) {
    auto captured = std::make_shared<Captured>();
    http::Request request;
    request.method = method;
    request.target = target;
    size_t q = target.find('?');
    request.path = target.substr(0, q);
    request.rawPath = request.path;
    request.query = q == std::string::npos ? "" : target.substr(q + 1);
    if (authorization) request.headers.emplace_back("authorization", *authorization);
    request.body = body;
    request.requestId = "req_test" + std::to_string(++requestSeq_);
    captured->requestId = request.requestId;
    int status = 0;
    const http::Handler* handler = router_.match(request, status);
    if (handler == nullptr) {
      captured->response =
          http::Response::error(Error{ErrorCode::NotFound, "no route"}, request.requestId);
      captured->response->status = status;
      return captured;
    }
    (*handler)(request, http::Responder([captured](http::Response r) {
                 std::lock_guard lock(captured->mu);
                 captured->response = std::move(r);
                 captured->cv.notify_all();
               }));
    return captured;
  }

  // Requests answered before the handler returns (everything but sync invoke).
  struct Reply {
    int status = 0;
    json body;
    std::string requestId;
    std::string header(const std::string& name) const {
      for (const auto& [k, v] : headers) {
        if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
      }
      return "";
    }
    std::vector<std::pair<std::string, std::string>> headers;
  };
  static Reply toReply(const Captured& c) {
    Reply r;
    r.requestId = c.requestId;
    if (!c.response) return r;
    r.status = c.response->status;
    r.headers = c.response->headers;
    r.body = json::parse(c.response->body, nullptr, false);
    return r;
  }
  Reply send(const std::string& method, const std::string& target, const std::string& body = "",
             std::optional<std::string> authorization = std::string("default")) {
    if (authorization && *authorization == "default") authorization = bearer();
    auto c = dispatch(method, target, body, authorization);
    std::lock_guard lock(c->mu);
    EXPECT_TRUE(c->response.has_value()) << method << " " << target << ": no response yet";
    return toReply(*c);
  }

  // The SPEC §5 error body with this request's id.
  static void expectError(const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body.dump();
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.body.dump();
    EXPECT_EQ(r.body["error"].value("code", ""), code) << r.body.dump();
    EXPECT_TRUE(r.body["error"]["message"].is_string());
    EXPECT_EQ(r.body["error"].value("request_id", ""), r.requestId);
  }

  void createFunction(const std::string& name = "hello") {
    auto r = send("POST", std::string(kNsPath) + "/functions", json{{"name", name}}.dump());
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }
  std::string uploadDraft(const std::string& fnPath = kFnPath) {
    auto r = send("PUT", fnPath + std::string("/draft"), draftBody(manifestJson()));
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body.value("draft_id", "");
  }
  int64_t publish(json config = json::object(), std::optional<std::string> alias = "live") {
    json body{{"draft_id", uploadDraft()}, {"config", std::move(config)}};
    if (alias) body["alias"] = *alias;
    auto r = send("POST", std::string(kFnPath) + "/versions", body.dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("version", int64_t{0});
  }
  // A published function whose API invoke allows the "invoker" role.
  void setUpInvocable() {
    createFunction();
    publish({{"authz", {{"invoke_http_roles", {"invoker"}}}}});
  }
  void writeLogChunk(const std::string& activationId, int64_t seq, const std::string& message) {
    kv::LogChunk chunk{seq, {kv::LogEntry{"info", 1000 + seq, message}}};
    ASSERT_TRUE(
        store_->set(*kv::keys::logChunk(kTenant, activationId, seq), kv::encode(chunk), kv::kNoTtl)
            .ok());
    ASSERT_TRUE(store_
                    ->zadd(*kv::keys::logChunks(kTenant, activationId), std::to_string(seq),
                           static_cast<double>(seq))
                    .ok());
  }

  static TempKeyPair* keys_;
  static TempKeyPair* forger_;
  std::string dir_;
  kv::ManualClock clock_;
  std::unique_ptr<authn::Authenticator> authenticator_;
  std::unique_ptr<kv::SqliteStore> store_;
  testing::FakeQueue queue_;
  testing::FakeRequestReply requestReply_;
  // What the ControlApi uses: the fakes above unless a derived fixture swaps in real ones.
  codeq::Queue* queuePtr_ = &queue_;
  codeq::RequestReply* requestReplyPtr_ = &requestReply_;
  std::unique_ptr<ControlApi> api_;
  http::Router router_;
  std::atomic<int> requestSeq_{0};
};

TempKeyPair* ControlApiTest::keys_ = nullptr;
TempKeyPair* ControlApiTest::forger_ = nullptr;

// --- authentication and authorization -------------------------------------------------------

TEST_F(ControlApiTest, MissingTokenIs401) {
  expectError(send("GET", std::string(kNsPath) + "/functions", "", std::nullopt), 401,
              "CS_AUTHN_MISSING_TOKEN");
  expectError(send("GET", std::string(kNsPath) + "/functions", "", "Basic dXNlcjpwYXNz"), 401,
              "CS_AUTHN_MISSING_TOKEN");
}

TEST_F(ControlApiTest, ForgedSignatureIs401Invalid) {
  authn::MintOptions o;
  o.tenant = kTenant;
  o.sub = "user-1";
  o.roles = {"admin"};
  o.kid = keys_->info().kid;  // claims the trusted key, signed by another one
  const std::string forged = forger_->mint(o);
  expectError(send("GET", std::string(kNsPath) + "/functions", "", "Bearer " + forged), 401,
              "CS_AUTHN_INVALID_TOKEN");
  // A valid token with its signature swapped for garbage.
  std::string tampered = token();
  tampered = tampered.substr(0, tampered.rfind('.') + 1) + "AAAA";
  expectError(send("GET", std::string(kNsPath) + "/functions", "", "Bearer " + tampered), 401,
              "CS_AUTHN_INVALID_TOKEN");
}

TEST_F(ControlApiTest, TokenOfAnotherTenantIs403Mismatch) {
  createFunction();
  const std::string other = bearer({"admin"}, kOtherTenant);
  expectError(send("GET", kFnPath, "", other), 403, "CS_AUTHZ_RESOURCE_MISMATCH");
  expectError(
      send("POST", std::string(kNsPath) + "/functions", json{{"name", "evil"}}.dump(), other), 403,
      "CS_AUTHZ_RESOURCE_MISMATCH");
  expectError(send("GET", "/v1/tenants/t_acme01/activations/" + crypto::uuidV4(), "", other), 403,
              "CS_AUTHZ_RESOURCE_MISMATCH");
}

TEST_F(ControlApiTest, RoleWithoutTheActionIs403Denied) {
  createFunction();
  expectError(send("POST", std::string(kNsPath) + "/functions", json{{"name", "other"}}.dump(),
                   bearer({"viewer"})),
              403, "CS_AUTHZ_DENIED");
  expectError(send("DELETE", kFnPath, "", bearer({"developer"})), 403, "CS_AUTHZ_DENIED");
  EXPECT_EQ(send("GET", kFnPath, "", bearer({"viewer"})).status, 200);
}

TEST_F(ControlApiTest, InvalidNamesAre400) {
  const std::string fnBody = json{{"name", "hello"}}.dump();
  expectError(send("POST", "/v1/tenants/acme/namespaces/prod/functions", fnBody), 400,
              "CS_VALIDATION_NAME_INVALID");
  expectError(send("POST", "/v1/tenants/t_acme01/namespaces/Prod/functions", fnBody), 400,
              "CS_VALIDATION_NAME_INVALID");
  expectError(send("POST", std::string(kNsPath) + "/functions", json{{"name", "X!"}}.dump()), 400,
              "CS_VALIDATION_NAME_INVALID");
  expectError(send("GET", std::string(kNsPath) + "/functions/ab"), 400,
              "CS_VALIDATION_NAME_INVALID");
  expectError(send("PUT", std::string(kFnPath) + "/aliases/-live", json{{"version", 1}}.dump()),
              400, "CS_VALIDATION_NAME_INVALID");
  expectError(send("GET", "/v1/tenants/t_acme01/activations/not-a-uuid"), 400,
              "CS_VALIDATION_NAME_INVALID");
  expectError(send("GET", std::string(kFnPath) + "/versions/0"), 400, "CS_VALIDATION_NAME_INVALID");
  createFunction();
  expectError(send("POST", std::string(kFnPath) + "/versions", json{{"draft_id", "drf_x"}}.dump()),
              400, "CS_VALIDATION_NAME_INVALID");
}

// --- function lifecycle -----------------------------------------------------------------------

TEST_F(ControlApiTest, CreateGetListAndConflict) {
  auto created = send("POST", std::string(kNsPath) + "/functions", json{{"name", "hello"}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["tenant"], kTenant);
  EXPECT_EQ(created.body["namespace"], "prod");
  EXPECT_EQ(created.body["name"], "hello");
  EXPECT_EQ(created.body["runtime"], "cs-js");
  EXPECT_EQ(created.body["created_at_ms"], clock_.nowMs());

  expectError(send("POST", std::string(kNsPath) + "/functions", json{{"name", "hello"}}.dump()),
              409, "CS_CONFLICT");
  expectError(send("POST", std::string(kNsPath) + "/functions",
                   json{{"name", "other"}, {"runtime", "python"}}.dump()),
              400, "CS_VALIDATION_FAILED");
  expectError(send("POST", std::string(kNsPath) + "/functions", "{not json"), 400,
              "CS_VALIDATION_FAILED");

  auto got = send("GET", kFnPath);
  ASSERT_EQ(got.status, 200) << got.body.dump();
  EXPECT_EQ(got.body["name"], "hello");
  EXPECT_EQ(got.body["aliases"], json::array());
  EXPECT_TRUE(got.body["latest_version"].is_null());
  expectError(send("GET", std::string(kNsPath) + "/functions/missing"), 404, "CS_NOT_FOUND");
}

TEST_F(ControlApiTest, ListFunctionsPagesWithCursor) {
  for (const char* name : {"fn-c", "fn-a", "fn-b"}) createFunction(name);
  auto page1 = send("GET", std::string(kNsPath) + "/functions?limit=2");
  ASSERT_EQ(page1.status, 200) << page1.body.dump();
  ASSERT_EQ(page1.body["functions"].size(), 2u);
  EXPECT_EQ(page1.body["functions"][0]["name"], "fn-a");
  EXPECT_EQ(page1.body["functions"][1]["name"], "fn-b");
  ASSERT_EQ(page1.body["next_cursor"], "fn-b");
  auto page2 = send("GET", std::string(kNsPath) + "/functions?limit=2&cursor=fn-b");
  ASSERT_EQ(page2.body["functions"].size(), 1u);
  EXPECT_EQ(page2.body["functions"][0]["name"], "fn-c");
  EXPECT_TRUE(page2.body["next_cursor"].is_null());
  expectError(send("GET", std::string(kNsPath) + "/functions?limit=0"), 400,
              "CS_VALIDATION_FAILED");
}

TEST_F(ControlApiTest, DeleteIsSoftAndHidesTheFunction) {
  createFunction();
  const int64_t v = publish();
  ASSERT_EQ(v, 1);
  clock_.advanceMs(5000);
  auto deleted = send("DELETE", kFnPath, "", bearer({"admin"}));
  ASSERT_EQ(deleted.status, 200) << deleted.body.dump();
  EXPECT_EQ(deleted.body["deleted_at_ms"], clock_.nowMs());

  // The record keeps deleted_at_ms and the versions stay.
  auto raw = store_->get(*kv::keys::functionMeta(kTenant, "prod", "hello"));
  ASSERT_TRUE(raw.ok() && raw->has_value());
  auto record = kv::decode<kv::FunctionRecord>(**raw);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->deletedAtMs, clock_.nowMs());
  EXPECT_TRUE(store_->exists(*kv::keys::versionMeta(kTenant, "prod", "hello", 1)).value());

  expectError(send("GET", kFnPath), 404, "CS_NOT_FOUND");
  expectError(send("DELETE", kFnPath, "", bearer({"admin"})), 404, "CS_NOT_FOUND");
  expectError(send("GET", std::string(kFnPath) + "/versions"), 404, "CS_NOT_FOUND");
  expectError(send("PUT", std::string(kFnPath) + "/draft", draftBody(manifestJson())), 404,
              "CS_NOT_FOUND");
  expectError(send("POST", std::string(kFnPath) + ":invoke", json{{"ref", {{"version", 1}}}}.dump(),
                   bearer({"invoker"})),
              404, "CS_NOT_FOUND");
  auto list = send("GET", std::string(kNsPath) + "/functions");
  EXPECT_EQ(list.body["functions"], json::array());
  expectError(send("DELETE", std::string(kNsPath) + "/functions/never", "", bearer({"admin"})), 404,
              "CS_NOT_FOUND");
}

TEST_F(ControlApiTest, RecreateAfterDeleteKeepsVersionsAndDropsAliases) {
  createFunction();
  ASSERT_EQ(publish(), 1);
  ASSERT_EQ(send("DELETE", kFnPath, "", bearer({"admin"})).status, 200);
  createFunction();
  auto got = send("GET", kFnPath);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["aliases"], json::array());
  EXPECT_EQ(got.body["latest_version"]["version"], 1);
  EXPECT_FALSE(got.body.contains("deleted_at_ms"));
  EXPECT_EQ(publish(), 2);  // numbering continues: a version number never names two bundles
}

// --- drafts, publish, versions, aliases ----------------------------------------------------------

TEST_F(ControlApiTest, DraftPublishAliasRoundTrip) {
  createFunction();
  auto draft = send("PUT", std::string(kFnPath) + "/draft", draftBody(manifestJson(1234)));
  ASSERT_EQ(draft.status, 200) << draft.body.dump();
  const std::string draftId = draft.body["draft_id"];
  EXPECT_EQ(draftId.rfind("drf_", 0), 0u);
  EXPECT_EQ(draft.body["expires_at_ms"], clock_.nowMs() + 86400 * 1000);
  EXPECT_EQ(draft.body["sha256"].get<std::string>().size(), 64u);
  EXPECT_GT(draft.body["size_bytes"].get<int64_t>(), 0);

  // The same files always give the same bundle.
  auto again = send("PUT", std::string(kFnPath) + "/draft", draftBody(manifestJson(1234)));
  EXPECT_EQ(again.body["sha256"], draft.body["sha256"]);
  EXPECT_NE(again.body["draft_id"], draft.body["draft_id"]);

  json publishBody{{"draft_id", draftId},
                   {"alias", "live"},
                   {"config", {{"memory_mb", 256}, {"env", {{"MODE", "prod"}}}}}};
  auto published = send("POST", std::string(kFnPath) + "/versions", publishBody.dump());
  ASSERT_EQ(published.status, 201) << published.body.dump();
  EXPECT_EQ(published.body["version"], 1);
  EXPECT_EQ(published.body["sha256"], draft.body["sha256"]);
  EXPECT_EQ(published.body["published_at_ms"], clock_.nowMs());

  // The stored config is resolved: manifest limits where the body gave none, empty role lists.
  auto version = send("GET", std::string(kFnPath) + "/versions/1");
  ASSERT_EQ(version.status, 200) << version.body.dump();
  const json& config = version.body["config"];
  EXPECT_EQ(config["timeout_ms"], 1234);
  EXPECT_EQ(config["memory_mb"], 256);
  EXPECT_EQ(config["max_concurrency"], 5);
  EXPECT_EQ(config["env"], json({{"MODE", "prod"}}));
  EXPECT_EQ(config["authz"]["invoke_http_roles"], json::array());
  EXPECT_EQ(config["authz"]["invoke_schedule_roles"], json::array());
  EXPECT_EQ(config["secrets"], json::object());
  EXPECT_TRUE(config["capabilities"].is_object());

  // The bundle bytes are stored and match the sha256.
  auto bundle = store_->get(*kv::keys::versionBundle(kTenant, "prod", "hello", 1));
  ASSERT_TRUE(bundle.ok() && bundle->has_value());
  EXPECT_EQ(crypto::sha256Hex(**bundle), draft.body["sha256"]);

  // A draft is consumed by publish.
  expectError(send("POST", std::string(kFnPath) + "/versions", publishBody.dump()), 400,
              "CS_VALIDATION_FAILED");

  ASSERT_EQ(publish(json::object(), std::nullopt), 2);
  auto alias = send("PUT", std::string(kFnPath) + "/aliases/stable", json{{"version", 2}}.dump());
  ASSERT_EQ(alias.status, 200) << alias.body.dump();
  EXPECT_EQ(alias.body,
            json({{"alias", "stable"}, {"version", 2}, {"updated_at_ms", clock_.nowMs()}}));
  expectError(send("PUT", std::string(kFnPath) + "/aliases/stable", json{{"version", 9}}.dump()),
              404, "CS_NOT_FOUND");
  expectError(send("PUT", std::string(kFnPath) + "/aliases/stable", json{{"version", "2"}}.dump()),
              400, "CS_VALIDATION_FAILED");

  auto aliases = send("GET", std::string(kFnPath) + "/aliases");
  ASSERT_EQ(aliases.status, 200);
  ASSERT_EQ(aliases.body["aliases"].size(), 2u);
  EXPECT_EQ(aliases.body["aliases"][0]["alias"], "live");
  EXPECT_EQ(aliases.body["aliases"][0]["version"], 1);
  EXPECT_EQ(aliases.body["aliases"][1]["alias"], "stable");

  auto versions = send("GET", std::string(kFnPath) + "/versions?limit=1");
  ASSERT_EQ(versions.body["versions"].size(), 1u);
  EXPECT_EQ(versions.body["versions"][0]["version"], 1);
  ASSERT_EQ(versions.body["next_cursor"], 1);
  auto versions2 = send("GET", std::string(kFnPath) + "/versions?limit=1&cursor=1");
  ASSERT_EQ(versions2.body["versions"].size(), 1u);
  EXPECT_EQ(versions2.body["versions"][0]["version"], 2);
  EXPECT_TRUE(versions2.body["next_cursor"].is_null());

  auto fn = send("GET", kFnPath);
  EXPECT_EQ(fn.body["latest_version"]["version"], 2);
  EXPECT_EQ(fn.body["aliases"].size(), 2u);
}

TEST_F(ControlApiTest, InvalidManifestIs400ManifestInvalid) {
  createFunction();
  const std::string path = std::string(kFnPath) + "/draft";
  json extra = json::parse(manifestJson());
  extra["extra"] = true;
  expectError(send("PUT", path, draftBody(extra.dump())), 400, "CS_VALIDATION_MANIFEST_INVALID");
  expectError(send("PUT", path, draftBody("{not json")), 400, "CS_VALIDATION_MANIFEST_INVALID");
  json badLimit = json::parse(manifestJson());
  badLimit["limits"]["timeoutMs"] = 900001;
  expectError(send("PUT", path, draftBody(badLimit.dump())), 400, "CS_VALIDATION_MANIFEST_INVALID");
  json otherEntry = json::parse(manifestJson());
  otherEntry["entry"] = "main.js";  // not a file of the bundle
  expectError(send("PUT", path, draftBody(otherEntry.dump())), 400,
              "CS_VALIDATION_MANIFEST_INVALID");
  expectError(send("PUT", path,
                   json{{"files", {{"function.js", crypto::base64Encode(kFunctionJs)}}}}.dump()),
              400, "CS_VALIDATION_MANIFEST_INVALID");
}

TEST_F(ControlApiTest, DraftBodyIsValidated) {
  createFunction();
  const std::string path = std::string(kFnPath) + "/draft";
  expectError(send("PUT", path,
                   json{{"files",
                         {{"function.js", "not base64!"},
                          {"manifest.json", crypto::base64Encode(manifestJson())}}}}
                       .dump()),
              400, "CS_VALIDATION_FAILED");
  expectError(send("PUT", path, json{{"files", json::object()}}.dump()), 400,
              "CS_VALIDATION_FAILED");
  expectError(send("PUT", path, json{{"files", {{"a.js", 1}}}}.dump()), 400,
              "CS_VALIDATION_FAILED");
  expectError(send("PUT", path,
                   json{{"files",
                         {{"../escape.js", crypto::base64Encode("x")},
                          {"manifest.json", crypto::base64Encode(manifestJson())}}}}
                       .dump()),
              400, "CS_VALIDATION_FAILED");
  expectError(send("PUT", path, "[]"), 400, "CS_VALIDATION_FAILED");
}

TEST_F(ControlApiTest, BundleOver16MiBIsTooLarge) {
  createFunction();
  const std::string big(
      16 * 1024 * 1024 + 1 - std::string(kFunctionJs).size() - manifestJson().size(), 'x');
  // Content totalling exactly 16 MiB + 1 byte.
  auto r = send("PUT", std::string(kFnPath) + "/draft",
                json{{"files",
                      {{"function.js", crypto::base64Encode(kFunctionJs)},
                       {"manifest.json", crypto::base64Encode(manifestJson())},
                       {"data.bin", crypto::base64Encode(big)}}}}
                    .dump());
  expectError(r, 400, "CS_VALIDATION_BUNDLE_TOO_LARGE");
  // One byte less is accepted.
  auto ok = send("PUT", std::string(kFnPath) + "/draft",
                 json{{"files",
                       {{"function.js", crypto::base64Encode(kFunctionJs)},
                        {"manifest.json", crypto::base64Encode(manifestJson())},
                        {"data.bin", crypto::base64Encode(big.substr(1))}}}}
                     .dump());
  EXPECT_EQ(ok.status, 200) << ok.body.dump();
}

TEST_F(ControlApiTest, DraftExpiresByTtlAndPublishRejectsIt) {
  createFunction();
  const std::string draftId = uploadDraft();
  const std::string key = *kv::keys::draft(kTenant, "prod", "hello", draftId);
  EXPECT_TRUE(store_->exists(key).value());
  clock_.advanceMs(86400 * 1000 + 1);
  EXPECT_FALSE(store_->exists(key).value()) << "draft outlived its TTL";
  auto r = send("POST", std::string(kFnPath) + "/versions", json{{"draft_id", draftId}}.dump());
  expectError(r, 400, "CS_VALIDATION_FAILED");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("expired"), std::string::npos);
  expectError(send("POST", std::string(kFnPath) + "/versions",
                   json{{"draft_id", "drf_unknown0000"}}.dump()),
              400, "CS_VALIDATION_FAILED");
  expectError(send("POST", std::string(kFnPath) + "/versions",
                   json{{"draft_id", "drf_unknown0000"}, {"config", {{"timeout_ms", 0}}}}.dump()),
              400, "CS_VALIDATION_FAILED");
  EXPECT_TRUE(send("GET", kFnPath).body["latest_version"].is_null());
}

TEST_F(ControlApiTest, ConcurrentPublishesGiveUniqueGapFreeVersions) {
  createFunction();
  constexpr int kPublishes = 8;
  std::vector<std::string> drafts;
  for (int i = 0; i < kPublishes; ++i) drafts.push_back(uploadDraft());
  std::vector<int64_t> versions(kPublishes, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPublishes; ++i) {
    threads.emplace_back([&, i] {
      auto c = dispatch("POST", std::string(kFnPath) + "/versions",
                        json{{"draft_id", drafts[i]}}.dump(), bearer());
      std::lock_guard lock(c->mu);
      if (c->response && c->response->status == 201) {
        versions[i] = json::parse(c->response->body)["version"].get<int64_t>();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(versions.begin(), versions.end());
  for (int i = 0; i < kPublishes; ++i) EXPECT_EQ(versions[i], i + 1);
}

// --- invoke -----------------------------------------------------------------------------------

TEST_F(ControlApiTest, SyncInvokeAnsweredByTheInvoker) {
  setUpInvocable();
  auto c =
      dispatch("POST", std::string(kFnPath) + ":invoke",
               json{{"ref", {{"alias", "live"}}}, {"mode", "sync"}, {"event", {{"x", 1}}}}.dump(),
               bearer({"invoker"}));
  {
    std::lock_guard lock(c->mu);
    ASSERT_FALSE(c->response.has_value()) << "answered before the result arrived";
  }
  auto pending = requestReply_.pending();
  ASSERT_EQ(pending.size(), 1u);
  const json& req = pending[0].request;
  EXPECT_EQ(pending[0].tenant, kTenant);
  EXPECT_EQ(pending[0].timeoutMs, 3000 + 250);
  EXPECT_EQ(req["request_id"], c->requestId);
  EXPECT_EQ(req["tenant"], kTenant);
  EXPECT_EQ(req["namespace"], "prod");
  EXPECT_EQ(req["ref"], json({{"function", "hello"}, {"alias", "live"}, {"version", 1}}));
  EXPECT_EQ(req["trigger"]["type"], "api");
  EXPECT_EQ(req["principal"]["sub"], "user-1");
  EXPECT_EQ(req["principal"]["roles"], json({"invoker"}));
  EXPECT_EQ(req["deadline_ms"], clock_.nowMs() + 3000);
  EXPECT_EQ(req["event"], json({{"x", 1}}));
  const std::string activationId = req["activation_id"];
  EXPECT_TRUE(crypto::isUuid(activationId));

  writeLogChunk(activationId, 0, "first");
  writeLogChunk(activationId, 1, "second");
  json result{{"activation_id", activationId},
              {"request_id", c->requestId},
              {"status", "success"},
              {"duration_ms", 12},
              {"version", 1},
              {"result", {{"statusCode", 200}, {"body", "{\"ok\":true}"}}}};
  ASSERT_TRUE(requestReply_.reply(c->requestId, result));

  std::lock_guard lock(c->mu);
  ASSERT_TRUE(c->response.has_value());
  Reply r = toReply(*c);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.header("X-Activation-Id"), activationId);
  EXPECT_EQ(r.body["activation_id"], activationId);
  EXPECT_EQ(r.body["status"], "success");
  EXPECT_EQ(r.body["result"]["statusCode"], 200);
  EXPECT_TRUE(r.body["error"].is_null());
  EXPECT_EQ(r.body["duration_ms"], 12);
  ASSERT_EQ(r.body["logs"].size(), 2u);
  EXPECT_EQ(r.body["logs"][0], json({{"level", "info"}, {"ts_ms", 1000}, {"message", "first"}}));
  EXPECT_EQ(r.body["logs"][1]["message"], "second");
}

TEST_F(ControlApiTest, SyncInvokeTimeoutIs504WithActivationId) {
  setUpInvocable();
  auto c = dispatch("POST", std::string(kFnPath) + ":invoke",
                    json{{"ref", {{"version", 1}}}}.dump(), bearer({"invoker"}));
  auto pending = requestReply_.pending();
  ASSERT_EQ(pending.size(), 1u);
  const std::string activationId = pending[0].request["activation_id"];
  ASSERT_TRUE(requestReply_.timeOut(c->requestId));
  std::lock_guard lock(c->mu);
  Reply r = toReply(*c);
  expectError(r, 504, "CS_CODEQ_CORRELATION_TIMEOUT");
  EXPECT_EQ(r.body["activation_id"], activationId);
  EXPECT_EQ(r.header("X-Activation-Id"), activationId);
}

TEST_F(ControlApiTest, InvokeWithoutAnAllowedRoleIs403RoleMissing) {
  setUpInvocable();  // invoke_http_roles: ["invoker"]
  expectError(send("POST", std::string(kFnPath) + ":invoke",
                   json{{"ref", {{"alias", "live"}}}}.dump(), bearer({"developer"})),
              403, "CS_AUTHZ_ROLE_MISSING");
  // An empty allowlist denies everyone, admin included.
  ASSERT_EQ(publish(json::object(), "open"), 2);
  expectError(send("POST", std::string(kFnPath) + ":invoke", json{{"ref", {{"version", 2}}}}.dump(),
                   bearer({"admin", "invoker"})),
              403, "CS_AUTHZ_ROLE_MISSING");
  // No role granting invoke:api at all.
  expectError(send("POST", std::string(kFnPath) + ":invoke", json{{"ref", {{"version", 1}}}}.dump(),
                   bearer({"viewer"})),
              403, "CS_AUTHZ_DENIED");
  EXPECT_TRUE(requestReply_.pending().empty());
  EXPECT_TRUE(queue_.published().empty());
}

TEST_F(ControlApiTest, InvokeValidatesRefAndBody) {
  setUpInvocable();
  const std::string path = std::string(kFnPath) + ":invoke";
  const std::string tok = bearer({"invoker"});
  expectError(send("POST", path, json{{"ref", {{"alias", "nope"}}}}.dump(), tok), 404,
              "CS_NOT_FOUND");
  expectError(send("POST", path, json{{"ref", {{"version", 7}}}}.dump(), tok), 404, "CS_NOT_FOUND");
  expectError(send("POST", path, json{{"ref", {{"version", 1}, {"alias", "live"}}}}.dump(), tok),
              400, "CS_VALIDATION_FAILED");
  expectError(send("POST", path, json{{"ref", {{"version", 1}}}, {"mode", "later"}}.dump(), tok),
              400, "CS_VALIDATION_FAILED");
  expectError(send("POST", path, json{{"ref", {{"alias", "Bad!"}}}}.dump(), tok), 400,
              "CS_VALIDATION_NAME_INVALID");
}

TEST_F(ControlApiTest, AsyncInvokeQueuesThenReadsQueued) {
  setUpInvocable();
  auto r = send("POST", std::string(kFnPath) + ":invoke",
                json{{"ref", {{"alias", "live"}}}, {"mode", "async"}, {"event", "ping"}}.dump(),
                bearer({"invoker"}));
  ASSERT_EQ(r.status, 202) << r.body.dump();
  EXPECT_EQ(r.body["status"], "queued");
  const std::string activationId = r.body["activation_id"];
  EXPECT_EQ(r.header("X-Activation-Id"), activationId);
  EXPECT_TRUE(requestReply_.pending().empty());

  auto published = queue_.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].topic, "cs.invoke");
  EXPECT_EQ(published[0].envelope.type, "cs.invoke.v1");
  EXPECT_EQ(published[0].envelope.tenant, kTenant);
  EXPECT_EQ(published[0].envelope.body["activation_id"], activationId);
  EXPECT_EQ(published[0].envelope.body["event"], "ping");

  auto act =
      send("GET", "/v1/tenants/t_acme01/activations/" + activationId, "", bearer({"invoker"}));
  ASSERT_EQ(act.status, 200) << act.body.dump();
  EXPECT_EQ(act.body["status"], "queued");
  EXPECT_EQ(act.body["activation_id"], activationId);
  EXPECT_EQ(act.body["ref"], json({{"function", "hello"}, {"alias", "live"}, {"version", 1}}));
  EXPECT_EQ(act.body["trigger"]["type"], "api");
  EXPECT_EQ(act.body["created_at_ms"], clock_.nowMs());
  EXPECT_EQ(act.body["result_truncated"], false);
  EXPECT_FALSE(act.body.contains("schema"));

  // The record has the activation TTL.
  auto ttl = store_->ttl(*kv::keys::activation(kTenant, activationId));
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(*ttl, 604800 * 1000);

  auto recent = send("GET", std::string(kFnPath) + "/activations?limit=5");
  ASSERT_EQ(recent.status, 200) << recent.body.dump();
  ASSERT_EQ(recent.body["activations"].size(), 1u);
  EXPECT_EQ(recent.body["activations"][0]["activation_id"], activationId);

  expectError(send("GET", "/v1/tenants/t_acme01/activations/" + crypto::uuidV4()), 404,
              "CS_NOT_FOUND");
}

TEST_F(ControlApiTest, AsyncInvokePublishFailureEndsTheActivation) {
  setUpInvocable();
  queue_.failPublishesForTest(true);
  auto r = send("POST", std::string(kFnPath) + ":invoke",
                json{{"ref", {{"version", 1}}}, {"mode", "async"}}.dump(), bearer({"invoker"}));
  expectError(r, 500, "CS_CODEQ_PUBLISH_FAILED");
  const std::string activationId = r.body.value("activation_id", "");
  ASSERT_FALSE(activationId.empty());
  auto act = send("GET", "/v1/tenants/t_acme01/activations/" + activationId);
  EXPECT_EQ(act.body["status"], "error");
  EXPECT_EQ(act.body["error"]["code"], "CS_CODEQ_PUBLISH_FAILED");
}

TEST_F(ControlApiTest, RecentActivationsAreNewestFirst) {
  setUpInvocable();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    clock_.advanceMs(10);
    auto r = send("POST", std::string(kFnPath) + ":invoke",
                  json{{"ref", {{"version", 1}}}, {"mode", "async"}}.dump(), bearer({"invoker"}));
    ASSERT_EQ(r.status, 202);
    ids.push_back(r.body["activation_id"]);
  }
  auto recent = send("GET", std::string(kFnPath) + "/activations?limit=2");
  ASSERT_EQ(recent.body["activations"].size(), 2u);
  EXPECT_EQ(recent.body["activations"][0]["activation_id"], ids[2]);
  EXPECT_EQ(recent.body["activations"][1]["activation_id"], ids[1]);
}

TEST_F(ControlApiTest, ActivationLogsPageByCursor) {
  setUpInvocable();
  auto r = send("POST", std::string(kFnPath) + ":invoke",
                json{{"ref", {{"version", 1}}}, {"mode", "async"}}.dump(), bearer({"invoker"}));
  ASSERT_EQ(r.status, 202);
  const std::string id = r.body["activation_id"];
  for (int seq = 0; seq < 23; ++seq) writeLogChunk(id, seq, "line " + std::to_string(seq));

  const std::string path = "/v1/tenants/t_acme01/activations/" + id + "/logs";
  std::vector<std::string> messages;
  std::string cursorQuery;
  int pages = 0;
  while (true) {
    auto page = send("GET", path + cursorQuery);
    ASSERT_EQ(page.status, 200) << page.body.dump();
    EXPECT_EQ(page.body["activation_id"], id);
    EXPECT_LE(page.body["logs"].size(), 10u);
    for (const auto& e : page.body["logs"]) messages.push_back(e["message"]);
    ++pages;
    if (page.body["next_cursor"].is_null()) break;
    ASSERT_LT(pages, 10) << "cursor does not advance";
    cursorQuery = "?cursor=" + std::to_string(page.body["next_cursor"].get<int64_t>());
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(messages.size(), 23u);
  for (int i = 0; i < 23; ++i) EXPECT_EQ(messages[i], "line " + std::to_string(i));

  auto fromTwenty = send("GET", path + "?cursor=20");
  EXPECT_EQ(fromTwenty.body["logs"].size(), 3u);
  EXPECT_EQ(fromTwenty.body["logs"][0]["message"], "line 20");
  expectError(send("GET", path + "?cursor=-1"), 400, "CS_VALIDATION_FAILED");
  expectError(send("GET", path + "?cursor=abc"), 400, "CS_VALIDATION_FAILED");
  expectError(send("GET", "/v1/tenants/t_acme01/activations/" + crypto::uuidV4() + "/logs"), 404,
              "CS_NOT_FOUND");
}

class RecordingAudit final : public AuditSink {
 public:
  void onDecision(const AuditEvent& e) override {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::mutex mu;
  std::vector<AuditEvent> events;
};

TEST_F(ControlApiTest, AuditSinkSeesDecisions) {
  auto audit = std::make_shared<RecordingAudit>();
  http::Router router;
  ControlApi api(ControlOptions{}, *store_, *authenticator_, queue_, requestReply_, clock_, audit);
  api.registerRoutes(router);
  http::Request request;
  request.method = "GET";
  request.path = request.rawPath = request.target = kFnPath;
  request.headers.emplace_back("authorization", bearer({"viewer"}, kOtherTenant));
  request.requestId = "req_audit001";
  int status = 0;
  const http::Handler* handler = router.match(request, status);
  ASSERT_NE(handler, nullptr);
  std::optional<http::Response> response;
  (*handler)(request, http::Responder([&](http::Response r) { response = std::move(r); }));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 403);
  std::lock_guard lock(audit->mu);
  ASSERT_EQ(audit->events.size(), 1u);
  EXPECT_FALSE(audit->events[0].allowed);
  EXPECT_EQ(audit->events[0].code, "CS_AUTHZ_RESOURCE_MISMATCH");
  EXPECT_EQ(audit->events[0].requestId, "req_audit001");
  EXPECT_EQ(audit->events[0].tenant, kOtherTenant);
}

// --- with the real embedded queue and RequestReply -------------------------------------------

// The same API over codeq's embedded driver, with a stand-in invoker that consumes cs.invoke,
// writes a log chunk and answers on trigger.source.reply_to, as the real invoker does.
class ControlApiEmbeddedQueueTest : public ControlApiTest {
 protected:
  void SetUp() override {
    codeq::EmbeddedQueueOptions options;
    options.log = [](std::string_view) {};
    embeddedQueue_ = codeq::makeEmbeddedQueue(options);
    ASSERT_TRUE(embeddedQueue_->start().ok());
    codeq::RequestReplyOptions rrOptions;
    rrOptions.replyTopic = "cs.reply.control-1";
    rrOptions.consumer = "control-1";
    embeddedRequestReply_ = codeq::makeRequestReply(*embeddedQueue_, rrOptions);
    ASSERT_TRUE(embeddedRequestReply_->start().ok());
    queuePtr_ = embeddedQueue_.get();
    requestReplyPtr_ = embeddedRequestReply_.get();
    ControlApiTest::SetUp();

    codeq::SubscribeOptions sub;
    sub.topic = "cs.invoke";
    sub.group = "invoker";
    sub.consumer = "invoker-1";
    auto subscription = embeddedQueue_->subscribe(sub, [this](codeq::Delivery d) {
      EXPECT_TRUE(embeddedQueue_->ack(d).ok());
      const json& req = d.envelope.body;
      {
        std::lock_guard lock(mu_);
        invocations_.push_back(req);
        cv_.notify_all();
      }
      const json& source = req["trigger"]["source"];
      if (!source.contains("reply_to")) return;  // async: nobody waits
      const std::string id = req["activation_id"];
      writeLogChunk(id, 0, "ran");
      json result{{"activation_id", id},
                  {"request_id", req["request_id"]},
                  {"status", "error"},
                  {"duration_ms", 7},
                  {"error", {{"type", "Exception"}, {"message", "boom"}}}};
      EXPECT_TRUE(embeddedQueue_
                      ->publish(source["reply_to"].get<std::string>(),
                                codeq::makeEnvelope(d.envelope.tenant, "cs.results.v1", result))
                      .ok());
    });
    ASSERT_TRUE(subscription.ok()) << subscription.error().message;
    invokerSubscription_ = std::move(*subscription);
  }
  void TearDown() override {
    embeddedRequestReply_->stop();
    invokerSubscription_.reset();
    embeddedQueue_->stop();
    ControlApiTest::TearDown();
  }
  bool waitInvocations(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return invocations_.size() >= n; });
  }

  std::unique_ptr<codeq::EmbeddedQueue> embeddedQueue_;
  std::unique_ptr<codeq::RequestReply> embeddedRequestReply_;
  std::unique_ptr<codeq::Subscription> invokerSubscription_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> invocations_;
};

TEST_F(ControlApiEmbeddedQueueTest, SyncInvokeRoundTrip) {
  setUpInvocable();
  auto c = dispatch("POST", std::string(kFnPath) + ":invoke",
                    json{{"ref", {{"alias", "live"}}}, {"event", {{"n", 1}}}}.dump(),
                    bearer({"invoker"}));
  ASSERT_TRUE(c->wait()) << "no response";
  std::lock_guard lock(c->mu);
  Reply r = toReply(*c);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "error");
  EXPECT_EQ(r.body["error"]["message"], "boom");
  EXPECT_EQ(r.body["duration_ms"], 7);
  ASSERT_EQ(r.body["logs"].size(), 1u);
  EXPECT_EQ(r.body["logs"][0]["message"], "ran");
  EXPECT_EQ(r.header("X-Activation-Id"), r.body["activation_id"]);
}

TEST_F(ControlApiEmbeddedQueueTest, AsyncInvokeReachesTheInvoker) {
  setUpInvocable();
  auto r = send("POST", std::string(kFnPath) + ":invoke",
                json{{"ref", {{"version", 1}}}, {"mode", "async"}}.dump(), bearer({"invoker"}));
  ASSERT_EQ(r.status, 202) << r.body.dump();
  ASSERT_TRUE(waitInvocations(1));
  std::lock_guard lock(mu_);
  EXPECT_EQ(invocations_[0]["activation_id"], r.body["activation_id"]);
  EXPECT_EQ(invocations_[0]["ref"]["version"], 1);
}

}  // namespace
}  // namespace cs::control
