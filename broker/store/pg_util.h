// Small helpers over libpq for the PostgreSQL store: one connection, named
// prepared statements, parameters sent as text (bytea as binary), results
// received in binary, errors classified by SQLSTATE. Internal to
// broker/store.
//
// Concurrency: like a PGconn, one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace yilian::store::pg {

// A result, cleared when it goes out of scope.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// The parameters of one statement.
class Params {
 public:
  Params& Text(std::string_view v) {
    Add(std::string(v), 0);
    return *this;
  }
  Params& Int(std::int64_t v) {
    Add(std::to_string(v), 0);
    return *this;
  }
  Params& Bytes(std::string_view v) {
    Add(std::string(v), 1);
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into the values; valid while this object is unchanged.
  void Arrays(std::vector<const char*>* values, std::vector<int>* lengths, std::vector<int>* formats) const;

 private:
  void Add(std::string v, int format) {
    values_.push_back(std::move(v));
    formats_.push_back(format);
  }
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// Column values of a binary-format result.
std::int64_t GetInt(const PGresult* r, int row, int col);
std::string GetText(const PGresult* r, int row, int col);
inline bool IsNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

// Connects with `conninfo` (a libpq connection string) and these defaults,
// which the string overrides: tcp_user_timeout 10 s (a server whose host
// vanished without closing the connection, a power cut or a partition, is
// given up after 10 s of unacknowledged data instead of the kernel's
// retransmission limit of about 15 minutes; a COMMIT that waits for a
// synchronous standby sends nothing and is not affected), and TCP
// keepalives after 10 s idle, every 5 s, 3 probes. Never null; check
// PQstatus.
PGconn* Connect(const std::string& conninfo);

// The SQLSTATE of a failed result ("" if none).
std::string SqlState(const PGresult* r);

// A Status for a failed command: what was done, the server's message, and
// a code from the SQLSTATE class. Connection failures, a server shutting
// down, a read-only (standby) server, a lock not obtained in time and
// failed serialization are
// kUnavailable: the operation may succeed again later or elsewhere.
Status Classify(PGconn* conn, const PGresult* r, std::string_view what);

}  // namespace yilian::store::pg
