#include "internal/runtime/page_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

namespace cs::runtime {
namespace {

int protectionOf(v8::PageAllocator::Permission permission) {
  switch (permission) {
    case v8::PageAllocator::kRead:
      return PROT_READ;
    case v8::PageAllocator::kReadWrite:
      return PROT_READ | PROT_WRITE;
    case v8::PageAllocator::kReadWriteExecute:
      return PROT_READ | PROT_WRITE | PROT_EXEC;
    case v8::PageAllocator::kReadExecute:
      return PROT_READ | PROT_EXEC;
    case v8::PageAllocator::kNoAccess:
    case v8::PageAllocator::kNoAccessWillJitLater:
      return PROT_NONE;
  }
  return PROT_NONE;
}

uintptr_t roundUp(uintptr_t value, size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

CachingPageAllocator::CachingPageAllocator(Options options)
    : options_(options),
      pageSize_(static_cast<size_t>(sysconf(_SC_PAGESIZE))),
      rng_(std::random_device{}()) {}

CachingPageAllocator::~CachingPageAllocator() {
  for (const auto& [length, address] : free_) munmap(reinterpret_cast<void*>(address), length);
}

void CachingPageAllocator::SetRandomMmapSeed(int64_t seed) {
  std::lock_guard lock(mu_);
  rng_.seed(static_cast<uint64_t>(seed));
}

void* CachingPageAllocator::GetRandomMmapAddr() {
  std::lock_guard lock(mu_);
  // A hint inside the 47-bit user half, as V8's own allocator does on x64/arm64 Linux.
  return reinterpret_cast<void*>(rng_() & uint64_t{0x3FFFFFFFF000});
}

void* CachingPageAllocator::AllocatePages(void* hint, size_t length, size_t alignment,
                                          Permission permissions) {
  if (alignment < pageSize_) alignment = pageSize_;
  uintptr_t reused = 0;
  {
    std::lock_guard lock(mu_);
    auto [first, last] = free_.equal_range(length);
    for (auto it = first; it != last; ++it) {
      if (it->second % alignment != 0) continue;
      reused = it->second;
      free_.erase(it);
      if (length > options_.largeBlockBytes) {
        --largeCount_;
      } else {
        smallBytes_ -= length;
      }
      ++hits_;
      break;
    }
    if (reused == 0) ++misses_;
  }
  void* address = nullptr;
  int protection = protectionOf(permissions);
  if (reused != 0) {
    address = reinterpret_cast<void*>(reused);
    // Cached blocks are read-write and zero. A heap chunk (≤ largeBlockBytes) asked for as
    // a kNoAccess reservation is handed out as it is: V8 commits the whole chunk read-write
    // right away (MemoryAllocator::AllocateAlignedMemory) and sets guard pages explicitly.
    // Making resident pages inaccessible first would cost a TLB shoot-down per chunk for
    // nothing. Large reservations (the code range) get exactly what they ask for.
    const bool chunkReservation =
        permissions == kNoAccess && length <= options_.largeBlockBytes;
    if (permissions == kReadWrite || chunkReservation) {
      protection = PROT_READ | PROT_WRITE;
    } else if (!protect(address, length, protection)) {
      munmap(address, length);
      address = nullptr;
    }
  }
  if (address == nullptr) {
    address = mapFresh(hint, length, alignment, permissions);
    protection = protectionOf(permissions);
  }
  if (address != nullptr && length <= options_.largeBlockBytes) {
    std::lock_guard lock(mu_);
    live_[reinterpret_cast<uintptr_t>(address)] =
        Live{length, length, (protection & PROT_EXEC) != 0, protection, 0};
  }
  return address;
}

void* CachingPageAllocator::mapFresh(void* hint, size_t length, size_t alignment,
                                     Permission permissions) {
  const size_t request = length + (alignment > pageSize_ ? alignment - pageSize_ : 0);
  int flags = MAP_PRIVATE | MAP_ANONYMOUS;
  if (permissions == kNoAccess || permissions == kNoAccessWillJitLater) flags |= MAP_NORESERVE;
  void* raw = mmap(hint, request, protectionOf(permissions), flags, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = roundUp(base, alignment);
  if (aligned > base) munmap(raw, aligned - base);
  const uintptr_t end = base + request;
  if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  return reinterpret_cast<void*>(aligned);
}

bool CachingPageAllocator::FreePages(void* address, size_t length) {
  bool keep = false;
  bool large = false;
  bool readWrite = false;
  {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(reinterpret_cast<uintptr_t>(address)); it != live_.end()) {
      if (it->second.mapped > length) length = it->second.mapped;
      readWrite = it->second.protection == (PROT_READ | PROT_WRITE);
      live_.erase(it);
    }
    large = length > options_.largeBlockBytes;
    if (large ? largeCount_ < options_.maxCachedLarge
              : smallBytes_ + length <= options_.maxCachedBytes) {
      keep = true;
      if (large) {
        ++largeCount_;
      } else {
        smallBytes_ += length;
      }
    }
  }
  if (keep && scrub(address, length, readWrite)) {
    std::lock_guard lock(mu_);
    free_.emplace(length, reinterpret_cast<uintptr_t>(address));
    return true;
  }
  if (keep) {  // give the reserved budget back
    std::lock_guard lock(mu_);
    if (large) {
      --largeCount_;
    } else {
      smallBytes_ -= length;
    }
  }
  return munmap(address, length) == 0;
}

bool CachingPageAllocator::protect(void* address, size_t length, int protection) {
  protectCalls_.fetch_add(1, std::memory_order_relaxed);
  return mprotect(address, length, protection) == 0;
}

bool CachingPageAllocator::scrub(void* address, size_t length, bool readWrite) {
  // Raising permissions changes no present page table entry into a stricter one, so it needs
  // no TLB shoot-down; then only pages that were ever touched (resident) need zeroing.
  if (!readWrite && !protect(address, length, PROT_READ | PROT_WRITE)) return false;
  const size_t pages = length / pageSize_;
  thread_local std::vector<unsigned char> residency;
  residency.resize(pages);
  if (mincore(address, length, residency.data()) != 0) return false;
  // A page stays resident once zeroed, so residency over-counts: about 60 % of the resident
  // pages of a recycled chunk were never written by the last isolate (measured). Reading a
  // clean page is cheaper than writing it, and a dirty one usually differs in its first bytes.
  static const std::vector<unsigned char> zeroPage(pageSize_, 0);
  auto* bytes = static_cast<unsigned char*>(address);
  for (size_t i = 0; i < pages; ++i) {
    if (!(residency[i] & 1)) continue;
    unsigned char* page = bytes + i * pageSize_;
    if (std::memcmp(page, zeroPage.data(), pageSize_) != 0) std::memset(page, 0, pageSize_);
  }
  return true;
}

bool CachingPageAllocator::ReleasePages(void* address, size_t length, size_t newLength) {
  if (newLength >= length) return true;
  char* tail = static_cast<char*>(address) + newLength;
  std::lock_guard lock(mu_);
  auto it = live_.find(reinterpret_cast<uintptr_t>(address));
  // V8 trims a chunk to what it used (e.g. the immortal pages after deserialisation). Keep
  // the tail mapped but inaccessible, so the chunk is cached at its original, common size
  // instead of an odd one nothing else asks for; FreePages then frees the whole of it.
  if (it != live_.end()) {
    it->second.protection = kMixed;
    ++it->second.generation;
  }
  if (it == live_.end() || !protect(tail, length - newLength, PROT_NONE)) {
    return munmap(tail, length - newLength) == 0;
  }
  it->second.length = newLength;
  return true;
}

bool CachingPageAllocator::SetPermissions(void* address, size_t length,
                                          Permission permissions) {
  const int protection = protectionOf(permissions);
  const auto start = reinterpret_cast<uintptr_t>(address);
  uintptr_t chunkBase = 0;  // tracked chunk this change covers entirely, if any
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    auto it = live_.upper_bound(start);
    if (it != live_.begin()) {
      --it;
      Live& chunk = it->second;
      if (start < it->first + chunk.mapped) {
        // Already in effect on every page of the range: nothing to tell the kernel.
        if (chunk.protection == protection && start + length <= it->first + chunk.mapped) {
          ++protectsSkipped_;
          return true;
        }
        if (protection & PROT_EXEC) chunk.executable = true;
        // V8 uncommits a whole chunk right before freeing it (or to re-commit it later in
        // the same isolate, when it does not expect the old content either). Its pages stay
        // accessible until FreePages zeroes them: making resident pages inaccessible costs a
        // TLB shoot-down on every core for memory nobody touches. Never for chunks that
        // were ever executable, never for part of a chunk (guard pages).
        if (permissions == kNoAccess && !chunk.executable && start == it->first &&
            length >= chunk.length) {
          return true;
        }
        // Mixed while the change is in flight; uniform again afterwards if it covered the
        // whole chunk and no other change started meanwhile.
        chunk.protection = kMixed;
        generation = ++chunk.generation;
        if (start == it->first && length >= chunk.mapped) chunkBase = it->first;
      }
    }
  }
  // V8's own allocator also discards pages made inaccessible; their content is not
  // guaranteed afterwards either way, and they are zeroed when the block is freed.
  if (!protect(address, length, protection)) return false;
  if (chunkBase != 0) {
    std::lock_guard lock(mu_);
    if (auto it = live_.find(chunkBase); it != live_.end() && it->second.generation == generation) {
      it->second.protection = protection;
    }
  }
  return true;
}

bool CachingPageAllocator::DiscardSystemPages(void*, size_t) {
  // A hint by contract ("does not guarantee that the pages will be discarded"); isolates are
  // short-lived and their blocks are zeroed and reused when freed.
  return true;
}

bool CachingPageAllocator::DecommitPages(void* address, size_t size) {
  // Contract: inaccessible now, and zero when made accessible again.
  {
    std::lock_guard lock(mu_);
    const auto start = reinterpret_cast<uintptr_t>(address);
    auto it = live_.upper_bound(start);
    if (it != live_.begin() && start < std::prev(it)->first + std::prev(it)->second.mapped) {
      std::prev(it)->second.protection = kMixed;  // conservatively: every later change is sent
      ++std::prev(it)->second.generation;
    }
  }
  return protect(address, size, PROT_NONE) && madvise(address, size, MADV_DONTNEED) == 0;
}

CachingPageAllocator::Stats CachingPageAllocator::stats() {
  std::lock_guard lock(mu_);
  Stats s;
  s.hits = hits_;
  s.misses = misses_;
  s.protectCalls = protectCalls_.load(std::memory_order_relaxed);
  s.protectsSkipped = protectsSkipped_;
  s.cachedBlocks = free_.size();
  for (const auto& [length, address] : free_) s.cachedBytes += length;
  return s;
}

// ---- platform wrapper ------------------------------------------------------------------

namespace {

class PlatformWithPageAllocator final : public v8::Platform {
 public:
  PlatformWithPageAllocator(std::unique_ptr<v8::Platform> inner, v8::PageAllocator* pages)
      : inner_(std::move(inner)), pages_(pages) {}

