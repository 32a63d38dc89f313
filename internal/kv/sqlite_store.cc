#include "internal/kv/sqlite_store.h"

#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "internal/kv/store_support.h"

// Returns the error of a failed Result/Status expression from the enclosing function.
#define KV_TRY(expr)                                \
  do {                                              \
    auto kvTryResult_ = (expr);                     \
    if (!kvTryResult_) return kvTryResult_.error(); \
  } while (0)

namespace cs::kv {
namespace {

constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out))
    return b > 0 ? kMaxI64 : std::numeric_limits<int64_t>::min();
  return out;
}

std::optional<int64_t> expiryFor(std::optional<int64_t> ttlMs, int64_t now) {
  if (!ttlMs) return std::nullopt;
  return saturatingAdd(now, *ttlMs);
}

// Smallest byte string greater than every string starting with `prefix`; nullopt if none.
std::optional<std::string> prefixUpperBound(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

Error wrongType(ErrorCode code) {
  return Error{code, "WRONGTYPE operation against a key holding the wrong kind of value"};
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv_keys (
  key BLOB PRIMARY KEY NOT NULL,
  type INTEGER NOT NULL,
  value BLOB,
  expires_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS kv_keys_expiry ON kv_keys(expires_at_ms)
  WHERE expires_at_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv_set (
  key BLOB NOT NULL,
  member BLOB NOT NULL,
  PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_zset (
  key BLOB NOT NULL,
  member BLOB NOT NULL,
  score REAL NOT NULL,
  PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_zset_score ON kv_zset(key, score, member);
)sql";

}  // namespace

struct SqliteStore::KeyRow {
  KeyType type;
  std::string value;  // strings only
  std::optional<int64_t> expiresAtMs;
};

// A cached prepared statement in use: binds by position, resets itself when it goes out of
// scope. Bind failures are remembered and reported by step().
class SqliteStore::Stmt {
 public:
  Stmt(SqliteStore& store, const std::string& sql) : store_(store) {
    Status status = okStatus();
    stmt_ = store.prepare(sql, status);
    if (!stmt_) rc_ = SQLITE_ERROR;
  }
  ~Stmt() {
    if (stmt_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& blob(std::string_view v) {
    int i = ++next_;
    if (!stmt_) return *this;
    int rc = v.empty() ? sqlite3_bind_zeroblob(stmt_, i, 0)
                       : sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT);
    remember(rc);
    return *this;
  }
  Stmt& i64(int64_t v) {
    int i = ++next_;
    if (stmt_) remember(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Stmt& optI64(std::optional<int64_t> v) {
    int i = ++next_;
    if (stmt_) remember(v ? sqlite3_bind_int64(stmt_, i, *v) : sqlite3_bind_null(stmt_, i));
    return *this;
  }
  Stmt& real(double v) {
    int i = ++next_;
    if (stmt_) remember(sqlite3_bind_double(stmt_, i, v));
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(stmt_);
  }
  // Runs a statement that returns no rows.
  Status run(ErrorCode code, std::string_view what) {
    int rc = step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return okStatus();
    return store_.dbError(code, what);
  }

  std::string colBlob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (!p || n <= 0) return {};
    return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
  }
  int64_t colI64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double colReal(int col) const { return sqlite3_column_double(stmt_, col); }
  bool colNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void remember(int rc) {
    if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
  }

  SqliteStore& store_;
  sqlite3_stmt* stmt_ = nullptr;
  int next_ = 0;
  int rc_ = SQLITE_OK;
};

std::string sqlitePathInDataDir(std::string_view dataDir) {
  return (std::filesystem::path(dataDir) / "kv.sqlite3").string();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteOptions& options) {
  if (options.path.empty()) return Error{ErrorCode::ValidationFailed, "sqlite path is empty"};
  if (options.purgeIntervalMs < 1) {
    return Error{ErrorCode::ValidationFailed, "purge interval must be >= 1 ms"};
  }
  if (options.path != ":memory:") {
    auto parent = std::filesystem::path(options.path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Error{ErrorCode::KvrocksUnavailable,
                   "cannot create " + parent.string() + ": " + ec.message()};
    }
  }
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error{ErrorCode::KvrocksUnavailable, "cannot open " + options.path + ": " + msg};
  }
  sqlite3_busy_timeout(db, options.busyTimeoutMs);
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, options));
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", kSchema}) {
    if (auto s = store->exec(sql); !s) {
      return Error{ErrorCode::KvrocksUnavailable,
                   "cannot initialise " + options.path + ": " + s.error().message};
    }
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, const SqliteOptions& options)
    : db_(db), clock_(options.clock), purgeIntervalMs_(options.purgeIntervalMs) {
  if (!clock_) {
    ownClock_ = std::make_unique<SystemClock>();
    clock_ = ownClock_.get();
  }
}

SqliteStore::~SqliteStore() {
  stop();
  std::lock_guard lock(mu_);
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status SqliteStore::start() {
  std::lock_guard lock(purgeMu_);
  if (purger_.joinable()) return okStatus();
  purgeStopping_ = false;
  purger_ = std::thread([this] {
    std::unique_lock lk(purgeMu_);
    while (!purgeStopping_) {
      purgeCv_.wait_for(lk, std::chrono::milliseconds(purgeIntervalMs_),
                        [this] { return purgeStopping_; });
      if (purgeStopping_) break;
      lk.unlock();
      (void)purgeExpired();  // a failed purge is retried next round; reads ignore expired rows
      lk.lock();
    }
  });
  return okStatus();
}

void SqliteStore::stop() {
  std::thread t;
  {
    std::lock_guard lock(purgeMu_);
    purgeStopping_ = true;
    t = std::move(purger_);
  }
  purgeCv_.notify_all();
  if (t.joinable()) t.join();
}

Error SqliteStore::dbError(ErrorCode code, std::string_view what) const {
  int rc = sqlite3_errcode(db_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) code = ErrorCode::KvrocksUnavailable;
  return Error{code, std::string(what) + ": " + sqlite3_errmsg(db_)};
}

Status SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return okStatus();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  ErrorCode code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::KvrocksUnavailable
                                                              : ErrorCode::KvrocksWriteFailed;
  return Error{code, msg};
}

sqlite3_stmt* SqliteStore::prepare(const std::string& sql, Status& status) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    status = dbError(ErrorCode::Internal, "prepare");
    sqlite3_finalize(stmt);
    return nullptr;
  }
  stmts_.emplace(sql, stmt);
  return stmt;
}

