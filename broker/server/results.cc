// Deliveries, second half: what adapters answer (results, credit), and what
// becomes of a delivery nobody answers (ack timeout, lost adapter), each
// through the delivery state machine.
#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "common/mask.h"
#include "delivery/state_machine.h"
#include "server/deliveries.h"

namespace yilian::server {

using store::DeliveryRecord;
using store::DeliveryState;

void Deliveries::ReturnCredit(const std::string& routing_id, InflightKey ikey) {
  auto it = sessions_.find(routing_id);
  if (it == sessions_.end()) return;
  if (it->second.inflight.erase(ikey) && it->second.in_use > 0) --it->second.in_use;
}

void Deliveries::StageRelease(InflightKey ikey, const Inflight& inflight, ReleaseCause cause, Millis retry_after,
                              const std::string& reason, Millis now) {
  // Outside a transaction nothing is written: the sweep returns the
  // delivery in a later turn (its session is gone or its deadline passed).
  if (turn_.failed() || !turn_.in_transaction()) return;
  std::uint32_t index = static_cast<std::uint32_t>(ikey & 0xffff);
  Sequence seq = ikey >> 16;
  AgencyState& agency = *agencies_[index];
  DeliveryRecord out = delivery::KnownRecord(seq, agency.id, std::string(inflight.key.view()),
                                                   DeliveryState::kDelivered, inflight.attempts);
  delivery::Step step{
      cause == ReleaseCause::kLostAdapter ? delivery::Input::kAdapterLost : delivery::Input::kAckTimeout, now, reason,
      retry_after};
  if (step.input == delivery::Input::kAckTimeout) step.jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  auto moved = delivery::Apply(std::move(out), step, config_.retry);
  if (!moved.ok()) return log_->error("release of seq {} to {}: {}", seq, agency.id, moved.status().message());
  const DeliveryRecord& record = moved.value().record;
  const bool dead = record.state == DeliveryState::kDead;
  const Millis not_before = record.next_attempt_at;
  auto updated = store_->UpdateDelivery(record, DeliveryState::kDelivered, inflight.attempts);
  if (!updated.ok()) return turn_.Fail(updated.status());
  if (!updated.value()) {
    // Settled or accepted meanwhile (a result won the race): just forget it.
    turn_.OnCommit([this, ikey, rid = inflight.routing_id] {
      inflight_.erase(ikey);
      ReturnCredit(rid, ikey);
    });
    return;
  }
  AuditLine("delivery seq=" + std::to_string(seq) + " agency=" + agency.id + " DELIVERED->" +
            std::string(store::ToString(record.state)) + " attempt=" + std::to_string(inflight.attempts) + " (" +
            reason + ")");
  if (dead) {
    log_->warn("dead letter: seq {} uscc {} agency {} after {} attempts ({})", seq, record.uscc, agency.id,
               inflight.attempts, reason);
    tracking_->StageCaseSettled(seq, inflight.key, static_cast<int>(index), DeliveryState::kDead, now);
  } else {
    log_->info("redelivery scheduled: seq {} uscc {} agency {} attempt {} in {} ms ({})", seq, record.uscc, agency.id,
               inflight.attempts + 1, not_before ? not_before - now : 0, reason);
  }
  turn_.OnCommit([this, ikey, index, inflight, dead, not_before] {
    inflight_.erase(ikey);
    ReturnCredit(inflight.routing_id, ikey);
    Sequence s = ikey >> 16;
    if (dead) {
      metrics_.DeadLetter(agencies_[index]->id);
      agencies_[index]->queue.Settle(inflight.key, s);
      replays_.erase(ikey);
    } else {
      metrics_.Retry(agencies_[index]->id);
      agencies_[index]->queue.Release(inflight.key, s, inflight.attempts, not_before);
    }
  });
}

void Deliveries::SweepInflight(Millis now) {
  turn_.AssertInLoopThread();
  std::vector<std::pair<InflightKey, Inflight>> expired;
  for (const auto& [ikey, inf] : inflight_) {
    bool lost = !sessions_.count(inf.routing_id);
    if (lost || inf.deadline <= now) expired.emplace_back(ikey, inf);
  }
  for (const auto& [ikey, inf] : expired) {
    bool lost = !sessions_.count(inf.routing_id);
    StageRelease(ikey, inf, lost ? ReleaseCause::kLostAdapter : ReleaseCause::kTimeout, 0,
                 lost ? "adapter connection lost" : "no answer within delivery.ack_timeout_ms", now);
  }
}

void Deliveries::HandleCredit(Session& session, const v1::Credit& credit) {
  if (session.role != v1::CONSUMER) {
    outbox_.SendError(session.routing_id, v1::FORBIDDEN, "only a CONSUMER has credit");
    return;
  }
  std::uint64_t total = static_cast<std::uint64_t>(session.credit) + credit.add();
  session.credit = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, config_.max_credit));
}

