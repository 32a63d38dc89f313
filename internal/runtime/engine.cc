#include "internal/runtime/engine.h"

#include <chrono>

namespace cs::runtime {

std::string_view statusName(Outcome outcome) {
  switch (outcome) {
    case Outcome::Success:
      return "success";
    case Outcome::Timeout:
      return "timeout";
    case Outcome::Exception:
    case Outcome::InvalidResult:
    case Outcome::MemoryLimit:
    case Outcome::CapabilityDenied:
      return "error";
  }
  return "error";
}

nlohmann::json toJson(const FunctionResponse& response) {
  return {{"statusCode", response.statusCode},
          {"headers", response.headers},
          {"body", response.body},
          {"isBase64Encoded", response.isBase64Encoded}};
}

nlohmann::json toJson(const ActivationResult& result) {
  nlohmann::json out;
  out["status"] = statusName(result.outcome);
  out["result"] = result.response ? toJson(*result.response) : nlohmann::json(nullptr);
  if (result.error) {
    out["error"] = {{"type", result.error->type},
                    {"code", std::string(cs::errorCodeName(result.error->code))},
                    {"message", result.error->message},
                    {"stack", result.error->stack}};
  } else {
    out["error"] = nullptr;
  }
  nlohmann::json logs = nlohmann::json::array();
  for (const auto& entry : result.logs) {
    logs.push_back({{"level", entry.level}, {"ts_ms", entry.tsMs}, {"message", entry.message}});
  }
  out["logs"] = std::move(logs);
  out["duration_ms"] = result.durationMs;
  if (result.logsTruncated) out["logs_truncated"] = true;
  if (result.resultTruncated) out["result_truncated"] = true;
  return out;
}

int64_t nowSteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace cs::runtime
