#include "internal/kv/sqlite_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "internal/kv/keys.h"
#include "internal/kv/records.h"
#include "internal/kv/testing/store_contract.h"

namespace cs::kv {
namespace {

namespace fs = std::filesystem;
using testing::StoreContractParam;
using testing::StoreContractTest;
using testing::StoreUnderTest;

// A fresh directory per call, removed by the returned holder.
std::shared_ptr<fs::path> tempDir() {
  static std::atomic<int> counter{0};
  auto dir = fs::temp_directory_path() /
             ("cs-kv-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return std::shared_ptr<fs::path>(new fs::path(dir), [](fs::path* p) {
    std::error_code ec;
    fs::remove_all(*p, ec);
    delete p;
  });
}

struct Fixture {
  std::shared_ptr<fs::path> dir;
  ManualClock clock;
};

StoreUnderTest makeSut(bool onDisk) {
  auto fx = std::make_shared<Fixture>();
  SqliteOptions opts;
  opts.clock = &fx->clock;
  if (onDisk) {
    fx->dir = tempDir();
    opts.path = sqlitePathInDataDir(fx->dir->string());
  }
  auto store = makeSqliteStore(opts);
  if (!store.ok()) {
    ADD_FAILURE() << store.error().message;
    return {};
  }
  StoreUnderTest sut;
  sut.keepAlive = fx;
  sut.store = std::move(*store);
  sut.advanceMs = [fx](int64_t ms) { fx->clock.advanceMs(ms); };
  return sut;
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreContractTest,
    ::testing::Values(StoreContractParam{"memory", [] { return makeSut(false); }},
                      StoreContractParam{"file", [] { return makeSut(true); }}),
    testing::storeContractParamName);

// --- driver-specific behaviour ----------------------------------------------------------------

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions opts;
    opts.clock = &clock_;
    auto s = SqliteStore::open(opts);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }

  ManualClock clock_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, DraftExpiresByTtlAndPurgeRemovesTheRow) {
  auto key = keys::draft("t_abcdef", "default", "hello", "drf_123");
  ASSERT_TRUE(key.ok());
  DraftRecord d;
  d.draftId = "drf_123";
  ASSERT_TRUE(store_->set(*key, encode(d), 86'400'000).ok());
  clock_.advanceMs(86'399'999);
  EXPECT_TRUE(store_->get(*key)->has_value());
  clock_.advanceMs(2);
  EXPECT_FALSE(store_->get(*key)->has_value()) << "expired = absent on read";
  EXPECT_EQ(*store_->rawRowCountForTest(*key), 1) << "reads do not delete";

  auto purged = store_->purgeExpired();
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(*store_->rawRowCountForTest(*key), 0);
}

TEST_F(SqliteStoreTest, PurgeRemovesExpiredCollectionsAndKeepsLiveKeys) {
  ASSERT_TRUE(store_->sadd("cs:s", "a").ok());
  ASSERT_TRUE(store_->sadd("cs:s", "b").ok());
  ASSERT_TRUE(store_->zadd("cs:z", "a", 1).ok());
  ASSERT_TRUE(*store_->expire("cs:s", 100));
  ASSERT_TRUE(*store_->expire("cs:z", 100));
  ASSERT_TRUE(store_->set("cs:live", "v", 1000).ok());
  ASSERT_TRUE(store_->set("cs:forever", "v", kNoTtl).ok());
  EXPECT_EQ(*store_->rawRowCountForTest("cs:s"), 3);
  clock_.advanceMs(101);
  EXPECT_EQ(*store_->purgeExpired(), 2);
  EXPECT_EQ(*store_->rawRowCountForTest("cs:s"), 0);
  EXPECT_EQ(*store_->rawRowCountForTest("cs:z"), 0);
  EXPECT_EQ(*store_->rawRowCountForTest("cs:live"), 1);
  EXPECT_EQ(*store_->rawRowCountForTest("cs:forever"), 1);
  EXPECT_EQ(*store_->purgeExpired(), 0);
}

