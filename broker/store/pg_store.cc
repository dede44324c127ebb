// PostgreSQL implementation of Store (docs/storage.md, "The PostgreSQL
// store"): the same tables and promises as the SQLite store, over one libpq
// connection, one transaction per broker loop turn (group commit).
//
// Inside a turn's transaction, writes whose result the broker does not need
// at once are sent in libpq's pipeline mode and their results read at the
// next read, or at COMMIT: one round trip for many statements. A delivery
// row's compare-and-set (UpdateDelivery) is decided from this transaction's
// own writes when it wrote the row, and otherwise assumed to hold, as the
// broker's memory says; a row found otherwise when the results come fails
// the turn and makes the broker read its state again (TakeReconnected).
//
// Portable to PostgreSQL-compatible engines: READ COMMITTED, no
// LISTEN/NOTIFY, no UNLOGGED tables, no session state that a failover
// loses (what a connection sets is set again on every connect). Beyond
// standard SQL it uses: BIGSERIAL, BYTEA, INSERT ... ON CONFLICT, and
// RETURNING.
#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "store/agency_numbers.h"
#include "store/cases.h"
#include "store/pg_util.h"
#include "store/schema.h"
#include "store/sql_rows.h"
#include "store/store.h"

namespace yilian::store {
namespace {

using pg::GetInt;
using pg::GetText;
using pg::Params;

// The statements, prepared on every connection under the name "y<index>".
enum Q : int {
  kFindEvent,
  kLastRevision,
  kInsertEvent,
  kInsertDelivery,
  kInsertAgency,
  kUpsertEnterprise,
  kFindSeq,
  kGetDelivery,
  kUpdateDelivery,
  kLoadPayload,
  kLoadEventPayload,
  kUnsettled,
  kCountEvents,
  kDeliveryStates,
  kGetCase,
  kSetCaseState,
  kSetCaseOverdue,
  kSetDeliveryOverdue,
  kSetResolution,
  kUpsertRef,
  kBanksHolding,
  kInsertUpdate,
  kAckUpdate,
  kInsertAudit,
  kSetAuditHead,
  kSettledSince,
  kOpenDeadlines,
  kOpenUpdates,
  kPrefetchRevisions,
  kPrefetchBanks,
  kPrefetchEvents,
  kPrefetchCases,
  kReadPayloads,
  kRewritePayload,
  kCountEventsBetween,
  kLastSequence,
  kGetMeta,
  kSetMeta,
  kDeleteMeta,
  kMetaWithPrefix,
  kStatementCount
};

std::string StatementSql(int q) {
  const std::string cols = DeliveryColumnList();
  switch (q) {
    case kFindEvent: return "SELECT seq, payload, agencies FROM events WHERE event_id = $1";
    case kLastRevision: return "SELECT last_revision FROM enterprises WHERE uscc = $1";
    case kInsertEvent:
      // A stored event_id inserts nothing and returns no row: a conflict,
      // and unlike a failed statement it leaves the transaction usable.
      // The store numbers events itself ($12), so that an insert needs
      // no answer.
      return "INSERT INTO events (event_id, uscc, revision, type, agencies, payload, published_at, name, "
             "deadline_at, case_state, completed_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
             "ON CONFLICT (event_id) DO NOTHING RETURNING seq";
    case kInsertDelivery:
      return "INSERT INTO deliveries (id, seq, agency, uscc, state, attempts, next_attempt_at, updated_at, "
             "deadline_at, first_delivered_at, last_delivered_at) VALUES ($9, $1, $2, $3, $6, $7, 0, $4, $5, $8, $8)";
    case kInsertAgency: return "INSERT INTO agencies (id, name) VALUES ($1, $2)";
    case kUpsertEnterprise:
      return "INSERT INTO enterprises (uscc, last_revision, last_seq) VALUES ($1, $2, $3) ON CONFLICT (uscc) DO "
             "UPDATE SET last_revision = excluded.last_revision, last_seq = excluded.last_seq";
    case kFindSeq: return "SELECT seq FROM events WHERE event_id = $1";
    case kGetDelivery: return "SELECT " + cols + " FROM deliveries WHERE id = $1";
    case kUpdateDelivery:
      // Timestamps only move forward from 0: a 0 keeps what is stored.
      return "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3, updated_at = $4, "
             "reference = $5, reason = $6, "
             "first_delivered_at = CASE WHEN $10::bigint > 0 AND first_delivered_at = 0 THEN $10::bigint ELSE "
             "first_delivered_at END, "
             "last_delivered_at = CASE WHEN $11::bigint > 0 THEN $11::bigint ELSE last_delivered_at END, "
             "accepted_at = CASE WHEN $12::bigint > 0 THEN $12::bigint ELSE accepted_at END, "
             "settled_at = $13, replay = CASE WHEN $14::bigint > 0 THEN 1 ELSE replay END "
             "WHERE id = $7 AND state = $8 AND attempts = $9";
    case kLoadPayload: return "SELECT payload FROM events WHERE seq = $1";
    case kLoadEventPayload: return "SELECT event_id, payload FROM events WHERE seq = $1";
    case kUnsettled: return "SELECT " + cols + " FROM deliveries WHERE state < 3 ORDER BY id";
    case kCountEvents: return "SELECT COUNT(*) FROM events";
    case kDeliveryStates: return "SELECT agency, state FROM deliveries WHERE id >= $1 AND id < $2";
    case kGetCase:
      return "SELECT case_state, overdue, deadline_at, published_at, uscc, "
             "CASE WHEN resolution <> '' THEN 1 ELSE 0 END FROM events WHERE seq = $1";
    case kSetCaseState: return "UPDATE events SET case_state = $1, completed_at = $2 WHERE seq = $3";
    case kSetCaseOverdue: return "UPDATE events SET overdue = 1 WHERE seq = $1";
    case kSetDeliveryOverdue: return "UPDATE deliveries SET overdue = 1 WHERE id = $1";
    case kSetResolution:
      return "UPDATE events SET resolution = $1, case_state = 2, completed_at = $2 WHERE seq = $3";
    case kUpsertRef:
      return "INSERT INTO enterprise_refs (uscc, agency, reference, updated_at) VALUES ($1, $2, $3, $4) "
             "ON CONFLICT (uscc, agency) DO UPDATE SET reference = excluded.reference, updated_at = "
             "excluded.updated_at";
    case kBanksHolding:
      return "SELECT agency FROM enterprise_refs WHERE uscc = $1 AND agency LIKE 'bank:%' ORDER BY agency";
    case kInsertUpdate:
      return "INSERT INTO case_updates (id, seq, kind, agency, at) VALUES ($5, $1, $2, $3, $4)";
    case kAckUpdate: return "UPDATE case_updates SET acked = 1 WHERE id = $1 AND acked = 0";
    case kInsertAudit:
      return "INSERT INTO audit (id, at, actor, kind, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    case kSetAuditHead:
      return "INSERT INTO meta (key, value) VALUES ('audit_head', $1) ON CONFLICT (key) DO UPDATE SET value = "
             "excluded.value";
    case kSettledSince:
      return "SELECT " + DeliveryColumnList("d.") +
             " FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.agency = $1 AND d.state >= 3 AND "
             "e.published_at >= $2 ORDER BY d.id";
    case kOpenDeadlines:
      return "SELECT seq, deadline_at FROM events WHERE case_state <> 2 AND deadline_at > 0 AND overdue = 0";
    case kOpenUpdates: return "SELECT id, seq, kind, agency, at FROM case_updates WHERE acked = 0 ORDER BY id";
    case kPrefetchRevisions: return "SELECT uscc, last_revision FROM enterprises WHERE uscc = ANY($1::text[])";
    case kPrefetchBanks:
      return "SELECT uscc, agency FROM enterprise_refs WHERE uscc = ANY($1::text[]) AND agency LIKE 'bank:%' "
             "ORDER BY uscc, agency";
    case kPrefetchEvents: return "SELECT event_id, seq FROM events WHERE event_id = ANY($1::text[])";
    case kPrefetchCases:
      return "SELECT seq, case_state, overdue, deadline_at, published_at, uscc, "
             "CASE WHEN resolution <> '' THEN 1 ELSE 0 END FROM events WHERE seq = ANY($1::bigint[])";
    case kReadPayloads:
      return "SELECT seq, payload FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
    case kRewritePayload: return "UPDATE events SET payload = $2 WHERE seq = $1";
    case kCountEventsBetween: return "SELECT COUNT(*) FROM events WHERE seq > $1 AND seq <= $2";
    case kLastSequence: return "SELECT COALESCE(MAX(seq), 0) FROM events";
    case kGetMeta: return "SELECT value FROM meta WHERE key = $1";
    case kSetMeta:
      return "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    case kDeleteMeta: return "DELETE FROM meta WHERE key = $1";
    case kMetaWithPrefix: return "SELECT key, value FROM meta WHERE key LIKE $1 || '%'";
  }
  return "";
}

// The deliveries table of YILIAN_DELIVERIES_V2_COLUMNS (schema.h, the one
// definition of its columns) with PostgreSQL's 64-bit integers.
std::string PgDeliveriesTable() {
  std::string columns = YILIAN_DELIVERIES_V2_COLUMNS;
  std::string out = "CREATE TABLE IF NOT EXISTS deliveries (\n";
  for (std::size_t at = 0;;) {
    std::size_t found = columns.find("INTEGER", at);
    if (found == std::string::npos) {
      out += columns.substr(at);
      break;
    }
    out += columns.substr(at, found - at) + "BIGINT";
    at = found + 7;
  }
  return out;
}

std::string PgSchemaSql() {
  return R"sql(
CREATE TABLE IF NOT EXISTS events (
  seq          BIGSERIAL PRIMARY KEY,
  event_id     TEXT    NOT NULL UNIQUE,
  uscc         TEXT    NOT NULL,
  revision     BIGINT  NOT NULL,
  type         BIGINT  NOT NULL,
  agencies     TEXT    NOT NULL,
  payload      BYTEA   NOT NULL,
  published_at BIGINT  NOT NULL,
  name         TEXT    NOT NULL DEFAULT '',
  case_state   BIGINT  NOT NULL DEFAULT 1,
  completed_at BIGINT  NOT NULL DEFAULT 0,
  deadline_at  BIGINT  NOT NULL DEFAULT 0,
  overdue      BIGINT  NOT NULL DEFAULT 0,
  resolution   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_uscc ON events (uscc, seq);
CREATE INDEX IF NOT EXISTS events_by_state ON events (case_state, seq);
CREATE TABLE IF NOT EXISTS enterprises (
  uscc          TEXT PRIMARY KEY,
  last_revision BIGINT NOT NULL,
  last_seq      BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS agencies (
  id   BIGINT PRIMARY KEY,
  name TEXT   NOT NULL UNIQUE
);
)sql" + PgDeliveriesTable() +
         R"sql(CREATE INDEX IF NOT EXISTS deliveries_by_state ON deliveries (state, id);
CREATE TABLE IF NOT EXISTS enterprise_refs (
  uscc       TEXT   NOT NULL,
  agency     TEXT   NOT NULL,
  reference  TEXT   NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (uscc, agency)
);
CREATE TABLE IF NOT EXISTS case_updates (
  id     BIGSERIAL PRIMARY KEY,
  seq    BIGINT NOT NULL,
  kind   BIGINT NOT NULL,
  agency TEXT   NOT NULL DEFAULT '',
  at     BIGINT NOT NULL,
  acked  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS case_updates_open ON case_updates (acked, id);
CREATE TABLE IF NOT EXISTS leader (
  id         BIGINT      PRIMARY KEY,
  node       TEXT        NOT NULL,
  endpoint   TEXT        NOT NULL,
  epoch      BIGINT      NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO leader (id, node, endpoint, epoch, expires_at) VALUES (1, '', '', 0, '-infinity')
  ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS audit (
  id        BIGINT PRIMARY KEY,
  at        BIGINT NOT NULL,
  actor     TEXT   NOT NULL,
  kind      TEXT   NOT NULL,
  body      TEXT   NOT NULL,
  prev_hash TEXT   NOT NULL,
  hash      TEXT   NOT NULL
);
CREATE TABLE IF NOT EXISTS archives (
  id              BIGINT PRIMARY KEY,
  file            TEXT   NOT NULL UNIQUE,
  sm3             TEXT   NOT NULL,
  created_at      BIGINT NOT NULL,
  cutoff          BIGINT NOT NULL,
  snapshot_at     BIGINT NOT NULL,
  events          BIGINT NOT NULL,
  first_seq       BIGINT NOT NULL,
  last_seq        BIGINT NOT NULL,
  audit_first     BIGINT NOT NULL,
  audit_last      BIGINT NOT NULL,
  audit_last_hash TEXT   NOT NULL,
  applied         BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS archived_events (
  event_id TEXT   PRIMARY KEY,
  seq      BIGINT NOT NULL,
  archive  BIGINT NOT NULL,
  agencies TEXT   NOT NULL,
  content  TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS case_updates_by_seq ON case_updates (seq);
)sql";
}

// A PostgreSQL array literal of texts: {"a","b"}, each quoted.
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string IntArray(const std::vector<Sequence>& values) {
  std::string out = "{";
  for (Sequence v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  return out + "}";
}

// A row selected with DeliveryColumnList(), in that order.
DeliveryRecord ReadDelivery(const PGresult* r, int row) {
  DeliveryRecord d;
  d.seq = static_cast<Sequence>(GetInt(r, row, 0));
  d.agency = GetText(r, row, 1);
  d.uscc = GetText(r, row, 2);
  d.state = static_cast<DeliveryState>(GetInt(r, row, 3));
  d.attempts = static_cast<std::uint32_t>(GetInt(r, row, 4));
  d.next_attempt_at = GetInt(r, row, 5);
  d.updated_at = GetInt(r, row, 6);
  d.reference = GetText(r, row, 7);
  d.reason = GetText(r, row, 8);
  d.first_delivered_at = GetInt(r, row, 9);
  d.last_delivered_at = GetInt(r, row, 10);
  d.accepted_at = GetInt(r, row, 11);
  d.settled_at = GetInt(r, row, 12);
  d.deadline_at = GetInt(r, row, 13);
  d.overdue = GetInt(r, row, 14) != 0;
  d.replay = GetInt(r, row, 15) != 0;
  return d;
}

// Statements sent but not yet answered, at most: their results stay far
// below what the socket buffers hold, so neither side waits on the other.
constexpr std::size_t kMaxQueued = 1000;
// libpq holds queued statements until a sync, but sends on its own once
// 8 KiB have piled up, even in the middle of a message. The store adds a
// sync (which sends, and does not wait for answers) once 4 KiB are queued,
// so that the server sees a turn's statements in batches that each end with
// a sync, after which it arms idle_in_transaction_session_timeout: a broker
// paused between two statements still loses its session, and the lease
// row's lock, after the lease (storage.md, section 13). Without the sync
// the server would wait for the rest with no timeout at all.
constexpr std::size_t kSyncEveryBytes = 4096;

// A case row from column `c` on: state, overdue, deadline, published,
// USCC, resolved (kGetCase and kPrefetchCases).
CaseRow ReadCase(const PGresult* r, int row, int c) {
  CaseRow out;
  out.state = static_cast<CaseState>(GetInt(r, row, c));
  out.overdue = GetInt(r, row, c + 1) != 0;
  out.deadline_at = GetInt(r, row, c + 2);
  out.published_at = GetInt(r, row, c + 3);
  out.uscc = GetText(r, row, c + 4);
  out.resolved = GetInt(r, row, c + 5) != 0;
  return out;
}

class PgStore final : public Store {
 public:
  ~PgStore() override {
    DropCaseQueries();
    if (conn_) PQfinish(conn_);
  }

  Status Open(const PostgresOptions& options) {
    options_ = options;
    if (Status s = Connect(); !s.ok()) return s;
    if (Status s = PrepareSchema(); !s.ok()) return s;
    return LoadState();
  }

  Result<bool> TryLead(const LeaderClaim& claim) override {
    claim_ = claim;
    if (!connected()) {
      if (Status s = Reconnect(); !s.ok()) return s;
    }
    // One statement: the lease is free (expired) or already ours; a broker
    // whose turn holds the row makes this wait (at most lock_timeout).
    const std::string sql =
        "BEGIN; SET LOCAL lock_timeout = 1000; UPDATE leader SET node = " + Literal(claim.node) +
        ", endpoint = " + Literal(claim.endpoint) + ", epoch = epoch + 1, expires_at = clock_timestamp() + " +
        std::to_string(options_.lease_ms) +
        " * interval '1 millisecond' WHERE id = 1 AND (expires_at < clock_timestamp() OR node = " +
        Literal(claim.node) + ") RETURNING epoch";
    auto r = Simple(sql, "take the lease");
    if (!r.ok()) {
      (void)Simple("ROLLBACK", "rollback");
      // Waiting for another broker's turn to end is not an error.
      if (r.status().code() == StatusCode::kUnavailable && connected()) {
        GetLogger("store")->debug("lease: {}", r.status().message());
        return false;
      }
      return r.status();
    }
    const bool won = PQntuples(r.value().get()) == 1;
    const std::int64_t epoch = won ? std::stoll(GetText(r.value().get(), 0, 0)) : 0;
    if (auto c = Simple("COMMIT", "take the lease"); !c.ok()) return c.status();
    if (won) {
      // Another broker may have written since: its agency numbers and its
      // audit records.
      if (Status s = LoadState(); !s.ok()) return s;
      epoch_ = epoch;
      leading_ = true;
    }
    return won;
  }

  bool leading() const override { return leading_; }

  bool TakeReconnected() override { return std::exchange(reconnected_, false); }

  Result<std::string> LeaderEndpoint() override {
    if (!connected()) {
      if (Status s = Reconnect(); !s.ok()) return s;
    }
    auto r = Simple("SELECT endpoint FROM leader WHERE id = 1 AND expires_at > clock_timestamp()", "read the lease");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return std::string();
    return GetText(r.value().get(), 0, 0);
  }

  Status Begin() override {
    if (!connected()) {
      if (Status s = Reconnect(); !s.ok()) return s;
    }
    if (!leading_) return Status::Unavailable("this broker does not hold the lease");
    // The fence: the lease is renewed only if it is still this broker's
    // epoch and alive; the row stays locked until the turn ends, so a
    // takeover waits for the turn and every later turn of this broker fails.
    auto r = Simple("BEGIN; UPDATE leader SET expires_at = clock_timestamp() + " + std::to_string(options_.lease_ms) +
                        " * interval '1 millisecond' WHERE id = 1 AND node = " + Literal(claim_.node) +
                        " AND epoch = " + std::to_string(epoch_) + " AND expires_at > clock_timestamp()",
                    "begin");
    if (!r.ok()) return r.status();
    if (std::string_view(PQcmdTuples(r.value().get())) != "1") {
      (void)Simple("ROLLBACK", "rollback");
      leading_ = false;
      return Status::Unavailable("this broker lost the lease (expired, or another broker took over)");
    }
    in_transaction_ = true;
    deferred_ = Status::Ok();
    written_.clear();
    return Status::Ok();
  }

  Status Commit() override {
    replication_cancelled_ = false;
    // The queued writes first: a failed one fails the turn.
    if (Status s = Flush(nullptr); !s.ok()) return s;
    // The broker never cancels a COMMIT: one that waits for a synchronous
    // standby and is cancelled is committed here but maybe not there.
    auto r = Simple("SET LOCAL statement_timeout = 0; COMMIT", "commit");
    if (!r.ok()) {
      if (!connected())
        return Status::Unavailable("commit: the connection to PostgreSQL was lost during COMMIT, so whether the "
                                   "turn committed is unknown; nothing of it is confirmed: " +
                                   r.status().message());
      return r.status();
    }
    // A transaction that had a failed statement answers COMMIT with ROLLBACK.
    if (std::string_view(PQcmdStatus(r.value().get())) != "COMMIT")
      return Status::Unavailable("commit: PostgreSQL rolled the transaction back");
    if (replication_cancelled_)
      return Status::Unavailable("commit: the wait for the synchronous standby was cancelled; the turn is not "
                                 "confirmed as replicated");
    committed_audit_ = {audit_id_, audit_hash_};
    agency_numbers_.Committed();
    committed_next_seq_ = next_seq_;
    committed_next_update_id_ = next_update_id_;
    EndTransaction();
    return Status::Ok();
  }

  void Rollback() override {
    if (connected()) (void)Flush(nullptr);
    if (connected() && PQtransactionStatus(conn_) != PQTRANS_IDLE) (void)Simple("ROLLBACK", "rollback");
    audit_id_ = committed_audit_.first;
    audit_hash_ = committed_audit_.second;
    agency_numbers_.RolledBack();
    next_seq_ = committed_next_seq_;
    next_update_id_ = committed_next_update_id_;
    EndTransaction();
  }

  bool Prefetches() const override { return true; }

  Status Prefetch(const TurnReads& reads) override {
    if (!in_transaction_) return Status::Ok();
    std::vector<std::string> usccs, ids;
    for (const auto& u : reads.usccs)
      if (!revisions_.count(u)) usccs.push_back(u);
    for (const auto& id : reads.event_ids)
      if (!checked_ids_.count(id)) ids.push_back(id);
    std::vector<Sequence> seqs;
    for (Sequence seq : reads.cases)
      if (!case_rows_.count(seq)) seqs.push_back(seq);
    std::sort(usccs.begin(), usccs.end());
    usccs.erase(std::unique(usccs.begin(), usccs.end()), usccs.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::sort(seqs.begin(), seqs.end());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
    int asked = 0;
    if (!usccs.empty()) {
      const std::string array = TextArray(usccs);
      if (Status s = Queue(kPrefetchRevisions, Params().Text(array), "read revisions", -1, true); !s.ok()) return s;
      if (Status s = Queue(kPrefetchBanks, Params().Text(array), "read bank references", -1, true); !s.ok()) return s;
      asked += 2;
    }
    if (!ids.empty()) {
      if (Status s = Queue(kPrefetchEvents, Params().Text(TextArray(ids)), "read event ids", -1, true); !s.ok())
        return s;
      ++asked;
    }
    if (!seqs.empty()) {
      if (Status s = Queue(kPrefetchCases, Params().Text(IntArray(seqs)), "read cases", -1, true); !s.ok()) return s;
      ++asked;
    }
    if (asked == 0) return Status::Ok();
    std::vector<pg::ResultPtr> got;
    if (Status s = Flush(&got); !s.ok()) return s;
    if (static_cast<int>(got.size()) != asked) return Status::Internal("prefetch: results missing in the pipeline");
    std::size_t next = 0;
    if (!usccs.empty()) {
      for (const auto& u : usccs) revisions_[u] = 0;
      const PGresult* r = got[next++].get();
      for (int i = 0; i < PQntuples(r); ++i)
        revisions_[GetText(r, i, 0)] = static_cast<std::uint64_t>(GetInt(r, i, 1));
      for (const auto& u : usccs) banks_[u];
      r = got[next++].get();
      for (int i = 0; i < PQntuples(r); ++i) banks_[GetText(r, i, 0)].push_back(GetText(r, i, 1));
    }
    if (!ids.empty()) {
      for (const auto& id : ids) checked_ids_.insert(id);
      const PGresult* r = got[next++].get();
      for (int i = 0; i < PQntuples(r); ++i) found_ids_[GetText(r, i, 0)] = static_cast<Sequence>(GetInt(r, i, 1));
    }
    if (!seqs.empty()) {
      const PGresult* r = got[next++].get();
      for (int i = 0; i < PQntuples(r); ++i) case_rows_[static_cast<Sequence>(GetInt(r, i, 0))] = ReadCase(r, i, 1);
      // A sequence without a row stays unknown: GetCase asks the server.
    }
    return Status::Ok();
  }

  Result<std::optional<EventSummary>> FindEvent(const std::string& event_id) override {
    auto r = Run(kFindEvent, Params().Text(event_id), "find event");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    if (PQntuples(res) == 0) return std::optional<EventSummary>();
    EventSummary e;
    e.seq = static_cast<Sequence>(GetInt(res, 0, 0));
    e.payload = GetText(res, 0, 1);
    e.agencies = SplitAgencies(GetText(res, 0, 2));
    return std::optional<EventSummary>(std::move(e));
  }

  Result<std::uint64_t> LastRevision(const std::string& uscc) override {
    if (auto it = revisions_.find(uscc); it != revisions_.end()) return it->second;
    auto r = Run(kLastRevision, Params().Text(uscc), "last revision");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return std::uint64_t{0};
    return static_cast<std::uint64_t>(GetInt(r.value().get(), 0, 0));
  }

  Result<Sequence> InsertEvent(const StoredEvent& event, Millis now) override {
    const bool empty = event.agencies.empty();
    Params p;
    p.Text(event.event_id)
        .Text(event.uscc)
        .Int(static_cast<std::int64_t>(event.revision))
        .Int(event.type)
        .Text(JoinAgencies(event.agencies))
        .Bytes(event.payload)
        .Int(event.published_at)
        .Text(event.enterprise_name)
        .Int(event.case_deadline_at)
        .Int(static_cast<int>(empty ? CaseState::kCompleted : CaseState::kInProgress))
        .Int(empty ? now : 0);
    const Status conflict = Status::Conflict("event_id '" + event.event_id + "' is stored");
    if (found_ids_.count(event.event_id)) return conflict;
    const Sequence seq = next_seq_;
    p.Int(static_cast<std::int64_t>(seq));
    if (in_transaction_ && checked_ids_.count(event.event_id)) {
      // Known not to be stored (read at the start of the turn, and not
      // inserted since): the insert needs no answer.
      if (Status s = Queue(kInsertEvent, p, "insert event", -1, false, true); !s.ok()) return s;
    } else {
      auto r = Run(kInsertEvent, p, "insert event");
      if (!r.ok()) return r.status();
      if (PQntuples(r.value().get()) == 0) return conflict;
    }
    ++next_seq_;
    if (!in_transaction_) committed_next_seq_ = next_seq_;
    if (in_transaction_) {
      found_ids_[event.event_id] = seq;
      revisions_[event.uscc] = std::max(revisions_[event.uscc], event.revision);
      CaseRow row;
      row.state = empty ? CaseState::kCompleted : CaseState::kInProgress;
      row.deadline_at = event.case_deadline_at;
      row.published_at = event.published_at;
      row.uscc = event.uscc;
      case_rows_[seq] = std::move(row);
    }
    for (std::size_t i = 0; i < event.agencies.size(); ++i) {
      Result<std::int64_t> number = NumberAgency(event.agencies[i]);
      if (!number.ok()) return number.status();
      const bool handed_over = i < event.handed_over.size() && event.handed_over[i];
      Params d;
      d.Int(static_cast<std::int64_t>(seq))
          .Text(event.agencies[i])
          .Text(event.uscc)
          .Int(now)
          .Int(i < event.agency_deadlines.size() ? event.agency_deadlines[i] : 0)
          .Int(static_cast<int>(handed_over ? DeliveryState::kDelivered : DeliveryState::kPending))
          .Int(handed_over ? 1 : 0)
          .Int(handed_over ? now : 0)
          .Int(AgencyNumbers::DeliveryKey(seq, *number));
      if (Status s = Write(kInsertDelivery, d, "insert delivery"); !s.ok()) return s;
      Wrote(AgencyNumbers::DeliveryKey(seq, *number), handed_over ? DeliveryState::kDelivered : DeliveryState::kPending,
            handed_over ? 1 : 0);
    }
    Params e;
    e.Text(event.uscc).Int(static_cast<std::int64_t>(event.revision)).Int(static_cast<std::int64_t>(seq));
    if (Status s = Write(kUpsertEnterprise, e, "upsert enterprise"); !s.ok()) return s;
    return seq;
  }

  Result<std::optional<Sequence>> FindSequence(const std::string& event_id) override {
    if (auto it = found_ids_.find(event_id); it != found_ids_.end()) return std::optional<Sequence>(it->second);
    if (in_transaction_ && checked_ids_.count(event_id)) return std::optional<Sequence>();
    auto r = Run(kFindSeq, Params().Text(event_id), "find sequence");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return std::optional<Sequence>();
    return std::optional<Sequence>(static_cast<Sequence>(GetInt(r.value().get(), 0, 0)));
  }

  Result<std::optional<DeliveryRecord>> GetDelivery(Sequence seq, const std::string& agency) override {
    std::optional<std::int64_t> key = agency_numbers_.Key(seq, agency);
    if (!key) return std::optional<DeliveryRecord>();
    auto r = Run(kGetDelivery, Params().Int(*key), "get delivery");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return std::optional<DeliveryRecord>();
    return std::optional<DeliveryRecord>(ReadDelivery(r.value().get(), 0));
  }

  Result<bool> UpdateDelivery(const DeliveryRecord& d, DeliveryState expected_state,
                              std::uint32_t expected_attempts) override {
    std::optional<std::int64_t> key = agency_numbers_.Key(d.seq, d.agency);
    if (!key) return false;
    Params p;
    p.Int(static_cast<int>(d.state))
        .Int(d.attempts)
        .Int(d.next_attempt_at)
        .Int(d.updated_at)
        .Text(d.reference)
        .Text(d.reason)
        .Int(*key)
        .Int(static_cast<int>(expected_state))
        .Int(expected_attempts)
        .Int(d.first_delivered_at)
        .Int(d.last_delivered_at)
        .Int(d.accepted_at)
        .Int(d.settled_at)
        .Int(d.replay ? 1 : 0);
    if (in_transaction_) {
      auto w = written_.find(*key);
      if (w != written_.end() && (w->second.first != expected_state || w->second.second != expected_attempts))
        return false;
      if (Status s = Queue(kUpdateDelivery, p, "update delivery", *key); !s.ok()) return s;
      Wrote(*key, d.state, d.attempts);
      return true;
    }
    auto r = Run(kUpdateDelivery, p, "update delivery");
    if (!r.ok()) return r.status();
    return std::string_view(PQcmdTuples(r.value().get())) == "1";
  }

  Result<std::string> LoadPayload(Sequence seq) override {
    auto r = Run(kLoadPayload, Params().Int(static_cast<std::int64_t>(seq)), "load payload");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return Status::NotFound("no event with sequence " + std::to_string(seq));
    return GetText(r.value().get(), 0, 0);
  }

  Result<EventPayload> LoadEventPayload(Sequence seq) override {
    auto r = Run(kLoadEventPayload, Params().Int(static_cast<std::int64_t>(seq)), "load event payload");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return Status::NotFound("no event with sequence " + std::to_string(seq));
    return EventPayload{GetText(r.value().get(), 0, 0), GetText(r.value().get(), 0, 1)};
  }

  Result<std::vector<std::pair<std::string, DeliveryState>>> DeliveryStates(Sequence seq) override {
    auto r = Run(kDeliveryStates,
                 Params().Int(AgencyNumbers::DeliveryKey(seq, 0)).Int(AgencyNumbers::DeliveryKey(seq + 1, 0)),
                 "delivery states");
    if (!r.ok()) return r.status();
    std::vector<std::pair<std::string, DeliveryState>> out;
    const PGresult* res = r.value().get();
    for (int i = 0; i < PQntuples(res); ++i)
      out.emplace_back(GetText(res, i, 0), static_cast<DeliveryState>(GetInt(res, i, 1)));
    return out;
  }

  Result<std::optional<CaseRow>> GetCase(Sequence seq) override {
    if (auto it = case_rows_.find(seq); it != case_rows_.end()) return std::optional<CaseRow>(it->second);
    auto r = Run(kGetCase, Params().Int(static_cast<std::int64_t>(seq)), "get case");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    if (PQntuples(res) == 0) return std::optional<CaseRow>();
    CaseRow c = ReadCase(res, 0, 0);
    if (in_transaction_) case_rows_[seq] = c;
    return std::optional<CaseRow>(std::move(c));
  }

  Status SetCaseState(Sequence seq, CaseState state, Millis completed_at) override {
    if (auto it = case_rows_.find(seq); it != case_rows_.end()) it->second.state = state;
    return Write(kSetCaseState,
                 Params().Int(static_cast<int>(state)).Int(completed_at).Int(static_cast<std::int64_t>(seq)),
                 "set case state");
  }

  Status SetCaseOverdue(Sequence seq) override {
    if (auto it = case_rows_.find(seq); it != case_rows_.end()) it->second.overdue = true;
    return Write(kSetCaseOverdue, Params().Int(static_cast<std::int64_t>(seq)), "set case overdue");
  }

  Status SetDeliveryOverdue(Sequence seq, const std::string& agency) override {
    std::optional<std::int64_t> key = agency_numbers_.Key(seq, agency);
    if (!key) return Status::Ok();
    return Write(kSetDeliveryOverdue, Params().Int(*key), "set delivery overdue");
  }

  Status SetCaseResolution(Sequence seq, const std::string& resolution, Millis at) override {
    if (auto it = case_rows_.find(seq); it != case_rows_.end()) {
      it->second.resolved = true;
      it->second.state = CaseState::kCompleted;
    }
    return Write(kSetResolution, Params().Text(resolution).Int(at).Int(static_cast<std::int64_t>(seq)),
                 "resolve case");
  }

  Result<std::optional<v1::Case>> LoadCase(Sequence seq) override {
    // The case queries run outside the pipeline, after what it holds.
    if (Status s = Flush(nullptr); !s.ok()) return s;
    if (!connected() || !cases_) return pg::Classify(conn_, nullptr, "read case");
    return cases_->LoadBySeq(seq);
  }

  Status UpsertReference(const std::string& uscc, const std::string& agency, const std::string& reference,
                         Millis at) override {
    if (auto it = banks_.find(uscc); it != banks_.end() && agency.rfind("bank:", 0) == 0) {
      auto at_or_after = std::lower_bound(it->second.begin(), it->second.end(), agency);
      if (at_or_after == it->second.end() || *at_or_after != agency) it->second.insert(at_or_after, agency);
    }
    return Write(kUpsertRef, Params().Text(uscc).Text(agency).Text(reference).Int(at), "upsert reference");
  }

  Result<std::vector<std::string>> BanksHolding(const std::string& uscc) override {
    if (auto it = banks_.find(uscc); it != banks_.end()) return it->second;
    auto r = Run(kBanksHolding, Params().Text(uscc), "banks holding");
    if (!r.ok()) return r.status();
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.value().get()); ++i) out.push_back(GetText(r.value().get(), i, 0));
    return out;
  }

  Result<std::uint64_t> InsertCaseUpdate(const CaseUpdateRecord& u) override {
    const std::uint64_t id = next_update_id_;
    if (Status s = Write(kInsertUpdate,
                         Params()
                             .Int(static_cast<std::int64_t>(u.seq))
                             .Int(u.kind)
                             .Text(u.agency)
                             .Int(u.at)
                             .Int(static_cast<std::int64_t>(id)),
                         "insert case update");
        !s.ok())
      return s;
    ++next_update_id_;
    if (!in_transaction_) committed_next_update_id_ = next_update_id_;
    return id;
  }

  Result<bool> AckCaseUpdate(std::uint64_t id) override {
    // In a turn the answer is not awaited (the broker does not use it).
    if (in_transaction_) {
      if (Status s = Queue(kAckUpdate, Params().Int(static_cast<std::int64_t>(id)), "ack case update"); !s.ok())
        return s;
      return true;
    }
    auto r = Run(kAckUpdate, Params().Int(static_cast<std::int64_t>(id)), "ack case update");
    if (!r.ok()) return r.status();
    return std::string_view(PQcmdTuples(r.value().get())) == "1";
  }

  std::pair<std::uint64_t, std::string> AuditHead() const override { return {audit_id_, audit_hash_}; }

  Result<std::uint64_t> AppendAuditHashed(Millis at, const std::string& actor, const std::string& kind,
                                          const std::string& body, const std::string& hash) override {
    if (hash.empty()) return Status::Internal("SM3 is not available from OpenSSL");
    const std::uint64_t id = audit_id_ + 1;
    Params p;
    p.Int(static_cast<std::int64_t>(id)).Int(at).Text(actor).Text(kind).Text(body).Text(audit_hash_).Text(hash);
    if (Status s = Write(kInsertAudit, p, "append audit"); !s.ok()) return s;
    if (Status s = Write(kSetAuditHead, Params().Text(std::to_string(id) + ":" + hash), "audit head"); !s.ok())
      return s;
    audit_id_ = id;
    audit_hash_ = hash;
    return id;
  }

  Status ForEachSettledSince(const std::string& agency, Millis since,
                             const std::function<void(const DeliveryRecord&)>& fn) override {
    auto r = Run(kSettledSince, Params().Text(agency).Int(since), "scan settled deliveries");
    if (!r.ok()) return r.status();
    for (int i = 0; i < PQntuples(r.value().get()); ++i) fn(ReadDelivery(r.value().get(), i));
    return Status::Ok();
  }

  Result<std::int64_t> RequeueDelivered() override {
    if (!connected()) {
      if (Status s = Reconnect(); !s.ok()) return s;
    }
    auto r = Simple("UPDATE deliveries SET state = 0 WHERE state = 1", "requeue delivered");
    if (!r.ok()) return r.status();
    return std::stoll(PQcmdTuples(r.value().get()));
  }

  Status ForEachUnsettled(const std::function<void(const DeliveryRecord&)>& fn) override {
    auto r = Run(kUnsettled, Params(), "scan unsettled deliveries");
    if (!r.ok()) return r.status();
    for (int i = 0; i < PQntuples(r.value().get()); ++i) fn(ReadDelivery(r.value().get(), i));
    return Status::Ok();
  }

  Status ForEachOpenCaseDeadline(const std::function<void(Sequence, Millis)>& fn) override {
    auto r = Run(kOpenDeadlines, Params(), "scan case deadlines");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    for (int i = 0; i < PQntuples(res); ++i) fn(static_cast<Sequence>(GetInt(res, i, 0)), GetInt(res, i, 1));
    return Status::Ok();
  }

  Status ForEachOpenCaseUpdate(const std::function<void(const CaseUpdateRecord&)>& fn) override {
    auto r = Run(kOpenUpdates, Params(), "scan case updates");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    for (int i = 0; i < PQntuples(res); ++i) {
      CaseUpdateRecord u;
      u.id = static_cast<std::uint64_t>(GetInt(res, i, 0));
      u.seq = static_cast<Sequence>(GetInt(res, i, 1));
      u.kind = static_cast<int>(GetInt(res, i, 2));
      u.agency = GetText(res, i, 3);
      u.at = GetInt(res, i, 4);
      fn(u);
    }
    return Status::Ok();
  }

  Result<std::vector<StoredPayload>> ReadPayloads(Sequence after, Sequence upto, std::size_t limit) override {
    auto r = Run(kReadPayloads,
                 Params()
                     .Int(static_cast<std::int64_t>(after))
                     .Int(static_cast<std::int64_t>(upto))
                     .Int(static_cast<std::int64_t>(limit)),
                 "read payloads");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    std::vector<StoredPayload> out;
    for (int i = 0; i < PQntuples(res); ++i)
      out.push_back(StoredPayload{static_cast<Sequence>(GetInt(res, i, 0)), GetText(res, i, 1)});
    return out;
  }

  Status RewritePayload(Sequence seq, const std::string& payload) override {
    // Its answer is needed (a missing row is an error), so it is run, not
    // queued; a rotation's few writes per turn cost a round trip each.
    auto r = Run(kRewritePayload, Params().Int(static_cast<std::int64_t>(seq)).Bytes(payload), "rewrite payload");
    if (!r.ok()) return r.status();
    if (std::string_view(PQcmdTuples(r.value().get())) != "1")
      return Status::NotFound("no event with sequence " + std::to_string(seq));
    return Status::Ok();
  }

  Result<std::int64_t> CountEventsBetween(Sequence after, Sequence upto) override {
    auto r = Run(kCountEventsBetween,
                 Params().Int(static_cast<std::int64_t>(after)).Int(static_cast<std::int64_t>(upto)), "count events");
    if (!r.ok()) return r.status();
    return GetInt(r.value().get(), 0, 0);
  }

  Result<Sequence> LastSequence() override {
    auto r = Run(kLastSequence, Params(), "last sequence");
    if (!r.ok()) return r.status();
    return static_cast<Sequence>(GetInt(r.value().get(), 0, 0));
  }

  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    auto r = Run(kGetMeta, Params().Text(key), "read meta");
    if (!r.ok()) return r.status();
    if (PQntuples(r.value().get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(GetText(r.value().get(), 0, 0));
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    return Write(kSetMeta, Params().Text(key).Text(value), "write meta");
  }

  Status DeleteMeta(const std::string& key) override {
    return Write(kDeleteMeta, Params().Text(key), "delete meta");
  }

  Result<std::vector<std::pair<std::string, std::string>>> MetaWithPrefix(const std::string& prefix) override {
    if (prefix.find_first_not_of(MetaPrefixCharacters()) != std::string::npos)
      return Status::InvalidArgument("meta prefix '" + prefix + "' has characters other than letters, digits, . and -");
    auto r = Run(kMetaWithPrefix, Params().Text(prefix), "read meta");
    if (!r.ok()) return r.status();
    const PGresult* res = r.value().get();
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < PQntuples(res); ++i) out.emplace_back(GetText(res, i, 0), GetText(res, i, 1));
    std::sort(out.begin(), out.end());  // bytewise, whatever the database's collation
    return out;
  }

  Result<std::int64_t> CountEvents() override {
    auto r = Run(kCountEvents, Params(), "count events");
    if (!r.ok()) return r.status();
    return GetInt(r.value().get(), 0, 0);
  }

 private:
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

  // A connection to a server that takes writes (with a multi-host
  // conninfo, target_session_attrs=read-write picks the primary), with the
  // session settings, the prepared statements (at their first use) and the
  // case queries (CaseQueries, shared with the readers).
  Status Connect() {
    DropCaseQueries();
    if (conn_) PQfinish(conn_);
    queued_.clear();
    queued_bytes_ = 0;
    conn_ = pg::Connect(options_.conninfo);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      PQfinish(conn_);
      conn_ = nullptr;
      return Status::Unavailable("cannot connect to PostgreSQL: " + message);
    }
    PQsetNoticeProcessor(conn_, &PgStore::OnNotice, this);
    std::string settings = "SET statement_timeout = " + std::to_string(options_.statement_timeout_ms) +
                           "; SET idle_in_transaction_session_timeout = " + std::to_string(options_.lease_ms) +
                           "; SET default_transaction_isolation = 'read committed'; SET client_min_messages = warning";
    if (auto r = Simple(settings, "session settings"); !r.ok()) return r.status();
    if (auto r = Simple("SELECT pg_is_in_recovery()", "server role"); !r.ok()) {
      return r.status();
    } else if (GetText(r.value().get(), 0, 0) == "t") {
      return Status::Unavailable("PostgreSQL server is a standby (read-only); the store needs the primary");
    }
    prepared_ = false;
    rows_ = sql::BorrowPostgres(conn_);
    cases_ = std::make_unique<CaseQueries>(rows_.get());
    return cases_->Prepare();
  }

  // The case queries use the connection: gone before it is.
  void DropCaseQueries() {
    cases_.reset();
    rows_.reset();
  }

  Status Prepare() {
    for (int q = 0; q < kStatementCount; ++q) {
      pg::ResultPtr r(PQprepare(conn_, StatementName(q), StatementSql(q).c_str(), 0, nullptr));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        return pg::Classify(conn_, r.get(), std::string("prepare statement ") + StatementName(q));
    }
    prepared_ = true;
    return Status::Ok();
  }

  // After a lost connection: connect again, at most once per backoff step,
  // and read back what the last committed state says (the turn whose
  // COMMIT was lost may or may not be in it).
  Status Reconnect() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_reconnect_)
      return Status::Unavailable("PostgreSQL is unreachable; the next attempt to reconnect is in " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    next_reconnect_ - now)
                                                    .count()) +
                                 " ms");
    Status s = Connect();
    if (s.ok()) s = LoadState();
    if (!s.ok()) {
      backoff_ms_ = std::min<std::int64_t>(backoff_ms_ == 0 ? 100 : backoff_ms_ * 2, 5000);
      next_reconnect_ = now + std::chrono::milliseconds(backoff_ms_);
      return s;
    }
    // Said on every reconnection, also one that succeeds at the first
    // attempt (the standby promoted before the broker noticed the loss).
    GetLogger("store")->info("connected to PostgreSQL again");
    backoff_ms_ = 0;
    reconnected_ = true;
    return Status::Ok();
  }

