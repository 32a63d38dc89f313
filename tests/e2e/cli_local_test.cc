// End-to-end: the built `cs` binary on the sample function, as the README runs it.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"

namespace cs::e2e {
namespace {

const std::string kCs = std::string(CS_BINARY_DIR) + "/bin/cs";
const std::string kHello = std::string(CS_SOURCE_DIR) + "/examples/hello";

TEST(CliLocalE2E, SampleFunctionRunsAsTheReadmeShows) {
  auto r = sh(kCs + " fn test --path " + kHello + " --event " + kHello + "/event.json");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "success");
  EXPECT_EQ(j["result"]["statusCode"], 200);
  EXPECT_EQ(nlohmann::json::parse(j["result"]["body"].get<std::string>())["hello"], "agent");
  ASSERT_EQ(j["logs"].size(), 1u);
  EXPECT_NE(j["logs"][0]["message"].get<std::string>().find("greeting"), std::string::npos);
}

TEST(CliLocalE2E, BadPageCacheSettingIsReportedAndTheDefaultUsed) {
  auto r = sh("CS_V8_PAGE_CACHE_MB=lots " + kCs + " fn test --path " + kHello + " --event " +
              kHello + "/event.json 2>&1");
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_NE(r.out.find("CS_V8_PAGE_CACHE_MB: expected a whole number of MiB"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"status\":\"success\""), std::string::npos) << r.out;
}

TEST(CliLocalE2E, HttpShapedEventUsesTheQueryString) {
  auto r = sh("echo '{\"version\":\"2.0\",\"rawQueryString\":\"name=web\"}' | " + kCs +
              " fn test --path " + kHello + " --event -");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(nlohmann::json::parse(j["result"]["body"].get<std::string>())["hello"], "web");
}

TEST(CliLocalE2E, ClientErrorExitsOneWithCodeOnStderr) {
  auto r = sh(kCs + " fn test --path /nonexistent-dir 2>&1");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.out.find("CS_VALIDATION_FAILED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace cs::e2e
