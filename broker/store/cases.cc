#include "store/cases.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "store/archive.h"
#include "store/audit_verify.h"
#include "store/schema.h"

namespace yilian::store {

using google::protobuf::util::TimeUtil;
using sql::StepResult;
using sql::Use;

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
  const std::string cols = kCaseColumns;
  auto prepare = [&](std::unique_ptr<sql::Statement>* out, const std::string& text) -> Status {
    auto stmt = conn_->Prepare(text);
    if (!stmt.ok()) return stmt.status();
    *out = std::move(stmt).value();
    return Status::Ok();
  };
  if (Status s = prepare(&by_seq_, "SELECT " + cols + " FROM events WHERE seq = ?1"); !s.ok()) return s;
  if (Status s = prepare(&by_id_, "SELECT " + cols + " FROM events WHERE event_id = ?1"); !s.ok()) return s;
  return prepare(&deliveries_,
                 "SELECT agency, state, attempts, reference, reason, first_delivered_at, "
                 "last_delivered_at, accepted_at, settled_at, deadline_at, overdue, replay "
                 "FROM deliveries WHERE id >= ?1 AND id < ?2 ORDER BY id");
}

Status CaseQueries::FillCase(const sql::Statement& r, v1::Case* c) {
  Sequence seq = static_cast<Sequence>(r.Int(0));
  c->set_sequence(seq);
  c->set_event_id(r.Text(1));
  c->set_uscc(r.Text(2));
  c->set_type(static_cast<v1::EventType>(r.Int(3)));
  c->set_revision(static_cast<std::uint64_t>(r.Int(4)));
  SET_TIME(r.Int(5), c, published_at);
  c->set_state(static_cast<v1::CaseState>(r.Int(6)));
  SET_TIME(r.Int(7), c, completed_at);
  SET_TIME(r.Int(8), c, deadline_at);
  c->set_overdue(r.Int(9) != 0);
  c->set_resolution(r.Text(10));
  c->set_enterprise_name(r.Text(11));
  Use u(*deliveries_);
  // The event's delivery rows: the key range of its sequence (schema.h).
  u->Bind(1, static_cast<std::int64_t>(seq) * kAgencySlots);
  u->Bind(2, static_cast<std::int64_t>(seq + 1) * kAgencySlots);
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error("read case deliveries");
    auto* a = c->add_agencies();
    a->set_agency(u->Text(0));
    a->set_state(ToApiState(static_cast<int>(u->Int(1))));
    a->set_attempts(static_cast<std::uint32_t>(u->Int(2)));
    a->set_reference(u->Text(3));
    a->set_reason(u->Text(4));
    SET_TIME(u->Int(5), a, first_delivered_at);
    SET_TIME(u->Int(6), a, last_delivered_at);
    SET_TIME(u->Int(7), a, accepted_at);
    SET_TIME(u->Int(8), a, settled_at);
    SET_TIME(u->Int(9), a, deadline_at);
    a->set_overdue(u->Int(10) != 0);
    a->set_replay(u->Int(11) != 0);
  }
  // Bytewise, whatever the database's collation.
  std::sort(c->mutable_agencies()->begin(), c->mutable_agencies()->end(),
            [](const v1::AgencyOutcome& x, const v1::AgencyOutcome& y) { return x.agency() < y.agency(); });
  return Status::Ok();
}

Result<std::optional<v1::Case>> CaseQueries::LoadOne(sql::Statement& stmt) {
  StepResult rc = stmt.Step();
  if (rc == StepResult::kDone) return std::optional<v1::Case>();
  if (rc == StepResult::kError) return stmt.Error("read case");
  v1::Case c;
  if (Status s = FillCase(stmt, &c); !s.ok()) return s;
  return std::optional<v1::Case>(std::move(c));
}

Result<std::optional<v1::Case>> CaseQueries::LoadBySeq(Sequence seq) {
  Use u(*by_seq_);
  u->Bind(1, static_cast<std::int64_t>(seq));
  return LoadOne(*u);
}

