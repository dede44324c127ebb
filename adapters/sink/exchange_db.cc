#include "sink/exchange_db.h"

#include "common/clock.h"

namespace yilian::sink {

Result<std::unique_ptr<ExchangeDbSink>> ExchangeDbSink::Open(const ExchangeDbOptions& options,
                                                             const plugin::Host* host) {
  sqlite::OpenOptions o;
  o.create = options.create_tables;
  o.busy_timeout_ms = options.busy_timeout_ms;
  auto db = sqlite::Db::Open(options.path, o);
  if (!db.ok()) return Status(db.status().code(), "exchange database: " + db.status().message());
  if (options.create_tables) {
    Status s = db.value()->Exec(CreateExchangeTablesSql(options.tables));
    if (!s.ok()) return Status(s.code(), "exchange database: " + s.message());
  }
  // Fail at start-up, not on the first event, if the tables are not there.
  for (const auto& table : {options.tables.push, options.tables.receipt}) {
    auto probe = db.value()->Prepare("SELECT event_id FROM " + table + " WHERE event_id = ''");
    if (!probe.ok())
      return Status(probe.status().code(), "exchange database: table " + table + ": " + probe.status().message());
  }
  return std::unique_ptr<ExchangeDbSink>(new ExchangeDbSink(options, std::move(db.value()), host));
}

plugin::Answer ExchangeDbSink::DbTrouble(const std::string& event_id, const Status& status) {
  if (host_)
    host_->Log(plugin::LogLevel::kWarn, "exchange database trouble for event " + event_id + ": " + status.ToString());
  return plugin::Answer::Retry("exchange database unavailable: " + status.message(), options_.retry_after_ms);
}

Result<bool> ExchangeDbSink::ReadReceipt(const std::string& event_id, plugin::Answer* answer) {
  auto stmt = db_->Prepare("SELECT status, reference, reason_code, reason, processed_at FROM " +
                           options_.tables.receipt + " WHERE event_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, event_id);
  bool row = false;
  Status s = stmt->Step(&row);
  if (!s.ok()) return s;
  if (!row) return false;
  agency::v1::AgencyAnswer a;
  a.set_event_id(event_id);
  a.set_status(stmt->Text(0));
  a.set_reference(stmt->Text(1));
  a.set_reason_code(stmt->Text(2));
  a.set_reason(stmt->Text(3));
  a.set_processed_at(stmt->Text(4));
  auto converted = FromAgencyAnswer(a);
  if (!converted.ok() || !converted->final())
    return Status::Corruption("receipt row of event " + event_id + " has status '" + a.status() +
                              "' (PROCESSED|REJECTED)");
  *answer = std::move(converted.value());
  return true;
}

Result<bool> ExchangeDbSink::HasPushRow(const std::string& event_id) {
  auto stmt = db_->Prepare("SELECT event_id FROM " + options_.tables.push + " WHERE event_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, event_id);
  bool row = false;
  Status s = stmt->Step(&row);
  if (!s.ok()) return s;
  return row;
}

plugin::Answer ExchangeDbSink::Submit(const agency::v1::AgencySubmission& submission) {
  const std::string& id = submission.event_id();
  plugin::Answer answer;
  auto receipt = ReadReceipt(id, &answer);
  if (!receipt.ok()) return DbTrouble(id, receipt.status());
  if (receipt.value()) return answer;  // answered before: a redelivery

  std::string record_type;
  const google::protobuf::Message* record = RecordOf(submission, &record_type);
  if (!record) return plugin::Answer::Rejected("ADAPTER_NO_RECORD: submission without an agency record");
  auto stmt = db_->Prepare("INSERT INTO " + options_.tables.push +
                           " (event_id, agency, uscc, event_type, sequence, record_type, record, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return DbTrouble(id, stmt.status());
  stmt->Bind(1, id)
      .Bind(2, submission.agency())
      .Bind(3, submission.uscc())
      .Bind(4, submission.event_type())
      .Bind(5, static_cast<std::int64_t>(submission.sequence()))
      .Bind(6, record_type)
      .Bind(7, ToJson(*record))
      .Bind(8, submission.submitted_at().empty() ? NowRfc3339Utc() : submission.submitted_at());
  Status s = stmt->Run();
  if (s.code() == StatusCode::kAlreadyExists) {
    // The primary key: the row is there from an earlier delivery of this
    // event. Never a second record; the agency's answer will come.
    if (host_) host_->Log(plugin::LogLevel::kInfo, "event " + id + " is already in the exchange table");
    return plugin::Answer::Pending();
  }
  if (!s.ok()) return DbTrouble(id, s);
  return plugin::Answer::Pending();
}

plugin::Answer ExchangeDbSink::Check(const std::string& event_id) {
  // Trouble reading is not the agency losing the event: stay Pending and
  // let the host ask again, rather than make the broker deliver it again.
  plugin::Answer answer;
  auto receipt = ReadReceipt(event_id, &answer);
  if (!receipt.ok()) {
    DbTrouble(event_id, receipt.status());
    return plugin::Answer::Pending();
  }
  if (receipt.value()) return answer;
  auto pushed = HasPushRow(event_id);
  if (!pushed.ok()) {
    DbTrouble(event_id, pushed.status());
    return plugin::Answer::Pending();
  }
  if (pushed.value()) return plugin::Answer::Pending();
  if (host_)
    host_->Log(plugin::LogLevel::kWarn, "event " + event_id + " is no longer in the exchange table; asking again");
  return plugin::Answer::Retry("the agency's exchange table has no row for this event", options_.retry_after_ms);
}

}  // namespace yilian::sink
