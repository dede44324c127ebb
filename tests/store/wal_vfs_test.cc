// The store's VFS, which writes each commit's WAL frames in one go, against
// real files: a commit is in the WAL file when COMMIT returns (another
// connection, without the VFS, reads it at once; a process killed right
// after its commits loses none of them), large commits and transactions
// whose pages spill into the WAL before the commit read back whole, and the
// WAL file's bytes are what the default VFS writes.
#include "store/wal_vfs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "testing/process.h"

namespace yilian::store {
namespace {

class Db {
 public:
  Db(const std::string& path, const char* vfs) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errstr(rc);
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;");
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : sqlite3_errstr(rc));
  }
  std::int64_t Number(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    std::int64_t value = -1;
    if (sqlite3_step(s) == SQLITE_ROW) value = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return value;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    std::string value;
    if (sqlite3_step(s) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return value;
  }
  // One transaction of `rows` rows of `bytes` random bytes each.
  void InsertRows(int rows, int bytes) {
    Exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
         ") INSERT INTO t (body) SELECT randomblob(" + std::to_string(bytes) + ") FROM n; COMMIT;");
  }

 private:
  sqlite3* db_ = nullptr;
};

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = RegisterWalVfs();
    ASSERT_NE(vfs_, nullptr);
    dir_ = testing::MakeTempDir("yilian-walvfs");
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  const char* vfs_ = nullptr;
  std::string dir_;
};

TEST_F(WalVfsTest, EveryCommitIsReadableByAnotherConnectionAsCommitReturns) {
  Db writer(dir_ + "/a.db", vfs_);
  writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  Db reader(dir_ + "/a.db", nullptr);
  std::int64_t rows = 0, bytes = 0;
  // Small commits, one of more than the default VFS writes per call, and
  // one above the buffer's limit.
  for (int bytes_per_row : {10, 3000, 200, 300 * 1024, 5 * 1024 * 1024}) {
    for (int round = 0; round < 2; ++round) {
      writer.InsertRows(4, bytes_per_row);
      rows += 4;
      bytes += 4LL * bytes_per_row;
      ASSERT_EQ(reader.Number("SELECT COUNT(*) FROM t"), rows) << "rows of " << bytes_per_row << " bytes";
      ASSERT_EQ(reader.Number("SELECT SUM(length(body)) FROM t"), bytes);
    }
  }
}

TEST_F(WalVfsTest, ATransactionReadsBackPagesItSpilledBeforeItsCommit) {
  Db writer(dir_ + "/a.db", vfs_);
  writer.Exec("PRAGMA cache_size=10");  // pages spill into the WAL mid-transaction
  writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  writer.Exec("BEGIN");
  writer.Exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
      "INSERT INTO t (body) SELECT zeroblob(100 + i % 900) FROM n");
  // Reading every row back reads the spilled pages from the WAL file.
  EXPECT_EQ(writer.Number("SELECT SUM(length(body)) FROM t"), writer.Number("SELECT SUM(100 + id % 900) FROM t"));
  writer.Exec("UPDATE t SET body = zeroblob(50) WHERE id % 3 = 0");
  writer.Exec("COMMIT");
  Db reader(dir_ + "/a.db", nullptr);
  EXPECT_EQ(reader.Number("SELECT COUNT(*) FROM t"), 2000);
  EXPECT_EQ(reader.Number("SELECT COUNT(*) FROM t WHERE length(body) = 50"), 666);
  EXPECT_EQ(reader.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfsTest, TheWalFileHasTheDefaultVfsSizeAfterTheSameCommits) {
  auto run = [&](const std::string& name, const char* vfs) {
    Db db(dir_ + "/" + name, vfs);
    db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    for (int bytes : {10, 5000, 70000, 300000, 10}) db.InsertRows(7, bytes);
    return std::filesystem::file_size(dir_ + "/" + name + "-wal");
  };
  auto with = run("with.db", vfs_);
  auto without = run("without.db", nullptr);
  EXPECT_EQ(with, without);
  EXPECT_GT(with, 2'000'000u);
}

TEST_F(WalVfsTest, AProcessKilledAfterItsCommitsLosesNoneOfThem) {
  std::string path = dir_ + "/a.db";
  {
    Db db(path, vfs_);
    db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  }
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Commits until killed, telling the parent after each COMMIT returns.
    close(pipe_fds[0]);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, vfs_) != SQLITE_OK) _exit(2);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    for (std::int32_t n = 1;; ++n) {
      if (sqlite3_exec(db, "INSERT INTO t (body) VALUES (randomblob(20000))", nullptr, nullptr, nullptr) != SQLITE_OK)
        _exit(3);
      if (write(pipe_fds[1], &n, sizeof n) != sizeof n) _exit(4);
    }
  }
  close(pipe_fds[1]);
  std::int32_t committed = 0, n = 0;
  while (committed < 200 && read(pipe_fds[0], &n, sizeof n) == sizeof n) committed = n;
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer failed on its own: exit " << WEXITSTATUS(status);
  while (read(pipe_fds[0], &n, sizeof n) == sizeof n) committed = n;  // told before the kill landed
  close(pipe_fds[0]);
  ASSERT_GE(committed, 200);
  Db reader(path, nullptr);
  EXPECT_GE(reader.Number("SELECT COUNT(*) FROM t"), committed);
}

}  // namespace
}  // namespace yilian::store