Result<std::optional<v1::Case>> CaseQueries::LoadById(const std::string& event_id) {
  Use u(*by_id_);
  u->Bind(1, event_id);
  return LoadOne(*u);
}

Result<v1::CaseList> CaseQueries::List(const CaseFilter& f) {
  std::string text = std::string("SELECT ") + kCaseColumns + " FROM events WHERE 1 = 1";
  if (!f.uscc.empty()) text += " AND uscc = ?1";
  if (f.state != 0) text += " AND case_state = ?2";
  if (!f.agency.empty()) text += " AND seq IN (SELECT seq FROM deliveries WHERE agency = ?3)";
  if (f.overdue_only) text += " AND overdue = 1";
  if (f.since > 0) text += " AND published_at >= ?4";
  if (f.before > 0) text += " AND seq < ?5";
  text += " ORDER BY seq DESC LIMIT ?6";
  auto stmt = conn_->Prepare(text);
  if (!stmt.ok()) return stmt.status();
  Use u(*stmt.value());
  u->Bind(1, f.uscc);
  u->Bind(2, static_cast<std::int64_t>(f.state));
  u->Bind(3, f.agency);
  u->Bind(4, f.since);
  u->Bind(5, static_cast<std::int64_t>(f.before));
  int limit = std::clamp(f.limit, 1, 1000);
  u->Bind(6, static_cast<std::int64_t>(limit + 1));
  v1::CaseList list;
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error("list cases");
    if (list.cases_size() == limit) {
      list.set_next_cursor(std::to_string(list.cases(limit - 1).sequence()));
      break;
    }
    if (Status s = FillCase(*u, list.add_cases()); !s.ok()) return s;
  }
  return list;
}

Result<std::optional<v1::EnterpriseTimeline>> CaseQueries::Timeline(const std::string& uscc) {
  auto events = conn_->Prepare(std::string("SELECT ") + kCaseColumns + " FROM events WHERE uscc = ?1 ORDER BY seq");
  if (!events.ok()) return events.status();
  v1::EnterpriseTimeline t;
  t.set_uscc(uscc);
  {
    Use u(*events.value());
    u->Bind(1, uscc);
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      if (rc == StepResult::kError) return u->Error("read timeline");
      v1::Case* c = t.add_events();
      if (Status s = FillCase(*u, c); !s.ok()) return s;
      t.set_name(c->enterprise_name());
      t.set_last_revision(c->revision());
    }
  }
  if (t.events_size() == 0) return std::optional<v1::EnterpriseTimeline>();
  // Each agency's latest reference: the last one it gave with a PROCESSED
  // result for any of the enterprise's events (the latest settled, the
  // later event on a tie).
  const std::string slots = std::to_string(kAgencySlots);
  auto refs = conn_->Prepare(
      "SELECT d.agency, d.reference, d.settled_at, d.seq FROM events e JOIN deliveries d ON d.id >= e.seq * " + slots +
      " AND d.id < (e.seq + 1) * " + slots + " WHERE e.uscc = ?1 AND d.state = 3 AND d.reference <> ''");
  if (!refs.ok()) return refs.status();
  std::map<std::string, std::tuple<Millis, std::int64_t, std::string>> latest;  // bytewise by agency
  Use u(*refs.value());
  u->Bind(1, uscc);
  for (;;) {
    StepResult rc = u->Step();
    if (rc == StepResult::kDone) break;
    if (rc == StepResult::kError) return u->Error("read timeline references");
    std::tuple<Millis, std::int64_t, std::string> ref{u->Int(2), u->Int(3), u->Text(1)};
    auto [it, added] = latest.try_emplace(u->Text(0), ref);
    if (!added &&
        std::tie(std::get<0>(ref), std::get<1>(ref)) > std::tie(std::get<0>(it->second), std::get<1>(it->second)))
      it->second = std::move(ref);
  }
  for (auto& [agency, ref] : latest) {
    auto* r = t.add_references();
    r->set_agency(agency);
    r->set_reference(std::move(std::get<2>(ref)));
    SET_TIME(std::get<0>(ref), r, updated_at);
  }
  return std::optional<v1::EnterpriseTimeline>(std::move(t));
}

