// Argument checks and record building shared by the kv::Store drivers, so the embedded and
// kvrocks drivers accept and reject exactly the same inputs. Not for use outside drivers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"
#include "internal/kv/store.h"

namespace cs::kv::support {

inline constexpr size_t kMaxScanLimit = 10000;
inline constexpr size_t kMaxOwnerBytes = 256;

Status checkKey(std::string_view key);          // non-empty
Status checkTtl(std::optional<int64_t> ttlMs);  // nullopt or >= 1
Status checkOwner(std::string_view owner);      // 1..kMaxOwnerBytes
Status checkScanLimit(size_t limit);            // 1..kMaxScanLimit
Status checkScore(double score);                // not NaN

// Validated keys and record bytes of one publish. The version-dependent keys have a fixed
// prefix (`versionKeyPrefix` + v + ":meta" / ":bundle") so a Lua script can build them.
struct PublishPlan {
  std::string functionMetaKey;
  std::string versionSeqKey;
  std::string draftKey;
  std::string versionKeyPrefix;  // "cs:fn:{t}:{ns}:{fn}:ver:"
  std::optional<std::string> aliasKey;
  std::string versionMetaKey(int64_t v) const;
  std::string versionBundleKey(int64_t v) const;
};
Result<PublishPlan> planPublish(const PublishRequest& request);
std::string versionMetaJson(const PublishRequest& request, int64_t version);
std::string aliasJson(const PublishRequest& request, int64_t version);
// CS_NOT_FOUND unless `functionMetaJson` is a FunctionRecord without deleted_at_ms; a corrupt
// record is CS_KVROCKS_READ_FAILED.
Status checkFunctionLive(const std::optional<std::string>& functionMetaJson);
Error draftMissing();

// The "status" string of an activation record JSON; CS_KVROCKS_READ_FAILED (stored) or
// CS_VALIDATION_FAILED (new record) when it is not an object with a string status.
Result<std::string> storedStatus(std::string_view recordJson);
Status checkNewActivationRecord(std::string_view recordJson);
// Decides the CAS given the stored record's status (nullopt = absent).
bool casAllowed(const std::optional<std::string>& currentStatus,
                const std::vector<std::string>& expectedStatuses);

}  // namespace cs::kv::support
