// cs.kv (SPEC §8/§9): get/set/del of JSON values under the activation's tenant+namespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/api/manifest.h"
#include "internal/errors/errors.h"
#include "internal/kv/store.h"
#include "internal/runtime/engine.h"

namespace cs::hostapi {

struct KvLimits {
  size_t maxKeyBytes = 512;                     // user key, raw bytes
  size_t maxValueBytes = size_t{256} << 10;     // the value's JSON text
  int64_t maxTtlSeconds = int64_t{365} * 86400;  // 1 year
};

// Built per activation. Every storage key comes from kv::keys::userKv(tenant, ns, userKey)
// (percent-encoded user key), so no user key — whatever bytes it holds — can name another
// tenant's or namespace's data or a platform key. Checks, in order: arguments (shape, sizes:
// CS_VALIDATION_FAILED), op allowed by capability.ops, key starts with an allowed prefix
// (else CS_RUNTIME_CAPABILITY_DENIED naming op and key). An empty prefix list allows nothing.
// A trailing '*' on a prefix is ignored ("user:*" ≡ "user:"); prefixes are byte prefixes.
//
//   get(key)                     → the stored JSON value, or null when absent/expired
//   set(key, value, {ttlSeconds}) → null; value stored as JSON text; ttlSeconds integer
//                                   1..maxTtlSeconds, absent/null = no expiry
//   del(key)                     → true if a value was removed
// Storage errors keep their CS_KVROCKS_* codes.
class KvProvider final : public runtime::HostProvider {
 public:
  KvProvider(std::string tenant, std::string ns, api::KvCapability capability, kv::Store& store,
             KvLimits limits = {});

  std::string name() const override { return "kv"; }
  std::vector<std::string> methods() const override { return {"get", "set", "del"}; }
  Result<nlohmann::json> call(std::string_view method, const nlohmann::json& args,
                              int64_t deadlineMs) override;

  // The capability check alone (also used by tests): ok, or CS_RUNTIME_CAPABILITY_DENIED.
  Status authorize(std::string_view op, std::string_view userKey) const;

 private:
  Result<std::string> storageKey(std::string_view op, const nlohmann::json& key) const;
  Result<nlohmann::json> get(const nlohmann::json& args);
  Result<nlohmann::json> set(const nlohmann::json& args);
  Result<nlohmann::json> del(const nlohmann::json& args);

  std::string tenant_;
  std::string ns_;
  api::KvCapability capability_;
  kv::Store& store_;
  KvLimits limits_;
};

}  // namespace cs::hostapi