  v8::PageAllocator* GetPageAllocator() override { return pages_; }
  v8::ZoneBackingAllocator* GetZoneBackingAllocator() override {
    return inner_->GetZoneBackingAllocator();
  }
  void OnCriticalMemoryPressure() override { inner_->OnCriticalMemoryPressure(); }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override { return inner_->NumberOfWorkerThreads(); }
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override {
    return inner_->GetForegroundTaskRunner(isolate);
  }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallOnWorkerThread(std::move(task));
  }
  void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallBlockingTaskOnWorkerThread(std::move(task));
  }
  void CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallLowPriorityTaskOnWorkerThread(std::move(task));
  }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay) override {
    inner_->CallDelayedOnWorkerThread(std::move(task), delay);
  }
  bool IdleTasksEnabled(v8::Isolate* isolate) override { return inner_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                         std::unique_ptr<v8::JobTask> job) override {
    return inner_->PostJob(priority, std::move(job));
  }
  double MonotonicallyIncreasingTime() override { return inner_->MonotonicallyIncreasingTime(); }
  double CurrentClockTimeMillis() override { return inner_->CurrentClockTimeMillis(); }
  StackTracePrinter GetStackTracePrinter() override { return inner_->GetStackTracePrinter(); }
  v8::TracingController* GetTracingController() override {
    return inner_->GetTracingController();
  }
  void DumpWithoutCrashing() override { inner_->DumpWithoutCrashing(); }
  v8::HighAllocationThroughputObserver* GetHighAllocationThroughputObserver() override {
    return inner_->GetHighAllocationThroughputObserver();
  }

 private:
  std::unique_ptr<v8::Platform> inner_;
  v8::PageAllocator* pages_;
};

}  // namespace

std::unique_ptr<v8::Platform> withPageAllocator(std::unique_ptr<v8::Platform> inner,
                                                v8::PageAllocator* pages) {
  return std::make_unique<PlatformWithPageAllocator>(std::move(inner), pages);
}

}  // namespace cs::runtime
