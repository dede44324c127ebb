// A private PostgreSQL 15 server for tests: its own temporary directory (data,
// logs, unix socket), a free port on 127.0.0.1, and optionally a streaming
// standby for failover tests. It never uses or depends on a server that the
// machine runs on its own (such as a default cluster on port 5432).
//
// Contract:
// - The server binaries come from `pg_config --bindir` when that directory
//   holds initdb, else from /usr/lib/postgresql/15/bin (scripts/setup installs
//   them). When the test runs as root, initdb, pg_ctl, pg_basebackup and the
//   servers run as the `postgres` user through runuser, and the temporary
//   directory belongs to that user; otherwise they run as the current user.
// - Every step has a deadline: a server that does not start makes Start or
//   StartStandby return a failure with the command's output and the tail of
//   the server's log, never a hang. psql calls are ended after 30 s.
// - Access is `trust` from 127.0.0.1 (and the unix socket in the temporary
//   directory). The database "yilian" belongs to the role "yilian", which the
//   broker logs in as (conninfo()); psql() checks as the superuser "postgres".
// - Settings favour speed over durability of the machine's disk (fsync=off):
//   killing a server (KillPrimary) loses nothing that was committed, a power
//   cut would.
// - The destructor stops whatever still runs (immediate shutdown, then SIGKILL)
//   and removes the temporary directory. Used from the test's main thread only.
#pragma once

#include <memory>
#include <string>

namespace yilian::testing {

// A private PostgreSQL 15 server (the primary) and, after StartStandby, its
// streaming standby.
class TestPostgres {
 public:
  struct Options {
    // Makes the primary ready for a standby (synchronous or not): replica WAL,
    // WAL senders, replication access from 127.0.0.1. Without it the primary
    // writes minimal WAL and StartStandby fails.
    bool synchronous_standby_ready = false;
  };

  // initdb, then start on a free 127.0.0.1 port (waits until it accepts
  // connections); creates the role "yilian" and its database "yilian".
  // Returns nullptr and fills *error (what failed, the command's output, the
  // log's tail) on failure; nothing is left running or on disk then.
  static std::unique_ptr<TestPostgres> Start(const Options& options, std::string* error);
  ~TestPostgres();

  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  // The temporary directory: data directories, logs and the unix socket.
  const std::string& dir() const { return dir_; }
  std::string primary_log_path() const { return dir_ + "/primary.log"; }
  std::string standby_log_path() const { return dir_ + "/standby.log"; }

  int port() const { return port_; }
  // libpq keyword/value string for the broker:
  // "host=127.0.0.1 port=N dbname=yilian user=yilian connect_timeout=5".
  std::string conninfo() const;

  // Makes a standby with pg_basebackup -R from the primary, starts it on its
  // own free port with application_name "standby", and waits until the
  // primary streams to it. If `synchronous`, sets the primary's
  // synchronous_standby_names='standby' and synchronous_commit=on (reload)
  // and waits until pg_stat_replication reports it as `sync`. Returns false
  // and fills *error on failure.
  bool StartStandby(bool synchronous, std::string* error);
  int standby_port() const { return standby_port_; }
  // Both servers, the writable one chosen by libpq:
  // "host=127.0.0.1,127.0.0.1 port=P,S dbname=yilian user=yilian
  //  target_session_attrs=read-write connect_timeout=5".
  std::string multi_host_conninfo() const;

  // SIGKILLs the primary's postmaster and all its children (a crash), waits
  // until they are gone, and removes the lock files and shared memory they
  // leave (so StartPrimary can run crash recovery at once).
  bool KillPrimary(std::string* error);
  // pg_ctl promote -w on the standby: it accepts writes when this returns true.
  bool PromoteStandby(std::string* error);
  // Fast shutdown of the primary; start again on the same data directory and
  // port (crash recovery if it was killed).
  bool StopPrimary(std::string* error);
  bool StartPrimary(std::string* error);

  // Runs `sql` with psql -At as the superuser on database "yilian" of the
  // primary (which = 0) or the standby (which = 1). Returns stdout without
  // trailing whitespace (and clears *error); on failure "" and, if given,
  // *error.
  std::string psql(const std::string& sql, int which = 0, std::string* error = nullptr);

 private:
  TestPostgres() = default;
  bool StartServer(const std::string& data_dir, const std::string& log_path, int* port, bool retry_port,
                   std::string* error);
  void StopServer(const std::string& data_dir);

  std::string dir_;
  std::string primary_dir_;
  std::string standby_dir_;
  int port_ = 0;
  int standby_port_ = 0;
  bool replication_ = false;
  bool has_standby_ = false;
};

// Runs `sql` with psql -At on a libpq connection string (as a client of the
// broker would connect). Returns stdout without trailing whitespace (and
// clears *error); on failure "" and, if given, *error (exit status, stderr).
std::string Psql(const std::string& conninfo, const std::string& sql, std::string* error = nullptr);

// True if PostgreSQL 15's server binaries are installed (initdb found).
bool PostgresInstalled();

}  // namespace yilian::testing