  // `text` as an SQL string literal (for the statements sent as text).
  std::string Literal(const std::string& text) const {
    char* quoted = PQescapeLiteral(conn_, text.data(), text.size());
    if (quoted == nullptr) return "''";
    std::string out(quoted);
    PQfreemem(quoted);
    return out;
  }

  static void OnNotice(void* self, const char* message) {
    std::string_view m(message);
    if (m.find("synchronous replication") != std::string_view::npos && m.find("cancel") != std::string_view::npos)
      static_cast<PgStore*>(self)->replication_cancelled_ = true;
  }

  // A statement without parameters, results in text (simple protocol:
  // several statements in one string are one round trip).
  Result<pg::ResultPtr> Simple(const std::string& sql, const char* what) {
    if (!connected()) return pg::Classify(conn_, nullptr, what);
    if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) (void)Flush(nullptr);
    if (!connected()) return pg::Classify(conn_, nullptr, what);
    pg::ResultPtr r(PQexec(conn_, sql.c_str()));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg::Classify(conn_, r.get(), what);
    return r;
  }

  // A statement whose result the caller needs now. With writes queued, it
  // joins them: one round trip answers all.
  Result<pg::ResultPtr> Run(int q, const Params& params, const char* what) {
    if (!deferred_.ok()) return deferred_;
    if (!connected()) return pg::Classify(conn_, nullptr, what);
    if (!queued_.empty()) {
      if (Status s = Queue(q, params, what, -1, true); !s.ok()) return s;
      std::vector<pg::ResultPtr> kept;
      if (Status s = Flush(&kept); !s.ok()) return s;
      if (kept.size() != 1) return Status::Internal(std::string(what) + ": no result in the pipeline");
      return std::move(kept.back());
    }
    if (!prepared_) {
      if (Status s = Prepare(); !s.ok()) return s;
    }
    params.Arrays(&values_, &lengths_, &formats_);
    pg::ResultPtr r(PQexecPrepared(conn_, StatementName(q), params.size(), values_.data(), lengths_.data(),
                                   formats_.data(), 1));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg::Classify(conn_, r.get(), what);
    return r;
  }

