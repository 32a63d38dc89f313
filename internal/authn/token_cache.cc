#include "internal/authn/token_cache.h"

#include <algorithm>

#include "internal/crypto/crypto.h"

namespace cs::authn {

TokenCache::TokenCache(size_t maxEntries, int64_t ttlMs, NowMsFn nowMs)
    : maxEntries_(maxEntries), ttlMs_(ttlMs), nowMs_(nowMs ? std::move(nowMs) : systemNowMs) {}

std::optional<Principal> TokenCache::get(std::string_view token) {
  if (maxEntries_ == 0 || ttlMs_ <= 0) return std::nullopt;
  const std::string key = crypto::sha256(token);
  const int64_t now = nowMs_();
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (now >= it->second->expiresAtMs) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->principal;
}

void TokenCache::put(std::string_view token, const Principal& principal) {
  if (maxEntries_ == 0 || ttlMs_ <= 0) return;
  const int64_t now = nowMs_();
  const int64_t expiresAt = std::min(principal.expMs, now + ttlMs_);
  if (expiresAt <= now) return;
  std::string key = crypto::sha256(token);
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (lru_.size() >= maxEntries_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, principal, expiresAt});
  index_.emplace(std::move(key), lru_.begin());
}

size_t TokenCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace cs::authn
