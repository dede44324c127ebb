// Archiver: the broker's retention job (docs/storage.md section 14).
//
// Once a day (store.archive_time, and 10 minutes after the broker starts),
// or when asked (POST /api/v1/archive), a thread of its own writes the
// settled cases and audit records older than store.retention_days into
// archive files (store/archive.h), reading the store through a read-only
// connection of its own. The broker's loop then moves what each file holds
// out of the live store in small steps, one per turn, inside the turn's own
// transaction (ApplyInTurn): register the file, move at most kEventsPerTurn
// events, delete at most kAuditPerTurn audit records, mark it applied. So
// the loop never waits for the file to be written, and no turn is held for
// more than a small batch. After a crash, a registered file not yet applied
// is applied again from the file (each step is idempotent); a file written
// but not registered is removed and written again.
//
// The archived events stay known by event_id (`archived_events`), with a
// keyed hash of their plaintext (ContentHash) under an index key kept in the
// store's meta table, sealed with the data key: a publish of an archived
// event_id is answered DUPLICATE if it holds the same event, CONFLICT if not.
//
// Only the SQLite store archives; with PostgreSQL the job does not run.
//
// Concurrency: Start/Stop/RequestRun/StatusJson/ContentHash from any thread;
// ApplyInTurn and HasWork from the loop thread only.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "security/field_cipher.h"
#include "store/archive.h"
#include "store/store.h"
#include "turn_context.h"

namespace yilian::server {

class Archiver {
 public:
  struct Options {
    std::string store_path;  // the SQLite store (data_dir/yilian.db)
    std::string dir;         // where archive files go
    double retention_days = 365;
    std::uint32_t minute_of_day = 150;  // local time of the daily run
    Millis first_run_delay_ms = 10 * 60 * 1000;
    store::ArchiveLimits limits;
  };
  // A step's size: in a turn with nothing else to do, and in one that
  // also carries messages (publishes wait for its commit).
  static constexpr std::size_t kEventsPerTurn = 64;
  static constexpr std::size_t kEventsPerBusyTurn = 8;
  static constexpr std::uint64_t kAuditPerTurn = 2000;
  static constexpr std::uint64_t kAuditPerBusyTurn = 250;

  Archiver(Options options, Clock* clock, const std::optional<security::FieldCipher>& cipher,
           std::shared_ptr<spdlog::logger> log);
  ~Archiver();
  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;

  // Reads the index key from the store (if archiving ever ran) and starts
  // the thread. Fails if the index key cannot be unsealed (another data key).
  Status Start();
  void Stop();
  // Runs the job now (or right after the run under way).
  void RequestRun();
  // False with store.retention_days 0: nothing is ever archived.
  bool enabled() const { return options_.retention_days > 0; }

  // The job's state as JSON (yilian.v1.ArchiveStatus).
  std::string StatusJson() const;
  std::uint64_t events_archived() const { return events_archived_.load(); }
  std::uint64_t failures() const { return failures_.load(); }

  // The hex hash a publish's plaintext event is compared with; empty if no
  // index key exists yet (then nothing is archived).
  std::string ContentHash(const std::string& plaintext_payload) const;

  // Loop: whether a step is waiting, and one step inside the open
  // transaction of the turn (its progress counts once the turn commits).
  bool HasWork() const;
  // `busy`: the turn also carries messages (a smaller step).
  void ApplyInTurn(store::Store* store, TurnContext& turn, bool busy);

 private:
  struct Job {
    store::ArchiveSegment segment;
    bool registered = false;
    std::size_t next_event = 0;
    std::uint64_t next_audit = 0;  // first audit id still to delete
    std::uint64_t moved = 0;
    bool done = false;
  };

  void Run();
  Status RunOnce();
  // Hands `job` to the loop and waits until it is applied (false: stopping).
  bool Apply(std::unique_ptr<Job> job);
  Status LoadIndexKey(store::sql::ReadConnection* conn, bool create);
  std::string StoredContentHash(const std::string& stored_payload) const;
  Millis NextDailyRun(Millis now) const;

  Options options_;
  Clock* clock_;
  const std::optional<security::FieldCipher>& cipher_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool requested_ = false;
  std::unique_ptr<Job> job_;          // handed to the loop; guarded by mu_
  std::string index_key_;             // raw bytes; guarded by mu_
  std::string new_index_key_sealed_;  // to store with the first archive; guarded by mu_
  std::string state_ = "idle";        // idle | running; guarded by mu_
  Millis last_run_at_ = 0, next_run_at_ = 0;
  std::string last_error_;
  std::uint64_t files_written_ = 0;
  std::atomic<std::uint64_t> events_archived_{0};
  std::atomic<std::uint64_t> audit_archived_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::thread thread_;
};

}  // namespace yilian::server
