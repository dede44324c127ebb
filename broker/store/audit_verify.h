// Verification of the audit trail (docs/storage.md section 6) over one
// connection of either backend (sql_rows.h), for CaseReader::VerifyAudit:
//   - the chain: ids 1, 2, 3, … without gaps, each prev_hash the previous
//     record's hash, each hash the SM3 of its record, meta.audit_head the
//     last record;
//   - the anchor points (signed heads from outside the database): the chain
//     holds each anchored record with the anchored hash;
//   - the rows: every delivery and case is in the state the newest audit
//     record about it says it reached (the state rows are inserted with if
//     no record names it), and every delivery and case the trail names
//     exists.
// The caller runs it inside one snapshot (ReadConnection::BeginSnapshot) so
// that everything is read from the same state; the chain and the rows are
// read in batches. Reads only; memory grows with the number of rows the
// trail names.
// Concurrency: like its connection, one thread at a time.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "store/sql_rows.h"
#include "yilian/store/case_reader.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

// An archive file opened for the check, in the order of the live store's
// `archives` table (its files' audit records follow each other).
struct ArchiveSource {
  std::uint64_t id = 0;
  std::string file;
  sql::ReadConnection* conn = nullptr;
};
using ArchiveSources = std::vector<ArchiveSource>;

// `archives`: the archive files, checked as the chain's first part and as
// the holders of the archived rows; nullptr: they are not read (the report
// says how much of the chain that leaves unchecked).
Result<v1::AuditVerifyReport> VerifyAuditTrail(sql::ReadConnection* conn, const std::vector<AuditAnchorPoint>& anchors,
                                               const ArchiveSources* archives = nullptr);

}  // namespace yilian::store
