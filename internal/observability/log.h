// Structured JSON logs (SPEC §13): one JSON object per line with ts_ms, level, service, msg,
// the request context (request_id, tenant, namespace, function, activation_id) when known,
// and free fields. Modules take a Logger (an interface) so tests can inject a no-op or a
// capturing one; services build the spdlog-backed one from the config's level string.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::observability {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

// "trace" | "debug" | "info" | "warn" (or "warning") | "error" | "off", case-insensitive.
Result<LogLevel> parseLogLevel(std::string_view text);
std::string_view logLevelName(LogLevel level);

// Context fields; empty ones are left out of the line.
struct LogContext {
  std::string requestId;
  std::string tenant;
  std::string ns;  // namespace
  std::string function;
  std::string activationId;
};

// Thread-safe. Fixed fields win over free fields of the same name.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const = 0;
  virtual void log(LogLevel level, std::string_view msg, const LogContext& context,
                   const nlohmann::json& fields) = 0;

  void debug(std::string_view msg, const LogContext& context = {},
             const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::Debug, msg, context, fields);
  }
  void info(std::string_view msg, const LogContext& context = {},
            const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::Info, msg, context, fields);
  }
  void warn(std::string_view msg, const LogContext& context = {},
            const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::Warn, msg, context, fields);
  }
  void error(std::string_view msg, const LogContext& context = {},
             const nlohmann::json& fields = nlohmann::json::object()) {
    log(LogLevel::Error, msg, context, fields);
  }
};

// The JSON object of one line (shared by every Logger implementation).
nlohmann::json formatLogLine(int64_t tsMs, LogLevel level, std::string_view service,
                             std::string_view msg, const LogContext& context,
                             const nlohmann::json& fields);

enum class LogSink { Stderr, Stdout, File };

struct LoggerOptions {
  std::string service = "cs";
  LogLevel level = LogLevel::Info;
  LogSink sink = LogSink::Stderr;
  std::string filePath;            // for LogSink::File (appended)
  std::function<int64_t()> nowMs;  // wall clock in ms; default system_clock
};

// spdlog-backed JSON-lines logger. Throws on a file that cannot be opened (start-up only).
std::shared_ptr<Logger> makeJsonLogger(LoggerOptions options);

// Discards everything.
class NoopLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return false; }
  void log(LogLevel, std::string_view, const LogContext&, const nlohmann::json&) override {}
};

// Keeps the formatted lines in memory (tests).
class CapturingLogger final : public Logger {
 public:
  explicit CapturingLogger(std::string service = "test", LogLevel level = LogLevel::Trace,
                           std::function<int64_t()> nowMs = nullptr);
  bool enabled(LogLevel level) const override;
  void log(LogLevel level, std::string_view msg, const LogContext& context,
           const nlohmann::json& fields) override;
  // Each entry is one line as it would be written (a JSON text).
  std::vector<std::string> lines() const;

 private:
  std::string service_;
  LogLevel level_;
  std::function<int64_t()> nowMs_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace cs::observability
