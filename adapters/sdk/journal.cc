#include "sdk/journal.h"

#include "common/file_modes.h"
#include "common/log.h"

namespace yilian::adapter {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  event_id          TEXT    PRIMARY KEY,
  agency            TEXT    NOT NULL,
  uscc              TEXT    NOT NULL,
  sequence          INTEGER NOT NULL,
  attempt           INTEGER NOT NULL,
  state             INTEGER NOT NULL,
  outcome           INTEGER NOT NULL DEFAULT 0,
  reference         TEXT    NOT NULL DEFAULT '',
  reason            TEXT    NOT NULL DEFAULT '',
  retry_after_ms    INTEGER NOT NULL DEFAULT 0,
  accepted_recorded INTEGER NOT NULL DEFAULT 0,
  updated_at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_state ON entries (state, updated_at);
)sql";

constexpr const char* kColumns =
    "event_id, agency, uscc, sequence, attempt, state, outcome, reference, reason, retry_after_ms, "
    "accepted_recorded, updated_at";

JournalEntry FromRow(const sqlite::Stmt& s) {
  JournalEntry e;
  e.event_id = EventId(s.Text(0));
  e.agency = AgencyId(s.Text(1));
  e.uscc = Uscc(s.Text(2));
  e.sequence = static_cast<Sequence>(s.Int(3));
  e.attempt = static_cast<std::uint32_t>(s.Int(4));
  e.state = static_cast<EntryState>(s.Int(5));
  e.answer.kind = static_cast<AnswerKind>(s.Int(6) == 0 ? static_cast<int>(AnswerKind::kPending) : s.Int(6));
  e.answer.reference = s.Text(7);
  e.answer.reason = s.Text(8);
  e.answer.retry_after_ms = static_cast<std::uint32_t>(s.Int(9));
  e.accepted_recorded = s.Int(10) != 0;
  e.updated_at = s.Int(11);
  return e;
}

}  // namespace

std::string_view ToString(EntryState state) {
  switch (state) {
    case EntryState::kAtAgency:
      return "AT_AGENCY";
    case EntryState::kAnswerReady:
      return "ANSWER_READY";
    case EntryState::kReported:
      return "REPORTED";
  }
  return "UNKNOWN";
}

bool IsAllowedTransition(std::optional<EntryState> from, EntryState to) {
  if (!from) return to == EntryState::kAtAgency || to == EntryState::kAnswerReady;
  switch (*from) {
    case EntryState::kAtAgency:
      return true;  // to itself, to kAnswerReady, to kReported
    case EntryState::kAnswerReady:
      return to == EntryState::kAnswerReady || to == EntryState::kReported;
    case EntryState::kReported:
      return to == EntryState::kReported;
  }
  return false;
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path, const AgencyId& agency, const Clock* clock) {
  // SQLite creates the -wal and -shm files with the mode of the database
  // file, so a journal created 0600 here keeps all three private.
  std::string notice;
  if (Status s = files::MakePrivateFile(path, &notice); !s.ok()) return s;
  if (!notice.empty()) GetLogger("adapter")->warn("{}", notice);
  for (const std::string& companion : {path + "-wal", path + "-shm"}) {
    if (Status s = files::TightenFileIfPresent(companion, &notice); !s.ok()) return s;
    if (!notice.empty()) GetLogger("adapter")->warn("{}", notice);
  }
  auto db = sqlite::Db::Open(path, sqlite::OpenOptions{});
  if (!db.ok()) return db.status();
  Status s = db.value()->Exec(kSchema);
  if (!s.ok()) return s;
  auto get = db.value()->Prepare("SELECT value FROM meta WHERE key = 'agency'");
  if (!get.ok()) return get.status();
  bool row = false;
  s = get->Step(&row);
  if (!s.ok()) return s;
  if (row && get->Text(0) != agency.str())
    return Status::FailedPrecondition("state file '" + path + "' belongs to agency '" + get->Text(0) + "', not '" +
                                      agency.str() + "'");
  if (!row) {
    auto put = db.value()->Prepare("INSERT INTO meta (key, value) VALUES ('agency', ?)");
    if (!put.ok()) return put.status();
    s = put->Bind(1, agency.str()).Run();
    if (!s.ok()) return s;
  }
  std::unique_ptr<Journal> journal(new Journal(std::move(db.value()), clock));
  s = journal->Load();
  if (!s.ok()) return s;
  return journal;
}

