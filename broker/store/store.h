// Store: the broker's durable state and its source of truth. In-memory queues
// are caches rebuilt from it at start (see docs/storage.md for the schema and
// the durability promise).
//
// Operation: the broker groups all writes of one loop turn in one
// transaction: Begin(), any reads and writes, then Commit(). Only after
// Commit() returns OK may confirms and deliveries that depend on those writes
// leave the broker. Commit() returning OK means the transaction is on disk
// (synchronous=full: fsynced, survives power loss; normal: survives a process
// crash).
// Concurrency: one Store is used by one thread (the broker loop). Not
// thread-safe.
// Limitations: one writer process per data directory (enforced by a lock
// file).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/archive.h"
#include "store/records.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

struct StoreOptions {
  // "full" or "normal" (see config key store.synchronous).
  std::string synchronous = "full";
  // SQLite page cache size, in KiB.
  int cache_kib = 16 * 1024;
};

// The PostgreSQL store (config keys store.postgresql.*).
struct PostgresOptions {
  // A libpq connection string; a multi-host one with
  // target_session_attrs=read-write follows a promoted standby.
  std::string conninfo;
  // Every statement but COMMIT (never cancelled: docs/storage.md).
  int statement_timeout_ms = 10000;
  // The leader's lease (ha.lease_ms), by the database's clock; also the
  // time after which the server ends a session idle inside a transaction,
  // so that a paused broker does not hold the lease row's lock.
  int lease_ms = 5000;
};

// Who a broker is, for the lease (several brokers on one database).
struct LeaderClaim {
  std::string node;      // unique per broker process
  std::string endpoint;  // where clients reach it (ha.advertised_endpoint)
};

struct EventSummary {
  Sequence seq = 0;
  std::string payload;  // as stored (personal fields encrypted with a data key)
  std::vector<std::string> agencies;
  // An archived event (store/archive.h) has no payload here, but the keyed
  // hash of its plaintext (ContentHasher) that a publish is compared with.
  bool archived = false;
  std::string content;
};

struct StoredPayload {
  Sequence seq = 0;
  std::string payload;  // as stored
};

struct EventPayload {
  std::string event_id;
  std::string payload;
};

// What a turn is about to read, for a store that pays a round trip per
// read (PostgreSQL): it reads all of it at once when the turn begins.
struct TurnReads {
  std::vector<std::string> usccs;      // publishes' enterprises: revisions, bank references
  std::vector<std::string> event_ids;  // publishes' and results' event ids
  std::vector<Sequence> cases;         // results' sequences: their case rows
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens (creating if needed) the embedded SQLite store in `dir`.
  static Result<std::unique_ptr<Store>> OpenSqlite(const std::string& dir, const StoreOptions& options);
  // Connects to PostgreSQL, creating the schema if the database has none.
  static Result<std::unique_ptr<Store>> OpenPostgres(const PostgresOptions& options);

  // --- Leadership: several brokers may share a PostgreSQL database; the
  // one holding the lease (a row with an epoch, renewed by every Begin) is
  // the only one that writes (docs/storage.md section 13). The SQLite store
  // has one broker per data directory and always leads. ---
  // Takes the lease if no live one is held by another broker. True if this
  // store now leads.
  virtual Result<bool> TryLead(const LeaderClaim& claim) {
    (void)claim;
    return true;
  }
  // False once Begin found the lease lost (expired, or taken by another
  // broker): the transaction was not begun and nothing more is written
  // until TryLead succeeds again.
  virtual bool leading() const { return true; }
  // True once after the store reconnected to the database: a turn whose
  // COMMIT was lost may have committed, so what the broker keeps in memory
  // must be read again from the store.
  virtual bool TakeReconnected() { return false; }
  // The endpoint of the broker that holds the lease ("" if none does).
  virtual Result<std::string> LeaderEndpoint() { return std::string(); }

  // Begins the turn's transaction; with a lease, also renews it (fenced:
  // fails, and leading() turns false, if another broker took it over).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;

