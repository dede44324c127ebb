// SQLite implementation of Store: WAL mode, one writer, prepared statements,
// one transaction per broker loop turn (group commit).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/file_modes.h"
#include "common/log.h"
#include "common/log_throttle.h"
#include "store/agency_numbers.h"
#include "store/cases.h"
#include "store/schema.h"
#include "store/sqlite_util.h"
#include "store/store.h"
#include "store/wal_vfs.h"

namespace yilian::store {
namespace {

using sqlite::BindBlob;
using sqlite::BindText;
using sqlite::ColumnBlob;
using sqlite::ColumnText;
using sqlite::Stmt;
using sqlite::Use;

// A row selected with DeliveryColumnList() (schema.h), in that order.
DeliveryRecord ReadDelivery(sqlite3_stmt* s) {
  DeliveryRecord r;
  r.seq = static_cast<Sequence>(sqlite3_column_int64(s, 0));
  r.agency = ColumnText(s, 1);
  r.uscc = ColumnText(s, 2);
  r.state = static_cast<DeliveryState>(sqlite3_column_int(s, 3));
  r.attempts = static_cast<std::uint32_t>(sqlite3_column_int64(s, 4));
  r.next_attempt_at = sqlite3_column_int64(s, 5);
  r.updated_at = sqlite3_column_int64(s, 6);
  r.reference = ColumnText(s, 7);
  r.reason = ColumnText(s, 8);
  r.first_delivered_at = sqlite3_column_int64(s, 9);
  r.last_delivered_at = sqlite3_column_int64(s, 10);
  r.accepted_at = sqlite3_column_int64(s, 11);
  r.settled_at = sqlite3_column_int64(s, 12);
  r.deadline_at = sqlite3_column_int64(s, 13);
  r.overdue = sqlite3_column_int(s, 14) != 0;
  r.replay = sqlite3_column_int(s, 15) != 0;
  return r;
}

// Copies committed WAL frames back into the database file from its own
// thread and connection. SQLite's automatic checkpoint runs inside the
// COMMIT that crosses its threshold, so the broker loop (and every confirm
// waiting for that commit) would stall for the whole copy and its fsync.
// PASSIVE checkpoints never block the writer or readers; once everything is
// copied, the writer starts the WAL over from its beginning.
class Checkpointer {
 public:
  ~Checkpointer() { Stop(); }

  Status Start(const std::string& path, const std::string& synchronous) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Status::IoError("checkpointer cannot open '" + path + "': " + sqlite3_errstr(rc));
    if (Status s = sqlite::ExecSql(db_, "PRAGMA synchronous=" + synchronous, "checkpointer"); !s.ok()) return s;
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

 private:
  static constexpr std::chrono::milliseconds kInterval{100};

