// kv::Store — the storage seam (DESIGN "Seams"): Redis-style primitives plus the few atomic
// operations of SPEC §6, implemented by the `embedded` (SqliteStore) and later the `kvrocks`
// driver. Keys come from keys.h and values from records.h; the store itself is byte-oriented.
//
// Threads: every method may be called from any thread concurrently.
// Errors: storage failures are CS_KVROCKS_READ_FAILED / CS_KVROCKS_WRITE_FAILED /
// CS_KVROCKS_UNAVAILABLE; bad arguments are CS_VALIDATION_*; an operation on a key holding
// another type (e.g. sadd on a string) is CS_KVROCKS_WRITE_FAILED / _READ_FAILED ("WRONGTYPE").
// A lost compare-and-set is NOT an error: it is reported as an outcome value.
// TTLs are in milliseconds and must be >= 1; a key whose TTL elapsed is absent for every
// operation, whatever the driver does to reclaim it.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::kv {

inline constexpr std::optional<int64_t> kNoTtl = std::nullopt;
// ttl() results besides a positive remaining time (same as Redis PTTL).
inline constexpr int64_t kTtlKeyAbsent = -2;
inline constexpr int64_t kTtlNone = -1;

struct ScoredMember {
  std::string member;
  double score = 0;
  bool operator==(const ScoredMember&) const = default;
};

enum class ScoreOrder { Ascending, Descending };

// Members with minScore <= score <= maxScore, ordered by (score, member) ascending or both
// descending, then `offset` skipped and at most `limit` returned.
struct ZRangeQuery {
  double minScore = -std::numeric_limits<double>::infinity();
  double maxScore = std::numeric_limits<double>::infinity();
  ScoreOrder order = ScoreOrder::Ascending;
  size_t offset = 0;
  size_t limit = std::numeric_limits<size_t>::max();
};

// One page of a prefix scan. `cursor` is opaque; empty means the scan is complete. A page may
// hold fewer than `limit` keys while more remain (Redis SCAN does that), and keys are in no
// guaranteed order across drivers (the embedded driver returns them sorted).
struct ScanPage {
  std::vector<std::string> keys;
  std::string cursor;
};

// Everything publish needs; the store builds the version meta and alias records itself
// because only it knows the new version number.
struct PublishRequest {
  std::string tenant;
  std::string ns;
  std::string function;
  std::string draftId;
  std::string bundle;  // canonical tar bytes, stored at ...:ver:{v}:bundle
  std::string sha256;  // of `bundle`
  nlohmann::json config = nlohmann::json::object();
  int64_t publishedAtMs = 0;
  std::optional<std::string> alias;  // set to the new version when present
};

// The "no record stored yet" pseudo-status for casActivationStatus's expected list.
inline constexpr std::string_view kStatusAbsent = "";

enum class CasOutcome { Applied, Conflict };

struct CasResult {
  CasOutcome outcome = CasOutcome::Conflict;
  // The record stored after the call: the new one if applied, else the existing one
  // (nullopt if there is none).
  std::optional<std::string> current;
};

class Store {
 public:
  virtual ~Store() = default;

  // Lifecycle of background work (the embedded driver's TTL purger). Every other method works
  // without start(); stop() is idempotent and also run by the destructor.
  virtual Status start() = 0;
  virtual void stop() = 0;
  // Cheap reachability check for /readyz.
  virtual Status ping() = 0;

  // --- strings ----------------------------------------------------------------------------
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  // Overwrites any value (and type); kNoTtl removes an existing TTL, like Redis SET.
  virtual Status set(std::string_view key, std::string_view value,
                     std::optional<int64_t> ttlMs) = 0;
  // SET NX: true if the key was absent and is now written.
  virtual Result<bool> setIfAbsent(std::string_view key, std::string_view value,
                                   std::optional<int64_t> ttlMs) = 0;
  // INCRBY: a missing key counts as 0; keeps an existing TTL; a non-integer value or an
  // overflow is CS_KVROCKS_WRITE_FAILED.
  virtual Result<int64_t> incrBy(std::string_view key, int64_t delta) = 0;

