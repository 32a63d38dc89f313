// The naming rules of SPEC §3, checked by hand-written scanners (no std::regex on user input).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "internal/errors/errors.h"

namespace cs::api {

enum class NameKind {
  Tenant,         // t_[a-z0-9]{6,32}
  Namespace,      // [a-z][a-z0-9_-]{2,63}
  Function,       // [a-z][a-z0-9_-]{2,63}
  Alias,          // [a-z][a-z0-9_-]{1,31}
  RequestId,      // req_ + [A-Za-z0-9_-], 8–64 chars in total
  DraftId,        // drf_ + [A-Za-z0-9_-]{8,60}
  Schedule,       // schedule names follow the function rule (our decision)
  WorkerBinding,  // Cadence worker binding names follow the function rule (our decision)
  ActivationId,   // canonical lower-case UUID (v1–v8 version nibble, RFC 4122 variant)
};

// "tenant", "namespace", "function", "alias", "request_id", "draft_id", ...
std::string_view nameKindLabel(NameKind kind);

// ok, or CS_VALIDATION_NAME_INVALID naming the kind and the (truncated, escaped) value.
Status validateName(NameKind kind, std::string_view value);
bool isValidName(NameKind kind, std::string_view value);

// A version path segment: decimal digits, no sign or leading zero, 1..2^53-1 (JSON-safe).
std::optional<int64_t> parseVersion(std::string_view text);

}  // namespace cs::api
