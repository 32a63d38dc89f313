#include "internal/observability/log.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace cs::observability {
namespace {

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dump(const nlohmann::json& line) {
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

spdlog::level::level_enum toSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return spdlog::level::trace;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Error:
      return spdlog::level::err;
    case LogLevel::Off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

class JsonLogger final : public Logger {
 public:
  explicit JsonLogger(LoggerOptions options) : options_(std::move(options)) {
    if (!options_.nowMs) options_.nowMs = systemNowMs;
    spdlog::sink_ptr sink;
    switch (options_.sink) {
      case LogSink::Stderr:
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        break;
      case LogSink::Stdout:
        sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
        break;
      case LogSink::File:
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options_.filePath);
        break;
    }
    // Not registered globally: no spdlog singletons (STYLE §9).
    logger_ = std::make_shared<spdlog::logger>(options_.service, std::move(sink));
    logger_->set_pattern("%v");  // the line is our JSON, nothing else
    logger_->set_level(toSpdlog(options_.level));
    logger_->flush_on(spdlog::level::trace);
  }

  bool enabled(LogLevel level) const override {
    return level != LogLevel::Off && level >= options_.level;
  }

  void log(LogLevel level, std::string_view msg, const LogContext& context,
           const nlohmann::json& fields) override {
    if (!enabled(level)) return;
    std::string line =
        dump(formatLogLine(options_.nowMs(), level, options_.service, msg, context, fields));
    logger_->log(toSpdlog(level), "{}", line);
  }

 private:
  LoggerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

Result<LogLevel> parseLogLevel(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "trace") return LogLevel::Trace;
  if (lower == "debug") return LogLevel::Debug;
  if (lower == "info") return LogLevel::Info;
  if (lower == "warn" || lower == "warning") return LogLevel::Warn;
  if (lower == "error") return LogLevel::Error;
  if (lower == "off") return LogLevel::Off;
  return Error{ErrorCode::ValidationFailed,
               "unknown log level '" + std::string(text) +
                   "' (expected trace, debug, info, warn, error or off)"};
}

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return "trace";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
    case LogLevel::Off:
      return "off";
  }
  return "info";
}

nlohmann::json formatLogLine(int64_t tsMs, LogLevel level, std::string_view service,
                             std::string_view msg, const LogContext& context,
                             const nlohmann::json& fields) {
  nlohmann::json line = nlohmann::json::object();
  if (fields.is_object()) {
    line = fields;
  } else if (!fields.is_null()) {
    line["fields"] = fields;  // a non-object is kept, not merged
  }
  line["ts_ms"] = tsMs;
  line["level"] = std::string(logLevelName(level));
  line["service"] = std::string(service);
  line["msg"] = std::string(msg);
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) line[key] = value;
  };
  put("request_id", context.requestId);
  put("tenant", context.tenant);
  put("namespace", context.ns);
  put("function", context.function);
  put("activation_id", context.activationId);
  return line;
}

std::shared_ptr<Logger> makeJsonLogger(LoggerOptions options) {
  return std::make_shared<JsonLogger>(std::move(options));
}

CapturingLogger::CapturingLogger(std::string service, LogLevel level,
                                 std::function<int64_t()> nowMs)
    : service_(std::move(service)), level_(level), nowMs_(std::move(nowMs)) {
  if (!nowMs_) nowMs_ = systemNowMs;
}

bool CapturingLogger::enabled(LogLevel level) const {
  return level != LogLevel::Off && level >= level_;
}

void CapturingLogger::log(LogLevel level, std::string_view msg, const LogContext& context,
                          const nlohmann::json& fields) {
  if (!enabled(level)) return;
  std::string line = dump(formatLogLine(nowMs_(), level, service_, msg, context, fields));
  std::lock_guard lock(mu_);
  lines_.push_back(std::move(line));
}

std::vector<std::string> CapturingLogger::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

}  // namespace cs::observability