Result<v1::Stats> CaseQueries::ComputeStats(Millis now, std::int64_t window_seconds) {
  v1::Stats st;
  st.set_window_seconds(static_cast<std::uint64_t>(window_seconds));
  Millis from = now - window_seconds * 1000;
  // Runs `text` with ?1 = from (if the text uses it), `row` for each row.
  auto each = [&](const std::string& text, sql::Rows rows, auto&& row) -> Status {
    auto stmt = conn_->Prepare(text, rows);
    if (!stmt.ok()) return stmt.status();
    Use u(*stmt.value());
    u->Bind(1, from);
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) return Status::Ok();
      if (rc == StepResult::kError) return u->Error("stats");
      row(*u);
    }
  };
  Status s =
      each("SELECT case_state, COUNT(*), COUNT(CASE WHEN overdue <> 0 THEN 1 END) FROM events GROUP BY case_state",
           sql::Rows::kFew, [&](const sql::Statement& r) {
             auto n = static_cast<std::uint64_t>(r.Int(1));
             st.set_cases(st.cases() + n);
             switch (r.Int(0)) {
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
             if (r.Int(0) != 2) st.set_overdue(st.overdue() + static_cast<std::uint64_t>(r.Int(2)));
           });
  if (!s.ok()) return s;
  st.set_completion_rate(st.cases() ? static_cast<double>(st.completed()) / static_cast<double>(st.cases()) : 0.0);

  std::map<std::string, v1::AgencyStats> agencies;
  s = each(
      "SELECT agency, state, COUNT(CASE WHEN overdue <> 0 THEN 1 END), COUNT(*) FROM deliveries "
      "GROUP BY agency, state",
      sql::Rows::kFew, [&](const sql::Statement& r) {
        auto& a = agencies[r.Text(0)];
        auto n = static_cast<std::uint64_t>(r.Int(3));
        switch (r.Int(1)) {
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
            a.set_overdue(a.overdue() + static_cast<std::uint64_t>(r.Int(2)));
        }
      });
  if (!s.ok()) return s;
  std::map<std::string, std::vector<double>> durations;
  s = each(
      "SELECT d.agency, d.settled_at - e.published_at FROM deliveries d JOIN events e ON e.seq = d.seq "
      "WHERE d.state = 3 AND d.settled_at >= ?1",
      sql::Rows::kMany,
      [&](const sql::Statement& r) { durations[r.Text(0)].push_back(static_cast<double>(r.Int(1))); });
  if (!s.ok()) return s;
  for (auto& [id, a] : agencies) {
    a.set_agency(id);
    auto& d = durations[id];
    a.set_median_ms(Quantile(d, 0.5));
    a.set_p90_ms(Quantile(d, 0.9));
    *st.add_agencies() = a;
  }
  std::vector<double> cases;
  s = each("SELECT completed_at - published_at FROM events WHERE case_state = 2 AND completed_at >= ?1",
           sql::Rows::kMany, [&](const sql::Statement& r) { cases.push_back(static_cast<double>(r.Int(0))); });
  if (!s.ok()) return s;
  st.set_case_median_ms(Quantile(cases, 0.5));
  st.set_case_p90_ms(Quantile(cases, 0.9));
  s = each("SELECT COUNT(*) FROM case_updates WHERE acked = 0", sql::Rows::kFew,
           [&](const sql::Statement& r) { st.set_webhook_backlog(static_cast<std::uint64_t>(r.Int(0))); });
  if (!s.ok()) return s;
  return st;
}