  // A write whose result only matters if it failed: queued inside a turn
  // (its failure fails the turn at the next read or at COMMIT), run at once
  // outside one.
  Status Write(int q, const Params& params, const char* what) {
    if (in_transaction_) return Queue(q, params, what);
    return Run(q, params, what).status();
  }

  // Sends a statement in pipeline mode without reading its result.
  // `delivery_key` >= 0: an UpdateDelivery that must change that one row.
  // `one_row`: a statement that must affect (or return) exactly one row.
  Status Queue(int q, const Params& params, const char* what, std::int64_t delivery_key = -1, bool keep = false,
               bool one_row = false) {
    if (!deferred_.ok()) return deferred_;
    if (!connected()) return pg::Classify(conn_, nullptr, what);
    if (!prepared_) {
      if (Status s = Prepare(); !s.ok()) return s;
    }
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1)
      return pg::Classify(conn_, nullptr, what);
    params.Arrays(&values_, &lengths_, &formats_);
    if (PQsendQueryPrepared(conn_, StatementName(q), params.size(), values_.data(), lengths_.data(), formats_.data(),
                            1) != 1) {
      Note(pg::Classify(conn_, nullptr, what));
      (void)Flush(nullptr);
      return deferred_;
    }
    queued_.push_back(Queued{what, delivery_key, keep, one_row});
    // More than the Bind, Describe and Execute messages take.
    queued_bytes_ += 48 + 8 * lengths_.size();
    for (int length : lengths_) queued_bytes_ += static_cast<std::size_t>(length);
    if (queued_bytes_ >= kSyncEveryBytes) {
      queued_bytes_ = 0;
      queued_.push_back(Queued{nullptr, -1, false, false});  // a sync: its result is read in turn
      if (PQpipelineSync(conn_) != 1) {
        Note(pg::Classify(conn_, nullptr, what));
        (void)Flush(nullptr);
        return deferred_;
      }
    }
    if (queued_.size() >= kMaxQueued && !keep) return Flush(nullptr);
    return Status::Ok();
  }

  // Ends the pipeline: a sync, then the results of every queued statement,
  // in order. Returns the transaction's first failure, if any (deferred_);
  // `kept` receives the result of the statement queued with keep.
  Status Flush(std::vector<pg::ResultPtr>* kept) {
    if (conn_ == nullptr || PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) return deferred_;
    std::vector<Queued> queued;
    queued.swap(queued_);
    queued_bytes_ = 0;
    bool broken = PQpipelineSync(conn_) != 1;
    for (const Queued& q : queued) {
      if (broken) break;
      if (q.what == nullptr) {  // a sync sent on the way
        pg::ResultPtr sync(PQgetResult(conn_));
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) broken = true;
        continue;
      }
      pg::ResultPtr r(PQgetResult(conn_));
      if (!r) {
        broken = true;
        break;
      }
      const ExecStatusType st = PQresultStatus(r.get());
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (q.delivery_key >= 0 && std::string_view(PQcmdTuples(r.get())) != "1") Disagree(q.delivery_key);
        if (q.one_row && std::string_view(PQcmdTuples(r.get())) != "1")
          Note(Status::Internal(std::string(q.what) + ": the row the turn read as absent was there"));
        if (q.keep && kept != nullptr) kept->push_back(std::move(r));
      } else if (st != PGRES_PIPELINE_ABORTED) {  // aborted: after an earlier failure, already noted
        Note(pg::Classify(conn_, r.get(), q.what));
      }
      // Each statement's results end with a null.
      while (pg::ResultPtr more{PQgetResult(conn_)}) {
        if (PQresultStatus(more.get()) == PGRES_FATAL_ERROR) Note(pg::Classify(conn_, more.get(), q.what));
      }
    }
    if (!broken) {
      pg::ResultPtr sync(PQgetResult(conn_));
      broken = !sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC;
    }
    if (broken || PQexitPipelineMode(conn_) != 1) {
      // The connection can no longer be trusted to be in step: drop it; the
      // next turn connects again and the broker reads its state back.
      Note(pg::Classify(conn_, nullptr, "read the results of the queued statements"));
      if (deferred_.code() != StatusCode::kUnavailable)
        deferred_ = Status::Unavailable("the connection to PostgreSQL fell out of step: " + deferred_.message());
      DropCaseQueries();
      PQfinish(conn_);
      conn_ = nullptr;
    }
    return deferred_;
  }

  void Note(Status s) {
    if (deferred_.ok() && !s.ok()) deferred_ = std::move(s);
  }

  // A queued compare-and-set changed no row: the store does not hold what
  // the broker's memory says. The turn fails, and the broker reads its
  // state again from the store before the next one.
  void Disagree(std::int64_t delivery_key) {
    GetLogger("store")->error("delivery row {} is not in the state the broker holds for it; the turn is rolled back "
                              "and the broker reads its state again from the store",
                              delivery_key);
    Note(Status::Internal("delivery row " + std::to_string(delivery_key) +
                          " is not in the state the broker holds for it"));
    reconnected_ = true;
  }

  // This transaction's last write of a delivery row (its compare-and-set
  // needs no round trip after that).
  void Wrote(std::int64_t delivery_key, DeliveryState state, std::uint32_t attempts) {
    if (in_transaction_) written_[delivery_key] = {state, attempts};
  }

  void EndTransaction() {
    in_transaction_ = false;
    deferred_ = Status::Ok();
    written_.clear();
    queued_.clear();
    queued_bytes_ = 0;
    revisions_.clear();
    banks_.clear();
    checked_ids_.clear();
    found_ids_.clear();
    case_rows_.clear();
  }

  static const char* StatementName(int q) {
    static const std::vector<std::string> names = [] {
      std::vector<std::string> n;
      for (int i = 0; i < kStatementCount; ++i) n.push_back("y" + std::to_string(i));
      return n;
    }();
    return names[static_cast<std::size_t>(q)].c_str();
  }

  // Creates the schema in a new database and refuses one written by a
  // newer broker, under a lock, so that two brokers starting together do
  // not both create it.
  Status PrepareSchema() {
    auto created = Simple("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", "schema");
    if (!created.ok() && created.status().code() != StatusCode::kConflict) return created.status();
    const std::string current = std::to_string(kSchemaVersion);
    std::string sql = "BEGIN; LOCK TABLE meta IN EXCLUSIVE MODE;" + PgSchemaSql() +
                      "INSERT INTO meta (key, value) VALUES ('schema_version', '" + current +
                      "') ON CONFLICT (key) DO NOTHING; SELECT value FROM meta WHERE key = 'schema_version'";
    auto r = Simple(sql, "create the schema");
    if (!r.ok()) {
      (void)Simple("ROLLBACK", "rollback");
      return r.status();
    }
    std::string version = GetText(r.value().get(), 0, 0);
    if (version == "2") {
      // Version 3 added the archive tables (created above, in this
      // transaction); nothing else changed.
      auto migrated = Simple("UPDATE meta SET value = '3' WHERE key = 'schema_version'", "migrate schema 2 to 3");
      if (!migrated.ok()) {
        (void)Simple("ROLLBACK", "rollback");
        return migrated.status();
      }
      GetLogger("store")->info("PostgreSQL store migrated from schema version 2 to {}", current);
      version = current;
    }
    if (version != current) {
      (void)Simple("ROLLBACK", "rollback");
      return Status::FailedPrecondition("PostgreSQL store has schema version " + version + ", this broker needs " +
                                        current);
    }
    return Simple("COMMIT", "create the schema").status();
  }

  // The agency numbers and the audit chain's head, as committed.
  Status LoadState() {
    agency_numbers_.Clear();
    auto agencies = Simple("SELECT id, name FROM agencies", "read agency numbers");
    if (!agencies.ok()) return agencies.status();
    for (int i = 0; i < PQntuples(agencies.value().get()); ++i) {
      const std::int64_t id = std::stoll(GetText(agencies.value().get(), i, 0));
      agency_numbers_.Load(GetText(agencies.value().get(), i, 1), id);
    }
    auto head = Simple("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", "read audit head");
    if (!head.ok()) return head.status();
    audit_id_ = 0;
    audit_hash_.clear();
    if (PQntuples(head.value().get()) == 1) {
      audit_id_ = std::stoull(GetText(head.value().get(), 0, 0));
      audit_hash_ = GetText(head.value().get(), 0, 1);
    }
    committed_audit_ = {audit_id_, audit_hash_};
    auto next = Simple("SELECT COALESCE(MAX(seq), 0) + 1 FROM events", "read the next sequence");
    if (!next.ok()) return next.status();
    next_seq_ = committed_next_seq_ = static_cast<Sequence>(std::stoull(GetText(next.value().get(), 0, 0)));
    auto next_update = Simple("SELECT COALESCE(MAX(id), 0) + 1 FROM case_updates", "read the next case update id");
    if (!next_update.ok()) return next_update.status();
    next_update_id_ = committed_next_update_id_ =
        static_cast<std::uint64_t>(std::stoull(GetText(next_update.value().get(), 0, 0)));
    return Status::Ok();
  }

  Result<std::int64_t> NumberAgency(const std::string& agency) {
    return agency_numbers_.Number(agency, "the store", [&](std::int64_t number) {
      return Run(kInsertAgency, Params().Int(number).Text(agency), "number agency").status();
    });
  }

  PostgresOptions options_;
  PGconn* conn_ = nullptr;
  LeaderClaim claim_;
  std::int64_t epoch_ = 0;
  bool leading_ = false;
  bool reconnected_ = false;
  // The case queries on conn_ (inside the turn's transaction), made with it.
  std::unique_ptr<sql::ReadConnection> rows_;
  std::unique_ptr<CaseQueries> cases_;
  bool prepared_ = false;
  bool replication_cancelled_ = false;
  // The turn's transaction: its queued statements, its first failure, and
  // the state and attempts of the delivery rows it wrote.
  struct Queued {
    const char* what;  // null: a sync
    std::int64_t delivery_key;
    bool keep;
    bool one_row;
  };
  bool in_transaction_ = false;
  std::vector<Queued> queued_;
  std::size_t queued_bytes_ = 0;
  Status deferred_;
  std::unordered_map<std::int64_t, std::pair<DeliveryState, std::uint32_t>> written_;
  // What this transaction read at its start (Prefetch) or wrote: last
  // revisions and bank references by USCC, event ids looked up (and those
  // found, or inserted, with their sequence), case rows by sequence.
  std::unordered_map<std::string, std::uint64_t> revisions_;
  std::unordered_map<std::string, std::vector<std::string>> banks_;
  std::unordered_set<std::string> checked_ids_;
  std::unordered_map<std::string, Sequence> found_ids_;
  std::unordered_map<Sequence, CaseRow> case_rows_;
  // The numbers the next event and case update get (the store assigns
  // them, so that their inserts need no answer), and as last committed.
  Sequence next_seq_ = 1;
  Sequence committed_next_seq_ = 1;
  std::uint64_t next_update_id_ = 1;
  std::uint64_t committed_next_update_id_ = 1;
  std::int64_t backoff_ms_ = 0;
  std::chrono::steady_clock::time_point next_reconnect_{};
  std::uint64_t audit_id_ = 0;
  std::string audit_hash_;
  std::pair<std::uint64_t, std::string> committed_audit_;
  AgencyNumbers agency_numbers_;
  // Reused for each statement's parameters.
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::OpenPostgres(const PostgresOptions& options) {
  auto store = std::make_unique<PgStore>();
  if (Status s = store->Open(options); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace yilian::store
