// The SQLite side of sql_rows.h: prepared statements on one handle (kept
// compiled between runs), a deferred read transaction as the snapshot.
#include <sqlite3.h>

#include "store/sql_rows.h"
#include "store/sqlite_util.h"

namespace yilian::store::sql {
namespace {

class SqliteStatement final : public Statement {
 public:
  explicit SqliteStatement(sqlite3* db) : db_(db) {}
  Status Prepare(const std::string& sql) { return stmt_.Prepare(db_, sql); }

  void Bind(int index, std::int64_t value) override {
    sqlite3_bind_int64(stmt_.get(), index, static_cast<sqlite3_int64>(value));
  }
  void Bind(int index, std::string_view value) override {
    sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  StepResult Step() override {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return StepResult::kRow;
    if (rc == SQLITE_DONE) return StepResult::kDone;
    error_ = sqlite::Classify(sqlite3_errcode(db_), std::string(": ") + sqlite3_errmsg(db_));
    return StepResult::kError;
  }
  std::int64_t Int(int col) const override { return sqlite3_column_int64(stmt_.get(), col); }
  std::string Text(int col) const override { return sqlite::ColumnText(stmt_.get(), col); }
  Status Error(std::string_view what) const override {
    if (error_.ok()) return Status::Internal(std::string(what) + ": no error");
    return Status(error_.code(), std::string(what) + error_.message());
  }
  void Reset() override {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    error_ = Status::Ok();
  }

 private:
  sqlite3* db_;
  // Mutable: reading a column converts it in place inside SQLite.
  mutable sqlite::Stmt stmt_;
  Status error_;
};

class SqliteConnection final : public ReadConnection {
 public:
  SqliteConnection(sqlite3* db, bool owned) : db_(db), owned_(owned) {}
  ~SqliteConnection() override {
    if (owned_ && db_) sqlite3_close_v2(db_);
  }

  Result<std::unique_ptr<Statement>> Prepare(const std::string& sql, Rows) override {
    auto stmt = std::make_unique<SqliteStatement>(db_);
    if (Status s = stmt->Prepare(sql); !s.ok()) return s;
    return std::unique_ptr<Statement>(std::move(stmt));
  }

  Status BeginSnapshot() override {
    if (!owned_) return Status::Ok();
    return sqlite::ExecSql(db_, "BEGIN", "begin a read snapshot");
  }

  Status EndSnapshot() override {
    if (!owned_ || sqlite3_get_autocommit(db_)) return Status::Ok();
    // A read transaction: ending it cannot lose anything, but say so if it
    // fails, and never leave it open (it would hold an old snapshot).
    Status s = sqlite::ExecSql(db_, "COMMIT", "end a read snapshot");
    if (!s.ok()) (void)sqlite::ExecSql(db_, "ROLLBACK", "end a read snapshot");
    return s;
  }

 private:
  sqlite3* db_;
  bool owned_;
};

}  // namespace

Result<std::unique_ptr<ReadConnection>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db);
    return sqlite::Classify(rc, "cannot open store '" + path + "' read-only: " + sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<ReadConnection>(std::make_unique<SqliteConnection>(db, true));
}

std::unique_ptr<ReadConnection> BorrowSqlite(sqlite3* db) { return std::make_unique<SqliteConnection>(db, false); }

}  // namespace yilian::store::sql
