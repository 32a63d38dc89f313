#include "internal/gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace cs::gateway {

TokenBucketLimiter::TokenBucketLimiter(const kv::Clock& clock, size_t maxBuckets)
    : clock_(clock), maxBuckets_(std::max<size_t>(maxBuckets, 1)) {}

double TokenBucketLimiter::burstOf(const BucketLimit& limit) {
  if (limit.burst > 0) return limit.burst;
  return std::max(1.0, limit.rps);
}

void TokenBucketLimiter::refill(Bucket& bucket, int64_t nowMs) {
  // A clock that moves backwards refills nothing (and does not drain either).
  if (nowMs > bucket.updatedMs) {
    double elapsedSec = static_cast<double>(nowMs - bucket.updatedMs) / 1000.0;
    bucket.tokens = std::min(burstOf(bucket.limit), bucket.tokens + elapsedSec * bucket.limit.rps);
  }
  bucket.updatedMs = std::max(bucket.updatedMs, nowMs);
}

void TokenBucketLimiter::evictLocked(int64_t nowMs) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, nowMs);
    if (it->second.tokens >= burstOf(it->second.limit)) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= maxBuckets_) buckets_.clear();
}

RateDecision TokenBucketLimiter::tryAcquire(const std::vector<RateKey>& keys) {
  const int64_t now = clock_.nowMs();
  std::lock_guard lock(mu_);
  if (buckets_.size() >= maxBuckets_) evictLocked(now);

  RateDecision decision;
  std::vector<Bucket*> charged;
  charged.reserve(keys.size());
  for (const auto& k : keys) {
    if (!(k.limit.rps > 0)) continue;  // disabled (also rejects NaN)
    auto [it, inserted] = buckets_.try_emplace(k.key);
    Bucket& b = it->second;
    if (inserted) {
      b.tokens = burstOf(k.limit);
      b.updatedMs = now;
    }
    b.limit = k.limit;
    refill(b, now);
    if (b.tokens < 1.0) {
      int64_t waitMs = static_cast<int64_t>(std::ceil((1.0 - b.tokens) / k.limit.rps * 1000.0));
      if (decision.allowed) decision.limitedKey = k.key;
      decision.allowed = false;
      decision.retryAfterMs = std::max(decision.retryAfterMs, std::max<int64_t>(waitMs, 1));
    }
    charged.push_back(&b);
  }
  if (decision.allowed) {
    for (Bucket* b : charged) b->tokens -= 1.0;
  }
  return decision;
}

size_t TokenBucketLimiter::bucketCountForTest() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace cs::gateway
