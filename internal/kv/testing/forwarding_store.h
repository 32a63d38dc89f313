// A kv::Store that forwards every call to another store. Tests derive from it and override
// the one operation whose failure they want to inject.
#pragma once

#include "internal/kv/store.h"

namespace cs::kv::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  Status start() override { return inner_.start(); }
  void stop() override { inner_.stop(); }
  Status ping() override { return inner_.ping(); }

  Result<std::optional<std::string>> get(std::string_view key) override { return inner_.get(key); }
  Status set(std::string_view key, std::string_view value, std::optional<int64_t> ttlMs) override {
    return inner_.set(key, value, ttlMs);
  }
  Result<bool> setIfAbsent(std::string_view key, std::string_view value,
                           std::optional<int64_t> ttlMs) override {
    return inner_.setIfAbsent(key, value, ttlMs);
  }
  Result<int64_t> incrBy(std::string_view key, int64_t delta) override {
    return inner_.incrBy(key, delta);
  }
  Result<bool> del(std::string_view key) override { return inner_.del(key); }
  Result<bool> exists(std::string_view key) override { return inner_.exists(key); }
  Result<bool> expire(std::string_view key, int64_t ttlMs) override {
    return inner_.expire(key, ttlMs);
  }
  Result<int64_t> ttl(std::string_view key) override { return inner_.ttl(key); }
  Result<ScanPage> scanPrefix(std::string_view prefix, std::string_view cursor,
                              size_t limit) override {
    return inner_.scanPrefix(prefix, cursor, limit);
  }

  Result<bool> sadd(std::string_view key, std::string_view member) override {
    return inner_.sadd(key, member);
  }
  Result<bool> srem(std::string_view key, std::string_view member) override {
    return inner_.srem(key, member);
  }
  Result<bool> sismember(std::string_view key, std::string_view member) override {
    return inner_.sismember(key, member);
  }
  Result<std::vector<std::string>> smembers(std::string_view key) override {
    return inner_.smembers(key);
  }

  Result<bool> zadd(std::string_view key, std::string_view member, double score) override {
    return inner_.zadd(key, member, score);
  }
  Result<bool> zrem(std::string_view key, std::string_view member) override {
    return inner_.zrem(key, member);
  }
  Result<std::vector<ScoredMember>> zrangeByScore(std::string_view key,
                                                  const ZRangeQuery& query) override {
    return inner_.zrangeByScore(key, query);
  }
  Result<int64_t> zremRangeByScore(std::string_view key, double minScore,
                                   double maxScore) override {
    return inner_.zremRangeByScore(key, minScore, maxScore);
  }
  Result<int64_t> zcard(std::string_view key) override { return inner_.zcard(key); }

  Result<int64_t> publishVersion(const PublishRequest& request) override {
    return inner_.publishVersion(request);
  }
  Result<CasResult> casActivationStatus(std::string_view key,
                                        const std::vector<std::string>& expectedStatuses,
                                        std::string_view newRecordJson,
                                        std::optional<int64_t> ttlMs) override {
    return inner_.casActivationStatus(key, expectedStatuses, newRecordJson, ttlMs);
  }

  Result<bool> leaseAcquire(std::string_view key, std::string_view owner, int64_t ttlMs) override {
    return inner_.leaseAcquire(key, owner, ttlMs);
  }
  Result<bool> leaseRenew(std::string_view key, std::string_view owner, int64_t ttlMs) override {
    return inner_.leaseRenew(key, owner, ttlMs);
  }
  Result<bool> leaseRelease(std::string_view key, std::string_view owner) override {
    return inner_.leaseRelease(key, owner);
  }

 private:
  Store& inner_;
};

}  // namespace cs::kv::testing
