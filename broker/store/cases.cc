#include "store/cases.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <vector>

#include "store/audit_verify.h"
#include "store/schema.h"

namespace yilian::store {

using google::protobuf::util::TimeUtil;
using sqlite::BindText;
using sqlite::ColumnText;
using sqlite::Use;

namespace {

constexpr const char* kCaseColumns =
    "seq, event_id, uscc, type, revision, published_at, case_state, completed_at, deadline_at, overdue, "
    "resolution, name";

// Sets a Timestamp field only for a real time: 0 means "not yet" and leaves
// the field absent (so JSON shows no epoch dates).
#define SET_TIME(ms, msg, field)                                                   \
  do {                                                                             \
    Millis v_ = (ms);                                                              \
    if (v_ > 0) *(msg)->mutable_##field() = TimeUtil::MillisecondsToTimestamp(v_); \
  } while (0)

}  // namespace

v1::AgencyState ToApiState(int state) {
  switch (state) {
    case 0:
      return v1::PENDING;
    case 1:
      return v1::DELIVERED;
    case 2:
      return v1::ACCEPTED_BY_AGENCY;
    case 3:
      return v1::PROCESSED;
    case 4:
      return v1::REJECTED;
    case 5:
      return v1::DEAD;
  }
  return v1::AGENCY_STATE_UNSPECIFIED;
}

namespace {

double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

Status Err(sqlite3* db, const char* what) {
  return sqlite::Classify(sqlite3_errcode(db), std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

std::string AuditHashPrefix(const std::string& prev_hash, std::uint64_t id, Millis at, const std::string& actor,
                            const std::string& kind) {
  return prev_hash + "\n" + std::to_string(id) + "\n" + std::to_string(at) + "\n" + actor + "\n" + kind + "\n";
}

std::string AuditHashInput(const std::string& prev_hash, std::uint64_t id, Millis at, const std::string& actor,
                           const std::string& kind, const std::string& body) {
  return AuditHashPrefix(prev_hash, id, at, actor, kind) + body;
}

Status CaseQueries::Prepare() {
  std::string cols = kCaseColumns;
  if (Status s = by_seq_.Prepare(db_, "SELECT " + cols + " FROM events WHERE seq = ?1"); !s.ok()) return s;
  if (Status s = by_id_.Prepare(db_, "SELECT " + cols + " FROM events WHERE event_id = ?1"); !s.ok()) return s;
  return deliveries_.Prepare(db_,
                             "SELECT agency, state, attempts, reference, reason, first_delivered_at, "
                             "last_delivered_at, accepted_at, settled_at, deadline_at, overdue, replay "
                             "FROM deliveries WHERE id >= ?1 AND id < ?2 ORDER BY agency");
}

Status CaseQueries::FillCase(sqlite3_stmt* r, v1::Case* c) {
  Sequence seq = static_cast<Sequence>(sqlite3_column_int64(r, 0));
  c->set_sequence(seq);
  c->set_event_id(ColumnText(r, 1));
  c->set_uscc(ColumnText(r, 2));
  c->set_type(static_cast<v1::EventType>(sqlite3_column_int(r, 3)));
  c->set_revision(static_cast<std::uint64_t>(sqlite3_column_int64(r, 4)));
  SET_TIME(sqlite3_column_int64(r, 5), c, published_at);
  c->set_state(static_cast<v1::CaseState>(sqlite3_column_int(r, 6)));
  SET_TIME(sqlite3_column_int64(r, 7), c, completed_at);
  SET_TIME(sqlite3_column_int64(r, 8), c, deadline_at);
  c->set_overdue(sqlite3_column_int(r, 9) != 0);
  c->set_resolution(ColumnText(r, 10));
  c->set_enterprise_name(ColumnText(r, 11));
  Use u(deliveries_);
  // The event's delivery rows: the key range of its sequence (schema.h).
  sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq) * kAgencySlots);
  sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(seq + 1) * kAgencySlots);
  for (;;) {
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Err(db_, "read case deliveries");
    auto* a = c->add_agencies();
    a->set_agency(ColumnText(*u, 0));
    a->set_state(ToApiState(sqlite3_column_int(*u, 1)));
    a->set_attempts(static_cast<std::uint32_t>(sqlite3_column_int64(*u, 2)));
    a->set_reference(ColumnText(*u, 3));
    a->set_reason(ColumnText(*u, 4));
    SET_TIME(sqlite3_column_int64(*u, 5), a, first_delivered_at);
    SET_TIME(sqlite3_column_int64(*u, 6), a, last_delivered_at);
    SET_TIME(sqlite3_column_int64(*u, 7), a, accepted_at);
    SET_TIME(sqlite3_column_int64(*u, 8), a, settled_at);
    SET_TIME(sqlite3_column_int64(*u, 9), a, deadline_at);
    a->set_overdue(sqlite3_column_int(*u, 10) != 0);
    a->set_replay(sqlite3_column_int(*u, 11) != 0);
  }
  return Status::Ok();
}

Result<std::optional<v1::Case>> CaseQueries::LoadBySeq(Sequence seq) {
  Use u(by_seq_);
  sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
  int rc = sqlite3_step(*u);
  if (rc == SQLITE_DONE) return std::optional<v1::Case>();
  if (rc != SQLITE_ROW) return Err(db_, "read case");
  v1::Case c;
  if (Status s = FillCase(*u, &c); !s.ok()) return s;
  return std::optional<v1::Case>(std::move(c));
}

Result<std::optional<v1::Case>> CaseQueries::LoadById(const std::string& event_id) {
  Use u(by_id_);
  BindText(*u, 1, event_id);
  int rc = sqlite3_step(*u);
  if (rc == SQLITE_DONE) return std::optional<v1::Case>();
  if (rc != SQLITE_ROW) return Err(db_, "read case");
  v1::Case c;
  if (Status s = FillCase(*u, &c); !s.ok()) return s;
  return std::optional<v1::Case>(std::move(c));
}

Result<v1::CaseList> CaseQueries::List(const CaseFilter& f) {
  std::string sql = std::string("SELECT ") + kCaseColumns + " FROM events WHERE 1 = 1";
  if (!f.uscc.empty()) sql += " AND uscc = ?1";
  if (f.state != 0) sql += " AND case_state = ?2";
  if (!f.agency.empty()) sql += " AND seq IN (SELECT seq FROM deliveries WHERE agency = ?3)";
  if (f.overdue_only) sql += " AND overdue = 1";
  if (f.since > 0) sql += " AND published_at >= ?4";
  if (f.before > 0) sql += " AND seq < ?5";
  sql += " ORDER BY seq DESC LIMIT ?6";
  sqlite::Stmt stmt;
  if (Status s = stmt.Prepare(db_, sql); !s.ok()) return s;
  Use u(stmt);
  BindText(*u, 1, f.uscc);
  sqlite3_bind_int(*u, 2, f.state);
  BindText(*u, 3, f.agency);
  sqlite3_bind_int64(*u, 4, f.since);
  sqlite3_bind_int64(*u, 5, static_cast<sqlite3_int64>(f.before));
  int limit = std::clamp(f.limit, 1, 1000);
  sqlite3_bind_int(*u, 6, limit + 1);
  v1::CaseList list;
  for (;;) {
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Err(db_, "list cases");
    if (list.cases_size() == limit) {
      list.set_next_cursor(std::to_string(list.cases(limit - 1).sequence()));
      break;
    }
    if (Status s = FillCase(*u, list.add_cases()); !s.ok()) return s;
  }
  return list;
}

Result<std::optional<v1::EnterpriseTimeline>> CaseQueries::Timeline(const std::string& uscc) {
  sqlite::Stmt events;
  if (Status s =
          events.Prepare(db_, std::string("SELECT ") + kCaseColumns + " FROM events WHERE uscc = ?1 ORDER BY seq");
      !s.ok())
    return s;
  v1::EnterpriseTimeline t;
  t.set_uscc(uscc);
  {
    Use u(events);
    BindText(*u, 1, uscc);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Err(db_, "read timeline");
      v1::Case* c = t.add_events();
      if (Status s = FillCase(*u, c); !s.ok()) return s;
      t.set_name(c->enterprise_name());
      t.set_last_revision(c->revision());
    }
  }
  if (t.events_size() == 0) return std::optional<v1::EnterpriseTimeline>();
  sqlite::Stmt refs;
  // Each agency's latest reference: the last one it gave with a PROCESSED
  // result for any of the enterprise's events.
  if (Status s = refs.Prepare(db_,
                              "SELECT d.agency, d.reference, d.settled_at FROM events e JOIN deliveries d ON d.id >= "
                              "e.seq * " + std::to_string(kAgencySlots) + " AND d.id < (e.seq + 1) * " +
                                  std::to_string(kAgencySlots) + " WHERE e.uscc = ?1 AND d.state = 3 AND d.reference <> '' "
                              "ORDER BY d.agency, d.settled_at DESC, d.seq DESC");
      !s.ok())
    return s;
  Use u(refs);
  BindText(*u, 1, uscc);
  while (sqlite3_step(*u) == SQLITE_ROW) {
    std::string agency = ColumnText(*u, 0);
    if (t.references_size() > 0 && t.references(t.references_size() - 1).agency() == agency) continue;
    auto* r = t.add_references();
    r->set_agency(std::move(agency));
    r->set_reference(ColumnText(*u, 1));
    SET_TIME(sqlite3_column_int64(*u, 2), r, updated_at);
  }
  return std::optional<v1::EnterpriseTimeline>(std::move(t));
}

