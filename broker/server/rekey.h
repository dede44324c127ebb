// Rekey: the data-key rotation job (docs/storage.md section 7.1). After an
// operator made a new key current (security.data_key_file) and listed the
// old one under security.retired_data_key_files, the broker re-encrypts
// every stored value that is not under the current key, in small batches
// inside its own loop turns: it is the store's only writer, and publishing
// never waits for more than one batch.
//
// Operation:
//   Start        when the broker becomes the active one, in a transaction
//                of its own: reads meta.data_key_ids (the keys the store's
//                values may be under), refuses a key the ring does not hold,
//                and starts or resumes the job (meta.rekey_*).
//   Step         in a turn's transaction: up to `budget` events after the
//                cursor are read, rewritten where needed, and the cursor is
//                saved in meta with them; the last step also re-encrypts the
//                `sealed.*` meta rows, records the current key as the only
//                one, drops the cursor and appends a `rekey` audit record.
//                A turn that rolls back rolls the step back with it; a crash
//                resumes from the last committed cursor.
// States: kIdle (nothing to do at start) -> never changes; kRunning ->
// kDone (after the commit of the last step). Progress() is what GET
// /api/v1/rekey and the metrics show.
//
// Limitations: values that do not decrypt (damaged) are left as they are,
// logged by sequence and counted in the audit record; plain values (stored
// in --insecure-dev) are not encrypted.
//
// Ownership: the store, cipher, audit trail, turn and progress must
// outlive the job.
// Concurrency: loop thread only, except RekeyProgress, which HTTP threads read.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "security/field_cipher.h"
#include "server/audit_trail.h"
#include "server/turn_context.h"
#include "store/store.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

enum class RekeyState : int { kIdle = 0, kRunning = 1, kDone = 2 };
const char* ToString(RekeyState state);

// What the job has done, published after each committed step: written by
// the loop, read by any thread.
struct RekeyProgress {
  std::atomic<int> state{static_cast<int>(RekeyState::kIdle)};
  std::atomic<std::uint64_t> total{0};
  std::atomic<std::uint64_t> done{0};
  std::string key_id;  // set with the data key, before the HTTP server starts; then constant
};

class Rekey {
 public:
  // The meta rows of the job (docs/storage.md section 7.1).
  static constexpr const char* kKeyIdsMeta = "data_key_ids";
  static constexpr const char* kTargetMeta = "rekey_key_id";
  static constexpr const char* kCursorMeta = "rekey_next_seq";
  static constexpr const char* kLastMeta = "rekey_last_seq";
  static constexpr const char* kRewrittenMeta = "rekey_rewritten";
  static constexpr const char* kSkippedMeta = "rekey_skipped";
  static constexpr const char* kSealedPrefix = "sealed.";

  Rekey(store::Store* store, const security::FieldCipher& cipher, AuditTrail& audit, TurnContext& turn,
        RekeyProgress& progress, std::shared_ptr<spdlog::logger> log);

  // Outside a transaction. Fails (kFailedPrecondition, naming the key id)
  // if the store holds values under a key the ring does not have.
  Status Start(Millis now);
  bool running() const { return running_; }
  // Inside the turn's transaction, which it fails on a store error.
  void Step(std::size_t budget, Millis now);

 private:
  Status Finish(Millis now);
  Status CheckKeys(const std::set<std::string>& ids) const;
  // A store from before key ids: the keys its values were written with.
  Status LegacyKeys(std::set<std::string>* ids);

  store::Store* store_;
  const security::FieldCipher& cipher_;
  AuditTrail& audit_;
  TurnContext& turn_;
  RekeyProgress& progress_;
  std::shared_ptr<spdlog::logger> log_;

  bool running_ = false;
  // The committed position: events with seq <= cursor_ are done; the job
  // covers seq <= last_ (later events are written under the current key).
  Sequence cursor_ = 0;
  Sequence last_ = 0;
  std::uint64_t rewritten_ = 0;
  std::uint64_t skipped_ = 0;
  std::string retired_;  // the ids the job moves away from, for the logs
};

}  // namespace yilian::server