Result<v1::CaseUpdateList> CaseQueries::UpdatesAfter(std::uint64_t after, int limit) {
  v1::CaseUpdateList list;
  list.set_last_id(after);
  auto stmt = conn_->Prepare("SELECT id, seq, kind, agency, at FROM case_updates WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!stmt.ok()) return stmt.status();
  struct Row {
    std::uint64_t id;
    Sequence seq;
    int kind;
    std::string agency;
    Millis at;
  };
  std::vector<Row> rows;
  {
    Use u(*stmt.value());
    u->Bind(1, static_cast<std::int64_t>(after));
    u->Bind(2, static_cast<std::int64_t>(limit));
    for (;;) {
      StepResult rc = u->Step();
      if (rc == StepResult::kDone) break;
      if (rc == StepResult::kError) return u->Error("case updates");
      rows.push_back(Row{static_cast<std::uint64_t>(u->Int(0)), static_cast<Sequence>(u->Int(1)),
                         static_cast<int>(u->Int(2)), u->Text(3), u->Int(4)});
    }
  }
  for (const Row& r : rows) {
    v1::CaseUpdate* u = list.add_updates();
    u->set_update_id(r.id);
    u->set_kind(static_cast<v1::CaseUpdateKind>(r.kind));
    u->set_agency(r.agency);
    u->mutable_at()->set_seconds(r.at / 1000);
    u->mutable_at()->set_nanos(static_cast<int>(r.at % 1000) * 1000000);
    auto c = LoadBySeq(r.seq);
    if (!c.ok()) return c.status();
    if (c.value()) *u->mutable_case_() = *c.value();
    list.set_last_id(r.id);
  }
  return list;
}

namespace {

// Both backends' reader: each call reads one snapshot.
class SqlCaseReader final : public CaseReader {
 public:
  explicit SqlCaseReader(std::unique_ptr<sql::ReadConnection> conn) : conn_(std::move(conn)), queries_(conn_.get()) {}
  Status Prepare() { return queries_.Prepare(); }

  Result<std::optional<v1::Case>> LoadCase(const std::string& event_id) override {
    return InSnapshot([&] { return queries_.LoadById(event_id); });
  }
  Result<v1::CaseList> ListCases(const CaseFilter& filter) override {
    return InSnapshot([&] { return queries_.List(filter); });
  }
  Result<std::optional<v1::EnterpriseTimeline>> Timeline(const std::string& uscc) override {
    return InSnapshot([&] { return queries_.Timeline(uscc); });
  }
  Result<v1::Stats> ComputeStats(Millis now, std::int64_t window_seconds) override {
    return InSnapshot([&] { return queries_.ComputeStats(now, window_seconds); });
  }
  Result<v1::CaseUpdateList> UpdatesAfter(std::uint64_t after, int limit) override {
    return InSnapshot([&] { return queries_.UpdatesAfter(after, limit); });
  }
  Result<v1::AuditVerifyReport> VerifyAudit(const std::vector<AuditAnchorPoint>& anchors,
                                            const std::string& archive_dir) override {
    // One consistent snapshot of the chain, its recorded head and the rows
    // (the archive files do not change once registered).
    return InSnapshot([&]() -> Result<v1::AuditVerifyReport> {
      if (archive_dir.empty()) return VerifyAuditTrail(conn_.get(), anchors);
      std::vector<std::string> problems;
      std::vector<std::unique_ptr<sql::ReadConnection>> open;
      ArchiveSources sources;
      if (Status s = OpenArchives(archive_dir, &open, &sources, &problems); !s.ok()) return s;
      auto report = VerifyAuditTrail(conn_.get(), anchors, &sources);
      if (!report.ok()) return report;
      for (auto& p : problems) report.value().add_problems(std::move(p));
      if (!problems.empty()) report.value().set_intact(false);
      return report;
    });
  }

  Result<std::optional<ArchivedCase>> FindArchived(const std::string& event_id) override {
    return InSnapshot([&]() -> Result<std::optional<ArchivedCase>> {
      if (!find_archived_) {
        auto q = conn_->Prepare(
            "SELECT x.seq, a.file, a.created_at FROM archived_events x JOIN archives a ON a.id = x.archive "
            "WHERE x.event_id = ?1");
        if (!q.ok()) return q.status();
        find_archived_ = std::move(q).value();
      }
      sql::Use u(*find_archived_);
      u->Bind(1, event_id);
      sql::StepResult rc = u->Step();
      if (rc == sql::StepResult::kDone) return std::optional<ArchivedCase>();
      if (rc == sql::StepResult::kError) return u->Error("find archived case");
      return std::optional<ArchivedCase>(
          ArchivedCase{static_cast<Sequence>(u->Int(0)), u->Text(1), static_cast<Millis>(u->Int(2))});
    });
  }

 private:
  template <typename F>
  auto InSnapshot(F&& read) -> decltype(read()) {
    if (Status s = conn_->BeginSnapshot(); !s.ok()) return s;
    auto r = read();
    // A read-only snapshot: ending it cannot lose anything, but say so if
    // it fails.
    if (Status s = conn_->EndSnapshot(); !s.ok() && r.ok()) return s;
    return r;
  }

  // The registered archive files, in order, each checked against its
  // registered SM3 and opened read-only; what is wrong goes to `problems`.
  Status OpenArchives(const std::string& dir, std::vector<std::unique_ptr<sql::ReadConnection>>* open,
                      ArchiveSources* sources, std::vector<std::string>* problems) {
    auto list = conn_->Prepare("SELECT id, file, sm3 FROM archives ORDER BY id");
    if (!list.ok()) return list.status();
    sql::Use u(*list.value());
    for (;;) {
      sql::StepResult rc = u->Step();
      if (rc == sql::StepResult::kDone) return Status::Ok();
      if (rc == sql::StepResult::kError) return u->Error("read archives");
      const auto id = static_cast<std::uint64_t>(u->Int(0));
      const std::string file = u->Text(1), sm3 = u->Text(2);
      const std::string path = dir + "/" + file;
      auto digest = FileSm3(path);
      if (!digest.ok()) {
        problems->push_back("archive " + file + " is registered but cannot be read: " + digest.status().message());
        continue;
      }
      if (digest.value() != sm3) {
        problems->push_back("archive " + file + " has SM3 " + digest.value().substr(0, 16) +
                            "… but was registered with " + sm3.substr(0, 16) + "… (the file was changed or replaced)");
        continue;
      }
      auto c = sql::OpenSqlite(path);
      if (!c.ok()) {
        problems->push_back("archive " + file + ": " + c.status().message());
        continue;
      }
      auto info = ReadArchiveInfo(c.value().get(), "archive " + file);
      if (!info.ok()) {
        problems->push_back(info.status().message());
        continue;
      }
      if (info.value().id != id)
        problems->push_back("archive " + file + " says it is archive " + std::to_string(info.value().id) +
                            ", registered as " + std::to_string(id));
      sources->push_back(ArchiveSource{id, file, c.value().get()});
      open->push_back(std::move(c).value());
    }
  }

  std::unique_ptr<sql::ReadConnection> conn_;
  CaseQueries queries_;
  std::unique_ptr<sql::Statement> find_archived_;
};

Result<std::unique_ptr<CaseReader>> MakeReader(Result<std::unique_ptr<sql::ReadConnection>> conn) {
  if (!conn.ok()) return conn.status();
  auto reader = std::make_unique<SqlCaseReader>(std::move(conn).value());
  if (Status s = reader->Prepare(); !s.ok()) return s;
  return std::unique_ptr<CaseReader>(std::move(reader));
}

}  // namespace

Result<std::unique_ptr<CaseReader>> CaseReader::Open(const std::string& data_dir) {
  return MakeReader(sql::OpenSqlite(data_dir + "/yilian.db"));
}

Result<std::unique_ptr<CaseReader>> CaseReader::OpenPostgres(const std::string& conninfo) {
  return MakeReader(sql::OpenPostgres(conninfo));
}

}  // namespace yilian::store
