#include "internal/api/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "internal/api/validate.h"

namespace cs::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string fixtureText(const std::string& name) {
  std::ifstream in(std::string(CS_SOURCE_DIR) + "/internal/api/testdata/" + name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ManifestTest, MinimalGetsSpecDefaults) {
  Result<Manifest> m = parseManifest(fixtureText("manifest_minimal.json"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->schema, "cs.function.script.v1");
  EXPECT_EQ(m->runtime, "cs-js");
  EXPECT_EQ(m->entry, "function.js");
  EXPECT_EQ(m->handler, "default");
  EXPECT_EQ(m->limits.timeoutMs, 30000);
  EXPECT_EQ(m->limits.memoryMb, 128);
  EXPECT_EQ(m->limits.maxConcurrency, 10);
  EXPECT_FALSE(m->capabilities.kv.has_value());
  EXPECT_FALSE(m->capabilities.codeq.has_value());
  EXPECT_FALSE(m->capabilities.http.has_value());
}

TEST(ManifestTest, FullIsReadFieldByField) {
  Result<Manifest> m = parseManifest(fixtureText("manifest_full.json"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->limits.timeoutMs, 5000);
  EXPECT_EQ(m->limits.memoryMb, 256);
  EXPECT_EQ(m->limits.maxConcurrency, 4);
  ASSERT_TRUE(m->capabilities.kv.has_value());
  EXPECT_EQ(m->capabilities.kv->prefixes, (std::vector<std::string>{"orders/", "cache/"}));
  EXPECT_TRUE(m->capabilities.kv->allowsOp("get"));
  EXPECT_TRUE(m->capabilities.kv->allowsOp("set"));
  EXPECT_FALSE(m->capabilities.kv->allowsOp("del"));
  ASSERT_TRUE(m->capabilities.codeq.has_value());
  EXPECT_TRUE(m->capabilities.codeq->allowsTopic("orders.created"));
  EXPECT_FALSE(m->capabilities.codeq->allowsTopic("orders.created.v2"));
  EXPECT_TRUE(m->capabilities.codeq->allowsTopic("audit.login"));
  EXPECT_FALSE(m->capabilities.codeq->allowsTopic("audi"));
  ASSERT_TRUE(m->capabilities.http.has_value());
  EXPECT_EQ(m->capabilities.http->allowHosts, (std::vector<std::string>{"api.example.com"}));
  EXPECT_EQ(m->capabilities.http->timeoutMs, 2000);
}

TEST(ManifestTest, HttpTimeoutDefaultsTo3000) {
  json doc = json::parse(fixtureText("manifest_minimal.json"));
  doc["capabilities"] = {{"http", {{"allowHosts", {"x.example"}}}}};
  Result<Manifest> m = manifestFromJson(doc);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->capabilities.http->timeoutMs, 3000);
}

TEST(ManifestTest, ToJsonRoundTripsAndValidates) {
  for (const char* name : {"manifest_minimal.json", "manifest_full.json"}) {
    Result<Manifest> m = parseManifest(fixtureText(name));
    ASSERT_TRUE(m.ok());
    const json out = toJson(*m);
    EXPECT_TRUE(validateManifest(out).ok()) << out.dump();
    Result<Manifest> again = manifestFromJson(out);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(toJson(*again), out);
  }
  // Defaults are written out in full.
  const json minimal = toJson(*parseManifest(fixtureText("manifest_minimal.json")));
  EXPECT_EQ(minimal["limits"]["timeoutMs"], 30000);
  EXPECT_EQ(minimal["capabilities"], json::object());
}

TEST(ManifestTest, InvalidFieldIsManifestInvalidNamingTheField) {
  Result<Manifest> m = parseManifest(fixtureText("manifest_bad_timeout.json"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::ValidationManifestInvalid);
  EXPECT_THAT(m.error().message, HasSubstr("/limits/timeoutMs"));
}

TEST(ManifestTest, BadJsonIsManifestInvalid) {
  for (const char* text : {"", "{", "[]", "null", "{\"schema\":1,}"}) {
    Result<Manifest> m = parseManifest(text);
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.error().code, ErrorCode::ValidationManifestInvalid) << text;
    EXPECT_THAT(m.error().message, HasSubstr("manifest")) << text;
  }
}

}  // namespace
}  // namespace cs::api
