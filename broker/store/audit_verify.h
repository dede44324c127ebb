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

#include <vector>

#include "common/status.h"
#include "store/sql_rows.h"
#include "yilian/store/case_reader.h"
#include "yilian/v1/tracking.pb.h"

namespace yilian::store {

Result<v1::AuditVerifyReport> VerifyAuditTrail(sql::ReadConnection* conn, const std::vector<AuditAnchorPoint>& anchors);

}  // namespace yilian::store
