// SqliteStore — the `embedded` kv::Store driver (used by `cs dev` and tests).
//
// One SQLite file (WAL, busy timeout) or a private ":memory:" database. Tables:
//   kv_keys(key BLOB PK, type, value BLOB, expires_at_ms)  every key: strings hold their value
//                                                          here; sets/zsets hold type + TTL
//   kv_set(key, member)          set members
//   kv_zset(key, member, score)  sorted-set members
// TTLs are honoured on every read (expired = absent), reaped by writes that touch the key and
// purged in bulk by a background thread (start()/stop(), every purgeIntervalMs).
//
// Threads: any thread. One connection guarded by one mutex, so operations are serialised
// inside a process; every operation runs in one SQLite transaction (BEGIN IMMEDIATE for
// writes), which also keeps several processes on the same file correct.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "internal/kv/clock.h"
#include "internal/kv/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cs::kv {

struct SqliteOptions {
  // Database file, or ":memory:". The parent directory is created if missing.
  std::string path = ":memory:";
  // Time source for TTLs; nullptr = system clock. Must outlive the store.
  const Clock* clock = nullptr;
  int64_t purgeIntervalMs = 1000;
  int busyTimeoutMs = 5000;
};

// The database file used for a data directory: "<dataDir>/kv.sqlite3".
std::string sqlitePathInDataDir(std::string_view dataDir);

class SqliteStore final : public Store {
 public:
  // CS_KVROCKS_UNAVAILABLE when the file cannot be opened or initialised.
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteOptions& options);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status start() override;
  void stop() override;
  Status ping() override;

  Result<std::optional<std::string>> get(std::string_view key) override;
  Status set(std::string_view key, std::string_view value, std::optional<int64_t> ttlMs) override;
  Result<bool> setIfAbsent(std::string_view key, std::string_view value,
                           std::optional<int64_t> ttlMs) override;
  Result<int64_t> incrBy(std::string_view key, int64_t delta) override;
  Result<bool> del(std::string_view key) override;
  Result<bool> exists(std::string_view key) override;
  Result<bool> expire(std::string_view key, int64_t ttlMs) override;
  Result<int64_t> ttl(std::string_view key) override;
  Result<ScanPage> scanPrefix(std::string_view prefix, std::string_view cursor,
                              size_t limit) override;
  Result<bool> sadd(std::string_view key, std::string_view member) override;
  Result<bool> srem(std::string_view key, std::string_view member) override;
  Result<bool> sismember(std::string_view key, std::string_view member) override;
  Result<std::vector<std::string>> smembers(std::string_view key) override;
  Result<bool> zadd(std::string_view key, std::string_view member, double score) override;
  Result<bool> zrem(std::string_view key, std::string_view member) override;
  Result<std::vector<ScoredMember>> zrangeByScore(std::string_view key,
                                                  const ZRangeQuery& query) override;
  Result<int64_t> zremRangeByScore(std::string_view key, double minScore, double maxScore) override;
  Result<int64_t> zcard(std::string_view key) override;
  Result<int64_t> publishVersion(const PublishRequest& request) override;
  Result<CasResult> casActivationStatus(std::string_view key,
                                        const std::vector<std::string>& expectedStatuses,
                                        std::string_view newRecordJson,
                                        std::optional<int64_t> ttlMs) override;
  Result<bool> leaseAcquire(std::string_view key, std::string_view owner, int64_t ttlMs) override;
  Result<bool> leaseRenew(std::string_view key, std::string_view owner, int64_t ttlMs) override;
  Result<bool> leaseRelease(std::string_view key, std::string_view owner) override;

  // Deletes every expired key (all its rows) now; returns how many keys. The purger runs it.
  Result<int64_t> purgeExpired();
  // Rows stored for `key` in all tables, expired or not: lets tests see what purge removed.
  Result<int64_t> rawRowCountForTest(std::string_view key);

 private:
  enum class KeyType : int { String = 1, Set = 2, ZSet = 3 };
  struct KeyRow;
  class Stmt;
  SqliteStore(sqlite3* db, const SqliteOptions& options);

  enum class TxnMode { Read, Write };
  template <typename F>
  auto inTxn(TxnMode mode, F&& body) -> decltype(body(int64_t{}));

  Status exec(const char* sql);
  sqlite3_stmt* prepare(const std::string& sql, Status& status);
  Error dbError(ErrorCode code, std::string_view what) const;

  // The following run under mu_ inside a transaction.
  Result<std::optional<KeyRow>> loadLive(std::string_view key, int64_t now, TxnMode mode);
  Status dropKey(std::string_view key);
  Status putString(std::string_view key, std::string_view value,
                   std::optional<int64_t> expiresAtMs);
  Status ensureCollection(std::string_view key, KeyType type, int64_t now);
  Status dropIfEmpty(std::string_view key, KeyType type);
  Result<int64_t> incrLocked(std::string_view key, int64_t delta, int64_t now);
  Result<int64_t> changes();

  sqlite3* db_;
  const Clock* clock_;
  std::unique_ptr<SystemClock> ownClock_;
  int64_t purgeIntervalMs_;

  std::mutex mu_;  // guards db_ and stmts_
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;

  std::mutex purgeMu_;  // guards the purger's lifecycle
  std::condition_variable purgeCv_;
  bool purgeStopping_ = false;
  std::thread purger_;
};

// The `embedded` driver behind the seam.
Result<std::unique_ptr<Store>> makeSqliteStore(const SqliteOptions& options);

}  // namespace cs::kv
