// The function manifest (cs.function.script.v1, SPEC §8) as a typed value with the SPEC §14
// defaults filled in. Parsed by cs-control at publish and again by the invoker at execution.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::api {

inline constexpr std::string_view kManifestSchema = "cs.function.script.v1";
inline constexpr std::string_view kRuntimeCsJs = "cs-js";

struct ManifestLimits {
  int64_t timeoutMs = 30000;   // SPEC §14 worker timeout (max 900000)
  int64_t memoryMb = 128;
  int64_t maxConcurrency = 10;
};

struct KvCapability {
  std::vector<std::string> prefixes;
  std::vector<std::string> ops;  // subset of get, set, del
  bool allowsOp(std::string_view op) const;
};

struct CodeqCapability {
  std::vector<std::string> publishTopics;  // a trailing '*' is a prefix wildcard
  bool allowsTopic(std::string_view topic) const;
};

struct HttpCapability {
  std::vector<std::string> allowHosts;
  int64_t timeoutMs = 3000;  // SPEC §14 HTTP timeout (max 30000)
};

// An absent capability grants nothing.
struct Capabilities {
  std::optional<KvCapability> kv;
  std::optional<CodeqCapability> codeq;
  std::optional<HttpCapability> http;
};

struct Manifest {
  std::string schema = std::string(kManifestSchema);
  std::string runtime = std::string(kRuntimeCsJs);
  std::string entry = "function.js";
  std::string handler = "default";
  ManifestLimits limits;
  Capabilities capabilities;
};

// Parse + validate + defaults. Every failure (bad JSON included) is
// CS_VALIDATION_MANIFEST_INVALID with a message naming the field.
Result<Manifest> parseManifest(std::string_view jsonText);
Result<Manifest> manifestFromJson(const nlohmann::json& doc);

// Full form with every default written out; always passes validateManifest.
nlohmann::json toJson(const Manifest& manifest);

}  // namespace cs::api
