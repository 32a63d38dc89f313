// End-to-end in distributed mode: separate cs-control, cs-http-gateway and two cs-invoker-pool
// processes on a real redis-server (kvrocks store driver + streams queue driver), tokens minted
// with `cs token mint` and verified through `jwks_file`. Every step is a `cs` command.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "internal/testing/redis_server.h"
#include "tests/e2e/process.h"

namespace cs::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kBin = std::string(CS_BINARY_DIR) + "/bin/";
const std::string kExamples = std::string(CS_SOURCE_DIR) + "/examples";

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int httpStatus(const std::string& url) {
  auto r = sh("curl -s -o /dev/null -m 2 -w '%{http_code}' " + url);
  return std::atoi(r.out.c_str());
}

bool waitFor(const std::function<bool()>& done, int timeoutMs = 15000) {
  for (int waited = 0; waited < timeoutMs; waited += 50) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

class DistributedE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("cs-dist-e2e-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    redis_ = std::make_unique<testing::RedisServer>();
    ASSERT_TRUE(redis_->ok()) << redis_->error();

    auto keys = sh(kBin + "cs keys gen --out " + (dir_ / "keys").string());
    ASSERT_EQ(keys.exitCode, 0) << keys.out;
    auto token = sh(kBin + "cs token mint --key " + (dir_ / "keys/private.pem").string() +
                    " --tenant t_dist0001 --sub agent --roles developer,invoker --iss cs-e2e"
                    " --aud code-sous --ttl 3600");
    ASSERT_EQ(token.exitCode, 0) << token.out;
    token_ = token.out.substr(0, token.out.find('\n'));

    controlPort_ = freePort();
    gatewayPort_ = freePort();
    invokerPorts_[0] = freePort();
    invokerPorts_[1] = freePort();
    std::ofstream(dir_ / "config.yaml")
        << "plugins:\n"
        << "  authn:\n    driver: tikti\n    tikti:\n"
        << "      jwks_file: " << (dir_ / "keys/jwks.json").string() << "\n"
        << "      issuer: cs-e2e\n      audience: code-sous\n"
        << "  persistence:\n    driver: kvrocks\n    kvrocks:\n      addr: " << redis_->addr()
        << "\n"
        << "  messaging:\n    driver: streams\n"
        << "logging:\n  level: warn\n"
        << "cs_control:\n  http:\n    addr: 127.0.0.1:" << controlPort_ << "\n"
        << "cs_http_gateway:\n  http:\n    addr: 127.0.0.1:" << gatewayPort_ << "\n"
        << "cs_invoker_pool:\n  ack_timeout_ms: 2000\n  http:\n    addr: 127.0.0.1:"
        << invokerPorts_[0] << "\n";
    const std::string config = (dir_ / "config.yaml").string();
    control_ = std::make_unique<Background>(
        std::vector<std::string>{kBin + "cs-control", "--config", config});
    gateway_ = std::make_unique<Background>(
        std::vector<std::string>{kBin + "cs-http-gateway", "--config", config});
    startInvoker(0);
    startInvoker(1);
    for (uint16_t port : {controlPort_, gatewayPort_, invokerPorts_[0], invokerPorts_[1]}) {
      ASSERT_TRUE(waitFor([&] {
        return httpStatus("http://127.0.0.1:" + std::to_string(port) + "/readyz") == 200;
      })) << "service on port " << port << " never became ready";
    }
    env_ = "XDG_CONFIG_HOME=" + shellQuote((dir_ / "xdg").string()) +
           " CS_API_URL=http://127.0.0.1:" + std::to_string(controlPort_) +
           " CS_GATEWAY_URL=http://127.0.0.1:" + std::to_string(gatewayPort_) +
           " CS_TENANT=t_dist0001 CS_TOKEN=" + shellQuote(token_) + " ";
  }

  static void startInvoker(int i) {
    // The invoker's port comes from the environment override of its config key.
    invokers_[i] = std::make_unique<Background>(std::vector<std::string>{
        "/usr/bin/env", "CS_CS_INVOKER_POOL__HTTP__ADDR=127.0.0.1:" + std::to_string(invokerPorts_[i]),
        kBin + "cs-invoker-pool", "--config", (dir_ / "config.yaml").string()});
  }

  static void TearDownTestSuite() {
    // SIGTERM: stop taking work, finish in flight, exit 0.
    for (auto& p : invokers_) {
      if (p && p->running()) {
        EXPECT_EQ(p->stop(SIGTERM), 0) << "cs-invoker-pool exit code";
      }
      p.reset();
    }
    if (gateway_) {
      EXPECT_EQ(gateway_->stop(SIGTERM), 0) << "cs-http-gateway exit code";
    }
    if (control_) {
      EXPECT_EQ(control_->stop(SIGTERM), 0) << "cs-control exit code";
    }
    gateway_.reset();
    control_.reset();
    redis_.reset();
    fs::remove_all(dir_);
  }

  static CmdResult cs(const std::string& args) {
    return sh(env_ + kBin + "cs " + args + " 2>&1");
  }
  static CmdResult csOut(const std::string& args) {
    return sh(env_ + kBin + "cs " + args + " 2>/dev/null");
  }
  static void deploy(const std::string& name, const std::string& path) {
    ASSERT_EQ(cs("fn create " + name).exitCode, 0);
    auto upload = csOut("fn draft upload --path " + shellQuote(path) + " " + name);
    ASSERT_EQ(upload.exitCode, 0) << upload.out;
    std::string draft = json::parse(upload.out)["draft_id"];
    auto publish =
        csOut("fn publish --draft " + draft + " --alias prod --invoke-http-roles developer " + name);
    ASSERT_EQ(publish.exitCode, 0) << publish.out;
  }
  static void deployJs(const std::string& name, const std::string& js, int timeoutMs = 3000) {
    fs::create_directories(dir_ / name);
    std::ofstream(dir_ / name / "function.js") << js;
    std::ofstream(dir_ / name / "manifest.json")
        << R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js",)"
        << R"("handler":"default","limits":{"timeoutMs":)" << timeoutMs << "}}";
    deploy(name, (dir_ / name).string());
  }

  static fs::path dir_;
  static std::unique_ptr<testing::RedisServer> redis_;
  static std::unique_ptr<Background> control_, gateway_, invokers_[2];
  static uint16_t controlPort_, gatewayPort_, invokerPorts_[2];
  static std::string token_, env_;
};
fs::path DistributedE2E::dir_;
std::unique_ptr<testing::RedisServer> DistributedE2E::redis_;
std::unique_ptr<Background> DistributedE2E::control_, DistributedE2E::gateway_,
    DistributedE2E::invokers_[2];
