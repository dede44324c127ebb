// Tracking: one-stop completion of each case. After a delivery settles (or
// is re-opened) in a turn, the case state is recomputed from its
// deliveries' states; each change, and each deadline passed, is a durable
// case update, written in the turn's transaction and sent to WATCHER
// sessions after the commit, within their credit, until acknowledged.
// docs/storage.md section 5, docs/protocol.md section 8.
//
// Ownership: everything given to the constructor must outlive this.
// Concurrency: loop thread only.
#pragma once

#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "delivery/agency_queue.h"
#include "server/audit_trail.h"
#include "server/metrics.h"
#include "server/outbox.h"
#include "server/tables.h"
#include "server/turn_context.h"
#include "store/store.h"
#include "yilian/v1/protocol.pb.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

class Tracking {
 public:
  Tracking(store::Store* store, TurnContext& turn, Outbox& outbox, AuditTrail& audit, BrokerMetrics& metrics,
           SessionTable& sessions, const Agencies& agencies, std::shared_ptr<spdlog::logger> log);

  // At start: the unacknowledged case updates and the open case deadlines.
  Status Recover();
  void BeginTurn() { settled_this_turn_.clear(); }

  // A deadline to check at `due` (0: none): a delivery's (agency >= 0) or
  // a whole case's (-1).
  void AddDeadline(Millis due, Sequence seq, int agency);
  // Stores a case update and queues it for the watchers once committed.
  void StageCaseUpdate(Sequence seq, v1::CaseUpdateKind kind, const std::string& agency, Millis now);
  // After the delivery of `seq` to agency `index` settled as `state` in
  // this turn: recomputes the case unless its state cannot have changed
  // (PROCESSED while another agency still has `seq` unsettled, known from
  // the queues without reading the store).
  void StageCaseSettled(Sequence seq, const delivery::UsccKey& key, int index, store::DeliveryState state, Millis now);
  // Recomputes the case state of `seq` and stages the case update.
  // `last_processed`: the settled delivery was PROCESSED and no other is
  // unsettled, so an in-progress case is complete without reading the
  // delivery states.
  void StageCaseRecompute(Sequence seq, Millis now, bool last_processed = false);
  // Sends open case updates to watchers with credit.
  void DispatchCaseUpdates();
  void HandleUpdateAck(Session& session, const v1::UpdateAck& ack);
  // Marks what passed its deadline overdue (audit, case update, metric).
  void SweepDeadlines(Millis now);
  // A watcher's session ended: its unacknowledged updates go back, in order.
  void ReturnUpdates(const Session& session);
  bool HasOpenUpdates() const { return !open_updates_.empty(); }
  // Stored updates not yet acknowledged: waiting, or out to a watcher.
  std::size_t UnacknowledgedUpdates() const { return open_updates_.size() + updates_out_.size(); }

 private:
  store::Store* store_;
  TurnContext& turn_;
  Outbox& outbox_;
  AuditTrail& audit_;
  BrokerMetrics& metrics_;
  SessionTable& sessions_;
  const Agencies& agencies_;
  std::shared_ptr<spdlog::logger> log_;

  // Case updates: open ones in id order, and those out (id -> watcher, update).
  std::deque<store::CaseUpdateRecord> open_updates_;
  std::unordered_map<std::uint64_t, std::pair<std::string, store::CaseUpdateRecord>> updates_out_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
  // Deliveries settled in the current turn (their queues learn it only at
  // commit).
  std::unordered_set<InflightKey> settled_this_turn_;
};

}  // namespace yilian::server
