#include "internal/runtime/page_cache.h"

#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>

#include <cstring>

namespace cs::runtime {
namespace {

constexpr size_t kBlock = 256 << 10;

CachingPageAllocator::Options small() {
  CachingPageAllocator::Options o;
  o.maxCachedBytes = 4 * kBlock;
  o.maxCachedLarge = 1;
  o.largeBlockBytes = 1 << 20;
  return o;
}

bool allZero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

// A read-write chunk filled with `fill`: what an isolate leaves behind.
unsigned char* dirtyChunk(CachingPageAllocator& pages, unsigned char fill) {
  auto* a = static_cast<unsigned char*>(
      pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kReadWrite));
  if (a != nullptr) std::memset(a, fill, kBlock);
  return a;
}

// The next chunk of that size is `previous` again, and all zero.
void expectReusedAndZero(CachingPageAllocator& pages, const void* previous) {
  void* b = pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kReadWrite);
  EXPECT_EQ(b, previous) << "a freed chunk of the same size is reused";
  if (b != nullptr) {
    EXPECT_TRUE(allZero(b, kBlock)) << "no byte of the previous owner survives";
    pages.FreePages(b, kBlock);
  }
}

TEST(PageCacheTest, ReusedBlockIsZeroAndAligned) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0xAB);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kBlock, 0u);
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  expectReusedAndZero(pages, a);
  auto s = pages.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
}

TEST(PageCacheTest, ZeroesPagesThatWereMadeInaccessible) {
  CachingPageAllocator pages(small());
  auto* a = static_cast<unsigned char*>(
      pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kNoAccess));
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kReadWrite));
  std::memset(a + 8192, 0x5A, 4096);
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kNoAccess));
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  auto* b = static_cast<unsigned char*>(
      pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kReadWrite));
  ASSERT_EQ(b, a);
  EXPECT_TRUE(allZero(b, kBlock));
  pages.FreePages(b, kBlock);
}

sigjmp_buf faultJump;
void onFault(int) { siglongjmp(faultJump, 1); }

bool writeFaults(volatile unsigned char* p) {
  struct sigaction action {}, previous {};
  action.sa_handler = onFault;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, &previous);
  bool faulted = false;
  if (sigsetjmp(faultJump, 1) == 0) {
    *p = 1;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &previous, nullptr);
  return faulted;
}

TEST(PageCacheTest, ReusedLargeReservationHasTheRequestedPermissions) {
  CachingPageAllocator pages(small());
  const size_t large = 2 << 20;  // above largeBlockBytes: V8's code range, for instance
  void* a = pages.AllocatePages(nullptr, large, kBlock, v8::PageAllocator::kReadWrite);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.FreePages(a, large));
  auto* b = static_cast<unsigned char*>(
      pages.AllocatePages(nullptr, large, kBlock, v8::PageAllocator::kNoAccess));
  ASSERT_EQ(static_cast<void*>(b), a);
  EXPECT_TRUE(writeFaults(b)) << "a reservation asked for without access must trap";
  ASSERT_TRUE(pages.SetPermissions(b, kBlock, v8::PageAllocator::kReadWrite));
  EXPECT_FALSE(writeFaults(b));
  pages.FreePages(b, large);
}

TEST(PageCacheTest, GuardPagesAndExecutableChunksAreAlwaysHonoured) {
  CachingPageAllocator pages(small());
  void* a = pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kReadWrite);
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  // A reused chunk reservation comes back read-write (V8 commits it at once)...
  auto* b = static_cast<unsigned char*>(
      pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kNoAccess));
  ASSERT_EQ(static_cast<void*>(b), a);
  // ...but a guard page inside it traps,
  ASSERT_TRUE(pages.SetPermissions(b + 4096, 4096, v8::PageAllocator::kNoAccess));
  EXPECT_TRUE(writeFaults(b + 4096));
  EXPECT_FALSE(writeFaults(b));
  // and a chunk that was ever executable is really made inaccessible as a whole.
  ASSERT_TRUE(pages.SetPermissions(b, kBlock, v8::PageAllocator::kReadExecute));
  ASSERT_TRUE(pages.SetPermissions(b, kBlock, v8::PageAllocator::kNoAccess));
  EXPECT_TRUE(writeFaults(b));
  pages.FreePages(b, kBlock);
}

TEST(PageCacheTest, UncommittedDataChunkIsZeroedWhenFreed) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0x42);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kNoAccess));
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  expectReusedAndZero(pages, a);
}