  // --- any key ----------------------------------------------------------------------------
  // true if a (live) key of any type was removed.
  virtual Result<bool> del(std::string_view key) = 0;
  virtual Result<bool> exists(std::string_view key) = 0;
  // true if the key exists and now has the TTL.
  virtual Result<bool> expire(std::string_view key, int64_t ttlMs) = 0;
  // Remaining ms, kTtlNone (no TTL) or kTtlKeyAbsent.
  virtual Result<int64_t> ttl(std::string_view key) = 0;
  // Keys starting with `prefix` (any type), `limit` 1..10000 per page; pass the previous
  // page's cursor (or "" to begin).
  virtual Result<ScanPage> scanPrefix(std::string_view prefix, std::string_view cursor,
                                      size_t limit) = 0;

  // --- sets (an empty set is removed, like Redis) -----------------------------------------
  virtual Result<bool> sadd(std::string_view key, std::string_view member) = 0;  // true if new
  virtual Result<bool> srem(std::string_view key, std::string_view member) = 0;  // true if gone
  virtual Result<bool> sismember(std::string_view key, std::string_view member) = 0;
  virtual Result<std::vector<std::string>> smembers(std::string_view key) = 0;  // any order

  // --- sorted sets ------------------------------------------------------------------------
  // true if the member is new (an existing member gets the new score). NaN is rejected.
  virtual Result<bool> zadd(std::string_view key, std::string_view member, double score) = 0;
  virtual Result<bool> zrem(std::string_view key, std::string_view member) = 0;
  virtual Result<std::vector<ScoredMember>> zrangeByScore(std::string_view key,
                                                          const ZRangeQuery& query) = 0;
  // Removes members with minScore <= score <= maxScore; returns how many.
  virtual Result<int64_t> zremRangeByScore(std::string_view key, double minScore,
                                           double maxScore) = 0;
  virtual Result<int64_t> zcard(std::string_view key) = 0;

  // --- atomic operations (Lua scripts in the kvrocks driver) -------------------------------
  // In one atomic step: the function meta must exist and not be soft-deleted (else
  // CS_NOT_FOUND); the draft must exist, i.e. not be expired (else CS_VALIDATION_FAILED
  // "draft not found or expired"); then version_seq += 1, version meta (VersionRecord) and
  // bundle are written, the alias (AliasRecord, updated_at_ms = publishedAtMs) is set if
  // requested, and the draft is deleted. Returns the new version. Names are validated first
  // (CS_VALIDATION_NAME_INVALID).
  virtual Result<int64_t> publishVersion(const PublishRequest& request) = 0;

  // Activation status compare-and-set. `newRecordJson` must be a JSON object with a string
  // "status". Applies (writes the record with `ttlMs`) only when the stored record's "status"
  // is one of `expectedStatuses` (kStatusAbsent matches "no record") and is not terminal
  // (success|error|timeout): no transition ever leaves a terminal state. A stored record that
  // is not JSON or has no string status is CS_KVROCKS_READ_FAILED.
  virtual Result<CasResult> casActivationStatus(std::string_view key,
                                                const std::vector<std::string>& expectedStatuses,
                                                std::string_view newRecordJson,
                                                std::optional<int64_t> ttlMs) = 0;

  // Leases: the value of `key` is the owner token, with a TTL. Owner tokens are 1..256 bytes.
  // acquire: true if the lease was free (absent/expired) or already held by `owner` (then the
  // TTL is refreshed). renew: true only if held by `owner` (TTL refreshed). release: true only
  // if held by `owner` (then deleted). Read the current holder with get().
  virtual Result<bool> leaseAcquire(std::string_view key, std::string_view owner,
                                    int64_t ttlMs) = 0;
  virtual Result<bool> leaseRenew(std::string_view key, std::string_view owner, int64_t ttlMs) = 0;
  virtual Result<bool> leaseRelease(std::string_view key, std::string_view owner) = 0;
};

}  // namespace cs::kv
