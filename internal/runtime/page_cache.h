// Private to internal/runtime: the page allocator V8 uses for every isolate's heap, and the
// platform wrapper that hands it to V8. Included only by this module's .cc files.
//
// Why: a fresh isolate per activation maps, faults in, re-protects and unmaps a few MB of
// heap pages each time. munmap of pages another core has touched costs a TLB shoot-down
// (an IPI), and every first touch of a fresh page is a page fault plus a kernel zeroing.
// Measured, that kernel work was ~45 % of the CPU of an activation (docs/performance.md).
// CachingPageAllocator keeps freed blocks mapped, zeroes what was used, and hands them to
// the next isolate: no mmap/munmap, no faults, no shoot-downs in the steady state.
//
// Guarantees (what V8's contract and tenant isolation need):
// - every block handed out reads as zero, as fresh mmap memory does (a previous isolate's
//   bytes never reach the next one);
// - permissions are what V8 asked for, with two documented exceptions that only concern a
//   whole heap chunk of this isolate that V8 does not use at that moment (see AllocatePages
//   and SetPermissions in page_cache.cc); guard pages, partial changes, executable chunks
//   and large reservations are always honoured;
// - DecommitPages really drops the pages (the contract says they read as zero afterwards);
// - the cache is bounded (bytes of small blocks, count of large reservations); beyond it,
//   blocks are unmapped as before.
#pragma once

#include <v8-platform.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>

namespace cs::runtime {

class CachingPageAllocator final : public v8::PageAllocator {
 public:
  struct Options {
    // Blocks up to largeBlockBytes are cached while their total stays under this.
    size_t maxCachedBytes = size_t{128} << 20;
    // Larger blocks are mostly untouched reservations (V8's code range); at most this many.
    size_t maxCachedLarge = 8;
    size_t largeBlockBytes = size_t{8} << 20;
  };
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t cachedBlocks = 0;
    uint64_t cachedBytes = 0;
    // mprotect calls made, and permission changes V8 asked for that were already in effect
    // for the whole range (not sent to the kernel).
    uint64_t protectCalls = 0;
    uint64_t protectsSkipped = 0;
  };

  explicit CachingPageAllocator(Options options);
  ~CachingPageAllocator() override;

  size_t AllocatePageSize() override { return pageSize_; }
  size_t CommitPageSize() override { return pageSize_; }
  void SetRandomMmapSeed(int64_t seed) override;
  void* GetRandomMmapAddr() override;
  void* AllocatePages(void* hint, size_t length, size_t alignment,
                      Permission permissions) override;
  bool FreePages(void* address, size_t length) override;
  bool ReleasePages(void* address, size_t length, size_t newLength) override;
  bool SetPermissions(void* address, size_t length, Permission permissions) override;
  bool DiscardSystemPages(void* address, size_t size) override;
  bool DecommitPages(void* address, size_t size) override;

  Stats stats();

 private:
  // Makes a block read-write and zero; false if it cannot (it is then unmapped).
  // `readWrite`: the whole block is known to be read-write already.
  bool scrub(void* address, size_t length, bool readWrite);
  bool protect(void* address, size_t length, int protection);  // mprotect, counted
  void* mapFresh(void* hint, size_t length, size_t alignment, Permission permissions);

  const Options options_;
  const size_t pageSize_;
  std::mutex mu_;
  std::multimap<size_t, uintptr_t> free_;  // length → address; every block is RW and zero
  // Heap chunks (≤ largeBlockBytes) handed out and not yet freed.
  struct Live {
    size_t length = 0;  // as V8 sees it (after ReleasePages)
    size_t mapped = 0;  // really mapped; a released tail stays mapped, inaccessible
    bool executable = false;
    // The protection of every mapped page, or kMixed when they differ or a change is in
    // flight. Lets a change that is already in effect skip the system call.
    int protection = kMixed;
    uint64_t generation = 0;  // bumped by every change, so a finished one knows it is last
  };
  static constexpr int kMixed = -1;
  std::map<uintptr_t, Live> live_;
  size_t smallBytes_ = 0;
  size_t largeCount_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  std::atomic<uint64_t> protectCalls_{0};
  uint64_t protectsSkipped_ = 0;
  std::mt19937_64 rng_;
};

// A v8::Platform that forwards everything to `inner` and returns `pages` as the page
// allocator. Install before v8::V8::Initialize(); both must outlive V8.
std::unique_ptr<v8::Platform> withPageAllocator(std::unique_ptr<v8::Platform> inner,
                                                v8::PageAllocator* pages);

}  // namespace cs::runtime
