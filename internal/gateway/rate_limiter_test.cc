#include "internal/gateway/rate_limiter.h"

#include <gtest/gtest.h>

namespace cs::gateway {
namespace {

TEST(TokenBucketLimiterTest, AllowsBurstThenRefusesUntilRefilled) {
  kv::ManualClock clock;
  TokenBucketLimiter limiter(clock);
  std::vector<RateKey> keys = {{"fn:a", {2, 0}}};
  EXPECT_TRUE(limiter.tryAcquire(keys).allowed);
  EXPECT_TRUE(limiter.tryAcquire(keys).allowed);
  auto refused = limiter.tryAcquire(keys);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limitedKey, "fn:a");
  EXPECT_EQ(refused.retryAfterMs, 500) << "one token at 2 rps takes 500 ms";
  clock.advanceMs(499);
  EXPECT_FALSE(limiter.tryAcquire(keys).allowed);
  clock.advanceMs(1);
  EXPECT_TRUE(limiter.tryAcquire(keys).allowed);
  EXPECT_FALSE(limiter.tryAcquire(keys).allowed);
}

TEST(TokenBucketLimiterTest, KeysAreIndependent) {
  kv::ManualClock clock;
  TokenBucketLimiter limiter(clock);
  EXPECT_TRUE(limiter.tryAcquire({{"ip:1", {1, 0}}}).allowed);
  EXPECT_FALSE(limiter.tryAcquire({{"ip:1", {1, 0}}}).allowed);
  EXPECT_TRUE(limiter.tryAcquire({{"ip:2", {1, 0}}}).allowed);
}

TEST(TokenBucketLimiterTest, RejectedRequestChargesNoBucket) {
  kv::ManualClock clock;
  TokenBucketLimiter limiter(clock);
  ASSERT_TRUE(limiter.tryAcquire({{"fn:x", {1, 0}}}).allowed);  // fn:x now empty
  // tenant has 3 tokens; the request is refused by fn:x and must not take a tenant token.
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.tryAcquire({{"tenant:t", {3, 0}}, {"fn:x", {1, 0}}});
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limitedKey, "fn:x");
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.tryAcquire({{"tenant:t", {3, 0}}}).allowed) << i;
  EXPECT_FALSE(limiter.tryAcquire({{"tenant:t", {3, 0}}}).allowed);
}

TEST(TokenBucketLimiterTest, ZeroRpsDisablesALimit) {
  kv::ManualClock clock;
  TokenBucketLimiter limiter(clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.tryAcquire({{"k", {0, 0}}}).allowed);
  EXPECT_EQ(limiter.bucketCountForTest(), 0u);
}

TEST(TokenBucketLimiterTest, ExplicitBurstAndClockGoingBackwards) {
  kv::ManualClock clock(10'000);
  TokenBucketLimiter limiter(clock);
  std::vector<RateKey> keys = {{"k", {1, 3}}};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.tryAcquire(keys).allowed);
  EXPECT_FALSE(limiter.tryAcquire(keys).allowed);
  clock.setMs(5'000);  // backwards: no refill, no crash
  EXPECT_FALSE(limiter.tryAcquire(keys).allowed);
  clock.setMs(11'000);  // 1 s after the last real update
  EXPECT_TRUE(limiter.tryAcquire(keys).allowed);
}

TEST(TokenBucketLimiterTest, IdleBucketsAreEvictedPastTheBound) {
  kv::ManualClock clock;
  TokenBucketLimiter limiter(clock, /*maxBuckets=*/4);
  for (int i = 0; i < 4; ++i) limiter.tryAcquire({{"ip:" + std::to_string(i), {10, 0}}});
  EXPECT_EQ(limiter.bucketCountForTest(), 4u);
  clock.advanceMs(1000);  // all refilled → idle
  limiter.tryAcquire({{"ip:new", {10, 0}}});
  EXPECT_EQ(limiter.bucketCountForTest(), 1u);
}

}  // namespace
}  // namespace cs::gateway
