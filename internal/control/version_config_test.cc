#include "internal/control/version_config.h"

#include <gtest/gtest.h>

namespace cs::control {
namespace {

using nlohmann::json;

api::Manifest manifestWithKv() {
  api::Manifest m;
  m.limits.timeoutMs = 5000;
  m.limits.memoryMb = 64;
  m.limits.maxConcurrency = 3;
  m.capabilities.kv = api::KvCapability{{"cache/"}, {"get"}};
  return m;
}

TEST(ResolveVersionConfig, ManifestDefaultsWhenBodyIsEmpty) {
  json c = resolveVersionConfig(manifestWithKv(), json::object());
  EXPECT_EQ(c["timeout_ms"], 5000);
  EXPECT_EQ(c["memory_mb"], 64);
  EXPECT_EQ(c["max_concurrency"], 3);
  EXPECT_EQ(c["env"], json::object());
  EXPECT_EQ(c["secrets"], json::object());
  EXPECT_EQ(c["capabilities"]["kv"]["prefixes"], json({"cache/"}));
  EXPECT_EQ(c["authz"], json({{"invoke_http_roles", json::array()},
                              {"invoke_schedule_roles", json::array()},
                              {"invoke_cadence_roles", json::array()}}));
  // A null body config behaves like {}.
  EXPECT_EQ(resolveVersionConfig(manifestWithKv(), nullptr), c);
}

TEST(ResolveVersionConfig, BodyOverridesLimitsAndCapabilities) {
  json body = {{"timeout_ms", 100},
               {"max_concurrency", 1},
               {"capabilities", {{"codeq", {{"publishTopics", {"orders.*"}}}}}},
               {"authz", {{"invoke_http_roles", {"invoker"}}}},
               {"secrets", {{"KEY", "kv:tenant/payments/key"}}}};
  json c = resolveVersionConfig(manifestWithKv(), body);
  EXPECT_EQ(c["timeout_ms"], 100);
  EXPECT_EQ(c["memory_mb"], 64);
  EXPECT_EQ(c["max_concurrency"], 1);
  EXPECT_FALSE(c["capabilities"].contains("kv"));  // replaced, not merged
  EXPECT_EQ(c["capabilities"]["codeq"]["publishTopics"], json({"orders.*"}));
  EXPECT_EQ(c["authz"]["invoke_http_roles"], json({"invoker"}));
  EXPECT_EQ(c["authz"]["invoke_cadence_roles"], json::array());
  EXPECT_EQ(c["secrets"]["KEY"], "kv:tenant/payments/key");
  EXPECT_EQ(configTimeoutMs(c), 100);
  EXPECT_EQ(configRoles(c, "invoke_http_roles"), std::vector<std::string>{"invoker"});
}

TEST(ConfigReaders, MalformedConfigDeniesAndFallsBack) {
  EXPECT_EQ(configTimeoutMs(json::object()), 30000);
  EXPECT_EQ(configTimeoutMs(json{{"timeout_ms", "100"}}), 30000);
  EXPECT_EQ(configTimeoutMs(json{{"timeout_ms", 0}}), 30000);
  EXPECT_TRUE(configRoles(json::object(), "invoke_http_roles").empty());
  EXPECT_TRUE(
      configRoles(json{{"authz", {{"invoke_http_roles", "admin"}}}}, "invoke_http_roles").empty());
  EXPECT_EQ(
      configRoles(json{{"authz", {{"invoke_http_roles", {"a", 1, "b"}}}}}, "invoke_http_roles"),
      (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace cs::control