Result<int64_t> SqliteStore::changes() { return static_cast<int64_t>(sqlite3_changes64(db_)); }

template <typename F>
auto SqliteStore::inTxn(TxnMode mode, F&& body) -> decltype(body(int64_t{})) {
  std::lock_guard lock(mu_);
  if (auto s = exec(mode == TxnMode::Write ? "BEGIN IMMEDIATE" : "BEGIN"); !s) {
    return s.error();
  }
  auto result = body(clock_->nowMs());
  if (!result) {
    (void)exec("ROLLBACK");
    return result;
  }
  if (auto s = exec("COMMIT"); !s) {
    (void)exec("ROLLBACK");
    return s.error();
  }
  return result;
}

// --- helpers under the lock -------------------------------------------------------------------

Result<std::optional<SqliteStore::KeyRow>> SqliteStore::loadLive(std::string_view key, int64_t now,
                                                                 TxnMode mode) {
  ErrorCode code =
      mode == TxnMode::Read ? ErrorCode::KvrocksReadFailed : ErrorCode::KvrocksWriteFailed;
  std::optional<KeyRow> row;
  {
    Stmt st(*this, "SELECT type, value, expires_at_ms FROM kv_keys WHERE key = ?");
    st.blob(key);
    int rc = st.step();
    if (rc == SQLITE_ROW) {
      int type = static_cast<int>(st.colI64(0));
      if (type < 1 || type > 3) return Error{code, "stored key has an unknown type"};
      row = KeyRow{static_cast<KeyType>(type), st.colBlob(1),
                   st.colNull(2) ? std::nullopt : std::optional<int64_t>(st.colI64(2))};
    } else if (rc != SQLITE_DONE) {
      return dbError(code, "read key");
    }
  }
  if (row && row->expiresAtMs && *row->expiresAtMs <= now) {
    // Expired: absent. A write reaps it so that it starts from a clean slate.
    if (mode == TxnMode::Write) KV_TRY(dropKey(key));
    row.reset();
  }
  return row;
}