  // Whether Prefetch saves anything (the broker then gathers TurnReads).
  virtual bool Prefetches() const { return false; }
  // Reads what the turn will ask for, in one go; later reads of the same
  // rows in this transaction are answered from it (and from this
  // transaction's own writes). Call right after Begin.
  virtual Status Prefetch(const TurnReads& reads) {
    (void)reads;
    return Status::Ok();
  }

  // --- Reads and writes; call between Begin() and Commit(). ---

  // The stored event with this id, if any (payload and agencies included).
  virtual Result<std::optional<EventSummary>> FindEvent(const std::string& event_id) = 0;
  // The last accepted revision for the USCC, 0 if none.
  virtual Result<std::uint64_t> LastRevision(const std::string& uscc) = 0;
  // Stores the event, one PENDING delivery per agency, and the USCC's new
  // revision. Returns the event's sequence number, or kConflict, with
  // nothing stored, if an event with the same event_id is stored.
  virtual Result<Sequence> InsertEvent(const StoredEvent& event, Millis now) = 0;
  virtual Result<std::optional<Sequence>> FindSequence(const std::string& event_id) = 0;
  virtual Result<std::optional<DeliveryRecord>> GetDelivery(Sequence seq, const std::string& agency) = 0;
  // Writes `record` if the stored row still has `expected_state` and
  // `expected_attempts` (compare-and-set). Returns false if it did not.
  // Inside a transaction the PostgreSQL store decides from the
  // transaction's own writes of the row, and otherwise returns true at
  // once, as the broker's memory says the row is: if the row was found
  // otherwise, Commit fails, nothing of the turn is kept, and
  // TakeReconnected() turns true so that the broker reads its state again.
  virtual Result<bool> UpdateDelivery(const DeliveryRecord& record, DeliveryState expected_state,
                                      std::uint32_t expected_attempts) = 0;
  virtual Result<std::string> LoadPayload(Sequence seq) = 0;
  // The event id and encoded event of a sequence (what a delivery carries).
  virtual Result<EventPayload> LoadEventPayload(Sequence seq) = 0;

  // Cases: the states of an event's deliveries, and the case row.
  virtual Result<std::vector<std::pair<std::string, DeliveryState>>> DeliveryStates(Sequence seq) = 0;
  virtual Result<std::optional<CaseRow>> GetCase(Sequence seq) = 0;
  virtual Status SetCaseState(Sequence seq, CaseState state, Millis completed_at) = 0;
  virtual Status SetCaseOverdue(Sequence seq) = 0;
  virtual Status SetDeliveryOverdue(Sequence seq, const std::string& agency) = 0;
  virtual Status SetCaseResolution(Sequence seq, const std::string& resolution, Millis at) = 0;
  // The case as the API shows it, read inside the current transaction.
  virtual Result<std::optional<yilian::v1::Case>> LoadCase(Sequence seq) = 0;

  // Enterprise relations: a bank agency's reference kept per enterprise
  // (for routing; the broker writes it for "bank:..." agencies only).
  virtual Status UpsertReference(const std::string& uscc, const std::string& agency, const std::string& reference,
                                 Millis at) = 0;
  // Bank agencies ("bank:<code>") that hold a reference for the enterprise.
  virtual Result<std::vector<std::string>> BanksHolding(const std::string& uscc) = 0;

  // Case updates for the platform: durable until acknowledged.
  virtual Result<std::uint64_t> InsertCaseUpdate(const CaseUpdateRecord& update) = 0;
  // Whether an unacknowledged update was acknowledged (inside a transaction
  // the PostgreSQL store does not wait for the answer and says true).
  virtual Result<bool> AckCaseUpdate(std::uint64_t id) = 0;

  // Audit trail: appends one record chained by SM3 to the previous one.
  // Returns its id. The chain head is kept in memory and in `meta`.
  Result<std::uint64_t> AppendAudit(Millis at, const std::string& actor, const std::string& kind,
                                    const std::string& body);
  // The chain head, this transaction's records included: the id and hash of
  // the last record (0 and "" before the first).
  virtual std::pair<std::uint64_t, std::string> AuditHead() const = 0;
  // AppendAudit with `hash` computed by the caller: the hex SM3 of
  // AuditHashInput() for the record this appends (id AuditHead().first + 1,
  // the previous hash AuditHead().second).
  virtual Result<std::uint64_t> AppendAuditHashed(Millis at, const std::string& actor, const std::string& kind,
                                                  const std::string& body, const std::string& hash) = 0;

