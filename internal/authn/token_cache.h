// A bounded, thread-safe cache of verified tokens, so hot tokens skip the RSA verification.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "internal/authn/authn.h"

namespace cs::authn {

// Keyed by sha256(token) (the token itself is never kept). An entry lives until
// min(token exp, insertion + ttl); least-recently-used entries are evicted at maxEntries.
// Only successes are cached. Any thread may call any method (one mutex).
class TokenCache final {
 public:
  // ttlMs <= 0 or maxEntries == 0 disables the cache (get() always misses).
  TokenCache(size_t maxEntries, int64_t ttlMs, NowMsFn nowMs);

  std::optional<Principal> get(std::string_view token);
  void put(std::string_view token, const Principal& principal);
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    Principal principal;
    int64_t expiresAtMs;
  };
  const size_t maxEntries_;
  const int64_t ttlMs_;
  const NowMsFn nowMs_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace cs::authn