Status SqliteStore::dropKey(std::string_view key) {
  for (const char* sql : {"DELETE FROM kv_set WHERE key = ?", "DELETE FROM kv_zset WHERE key = ?",
                          "DELETE FROM kv_keys WHERE key = ?"}) {
    Stmt st(*this, sql);
    st.blob(key);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "delete key"));
  }
  return okStatus();
}

Status SqliteStore::putString(std::string_view key, std::string_view value,
                              std::optional<int64_t> expiresAtMs) {
  KV_TRY(dropKey(key));
  Stmt st(*this, "INSERT INTO kv_keys (key, type, value, expires_at_ms) VALUES (?, 1, ?, ?)");
  st.blob(key).blob(value).optI64(expiresAtMs);
  return st.run(ErrorCode::KvrocksWriteFailed, "write key");
}

Status SqliteStore::ensureCollection(std::string_view key, KeyType type, int64_t now) {
  auto row = loadLive(key, now, TxnMode::Write);
  if (!row) return row.error();
  if (*row) {
    if ((*row)->type != type) return wrongType(ErrorCode::KvrocksWriteFailed);
    return okStatus();
  }
  Stmt st(*this, "INSERT INTO kv_keys (key, type, value, expires_at_ms) VALUES (?, ?, NULL, NULL)");
  st.blob(key).i64(static_cast<int64_t>(type));
  return st.run(ErrorCode::KvrocksWriteFailed, "create key");
}

Status SqliteStore::dropIfEmpty(std::string_view key, KeyType type) {
  Stmt st(*this, type == KeyType::Set ? "SELECT 1 FROM kv_set WHERE key = ? LIMIT 1"
                                      : "SELECT 1 FROM kv_zset WHERE key = ? LIMIT 1");
  st.blob(key);
  int rc = st.step();
  if (rc == SQLITE_ROW) return okStatus();
  if (rc != SQLITE_DONE) return dbError(ErrorCode::KvrocksWriteFailed, "count members");
  return dropKey(key);
}

Result<int64_t> SqliteStore::incrLocked(std::string_view key, int64_t delta, int64_t now) {
  auto row = loadLive(key, now, TxnMode::Write);
  if (!row) return row.error();
  int64_t current = 0;
  std::optional<int64_t> expiresAt;
  if (*row) {
    if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksWriteFailed);
    const std::string& v = (*row)->value;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), current);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
      return Error{ErrorCode::KvrocksWriteFailed, "value is not an integer or out of range"};
    }
    expiresAt = (*row)->expiresAtMs;
  }
  int64_t next;
  if (__builtin_add_overflow(current, delta, &next)) {
    return Error{ErrorCode::KvrocksWriteFailed, "increment or decrement would overflow"};
  }
  KV_TRY(putString(key, std::to_string(next), expiresAt));
  return next;
}

// --- Store ------------------------------------------------------------------------------------

Status SqliteStore::ping() {
  return inTxn(TxnMode::Read, [&](int64_t) -> Status {
    Stmt st(*this, "SELECT 1");
    return st.run(ErrorCode::KvrocksUnavailable, "ping");
  });
}

Result<std::optional<std::string>> SqliteStore::get(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<std::optional<std::string>> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>();
    if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksReadFailed);
    return std::optional<std::string>(std::move((*row)->value));
  });
}

Status SqliteStore::set(std::string_view key, std::string_view value,
                        std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  return inTxn(TxnMode::Write,
               [&](int64_t now) -> Status { return putString(key, value, expiryFor(ttlMs, now)); });
}

Result<bool> SqliteStore::setIfAbsent(std::string_view key, std::string_view value,
                                      std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (*row) return false;
    KV_TRY(putString(key, value, expiryFor(ttlMs, now)));
    return true;
  });
}

Result<int64_t> SqliteStore::incrBy(std::string_view key, int64_t delta) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Write, [&](int64_t now) { return incrLocked(key, delta, now); });
}

Result<bool> SqliteStore::del(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    KV_TRY(dropKey(key));
    return true;
  });
}

Result<bool> SqliteStore::exists(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    return row->has_value();
  });
}

