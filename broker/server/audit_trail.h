// AuditTrail: the broker's record of what it did. Every state transition of
// a turn is one line of that turn's audit record (Add); the record joins the
// SM3 chain in the store in the turn's own transaction (Flush), its digest
// computed piece by piece on the hasher's thread while the turn goes on.
// After a commit, the chain's head is signed into the anchor file (with the
// key of security.audit_key_file, which the database does not hold) at most
// every audit.anchor_interval_ms (MaybeAnchor). docs/storage.md section 6.
//
// Ownership: the store must outlive the trail.
// Concurrency: loop thread only (the hasher and the anchor writer run their
// own threads behind their own interfaces).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "audit/anchor_writer.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/status.h"
#include "config/config.h"
#include "store/store.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

class AuditTrail {
 public:
  AuditTrail(const config::BrokerConfig& config, store::Store* store, std::shared_ptr<spdlog::logger> log);
  ~AuditTrail();

  // Opens the anchor file if security.audit_key_file is set; otherwise
  // warns (`secure`: outside --insecure-dev) that the chain is not anchored.
  Status SetUpAnchors(bool secure);

  // One line of the record of the turn started at `turn_at` (line breaks
  // in `line` are written as \n and \r: a line stays one line).
  void Add(const std::string& line, Millis turn_at);
  // Appends the turn's record, if it has lines, to the chain in the open
  // transaction (`discard`: the turn failed, the lines are dropped).
  Status Flush(Millis now, bool discard);
  // After a commit: signs the chain head if it moved since the last anchor
  // and, unless `now_or_never` (a clean stop), the interval has passed.
  void MaybeAnchor(Millis now, bool now_or_never);
  // Signs the head one last time and closes the anchor file.
  void Close(Millis now);

 private:
  const config::BrokerConfig& config_;
  store::Store* store_;
  std::shared_ptr<spdlog::logger> log_;

  // This turn's record, how much of it the hasher has, and the chain
  // position its digest was started for.
  std::string body_;
  std::size_t sent_ = 0;
  struct Start {
    std::uint64_t id = 0;
    std::string prev_hash;
    Millis at = 0;
  } start_;
  BackgroundSm3 hasher_;

  // Signed chain heads outside the database; null without an audit key.
  std::unique_ptr<audit::AnchorWriter> anchors_;
  std::uint64_t anchored_id_ = 0;  // the last head handed to anchors_
  Millis next_anchor_at_ = 0;
};

}  // namespace yilian::server
