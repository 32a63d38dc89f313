#include "internal/cli/cli.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "internal/api/manifest.h"
#include "internal/authn/jwks_verifier.h"
#include "internal/testing/redis_server.h"

namespace cs::cli {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome cs(std::vector<std::string> args, const std::string& stdinText = "") {
  std::vector<const char*> argv{"cs"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdinText);
  std::ostringstream out, err;
  int code = run(static_cast<int>(argv.size()), argv.data(), {in, out, err});
  return {code, out.str(), err.str()};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cs-cli-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& content) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << content;
  }
  void writeFunction(const std::string& js, int timeoutMs = 3000) {
    write("function.js", js);
    write("manifest.json", R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js",)"
                           R"("handler":"default","limits":{"timeoutMs":)" +
                               std::to_string(timeoutMs) + "}}");
  }
  fs::path dir_;
};

TEST_F(CliTest, InitScaffoldsAFunctionThatPasses) {
  auto init = cs({"fn", "init", "hello-fn", "--dir", (dir_ / "hello").string()});
  ASSERT_EQ(init.code, kExitOk) << init.err;
  for (const char* f : {"function.js", "manifest.json", "cs.d.ts"}) {
    EXPECT_TRUE(fs::exists(dir_ / "hello" / f)) << f;
  }
  std::ifstream manifestFile(dir_ / "hello" / "manifest.json");
  std::stringstream manifest;
  manifest << manifestFile.rdbuf();
  EXPECT_TRUE(api::parseManifest(manifest.str()).ok());

  auto test = cs({"fn", "test", "--path", (dir_ / "hello").string(), "--event", "-"},
                 R"({"name":"agent"})");
  ASSERT_EQ(test.code, kExitOk) << test.err << test.out;
  auto j = nlohmann::json::parse(test.out);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(nlohmann::json::parse(j["result"]["body"].get<std::string>())["hello"], "agent");
  EXPECT_EQ(j["logs"].size(), 1u);

  // A second init refuses to overwrite.
  auto again = cs({"fn", "init", "hello-fn", "--dir", (dir_ / "hello").string()});
  EXPECT_EQ(again.code, kExitClientError);
}

TEST_F(CliTest, InitRejectsAnInvalidName) {
  auto r = cs({"fn", "init", "Bad Name", "--dir", dir_.string()});
  EXPECT_EQ(r.code, kExitClientError);
  EXPECT_NE(r.err.find("CS_VALIDATION_NAME_INVALID"), std::string::npos) << r.err;
}

TEST_F(CliTest, TestPrintsExactlyOneJsonObjectWithTheParityShape) {
  writeFunction("export default (e) => { console.log('got', e); return { statusCode: 202, body: 'ok' }; }");
  write("event.json", R"({"a":1})");
  auto r = cs({"fn", "test", "--path", dir_.string(), "--event", (dir_ / "event.json").string()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"status", "result", "error", "logs", "duration_ms", "activation_id"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["result"]["statusCode"], 202);
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["logs"][0]["message"], R"(got {"a":1})");
  EXPECT_EQ(j["logs"][0]["level"], "info");
}

TEST_F(CliTest, RuntimeErrorsExitThree) {
  writeFunction("export default () => { throw new RangeError('nope'); }");
  auto r = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(r.code, kExitRuntimeError);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["error"]["type"], "Exception");
  EXPECT_EQ(j["error"]["code"], "CS_RUNTIME_EXCEPTION");
  EXPECT_EQ(j["error"]["message"], "RangeError: nope");
}

TEST_F(CliTest, TimeoutExitsThree) {
  writeFunction("export default () => { for (;;) {} }", 100);
  auto r = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(r.code, kExitRuntimeError);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "timeout");
  EXPECT_EQ(j["error"]["type"], "Timeout");
  EXPECT_EQ(j["error"]["code"], "CS_RUNTIME_TIMEOUT");
}

