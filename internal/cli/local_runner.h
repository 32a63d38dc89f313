// The local runner behind `cs fn test`: reads a function directory, validates the manifest
// and the event exactly like publish and the invoker do, and runs it in the same runtime.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"
#include "internal/runtime/engine.h"

namespace cs::cli {

struct LocalRun {
  std::string activationId;
  runtime::ActivationResult result;
  // cs.codeq.publish calls, recorded instead of sent: [{"topic","payload"}…].
  nlohmann::json published = nlohmann::json::array();
};

struct LocalRunOptions {
  std::filesystem::path dir = ".";
  std::string eventJson = "{}";
  std::string tenant = "t_local00";
  std::string ns = "default";
  // cs.kv: in-memory (empty for each run) unless a KVRocks/Redis "host:port" is given.
  std::string kvEndpoint;
  // cs.http.fetch may reach 127.0.0.0/8 and ::1 (local test servers).
  bool allowLoopbackFetch = false;
};

// Client errors (missing files, invalid manifest or event) come back as Error; a function
// that fails at run time is a LocalRun whose result says so.
cs::Result<LocalRun> runLocal(runtime::Engine& engine, const LocalRunOptions& options);

// {"activation_id", "status", "result", "error", "logs", "duration_ms"}: the shape that
// `cs fn invoke` prints too (runtime parity); plus "published" when the function called
// cs.codeq.publish (the local runner records messages instead of sending them).
nlohmann::ordered_json toJson(const LocalRun& run);

}  // namespace cs::cli
