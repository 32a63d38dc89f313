// The cs-js runtime (SPEC §9): runs one activation of a function in a fresh V8 isolate.
//
// This header is V8-free on purpose (STYLE §4): other modules see Engine, Invocation and
// ActivationResult, and get a V8 engine from makeV8Engine(). <v8.h> is included only in
// internal/runtime/*.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/errors/errors.h"

namespace cs::runtime {

// Relative path inside the bundle → file bytes (UTF-8 source for .js files).
using SourceFiles = std::map<std::string, std::string>;

// A host API provider: one object `cs.<name>` whose methods forward to call(). Providers are
// built per activation by the invoker from the version's capabilities, so a provider only ever
// sees calls of the activation it was built for. call() runs on the activation's thread and
// must return before `deadlineMs` (steady-clock ms, see nowSteadyMs()).
class HostProvider {
 public:
  virtual ~HostProvider() = default;
  // The property name under `cs`, e.g. "kv".
  virtual std::string name() const = 0;
  // The method names, e.g. {"get", "set", "del"}.
  virtual std::vector<std::string> methods() const = 0;
  // args is the JSON array of the JS call's arguments (undefined → null). A returned Error
  // becomes a rejected promise: a JS Error whose `code` is the CS_* name of the error code.
  virtual cs::Result<nlohmann::json> call(std::string_view method, const nlohmann::json& args,
                                          int64_t deadlineMs) = 0;
};

struct Limits {
  int64_t timeoutMs = 30000;
  int memoryMb = 128;
  size_t maxLogBytes = 1 << 20;
  size_t maxResultBytes = 256 << 10;
  size_t maxErrorBytes = 64 << 10;
  size_t maxStackBytes = 8 << 10;
};

struct Invocation {
  const SourceFiles* files = nullptr;  // not owned; must outlive run()
  std::string entry = "function.js";
  std::string eventJson = "null";  // the handler's first argument, as JSON text
  std::string ctxJson = "{}";      // the handler's second argument, as JSON text
  Limits limits;
  std::vector<HostProvider*> providers;  // not owned
  // Values (e.g. resolved secrets) to replace by "[REDACTED]" in logs, errors and results.
  std::vector<std::string> redact;
};

// User-code outcome as a value (STYLE §7); mapped once to SPEC statuses by statusName().
enum class Outcome { Success, Exception, InvalidResult, Timeout, MemoryLimit, CapabilityDenied };

struct LogEntry {
  std::string level;  // info | warn | error
  int64_t tsMs = 0;   // wall clock, ms since epoch
  std::string message;
};

// The normalised function response (API-Gateway-v2 style).
struct FunctionResponse {
  int statusCode = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  bool isBase64Encoded = false;
};

struct ErrorDetail {
  std::string type;  // Exception | Timeout | MemoryLimit | CapabilityDenied
  cs::ErrorCode code = cs::ErrorCode::RuntimeException;
  std::string message;
  std::string stack;
};

struct ActivationResult {
  Outcome outcome = Outcome::Success;
  std::optional<FunctionResponse> response;
  std::optional<ErrorDetail> error;
  std::vector<LogEntry> logs;
  bool logsTruncated = false;
  bool resultTruncated = false;
  int64_t durationMs = 0;
};

// "success" | "error" | "timeout".
std::string_view statusName(Outcome outcome);

// The runtime-parity JSON shape printed by `cs fn test` and `cs fn invoke`:
// {"status","result","error":{"type","code","message","stack"},"logs":[…],"duration_ms"}.
nlohmann::json toJson(const ActivationResult& result);
nlohmann::json toJson(const FunctionResponse& response);

// Monotonic milliseconds, the clock of deadlines handed to providers.
int64_t nowSteadyMs();

struct EngineOptions {
  // Fresh isolates created ahead of time on a background thread, so an activation does not
  // wait for isolate creation. Each isolate still serves exactly one activation. 0 disables.
  size_t warmIsolates = 2;
  // The memoryMb the warm isolates are built for (the heap limit is fixed at creation); other
  // sizes create their isolate on demand.
  int warmMemoryMb = 128;
};

// Runs activations. Thread-safe: run() may be called from many threads at once; each call
// uses its own isolate on the calling thread.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual ActivationResult run(const Invocation& invocation) = 0;
};

std::unique_ptr<Engine> makeV8Engine(const EngineOptions& options = {});

// The process-wide heap page cache (docs/runtime.md): chunks reused and allocated fresh since
// start, and what it holds now. All zero when it is off (CS_V8_PAGE_CACHE_MB=0) or before the
// first engine exists.
struct PageCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t cachedChunks = 0;
  uint64_t cachedBytes = 0;
  uint64_t protectCalls = 0;     // mprotect calls made
  uint64_t protectsSkipped = 0;  // permission changes already in effect, not sent
};
PageCacheStats pageCacheStats();

}  // namespace cs::runtime