TEST_F(CliTest, ClientErrorsExitOneWithTheCode) {
  // No manifest.
  write("function.js", "export default () => 1");
  auto noManifest = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(noManifest.code, kExitClientError);
  EXPECT_NE(noManifest.err.find("CS_VALIDATION_MANIFEST_INVALID"), std::string::npos);
  EXPECT_TRUE(noManifest.out.empty());

  // Invalid manifest (out of range timeout).
  write("manifest.json", R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js","handler":"default","limits":{"timeoutMs":0}})");
  auto badManifest = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(badManifest.code, kExitClientError);
  EXPECT_NE(badManifest.err.find("CS_VALIDATION_MANIFEST_INVALID"), std::string::npos);
  EXPECT_NE(badManifest.err.find("timeoutMs"), std::string::npos) << badManifest.err;

  // Bad event JSON.
  writeFunction("export default () => 1");
  auto badEvent = cs({"fn", "test", "--path", dir_.string(), "--event", "-"}, "{not json");
  EXPECT_EQ(badEvent.code, kExitClientError);
  EXPECT_NE(badEvent.err.find("CS_VALIDATION_FAILED"), std::string::npos);

  // Missing directory, missing event file, entry missing.
  EXPECT_EQ(cs({"fn", "test", "--path", (dir_ / "nope").string()}).code, kExitClientError);
  EXPECT_EQ(cs({"fn", "test", "--path", dir_.string(), "--event", "/nonexistent.json"}).code,
            kExitClientError);
  fs::remove(dir_ / "function.js");
  auto noEntry = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(noEntry.code, kExitClientError);
  EXPECT_NE(noEntry.err.find("entry"), std::string::npos);
}