Result<bool> SqliteStore::expire(std::string_view key, int64_t ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    Stmt st(*this, "UPDATE kv_keys SET expires_at_ms = ? WHERE key = ?");
    st.i64(saturatingAdd(now, ttlMs)).blob(key);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "expire"));
    return true;
  });
}

Result<int64_t> SqliteStore::ttl(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<int64_t> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    if (!*row) return kTtlKeyAbsent;
    if (!(*row)->expiresAtMs) return kTtlNone;
    return *(*row)->expiresAtMs - now;
  });
}

Result<ScanPage> SqliteStore::scanPrefix(std::string_view prefix, std::string_view cursor,
                                         size_t limit) {
  KV_TRY(support::checkScanLimit(limit));
  auto upper = prefixUpperBound(prefix);
  // Resume strictly after the cursor when it lies inside the prefix range.
  bool afterCursor = !cursor.empty() && cursor >= prefix;
  std::string sql = "SELECT key FROM kv_keys WHERE key ";
  sql += afterCursor ? "> ?" : ">= ?";
  if (upper) sql += " AND key < ?";
  sql += " AND (expires_at_ms IS NULL OR expires_at_ms > ?) ORDER BY key LIMIT ?";
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<ScanPage> {
    Stmt st(*this, sql);
    st.blob(afterCursor ? cursor : prefix);
    if (upper) st.blob(*upper);
    st.i64(now).i64(static_cast<int64_t>(limit) + 1);
    ScanPage page;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) page.keys.push_back(st.colBlob(0));
    if (rc != SQLITE_DONE) return dbError(ErrorCode::KvrocksReadFailed, "scan");
    if (page.keys.size() > limit) {
      page.keys.pop_back();
      page.cursor = page.keys.back();
    }
    return page;
  });
}

Result<bool> SqliteStore::sadd(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    KV_TRY(ensureCollection(key, KeyType::Set, now));
    Stmt st(*this, "INSERT OR IGNORE INTO kv_set (key, member) VALUES (?, ?)");
    st.blob(key).blob(member);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "sadd"));
    return *changes() == 1;
  });
}

Result<bool> SqliteStore::srem(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    if ((*row)->type != KeyType::Set) return wrongType(ErrorCode::KvrocksWriteFailed);
    Stmt st(*this, "DELETE FROM kv_set WHERE key = ? AND member = ?");
    st.blob(key).blob(member);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "srem"));
    bool removed = *changes() == 1;
    KV_TRY(dropIfEmpty(key, KeyType::Set));
    return removed;
  });
}

Result<bool> SqliteStore::sismember(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    if (!*row) return false;
    if ((*row)->type != KeyType::Set) return wrongType(ErrorCode::KvrocksReadFailed);
    Stmt st(*this, "SELECT 1 FROM kv_set WHERE key = ? AND member = ?");
    st.blob(key).blob(member);
    int rc = st.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return dbError(ErrorCode::KvrocksReadFailed, "sismember");
    return rc == SQLITE_ROW;
  });
}

Result<std::vector<std::string>> SqliteStore::smembers(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<std::vector<std::string>> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    std::vector<std::string> out;
    if (!*row) return out;
    if ((*row)->type != KeyType::Set) return wrongType(ErrorCode::KvrocksReadFailed);
    Stmt st(*this, "SELECT member FROM kv_set WHERE key = ? ORDER BY member");
    st.blob(key);
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) out.push_back(st.colBlob(0));
    if (rc != SQLITE_DONE) return dbError(ErrorCode::KvrocksReadFailed, "smembers");
    return out;
  });
}

Result<bool> SqliteStore::zadd(std::string_view key, std::string_view member, double score) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(score));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    KV_TRY(ensureCollection(key, KeyType::ZSet, now));
    bool existed;
    {
      Stmt st(*this, "SELECT 1 FROM kv_zset WHERE key = ? AND member = ?");
      st.blob(key).blob(member);
      int rc = st.step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dbError(ErrorCode::KvrocksWriteFailed, "zadd");
      existed = rc == SQLITE_ROW;
    }
    Stmt st(*this, "INSERT OR REPLACE INTO kv_zset (key, member, score) VALUES (?, ?, ?)");
    st.blob(key).blob(member).real(score);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "zadd"));
    return !existed;
  });
}

