// KvrocksStore — the `kvrocks` kv::Store driver: KVRocks (or Redis) over hiredis.
//
// A pool of blocking hiredis connections (connect and command timeouts); every call borrows
// one. A connection that failed (I/O error, timeout, EOF) is closed, the idle ones are dropped
// too (a server restart breaks them all), and the next call connects again, after a short
// backoff while the server keeps refusing — so a restarted server is picked up without
// restarting the process. Read-only commands are retried once on a fresh connection when a
// pooled one turns out dead; writes are never retried (their outcome is unknown).
//
// Only commands KVRocks supports are sent (GET, SET PX/NX, DEL, EXISTS, PEXPIRE, PTTL, INCRBY,
// S*, Z*BYSCORE, SCAN MATCH/COUNT, EVALSHA/SCRIPT LOAD, PING, AUTH). The atomic operations are
// Lua scripts (SCRIPT LOAD once, EVALSHA, reloaded on NOSCRIPT); every key a script touches is
// in KEYS or — for the version keys, whose number the script allocates — built from the
// version key prefix passed in KEYS.
//
// Time: TTLs are the server's (PX/PEXPIRE/PTTL); the store reads no clock for them.
// Errors: no connection, timeout, pool exhausted, LOADING/BUSY/NOAUTH → CS_KVROCKS_UNAVAILABLE;
// any other error reply (WRONGTYPE included) → CS_KVROCKS_READ_FAILED or _WRITE_FAILED
// depending on the operation, as store.h documents.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "internal/kv/clock.h"
#include "internal/kv/store.h"

struct redisContext;
struct redisReply;

namespace cs::kv {

struct KvrocksOptions {
  // Either addr ("host:port" or "unix:/path.sock") or host + port.
  std::string addr;
  std::string host = "127.0.0.1";
  int port = 6666;
  std::string password;  // AUTH on every new connection when non-empty
  int connectTimeoutMs = 1000;
  int commandTimeoutMs = 2000;
  int poolSize = 8;  // max open connections; callers beyond it wait (bounded) for one
  // Not used for TTLs (server time decides expiry); kept so every driver takes the same
  // options shape. May be nullptr.
  const Clock* clock = nullptr;
};

struct KvrocksScript;

class KvrocksStore final : public Store {
 public:
  // Validates the options (CS_VALIDATION_FAILED); does not connect.
  static Result<std::unique_ptr<KvrocksStore>> open(const KvrocksOptions& options);
  ~KvrocksStore() override;
  KvrocksStore(const KvrocksStore&) = delete;
  KvrocksStore& operator=(const KvrocksStore&) = delete;

  Status start() override;  // no background work: ok
  void stop() override;     // closes the idle connections; later calls reconnect
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
  // Cursor: base64 of the server's SCAN cursor, plus the keys one SCAN reply returned beyond
  // `limit` (so a page never exceeds it). Glob characters in `prefix` are escaped, and keys are
  // also checked against the prefix here.
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

 private:
  class Conn;
  struct Endpoint {
    std::string host;
    int port = 0;
    std::string unixPath;  // set for "unix:" addresses
    std::string display;
  };
  KvrocksStore(Endpoint endpoint, const KvrocksOptions& options);

  Result<Conn> borrow();
  void giveBack(redisContext* ctx, uint64_t generation, bool broken);
  Result<redisContext*> connect();
  // One command on `conn`; an I/O failure marks it broken (CS_KVROCKS_UNAVAILABLE). Error
  // replies are returned as replies.
  Result<std::shared_ptr<redisReply>> raw(Conn& conn, const std::vector<std::string>& args);
  // Borrow + raw + error-reply mapping to `code`; read-only commands retry once when a pooled
  // connection turned out dead.
  Result<std::shared_ptr<redisReply>> command(const std::vector<std::string>& args, ErrorCode code,
                                              bool readOnly);
  Result<std::shared_ptr<redisReply>> evalScript(KvrocksScript& script,
                                                 const std::vector<std::string>& keys,
                                                 const std::vector<std::string>& args,
                                                 ErrorCode code);
  Result<std::string> loadScript(Conn& conn, KvrocksScript& script);
  Result<bool> leaseScript(KvrocksScript& script, std::string_view key, std::string_view owner,
                           std::optional<int64_t> ttlMs);

  const Endpoint endpoint_;
  const std::string password_;
  const int connectTimeoutMs_;
  const int commandTimeoutMs_;
  const size_t poolSize_;

  std::mutex mu_;  // guards the pool state below
  std::condition_variable cv_;
  std::vector<redisContext*> idle_;
  size_t open_ = 0;          // idle + borrowed + being connected
  uint64_t generation_ = 0;  // bumped when a connection breaks: older ones are not reused
  std::chrono::steady_clock::time_point nextConnectAt_{};
  int backoffMs_ = 0;
  std::string lastConnectError_;

  std::mutex scriptMu_;  // guards the SHA-1s in the scripts below
  std::unique_ptr<KvrocksScript> publishScript_;
  std::unique_ptr<KvrocksScript> casScript_;
  std::unique_ptr<KvrocksScript> leaseAcquireScript_;
  std::unique_ptr<KvrocksScript> leaseRenewScript_;
  std::unique_ptr<KvrocksScript> leaseReleaseScript_;
};

// Validates the options (CS_VALIDATION_FAILED) and returns a store; it connects lazily, so an
// unreachable server shows up as CS_KVROCKS_UNAVAILABLE on the first call (or ping()).
Result<std::unique_ptr<Store>> makeKvrocksStore(const KvrocksOptions& options);

}  // namespace cs::kv