TEST_F(CliTest, UnknownCommandsAndFlagsAreClientErrors) {
  EXPECT_EQ(cs({"nope"}).code, kExitClientError);
  EXPECT_EQ(cs({"fn", "test", "--bogus"}).code, kExitClientError);
  EXPECT_EQ(cs({}).code, kExitClientError);
  auto help = cs({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_NE(help.out.find("fn"), std::string::npos);
}

TEST_F(CliTest, KeysGenAndTokenMintProduceVerifiableTokens) {
  auto gen = cs({"keys", "gen", "--out", (dir_ / "keys").string()});
  ASSERT_EQ(gen.code, kExitOk) << gen.err;
  auto info = nlohmann::json::parse(gen.out);
  EXPECT_TRUE(fs::exists(info["private_key"].get<std::string>()));
  auto mint = cs({"token", "mint", "--key", (dir_ / "keys" / "private.pem").string(), "--tenant",
                  "t_acme0001", "--sub", "agent-7", "--roles", "developer,invoker", "--ttl", "600"});
  ASSERT_EQ(mint.code, kExitOk) << mint.err;
  std::string token = mint.out.substr(0, mint.out.find('\n'));
  std::ifstream jwksFile(dir_ / "keys" / "jwks.json");
  std::stringstream jwks;
  jwks << jwksFile.rdbuf();
  auto verifier = authn::JwksVerifier::create(jwks.str(), {});
  ASSERT_TRUE(verifier.ok()) << verifier.error().message;
  auto principal = (*verifier)->verify(token);
  ASSERT_TRUE(principal.ok()) << principal.error().message;
  EXPECT_EQ(principal->tenant, "t_acme0001");
  EXPECT_EQ(principal->sub, "agent-7");
  EXPECT_EQ(principal->roles, (std::vector<std::string>{"developer", "invoker"}));
  // A second gen into the same directory refuses to overwrite the key.
  EXPECT_NE(cs({"keys", "gen", "--out", (dir_ / "keys").string()}).code, kExitOk);
  // Bad tenant → client error with the code.
  auto bad = cs({"token", "mint", "--key", (dir_ / "keys" / "private.pem").string(), "--tenant",
                 "acme", "--sub", "x"});
  EXPECT_EQ(bad.code, kExitClientError);
  EXPECT_NE(bad.err.find("CS_VALIDATION_NAME_INVALID"), std::string::npos) << bad.err;
}

TEST_F(CliTest, AuthLoginStoresCredentialsAndWhoamiReadsThem) {
  ::setenv("XDG_CONFIG_HOME", (dir_ / "xdg").c_str(), 1);
  ::unsetenv("CS_API_URL");
  ::unsetenv("CS_TOKEN");
  ::unsetenv("CS_TENANT");
  EXPECT_EQ(cs({"auth", "whoami"}).code, kExitClientError);  // not logged in yet
  // header.payload.signature with payload {"sub":"agent-1"}
  std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2ln";
  auto login = cs({"auth", "login", "--tenant", "t_acme0001", "--token", token, "--api-url",
                   "http://127.0.0.1:8080/"});
  ASSERT_EQ(login.code, kExitOk) << login.err;
  EXPECT_TRUE(fs::exists(dir_ / "xdg" / "code-sous" / "auth.json"));
  EXPECT_EQ(fs::status(dir_ / "xdg" / "code-sous" / "auth.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto who = cs({"auth", "whoami"});
  ASSERT_EQ(who.code, kExitOk) << who.err;
  auto j = nlohmann::json::parse(who.out);
  EXPECT_EQ(j["tenant"], "t_acme0001");
  EXPECT_EQ(j["subject"], "agent-1");
  EXPECT_EQ(j["api_url"], "http://127.0.0.1:8080");
  EXPECT_EQ(cs({"auth", "login", "--tenant", "bad", "--token", token, "--api-url", "http://x"}).code,
            kExitClientError);
  EXPECT_EQ(cs({"auth", "login", "--tenant", "t_acme0001", "--token", token, "--api-url", "ftp://x"}).code,
            kExitClientError);
  ::unsetenv("XDG_CONFIG_HOME");
}

TEST_F(CliTest, LocalRunnerProvidesKvAndRecordsCodeqPublishes) {
  write("function.js", R"(export default async () => {
      await cs.kv.set("user:a", { n: 1 });
      const got = await cs.kv.get("user:a");
      let denied = null;
      try { await cs.kv.set("other:x", 1); } catch (e) { denied = e.code; }
      await cs.codeq.publish("orders.created", { id: 7 });
      return { got, denied };
    })");
  write("manifest.json", R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js","handler":"default",
      "capabilities":{"kv":{"prefixes":["user:"],"ops":["get","set"]},"codeq":{"publishTopics":["orders.*"]}}})");
  auto r = cs({"fn", "test", "--path", dir_.string()});
  ASSERT_EQ(r.code, kExitOk) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out);
  auto body = nlohmann::json::parse(j["result"]["body"].get<std::string>());
  EXPECT_EQ(body["got"]["n"], 1);
  EXPECT_EQ(body["denied"], "CS_RUNTIME_CAPABILITY_DENIED");
  ASSERT_EQ(j["published"].size(), 1u) << r.out;
  EXPECT_EQ(j["published"][0]["topic"], "orders.created");
  EXPECT_EQ(j["published"][0]["payload"]["id"], 7);
}

TEST_F(CliTest, LocalRunnerKvEndpointPersistsAcrossRuns) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.ok()) << redis.error();
  write("function.js", R"(export default async () => {
      const n = ((await cs.kv.get("c:count")) || 0) + 1;
      await cs.kv.set("c:count", n);
      return n;
    })");
  write("manifest.json", R"({"schema":"cs.function.script.v1","runtime":"cs-js","entry":"function.js","handler":"default",
      "capabilities":{"kv":{"prefixes":["c:"],"ops":["get","set"]}}})");
  for (int expected : {1, 2}) {
    auto r = cs({"fn", "test", "--path", dir_.string(), "--kv-endpoint", redis.addr()});
    ASSERT_EQ(r.code, kExitOk) << r.err << r.out;
    EXPECT_EQ(nlohmann::json::parse(r.out)["result"]["body"], std::to_string(expected));
  }
  // In-memory by default: every run starts empty.
  auto memory = cs({"fn", "test", "--path", dir_.string()});
  EXPECT_EQ(nlohmann::json::parse(memory.out)["result"]["body"], "1");
  redis.stop();
  auto down = cs({"fn", "test", "--path", dir_.string(), "--kv-endpoint", redis.addr()});
  EXPECT_NE(down.code, kExitOk);
  EXPECT_NE(down.err.find("CS_KVROCKS_UNAVAILABLE"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace cs::cli
