// Row access for the store's read side (CaseQueries, the audit
// verification), so that its queries are written once for both backends:
// a ReadConnection prepares a Statement from SQL text, the Statement binds
// parameters, steps through the rows and reads their columns. Internal to
// broker/store.
//
// The SQL is one text for SQLite and PostgreSQL:
//   - parameters are ?1, ?2, …; the PostgreSQL connection writes them as
//     $1, $2, … (outside string literals, quoted names and comments) in the
//     order the text first uses them, and sends only the parameters the text
//     uses, so a query built from optional conditions may bind more than it
//     uses. Parameters go as text; the server infers their types.
//   - no boolean values: a comparison that is a column is written
//     CASE WHEN … THEN 1 ELSE 0 END (SQLite gives 0/1, PostgreSQL a boolean).
//   - integer results are BIGINT in both: COUNT(…) is, SUM(…) is not
//     (PostgreSQL sums BIGINT as NUMERIC): count with
//     COUNT(CASE WHEN … THEN 1 END) or CAST the sum AS BIGINT.
//   - Int() reads integer columns, Text() text and binary ones; PostgreSQL
//     answers in its binary format, so neither converts the other.
//   - no ordering by text that must match across backends: PostgreSQL
//     orders text by the database's collation, SQLite bytewise; callers sort
//     such rows themselves.
//   - no E'…' strings, dollar quoting, sqlite_master or other catalog tables.
//
// Ownership: a Statement uses its connection, which must outlive it. A
// borrowed connection (Borrow*) uses the caller's database handle, which
// must outlive it; its transactions are the owner's.
// Concurrency: like the database handle, one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
typedef struct pg_conn PGconn;

namespace yilian::store::sql {

enum class StepResult { kRow, kDone, kError };

// How many rows a statement may return. kMany: PostgreSQL reads them in
// batches through a cursor when it runs inside a snapshot (instead of all
// at once into memory); SQLite always steps through the rows.
enum class Rows { kFew, kMany };

class Statement {
 public:
  virtual ~Statement() = default;

  // Sets parameter ?index (1-based) for the next run; the value is copied.
  virtual void Bind(int index, std::int64_t value) = 0;
  virtual void Bind(int index, std::string_view value) = 0;
  // Runs the statement on its first call after Reset (with the parameters
  // bound), then moves to the next row: kRow (its columns are readable),
  // kDone, or kError (Error() says why).
  virtual StepResult Step() = 0;
  // Columns of the current row, 0-based; NULL reads as 0 and "".
  virtual std::int64_t Int(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  // Why the last Step returned kError: "<what>: <the database's message>",
  // with a code (kUnavailable for a lost connection or a busy database).
  virtual Status Error(std::string_view what) const = 0;
  // Ends the current run (SQLite: releases its read snapshot outside a
  // transaction) and forgets the parameters: the statement can run again.
  virtual void Reset() = 0;
};

// Resets a statement when the scope ends.
class Use {
 public:
  explicit Use(Statement& s) : s_(s) {}
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  ~Use() { s_.Reset(); }
  Statement* operator->() { return &s_; }
  Statement& operator*() { return s_; }

 private:
  Statement& s_;
};

class ReadConnection {
 public:
  virtual ~ReadConnection() = default;

  // A statement for `sql` (the portable text above). SQLite compiles it
  // now (an error is returned here); PostgreSQL sends it on each run (an
  // error is Step's).
  virtual Result<std::unique_ptr<Statement>> Prepare(const std::string& sql, Rows rows = Rows::kFew) = 0;

  // One read-only snapshot for the queries in between: SQLite's read
  // transaction, PostgreSQL's REPEATABLE READ READ ONLY transaction. An
  // owned PostgreSQL connection that was lost (the server restarted, a
  // failover) connects again here. EndSnapshot ends it whatever happened
  // in it (a failed PostgreSQL statement aborts the transaction: it is
  // rolled back). On a borrowed connection both do nothing: the owner's
  // transaction holds.
  virtual Status BeginSnapshot() = 0;
  virtual Status EndSnapshot() = 0;
};

// `path` opened read-only (SQLite's WAL lets it read while the broker
// writes).
Result<std::unique_ptr<ReadConnection>> OpenSqlite(const std::string& path);
// The caller's open SQLite handle.
std::unique_ptr<ReadConnection> BorrowSqlite(sqlite3* db);

// A connection of its own to the database of `conninfo` (libpq), with
// default_transaction_read_only on: it cannot write. Connects now (an
// unreachable server is kUnavailable), and again in BeginSnapshot after
// the connection was lost.
Result<std::unique_ptr<ReadConnection>> OpenPostgres(const std::string& conninfo);
// The caller's open PostgreSQL connection (inside the caller's
// transaction, if any).
std::unique_ptr<ReadConnection> BorrowPostgres(PGconn* conn);

// `sql` with ?N written as $K for PostgreSQL, K numbering the distinct
// parameters in the order of their first use; *order gets the N of each K
// (order[K - 1] = N). A ? inside '…', "…", -- … or /* … */ stays as it is.
std::string PostgresPlaceholders(std::string_view sql, std::vector<int>* order);

}  // namespace yilian::store::sql
