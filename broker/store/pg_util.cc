#include "store/pg_util.h"

#include <endian.h>

#include <cstring>

namespace yilian::store::pg {

void Params::Arrays(std::vector<const char*>* values, std::vector<int>* lengths, std::vector<int>* formats) const {
  values->clear();
  lengths->clear();
  for (const auto& v : values_) {
    values->push_back(v.data());
    lengths->push_back(static_cast<int>(v.size()));
  }
  *formats = formats_;
}

std::int64_t GetInt(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  const char* p = PQgetvalue(r, row, col);
  switch (PQgetlength(r, row, col)) {
    case 8: {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<std::int64_t>(be64toh(v));
    }
    case 4: {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      return static_cast<std::int32_t>(be32toh(v));
    }
    case 2: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return static_cast<std::int16_t>(be16toh(v));
    }
    case 1:  // boolean
      return p[0] != 0;
    default:
      return 0;
  }
}

std::string GetText(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

PGconn* Connect(const std::string& conninfo) {
  // The string comes last: what it sets wins over these defaults.
  const char* keywords[] = {"tcp_user_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                            "dbname", nullptr};
  const char* values[] = {"10000", "10", "5", "3", conninfo.c_str(), nullptr};
  return PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
}

std::string SqlState(const PGresult* r) {
  if (r == nullptr) return "";
  const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return s ? s : "";
}

Status Classify(PGconn* conn, const PGresult* r, std::string_view what) {
  std::string message = r ? PQresultErrorMessage(r) : "";
  if (message.empty() && conn) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string text = std::string(what) + ": " + (message.empty() ? "no answer from the server" : message);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return Status::Unavailable(std::move(text));
  const std::string state = SqlState(r);
  const std::string klass = state.substr(0, 2);
  if (state.empty() || klass == "08" || klass == "57" || klass == "53" || klass == "40" || state == "25006" ||
      state == "55P03")
    return Status::Unavailable(std::move(text));
  if (state == "23505") return Status::Conflict(std::move(text));
  if (klass == "XX") return Status::Corruption(std::move(text));
  return Status::Internal(std::move(text));
}

}  // namespace yilian::store::pg