TEST_F(SqliteStoreTest, BackgroundPurgerRemovesExpiredRows) {
  SqliteOptions opts;
  opts.clock = &clock_;
  opts.purgeIntervalMs = 5;
  auto s = SqliteStore::open(opts);
  ASSERT_TRUE(s.ok());
  auto& store = **s;
  ASSERT_TRUE(store.set("cs:k", "v", 1000).ok());
  ASSERT_TRUE(store.start().ok());
  ASSERT_TRUE(store.start().ok()) << "start is idempotent";
  clock_.advanceMs(1001);
  // Wait (bounded) for the purger thread; this checks that it runs, not how fast.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (*store.rawRowCountForTest("cs:k") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(*store.rawRowCountForTest("cs:k"), 0);
  store.stop();
  store.stop();
}

TEST(SqliteStoreFileTest, DataSurvivesReopen) {
  auto dir = tempDir();
  ManualClock clock;
  SqliteOptions opts;
  opts.clock = &clock;
  opts.path = sqlitePathInDataDir((*dir / "nested" / "data").string());
  {
    auto s = makeSqliteStore(opts);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_TRUE((*s)->set("cs:k", "v", kNoTtl).ok());
    ASSERT_TRUE((*s)->sadd("cs:set", "m").ok());
  }
  EXPECT_TRUE(fs::exists(opts.path));
  auto s = makeSqliteStore(opts);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->get("cs:k")->value_or(""), "v");
  EXPECT_TRUE(*(*s)->sismember("cs:set", "m"));
}

TEST(SqliteStoreFileTest, TwoConnectionsOnOneFilePublishWithoutDuplicates) {
  auto dir = tempDir();
  ManualClock clock;
  SqliteOptions opts;
  opts.clock = &clock;
  opts.path = sqlitePathInDataDir(dir->string());
  auto a = makeSqliteStore(opts);
  auto b = makeSqliteStore(opts);
  ASSERT_TRUE(a.ok() && b.ok());
  const char* t = "t_abcdef";
  const char* ns = "default";
  const char* fn = "hello";
  FunctionRecord f{t, ns, fn, "cs-js", "function.js", "default", 1, std::nullopt};
  ASSERT_TRUE((*a)->set(*keys::functionMeta(t, ns, fn), encode(f), kNoTtl).ok());
  constexpr int kPerStore = 20;
  for (int i = 0; i < 2 * kPerStore; ++i) {
    ASSERT_TRUE((*a)->set(*keys::draft(t, ns, fn, "drf_" + std::to_string(i)), "{}", 60'000).ok());
  }
  std::vector<int64_t> got[2];
  std::thread threads[2];
  Store* stores[2] = {a->get(), b->get()};
  for (int s = 0; s < 2; ++s) {
    threads[s] = std::thread([&, s] {
      for (int i = 0; i < kPerStore; ++i) {
        PublishRequest r;
        r.tenant = t;
        r.ns = ns;
        r.function = fn;
        r.draftId = "drf_" + std::to_string(s * kPerStore + i);
        r.bundle = "b";
        r.sha256 = "x";
        auto v = stores[s]->publishVersion(r);
        if (v.ok()) got[s].push_back(*v);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(got[0].size() + got[1].size(), 2u * kPerStore);
  ASSERT_EQ(all.size(), 2u * kPerStore);
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), 2 * kPerStore);
}

TEST(SqliteStoreOpenTest, UnopenablePathIsUnavailable) {
  SqliteOptions opts;
  opts.path = "/dev/null/not-a-dir/kv.sqlite3";
  auto s = makeSqliteStore(opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::KvrocksUnavailable);
  opts.path = "";
  EXPECT_FALSE(makeSqliteStore(opts).ok());
}

TEST(SqliteStoreOpenTest, NotADatabaseFileIsUnavailable) {
  auto dir = tempDir();
  auto path = *dir / "kv.sqlite3";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("this is definitely not an sqlite database, just some text padding it out...", f);
    std::fclose(f);
  }
  SqliteOptions opts;
  opts.path = path.string();
  auto s = makeSqliteStore(opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::KvrocksUnavailable);
}

}  // namespace
}  // namespace cs::kv
