#include "internal/authn/token_cache.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cs::authn {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

Principal principal(std::string sub, int64_t expMs) {
  return Principal{std::move(sub), "t_acme01", {"admin"}, {}, expMs};
}

TEST(TokenCache, HitReturnsSamePrincipal) {
  int64_t now = kNow;
  TokenCache cache(10, 60'000, [&] { return now; });
  EXPECT_FALSE(cache.get("tok-a"));
  cache.put("tok-a", principal("alice", kNow + 3'600'000));
  auto hit = cache.get("tok-a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, principal("alice", kNow + 3'600'000));
  EXPECT_FALSE(cache.get("tok-b"));
}

TEST(TokenCache, EntryEndsAtTokenExp) {
  int64_t now = kNow;
  TokenCache cache(10, 600'000, [&] { return now; });
  cache.put("tok", principal("alice", kNow + 5'000));
  now = kNow + 4'999;
  EXPECT_TRUE(cache.get("tok"));
  now = kNow + 5'000;
  EXPECT_FALSE(cache.get("tok"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TokenCache, EntryEndsAtTtl) {
  int64_t now = kNow;
  TokenCache cache(10, 1'000, [&] { return now; });
  cache.put("tok", principal("alice", kNow + 3'600'000));
  now = kNow + 999;
  EXPECT_TRUE(cache.get("tok"));
  now = kNow + 1'000;
  EXPECT_FALSE(cache.get("tok"));
}

TEST(TokenCache, ExpiredPrincipalIsNotStored) {
  int64_t now = kNow;
  TokenCache cache(10, 60'000, [&] { return now; });
  cache.put("tok", principal("alice", kNow - 1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.get("tok"));
}

TEST(TokenCache, BoundedWithLeastRecentlyUsedEviction) {
  int64_t now = kNow;
  TokenCache cache(2, 60'000, [&] { return now; });
  cache.put("a", principal("a", kNow + 3'600'000));
  cache.put("b", principal("b", kNow + 3'600'000));
  EXPECT_TRUE(cache.get("a"));  // b is now the least recently used
  cache.put("c", principal("c", kNow + 3'600'000));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.get("a"));
  EXPECT_FALSE(cache.get("b"));
  EXPECT_TRUE(cache.get("c"));
}

TEST(TokenCache, DisabledByZeroTtl) {
  TokenCache cache(10, 0, [] { return kNow; });
  cache.put("tok", principal("alice", kNow + 3'600'000));
  EXPECT_FALSE(cache.get("tok"));
}

TEST(TokenCache, ConcurrentUseStaysBoundedAndConsistent) {
  std::atomic<int64_t> now{kNow};
  TokenCache cache(64, 60'000, [&] { return now.load(); });
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string tok = "tok-" + std::to_string((i * 7 + t) % 100);
        cache.put(tok, principal(tok, kNow + 3'600'000));
        auto hit = cache.get(tok);
        if (hit && hit->sub != tok) wrong++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace cs::authn
