// Deliveries: getting every accepted event to each agency that must act on
// it, one enterprise at a time per agency, and recording what the agency
// answered. The agencies' queues are rebuilt from the store at start
// (Recover); each turn hands the ready heads to adapter sessions with
// credit (Dispatch, or StageHandOver in the publish's own turn), and
// results, ack timeouts and lost adapters move each delivery through the
// delivery state machine (delivery/state_machine.h). docs/protocol.md
// sections 6 and 7, docs/storage.md section 4.
//
// Files: dispatch.cc (recovery, payloads and views, hand-over) and
// results.cc (results, credit, releases).
// Ownership: everything given to the constructor must outlive this.
// Concurrency: loop thread only.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"
#include "delivery/agency_queue.h"
#include "security/field_cipher.h"
#include "server/audit_trail.h"
#include "server/metrics.h"
#include "server/outbox.h"
#include "server/tables.h"
#include "server/tracking.h"
#include "server/turn_context.h"
#include "store/store.h"
#include "yilian/v1/protocol.pb.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

// Envelope{deliver: head + event} with `event_bytes` (an encoded
// EnterpriseEvent) appended as Deliver.event without decoding it.
std::string EncodeDeliver(const v1::Deliver& head, const std::string& event_bytes);

// Why a delivery goes back to its queue.
enum class ReleaseCause { kTimeout, kLostAdapter };

class Deliveries {
 public:
  struct Parts {
    const config::BrokerConfig& config;
    Clock* clock;
    store::Store* store;
    TurnContext& turn;
    Outbox& outbox;
    AuditTrail& audit;
    Tracking& tracking;
    BrokerMetrics& metrics;
    SessionTable& sessions;
    Agencies& agencies;
    const std::optional<security::FieldCipher>& cipher;  // personal fields at rest
    std::shared_ptr<spdlog::logger> log;
  };
  explicit Deliveries(Parts parts);

  // --- dispatch.cc ---
  // At start: every unsettled delivery back in its agency's queue; those
  // out with an adapter when the broker stopped go back to PENDING.
  Status Recover();
  // The next consumer session of agency `index` (round-robin) with credit
  // left, or nullptr.
  Session* ConsumerWithCredit(int index);
  // Stages the first hand-over of a just accepted event (stored DELIVERED
  // by the caller) to the consumer `routing_id`: credit, audit, and the
  // Deliver with `view` once the turn commits.
  void StageHandOver(int index, const std::string& routing_id, Sequence seq, const std::string& event_id,
                     const delivery::UsccKey& key, const std::string& view, Millis now);
  // Hands ready deliveries to consumers with credit, up to store.max_batch.
  void Dispatch(Millis now);
  // A stored payload as its deterministic encoding in clear (decrypted when
  // personal fields are stored encrypted); an error says why it is unusable.
  Result<std::string> StoredPlaintext(const std::string& stored) const;
  // The event as agency `index` may see it (minimum necessary), encoded;
  // filtered on the wire, without decoding the event.
  Result<std::string> ViewFor(int index, const std::string& plaintext);
  void CachePayload(Sequence seq, std::shared_ptr<const store::EventPayload> payload);
  // An operator re-opened the delivery of `seq` to agency `index` (after
  // the commit): back in its queue; `replay` marks its next hand-over.
  void Reopened(int index, const std::string& uscc, Sequence seq, bool replay);

  // --- results.cc ---
  void HandleResult(Session& session, const v1::Result& result);
  void HandleCredit(Session& session, const v1::Credit& credit);
  // Releases what is past its ack timeout or lost with its session.
  void SweepInflight(Millis now);
  // The session ended: what it held goes back (or dead, on its last attempt).
  void ReleaseSession(const Session& session, Millis now);
  // A Deliver that could not be sent: its delivery is released by the next sweep.
  void Unsent(InflightKey delivery, Millis now);
  bool HasInflight(InflightKey delivery) const { return inflight_.count(delivery) > 0; }

 private:
  // The stored event for a delivery (personal fields in clear), from the
  // cache or the store. nullptr after a store failure, or, with `*corrupt`
  // set to why, when the stored event cannot be decoded or decrypted.
  std::shared_ptr<const store::EventPayload> PayloadFor(Sequence seq, std::string* corrupt);
  // A delivery whose stored event is unusable cannot ever be handed over:
  // it becomes a dead letter with `reason` instead of stalling its queue.
  void StageUnusable(int index, const delivery::AgencyQueue::Item& item, const std::string& reason, Millis now);
  // Stages the return of an outstanding delivery to its queue (or DEAD when
  // attempts are exhausted).
  void StageRelease(InflightKey ikey, const Inflight& inflight, ReleaseCause cause, Millis retry_after,
                    const std::string& reason, Millis now);
  void ReturnCredit(const std::string& routing_id, InflightKey ikey);
  void AuditLine(const std::string& line) { audit_->Add(line, turn_.now()); }

  const config::BrokerConfig& config_;
  Clock* clock_;
  store::Store* store_;
  TurnContext& turn_;
  Outbox& outbox_;
  AuditTrail* audit_;
  Tracking* tracking_;
  BrokerMetrics& metrics_;
  SessionTable& sessions_;
  Agencies& agencies_;
  const std::optional<security::FieldCipher>& cipher_;
  std::shared_ptr<spdlog::logger> log_;

  std::unordered_map<InflightKey, Inflight> inflight_;
  std::unordered_map<Sequence, std::shared_ptr<const store::EventPayload>> payload_cache_;
  std::deque<Sequence> payload_cache_order_;
  // Deliveries re-opened by an operator's replay: (agency, seq).
  std::unordered_set<InflightKey> replays_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace yilian::server