uint16_t DistributedE2E::controlPort_, DistributedE2E::gatewayPort_,
    DistributedE2E::invokerPorts_[2];
std::string DistributedE2E::token_, DistributedE2E::env_;

TEST_F(DistributedE2E, CliScenariosAcrossSeparateProcesses) {
  deploy("hello", kExamples + "/hello");
  auto invoke = csOut("fn invoke hello@prod --event " + kExamples + "/hello/event.json");
  ASSERT_EQ(invoke.exitCode, 0) << invoke.out;
  auto j = json::parse(invoke.out);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(json::parse(j["result"]["body"].get<std::string>())["hello"], "agent");
  ASSERT_EQ(j["logs"].size(), 1u);

  auto web = csOut("http invoke '/v1/web/t_dist0001/default/hello/prod/x?name=dist'");
  ASSERT_EQ(web.exitCode, 0) << web.out;
  EXPECT_TRUE(web.out.starts_with("status=200\n")) << web.out;
  EXPECT_EQ(json::parse(web.out.substr(web.out.find('\n') + 1))["hello"], "dist");

  auto queued = csOut("fn invoke --mode async hello@1");
  ASSERT_EQ(queued.exitCode, 0) << queued.out;
  std::string id = json::parse(queued.out)["activation_id"];
  EXPECT_TRUE(waitFor([&] {
    auto got = csOut("activation get " + id);
    return got.exitCode == 0 && json::parse(got.out)["status"] == "success";
  }));
  auto logs = csOut("fn logs " + id);
  ASSERT_EQ(logs.exitCode, 0);
  EXPECT_EQ(json::parse(logs.out)["logs"].size(), 1u);

  deployJs("boom", "export default () => { throw new Error('boom'); }");
  auto boom = csOut("fn invoke boom@prod");
  EXPECT_EQ(boom.exitCode, 3);
  EXPECT_EQ(json::parse(boom.out)["error"]["type"], "Exception");

  deployJs("slow", "export default () => { for (;;) {} }", 300);
  auto slow = csOut("fn invoke slow@prod");
  EXPECT_EQ(slow.exitCode, 3);
  EXPECT_EQ(json::parse(slow.out)["status"], "timeout");

  auto noToken = sh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                    std::to_string(gatewayPort_) + "/v1/web/t_dist0001/default/hello/prod/");
  EXPECT_EQ(noToken.out, "401");
}

