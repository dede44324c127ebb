// Verification of the audit trail (docs/storage.md section 6) over one
// SQLite connection, for CaseReader::VerifyAudit:
//   - the chain: ids 1, 2, 3, … without gaps, each prev_hash the previous
//     record's hash, each hash the SM3 of its record, meta.audit_head the
//     last record;
//   - the anchor points (signed heads from outside the database): the chain
//     holds each anchored record with the anchored hash;
//   - the rows: every delivery and case is in the state the newest audit
//     record about it says it reached (the state rows are inserted with if
//     no record names it), and every delivery and case the trail names
//     exists.
// The caller runs it inside one read transaction so that everything is read
// from the same snapshot. Reads only; memory grows with the number of rows
// the trail names.
// Concurrency: like its connection, one thread at a time.
#pragma once

#include <sqlite3.h>

#include <vector>

#include "common/status.h"
#include "yilian/store/case_reader.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

Result<v1::AuditVerifyReport> VerifyAuditTrail(sqlite3* db, const std::vector<AuditAnchorPoint>& anchors);

}  // namespace yilian::store
