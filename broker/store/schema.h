// The store's SQL schema (docs/storage.md describes every table and column).
// Internal to broker/store.
#pragma once

#include <cstdint>

namespace yilian::store {

constexpr int kSchemaVersion = 2;

// A delivery row's key is seq * kAgencySlots + the agency's number in
// `agencies` (1 .. kAgencySlots - 1): an integer rowid, so the per-event
// inserts and updates are rowid B-tree operations, and one event's rows are
// the contiguous key range [seq * kAgencySlots, (seq + 1) * kAgencySlots).
constexpr std::int64_t kAgencySlots = 65536;

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
  id                 INTEGER PRIMARY KEY,
  seq                INTEGER NOT NULL,
  agency             TEXT    NOT NULL,
  uscc               TEXT    NOT NULL,
  state              INTEGER NOT NULL,
  attempts           INTEGER NOT NULL,
  next_attempt_at    INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  reference          TEXT    NOT NULL DEFAULT '',
  reason             TEXT    NOT NULL DEFAULT '',
  first_delivered_at INTEGER NOT NULL DEFAULT 0,
  last_delivered_at  INTEGER NOT NULL DEFAULT 0,
  accepted_at        INTEGER NOT NULL DEFAULT 0,
  settled_at         INTEGER NOT NULL DEFAULT 0,
  deadline_at        INTEGER NOT NULL DEFAULT 0,
  overdue            INTEGER NOT NULL DEFAULT 0,
  replay             INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS enterprise_refs (
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
)sql";

// Version 1 to 2: deliveries keyed by (seq, agency text) in a WITHOUT ROWID
// table become rows keyed by seq * 65536 + agency number, the numbers
// assigned in agency-name order. Runs in one transaction with the version
// update; the database is unchanged if any step fails. The tables are
// spelled out as version 2 defines them, not taken from kSchemaSql: a
// migration stays what it was when a later version changes the schema.
constexpr const char* kMigrateV1ToV2Sql = R"sql(
CREATE TABLE agencies (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE
);
INSERT INTO agencies (name) SELECT DISTINCT agency FROM deliveries ORDER BY agency;
CREATE TABLE deliveries_v2 (
  id                 INTEGER PRIMARY KEY,
  seq                INTEGER NOT NULL,
  agency             TEXT    NOT NULL,
  uscc               TEXT    NOT NULL,
  state              INTEGER NOT NULL,
  attempts           INTEGER NOT NULL,
  next_attempt_at    INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  reference          TEXT    NOT NULL DEFAULT '',
  reason             TEXT    NOT NULL DEFAULT '',
  first_delivered_at INTEGER NOT NULL DEFAULT 0,
  last_delivered_at  INTEGER NOT NULL DEFAULT 0,
  accepted_at        INTEGER NOT NULL DEFAULT 0,
  settled_at         INTEGER NOT NULL DEFAULT 0,
  deadline_at        INTEGER NOT NULL DEFAULT 0,
  overdue            INTEGER NOT NULL DEFAULT 0,
  replay             INTEGER NOT NULL DEFAULT 0
);
INSERT INTO deliveries_v2 (id, seq, agency, uscc, state, attempts, next_attempt_at, updated_at, reference, reason,
                           first_delivered_at, last_delivered_at, accepted_at, settled_at, deadline_at, overdue,
                           replay)
  SELECT d.seq * 65536 + a.id, d.seq, d.agency, d.uscc, d.state, d.attempts, d.next_attempt_at, d.updated_at,
         d.reference, d.reason, d.first_delivered_at, d.last_delivered_at, d.accepted_at, d.settled_at,
         d.deadline_at, d.overdue, d.replay
  FROM deliveries d JOIN agencies a ON a.name = d.agency;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

}  // namespace yilian::store