Result<bool> SqliteStore::zrem(std::string_view key, std::string_view member) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    if ((*row)->type != KeyType::ZSet) return wrongType(ErrorCode::KvrocksWriteFailed);
    Stmt st(*this, "DELETE FROM kv_zset WHERE key = ? AND member = ?");
    st.blob(key).blob(member);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "zrem"));
    bool removed = *changes() == 1;
    KV_TRY(dropIfEmpty(key, KeyType::ZSet));
    return removed;
  });
}

Result<std::vector<ScoredMember>> SqliteStore::zrangeByScore(std::string_view key,
                                                             const ZRangeQuery& query) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(query.minScore));
  KV_TRY(support::checkScore(query.maxScore));
  const char* sql = query.order == ScoreOrder::Ascending
                        ? "SELECT member, score FROM kv_zset WHERE key = ? AND score >= ? AND "
                          "score <= ? ORDER BY score ASC, member ASC LIMIT ? OFFSET ?"
                        : "SELECT member, score FROM kv_zset WHERE key = ? AND score >= ? AND "
                          "score <= ? ORDER BY score DESC, member DESC LIMIT ? OFFSET ?";
  auto clamp = [](size_t n) { return static_cast<int64_t>(std::min<size_t>(n, kMaxI64)); };
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<std::vector<ScoredMember>> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    std::vector<ScoredMember> out;
    if (!*row || query.limit == 0) return out;
    if ((*row)->type != KeyType::ZSet) return wrongType(ErrorCode::KvrocksReadFailed);
    Stmt st(*this, sql);
    st.blob(key).real(query.minScore).real(query.maxScore).i64(clamp(query.limit));
    st.i64(clamp(query.offset));
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) out.push_back({st.colBlob(0), st.colReal(1)});
    if (rc != SQLITE_DONE) return dbError(ErrorCode::KvrocksReadFailed, "zrange");
    return out;
  });
}

Result<int64_t> SqliteStore::zremRangeByScore(std::string_view key, double minScore,
                                              double maxScore) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkScore(minScore));
  KV_TRY(support::checkScore(maxScore));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<int64_t> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return int64_t{0};
    if ((*row)->type != KeyType::ZSet) return wrongType(ErrorCode::KvrocksWriteFailed);
    Stmt st(*this, "DELETE FROM kv_zset WHERE key = ? AND score >= ? AND score <= ?");
    st.blob(key).real(minScore).real(maxScore);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "zremrangebyscore"));
    int64_t removed = *changes();
    KV_TRY(dropIfEmpty(key, KeyType::ZSet));
    return removed;
  });
}

Result<int64_t> SqliteStore::zcard(std::string_view key) {
  KV_TRY(support::checkKey(key));
  return inTxn(TxnMode::Read, [&](int64_t now) -> Result<int64_t> {
    auto row = loadLive(key, now, TxnMode::Read);
    if (!row) return row.error();
    if (!*row) return int64_t{0};
    if ((*row)->type != KeyType::ZSet) return wrongType(ErrorCode::KvrocksReadFailed);
    Stmt st(*this, "SELECT COUNT(*) FROM kv_zset WHERE key = ?");
    st.blob(key);
    if (st.step() != SQLITE_ROW) return dbError(ErrorCode::KvrocksReadFailed, "zcard");
    return st.colI64(0);
  });
}

Result<int64_t> SqliteStore::publishVersion(const PublishRequest& request) {
  auto plan = support::planPublish(request);
  if (!plan) return plan.error();
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<int64_t> {
    auto fn = loadLive(plan->functionMetaKey, now, TxnMode::Write);
    if (!fn) return fn.error();
    if (*fn && (*fn)->type != KeyType::String) return wrongType(ErrorCode::KvrocksReadFailed);
    KV_TRY(
        support::checkFunctionLive(*fn ? std::optional<std::string>((*fn)->value) : std::nullopt));
    auto draft = loadLive(plan->draftKey, now, TxnMode::Write);
    if (!draft) return draft.error();
    if (!*draft) return support::draftMissing();
    auto version = incrLocked(plan->versionSeqKey, 1, now);
    if (!version) return version.error();
    int64_t v = *version;
    KV_TRY(putString(plan->versionMetaKey(v), support::versionMetaJson(request, v), kNoTtl));
    KV_TRY(putString(plan->versionBundleKey(v), request.bundle, kNoTtl));
    if (plan->aliasKey) KV_TRY(putString(*plan->aliasKey, support::aliasJson(request, v), kNoTtl));
    KV_TRY(dropKey(plan->draftKey));
    return v;
  });
}

