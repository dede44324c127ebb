// Backup and restore of the SQLite store (yilian/store/backup.h).
//
// Why the online backup API with the source's read transaction held for the
// whole copy: the API alone, between steps, restarts the copy from page 1
// whenever another connection commits, so under a broker that commits every
// few milliseconds it would never finish. Holding one read transaction on
// the source connection across the steps pins the copy to one snapshot (the
// store as of one commit). In WAL mode a reader never blocks the writer, so
// the broker goes on committing meanwhile; what waits is only the
// checkpointer, which cannot copy frames newer than the snapshot into the
// database file until the backup ends (the -wal file grows for that long).
// The pages go in steps of kPagesPerStep so a step is short (each step takes
// the destination's write lock, nobody else's). VACUUM INTO would give the
// same snapshot, but rebuilds every table and index (CPU in proportion to
// the store) where the backup API copies pages.
#include "yilian/store/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/file_modes.h"
#include "store/schema.h"

namespace yilian::store {
namespace {

constexpr int kPagesPerStep = 256;  // 1 MiB of 4 KiB pages

// An SQLite connection closed on destruction.
class Db {
 public:
  ~Db() {
    if (db_) sqlite3_close_v2(db_);
  }
  Status Open(const std::string& path, int flags) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Status::IoError("cannot open '" + path + "': " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(db_, 5000);
    return Status::Ok();
  }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// Runs `sql`, which returns one value, and gives it as text. `*rc` gets
// SQLite's result code of a failure.
Status QueryOne(sqlite3* db, const std::string& sql, std::string* out, int* rc_out = nullptr) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      *out = text ? text : "";
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      out->clear();
      rc = SQLITE_OK;
    }
  }
  std::string message = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (rc_out) *rc_out = rc;
  if (rc != SQLITE_OK) return Status::Internal(message);
  return Status::Ok();
}

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status::IoError(what + ": " + message);
}

Status FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open '" + path + "' to sync it: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("fsync of '" + path + "' failed: " + std::strerror(err));
  return Status::Ok();
}

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Creates `path` empty with mode 0600 (whatever the umask); it must not exist.
Status CreatePrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create '" + path + "': " + std::strerror(errno));
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("cannot make '" + path + "' mode 0600: " + std::strerror(err));
  return Status::Ok();
}

// Copies the database `from` into the empty file `to` from one snapshot of
// `from` (the read transaction held across the steps), leaves `to` in
// rollback-journal mode (a standalone file, no -wal beside it), and fsyncs
// it.
Status CopyDatabase(const std::string& from, const std::string& to) {
  Db src, dst;
  if (Status s = src.Open(from, SQLITE_OPEN_READONLY); !s.ok()) return s;
  if (Status s = dst.Open(to, SQLITE_OPEN_READWRITE); !s.ok()) return s;
  // BEGIN alone takes no snapshot; the first read does.
  if (Status s = Exec(src.get(), "BEGIN; SELECT COUNT(*) FROM sqlite_master;", "cannot read '" + from + "'");
      !s.ok())
    return s;
  sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (!backup) return Status::IoError("cannot start the copy to '" + to + "': " + sqlite3_errmsg(dst.get()));
  int rc;
  int busy = 0;
  while ((rc = sqlite3_backup_step(backup, kPagesPerStep)) == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (rc == SQLITE_OK) {
      busy = 0;
      continue;
    }
    if (++busy > 500) break;  // 5 s without progress
    sqlite3_sleep(10);
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE)
    return Status::IoError("copying '" + from + "' to '" + to + "' failed: " + sqlite3_errstr(rc) + " (" +
                           sqlite3_errmsg(dst.get()) + ")");
  (void)Exec(src.get(), "COMMIT", "");  // a read transaction: nothing to lose
  if (Status s = Exec(dst.get(), "PRAGMA journal_mode=DELETE", "cannot finish '" + to + "'"); !s.ok()) return s;
  return Status::Ok();
}

