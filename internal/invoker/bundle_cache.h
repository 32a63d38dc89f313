// BundleCache — the invoker's LRU of unpacked, verified bundles keyed by sha256 (SPEC §10):
// the files and the parsed manifest, so a warm version costs no storage read, no tar parsing
// and no manifest validation. Limits on entry count and on bytes (sum of file bytes).
//
// Threads: any thread; one mutex. Entries are immutable and shared: an evicted entry stays
// valid for the activations still holding it.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "internal/api/manifest.h"
#include "internal/runtime/engine.h"

namespace cs::invoker {

struct CachedBundle {
  std::string sha256;
  runtime::SourceFiles files;
  api::Manifest manifest;
  size_t bytes = 0;  // sum of file sizes: what counts against bytesMax
};

struct CacheStats {
  size_t items = 0;
  size_t bytes = 0;
};

class BundleCache {
 public:
  BundleCache(size_t maxItems, size_t maxBytes);

  // The entry for sha256 (and marks it most recently used), or nullptr.
  std::shared_ptr<const CachedBundle> get(const std::string& sha256);
  // Inserts (or replaces) the entry and evicts least recently used entries until both limits
  // hold. An entry larger than maxBytes on its own is not kept.
  void put(std::shared_ptr<const CachedBundle> entry);
  CacheStats stats() const;

 private:
  using Lru = std::list<std::shared_ptr<const CachedBundle>>;  // front = most recent
  void evictLocked();

  const size_t maxItems_;
  const size_t maxBytes_;
  mutable std::mutex mu_;  // guards everything below
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace cs::invoker
