// Argument checks shared by the host providers. Arguments arrive as the JSON array of a JS
// call (undefined → null) written by hostile code, so every shape is checked here before use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::hostapi::detail {

// `args` must be an array of at most `maxArgs` items (a JS call with fewer arguments is fine:
// the missing ones read as null through arg()). CS_VALIDATION_FAILED otherwise.
Status checkArity(std::string_view what, const nlohmann::json& args, size_t maxArgs);
// args[i], or null when absent.
const nlohmann::json& arg(const nlohmann::json& args, size_t i);
// A user-supplied string quoted for an error message: JSON-escaped (so NUL, quotes and
// control bytes are visible) and cut to about `maxBytes`.
std::string quote(std::string_view s, size_t maxBytes = 128);
// Compact JSON text; invalid UTF-8 is replaced, never thrown on.
std::string dumpJson(const nlohmann::json& j);
// CS_RUNTIME_TIMEOUT when the steady-clock deadline has passed (no point starting I/O then).
Status checkDeadline(std::string_view what, int64_t deadlineMs);

}  // namespace cs::hostapi::detail
