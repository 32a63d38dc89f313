#include "internal/observability/log.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace cs::observability {
namespace {

nlohmann::json parse(const std::string& line) {
  return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
}

TEST(LogTest, LineCarriesFixedContextAndFreeFields) {
  CapturingLogger logger("cs-control", LogLevel::Info, [] { return int64_t{1700000000123}; });
  LogContext context;
  context.requestId = "req_abcdef";
  context.tenant = "t_abcdef";
  context.ns = "payments";
  context.function = "charge";
  context.activationId = "6f1c2a3e-0000-4000-8000-000000000001";
  logger.info("invoked", context, {{"duration_ms", 12}, {"msg", "free fields cannot win"}});

  auto lines = logger.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  auto j = parse(lines[0]);
  ASSERT_TRUE(j.is_object()) << lines[0];
  EXPECT_EQ(j["ts_ms"], 1700000000123);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "cs-control");
  EXPECT_EQ(j["msg"], "invoked");
  EXPECT_EQ(j["request_id"], "req_abcdef");
  EXPECT_EQ(j["tenant"], "t_abcdef");
  EXPECT_EQ(j["namespace"], "payments");
  EXPECT_EQ(j["function"], "charge");
  EXPECT_EQ(j["activation_id"], "6f1c2a3e-0000-4000-8000-000000000001");
  EXPECT_EQ(j["duration_ms"], 12);
}

TEST(LogTest, EmptyContextFieldsAreOmittedAndLevelsFilter) {
  CapturingLogger logger("svc", LogLevel::Warn);
  logger.info("dropped");
  logger.debug("dropped too");
  logger.warn("kept");
  logger.error("kept too", {}, {{"code", "CS_INTERNAL"}});
  auto lines = logger.lines();
  ASSERT_EQ(lines.size(), 2u);
  auto first = parse(lines[0]);
  EXPECT_EQ(first["level"], "warn");
  EXPECT_FALSE(first.contains("request_id"));
  EXPECT_FALSE(first.contains("tenant"));
  auto second = parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["code"], "CS_INTERNAL");
  EXPECT_FALSE(logger.enabled(LogLevel::Info));
  EXPECT_TRUE(logger.enabled(LogLevel::Error));
}

TEST(LogTest, ParseLevel) {
  EXPECT_EQ(parseLogLevel("INFO").value(), LogLevel::Info);
  EXPECT_EQ(parseLogLevel("warning").value(), LogLevel::Warn);
  EXPECT_EQ(parseLogLevel("debug").value(), LogLevel::Debug);
  EXPECT_EQ(parseLogLevel("off").value(), LogLevel::Off);
  auto bad = parseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::ValidationFailed);
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("loud"));
}

TEST(LogTest, JsonLoggerWritesOneParsableLinePerEvent) {
  auto path = std::filesystem::temp_directory_path() /
              ("cs_log_test_" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  {
    LoggerOptions options;
    options.service = "cs-invoker-pool";
    options.level = LogLevel::Info;
    options.sink = LogSink::File;
    options.filePath = path.string();
    options.nowMs = [] { return int64_t{42}; };
    auto logger = makeJsonLogger(options);
    LogContext context;
    context.activationId = "act-1";
    logger->info("first", context);
    logger->debug("filtered");
    logger->error("bad \xff utf8 and \"quotes\"\nnewline", {}, {{"n", 1}});
  }
  std::ifstream in(path);
  std::string line;
  std::vector<nlohmann::json> parsed;
  while (std::getline(in, line)) parsed.push_back(parse(line));
  std::filesystem::remove(path);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["msg"], "first");
  EXPECT_EQ(parsed[0]["service"], "cs-invoker-pool");
  EXPECT_EQ(parsed[0]["ts_ms"], 42);
  EXPECT_EQ(parsed[0]["activation_id"], "act-1");
  ASSERT_TRUE(parsed[1].is_object());
  EXPECT_EQ(parsed[1]["level"], "error");
  EXPECT_EQ(parsed[1]["n"], 1);
}

TEST(LogTest, NoopLoggerIsSilent) {
  NoopLogger logger;
  EXPECT_FALSE(logger.enabled(LogLevel::Error));
  logger.error("nothing happens");
}

}  // namespace
}  // namespace cs::observability
