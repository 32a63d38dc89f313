#include "internal/cli/local_runner.h"

#include <chrono>

#include "internal/api/manifest.h"
#include "internal/api/names.h"
#include "internal/api/validate.h"
#include "internal/bundle/bundle.h"
#include "internal/crypto/crypto.h"
#include "internal/fetch/fetch.h"
#include "internal/hostapi/codeq_provider.h"
#include "internal/hostapi/kv_provider.h"
#include "internal/kv/kvrocks_store.h"
#include "internal/kv/sqlite_store.h"

namespace cs::cli {

cs::Result<LocalRun> runLocal(runtime::Engine& engine, const LocalRunOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(options.dir, ec)) {
    return cs::Error{cs::ErrorCode::ValidationFailed,
                     "function directory " + options.dir.string() + " does not exist"};
  }
  auto files = bundle::readDirectory(options.dir);
  if (!files.ok()) return files.error();
  // The same size and path rules as a draft upload.
  if (auto packed = bundle::pack(*files); !packed.ok()) return packed.error();

  auto manifestFile = files->find("manifest.json");
  if (manifestFile == files->end()) {
    return cs::Error{cs::ErrorCode::ValidationManifestInvalid,
                     "manifest.json is missing in " + options.dir.string()};
  }
  auto manifest = api::parseManifest(manifestFile->second);
  if (!manifest.ok()) return manifest.error();
  if (files->count(manifest->entry) == 0) {
    return cs::Error{cs::ErrorCode::ValidationManifestInvalid,
                     "entry \"" + manifest->entry + "\" of manifest.json is not a file in " +
                         options.dir.string()};
  }
  auto event = api::parseJson(options.eventJson);
  if (!event.ok()) {
    return cs::Error{cs::ErrorCode::ValidationFailed, "event: " + event.error().message};
  }

  std::string function = std::filesystem::absolute(options.dir).lexically_normal().filename();
  if (!api::isValidName(api::NameKind::Function, function)) function = "local-function";

  LocalRun run;
  run.activationId = crypto::uuidV4();
  int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  nlohmann::json ctx = {
      {"activation_id", run.activationId},
      {"deadline_ms", nowMs + manifest->limits.timeoutMs},
      {"tenant", options.tenant},
      {"namespace", options.ns},
      {"function", function},
      {"version", nullptr},
      {"ref", nlohmann::json::object()},
      {"trigger", {{"type", "api"}}},
      {"principal", {{"sub", "local"}, {"roles", nlohmann::json::array()}}},
  };

  // Host APIs the manifest grants, with the same providers and checks as the invoker.
  std::unique_ptr<kv::Store> store;
  std::vector<std::unique_ptr<runtime::HostProvider>> providers;
  hostapi::Recorder recorder;
  const auto& caps = manifest->capabilities;
  if (caps.kv) {
    if (options.kvEndpoint.empty()) {
      kv::SqliteOptions memory;
      memory.path = ":memory:";
      auto opened = kv::makeSqliteStore(memory);
      if (!opened.ok()) return opened.error();
      store = std::move(*opened);
    } else {
      kv::KvrocksOptions remote;
      remote.addr = options.kvEndpoint;
      auto opened = kv::makeKvrocksStore(remote);
      if (!opened.ok()) return opened.error();
      store = std::move(*opened);
      if (auto ping = store->ping(); !ping.ok()) return ping.error();
    }
    providers.push_back(
        std::make_unique<hostapi::KvProvider>(options.tenant, options.ns, *caps.kv, *store));
  }
  if (caps.codeq) {
    providers.push_back(std::make_unique<hostapi::CodeqProvider>(
        hostapi::CodeqScope{options.tenant, options.ns, function, run.activationId}, *caps.codeq,
        recorder));
  }
  if (caps.http) {
    fetch::FetchSettings settings;
    settings.allowLoopbackForTests = options.allowLoopbackFetch;
    providers.push_back(fetch::makeHttpFetchProvider(&*caps.http, settings));
  }

  runtime::Invocation inv;
  inv.files = &*files;
  inv.entry = manifest->entry;
  inv.eventJson = event->dump();
  inv.ctxJson = ctx.dump();
  inv.limits.timeoutMs = manifest->limits.timeoutMs;
  inv.limits.memoryMb = static_cast<int>(manifest->limits.memoryMb);
  for (auto& provider : providers) inv.providers.push_back(provider.get());
  run.result = engine.run(inv);
  run.published = recorder.toJson();
  return run;
}

nlohmann::ordered_json toJson(const LocalRun& run) {
  nlohmann::json result = runtime::toJson(run.result);
  // Stable, readable key order: the fields of SPEC §16 first, flags after.
  nlohmann::ordered_json out = {{"activation_id", run.activationId}};
  for (const char* key : {"status", "result", "error", "logs", "duration_ms"}) {
    out[key] = result[key];
    result.erase(key);
  }
  for (auto& [key, value] : result.items()) out[key] = value;
  if (!run.published.empty()) out["published"] = run.published;
  return out;
}

}  // namespace cs::cli