// Renames `from` to `to` unless `to` exists (atomically where the file
// system supports it).
Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return Status::Ok();
  if (errno == EEXIST) return Status::Conflict("'" + to + "' exists: it is not overwritten");
  if (errno != EINVAL && errno != ENOSYS)
    return Status::IoError("cannot rename '" + from + "' to '" + to + "': " + std::strerror(errno));
  // A file system without RENAME_NOREPLACE: link fails if `to` exists.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return Status::Conflict("'" + to + "' exists: it is not overwritten");
    return Status::IoError("cannot link '" + from + "' as '" + to + "': " + std::strerror(errno));
  }
  ::unlink(from.c_str());
  return Status::Ok();
}

// Writes the database `from` as the new file `tmp` (0600, one snapshot of
// `from`), fsyncs it and checks it; on any failure `tmp` is removed and the
// error names `what` (the copy being made).
Result<StoreFileSummary> WriteCheckedCopy(const std::string& from, const std::string& tmp, const std::string& what) {
  if (Status s = CreatePrivate(tmp); !s.ok()) return s;
  Status s = CopyDatabase(from, tmp);
  if (s.ok()) s = FsyncPath(tmp, false);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  Result<StoreFileSummary> summary = CheckStoreFile(tmp);
  if (!summary.ok()) {
    ::unlink(tmp.c_str());
    return Status(summary.status().code(), what + " does not check: " + summary.status().message());
  }
  return summary;
}

}  // namespace