Status Journal::Load() {
  auto stmt = db_->Prepare(std::string("SELECT ") + kColumns + " FROM entries WHERE state IN (1, 2)");
  if (!stmt.ok()) return stmt.status();
  for (;;) {
    bool row = false;
    Status s = stmt->Step(&row);
    if (!s.ok()) return s;
    if (!row) break;
    JournalEntry e = FromRow(stmt.value());
    unfinished_[e.event_id.str()] = e;
  }
  return Status::Ok();
}

Result<std::optional<JournalEntry>> Journal::Find(const EventId& event_id) {
  auto it = unfinished_.find(event_id.str());
  if (it != unfinished_.end()) return std::optional<JournalEntry>(it->second);
  auto stmt = db_->Prepare(std::string("SELECT ") + kColumns + " FROM entries WHERE event_id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, event_id.str());
  bool row = false;
  Status s = stmt->Step(&row);
  if (!s.ok()) return s;
  if (!row) return std::optional<JournalEntry>();
  return std::optional<JournalEntry>(FromRow(stmt.value()));
}

Status Journal::Record(const JournalEntry& entry) {
  auto current = Find(entry.event_id);
  if (!current.ok()) return current.status();
  std::optional<EntryState> from;
  if (current.value()) from = current.value()->state;
  if (!IsAllowedTransition(from, entry.state))
    return Status::FailedPrecondition("journal: event " + entry.event_id.str() + " cannot go from " +
                                      (from ? std::string(ToString(*from)) : "none") + " to " +
                                      std::string(ToString(entry.state)));
  JournalEntry e = entry;
  e.updated_at = clock_->NowMillis();
  auto stmt = db_->Prepare(std::string("INSERT OR REPLACE INTO entries (") + kColumns +
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  bool has_answer = e.state != EntryState::kAtAgency;
  stmt->Bind(1, e.event_id.str())
      .Bind(2, e.agency.str())
      .Bind(3, e.uscc.str())
      .Bind(4, static_cast<std::int64_t>(e.sequence))
      .Bind(5, static_cast<std::int64_t>(e.attempt))
      .Bind(6, static_cast<std::int64_t>(e.state))
      .Bind(7, static_cast<std::int64_t>(has_answer ? static_cast<int>(e.answer.kind) : 0))
      .Bind(8, has_answer ? e.answer.reference : std::string())
      .Bind(9, has_answer ? e.answer.reason : std::string())
      .Bind(10, static_cast<std::int64_t>(has_answer ? e.answer.retry_after_ms : 0))
      .Bind(11, static_cast<std::int64_t>(e.accepted_recorded ? 1 : 0))
      .Bind(12, static_cast<std::int64_t>(e.updated_at));
  Status s = stmt->Run();
  if (!s.ok()) return s;
  if (e.state == EntryState::kReported)
    unfinished_.erase(e.event_id.str());
  else
    unfinished_[e.event_id.str()] = e;
  return Status::Ok();
}

Status Journal::MarkAcceptedRecorded(const EventId& event_id) {
  auto it = unfinished_.find(event_id.str());
  if (it == unfinished_.end() || it->second.accepted_recorded) return Status::Ok();
  JournalEntry e = it->second;
  e.accepted_recorded = true;
  return Record(e);
}

Status Journal::MarkReported(const EventId& event_id) {
  auto current = Find(event_id);
  if (!current.ok()) return current.status();
  if (!current.value()) return Status::Ok();
  JournalEntry e = *current.value();
  if (e.state == EntryState::kReported) return Status::Ok();
  if (e.answer.kind == AnswerKind::kRetry && e.state == EntryState::kAnswerReady) return Forget(event_id);
  e.state = EntryState::kReported;
  return Record(e);
}

Status Journal::Forget(const EventId& event_id) {
  auto stmt = db_->Prepare("DELETE FROM entries WHERE event_id = ?");
  if (!stmt.ok()) return stmt.status();
  Status s = stmt->Bind(1, event_id.str()).Run();
  if (!s.ok()) return s;
  unfinished_.erase(event_id.str());
  return Status::Ok();
}

Result<int> Journal::Prune(Millis before) {
  auto stmt = db_->Prepare("DELETE FROM entries WHERE state = 3 AND updated_at < ?");
  if (!stmt.ok()) return stmt.status();
  Status s = stmt->Bind(1, static_cast<std::int64_t>(before)).Run();
  if (!s.ok()) return s;
  auto count = db_->Prepare("SELECT changes()");
  if (!count.ok()) return count.status();
  bool row = false;
  s = count->Step(&row);
  if (!s.ok()) return s;
  return static_cast<int>(row ? count->Int(0) : 0);
}

}  // namespace yilian::adapter
