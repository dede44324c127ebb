// SQLite implementation of Store: WAL mode, one writer, prepared statements,
// one transaction per broker loop turn (group commit).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <unordered_map>

#include <sqlite3.h>

#include "common/log.h"
#include "store/store.h"

namespace yilian::store {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  seq          INTEGER PRIMARY KEY,
  event_id     TEXT    NOT NULL UNIQUE,
  uscc         TEXT    NOT NULL,
  revision     INTEGER NOT NULL,
  type         INTEGER NOT NULL,
  agencies     TEXT    NOT NULL,
  payload      BLOB    NOT NULL,
  published_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_uscc ON events (uscc, seq);
CREATE TABLE IF NOT EXISTS enterprises (
  uscc          TEXT PRIMARY KEY,
  last_revision INTEGER NOT NULL,
  last_seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  seq             INTEGER NOT NULL,
  agency          TEXT    NOT NULL,
  uscc            TEXT    NOT NULL,
  state           INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  reference       TEXT    NOT NULL DEFAULT '',
  reason          TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (seq, agency)
) WITHOUT ROWID;
)sql";

std::string JoinAgencies(const std::vector<std::string>& agencies) {
  std::string out;
  for (const auto& a : agencies) {
    if (!out.empty()) out += ',';
    out += a;
  }
  return out;
}

