// CaseReader: read-only access to a broker's store for the HTTP API, the
// dashboard and `yilian audit verify`, on either backend. It opens its own
// connection in read-only mode: SQLite's WAL lets it read while the broker
// writes; on PostgreSQL its session has default_transaction_read_only on.
// Each call reads one snapshot (SQLite's read transaction, PostgreSQL's
// REPEATABLE READ READ ONLY transaction): a case with its deliveries, a
// list, a timeline, the statistics, the whole audit verification. A
// PostgreSQL reader that finds its connection lost at the start of a call
// (a server restart, a failover) connects again and goes on, at most once
// per backoff step (100 ms doubling to 5 s); a call whose connection breaks
// under way, or that cannot connect, fails with kUnavailable. Both backends
// answer the same for the same rows; agencies are listed in bytewise order.
// Anchor points passed to VerifyAudit are copied; nothing is kept.
// Concurrency: one CaseReader per thread (the HTTP server guards its reader
// with a mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

struct CaseFilter {
  std::string uscc;
  int state = 0;          // yilian.v1.CaseState; 0: any
  std::string agency;     // cases that require this agency
  bool overdue_only = false;
  Millis since = 0;       // published at or after
  int limit = 50;         // 1..1000
  Sequence before = 0;    // cursor: sequences below this (0: newest)
};

// A signed chain head from the anchor file, its signature already checked
// by the caller (yilian/audit/anchor.h): the chain must hold record `id` with
// `hash`. `where` names it in problems ("anchor file line 3").
struct AuditAnchorPoint {
  std::uint64_t id = 0;
  std::string hash;
  std::string where;
};

// An event whose case moved to an archive file (docs/storage.md 14).
struct ArchivedCase {
  Sequence seq = 0;
  std::string file;       // the archive file's name
  Millis archived_at = 0;  // when the file was written
};

class CaseReader {
 public:
  virtual ~CaseReader() = default;
  // The SQLite store in `data_dir` (yilian.db).
  static Result<std::unique_ptr<CaseReader>> Open(const std::string& data_dir);
  // The PostgreSQL store of `conninfo` (a libpq connection string, as
  // store.postgresql.conninfo); kUnavailable if it cannot connect now.
  static Result<std::unique_ptr<CaseReader>> OpenPostgres(const std::string& conninfo);

  virtual Result<std::optional<v1::Case>> LoadCase(const std::string& event_id) = 0;
  virtual Result<v1::CaseList> ListCases(const CaseFilter& filter) = 0;
  virtual Result<std::optional<v1::EnterpriseTimeline>> Timeline(const std::string& uscc) = 0;
  virtual Result<v1::Stats> ComputeStats(Millis now, std::int64_t window_seconds) = 0;
  // GET /api/v1/updates: the case updates with an id above `after`.
  virtual Result<v1::CaseUpdateList> UpdatesAfter(std::uint64_t after, int limit) = 0;
  // Checks the audit chain, the recorded head and every anchor point, and
  // compares each delivery's and case's state with the state the trail
  // says it reached, all in one snapshot (docs/storage.md section 6).
  // With `archive_dir`, the archive files the store registered are read
  // from it too, the chain and the rows as one with the live store's (a
  // registered file missing, or whose SM3 differs from the registered one,
  // is a problem); empty: they are not read, and the report says how much
  // of the chain is in them.
  virtual Result<v1::AuditVerifyReport> VerifyAudit(const std::vector<AuditAnchorPoint>& anchors,
                                                    const std::string& archive_dir = "") = 0;
  // The archive holding the case of `event_id`, if it was archived.
  virtual Result<std::optional<ArchivedCase>> FindArchived(const std::string& event_id) = 0;
};

}  // namespace yilian::store
