// The store's SQL schema (docs/storage.md describes every table and column).
// Internal to broker/store.
#pragma once

namespace yilian::store {

constexpr int kSchemaVersion = 1;

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
CREATE TABLE IF NOT EXISTS deliveries (
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
  replay             INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (seq, agency)
) WITHOUT ROWID;
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

}  // namespace yilian::store
