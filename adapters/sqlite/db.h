// A thin RAII layer over SQLite for the adapter side: the adapter's state
// file (sdk/journal.h), the exchange database sink and the agency
// simulator. Errors come back as Status; nothing throws.
//
// Threads: a Db and its statements are used from one thread at a time.
// Ownership: a Stmt must not outlive the Db that prepared it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace yilian::sqlite {

class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are 1-based, as in SQLite. Values are copied.
  Stmt& Bind(int index, std::string_view text);
  Stmt& Bind(int index, std::int64_t value);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // Steps once. *row is true when a row is ready to read. Errors: the
  // SQLite message; a constraint violation is kAlreadyExists, a locked
  // database kUnavailable.
  Status Step(bool* row);
  // Steps to completion (statements without rows).
  Status Run();
  // Resets for reuse with new bindings.
  void Reset();

  std::string Text(int column) const;
  std::int64_t Int(int column) const;
  bool IsNull(int column) const;

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct OpenOptions {
  bool create = true;
  bool read_only = false;
  int busy_timeout_ms = 5000;
  // WAL journal and synchronous=FULL: a committed write survives a process
  // crash and a power loss.
  bool wal_full_sync = true;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& path, const OpenOptions& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  Result<Stmt> Prepare(const std::string& sql);
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace yilian::sqlite
