// The store's SQL schema (docs/storage.md describes every table and column).
// Internal to broker/store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace yilian::store {

constexpr int kSchemaVersion = 3;

// A delivery row's key is seq * kAgencySlots + the agency's number in
// `agencies` (1 .. kAgencySlots - 1): an integer rowid, so the per-event
// inserts and updates are rowid B-tree operations, and one event's rows are
// the contiguous key range [seq * kAgencySlots, (seq + 1) * kAgencySlots).
constexpr std::int64_t kAgencySlots = 65536;

// The deliveries table's columns as schema version 2 defines them: the
// current schema's table, and the table the version-1 migration builds. A
// later version that changes the table defines its own and leaves this one
// to the migration. The only definition of the columns in the code.
#define YILIAN_DELIVERIES_V2_COLUMNS \
  "  id                 INTEGER PRIMARY KEY,\n" \
  "  seq                INTEGER NOT NULL,\n" \
  "  agency             TEXT    NOT NULL,\n" \
  "  uscc               TEXT    NOT NULL,\n" \
  "  state              INTEGER NOT NULL,\n" \
  "  attempts           INTEGER NOT NULL,\n" \
  "  next_attempt_at    INTEGER NOT NULL,\n" \
  "  updated_at         INTEGER NOT NULL,\n" \
  "  reference          TEXT    NOT NULL DEFAULT '',\n" \
  "  reason             TEXT    NOT NULL DEFAULT '',\n" \
  "  first_delivered_at INTEGER NOT NULL DEFAULT 0,\n" \
  "  last_delivered_at  INTEGER NOT NULL DEFAULT 0,\n" \
  "  accepted_at        INTEGER NOT NULL DEFAULT 0,\n" \
  "  settled_at         INTEGER NOT NULL DEFAULT 0,\n" \
  "  deadline_at        INTEGER NOT NULL DEFAULT 0,\n" \
  "  overdue            INTEGER NOT NULL DEFAULT 0,\n" \
  "  replay             INTEGER NOT NULL DEFAULT 0\n" \
  ");\n"

// The tables schema version 3 added (docs/storage.md 3.10, 3.11): the
// archive files written so far, and the events they hold (what a publish of
// an archived event_id is compared with). SQLite's text; the PostgreSQL
// store has its own (pg_store.cc).
#define YILIAN_ARCHIVE_V3_TABLES \
  "CREATE TABLE IF NOT EXISTS archives (\n" \
  "  id              INTEGER PRIMARY KEY,\n" \
  "  file            TEXT    NOT NULL UNIQUE,\n" \
  "  sm3             TEXT    NOT NULL,\n" \
  "  created_at      INTEGER NOT NULL,\n" \
  "  cutoff          INTEGER NOT NULL,\n" \
  "  snapshot_at     INTEGER NOT NULL,\n" \
  "  events          INTEGER NOT NULL,\n" \
  "  first_seq       INTEGER NOT NULL,\n" \
  "  last_seq        INTEGER NOT NULL,\n" \
  "  audit_first     INTEGER NOT NULL,\n" \
  "  audit_last      INTEGER NOT NULL,\n" \
  "  audit_last_hash TEXT    NOT NULL,\n" \
  "  applied         INTEGER NOT NULL DEFAULT 0\n" \
  ");\n" \
  "CREATE TABLE IF NOT EXISTS archived_events (\n" \
  "  event_id TEXT    PRIMARY KEY,\n" \
  "  seq      INTEGER NOT NULL,\n" \
  "  archive  INTEGER NOT NULL,\n" \
  "  agencies TEXT    NOT NULL,\n" \
  "  content  TEXT    NOT NULL\n" \
  ") WITHOUT ROWID;\n" \
  "CREATE INDEX IF NOT EXISTS case_updates_by_seq ON case_updates (seq);\n"

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  seq          INTEGER PRIMARY KEY,
  event_id     TEXT    NOT NULL UNIQUE,
  uscc         TEXT    NOT NULL,
  revision     INTEGER NOT NULL,
  type         INTEGER NOT NULL,
  agencies     TEXT    NOT NULL,
  payload      BLOB    NOT NULL,
  published_at INTEGER NOT NULL,
  name         TEXT    NOT NULL DEFAULT '',
  case_state   INTEGER NOT NULL DEFAULT 1,
  completed_at INTEGER NOT NULL DEFAULT 0,
  deadline_at  INTEGER NOT NULL DEFAULT 0,
  overdue      INTEGER NOT NULL DEFAULT 0,
  resolution   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_uscc ON events (uscc, seq);
CREATE INDEX IF NOT EXISTS events_by_state ON events (case_state, seq);
CREATE TABLE IF NOT EXISTS enterprises (
  uscc          TEXT PRIMARY KEY,
  last_revision INTEGER NOT NULL,
  last_seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agencies (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS deliveries (
)sql" YILIAN_DELIVERIES_V2_COLUMNS R"sql(CREATE TABLE IF NOT EXISTS enterprise_refs (
  uscc       TEXT    NOT NULL,
  agency     TEXT    NOT NULL,
  reference  TEXT    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (uscc, agency)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_updates (
  id     INTEGER PRIMARY KEY,
  seq    INTEGER NOT NULL,
  kind   INTEGER NOT NULL,
  agency TEXT    NOT NULL DEFAULT '',
  at     INTEGER NOT NULL,
  acked  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS case_updates_open ON case_updates (acked, id);
CREATE TABLE IF NOT EXISTS audit (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  actor     TEXT    NOT NULL,
  kind      TEXT    NOT NULL,
  body      TEXT    NOT NULL,
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL
);
)sql" YILIAN_ARCHIVE_V3_TABLES;

// Version 1 to 2: deliveries keyed by (seq, agency text) in a WITHOUT ROWID
// table become rows keyed by seq * 65536 + agency number, the numbers
// assigned in agency-name order. Runs in one transaction with the version
// update; the database is unchanged if any step fails. The tables are
// version 2's (YILIAN_DELIVERIES_V2_COLUMNS), not kSchemaSql's: a migration
// stays what it was when a later version changes the schema.
std::string MigrateV1ToV2Sql();

// Version 2 to 3: the archive tables, nothing else changes.
std::string MigrateV2ToV3Sql();

// "seq, agency, ..., replay": the columns of YILIAN_DELIVERIES_V2_COLUMNS
// after the key, in table order, each after `prefix` ("d." for "d.seq").
std::string DeliveryColumnList(std::string_view prefix = "");

// The characters a prefix given to Store::MetaWithPrefix may hold: none is
// special to LIKE or to either backend's collation.
inline constexpr const char* MetaPrefixCharacters() {
  return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
}

}  // namespace yilian::store
