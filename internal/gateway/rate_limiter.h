// Token-bucket rate limits of the web gateway (SPEC §11): per tenant, per function ref and per
// client IP. Each key has a bucket holding at most `burst` tokens that refills at `rps` tokens
// per second; a request takes one token from every bucket it names, or from none (all or
// nothing, so a rejected request does not drain the other buckets).
//
// State is per replica (no shared storage): with N gateway replicas behind a balancer the
// effective limit is about N × rps. Time comes from a kv::Clock so tests move it.
// Threads: any thread; one mutex guards the buckets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "internal/kv/clock.h"

namespace cs::gateway {

// One limit: `rps` <= 0 disables it. `burst` <= 0 means burst = max(1, rps).
struct BucketLimit {
  double rps = 0;
  double burst = 0;
};

// A key to charge and the limit that applies to it.
struct RateKey {
  std::string key;  // e.g. "tenant:t_acme01", "fn:t_acme01/prod/resize/live", "ip:10.0.0.1"
  BucketLimit limit;
};

struct RateDecision {
  bool allowed = true;
  std::string limitedKey;    // the first exhausted key when !allowed
  int64_t retryAfterMs = 0;  // when the exhausted bucket(s) hold a token again
};

class TokenBucketLimiter {
 public:
  // `maxBuckets` bounds memory: past it, buckets that have refilled completely (idle keys) are
  // dropped; if that is not enough (a flood of distinct keys) every bucket is dropped, i.e.
  // the limiter fails open for a moment rather than growing without bound.
  explicit TokenBucketLimiter(const kv::Clock& clock, size_t maxBuckets = 100000);

  // Takes one token from each enabled key's bucket, or none when any is empty.
  RateDecision tryAcquire(const std::vector<RateKey>& keys);

  size_t bucketCountForTest() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updatedMs = 0;
    BucketLimit limit;  // the limit it was last charged with (refill during eviction)
  };
  static double burstOf(const BucketLimit& limit);
  static void refill(Bucket& bucket, int64_t nowMs);
  void evictLocked(int64_t nowMs);

  const kv::Clock& clock_;
  const size_t maxBuckets_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace cs::gateway
