// A running yilian-broker process for end-to-end tests: its own data
// directory and ports, a config written from YAML text, and SQL queries
// against its store (the SQLite file, or its PostgreSQL database). Used from the test's main thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "testing/process.h"

namespace yilian::testing {

class TestPostgres;

class BrokerProcess {
 public:
  // `extra_yaml` is appended to a config with short heartbeats and a free
  // HTTP port.
  // With YILIAN_TEST_STORE=postgresql in the environment, the broker runs on
  // a private PostgreSQL server of its own (the ctest entries named
  // "postgresql.*" run the end-to-end suites so); otherwise on SQLite.
  explicit BrokerProcess(const std::string& extra_yaml = "");
  // A broker on the PostgreSQL store of `postgres_conninfo` (libpq), with
  // its HTTP API on a free port too; Query and Exec go to that database.
  // `postgresql_yaml`: more keys of store.postgresql, one "key: value" per line.
  BrokerProcess(const std::string& extra_yaml, const std::string& postgres_conninfo,
                const std::string& postgresql_yaml = "");
  ~BrokerProcess();

  // Starts (or restarts) the broker and waits until it listens, on its
  // socket and on its HTTP port.
  void Start();
  // Tests of security run the broker with CURVE (their config names the
  // keys); all others run it with --insecure-dev.
  void set_insecure(bool insecure) { insecure_ = insecure; }
  void Kill(int sig);
  // Sends `sig` without waiting (SIGSTOP, SIGCONT).
  void Signal(int sig);
  // SIGTERM and wait; returns the exit code.
  int Stop();

  // The running broker's process id (-1 when stopped).
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  const std::string& endpoint() const { return endpoint_; }
  // The HTTP API's port on 127.0.0.1 (each test broker has its own).
  int http_port() const { return http_port_; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log_path() const { return dir_ + "/broker.log"; }
  std::string config_path() const { return dir_ + "/broker.yaml"; }

  // First column of the first row of a read-only query on the store, as
  // text ("" if no row).
  std::string Query(const std::string& sql) const;
  long long QueryInt(const std::string& sql) const;
  // The store is PostgreSQL, at this connection string ("" for SQLite).
  bool on_postgres() const { return !postgres_conninfo_.empty(); }
  const std::string& postgres_conninfo() const { return postgres_conninfo_; }
  // Every byte the store keeps on disk: SQLite's database and WAL files,
  // or the files of the PostgreSQL server this broker started (tables and
  // WAL); "" for a PostgreSQL server it did not start.
  std::string StoreBytesAtRest() const;
  // The first column of every row.
  std::vector<std::string> QueryColumn(const std::string& sql) const;
  // Runs a writing statement on the store (only while the broker is
  // stopped: tests that damage the store on purpose). False on error.
  bool Exec(const std::string& sql) const;

 private:
  void Init(const std::string& extra_yaml, const std::string& postgres_conninfo,
            const std::string& postgresql_yaml = "");
  std::string dir_;
  std::string postgres_conninfo_;  // empty: the SQLite store in data_dir()
  std::unique_ptr<TestPostgres> owned_postgres_;  // YILIAN_TEST_STORE=postgresql
  std::string endpoint_;
  int http_port_ = 0;
  std::unique_ptr<Process> process_;
  int starts_ = 0;
  bool insecure_ = true;
};

}  // namespace yilian::testing
