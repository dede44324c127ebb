// Archive files: settled cases and the oldest audit records moved out of
// the live store (docs/storage.md section 14).
//
// An archive file is an SQLite database with the live store's tables
// (kSchemaSql), holding copies of the rows it archives, and a `meta` table
// that describes it: format "yilian-archive" version 1, the store's schema
// version, its number, when and with which cutoff it was written, the
// sequences and the audit records it holds, and the audit chain around
// them (the hash before its first record and of its last). Personal values
// stay as the store keeps them (encrypted with the data key).
//
// Moving rows is two steps, so that the slow part never holds the store:
//   1. WriteArchiveFile, on any thread, reads the rows in one snapshot of
//      a read connection and writes the file (temporary name, synced,
//      renamed, directory synced). It also fingerprints each event's rows.
//   2. The broker's loop registers the file (Store::RegisterArchive) and
//      moves its events in small batches (Store::ApplyArchive): an event
//      whose rows still have the fingerprint is deleted from the live store
//      and entered in `archived_events`, in the loop's own transaction; one
//      that changed meanwhile stays live (its copy in the file is then not
//      the archived one: `archived_events` says which file holds an event).
// Which events: cases COMPLETED before the cutoff whose deliveries are all
// PROCESSED or REJECTED (no dead letter, none open) and whose case updates
// were all acknowledged. Which audit records: those before the cutoff, from
// the first still live, up to the first one at or after the cutoff, never
// the last one of the chain (the store reads its head from it).
//
// Concurrency: the functions hold no state; each connection is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "store/sql_rows.h"

namespace yilian::store {

inline constexpr const char* kArchiveFormat = "yilian-archive";
inline constexpr int kArchiveFormatVersion = 1;

// One archived event as the live store keeps it in `archived_events`.
struct ArchivedEvent {
  Sequence seq = 0;
  std::string event_id;
  std::string agencies;     // as events.agencies
  std::string content;      // hex keyed hash of the event's plaintext (ContentHasher)
  std::string fingerprint;  // the rows' state when copied (EventFingerprint)
};

// A written archive file, as `archives` registers it.
struct ArchiveSegment {
  std::uint64_t id = 0;
  std::string file;  // name inside the archive directory
  std::string sm3;   // hex SM3 of the file's bytes
  Millis created_at = 0;
  Millis cutoff = 0;
  std::uint64_t events = 0;
  Sequence first_seq = 0, last_seq = 0;       // 0, 0: no events
  std::uint64_t audit_first = 0, audit_last = 0;  // 0, 0: no audit records
  std::string audit_last_hash;
  std::vector<ArchivedEvent> archived;  // the events, in sequence order
  // meta rows the registration adds if the store has none by that key
  // (the archive index key, with the first file).
  std::vector<std::pair<std::string, std::string>> meta;
};

// The hex hash of an event's plaintext (its deterministic encoding, personal
// fields decrypted) that a publish of the same event_id is compared with.
// Empty if the stored payload cannot be read.
using ContentHasher = std::function<std::string(const std::string& stored_payload)>;

struct ArchiveLimits {
  std::uint64_t max_events = 50000;         // per file
  std::uint64_t max_audit_records = 200000;  // per file
};

// The archive file's name for number `id` ("archive-000042.db").
std::string ArchiveFileName(std::uint64_t id);

// Writes archive file number `id` into `dir` with what is due at `cutoff`
// and still live after `after_seq` (the events) and `audit_after` (the
// audit records). Returns a segment with events == 0 and audit_last == 0,
// and writes nothing, when nothing is due.
Result<ArchiveSegment> WriteArchiveFile(sql::ReadConnection* live, const std::string& dir, std::uint64_t id,
                                        Millis cutoff, Millis now, Sequence after_seq, std::uint64_t audit_after,
                                        const ContentHasher& hasher, const ArchiveLimits& limits);

// The fingerprint of an event's rows (case state, completion, flags, its
// deliveries' open count and last change, its case updates): equal before
// and after only if nothing about the case changed in between. Empty if
// the event has no row.
Result<std::string> EventFingerprint(sql::Statement* fingerprint_query, Sequence seq);
// The query EventFingerprint runs (portable SQL, ?1 = seq).
const char* EventFingerprintSql();

// The events an archive file holds, with their content hashes and
// fingerprints as they were copied (to apply the file again).
Result<std::vector<ArchivedEvent>> ReadArchivedEvents(sql::ReadConnection* archive, const ContentHasher& hasher,
                                                      const std::string& where);

// hex SM3 of a file's bytes.
Result<std::string> FileSm3(const std::string& path);

// An archive file's `meta` rows, read-only (what `yilian audit verify`
// and the case lookup read).
struct ArchiveInfo {
  std::string format;
  int format_version = 0;
  std::uint64_t id = 0;
  Sequence first_seq = 0, last_seq = 0;
  std::uint64_t events = 0;
  std::uint64_t audit_first = 0, audit_last = 0;
  std::string audit_prev_hash, audit_last_hash;
  Millis created_at = 0, cutoff = 0;
};
Result<ArchiveInfo> ReadArchiveInfo(sql::ReadConnection* archive, const std::string& where);

}  // namespace yilian::store