Result<CasResult> SqliteStore::casActivationStatus(std::string_view key,
                                                   const std::vector<std::string>& expectedStatuses,
                                                   std::string_view newRecordJson,
                                                   std::optional<int64_t> ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkTtl(ttlMs));
  KV_TRY(support::checkNewActivationRecord(newRecordJson));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<CasResult> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    std::optional<std::string> currentStatus;
    if (*row) {
      if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksReadFailed);
      auto status = support::storedStatus((*row)->value);
      if (!status) return status.error();
      currentStatus = std::move(*status);
    }
    CasResult result;
    if (!support::casAllowed(currentStatus, expectedStatuses)) {
      result.outcome = CasOutcome::Conflict;
      if (*row) result.current = std::move((*row)->value);
      return result;
    }
    KV_TRY(putString(key, newRecordJson, expiryFor(ttlMs, now)));
    result.outcome = CasOutcome::Applied;
    result.current = std::string(newRecordJson);
    return result;
  });
}

Result<bool> SqliteStore::leaseAcquire(std::string_view key, std::string_view owner,
                                       int64_t ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkOwner(owner));
  KV_TRY(support::checkTtl(ttlMs));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (*row) {
      if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksWriteFailed);
      if ((*row)->value != owner) return false;
    }
    KV_TRY(putString(key, owner, saturatingAdd(now, ttlMs)));
    return true;
  });
}

Result<bool> SqliteStore::leaseRenew(std::string_view key, std::string_view owner, int64_t ttlMs) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkOwner(owner));
  KV_TRY(support::checkTtl(ttlMs));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksWriteFailed);
    if ((*row)->value != owner) return false;
    KV_TRY(putString(key, owner, saturatingAdd(now, ttlMs)));
    return true;
  });
}

Result<bool> SqliteStore::leaseRelease(std::string_view key, std::string_view owner) {
  KV_TRY(support::checkKey(key));
  KV_TRY(support::checkOwner(owner));
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<bool> {
    auto row = loadLive(key, now, TxnMode::Write);
    if (!row) return row.error();
    if (!*row) return false;
    if ((*row)->type != KeyType::String) return wrongType(ErrorCode::KvrocksWriteFailed);
    if ((*row)->value != owner) return false;
    KV_TRY(dropKey(key));
    return true;
  });
}

Result<int64_t> SqliteStore::purgeExpired() {
  return inTxn(TxnMode::Write, [&](int64_t now) -> Result<int64_t> {
    for (const char* sql :
         {"DELETE FROM kv_set WHERE key IN "
          "(SELECT key FROM kv_keys WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?)",
          "DELETE FROM kv_zset WHERE key IN "
          "(SELECT key FROM kv_keys WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?)"}) {
      Stmt st(*this, sql);
      st.i64(now);
      KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "purge members"));
    }
    Stmt st(*this, "DELETE FROM kv_keys WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?");
    st.i64(now);
    KV_TRY(st.run(ErrorCode::KvrocksWriteFailed, "purge keys"));
    return changes();
  });
}

Result<int64_t> SqliteStore::rawRowCountForTest(std::string_view key) {
  return inTxn(TxnMode::Read, [&](int64_t) -> Result<int64_t> {
    Stmt st(*this,
            "SELECT (SELECT COUNT(*) FROM kv_keys WHERE key = ?1) + "
            "(SELECT COUNT(*) FROM kv_set WHERE key = ?1) + "
            "(SELECT COUNT(*) FROM kv_zset WHERE key = ?1)");
    st.blob(key);
    if (st.step() != SQLITE_ROW) return dbError(ErrorCode::KvrocksReadFailed, "count rows");
    return st.colI64(0);
  });
}

Result<std::unique_ptr<Store>> makeSqliteStore(const SqliteOptions& options) {
  auto store = SqliteStore::open(options);
  if (!store) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace cs::kv