void Deliveries::HandleResult(Session& session, const v1::Result& result) {
  turn_.AssertInLoopThread();
  const std::string rid = session.routing_id;
  v1::Envelope reply;
  v1::ResultAck* ack = reply.mutable_result_ack();
  ack->set_event_id(TruncateUtf8(result.event_id(), 128));
  ack->set_agency(TruncateUtf8(result.agency(), 64));
  auto refuse = [&](v1::ErrorCode code, const std::string& message) {
    ack->set_status(v1::RESULT_REFUSED);
    ack->set_error(code);
    ack->set_message(message);
    outbox_.Reply(rid, reply);
  };
  if (session.role != v1::CONSUMER) {
    log_->warn("session {} ('{}') is not a consumer but sent Result", session.session_id, session.name);
    return refuse(v1::FORBIDDEN, "this session's role may not send results");
  }
  const std::string& agency_id = agencies_[session.agency]->id;
  if (!result.agency().empty() && result.agency() != agency_id) {
    log_->warn("session {} of agency {} sent a result for agency '{}'", session.session_id, agency_id,
               ClientText(result.agency(), 64));
    return refuse(v1::FORBIDDEN, "a session of agency '" + agency_id + "' may not answer for another agency");
  }
  ack->set_agency(agency_id);
  v1::Outcome outcome = result.outcome();
  if (outcome != v1::OUTCOME_ACCEPTED && outcome != v1::OUTCOME_PROCESSED && outcome != v1::OUTCOME_REJECTED &&
      outcome != v1::OUTCOME_RETRY) {
    return refuse(v1::BAD_REQUEST, "Result.outcome must be ACCEPTED, PROCESSED, REJECTED or RETRY");
  }
  if (turn_.failed()) return outbox_.RefuseForStore(rid, reply, Status::Ok());

  // Fast path: the answer to a delivery this broker has outstanding; its
  // stored state is known to be DELIVERED with the inflight attempts.
  std::optional<DeliveryRecord> known;
  if (result.sequence() != 0) {
    auto inf = inflight_.find(MakeInflightKey(static_cast<std::uint32_t>(session.agency), result.sequence()));
    if (inf != inflight_.end() && inf->second.event_id == result.event_id()) {
      known = delivery::KnownRecord(result.sequence(), agency_id, std::string(inf->second.key.view()),
                                    DeliveryState::kDelivered, inf->second.attempts);
    }
  }
  if (!known) {
    auto seq = store_->FindSequence(result.event_id());
    if (!seq.ok()) return outbox_.RefuseForStore(rid, reply, seq.status());
    if (!seq.value()) return refuse(v1::UNKNOWN_DELIVERY, "no event '" + ack->event_id() + "'");
    auto found = store_->GetDelivery(*seq.value(), agency_id);
    if (!found.ok()) return outbox_.RefuseForStore(rid, reply, found.status());
    if (!found.value()) {
      return refuse(v1::UNKNOWN_DELIVERY, "event '" + ack->event_id() + "' is not for agency '" + agency_id + "'");
    }
    known = std::move(found).value();
  }
  DeliveryRecord record = std::move(*known);
  const DeliveryState before = record.state;
  const std::uint32_t attempts = record.attempts;
  if (store::IsSettled(before)) {
    // Read inside this turn's transaction: true only once the turn commits.
    ack->set_status(v1::RESULT_ALREADY_SETTLED);
    ack->set_message(std::string("already ") + std::string(store::ToString(before)));
    outbox_.ReplyAfterCommit(rid, reply);
    return;
  }
  if (attempts == 0) return refuse(v1::UNKNOWN_DELIVERY, "event '" + ack->event_id() + "' was not handed over yet");

  Millis now = clock_->NowMillis();
  int index = session.agency;
  InflightKey ikey = MakeInflightKey(static_cast<std::uint32_t>(index), record.seq);
  delivery::UsccKey key = delivery::UsccKey::From(record.uscc);
  delivery::Step step{delivery::Input::kAccepted, now};
  switch (outcome) {
    case v1::OUTCOME_PROCESSED:
      step.input = delivery::Input::kProcessed;
      step.text = ClientText(result.reference(), 256);
      break;
    case v1::OUTCOME_REJECTED:
      step.input = delivery::Input::kRejected;
      step.text = ClientText(result.reason(), 1024);
      break;
    case v1::OUTCOME_RETRY:
      step.input = delivery::Input::kRetry;
      step.text = ClientText(result.reason(), 1024);
      step.retry_after_ms = static_cast<Millis>(result.retry_after_ms());
      step.jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
      break;
    default:
      break;
  }
  auto moved = delivery::Apply(std::move(record), step, config_.retry);
  if (!moved.ok()) return refuse(v1::BAD_REQUEST, moved.status().message());
  record = std::move(moved.value().record);
  // What the queues do once the turn commits.
  enum class Effect { kNone, kHold, kSettle, kRelease } effect = Effect::kNone;
  if (moved.value().changed) {
    effect = record.state == DeliveryState::kAccepted ? Effect::kHold
             : store::IsSettled(record.state)         ? Effect::kSettle
                                                      : Effect::kRelease;
  }
  const Millis not_before = record.next_attempt_at;
  if (effect == Effect::kSettle && step.input == delivery::Input::kRetry)
    log_->warn("dead letter: seq {} uscc {} agency {} after {} attempts (agency asked to retry: {})", record.seq,
               record.uscc, agency_id, attempts, record.reason);

  if (effect != Effect::kNone) {
    auto updated = store_->UpdateDelivery(record, before, attempts);
    if (!updated.ok()) return outbox_.RefuseForStore(rid, reply, updated.status());
    if (!updated.value()) return refuse(v1::STORE_UNAVAILABLE, "delivery changed concurrently; send again");
    AuditLine("delivery seq=" + std::to_string(record.seq) + " agency=" + agency_id + " " +
              std::string(store::ToString(before)) + "->" + std::string(store::ToString(record.state)) +
              " attempt=" + std::to_string(attempts) + " by=" + session.name);
    if (record.state == DeliveryState::kProcessed && !record.reference.empty() && agency_id.rfind("bank:", 0) == 0) {
      // The bank that now holds the account: later changes and the
      // deregistration go to it too (other agencies' references are read
      // from the delivery rows).
      if (Status s = store_->UpsertReference(record.uscc, agency_id, record.reference, now); !s.ok())
        return outbox_.RefuseForStore(rid, reply, s);
    }
    if (effect == Effect::kSettle) tracking_->StageCaseSettled(record.seq, key, index, record.state, now);
  }
  log_->debug("result {} for event {} seq {} uscc {} agency {} attempt {}", v1::Outcome_Name(outcome), ack->event_id(),
              record.seq, record.uscc, agency_id, attempts);

  ack->set_status(v1::RESULT_RECORDED);
  std::string outcome_name = outcome == v1::OUTCOME_ACCEPTED    ? "accepted"
                             : outcome == v1::OUTCOME_PROCESSED ? "processed"
                             : outcome == v1::OUTCOME_REJECTED  ? "rejected"
                                                                : "retry";
  bool dead_now = record.state == DeliveryState::kDead && effect != Effect::kNone;
  outbox_.ReplyAfterCommit(
      rid, std::move(reply),
      [this, ikey, index, key, seq = record.seq, effect, attempts, not_before, outcome_name, dead_now] {
        auto inf = inflight_.find(ikey);
        if (inf != inflight_.end()) {
          ReturnCredit(inf->second.routing_id, ikey);
          inflight_.erase(inf);
        }
        AgencyState& agency = *agencies_[index];
        metrics_.Result(agency.id, outcome_name);
        if (effect == Effect::kRelease) metrics_.Retry(agency.id);
        if (dead_now) metrics_.DeadLetter(agency.id);
        switch (effect) {
          case Effect::kHold:
            agency.queue.Hold(key, seq);
            break;
          case Effect::kSettle:
            agency.queue.Settle(key, seq);
            replays_.erase(ikey);
            break;
          case Effect::kRelease:
            agency.queue.Release(key, seq, attempts, not_before);
            break;
          case Effect::kNone:
            break;
        }
      });
}

void Deliveries::ReleaseSession(const Session& session, Millis now) {
  turn_.AssertInLoopThread();
  for (InflightKey ikey : session.inflight) {
    auto inf = inflight_.find(ikey);
    if (inf == inflight_.end()) continue;
    // The inflight entry stays until the release commits; the sweep retries
    // it if this turn is rolled back, since its session is gone.
    StageRelease(ikey, inf->second, ReleaseCause::kLostAdapter, 0, "adapter connection lost", now);
  }
}

void Deliveries::Unsent(InflightKey delivery, Millis now) {
  // Not handed over: let the sweep return it to the queue at once.
  auto inf = inflight_.find(delivery);
  if (inf != inflight_.end()) inf->second.deadline = now;
}

}  // namespace yilian::server