TEST_F(DistributedE2E, AuthzDeniedAndLocalRemoteParity) {
  deployJs("parity", R"(export default async (event) => {
      console.log("n", event.n); if (event.fail) throw new Error("asked to fail");
      return { statusCode: 202, headers: { "x-n": String(event.n) }, body: String(event.n * 2) };
    })");
  for (const std::string event : {R"({"n":21})", R"({"n":1,"fail":true})"}) {
    std::ofstream(dir_ / "event.json") << event;
    auto local = csOut("fn test --path " + (dir_ / "parity").string() + " --event " +
                       (dir_ / "event.json").string());
    auto remote = csOut("fn invoke parity@prod --event " + (dir_ / "event.json").string());
    EXPECT_EQ(local.exitCode, remote.exitCode) << local.out << remote.out;
    auto a = json::parse(local.out), b = json::parse(remote.out);
    for (auto* j : {&a, &b}) {
      for (const char* volatileKey : {"activation_id", "duration_ms", "version"}) j->erase(volatileKey);
      for (auto& entry : (*j)["logs"]) entry.erase("ts_ms");
      if ((*j)["error"].is_object()) (*j)["error"].erase("stack");
    }
    EXPECT_EQ(a, b) << "local: " << a.dump() << "\nremote: " << b.dump();
  }
  // A version whose allowlist the caller's roles miss.
  fs::create_directories(dir_ / "private");
  std::ofstream(dir_ / "private" / "function.js") << "export default () => 1";
  std::ofstream(dir_ / "private" / "manifest.json")
      << R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js","handler":"default"})";
  ASSERT_EQ(cs("fn create private").exitCode, 0);
  auto upload = csOut("fn draft upload --path " + (dir_ / "private").string() + " private");
  std::string draft = json::parse(upload.out)["draft_id"];
  ASSERT_EQ(cs("fn publish --draft " + draft + " --alias prod --invoke-http-roles ops private").exitCode, 0);
  auto denied = cs("fn invoke private@prod");
  EXPECT_NE(denied.exitCode, 0);
  EXPECT_NE(denied.out.find("CS_AUTHZ_ROLE_MISSING"), std::string::npos) << denied.out;
}

