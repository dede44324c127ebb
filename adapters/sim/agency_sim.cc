#include "sim/agency_sim.h"

#include <sys/stat.h>

#include <ctime>

#include "common/log.h"
#include "sink/sink.h"

namespace yilian::sim {
namespace {

namespace av1 = ::yilian::agency::v1;

std::shared_ptr<spdlog::logger> Log() { return GetLogger("sim"); }

// Rebuilds a submission from a push row: header columns plus the record
// JSON put into the oneof case named by record_type.
Status SubmissionFromRow(const sqlite::Stmt& row, av1::AgencySubmission* sub) {
  sub->set_event_id(row.Text(0));
  sub->set_agency(row.Text(1));
  sub->set_uscc(row.Text(2));
  sub->set_event_type(row.Text(3));
  sub->set_sequence(static_cast<std::uint64_t>(row.Int(4)));
  const auto* field = sub->GetDescriptor()->FindFieldByName(row.Text(5));
  if (!field || !field->containing_oneof()) return Status::InvalidArgument("unknown record_type '" + row.Text(5) + "'");
  return sink::FromJson(row.Text(6), sub->GetReflection()->MutableMessage(sub, field));
}

constexpr const char* kPushColumns = "p.event_id, p.agency, p.uscc, p.event_type, p.sequence, p.record_type, p.record";

}  // namespace

Millis ParseMillis(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<Millis>(timegm(&tm)) * 1000 + ms;
}

Result<std::unique_ptr<AgencySim>> AgencySim::Open(const SimOptions& options, const Clock* clock) {
  auto db = sqlite::Db::Open(options.db_path, sqlite::OpenOptions{});
  if (!db.ok()) return db.status();
  Status s = db.value()->Exec(sink::CreateExchangeTablesSql(options.tables));
  if (!s.ok()) return s;
  return std::unique_ptr<AgencySim>(new AgencySim(options, std::move(db.value()), clock));
}

bool AgencySim::InOutage() const {
  Millis since = clock_->NowMillis() - started_;
  for (const auto& [start, end] : options_.outages)
    if (since >= static_cast<Millis>(start) * 1000 && since < static_cast<Millis>(end) * 1000) return true;
  return false;
}

bool AgencySim::Down() const {
  struct stat st;
  return InOutage() || (!options_.hold_file.empty() && ::stat(options_.hold_file.c_str(), &st) == 0);
}

Status AgencySim::TakeNewRows(Millis now) {
  auto select = db_->Prepare("SELECT event_id FROM " + options_.tables.push + " WHERE taken_at IS NULL");
  if (!select.ok()) return select.status();
  std::vector<std::string> ids;
  for (bool row = true;;) {
    Status s = select->Step(&row);
    if (!s.ok()) return s;
    if (!row) break;
    ids.push_back(select->Text(0));
  }
  for (const auto& id : ids) {
    auto update =
        db_->Prepare("UPDATE " + options_.tables.push + " SET taken_at = ? WHERE event_id = ? AND taken_at IS NULL");
    if (!update.ok()) return update.status();
    Status s = update->Bind(1, FormatRfc3339Utc(now)).Bind(2, id).Run();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status AgencySim::WriteReceipt(const std::string& event_id, const Decision& d, Millis now) {
  auto insert = db_->Prepare("INSERT INTO " + options_.tables.receipt +
                             " (event_id, status, reference, reason_code, reason, processed_at)"
                             " VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  insert->Bind(1, event_id)
      .Bind(2, d.processed ? "PROCESSED" : "REJECTED")
      .Bind(3, d.reference)
      .Bind(4, d.reason_code)
      .Bind(5, d.reason)
      .Bind(6, FormatRfc3339Utc(now));
  Status s = insert->Run();
  if (s.code() == StatusCode::kAlreadyExists) return Status::Ok();  // answered already
  return s;
}

Result<int> AgencySim::Step() {
  std::lock_guard<std::mutex> lock(mu_);
  if (Down()) return 0;
  Millis now = clock_->NowMillis();
  Status s = TakeNewRows(now);
  if (!s.ok()) return s;
  auto open = db_->Prepare(std::string("SELECT ") + kPushColumns + ", p.taken_at FROM " + options_.tables.push +
                           " p LEFT JOIN " + options_.tables.receipt +
                           " r ON r.event_id = p.event_id WHERE r.event_id IS NULL AND p.taken_at IS NOT NULL"
                           " ORDER BY p.sequence");
  if (!open.ok()) return open.status();
  std::vector<std::pair<std::string, Decision>> due;
  for (bool row = true;;) {
    s = open->Step(&row);
    if (!s.ok()) return s;
    if (!row) break;
    av1::AgencySubmission sub;
    Status parsed = SubmissionFromRow(open.value(), &sub);
    Decision d;
    if (!parsed.ok()) {
      d.processed = false;
      d.reason_code = "BAD_RECORD";
      d.reason = "报送记录无法解析: " + parsed.message();
    } else {
      d = Decide(options_.spec, sub);
    }
    Millis taken = ParseMillis(open->Text(7));
    if (taken < 0 || taken + d.delay_ms <= now) {
      Log()->info("{}: event {} ({}) {} {}: {}{}", options_.agency, sub.event_id(), sub.uscc(), sub.event_type(),
                  d.processed ? "PROCESSED" : "REJECTED", d.processed ? d.reference : d.reason_code,
                  d.processed ? "" : " " + d.reason);
      due.emplace_back(sub.event_id(), std::move(d));
    }
  }
  for (const auto& [id, d] : due) {
    s = WriteReceipt(id, d, now);
    if (!s.ok()) return s;
  }
  return static_cast<int>(due.size());
}

Result<bool> AgencySim::AnswerOf(const std::string& event_id, std::string* json) {
  auto r = db_->Prepare("SELECT status, reference, reason_code, reason, processed_at FROM " + options_.tables.receipt +
                        " WHERE event_id = ?");
  if (!r.ok()) return r.status();
  bool row = false;
  Status s = r->Bind(1, event_id).Step(&row);
  if (!s.ok()) return s;
  av1::AgencyAnswer a;
  a.set_event_id(event_id);
  if (row) {
    a.set_status(r->Text(0));
    a.set_reference(r->Text(1));
    a.set_reason_code(r->Text(2));
    a.set_reason(r->Text(3));
    a.set_processed_at(r->Text(4));
    *json = sink::ToJson(a);
    return true;
  }
  auto p = db_->Prepare("SELECT event_id FROM " + options_.tables.push + " WHERE event_id = ?");
  if (!p.ok()) return p.status();
  s = p->Bind(1, event_id).Step(&row);
  if (!s.ok()) return s;
  if (!row) return false;
  a.set_status("PENDING");
  *json = sink::ToJson(a);
  return true;
}

AgencySim::Reply AgencySim::Submit(const std::string& body, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto error = [](int status, const std::string& code, const std::string& why) {
    av1::AgencyAnswer a;
    a.set_status(status == 503 ? "RETRY" : "REJECTED");
    a.set_reason_code(code);
    a.set_reason(why);
    return Reply{status, sink::ToJson(a), status == 503 ? 1 : 0};
  };
  if (InOutage()) return error(503, "AGENCY_OUTAGE", "系统维护中，请稍后重试");
  av1::AgencySubmission sub;
  Status parsed = sink::FromJson(body, &sub);
  if (!parsed.ok()) return error(400, "BAD_REQUEST", "请求报文无法解析: " + parsed.message());
  if (sub.event_id().empty() || sub.record_case() == av1::AgencySubmission::RECORD_NOT_SET)
    return error(400, "BAD_REQUEST", "缺少 event_id 或报送记录");
  if (!key.empty() && key != sub.event_id()) return error(400, "BAD_REQUEST", "Idempotency-Key 与 event_id 不一致");

  std::string json;
  auto known = AnswerOf(sub.event_id(), &json);
  if (!known.ok()) return error(503, "AGENCY_DB", known.status().message());
  if (known.value()) {
    // The idempotency key: never a second record, the same answer again.
    Log()->info("{}: event {} submitted again; answered from its record", options_.agency, sub.event_id());
    return Reply{200, json, 0};
  }
  std::string record_type;
  const google::protobuf::Message* record = sink::RecordOf(sub, &record_type);
  Millis now = clock_->NowMillis();
  auto insert =
      db_->Prepare("INSERT INTO " + options_.tables.push +
                   " (event_id, agency, uscc, event_type, sequence, record_type, record, created_at, taken_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return error(503, "AGENCY_DB", insert.status().message());
  insert->Bind(1, sub.event_id())
      .Bind(2, sub.agency())
      .Bind(3, sub.uscc())
      .Bind(4, sub.event_type())
      .Bind(5, static_cast<std::int64_t>(sub.sequence()))
      .Bind(6, record_type)
      .Bind(7, sink::ToJson(*record))
      .Bind(8, FormatRfc3339Utc(now));
  // Held: stored but not yet looked at; otherwise taken now.
  if (Down())
    insert->BindNull(9);
  else
    insert->Bind(9, FormatRfc3339Utc(now));
  Status s = insert->Run();
  if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return error(503, "AGENCY_DB", s.message());
  if (options_.http_sync && !Down()) {
    Decision d = Decide(options_.spec, sub);
    s = WriteReceipt(sub.event_id(), d, now);
    if (!s.ok()) return error(503, "AGENCY_DB", s.message());
    Log()->info("{}: event {} ({}) {} {} at once", options_.agency, sub.event_id(), sub.uscc(), sub.event_type(),
                d.processed ? "PROCESSED " + d.reference : "REJECTED " + d.reason_code);
  }
  auto after = AnswerOf(sub.event_id(), &json);
  if (!after.ok()) return error(503, "AGENCY_DB", after.status().message());
  return Reply{options_.http_sync ? 200 : 202, json, 0};
}

AgencySim::Reply AgencySim::Poll(const std::string& event_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (InOutage()) {
    av1::AgencyAnswer a;
    a.set_status("RETRY");
    a.set_reason_code("AGENCY_OUTAGE");
    return Reply{503, sink::ToJson(a), 1};
  }
  std::string json;
  auto known = AnswerOf(event_id, &json);
  if (!known.ok() || !known.value()) {
    av1::AgencyAnswer a;
    a.set_event_id(event_id);
    a.set_status(known.ok() ? "UNKNOWN" : "RETRY");
    return Reply{known.ok() ? 404 : 503, sink::ToJson(a), known.ok() ? 0 : 1};
  }
  return Reply{200, json, 0};
}

}  // namespace yilian::sim