  // Operator replay: settled deliveries of `agency` whose event was
  // published at or after `since`, in sequence order.
  virtual Status ForEachSettledSince(const std::string& agency, Millis since,
                                     const std::function<void(const DeliveryRecord&)>& fn) = 0;

  // --- Archive (store/archive.h, docs/storage.md section 14); call
  // between Begin() and Commit(), in the broker's loop. ---
  // Enters a written archive file in `archives`; with audit records, also
  // marks them archived (meta `audit_archived`), before they are deleted.
  virtual Status RegisterArchive(const ArchiveSegment& segment) {
    (void)segment;
    return Status::FailedPrecondition("this store does not archive");
  }
  // Moves the events of registered archive `archive` whose rows still have
  // the fingerprint they were copied with: deletes their event, delivery
  // and case update rows and enters them in `archived_events`. Returns how
  // many moved (an event that changed since stays live).
  virtual Result<std::uint64_t> ApplyArchive(std::uint64_t archive, const std::vector<ArchivedEvent>& events) {
    (void)archive;
    (void)events;
    return Status::FailedPrecondition("this store does not archive");
  }
  // Deletes audit records first..last (archived; never the chain's last).
  virtual Status DeleteArchivedAudit(std::uint64_t first, std::uint64_t last) {
    (void)first;
    (void)last;
    return Status::FailedPrecondition("this store does not archive");
  }
  // Notes that every event and audit record of the archive was moved.
  virtual Status MarkArchiveApplied(std::uint64_t archive) {
    (void)archive;
    return Status::FailedPrecondition("this store does not archive");
  }
  // --- Data-key rotation (docs/storage.md section 7.1): the broker loop
  // re-encrypts stored payloads in small batches inside its own turns, and
  // keeps its cursor in `meta`. Call between Begin() and Commit(). ---

  // Up to `limit` events with after < seq <= upto, in sequence order: the
  // sequence and the payload as stored.
  virtual Result<std::vector<StoredPayload>> ReadPayloads(Sequence after, Sequence upto, std::size_t limit) = 0;
  // Replaces the stored payload of `seq` (the same event, its personal
  // fields under another key). kNotFound if there is no such event.
  virtual Status RewritePayload(Sequence seq, const std::string& payload) = 0;
  // How many events have after < seq <= upto.
  virtual Result<std::int64_t> CountEventsBetween(Sequence after, Sequence upto) = 0;
  // The highest stored sequence, 0 for an empty store.
  virtual Result<Sequence> LastSequence() = 0;
  // A `meta` row's value (nullopt: no such row), set (inserted or
  // replaced), removed. Keys the store keeps itself (schema_version,
  // audit_head) are not for these.
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  virtual Status DeleteMeta(const std::string& key) = 0;
  // Every `meta` row whose key starts with `prefix` (letters, digits, '.'
  // and '-' only), sorted by key bytewise.
  virtual Result<std::vector<std::pair<std::string, std::string>>> MetaWithPrefix(const std::string& prefix) = 0;

  // --- Recovery; call outside a transaction. ---

  // Crash recovery: DELIVERED rows were out with adapters of a previous run;
  // they become PENDING again (attempts kept, so the redelivery is > 1).
  // Returns how many rows changed.
  virtual Result<std::int64_t> RequeueDelivered() = 0;
  // Every unsettled delivery, in sequence order.
  virtual Status ForEachUnsettled(const std::function<void(const DeliveryRecord&)>& fn) = 0;
  // Cases not yet COMPLETED that have a deadline and are not flagged overdue.
  virtual Status ForEachOpenCaseDeadline(const std::function<void(Sequence, Millis)>& fn) = 0;
  virtual Status ForEachOpenCaseUpdate(const std::function<void(const CaseUpdateRecord&)>& fn) = 0;
  // Stored events, deliveries by state (for diagnostics and tests).
  virtual Result<std::int64_t> CountEvents() = 0;
};

}  // namespace yilian::store
