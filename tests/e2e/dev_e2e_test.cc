// End-to-end through the CLI against `cs dev` (issue: vertical slice): the built `cs` binary
// starts the platform in a child process; every step is a `cs` command, as an agent runs it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"

namespace cs::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kCs = std::string(CS_BINARY_DIR) + "/bin/cs";
const std::string kExamples = std::string(CS_SOURCE_DIR) + "/examples";

class DevE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cs-dev-e2e-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    dev_ = new Background({kCs, "dev", "--port", "0", "--data-dir", (dir_ / "data").string(),
                           "--no-login", "--log-level", "warn"});
    std::string line = dev_->readLine();
    auto at = line.find("http://");
    ASSERT_NE(at, std::string::npos) << "cs dev said: " << line;
    apiUrl_ = line.substr(at, line.find(' ', at) - at);
    std::ifstream tokenFile(dir_ / "data" / "admin.token");
    std::getline(tokenFile, token_);
    ASSERT_FALSE(token_.empty());
    // The environment every `cs` command of this test runs with.
    env_ = "XDG_CONFIG_HOME=" + shellQuote((dir_ / "xdg").string()) +
           " CS_API_URL=" + shellQuote(apiUrl_) + " CS_TENANT=t_dev0001 CS_TOKEN=" +
           shellQuote(token_) + " ";
  }
  static void TearDownTestSuite() {
    if (dev_ != nullptr) {
      EXPECT_EQ(dev_->stop(SIGTERM), 0) << "cs dev must exit 0 on SIGTERM";
    }
    delete dev_;
    dev_ = nullptr;
    fs::remove_all(dir_);
  }

  static CmdResult cs(const std::string& args) { return sh(env_ + kCs + " " + args + " 2>&1"); }
  static CmdResult csOut(const std::string& args) {  // stdout only
    return sh(env_ + kCs + " " + args + " 2>/dev/null");
  }

  // Writes a function directory and publishes it as NAME@prod; returns the version.
  static int64_t deploy(const std::string& name, const std::string& js, const std::string& roles,
                        int timeoutMs = 3000) {
    fs::path fnDir = dir_ / name;
    fs::create_directories(fnDir);
    std::ofstream(fnDir / "function.js") << js;
    std::ofstream(fnDir / "manifest.json")
        << R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js",)"
        << R"("handler":"default","limits":{"timeoutMs":)" << timeoutMs << "}}";
    return deployDir(name, fnDir.string(), roles);
  }
  static int64_t deployDir(const std::string& name, const std::string& path,
                           const std::string& roles) {
    auto created = cs("fn create " + name);
    EXPECT_EQ(created.exitCode, 0) << created.out;
    auto upload = csOut("fn draft upload --path " + shellQuote(path) + " " + name);
    EXPECT_EQ(upload.exitCode, 0) << upload.out;
    auto draft = json::parse(upload.out, nullptr, false);
    if (draft.is_discarded() || !draft.contains("draft_id")) {
      ADD_FAILURE() << "draft upload said: " << upload.out;
      return -1;
    }
    auto publish = csOut("fn publish --draft " + draft["draft_id"].get<std::string>() +
                         " --alias prod --invoke-http-roles " + roles + " " + name);
    EXPECT_EQ(publish.exitCode, 0) << publish.out;
    auto v = json::parse(publish.out, nullptr, false);
    return v.is_object() && v.contains("version") ? v["version"].get<int64_t>() : -1;
  }

  static fs::path dir_;
  static Background* dev_;
  static std::string apiUrl_, token_, env_;
};
fs::path DevE2E::dir_;
Background* DevE2E::dev_ = nullptr;
std::string DevE2E::apiUrl_, DevE2E::token_, DevE2E::env_;

TEST_F(DevE2E, HappyPathApiAndHttpInvokes) {
  ASSERT_EQ(deployDir("hello", kExamples + "/hello", "developer"), 1);

  auto byAlias = csOut("fn invoke hello@prod --event " + kExamples + "/hello/event.json");
  ASSERT_EQ(byAlias.exitCode, 0) << byAlias.out;
  auto j = json::parse(byAlias.out);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(json::parse(j["result"]["body"].get<std::string>())["hello"], "agent");
  EXPECT_EQ(json::parse(j["result"]["body"].get<std::string>())["trigger"], "api");
  ASSERT_EQ(j["logs"].size(), 1u);

  auto byVersion = csOut("fn invoke hello@1");
  ASSERT_EQ(byVersion.exitCode, 0) << byVersion.out;
  EXPECT_EQ(json::parse(byVersion.out)["status"], "success");

  auto web = csOut("http invoke '/v1/web/t_dev0001/default/hello/prod/greet?name=web'");
  ASSERT_EQ(web.exitCode, 0) << web.out;
  ASSERT_TRUE(web.out.starts_with("status=200\n")) << web.out;
  auto body = json::parse(web.out.substr(web.out.find('\n') + 1));
  EXPECT_EQ(body["hello"], "web");
  EXPECT_EQ(body["trigger"], "http");
}

TEST_F(DevE2E, AsyncInvokeIsQueuedThenReadableWithLogs) {
  deploy("asyncfn", R"(export default async (e) => { console.log("step", 1); cs.log.warn({ e });
      return { statusCode: 201, body: "done" }; })",
         "developer");
  auto queued = csOut("fn invoke --mode async asyncfn@prod");
  ASSERT_EQ(queued.exitCode, 0) << queued.out;
  auto q = json::parse(queued.out);
  EXPECT_EQ(q["status"], "queued");
  std::string id = q["activation_id"];
  json record;
  for (int i = 0; i < 100; ++i) {
    auto got = csOut("activation get " + id);
    ASSERT_EQ(got.exitCode, 0) << got.out;
    record = json::parse(got.out);
    if (record["status"] == "success") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(record["status"], "success") << record.dump();
  auto logs = csOut("fn logs " + id);
  ASSERT_EQ(logs.exitCode, 0) << logs.out;
  auto l = json::parse(logs.out);
  ASSERT_EQ(l["logs"].size(), 2u) << logs.out;
  EXPECT_EQ(l["logs"][0]["message"], "step 1");
  EXPECT_EQ(l["logs"][1]["level"], "warn");
}