Result<v1::Stats> CaseQueries::ComputeStats(Millis now, std::int64_t window_seconds) {
  v1::Stats st;
  st.set_window_seconds(static_cast<std::uint64_t>(window_seconds));
  Millis from = now - window_seconds * 1000;
  auto each = [&](const std::string& sql, auto&& bind, auto&& row) -> Status {
    sqlite::Stmt stmt;
    if (Status s = stmt.Prepare(db_, sql); !s.ok()) return s;
    Use u(stmt);
    bind(*u);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Err(db_, "stats");
      row(*u);
    }
  };
  auto no_bind = [](sqlite3_stmt*) {};
  Status s =
      each("SELECT case_state, COUNT(*), SUM(overdue) FROM events GROUP BY case_state", no_bind, [&](sqlite3_stmt* r) {
        auto n = static_cast<std::uint64_t>(sqlite3_column_int64(r, 1));
        st.set_cases(st.cases() + n);
        switch (sqlite3_column_int(r, 0)) {
          case 1:
            st.set_in_progress(n);
            break;
          case 2:
            st.set_completed(n);
            break;
          case 3:
            st.set_attention(n);
            break;
        }
        if (sqlite3_column_int(r, 0) != 2)
          st.set_overdue(st.overdue() + static_cast<std::uint64_t>(sqlite3_column_int64(r, 2)));
      });
  if (!s.ok()) return s;
  st.set_completion_rate(st.cases() ? static_cast<double>(st.completed()) / static_cast<double>(st.cases()) : 0.0);

  std::map<std::string, v1::AgencyStats> agencies;
  s = each("SELECT agency, state, SUM(overdue), COUNT(*) FROM deliveries GROUP BY agency, state", no_bind,
           [&](sqlite3_stmt* r) {
             auto& a = agencies[ColumnText(r, 0)];
             auto n = static_cast<std::uint64_t>(sqlite3_column_int64(r, 3));
             switch (sqlite3_column_int(r, 1)) {
               case 3:
                 a.set_processed(a.processed() + n);
                 break;
               case 4:
                 a.set_rejected(a.rejected() + n);
                 break;
               case 5:
                 a.set_dead(a.dead() + n);
                 break;
               default:
                 a.set_pending(a.pending() + n);
                 a.set_overdue(a.overdue() + static_cast<std::uint64_t>(sqlite3_column_int64(r, 2)));
             }
           });
  if (!s.ok()) return s;
  std::map<std::string, std::vector<double>> durations;
  s = each(
      "SELECT d.agency, d.settled_at - e.published_at FROM deliveries d JOIN events e ON e.seq = d.seq "
      "WHERE d.state = 3 AND d.settled_at >= ?1",
      [&](sqlite3_stmt* q) { sqlite3_bind_int64(q, 1, from); },
      [&](sqlite3_stmt* r) { durations[ColumnText(r, 0)].push_back(static_cast<double>(sqlite3_column_int64(r, 1))); });
  if (!s.ok()) return s;
  for (auto& [id, a] : agencies) {
    a.set_agency(id);
    auto& d = durations[id];
    a.set_median_ms(Quantile(d, 0.5));
    a.set_p90_ms(Quantile(d, 0.9));
    *st.add_agencies() = a;
  }
  std::vector<double> cases;
  s = each(
      "SELECT completed_at - published_at FROM events WHERE case_state = 2 AND completed_at >= ?1",
      [&](sqlite3_stmt* q) { sqlite3_bind_int64(q, 1, from); },
      [&](sqlite3_stmt* r) { cases.push_back(static_cast<double>(sqlite3_column_int64(r, 0))); });
  if (!s.ok()) return s;
  st.set_case_median_ms(Quantile(cases, 0.5));
  st.set_case_p90_ms(Quantile(cases, 0.9));
  return st;
}

