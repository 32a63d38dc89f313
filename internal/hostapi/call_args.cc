#include "internal/hostapi/call_args.h"

#include "internal/runtime/engine.h"

namespace cs::hostapi::detail {

using nlohmann::json;

Status checkArity(std::string_view what, const json& args, size_t maxArgs) {
  if (!args.is_array()) {
    return Error{ErrorCode::ValidationFailed, std::string(what) + ": arguments must be an array"};
  }
  if (args.size() > maxArgs) {
    return Error{ErrorCode::ValidationFailed, std::string(what) + " takes at most " +
                                                  std::to_string(maxArgs) + " argument(s), got " +
                                                  std::to_string(args.size())};
  }
  return okStatus();
}

const json& arg(const json& args, size_t i) {
  static const json kNull = nullptr;
  if (!args.is_array() || i >= args.size()) return kNull;
  return args[i];
}

std::string quote(std::string_view s, size_t maxBytes) {
  bool cut = s.size() > maxBytes;
  std::string text = dumpJson(json(std::string(cut ? s.substr(0, maxBytes) : s)));
  if (cut) text += "…";
  return text;
}

std::string dumpJson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status checkDeadline(std::string_view what, int64_t deadlineMs) {
  if (runtime::nowSteadyMs() >= deadlineMs) {
    return Error{ErrorCode::RuntimeTimeout, std::string(what) + ": the activation deadline passed"};
  }
  return okStatus();
}

}  // namespace cs::hostapi::detail