TEST(PageCacheTest, PermissionsAlreadyInEffectAreNotSentToTheKernel) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0x11);
  ASSERT_NE(a, nullptr);
  const auto before = pages.stats();
  // V8 commits a chunk it got read-write; freeing it makes it read-write for the scrub.
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kReadWrite));
  ASSERT_TRUE(pages.SetPermissions(a + 8192, 4096, v8::PageAllocator::kReadWrite));
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  const auto after = pages.stats();
  EXPECT_EQ(after.protectsSkipped, before.protectsSkipped + 2);
  EXPECT_EQ(after.protectCalls, before.protectCalls) << "no mprotect for what is in effect";
  expectReusedAndZero(pages, a);
}

TEST(PageCacheTest, AfterAPartialChangeTheWholeChunkIsChangedAgain) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0x22);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.SetPermissions(a + 4096, 4096, v8::PageAllocator::kNoAccess));
  EXPECT_TRUE(writeFaults(a + 4096));
  const auto before = pages.stats();
  // The chunk is no longer uniformly read-write: this change must reach the guard page.
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kReadWrite));
  EXPECT_EQ(pages.stats().protectCalls, before.protectCalls + 1);
  EXPECT_FALSE(writeFaults(a + 4096));
  // Uniform again: repeating it is free, and a change to another protection is sent.
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kReadWrite));
  EXPECT_EQ(pages.stats().protectCalls, before.protectCalls + 1);
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kRead));
  EXPECT_TRUE(writeFaults(a));
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  expectReusedAndZero(pages, a);
}

TEST(PageCacheTest, DecommittedPagesReadAsZeroWhenCommittedAgain) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0x77);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.DecommitPages(a, kBlock));
  EXPECT_TRUE(writeFaults(a));
  ASSERT_TRUE(pages.SetPermissions(a, kBlock, v8::PageAllocator::kReadWrite));
  EXPECT_TRUE(allZero(a, kBlock));
  pages.FreePages(a, kBlock);
}

TEST(PageCacheTest, CacheIsBounded) {
  CachingPageAllocator pages(small());  // 4 small blocks, 1 large
  void* blocks[6];
  for (auto& b : blocks) {
    b = pages.AllocatePages(nullptr, kBlock, kBlock, v8::PageAllocator::kReadWrite);
    ASSERT_NE(b, nullptr);
  }
  for (auto* b : blocks) ASSERT_TRUE(pages.FreePages(b, kBlock));
  EXPECT_EQ(pages.stats().cachedBlocks, 4u);
  EXPECT_EQ(pages.stats().cachedBytes, 4 * kBlock);

  const size_t large = 2 << 20;
  void* l1 = pages.AllocatePages(nullptr, large, kBlock, v8::PageAllocator::kNoAccess);
  void* l2 = pages.AllocatePages(nullptr, large, kBlock, v8::PageAllocator::kNoAccess);
  ASSERT_TRUE(pages.FreePages(l1, large));
  ASSERT_TRUE(pages.FreePages(l2, large));
  EXPECT_EQ(pages.stats().cachedBlocks, 5u) << "one large reservation kept, the other unmapped";
}

TEST(PageCacheTest, DifferentSizeOrAlignmentIsNotReused) {
  CachingPageAllocator pages(small());
  void* a = pages.AllocatePages(nullptr, kBlock, 4096, v8::PageAllocator::kReadWrite);
  ASSERT_NE(a, nullptr);
  const bool misaligned = reinterpret_cast<uintptr_t>(a) % (2 * kBlock) != 0;
  ASSERT_TRUE(pages.FreePages(a, kBlock));
  void* b = pages.AllocatePages(nullptr, 2 * kBlock, kBlock, v8::PageAllocator::kReadWrite);
  EXPECT_NE(b, a);
  void* c = pages.AllocatePages(nullptr, kBlock, 2 * kBlock, v8::PageAllocator::kReadWrite);
  if (misaligned) {
    EXPECT_NE(c, a);
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % (2 * kBlock), 0u);
  pages.FreePages(b, 2 * kBlock);
  pages.FreePages(c, kBlock);
}

TEST(PageCacheTest, ShrunkBlockIsCachedWhole) {
  CachingPageAllocator pages(small());
  unsigned char* a = dirtyChunk(pages, 0x11);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(pages.ReleasePages(a, kBlock, 16384));
  EXPECT_TRUE(writeFaults(a + 16384)) << "the released tail is no longer usable";
  ASSERT_TRUE(pages.FreePages(a, 16384));
  EXPECT_EQ(pages.stats().cachedBytes, kBlock);
  expectReusedAndZero(pages, a);
}

}  // namespace
}  // namespace cs::runtime
