// Journal: the adapter's durable memory of the events it has taken over, in
// one SQLite file in its state directory. It is what lets an adapter
//   - never lose an answer it has not yet reported: an answer is written
//     here before it is sent to the broker, and stays until the broker has
//     recorded it, across adapter restarts;
//   - tell the broker ACCEPTED only for events it will follow up: the
//     kAtAgency entry is written before ACCEPTED is sent;
//   - dedupe redeliveries by event id: a redelivered event is answered from
//     here instead of being handed to the agency again.
// No personal data is stored: ids, the agency's reference and reason only.
// The file (and SQLite's -wal and -shm beside it) is mode 0600 whatever the
// umask; one found open to group or others is tightened, with a warning.
//
// Entry states and the allowed transitions (IsAllowedTransition):
//   (none)       -> kAtAgency     the agency has the event, answer awaited
//   (none)       -> kAnswerReady  the agency answered at once
//   kAtAgency    -> kAtAgency     same state written again (idempotent)
//   kAtAgency    -> kAnswerReady  the agency's answer arrived
//   kAtAgency    -> kReported     the broker already had a final result
//   kAnswerReady -> kAnswerReady  same answer written again
//   kAnswerReady -> kReported     the broker recorded the answer
//   kReported    -> kReported     recorded again (a redelivery re-answered)
// Entries leave by Forget (a RETRY that was reported: the event is to be
// submitted afresh) or by Prune (reported entries past their retention).
//
// Durability: every write is its own transaction, committed with WAL and
// synchronous=FULL before the call returns: it survives a process crash
// and a power loss.
// Threads: one thread (the session's).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "sdk/agency_answer.h"
#include "sqlite/db.h"

namespace yilian::adapter {

enum class EntryState { kAtAgency = 1, kAnswerReady = 2, kReported = 3 };

std::string_view ToString(EntryState state);
// `from` is nullopt for an event the journal does not hold.
bool IsAllowedTransition(std::optional<EntryState> from, EntryState to);

struct JournalEntry {
  EventId event_id;
  AgencyId agency;
  Uscc uscc;
  Sequence sequence = 0;
  std::uint32_t attempt = 0;
  EntryState state = EntryState::kAtAgency;
  // kAnswerReady, kReported: the agency's answer (never kPending).
  AgencyAnswer answer;
  // kAtAgency: the broker has recorded ACCEPTED for it.
  bool accepted_recorded = false;
  Millis updated_at = 0;
};

class Journal {
 public:
  // Opens (creating) the file. Fails if it belongs to another agency.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path, const AgencyId& agency, const Clock* clock);

  // Entries not yet reported (kAtAgency, kAnswerReady), by event id. Loaded
  // at Open and kept in step with every write.
  const std::map<std::string, JournalEntry>& unfinished() const { return unfinished_; }

  // The entry for an event, reported ones included.
  Result<std::optional<JournalEntry>> Find(const EventId& event_id);

  // Writes `entry` (insert or replace), refusing a transition not in the table.
  Status Record(const JournalEntry& entry);
  Status MarkAcceptedRecorded(const EventId& event_id);
  // kAnswerReady -> kReported; a RETRY answer is forgotten instead.
  Status MarkReported(const EventId& event_id);
  Status Forget(const EventId& event_id);
  // Removes reported entries last written before `before`; returns how many.
  Result<int> Prune(Millis before);

 private:
  Journal(std::unique_ptr<sqlite::Db> db, const Clock* clock) : db_(std::move(db)), clock_(clock) {}
  Status Load();

  std::unique_ptr<sqlite::Db> db_;
  const Clock* clock_;
  std::map<std::string, JournalEntry> unfinished_;
};

}  // namespace yilian::adapter
