// Backup and restore of the SQLite store (`yilian backup`, `yilian restore`;
// docs/operations.md section 6).
//
// BackupSqlite copies a data directory's yilian.db, while a broker may be
// writing it, into one standalone file: SQLite's online backup API reads
// every page inside one read transaction of its own connection, so the copy
// is the store as of one commit (WAL: the broker's writes go on meanwhile,
// nothing waits for the copy). The file is written 0600 under a temporary
// name in the target's directory, checked (integrity_check, schema
// version), fsynced, and only then given its name, never over an existing
// file.
//
// RestoreSqlite puts such a file back as a data directory's yilian.db: it
// checks the file first, refuses a directory that already holds a store or
// whose LOCK a broker holds, and holds that lock itself while it writes, so
// no broker can start on a half-written store.
//
// Only the store: the audit anchor file, keys and the archive directory are
// files of their own, copied as files (docs/operations.md section 6).
// Thread-safety: plain functions; any thread. They open their own
// connections and keep nothing.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace yilian::store {

// What a store file holds, as read from one snapshot of it.
struct StoreFileSummary {
  int schema_version = 0;
  std::int64_t events = 0;
  std::int64_t deliveries = 0;
  std::int64_t unsettled = 0;      // deliveries with state < 3
  std::int64_t audit_head_id = 0;  // id of the last audit record; 0: none
  std::int64_t bytes = 0;          // the file's size
};

// Opens `path` read-only and checks that it is an intact yilian store whose
// schema version this code knows (1 .. the current one): kNotFound (no such
// file), kInvalidArgument (not an SQLite database, or not a yilian store),
// kCorruption (integrity_check fails), kFailedPrecondition (a schema version
// newer than this code's, naming both).
Result<StoreFileSummary> CheckStoreFile(const std::string& path);

// Copies `data_dir`/yilian.db to `to` (see above). kConflict if `to`
// exists; kNotFound if there is no store in `data_dir`.
Result<StoreFileSummary> BackupSqlite(const std::string& data_dir, const std::string& to);

// Writes the checked backup `from` as `data_dir`/yilian.db (0600; the
// directory is created 0700). kConflict if `data_dir` already holds a store
// (a non-empty yilian.db or a yilian.db-wal); kUnavailable if a broker holds
// `data_dir`/LOCK; CheckStoreFile's errors for `from`.
Result<StoreFileSummary> RestoreSqlite(const std::string& from, const std::string& data_dir);

}  // namespace yilian::store