TEST_F(DevE2E, ExceptionSyntaxErrorAndTimeoutExitThree) {
  deploy("throws", "export default () => { throw new TypeError('bad input'); }", "developer");
  auto ex = csOut("fn invoke throws@prod");
  EXPECT_EQ(ex.exitCode, 3) << ex.out;
  auto e = json::parse(ex.out);
  EXPECT_EQ(e["status"], "error");
  EXPECT_EQ(e["error"]["type"], "Exception");
  EXPECT_EQ(e["error"]["code"], "CS_RUNTIME_EXCEPTION");
  EXPECT_EQ(e["error"]["message"], "TypeError: bad input");

  deploy("syntax", "export default () => { return 1 +; }", "developer");
  auto syn = csOut("fn invoke syntax@prod");
  EXPECT_EQ(syn.exitCode, 3) << syn.out;
  auto s = json::parse(syn.out);
  EXPECT_EQ(s["error"]["type"], "Exception");
  EXPECT_NE(s["error"]["message"].get<std::string>().find("SyntaxError"), std::string::npos);

  deploy("spins", "export default () => { for (;;) {} }", "developer", 300);
  auto to = csOut("fn invoke spins@prod");
  EXPECT_EQ(to.exitCode, 3) << to.out;
  auto t = json::parse(to.out);
  EXPECT_EQ(t["status"], "timeout");
  EXPECT_EQ(t["error"]["type"], "Timeout");
}

TEST_F(DevE2E, MissingRoleIsDeniedWithTheCode) {
  deploy("private", "export default () => 'secret'", "somebody-else");
  auto denied = cs("fn invoke private@prod");
  EXPECT_NE(denied.exitCode, 0) << denied.out;
  EXPECT_NE(denied.out.find("CS_AUTHZ_ROLE_MISSING"), std::string::npos) << denied.out;
  auto web = cs("http invoke /v1/web/t_dev0001/default/private/prod/");
  EXPECT_NE(web.exitCode, 0);
  EXPECT_TRUE(web.out.starts_with("status=403")) << web.out;
}

TEST_F(DevE2E, LocalTestEqualsRemoteInvoke) {
  const std::string js = R"(export default async (event, ctx) => {
      console.log("got", event.n); cs.log.error("careful");
      if (event.fail) throw new Error("asked to fail");
      return { statusCode: 202, headers: { "x-n": String(event.n) }, body: JSON.stringify({ double: event.n * 2 }) };
    })";
  deploy("parity", js, "developer");
  for (const std::string event : {R"({"n":21})", R"({"n":1,"fail":true})"}) {
    std::ofstream(dir_ / "event.json") << event;
    auto local = csOut("fn test --path " + (dir_ / "parity").string() + " --event " +
                       (dir_ / "event.json").string());
    auto remote = csOut("fn invoke parity@prod --event " + (dir_ / "event.json").string());
    EXPECT_EQ(local.exitCode, remote.exitCode) << local.out << remote.out;
    auto a = json::parse(local.out), b = json::parse(remote.out);
    // Apart from ids and timings, the outputs are equal.
    for (auto* j : {&a, &b}) {
      j->erase("activation_id");
      j->erase("version");  // the remote run names the version it resolved
      j->erase("duration_ms");
      for (auto& entry : (*j)["logs"]) entry.erase("ts_ms");
      if ((*j)["error"].is_object()) (*j)["error"].erase("stack");
    }
    EXPECT_EQ(a, b) << "local: " << a.dump() << "\nremote: " << b.dump();
  }
}

TEST_F(DevE2E, HealthAndMetricsEndpoints) {
  auto healthz = sh("curl -s -o /dev/null -w '%{http_code}' " + apiUrl_ + "/healthz");
  EXPECT_EQ(healthz.out, "200");
  auto readyz = sh("curl -s -o /dev/null -w '%{http_code}' " + apiUrl_ + "/readyz");
  EXPECT_EQ(readyz.out, "200");
  auto jwks = sh("curl -s " + apiUrl_ + "/.well-known/jwks.json");
  EXPECT_NE(jwks.out.find("\"kid\""), std::string::npos) << jwks.out;
  // After the invokes above (or at least this one), invocation metrics are exported.
  deploy("metered", "export default () => 1", "developer");
  ASSERT_EQ(csOut("fn invoke metered@prod").exitCode, 0);
  auto metrics = sh("curl -s " + apiUrl_ + "/metrics");
  EXPECT_NE(metrics.out.find("cs_invocations_total"), std::string::npos);
  EXPECT_NE(metrics.out.find("function=\"metered\""), std::string::npos);
  EXPECT_NE(metrics.out.find("cs_api_requests_total"), std::string::npos);
  // The runtime's heap page cache: isolates ran, so chunks came from it or were mapped fresh.
  auto sampled = [&](const std::string& name) {
    size_t at = metrics.out.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics.out.substr(at + name.size() + 2));
  };
  EXPECT_GT(sampled("cs_runtime_page_cache_hits_total") +
                sampled("cs_runtime_page_cache_misses_total"), 0) << metrics.out;
  EXPECT_GE(sampled("cs_runtime_page_cache_bytes"), 0);
  EXPECT_GT(sampled("cs_runtime_page_protect_calls_total"), 0);
}

}  // namespace
}  // namespace cs::e2e
