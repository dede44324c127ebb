// CaseQueries: the read side of tracking over one connection of either
// backend (sql_rows.h): a case with its agency outcomes, case lists with
// filters, an enterprise's timeline and statistics (audit-trail
// verification: audit_verify.h). Used by the writers (on their own
// connection, inside their transaction, for case updates) and by
// CaseReader (its own read-only connection, for the HTTP API and the CLI,
// each call in one snapshot). Agencies are listed in bytewise order of
// their ids on both backends.
// Ownership: the connection must outlive it.
// Concurrency: like its connection, one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "store/sql_rows.h"
#include "yilian/store/case_reader.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

class CaseQueries {
 public:
  explicit CaseQueries(sql::ReadConnection* conn) : conn_(conn) {}
  Status Prepare();

  Result<std::optional<v1::Case>> LoadBySeq(Sequence seq);
  Result<std::optional<v1::Case>> LoadById(const std::string& event_id);
  Result<v1::CaseList> List(const CaseFilter& filter);
  Result<std::optional<v1::EnterpriseTimeline>> Timeline(const std::string& uscc);
  Result<v1::Stats> ComputeStats(Millis now, std::int64_t window_seconds);
  // The stored case updates with an id above `after`, oldest first, at most
  // `limit`, each with its case as it is now.
  Result<v1::CaseUpdateList> UpdatesAfter(std::uint64_t after, int limit);

 private:
  // Reads the current row of `event` (kCaseColumns) and its deliveries.
  Status FillCase(const sql::Statement& event, v1::Case* out);
  Result<std::optional<v1::Case>> LoadOne(sql::Statement& stmt);

  sql::ReadConnection* conn_;
  std::unique_ptr<sql::Statement> by_seq_, by_id_, deliveries_;
};

// A stored delivery state (DeliveryState's value) as the API names it.
v1::AgencyState ToApiState(int state);

// The text the audit hash covers: AuditHashPrefix(...) followed by the body.
std::string AuditHashInput(const std::string& prev_hash, std::uint64_t id, Millis at, const std::string& actor,
                           const std::string& kind, const std::string& body);
std::string AuditHashPrefix(const std::string& prev_hash, std::uint64_t id, Millis at, const std::string& actor,
                            const std::string& kind);

}  // namespace yilian::store
