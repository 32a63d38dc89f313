#include "internal/invoker/bundle_cache.h"

namespace cs::invoker {

BundleCache::BundleCache(size_t maxItems, size_t maxBytes)
    : maxItems_(maxItems), maxBytes_(maxBytes) {}

std::shared_ptr<const CachedBundle> BundleCache::get(const std::string& sha256) {
  std::lock_guard lock(mu_);
  auto it = index_.find(sha256);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return *it->second;
}

void BundleCache::put(std::shared_ptr<const CachedBundle> entry) {
  if (!entry) return;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(entry->sha256); it != index_.end()) {
    bytes_ -= (*it->second)->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (maxItems_ == 0 || entry->bytes > maxBytes_) return;
  lru_.push_front(entry);
  index_[entry->sha256] = lru_.begin();
  bytes_ += entry->bytes;
  evictLocked();
}

CacheStats BundleCache::stats() const {
  std::lock_guard lock(mu_);
  return CacheStats{lru_.size(), bytes_};
}

void BundleCache::evictLocked() {
  while (!lru_.empty() && (lru_.size() > maxItems_ || bytes_ > maxBytes_)) {
    const auto& victim = lru_.back();
    bytes_ -= victim->bytes;
    index_.erase(victim->sha256);
    lru_.pop_back();
  }
}

}  // namespace cs::invoker