std::vector<std::string> SplitAgencies(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    out.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A prepared statement, reset after each use.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Status Prepare(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      return Status::Internal(std::string("prepare failed: ") + sqlite3_errmsg(db) + " in: " + sql);
    return Status::Ok();
  }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets the statement when the scope ends.
class Use {
 public:
  explicit Use(Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  sqlite3_stmt* operator*() { return s_; }

 private:
  sqlite3_stmt* s_;
};

void BindText(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void BindBlob(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
std::string ColumnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, sqlite3_column_bytes(s, i)) : std::string();
}
std::string ColumnBlob(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  return p ? std::string(p, sqlite3_column_bytes(s, i)) : std::string();
}

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override {
    // close_v2 defers the close until the member statements are finalized.
    if (db_) sqlite3_close_v2(db_);
    if (lock_fd_ >= 0) close(lock_fd_);
  }

  Status Open(const std::string& dir, const StoreOptions& options) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create data directory '" + dir + "': " + ec.message());
    std::string lock_path = dir + "/LOCK";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return Status::IoError("cannot open '" + lock_path + "': " + std::strerror(errno));
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      return Status::Unavailable("data directory '" + dir + "' is in use by another broker (lock '" + lock_path + "')");
    path_ = dir + "/yilian.db";
    int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return Status::IoError("cannot open store '" + path_ + "': " + sqlite3_errstr(rc));
    std::string sync = options.synchronous == "normal" ? "NORMAL" : "FULL";
    std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + sync +
                          "; PRAGMA cache_size=-" + std::to_string(options.cache_kib) +
                          "; PRAGMA wal_autocheckpoint=4096; PRAGMA busy_timeout=5000;";
    if (Status s = Exec(pragmas); !s.ok()) return s;
    if (Status s = Exec(kSchema); !s.ok()) return s;
    if (Status s = CheckSchemaVersion(); !s.ok()) return s;
    return PrepareAll();
  }

  Status Begin() override { return Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return Exec("COMMIT"); }
  void Rollback() override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  Result<std::optional<EventSummary>> FindEvent(const std::string& event_id) override {
    Use u(find_event_);
    BindText(*u, 1, event_id);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<EventSummary>();
    if (rc != SQLITE_ROW) return Error("find event");
    EventSummary e;
    e.seq = sqlite3_column_int64(*u, 0);
    e.payload = ColumnBlob(*u, 1);
    e.agencies = SplitAgencies(ColumnText(*u, 2));
    return std::optional<EventSummary>(std::move(e));
  }

  Result<std::uint64_t> LastRevision(const std::string& uscc) override {
    Use u(last_revision_);
    BindText(*u, 1, uscc);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::uint64_t{0};
    if (rc != SQLITE_ROW) return Error("last revision");
    return static_cast<std::uint64_t>(sqlite3_column_int64(*u, 0));
  }

  Result<Sequence> InsertEvent(const StoredEvent& event, Millis now) override {
    Sequence seq;
    {
      Use u(insert_event_);
      BindText(*u, 1, event.event_id);
      BindText(*u, 2, event.uscc);
      sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(event.revision));
      sqlite3_bind_int(*u, 4, event.type);
      std::string agencies = JoinAgencies(event.agencies);
      BindText(*u, 5, agencies);
      BindBlob(*u, 6, event.payload);
      sqlite3_bind_int64(*u, 7, event.published_at);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("insert event");
      seq = static_cast<Sequence>(sqlite3_last_insert_rowid(db_));
    }
    for (const auto& agency : event.agencies) {
      Use u(insert_delivery_);
      sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
      BindText(*u, 2, agency);
      BindText(*u, 3, event.uscc);
      sqlite3_bind_int64(*u, 4, now);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("insert delivery");
    }
    {
      Use u(upsert_enterprise_);
      BindText(*u, 1, event.uscc);
      sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(event.revision));
      sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(seq));
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("upsert enterprise");
    }
    return seq;
  }

  Result<std::optional<Sequence>> FindSequence(const std::string& event_id) override {
    Use u(find_seq_);
    BindText(*u, 1, event_id);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<Sequence>();
    if (rc != SQLITE_ROW) return Error("find sequence");
    return std::optional<Sequence>(static_cast<Sequence>(sqlite3_column_int64(*u, 0)));
  }

  Result<std::optional<DeliveryRecord>> GetDelivery(Sequence seq, const std::string& agency) override {
    Use u(get_delivery_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    BindText(*u, 2, agency);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<DeliveryRecord>();
    if (rc != SQLITE_ROW) return Error("get delivery");
    return std::optional<DeliveryRecord>(ReadDelivery(*u));
  }

  Result<bool> UpdateDelivery(const DeliveryRecord& r, DeliveryState expected_state,
                              std::uint32_t expected_attempts) override {
    Use u(update_delivery_);
    sqlite3_bind_int(*u, 1, static_cast<int>(r.state));
    sqlite3_bind_int64(*u, 2, r.attempts);
    sqlite3_bind_int64(*u, 3, r.next_attempt_at);
    sqlite3_bind_int64(*u, 4, r.updated_at);
    BindText(*u, 5, r.reference);
    BindText(*u, 6, r.reason);
    sqlite3_bind_int64(*u, 7, static_cast<sqlite3_int64>(r.seq));
    BindText(*u, 8, r.agency);
    sqlite3_bind_int(*u, 9, static_cast<int>(expected_state));
    sqlite3_bind_int64(*u, 10, expected_attempts);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("update delivery");
    return sqlite3_changes(db_) == 1;
  }

  Result<std::string> LoadPayload(Sequence seq) override {
    Use u(load_payload_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return Status::NotFound("no event with sequence " + std::to_string(seq));
    if (rc != SQLITE_ROW) return Error("load payload");
    return ColumnBlob(*u, 0);
  }

  Result<EventPayload> LoadEventPayload(Sequence seq) override {
    Use u(load_event_payload_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return Status::NotFound("no event with sequence " + std::to_string(seq));
    if (rc != SQLITE_ROW) return Error("load event payload");
    return EventPayload{ColumnText(*u, 0), ColumnBlob(*u, 1)};
  }

  Status ForEachUnsettled(const std::function<void(const DeliveryRecord&)>& fn) override {
    Use u(unsettled_);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("scan unsettled deliveries");
      fn(ReadDelivery(*u));
    }
  }

  Result<std::int64_t> RequeueDelivered() override {
    if (Status s = Exec("UPDATE deliveries SET state = 0 WHERE state = 1"); !s.ok()) return s;
    return static_cast<std::int64_t>(sqlite3_changes(db_));
  }

  Result<std::int64_t> CountEvents() override {
    Use u(count_events_);
    if (sqlite3_step(*u) != SQLITE_ROW) return Error("count events");
    return static_cast<std::int64_t>(sqlite3_column_int64(*u, 0));
  }

 private:
  static constexpr const char* kDeliveryColumns =
      "seq, agency, uscc, state, attempts, next_attempt_at, updated_at, reference, reason";

  static DeliveryRecord ReadDelivery(sqlite3_stmt* s) {
    DeliveryRecord r;
    r.seq = static_cast<Sequence>(sqlite3_column_int64(s, 0));
    r.agency = ColumnText(s, 1);
    r.uscc = ColumnText(s, 2);
    r.state = static_cast<DeliveryState>(sqlite3_column_int(s, 3));
    r.attempts = static_cast<std::uint32_t>(sqlite3_column_int64(s, 4));
    r.next_attempt_at = sqlite3_column_int64(s, 5);
    r.updated_at = sqlite3_column_int64(s, 6);
    r.reference = ColumnText(s, 7);
    r.reason = ColumnText(s, 8);
    return r;
  }

  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return Classify(rc, "store '" + path_ + "': " + msg);
    }
    return Status::Ok();
  }

  static Status Classify(int rc, std::string message) {
    switch (rc & 0xff) {
      case SQLITE_FULL: return Status::ResourceExhausted(std::move(message));
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
      case SQLITE_READONLY: return Status::IoError(std::move(message));
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB: return Status::Corruption(std::move(message));
      case SQLITE_BUSY:
      case SQLITE_LOCKED: return Status::Unavailable(std::move(message));
      default: return Status::Internal(std::move(message));
    }
  }

  Status Error(const char* what) {
    int rc = sqlite3_extended_errcode(db_);
    return Classify(rc, std::string(what) + ": " + sqlite3_errmsg(db_));
  }

  Status CheckSchemaVersion() {
    Stmt get;
    if (Status s = get.Prepare(db_, "SELECT value FROM meta WHERE key = 'schema_version'"); !s.ok()) return s;
    Use u(get);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE)
      return Exec("INSERT INTO meta (key, value) VALUES ('schema_version', '" + std::to_string(kSchemaVersion) + "')");
    if (rc != SQLITE_ROW) return Error("read schema version");
    std::string v = ColumnText(*u, 0);
    if (v != std::to_string(kSchemaVersion))
      return Status::FailedPrecondition("store '" + path_ + "' has schema version " + v + ", this broker needs " +
                                        std::to_string(kSchemaVersion));
    return Status::Ok();
  }

  Status PrepareAll() {
    struct Def {
      Stmt* stmt;
      std::string sql;
    };
    std::string cols = kDeliveryColumns;
    Def defs[] = {
        {&find_event_, "SELECT seq, payload, agencies FROM events WHERE event_id = ?1"},
        {&last_revision_, "SELECT last_revision FROM enterprises WHERE uscc = ?1"},
        {&insert_event_,
         "INSERT INTO events (event_id, uscc, revision, type, agencies, payload, published_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&insert_delivery_,
         "INSERT INTO deliveries (seq, agency, uscc, state, attempts, next_attempt_at, updated_at) "
         "VALUES (?1, ?2, ?3, 0, 0, 0, ?4)"},
        {&upsert_enterprise_,
         "INSERT INTO enterprises (uscc, last_revision, last_seq) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (uscc) DO UPDATE SET last_revision = excluded.last_revision, last_seq = excluded.last_seq"},
        {&find_seq_, "SELECT seq FROM events WHERE event_id = ?1"},
        {&get_delivery_, "SELECT " + cols + " FROM deliveries WHERE seq = ?1 AND agency = ?2"},
        {&update_delivery_,
         "UPDATE deliveries SET state = ?1, attempts = ?2, next_attempt_at = ?3, updated_at = ?4, reference = ?5, "
         "reason = ?6 WHERE seq = ?7 AND agency = ?8 AND state = ?9 AND attempts = ?10"},
        {&load_payload_, "SELECT payload FROM events WHERE seq = ?1"},
        {&load_event_payload_, "SELECT event_id, payload FROM events WHERE seq = ?1"},
        {&unsettled_, "SELECT " + cols + " FROM deliveries WHERE state < 3 ORDER BY seq, agency"},
        {&count_events_, "SELECT COUNT(*) FROM events"},
    };
    for (auto& d : defs) {
      if (Status s = d.stmt->Prepare(db_, d.sql.c_str()); !s.ok()) return s;
    }
    return Status::Ok();
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  Stmt find_event_, last_revision_, insert_event_, insert_delivery_, upsert_enterprise_, find_seq_, get_delivery_,
      update_delivery_, load_payload_, load_event_payload_, unsettled_, count_events_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenSqlite(const std::string& dir, const StoreOptions& options) {
  auto store = std::make_unique<SqliteStore>();
  if (Status s = store->Open(dir, options); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace yilian::store
