#include "testing/broker_fixture.h"

#include <signal.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "testing/postgres.h"

namespace yilian::testing {

BrokerProcess::BrokerProcess(const std::string& extra_yaml) {
  const char* store = std::getenv("YILIAN_TEST_STORE");
  if (store != nullptr && std::string(store) == "postgresql") {
    std::string error;
    owned_postgres_ = TestPostgres::Start({}, &error);
    if (!owned_postgres_) {
      std::cerr << "YILIAN_TEST_STORE=postgresql: cannot start PostgreSQL: " << error << "\n";
      std::abort();
    }
    Init(extra_yaml, owned_postgres_->conninfo());
    return;
  }
  dir_ = MakeTempDir("yilian-broker-test");
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(FreeTcpPort());
  http_port_ = FreeTcpPort();
  WriteFile(config_path(), "heartbeat:\n  interval_ms: 200\n  liveness: 3\nhttp:\n  listen: 127.0.0.1:" +
                               std::to_string(http_port_) + "\n" + extra_yaml);
}

BrokerProcess::BrokerProcess(const std::string& extra_yaml, const std::string& postgres_conninfo,
                             const std::string& postgresql_yaml) {
  Init(extra_yaml, postgres_conninfo, postgresql_yaml);
}

void BrokerProcess::Init(const std::string& extra_yaml, const std::string& postgres_conninfo,
                         const std::string& postgresql_yaml) {
  std::string more;
  for (std::size_t at = 0; at < postgresql_yaml.size();) {
    std::size_t end = postgresql_yaml.find('\n', at);
    if (end == std::string::npos) end = postgresql_yaml.size();
    more += "    " + postgresql_yaml.substr(at, end - at) + "\n";
    at = end + 1;
  }
  postgres_conninfo_ = postgres_conninfo;
  dir_ = MakeTempDir("yilian-broker-test");
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(FreeTcpPort());
  http_port_ = FreeTcpPort();
  WriteFile(config_path(),
            // http last, as on SQLite: extra keys indented under it (TLS) belong to it.
            "heartbeat:\n  interval_ms: 200\n  liveness: 3\nstore:\n  backend: postgresql\n  postgresql:\n    conninfo: \"" +
                postgres_conninfo + "\"\n" + more + "http:\n  listen: 127.0.0.1:" + std::to_string(http_port_) + "\n" +
                extra_yaml);
}

BrokerProcess::~BrokerProcess() {
  process_.reset();
  owned_postgres_.reset();
  if (!std::getenv("YILIAN_KEEP_TEST_DIRS")) RemoveTree(dir_);
}

void BrokerProcess::Start() {
  ++starts_;
  std::size_t before = ReadFile(log_path()).size();
  std::vector<std::string> argv = {BrokerBinary(), "--config", config_path(), "--data-dir", data_dir(),
                                   "--listen",     endpoint_,  "--log-file",  log_path()};
  if (insecure_) argv.push_back("--insecure-dev");
  process_ = Process::Start(argv, dir_ + "/broker.stdout", dir_ + "/broker.stderr");
  bool up = PollUntil(
      [&] {
        // The HTTP API starts right after the broker's socket: a test may
        // use either as soon as this returns.
        std::string log = ReadFile(log_path());
        return log.size() > before && log.find("listening on", before) != std::string::npos &&
               log.find("HTTP API and dashboard on", before) != std::string::npos;
      },
      20000);
  if (!up) {
    std::cerr << "broker did not start; stderr:\n" << ReadFile(dir_ + "/broker.stderr") << "\n";
    std::abort();
  }
}

void BrokerProcess::Kill(int sig) {
  if (!process_) return;
  process_->Signal(sig);
  int code = 0;
  process_->WaitExit(20000, &code);
  process_.reset();
}

void BrokerProcess::Signal(int sig) {
  if (process_) process_->Signal(sig);
}

int BrokerProcess::Stop() {
  if (!process_) return -1;
  process_->Signal(SIGTERM);
  int code = -1;
  if (!process_->WaitExit(20000, &code)) code = -1;
  process_.reset();
  return code;
}

std::string BrokerProcess::Query(const std::string& sql) const {
  if (!postgres_conninfo_.empty()) {
    std::string error;
    std::vector<std::string> rows = QueryColumn(sql);
    return rows.empty() ? "" : rows[0];
  }
  sqlite3* db = nullptr;
  std::string path = data_dir() + "/yilian.db";
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      if (sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(stmt, 0);
        if (t) out = reinterpret_cast<const char*>(t);
      }
    } else {
      std::cerr << "query failed: " << sqlite3_errmsg(db) << " in " << sql << "\n";
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

bool BrokerProcess::Exec(const std::string& sql) const {
  if (!postgres_conninfo_.empty()) {
    std::string error;
    Psql(postgres_conninfo_, sql, &error);
    if (!error.empty()) std::cerr << "exec failed: " << error << " in " << sql << "\n";
    return error.empty();
  }
  sqlite3* db = nullptr;
  std::string path = data_dir() + "/yilian.db";
  bool ok = false;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    char* error = nullptr;
    ok = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK;
    if (!ok) std::cerr << "exec failed: " << (error ? error : "?") << " in " << sql << "\n";
    sqlite3_free(error);
  }
  sqlite3_close(db);
  return ok;
}

std::vector<std::string> BrokerProcess::QueryColumn(const std::string& sql) const {
  std::vector<std::string> rows;
  if (!postgres_conninfo_.empty()) {
    std::string error;
    // One value: the first column of every row, joined by a separator no
    // stored text holds (texts may span lines). NULL reads as "".
    std::string query = sql;
    while (!query.empty() && (query.back() == ';' || query.back() == ' ')) query.pop_back();
    const std::string out = Psql(postgres_conninfo_,
                                 "SELECT count(*), string_agg(coalesce(CAST(c AS text), ''), chr(30)) || chr(31) FROM (" + query +
                                     ") AS q(c)",
                                 &error);
    if (!error.empty()) std::cerr << "query failed: " << error << " in " << sql << "\n";
    const std::size_t bar = out.find('|');
    if (bar == std::string::npos || std::atoll(out.substr(0, bar).c_str()) == 0) return rows;
    // chr(31) ends the value, so that psql's trimming keeps its last spaces.
    std::string joined = out.substr(bar + 1);
    if (!joined.empty() && joined.back() == '\x1f') joined.pop_back();
    for (std::size_t at = 0;;) {
      const std::size_t end = joined.find('\x1e', at);
      rows.push_back(joined.substr(at, end == std::string::npos ? std::string::npos : end - at));
      if (end == std::string::npos) break;
      at = end + 1;
    }
    return rows;
  }
  sqlite3* db = nullptr;
  const std::string path = data_dir() + "/yilian.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(stmt, 0);
        rows.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
    } else {
      std::cerr << "query failed: " << sqlite3_errmsg(db) << " in " << sql << "\n";
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return rows;
}

std::string BrokerProcess::StoreBytesAtRest() const {
  if (!on_postgres()) return ReadFile(data_dir() + "/yilian.db") + ReadFile(data_dir() + "/yilian.db-wal");
  if (!owned_postgres_) return "";
  std::string bytes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(owned_postgres_->dir() + "/primary", ec)) {
    if (entry.is_regular_file(ec)) bytes += ReadFile(entry.path().string());
  }
  return bytes;
}

long long BrokerProcess::QueryInt(const std::string& sql) const {
  std::string v = Query(sql);
  return v.empty() ? -1 : std::atoll(v.c_str());
}

}  // namespace yilian::testing