  void Run() {
    auto log = GetLogger("store");
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, kInterval, [this] { return stop_; })) {
      lock.unlock();
      int frames = 0, copied = 0;
      int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
        // A full disk fails every attempt, ten a second: one line a minute.
        ++failures_;
        if (auto unlogged = failures_log_.Admit("checkpoint"))
          log->warn("background checkpoint failed: {}{}", sqlite3_errmsg(db_), LogThrottle::Suppressed(*unlogged));
      } else if (rc == SQLITE_OK && failures_ > 0) {
        log->info("background checkpoint works again after {} failed attempts", failures_);
        failures_ = 0;
      }
      lock.lock();
    }
  }

  sqlite3* db_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::uint64_t failures_ = 0;  // failed attempts since the last success
  LogThrottle failures_log_{SystemClock::Default(), 60000};
};

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override {
    checkpointer_.Stop();
    fingerprint_.reset();
    cases_.reset();
    rows_.reset();
    // close_v2 defers the close until the member statements are finalized.
    if (db_) sqlite3_close_v2(db_);
    if (lock_fd_ >= 0) close(lock_fd_);
  }

  Status Open(const std::string& dir, const StoreOptions& options) {
    // The store holds the events (all but the encrypted fields): the
    // directory and its files are the broker's user's alone, whatever the
    // umask; loose modes left from before are tightened (docs/storage.md 1).
    auto log = GetLogger("store");
    std::string notice;
    if (Status s = files::MakePrivateDir(dir, &notice); !s.ok())
      return Status(s.code(), "data directory: " + s.message());
    if (!notice.empty()) log->warn("data directory {}", notice);
    std::string lock_path = dir + "/LOCK";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return Status::IoError("cannot open '" + lock_path + "': " + std::strerror(errno));
    if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      return Status::Unavailable("data directory '" + dir + "' is in use by another broker (lock '" + lock_path + "')");
    path_ = dir + "/yilian.db";
    // SQLite creates the -wal and -shm files with the mode of the database
    // file, so a database created 0600 here keeps all three private.
    if (Status s = files::MakePrivateFile(path_, &notice); !s.ok()) return s;
    if (!notice.empty()) log->warn("{}", notice);
    for (const std::string& path : {lock_path, path_ + "-wal", path_ + "-shm"}) {
      if (Status s = files::TightenFileIfPresent(path, &notice); !s.ok()) return s;
      if (!notice.empty()) log->warn("{}", notice);
    }
    // Before SQLite's first use in the process (later calls are refused
    // harmlessly): no allocation statistics, which cost a global mutex per
    // allocation.
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        RegisterWalVfs());
    if (rc != SQLITE_OK) return Status::IoError("cannot open store '" + path_ + "': " + sqlite3_errstr(rc));
    std::string sync = options.synchronous == "normal" ? "NORMAL" : "FULL";
    std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + sync + "; PRAGMA cache_size=-" +
                          std::to_string(options.cache_kib) +
                          "; PRAGMA wal_autocheckpoint=" + std::to_string(kFallbackCheckpointPages) +
                          "; PRAGMA busy_timeout=5000; PRAGMA secure_delete=OFF;";
    if (Status s = Exec(pragmas); !s.ok()) return s;
    if (Status s = PrepareSchema(); !s.ok()) return s;
    if (Status s = checkpointer_.Start(path_, sync); !s.ok()) return s;
    if (Status s = PrepareAll(); !s.ok()) return s;
    if (Status s = LoadAgencyNumbers(); !s.ok()) return s;
    rows_ = sql::BorrowSqlite(db_);
    cases_ = std::make_unique<CaseQueries>(rows_.get());
    if (Status s = cases_->Prepare(); !s.ok()) return s;
    if (Status s = LoadNextSequence(); !s.ok()) return s;
    return LoadAuditHead();
  }

  // Sequences are never used twice: an archived event's number is not
  // handed out again, though its row left the events table (where SQLite
  // would reuse the highest rowid).
  Status LoadNextSequence() {
    Stmt get;
    if (Status s = get.Prepare(db_,
                               "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), "
                               "COALESCE((SELECT MAX(seq) FROM archived_events), 0), "
                               "COALESCE((SELECT MAX(last_seq) FROM archives), 0))");
        !s.ok())
      return s;
    Use u(get);
    if (sqlite3_step(*u) != SQLITE_ROW) return Error("read the last sequence");
    next_seq_ = committed_next_seq_ = static_cast<Sequence>(sqlite3_column_int64(*u, 0)) + 1;
    Stmt any;
    if (Status s = any.Prepare(db_, "SELECT EXISTS (SELECT 1 FROM archived_events)"); !s.ok()) return s;
    Use a(any);
    if (sqlite3_step(*a) != SQLITE_ROW) return Error("read archived events");
    has_archived_ = sqlite3_column_int(*a, 0) != 0;
    return Status::Ok();
  }

  // Prepared once: parsing the SQL every turn costs a large parser
  // allocation (and with it a consolidation of the allocator's free lists).
  Status Begin() override {
    Use u(begin_);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("begin");
    return Status::Ok();
  }
  Status Commit() override {
    Use u(commit_);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("commit");
    committed_audit_ = {audit_id_, audit_hash_};
    committed_next_seq_ = next_seq_;
    agency_numbers_.Committed();
    return Status::Ok();
  }
  void Rollback() override {
    if (!sqlite3_get_autocommit(db_)) {
      Use u(rollback_);
      sqlite3_step(*u);
    }
    audit_id_ = committed_audit_.first;
    audit_hash_ = committed_audit_.second;
    // Numbers handed out in the rolled-back turn were not stored.
    agency_numbers_.RolledBack();
    next_seq_ = committed_next_seq_;
  }

  Result<std::optional<EventSummary>> FindEvent(const std::string& event_id) override {
    Use u(find_event_);
    BindText(*u, 1, event_id);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return FindArchivedEvent(event_id);
    if (rc != SQLITE_ROW) return Error("find event");
    EventSummary e;
    e.seq = sqlite3_column_int64(*u, 0);
    e.payload = ColumnBlob(*u, 1);
    e.agencies = SplitAgencies(ColumnText(*u, 2));
    return std::optional<EventSummary>(std::move(e));
  }

  Result<std::optional<EventSummary>> FindArchivedEvent(const std::string& event_id) {
    Use u(find_archived_);
    BindText(*u, 1, event_id);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<EventSummary>();
    if (rc != SQLITE_ROW) return Error("find archived event");
    EventSummary e;
    e.seq = sqlite3_column_int64(*u, 0);
    e.agencies = SplitAgencies(ColumnText(*u, 1));
    e.archived = true;
    e.content = ColumnText(*u, 2);
    return std::optional<EventSummary>(std::move(e));
  }

  Result<std::uint64_t> LastRevision(const std::string& uscc) override {
    Use u(last_revision_);
    BindText(*u, 1, uscc);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::uint64_t{0};
    if (rc != SQLITE_ROW) return Error("last revision");
    return static_cast<std::uint64_t>(sqlite3_column_int64(*u, 0));
  }

  Result<Sequence> InsertEvent(const StoredEvent& event, Millis now) override {
    if (has_archived_) {
      // An archived event keeps its event_id (archived_events).
      auto archived = FindArchivedEvent(event.event_id);
      if (!archived.ok()) return archived.status();
      if (archived.value()) return Status::Conflict("event_id '" + event.event_id + "' is stored (archived)");
    }
    Sequence seq;
    {
      Use u(insert_event_);
      BindText(*u, 1, event.event_id);
      BindText(*u, 2, event.uscc);
      sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(event.revision));
      sqlite3_bind_int(*u, 4, event.type);
      std::string agencies = JoinAgencies(event.agencies);
      BindText(*u, 5, agencies);
      BindBlob(*u, 6, event.payload);
      sqlite3_bind_int64(*u, 7, event.published_at);
      BindText(*u, 8, event.enterprise_name);
      sqlite3_bind_int64(*u, 9, event.case_deadline_at);
      // A case with no agency to wait for is complete at once.
      bool empty = event.agencies.empty();
      sqlite3_bind_int(*u, 10,
                       empty ? static_cast<int>(CaseState::kCompleted) : static_cast<int>(CaseState::kInProgress));
      sqlite3_bind_int64(*u, 11, empty ? now : 0);
      sqlite3_bind_int64(*u, 12, static_cast<sqlite3_int64>(next_seq_));
      if (sqlite3_step(*u) != SQLITE_DONE) {
        // The statement is undone; the transaction goes on.
        if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE)
          return Status::Conflict("event_id '" + event.event_id + "' is stored");
        return Error("insert event");
      }
      seq = next_seq_++;
    }
    for (std::size_t i = 0; i < event.agencies.size(); ++i) {
      Result<std::int64_t> number = NumberAgency(event.agencies[i]);
      if (!number.ok()) return number.status();
      Use u(insert_delivery_);
      const bool handed_over = i < event.handed_over.size() && event.handed_over[i];
      sqlite3_bind_int64(*u, 9, AgencyNumbers::DeliveryKey(seq, *number));
      sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
      BindText(*u, 2, event.agencies[i]);
      BindText(*u, 3, event.uscc);
      sqlite3_bind_int64(*u, 4, now);
      sqlite3_bind_int64(*u, 5, i < event.agency_deadlines.size() ? event.agency_deadlines[i] : 0);
      sqlite3_bind_int(*u, 6, static_cast<int>(handed_over ? DeliveryState::kDelivered : DeliveryState::kPending));
      sqlite3_bind_int(*u, 7, handed_over ? 1 : 0);
      sqlite3_bind_int64(*u, 8, handed_over ? now : 0);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("insert delivery");
    }
    {
      Use u(upsert_enterprise_);
      BindText(*u, 1, event.uscc);
      sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(event.revision));
      sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(seq));
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("upsert enterprise");
    }
    return seq;
  }

  Result<std::optional<Sequence>> FindSequence(const std::string& event_id) override {
    Use u(find_seq_);
    BindText(*u, 1, event_id);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<Sequence>();
    if (rc != SQLITE_ROW) return Error("find sequence");
    return std::optional<Sequence>(static_cast<Sequence>(sqlite3_column_int64(*u, 0)));
  }

  Result<std::optional<DeliveryRecord>> GetDelivery(Sequence seq, const std::string& agency) override {
    std::optional<std::int64_t> key = agency_numbers_.Key(seq, agency);
    if (!key) return std::optional<DeliveryRecord>();
    Use u(get_delivery_);
    sqlite3_bind_int64(*u, 1, *key);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<DeliveryRecord>();
    if (rc != SQLITE_ROW) return Error("get delivery");
    return std::optional<DeliveryRecord>(ReadDelivery(*u));
  }

  Result<bool> UpdateDelivery(const DeliveryRecord& r, DeliveryState expected_state,
                              std::uint32_t expected_attempts) override {
    // Most results carry no hand-over timestamp and no replay mark: the
    // statement without the CASE expressions that keep them does the same.
    const bool plain = r.first_delivered_at == 0 && r.last_delivered_at == 0 && r.accepted_at == 0 && !r.replay;
    std::optional<std::int64_t> key = agency_numbers_.Key(r.seq, r.agency);
    if (!key) return false;
    Use u(plain ? update_delivery_plain_ : update_delivery_);
    sqlite3_bind_int(*u, 1, static_cast<int>(r.state));
    sqlite3_bind_int64(*u, 2, r.attempts);
    sqlite3_bind_int64(*u, 3, r.next_attempt_at);
    sqlite3_bind_int64(*u, 4, r.updated_at);
    BindText(*u, 5, r.reference);
    BindText(*u, 6, r.reason);
    sqlite3_bind_int64(*u, 7, *key);
    sqlite3_bind_int(*u, 9, static_cast<int>(expected_state));
    sqlite3_bind_int64(*u, 10, expected_attempts);
    sqlite3_bind_int64(*u, 14, r.settled_at);
    if (!plain) {
      // Timestamps only move forward from 0: COALESCE-style keeps what is set.
      sqlite3_bind_int64(*u, 11, r.first_delivered_at);
      sqlite3_bind_int64(*u, 12, r.last_delivered_at);
      sqlite3_bind_int64(*u, 13, r.accepted_at);
      sqlite3_bind_int(*u, 15, r.replay ? 1 : 0);
    }
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("update delivery");
    return sqlite3_changes(db_) == 1;
  }

  Result<std::string> LoadPayload(Sequence seq) override {
    Use u(load_payload_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return Status::NotFound("no event with sequence " + std::to_string(seq));
    if (rc != SQLITE_ROW) return Error("load payload");
    return ColumnBlob(*u, 0);
  }

  Result<EventPayload> LoadEventPayload(Sequence seq) override {
    Use u(load_event_payload_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return Status::NotFound("no event with sequence " + std::to_string(seq));
    if (rc != SQLITE_ROW) return Error("load event payload");
    return EventPayload{ColumnText(*u, 0), ColumnBlob(*u, 1)};
  }

  Result<std::vector<std::pair<std::string, DeliveryState>>> DeliveryStates(Sequence seq) override {
    Use u(delivery_states_);
    sqlite3_bind_int64(*u, 1, AgencyNumbers::DeliveryKey(seq, 0));
    sqlite3_bind_int64(*u, 2, AgencyNumbers::DeliveryKey(seq + 1, 0));
    std::vector<std::pair<std::string, DeliveryState>> out;
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return out;
      if (rc != SQLITE_ROW) return Error("delivery states");
      out.emplace_back(ColumnText(*u, 0), static_cast<DeliveryState>(sqlite3_column_int(*u, 1)));
    }
  }

  Result<std::optional<CaseRow>> GetCase(Sequence seq) override {
    Use u(get_case_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<CaseRow>();
    if (rc != SQLITE_ROW) return Error("get case");
    CaseRow c;
    c.state = static_cast<CaseState>(sqlite3_column_int(*u, 0));
    c.overdue = sqlite3_column_int(*u, 1) != 0;
    c.deadline_at = sqlite3_column_int64(*u, 2);
    c.published_at = sqlite3_column_int64(*u, 3);
    c.uscc = ColumnText(*u, 4);
    c.resolved = sqlite3_column_int(*u, 5) != 0;
    return std::optional<CaseRow>(std::move(c));
  }

  Status SetCaseState(Sequence seq, CaseState state, Millis completed_at) override {
    Use u(set_case_state_);
    sqlite3_bind_int(*u, 1, static_cast<int>(state));
    sqlite3_bind_int64(*u, 2, completed_at);
    sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(seq));
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("set case state");
  }

  Status SetCaseOverdue(Sequence seq) override {
    Use u(set_case_overdue_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seq));
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("set case overdue");
  }

  Status SetDeliveryOverdue(Sequence seq, const std::string& agency) override {
    std::optional<std::int64_t> key = agency_numbers_.Key(seq, agency);
    if (!key) return Status::Ok();
    Use u(set_delivery_overdue_);
    sqlite3_bind_int64(*u, 1, *key);
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("set delivery overdue");
  }

  Status SetCaseResolution(Sequence seq, const std::string& resolution, Millis at) override {
    Use u(set_resolution_);
    BindText(*u, 1, resolution);
    sqlite3_bind_int64(*u, 2, at);
    sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(seq));
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("resolve case");
  }

  Result<std::optional<v1::Case>> LoadCase(Sequence seq) override { return cases_->LoadBySeq(seq); }

  Status UpsertReference(const std::string& uscc, const std::string& agency, const std::string& reference,
                         Millis at) override {
    Use u(upsert_ref_);
    BindText(*u, 1, uscc);
    BindText(*u, 2, agency);
    BindText(*u, 3, reference);
    sqlite3_bind_int64(*u, 4, at);
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("upsert reference");
  }

  Result<std::vector<std::string>> BanksHolding(const std::string& uscc) override {
    Use u(banks_holding_);
    BindText(*u, 1, uscc);
    std::vector<std::string> out;
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return out;
      if (rc != SQLITE_ROW) return Error("banks holding");
      out.push_back(ColumnText(*u, 0));
    }
  }

  Result<std::uint64_t> InsertCaseUpdate(const CaseUpdateRecord& update) override {
    Use u(insert_update_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(update.seq));
    sqlite3_bind_int(*u, 2, update.kind);
    BindText(*u, 3, update.agency);
    sqlite3_bind_int64(*u, 4, update.at);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("insert case update");
    return static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_));
  }

  Result<bool> AckCaseUpdate(std::uint64_t id) override {
    Use u(ack_update_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(id));
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("ack case update");
    return sqlite3_changes(db_) == 1;
  }

  std::pair<std::uint64_t, std::string> AuditHead() const override { return {audit_id_, audit_hash_}; }

  Result<std::uint64_t> AppendAuditHashed(Millis at, const std::string& actor, const std::string& kind,
                                          const std::string& body, const std::string& hash) override {
    if (hash.empty()) return Status::Internal("SM3 is not available from OpenSSL");
    std::uint64_t id = audit_id_ + 1;
    {
      Use u(insert_audit_);
      sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(id));
      sqlite3_bind_int64(*u, 2, at);
      BindText(*u, 3, actor);
      BindText(*u, 4, kind);
      BindText(*u, 5, body);
      BindText(*u, 6, audit_hash_);
      BindText(*u, 7, hash);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("append audit");
    }
    std::string head = std::to_string(id) + ":" + hash;
    {
      Use u(set_audit_head_);
      BindText(*u, 1, head);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("audit head");
    }
    audit_id_ = id;
    audit_hash_ = hash;
    return id;
  }

  Status ForEachSettledSince(const std::string& agency, Millis since,
                             const std::function<void(const DeliveryRecord&)>& fn) override {
    Use u(settled_since_);
    BindText(*u, 1, agency);
    sqlite3_bind_int64(*u, 2, since);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("scan settled deliveries");
      fn(ReadDelivery(*u));
    }
  }

  Status RegisterArchive(const ArchiveSegment& seg) override {
    {
      Use u(register_archive_);
      sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(seg.id));
      BindText(*u, 2, seg.file);
      BindText(*u, 3, seg.sm3);
      sqlite3_bind_int64(*u, 4, seg.created_at);
      sqlite3_bind_int64(*u, 5, seg.cutoff);
      sqlite3_bind_int64(*u, 6, static_cast<sqlite3_int64>(seg.events));
      sqlite3_bind_int64(*u, 7, static_cast<sqlite3_int64>(seg.first_seq));
      sqlite3_bind_int64(*u, 8, static_cast<sqlite3_int64>(seg.last_seq));
      sqlite3_bind_int64(*u, 9, static_cast<sqlite3_int64>(seg.audit_first));
      sqlite3_bind_int64(*u, 10, static_cast<sqlite3_int64>(seg.audit_last));
      BindText(*u, 11, seg.audit_last_hash);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("register archive");
    }
    for (const auto& [key, value] : seg.meta) {
      Use u(add_meta_);
      BindText(*u, 1, key);
      BindText(*u, 2, value);
      if (sqlite3_step(*u) != SQLITE_DONE) return Error("add meta");
    }
    if (seg.audit_last == 0) return Status::Ok();
    Use u(set_audit_archived_);
    std::string value = std::to_string(seg.audit_last) + ":" + seg.audit_last_hash;
    BindText(*u, 1, value);
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("mark audit records archived");
  }

  Result<std::uint64_t> ApplyArchive(std::uint64_t archive, const std::vector<ArchivedEvent>& events) override {
    if (!fingerprint_) {
      auto q = rows_->Prepare(EventFingerprintSql());
      if (!q.ok()) return q.status();
      fingerprint_ = std::move(q).value();
    }
    std::uint64_t moved = 0;
    for (const ArchivedEvent& e : events) {
      auto now = EventFingerprint(fingerprint_.get(), e.seq);
      if (!now.ok()) return now.status();
      if (now.value().empty() || now.value() != e.fingerprint) continue;  // gone, or changed since it was copied
      const auto seq = static_cast<sqlite3_int64>(e.seq);
      {
        Use u(archive_delete_event_);
        sqlite3_bind_int64(*u, 1, seq);
        if (sqlite3_step(*u) != SQLITE_DONE) return Error("delete archived event");
      }
      {
        Use u(archive_delete_deliveries_);
        sqlite3_bind_int64(*u, 1, AgencyNumbers::DeliveryKey(e.seq, 0));
        sqlite3_bind_int64(*u, 2, AgencyNumbers::DeliveryKey(e.seq + 1, 0));
        if (sqlite3_step(*u) != SQLITE_DONE) return Error("delete archived deliveries");
      }
      {
        Use u(archive_delete_updates_);
        sqlite3_bind_int64(*u, 1, seq);
        if (sqlite3_step(*u) != SQLITE_DONE) return Error("delete archived case updates");
      }
      {
        Use u(insert_archived_);
        BindText(*u, 1, e.event_id);
        sqlite3_bind_int64(*u, 2, seq);
        sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(archive));
        BindText(*u, 4, e.agencies);
        BindText(*u, 5, e.content);
        if (sqlite3_step(*u) != SQLITE_DONE) return Error("enter archived event");
      }
      ++moved;
      has_archived_ = true;  // stays true after a rollback: only costs a lookup
    }
    return moved;
  }

  Status DeleteArchivedAudit(std::uint64_t first, std::uint64_t last) override {
    if (last >= audit_id_) return Status::Internal("the chain's last audit record is never archived");
    Use u(delete_archived_audit_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(first));
    sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(last));
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("delete archived audit records");
  }

  Status MarkArchiveApplied(std::uint64_t archive) override {
    Use u(archive_applied_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(archive));
    return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("mark archive applied");
  }

  Result<std::int64_t> RequeueDelivered() override {
    if (Status s = Exec("UPDATE deliveries SET state = 0 WHERE state = 1"); !s.ok()) return s;
    return static_cast<std::int64_t>(sqlite3_changes(db_));
  }

  Status ForEachUnsettled(const std::function<void(const DeliveryRecord&)>& fn) override {
    Use u(unsettled_);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("scan unsettled deliveries");
      fn(ReadDelivery(*u));
    }
  }

  Status ForEachOpenCaseDeadline(const std::function<void(Sequence, Millis)>& fn) override {
    Use u(open_deadlines_);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("scan case deadlines");
      fn(static_cast<Sequence>(sqlite3_column_int64(*u, 0)), sqlite3_column_int64(*u, 1));
    }
  }

  Status ForEachOpenCaseUpdate(const std::function<void(const CaseUpdateRecord&)>& fn) override {
    Use u(open_updates_);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("scan case updates");
      CaseUpdateRecord r;
      r.id = static_cast<std::uint64_t>(sqlite3_column_int64(*u, 0));
      r.seq = static_cast<Sequence>(sqlite3_column_int64(*u, 1));
      r.kind = sqlite3_column_int(*u, 2);
      r.agency = ColumnText(*u, 3);
      r.at = sqlite3_column_int64(*u, 4);
      fn(r);
    }
  }

  Result<std::vector<StoredPayload>> ReadPayloads(Sequence after, Sequence upto, std::size_t limit) override {
    Use u(read_payloads_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(after));
    sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(upto));
    sqlite3_bind_int64(*u, 3, static_cast<sqlite3_int64>(limit));
    std::vector<StoredPayload> out;
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return out;
      if (rc != SQLITE_ROW) return Error("read payloads");
      out.push_back(StoredPayload{static_cast<Sequence>(sqlite3_column_int64(*u, 0)), ColumnBlob(*u, 1)});
    }
  }

  Status RewritePayload(Sequence seq, const std::string& payload) override {
    Use u(rewrite_payload_);
    BindBlob(*u, 1, payload);
    sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(seq));
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("rewrite payload");
    if (sqlite3_changes(db_) != 1) return Status::NotFound("no event with sequence " + std::to_string(seq));
    return Status::Ok();
  }

  Result<std::int64_t> CountEventsBetween(Sequence after, Sequence upto) override {
    Use u(count_events_between_);
    sqlite3_bind_int64(*u, 1, static_cast<sqlite3_int64>(after));
    sqlite3_bind_int64(*u, 2, static_cast<sqlite3_int64>(upto));
    if (sqlite3_step(*u) != SQLITE_ROW) return Error("count events");
    return static_cast<std::int64_t>(sqlite3_column_int64(*u, 0));
  }

  Result<Sequence> LastSequence() override {
    Use u(last_sequence_);
    if (sqlite3_step(*u) != SQLITE_ROW) return Error("last sequence");
    return static_cast<Sequence>(sqlite3_column_int64(*u, 0));
  }

  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    Use u(get_meta_);
    BindText(*u, 1, key);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return Error("read meta");
    return std::optional<std::string>(ColumnText(*u, 0));
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    Use u(set_meta_);
    BindText(*u, 1, key);
    BindText(*u, 2, value);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("write meta");
    return Status::Ok();
  }

  Status DeleteMeta(const std::string& key) override {
    Use u(delete_meta_);
    BindText(*u, 1, key);
    if (sqlite3_step(*u) != SQLITE_DONE) return Error("delete meta");
    return Status::Ok();
  }

  Result<std::vector<std::pair<std::string, std::string>>> MetaWithPrefix(const std::string& prefix) override {
    if (prefix.find_first_not_of(MetaPrefixCharacters()) != std::string::npos)
      return Status::InvalidArgument("meta prefix '" + prefix + "' has characters other than letters, digits, . and -");
    Use u(meta_with_prefix_);
    BindText(*u, 1, prefix);
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error("read meta");
      out.emplace_back(ColumnText(*u, 0), ColumnText(*u, 1));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::int64_t> CountEvents() override {
    Use u(count_events_);
    if (sqlite3_step(*u) != SQLITE_ROW) return Error("count events");
    return static_cast<std::int64_t>(sqlite3_column_int64(*u, 0));
  }

 private:
  Status Exec(const std::string& sql) { return sqlite::ExecSql(db_, sql, "store '" + path_ + "'"); }

  Status Error(const char* what) {
    int rc = sqlite3_extended_errcode(db_);
    return sqlite::Classify(rc, std::string(what) + ": " + sqlite3_errmsg(db_));
  }

  // Creates the schema in a new database, migrates an older one, and
  // refuses one written by a newer broker.
  Status PrepareSchema() {
    Stmt get;
    if (Status s = get.Prepare(db_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
        !s.ok())
      return s;
    bool has_meta;
    {
      Use u(get);
      if (sqlite3_step(*u) != SQLITE_ROW) return Error("read schema");
      has_meta = sqlite3_column_int(*u, 0) > 0;
    }
    std::string version;
    if (has_meta) {
      Stmt v;
      if (Status s = v.Prepare(db_, "SELECT value FROM meta WHERE key = 'schema_version'"); !s.ok()) return s;
      Use u(v);
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_ROW) version = ColumnText(*u, 0);
      else if (rc != SQLITE_DONE) return Error("read schema version");
    }
    const std::string current = std::to_string(kSchemaVersion);
    if (version.empty())
      return InTransaction("create the schema", std::string(kSchemaSql) +
                                                    "INSERT INTO meta (key, value) VALUES ('schema_version', '" +
                                                    current + "');");
    // Each step is one transaction: a store whose migration fails is left
    // at the version it had before that step.
    const std::pair<const char*, std::string (*)()> steps[] = {{"1", MigrateV1ToV2Sql}, {"2", MigrateV2ToV3Sql}};
    for (std::size_t i = 0; i < std::size(steps); ++i) {
      if (version != steps[i].first) continue;
      const std::string next = std::to_string(i + 2);
      GetLogger("store")->info("store '{}' has schema version {}: migrating it to {}", path_, version, next);
      if (Status s = InTransaction("migrate schema version " + version + " to " + next, steps[i].second()); !s.ok())
        return s;
      GetLogger("store")->info("store '{}' migrated from schema version {} to {}", path_, version, next);
      version = next;
    }
    if (version != current) {
      // A newer broker migrated it: this one cannot know its tables.
      if (version.find_first_not_of("0123456789") == std::string::npos && version.size() < 9 &&
          std::stoi(version) > kSchemaVersion)
        return Status::FailedPrecondition("store '" + path_ + "' has schema version " + version +
                                          ", newer than this broker's schema version " + current +
                                          ": a newer yilian migrated it; run that version, or restore a backup "
                                          "taken before the upgrade");
      return Status::FailedPrecondition("store '" + path_ + "' has schema version " + version +
                                        ", this broker needs " + current);
    }
    // Tables and indexes added under the current version.
    return Exec(kSchemaSql);
  }

  // Runs `sql` as one transaction; rolls back and names `what` on failure.
  Status InTransaction(const std::string& what, const std::string& sql) {
    Status s = Exec("BEGIN IMMEDIATE;" + sql + "COMMIT;");
    if (!s.ok()) {
      // The first failure is the one to report; a failed rollback leaves
      // the connection to SQLite's own rollback when it closes.
      if (!sqlite3_get_autocommit(db_)) (void)sqlite::ExecSql(db_, "ROLLBACK", "store");
      return Status(s.code(), "cannot " + what + ": " + s.message());
    }
    return Status::Ok();
  }

  Status LoadAgencyNumbers() {
    Stmt get;
    if (Status s = get.Prepare(db_, "SELECT id, name FROM agencies"); !s.ok()) return s;
    Use u(get);
    for (;;) {
      int rc = sqlite3_step(*u);
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error("read agency numbers");
      std::int64_t id = sqlite3_column_int64(*u, 0);
      agency_numbers_.Load(ColumnText(*u, 1), id);
    }
  }

  // The agency's number, numbering it (in the current transaction) when
  // it is new.
  Result<std::int64_t> NumberAgency(const std::string& agency) {
    return agency_numbers_.Number(agency, "store '" + path_ + "'", [&](std::int64_t number) -> Status {
      Use u(insert_agency_);
      sqlite3_bind_int64(*u, 1, number);
      BindText(*u, 2, agency);
      return sqlite3_step(*u) == SQLITE_DONE ? Status::Ok() : Error("number agency");
    });
  }

  Status LoadAuditHead() {
    Stmt get;
    if (Status s = get.Prepare(db_, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"); !s.ok()) return s;
    Use u(get);
    int rc = sqlite3_step(*u);
    if (rc == SQLITE_ROW) {
      audit_id_ = static_cast<std::uint64_t>(sqlite3_column_int64(*u, 0));
      audit_hash_ = ColumnText(*u, 1);
    } else if (rc != SQLITE_DONE) {
      return Error("read audit head");
    }
    committed_audit_ = {audit_id_, audit_hash_};
    return Status::Ok();
  }

  Status PrepareAll() {
    const std::string cols = DeliveryColumnList();
    struct Def {
      Stmt* stmt;
      std::string sql;
    };
    Def defs[] = {
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&rollback_, "ROLLBACK"},
        {&find_event_, "SELECT seq, payload, agencies FROM events WHERE event_id = ?1"},
        {&find_archived_, "SELECT seq, agencies, content FROM archived_events WHERE event_id = ?1"},
        {&register_archive_,
         "INSERT INTO archives (id, file, sm3, created_at, cutoff, snapshot_at, events, first_seq, last_seq, "
         "audit_first, audit_last, audit_last_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, ?7, ?8, ?9, ?10, ?11)"},
        {&set_audit_archived_,
         "INSERT INTO meta (key, value) VALUES ('audit_archived', ?1) ON CONFLICT (key) DO UPDATE SET value = "
         "excluded.value"},
        {&archive_delete_event_, "DELETE FROM events WHERE seq = ?1"},
        {&archive_delete_deliveries_, "DELETE FROM deliveries WHERE id >= ?1 AND id < ?2"},
        {&archive_delete_updates_, "DELETE FROM case_updates WHERE seq = ?1"},
        {&insert_archived_,
         "INSERT INTO archived_events (event_id, seq, archive, agencies, content) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&delete_archived_audit_, "DELETE FROM audit WHERE id >= ?1 AND id <= ?2"},
        {&archive_applied_, "UPDATE archives SET applied = 1 WHERE id = ?1"},
        {&add_meta_, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING"},
        {&last_revision_, "SELECT last_revision FROM enterprises WHERE uscc = ?1"},
        {&insert_event_,
         "INSERT INTO events (event_id, uscc, revision, type, agencies, payload, published_at, name, deadline_at, "
         "case_state, completed_at, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
        {&insert_delivery_,
         "INSERT INTO deliveries (id, seq, agency, uscc, state, attempts, next_attempt_at, updated_at, deadline_at, "
         "first_delivered_at, last_delivered_at) VALUES (?9, ?1, ?2, ?3, ?6, ?7, 0, ?4, ?5, ?8, ?8)"},
        {&insert_agency_, "INSERT INTO agencies (id, name) VALUES (?1, ?2)"},
        {&upsert_enterprise_,
         "INSERT INTO enterprises (uscc, last_revision, last_seq) VALUES (?1, ?2, ?3) "
         "ON CONFLICT (uscc) DO UPDATE SET last_revision = excluded.last_revision, last_seq = excluded.last_seq"},
        {&find_seq_, "SELECT seq FROM events WHERE event_id = ?1"},
        {&get_delivery_, "SELECT " + cols + " FROM deliveries WHERE id = ?1"},
        {&update_delivery_,
         "UPDATE deliveries SET state = ?1, attempts = ?2, next_attempt_at = ?3, updated_at = ?4, reference = ?5, "
         "reason = ?6, "
         "first_delivered_at = CASE WHEN ?11 > 0 AND first_delivered_at = 0 THEN ?11 ELSE first_delivered_at END, "
         "last_delivered_at = CASE WHEN ?12 > 0 THEN ?12 ELSE last_delivered_at END, "
         "accepted_at = CASE WHEN ?13 > 0 THEN ?13 ELSE accepted_at END, "
         "settled_at = ?14, replay = CASE WHEN ?15 > 0 THEN 1 ELSE replay END "
         "WHERE id = ?7 AND state = ?9 AND attempts = ?10"},
        {&update_delivery_plain_,
         "UPDATE deliveries SET state = ?1, attempts = ?2, next_attempt_at = ?3, updated_at = ?4, reference = ?5, "
         "reason = ?6, settled_at = ?14 WHERE id = ?7 AND state = ?9 AND attempts = ?10"},
        {&load_payload_, "SELECT payload FROM events WHERE seq = ?1"},
        {&load_event_payload_, "SELECT event_id, payload FROM events WHERE seq = ?1"},
        {&unsettled_, "SELECT " + cols + " FROM deliveries WHERE state < 3 ORDER BY id"},
        {&count_events_, "SELECT COUNT(*) FROM events"},
        {&read_payloads_, "SELECT seq, payload FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"},
        {&rewrite_payload_, "UPDATE events SET payload = ?1 WHERE seq = ?2"},
        {&count_events_between_, "SELECT COUNT(*) FROM events WHERE seq > ?1 AND seq <= ?2"},
        {&last_sequence_, "SELECT COALESCE(MAX(seq), 0) FROM events"},
        {&get_meta_, "SELECT value FROM meta WHERE key = ?1"},
        {&set_meta_,
         "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
        {&delete_meta_, "DELETE FROM meta WHERE key = ?1"},
        {&meta_with_prefix_, "SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1"},
        {&delivery_states_, "SELECT agency, state FROM deliveries WHERE id >= ?1 AND id < ?2"},
        {&get_case_,
         "SELECT case_state, overdue, deadline_at, published_at, uscc, resolution <> '' FROM events WHERE seq = ?1"},
        {&set_case_state_, "UPDATE events SET case_state = ?1, completed_at = ?2 WHERE seq = ?3"},
        {&set_case_overdue_, "UPDATE events SET overdue = 1 WHERE seq = ?1"},
        {&set_delivery_overdue_, "UPDATE deliveries SET overdue = 1 WHERE id = ?1"},
        {&set_resolution_, "UPDATE events SET resolution = ?1, case_state = 2, completed_at = ?2 WHERE seq = ?3"},
        {&upsert_ref_,
         "INSERT INTO enterprise_refs (uscc, agency, reference, updated_at) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (uscc, agency) DO UPDATE SET reference = excluded.reference, updated_at = excluded.updated_at"},
        {&banks_holding_,
         "SELECT agency FROM enterprise_refs WHERE uscc = ?1 AND agency LIKE 'bank:%' ORDER BY agency"},
        {&insert_update_, "INSERT INTO case_updates (seq, kind, agency, at) VALUES (?1, ?2, ?3, ?4)"},
        {&ack_update_, "UPDATE case_updates SET acked = 1 WHERE id = ?1 AND acked = 0"},
        {&insert_audit_,
         "INSERT INTO audit (id, at, actor, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&set_audit_head_,
         "INSERT INTO meta (key, value) VALUES ('audit_head', ?1) ON CONFLICT (key) DO UPDATE SET value = "
         "excluded.value"},
        {&settled_since_,
         "SELECT d." +
             std::string("seq, d.agency, d.uscc, d.state, d.attempts, d.next_attempt_at, d.updated_at, "
                         "d.reference, d.reason, d.first_delivered_at, d.last_delivered_at, d.accepted_at, "
                         "d.settled_at, d.deadline_at, d.overdue, d.replay") +
             " FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.agency = ?1 AND d.state >= 3 AND "
             "e.published_at >= ?2 ORDER BY d.id"},
        {&open_deadlines_,
         "SELECT seq, deadline_at FROM events WHERE case_state <> 2 AND deadline_at > 0 AND overdue = 0"},
        {&open_updates_, "SELECT id, seq, kind, agency, at FROM case_updates WHERE acked = 0 ORDER BY id"},
    };
    for (auto& d : defs) {
      if (Status s = d.stmt->Prepare(db_, d.sql); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // Checkpoints are the Checkpointer's job; the automatic one remains as a
  // safety net should the WAL ever grow this far (128 MiB of 4 KiB pages).
  static constexpr int kFallbackCheckpointPages = 32768;

  std::string path_;
  sqlite3* db_ = nullptr;
  Checkpointer checkpointer_;
  int lock_fd_ = -1;
  std::uint64_t audit_id_ = 0;
  std::string audit_hash_;
  std::pair<std::uint64_t, std::string> committed_audit_;
  // The case queries on this connection (inside the turn's transaction).
  std::unique_ptr<sql::ReadConnection> rows_;
  std::unique_ptr<CaseQueries> cases_;
  // Agency name -> number in `agencies`; the names numbered in the open
  // transaction, forgotten again if it rolls back.
  AgencyNumbers agency_numbers_;
  Stmt begin_, commit_, rollback_;
  Stmt find_event_, last_revision_, insert_event_, insert_delivery_, upsert_enterprise_, find_seq_, get_delivery_,
      update_delivery_, update_delivery_plain_, insert_agency_, load_payload_, load_event_payload_, unsettled_, count_events_,
      delivery_states_, get_case_, set_case_state_, set_case_overdue_, set_delivery_overdue_, set_resolution_,
      upsert_ref_, banks_holding_, insert_update_, ack_update_, insert_audit_, set_audit_head_, settled_since_,
      open_deadlines_, open_updates_, read_payloads_, rewrite_payload_, count_events_between_, last_sequence_,
      get_meta_, set_meta_, delete_meta_, meta_with_prefix_;
  Stmt find_archived_, register_archive_, set_audit_archived_, archive_delete_event_, archive_delete_deliveries_,
      archive_delete_updates_, insert_archived_, delete_archived_audit_, archive_applied_, add_meta_;
  std::unique_ptr<sql::Statement> fingerprint_;  // EventFingerprintSql, on rows_
  // The next event's sequence, as of this transaction and as committed.
  Sequence next_seq_ = 1, committed_next_seq_ = 1;
  bool has_archived_ = false;  // archived_events has rows: inserts look there too
};

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenSqlite(const std::string& dir, const StoreOptions& options) {
  auto store = std::make_unique<SqliteStore>();
  if (Status s = store->Open(dir, options); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace yilian::store