namespace {

class SqliteCaseReader final : public CaseReader {
 public:
  ~SqliteCaseReader() override {
    queries_.reset();
    if (db_) sqlite3_close_v2(db_);
  }
  Status Open(const std::string& dir) {
    std::string path = dir + "/yilian.db";
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK)
      return sqlite::Classify(rc, "cannot open store '" + path + "' read-only: " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(db_, 5000);
    queries_ = std::make_unique<CaseQueries>(db_);
    return queries_->Prepare();
  }
  Result<std::optional<v1::Case>> LoadCase(const std::string& event_id) override {
    return queries_->LoadById(event_id);
  }
  Result<v1::CaseList> ListCases(const CaseFilter& filter) override { return queries_->List(filter); }
  Result<std::optional<v1::EnterpriseTimeline>> Timeline(const std::string& uscc) override {
    return queries_->Timeline(uscc);
  }
  Result<v1::Stats> ComputeStats(Millis now, std::int64_t window_seconds) override {
    return queries_->ComputeStats(now, window_seconds);
  }
  Result<v1::AuditVerifyReport> VerifyAudit(const std::vector<AuditAnchorPoint>& anchors) override {
    // One consistent snapshot of the chain, its recorded head and the rows.
    if (Status s = sqlite::ExecSql(db_, "BEGIN", "audit snapshot"); !s.ok()) return s;
    auto r = VerifyAuditTrail(db_, anchors);
    // A read-only snapshot: ending it cannot lose anything, but say so if it fails.
    if (Status s = sqlite::ExecSql(db_, "COMMIT", "audit snapshot"); !s.ok() && r.ok()) return s;
    return r;
  }

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<CaseQueries> queries_;
};

}  // namespace

Result<std::unique_ptr<CaseReader>> CaseReader::Open(const std::string& data_dir) {
  auto reader = std::make_unique<SqliteCaseReader>();
  if (Status s = reader->Open(data_dir); !s.ok()) return s;
  return std::unique_ptr<CaseReader>(std::move(reader));
}

}  // namespace yilian::store