TEST_F(DistributedE2E, SchedulerAndCadencePollerProcessesServeProbesAndStopCleanly) {
  const std::string config = (dir_ / "config.yaml").string();
  for (const char* bin : {"cs-scheduler", "cs-cadence-poller"}) {
    uint16_t port = freePort();
    std::string key = std::string(bin) == "cs-scheduler" ? "CS_CS_SCHEDULER__HTTP__ADDR"
                                                        : "CS_CS_CADENCE_POLLER__HTTP__ADDR";
    Background process({"/usr/bin/env", key + "=127.0.0.1:" + std::to_string(port),
                        "CS_CS_CADENCE_POLLER__CADENCE__ADDR=127.0.0.1:7833", kBin + bin,
                        "--config", config});
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(waitFor([&] { return httpStatus(base + "/readyz") == 200; })) << bin;
    EXPECT_EQ(httpStatus(base + "/healthz"), 200) << bin;
    EXPECT_NE(sh("curl -s " + base + "/metrics").out.find("cs_scheduler_ticks_total"),
              std::string::npos)
        << bin;
    EXPECT_EQ(process.stop(SIGTERM), 0) << bin;
  }
  // A config missing a required field is refused with the field named, exit 1.
  auto bad = sh(kBin + "cs-scheduler --config /dev/null 2>&1");
  EXPECT_EQ(bad.exitCode, 1) << bad.out;
  EXPECT_NE(bad.out.find("plugins."), std::string::npos) << bad.out;
}

TEST_F(DistributedE2E, SigkillOfAnInvokerMidActivationLosesNothing) {
  // A function that runs for a while, so that an invoker can be killed while it runs it.
  deployJs("sleeper",
           "export default () => new Promise((r) => setTimeout(() => r({ body: 'woke' }), 1500))",
           8000);
  // Only invoker 0 is running when the request arrives.
  invokers_[1]->stop(SIGKILL);
  auto queued = csOut("fn invoke --mode async sleeper@prod");
  ASSERT_EQ(queued.exitCode, 0) << queued.out;
  std::string id = json::parse(queued.out)["activation_id"];
  ASSERT_TRUE(waitFor([&] {
    auto got = csOut("activation get " + id);
    return got.exitCode == 0 && json::parse(got.out)["status"] == "running";
  })) << "the activation never started";
  invokers_[0]->stop(SIGKILL);  // mid-activation
  startInvoker(1);
  ASSERT_TRUE(waitFor(
      [&] {
        return httpStatus("http://127.0.0.1:" + std::to_string(invokerPorts_[1]) + "/readyz") ==
               200;
      }));
  json record;
  ASSERT_TRUE(waitFor(
      [&] {
        auto got = csOut("activation get " + id);
        if (got.exitCode != 0) return false;
        record = json::parse(got.out);
        return record["status"] != "running" && record["status"] != "queued";
      },
      30000))
      << "no terminal record after the crash";
  EXPECT_TRUE(record["status"] == "success" || record["status"] == "timeout") << record.dump();
  // Exactly one result for the activation on cs.results.
  auto results = sh("redis-cli -p " + std::to_string(redis_->port()) +
                    " --scan --pattern '*cs.results*' | xargs -I{} redis-cli -p " +
                    std::to_string(redis_->port()) + " XRANGE {} - + | grep -c " + id);
  EXPECT_EQ(std::atoi(results.out.c_str()), 1) << results.out;
  startInvoker(0);
  ASSERT_TRUE(waitFor([&] {
    return httpStatus("http://127.0.0.1:" + std::to_string(invokerPorts_[0]) + "/readyz") == 200;
  }));
}

TEST_F(DistributedE2E, ReadyzFollowsTheStore) {
  const std::string readyz = "http://127.0.0.1:" + std::to_string(controlPort_) + "/readyz";
  EXPECT_EQ(httpStatus(readyz), 200);
  redis_->stop();
  EXPECT_TRUE(waitFor([&] { return httpStatus(readyz) == 503; }, 10000));
  // Publishing while the store is down is a 503, never a half-written version.
  auto down = cs("fn create downfn");
  EXPECT_NE(down.exitCode, 0);
  EXPECT_NE(down.out.find("UNAVAILABLE"), std::string::npos) << down.out;
  ASSERT_TRUE(redis_->start()) << redis_->error();
  EXPECT_TRUE(waitFor([&] { return httpStatus(readyz) == 200; }, 15000));
  EXPECT_EQ(cs("fn create upfn").exitCode, 0);
}

}  // namespace
}  // namespace cs::e2e