Result<StoreFileSummary> CheckStoreFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("no file '" + path + "'");
    return Status::IoError("cannot examine '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  if (st.st_size == 0) return Status::InvalidArgument("'" + path + "' is empty: not a yilian store");
  Db db;
  if (Status s = db.Open(path, SQLITE_OPEN_READONLY); !s.ok()) return s;
  std::string value;
  int rc = SQLITE_OK;
  // One snapshot for every read below.
  if (Status s = QueryOne(db.get(), "BEGIN", &value); !s.ok()) return s;
  if (Status s = QueryOne(db.get(), "SELECT COUNT(*) FROM sqlite_master", &value, &rc); !s.ok()) {
    if ((rc & 0xff) == SQLITE_NOTADB)
      return Status::InvalidArgument("'" + path + "' is not a yilian store: not an SQLite database");
    return Status::Corruption("'" + path + "' cannot be read as an SQLite database: " + s.message());
  }
  if (Status s = QueryOne(db.get(), "PRAGMA integrity_check", &value, &rc); !s.ok() || value != "ok")
    return Status::Corruption("'" + path + "' is damaged: integrity_check says: " + (s.ok() ? value : s.message()));
  if (Status s = QueryOne(db.get(), "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                          &value);
      !s.ok() || value != "1")
    return Status::InvalidArgument("'" + path + "' is an SQLite database but not a yilian store (no meta table)");
  if (Status s = QueryOne(db.get(), "SELECT value FROM meta WHERE key = 'schema_version'", &value); !s.ok())
    return Status::Corruption("'" + path + "': cannot read its schema version: " + s.message());
  if (value.empty())
    return Status::InvalidArgument("'" + path + "' is not a yilian store (no schema_version in its meta table)");
  StoreFileSummary summary;
  try {
    std::size_t used = 0;
    summary.schema_version = std::stoi(value, &used);
    if (used != value.size()) throw std::invalid_argument(value);
  } catch (const std::exception&) {
    return Status::InvalidArgument("'" + path + "' has schema version '" + value + "', which is not a number");
  }
  if (summary.schema_version < 1)
    return Status::InvalidArgument("'" + path + "' has schema version " + value + ", which no yilian ever wrote");
  if (summary.schema_version > kSchemaVersion)
    return Status::FailedPrecondition("'" + path + "' has schema version " + value + ", newer than this yilian's " +
                                      std::to_string(kSchemaVersion) + ": restore it with a newer yilian");
  auto count = [&](const std::string& sql, std::int64_t* out) -> Status {
    std::string text;
    if (Status s = QueryOne(db.get(), sql, &text); !s.ok())
      return Status::Corruption("'" + path + "' is not a complete yilian store: " + s.message());
    *out = text.empty() ? 0 : std::stoll(text);
    return Status::Ok();
  };
  if (Status s = count("SELECT COUNT(*) FROM events", &summary.events); !s.ok()) return s;
  if (Status s = count("SELECT COUNT(*) FROM deliveries", &summary.deliveries); !s.ok()) return s;
  if (Status s = count("SELECT COUNT(*) FROM deliveries WHERE state < 3", &summary.unsettled); !s.ok()) return s;
  if (Status s = count("SELECT COALESCE(MAX(id), 0) FROM audit", &summary.audit_head_id); !s.ok()) return s;
  (void)QueryOne(db.get(), "COMMIT", &value);  // read only
  summary.bytes = st.st_size;
  return summary;
}

Result<StoreFileSummary> BackupSqlite(const std::string& data_dir, const std::string& to) {
  const std::string db = data_dir + "/yilian.db";
  struct stat st;
  if (::stat(db.c_str(), &st) != 0 || st.st_size == 0)
    return Status::NotFound("no store in '" + data_dir + "' (no " + (::stat(db.c_str(), &st) != 0 ? "" : "non-empty ") +
                            "yilian.db): give the broker's data directory");
  if (::lstat(to.c_str(), &st) == 0)
    return Status::Conflict("'" + to + "' exists: yilian backup does not overwrite a file; give a new name");
  const std::string parent = ParentDir(to);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound("the directory of '" + to + "' ('" + parent + "') does not exist");
  const std::string tmp = to + ".tmp-" + std::to_string(::getpid());
  Result<StoreFileSummary> summary = WriteCheckedCopy(db, tmp, "the copy");
  if (!summary.ok()) return summary;
  if (Status s = RenameNoReplace(tmp, to); !s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (Status s = FsyncPath(parent, true); !s.ok()) return s;
  return summary;
}

Result<StoreFileSummary> RestoreSqlite(const std::string& from, const std::string& data_dir) {
  Result<StoreFileSummary> checked = CheckStoreFile(from);
  if (!checked.ok()) return Status(checked.status().code(), "backup file: " + checked.status().message());
  std::string notice;
  if (Status s = files::MakePrivateDir(data_dir, &notice); !s.ok())
    return Status(s.code(), "data directory: " + s.message());
  // The broker's lock, held until the store is in place: no broker starts
  // on a half-written file, and none may run on this directory now.
  const std::string lock_path = data_dir + "/LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::IoError("cannot open '" + lock_path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{lock_fd};
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    return Status::Unavailable("data directory '" + data_dir + "' is in use by a running broker (lock '" +
                               lock_path + "'): stop it, and restore into a new directory");
  const std::string db = data_dir + "/yilian.db";
  struct stat st;
  for (const std::string& path : {db, db + "-wal"}) {
    if (::stat(path.c_str(), &st) == 0 && st.st_size > 0)
      return Status::Conflict("data directory '" + data_dir + "' already holds a store ('" + path + "', " +
                              std::to_string(st.st_size) +
                              " bytes): restore into a new directory, or move that store aside first");
  }
  const std::string tmp = db + ".restore";
  ::unlink(tmp.c_str());  // left by an interrupted restore; the lock is ours
  Result<StoreFileSummary> summary = WriteCheckedCopy(from, tmp, "the restored copy");
  if (!summary.ok()) return summary;
  // An empty yilian.db (and the -shm of one) is replaced.
  ::unlink((db + "-shm").c_str());
  if (::rename(tmp.c_str(), db.c_str()) != 0) {
    Status s = Status::IoError("cannot rename '" + tmp + "' to '" + db + "': " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return s;
  }
  if (Status s = FsyncPath(data_dir, true); !s.ok()) return s;
  return summary;
}

}  // namespace yilian::store
