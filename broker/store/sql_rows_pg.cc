// The PostgreSQL side of sql_rows.h over libpq: each run of a statement is
// one PQexecParams (parameters as text, results in binary, see pg_util.h);
// Rows::kMany inside a snapshot reads through a cursor, 1000 rows a
// round trip. An owned connection is read-only (default_transaction_read_only)
// and connects again after it was lost, at most once per backoff step.
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "store/pg_util.h"
#include "store/sql_rows.h"

namespace yilian::store::sql {
namespace {

constexpr int kBatchRows = 1000;

// Valid UTF-8 without NUL bytes: the text PostgreSQL stores. Anything else
// it refuses as a parameter (or, for NUL, would cut short).
bool IsStorableText(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::string ConnectionMessage(PGconn* conn) {
  std::string message = conn ? PQerrorMessage(conn) : "out of memory";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

class PgConnection;

class PgStatement final : public Statement {
 public:
  PgStatement(PgConnection* conn, std::string sql, std::vector<int> order, Rows rows)
      : conn_(conn), sql_(std::move(sql)), order_(std::move(order)), rows_(rows) {}

  void Bind(int index, std::int64_t value) override { params_[index] = std::to_string(value); }
  void Bind(int index, std::string_view value) override {
    if (!IsStorableText(value)) bad_param_ = index;
    params_[index] = std::string(value);
  }
  StepResult Step() override;
  std::int64_t Int(int col) const override { return pg::GetInt(result_.get(), row_, col); }
  std::string Text(int col) const override {
    return pg::IsNull(result_.get(), row_, col) ? std::string() : pg::GetText(result_.get(), row_, col);
  }
  Status Error(std::string_view what) const override {
    if (error_.ok()) return Status::Internal(std::string(what) + ": no error");
    return Status(error_.code(), std::string(what) + error_.message());
  }
  void Reset() override {
    result_.reset();
    params_.clear();
    bad_param_.reset();
    started_ = false;
    cursor_.clear();
    cursor_done_ = false;
    row_ = 0;
    error_ = Status::Ok();
  }

 private:
  StepResult Fail(PGconn* conn, const PGresult* r) {
    error_ = pg::Classify(conn, r, "");
    result_.reset();
    return StepResult::kError;
  }
  StepResult Start(PGconn* conn);
  StepResult Fetch(PGconn* conn);

  PgConnection* conn_;
  const std::string sql_;
  const std::vector<int> order_;
  const Rows rows_;
  std::map<int, std::string> params_;
  std::optional<int> bad_param_;
  bool started_ = false;
  pg::ResultPtr result_;
  int row_ = 0;
  std::string cursor_;  // the run's cursor (Rows::kMany in a transaction)
  bool cursor_done_ = false;
  Status error_;
};

class PgConnection final : public ReadConnection {
 public:
  // Owned: connects with `conninfo` (Connect). Borrowed: uses `conn`.
  PgConnection(std::string conninfo, PGconn* conn, bool owned)
      : conninfo_(std::move(conninfo)), conn_(conn), owned_(owned) {}
  ~PgConnection() override {
    if (owned_ && conn_) PQfinish(conn_);
  }

  // Connects (again): read-only by default, quiet notices.
  Status Connect() {
    if (conn_) PQfinish(conn_);
    conn_ = pg::Connect(conninfo_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = ConnectionMessage(conn_);
      PQfinish(conn_);
      conn_ = nullptr;
      return Status::Unavailable("cannot connect to PostgreSQL: " + message);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return Exec("SET default_transaction_read_only = on; SET client_min_messages = warning", "session settings");
  }

  Result<std::unique_ptr<Statement>> Prepare(const std::string& sql, Rows rows) override {
    std::vector<int> order;
    std::string text = PostgresPlaceholders(sql, &order);
    return std::unique_ptr<Statement>(std::make_unique<PgStatement>(this, std::move(text), std::move(order), rows));
  }

  Status BeginSnapshot() override {
    if (!owned_) return Status::Ok();
    if (!connected()) {
      if (Status s = Reconnect(); !s.ok()) return s;
    }
    const char* begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    Status s = Exec(begin, "begin a read snapshot");
    if (!s.ok() && !connected()) {
      // The server went away since the last call (a restart, a failover):
      // once more on a new connection.
      if (Status r = Reconnect(); !r.ok()) return r;
      s = Exec(begin, "begin a read snapshot");
    }
    return s;
  }

  Status EndSnapshot() override {
    if (!owned_ || !connected()) return Status::Ok();
    switch (PQtransactionStatus(conn_)) {
      case PQTRANS_INTRANS:
        return Exec("COMMIT", "end a read snapshot");
      case PQTRANS_INERROR:
        return Exec("ROLLBACK", "end a read snapshot");
      default:
        return Status::Ok();
    }
  }

  PGconn* conn() const { return conn_; }
  std::uint64_t NextCursor() { return ++cursors_; }

 private:
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

  // At most once per backoff step (100 ms doubling to 5 s), so that a
  // server that is down does not hold every read for a connect timeout.
  Status Reconnect() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_connect_)
      return Status::Unavailable(
          "PostgreSQL is unreachable; the next attempt to connect is in " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(next_connect_ - now).count()) + " ms");
    Status s = Connect();
    if (!s.ok()) {
      backoff_ms_ = std::min<std::int64_t>(backoff_ms_ == 0 ? 100 : backoff_ms_ * 2, 5000);
      next_connect_ = now + std::chrono::milliseconds(backoff_ms_);
      return s;
    }
    backoff_ms_ = 0;
    return Status::Ok();
  }

  Status Exec(const char* sql, const char* what) {
    pg::ResultPtr r(PQexec(conn_, sql));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg::Classify(conn_, r.get(), what);
    return Status::Ok();
  }

  const std::string conninfo_;
  PGconn* conn_;
  const bool owned_;
  std::uint64_t cursors_ = 0;
  std::int64_t backoff_ms_ = 0;
  std::chrono::steady_clock::time_point next_connect_{};
};

StepResult PgStatement::Step() {
  PGconn* conn = conn_->conn();
  if (!started_) {
    started_ = true;
    return Start(conn);
  }
  if (!result_) return StepResult::kDone;
  if (++row_ < PQntuples(result_.get())) return StepResult::kRow;
  if (cursor_.empty() || cursor_done_) return StepResult::kDone;
  return Fetch(conn);
}

StepResult PgStatement::Start(PGconn* conn) {
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return Fail(conn, nullptr);
  if (bad_param_) {
    error_ = Status::InvalidArgument(": parameter " + std::to_string(*bad_param_) +
                                     " is not UTF-8 text without NUL bytes (PostgreSQL stores no other text)");
    return StepResult::kError;
  }
  std::vector<const char*> values;
  for (int n : order_) {
    auto it = params_.find(n);
    values.push_back(it == params_.end() ? nullptr : it->second.c_str());
  }
  const int count = static_cast<int>(values.size());
  if (rows_ == Rows::kMany && PQtransactionStatus(conn) == PQTRANS_INTRANS) {
    // Ends with the transaction: no CLOSE needed, and each run has its own.
    cursor_ = "yilian_rows_" + std::to_string(conn_->NextCursor());
    const std::string declare = "DECLARE " + cursor_ + " NO SCROLL CURSOR FOR " + sql_;
    pg::ResultPtr r(PQexecParams(conn, declare.c_str(), count, nullptr, values.data(), nullptr, nullptr, 1));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Fail(conn, r.get());
    return Fetch(conn);
  }
  result_.reset(PQexecParams(conn, sql_.c_str(), count, nullptr, values.data(), nullptr, nullptr, 1));
  const ExecStatusType st = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return Fail(conn, result_.get());
  row_ = 0;
  return PQntuples(result_.get()) > 0 ? StepResult::kRow : StepResult::kDone;
}

StepResult PgStatement::Fetch(PGconn* conn) {
  const std::string fetch = "FETCH " + std::to_string(kBatchRows) + " FROM " + cursor_;
  result_.reset(PQexecParams(conn, fetch.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1));
  if (!result_ || PQresultStatus(result_.get()) != PGRES_TUPLES_OK) return Fail(conn, result_.get());
  row_ = 0;
  const int n = PQntuples(result_.get());
  cursor_done_ = n < kBatchRows;
  return n > 0 ? StepResult::kRow : StepResult::kDone;
}

}  // namespace

std::string PostgresPlaceholders(std::string_view sql, std::vector<int>* order) {
  order->clear();
  std::string out;
  out.reserve(sql.size() + 8);
  std::size_t i = 0;
  // Copies from i up to and including the first `end` after `from`; the
  // rest of the text if there is none.
  auto copy_through = [&](std::size_t from, std::string_view end) {
    std::size_t at = sql.find(end, from);
    std::size_t stop = at == std::string_view::npos ? sql.size() : at + end.size();
    out.append(sql.substr(i, stop - i));
    i = stop;
  };
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      // A doubled quote inside is two quoted runs back to back: the same.
      copy_through(i + 1, std::string_view(&sql[i], 1));
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copy_through(i + 2, "\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      copy_through(i + 2, "*/");
    } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      std::size_t end = i + 1;
      int n = 0;
      while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9' && n < 100000) n = n * 10 + (sql[end++] - '0');
      auto found = std::find(order->begin(), order->end(), n);
      if (found == order->end()) found = order->insert(order->end(), n);
      out += "$" + std::to_string(found - order->begin() + 1);
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

Result<std::unique_ptr<ReadConnection>> OpenPostgres(const std::string& conninfo) {
  auto conn = std::make_unique<PgConnection>(conninfo, nullptr, true);
  if (Status s = conn->Connect(); !s.ok()) return s;
  return std::unique_ptr<ReadConnection>(std::move(conn));
}

std::unique_ptr<ReadConnection> BorrowPostgres(PGconn* conn) { return std::make_unique<PgConnection>("", conn, false); }

}  // namespace yilian::store::sql
