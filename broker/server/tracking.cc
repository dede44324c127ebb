// One-stop completion tracking in the broker loop: case state after each
// settled delivery, durable case updates for WATCHER sessions, deadlines,
// the audit trail, and operator actions from the HTTP API.
#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "delivery/state_machine.h"
#include "server/broker_impl.h"
#include "store/cases.h"

namespace yilian::server {

using store::CaseState;
using store::DeliveryRecord;
using store::DeliveryState;

Status BrokerImpl::RecoverTracking() {
  Status s = store_->ForEachOpenCaseUpdate([&](const store::CaseUpdateRecord& r) { open_updates_.push_back(r); });
  if (!s.ok()) return s;
  s = store_->ForEachOpenCaseDeadline([&](Sequence seq, Millis due) { AddDeadline(due, seq, -1); });
  if (!s.ok()) return s;
  log_->info("recovered {} unacknowledged case updates, {} open deadlines", open_updates_.size(), deadlines_.size());
  return Status::Ok();
}

void BrokerImpl::AddDeadline(Millis due, Sequence seq, int agency) {
  if (due > 0) deadlines_.push(Deadline{due, seq, agency});
}

void BrokerImpl::StageCaseUpdate(Sequence seq, v1::CaseUpdateKind kind, const std::string& agency, Millis now) {
  store::CaseUpdateRecord r;
  r.seq = seq;
  r.kind = kind;
  r.agency = agency;
  r.at = now;
  auto id = store_->InsertCaseUpdate(r);
  if (!id.ok()) return StoreFailed(id.status());
  r.id = id.value();
  turn_.OnCommit([this, r] { open_updates_.push_back(r); });
}

void BrokerImpl::StageCaseSettled(Sequence seq, const delivery::UsccKey& key, int index, DeliveryState state,
                                  Millis now) {
  settled_this_turn_.insert(MakeInflightKey(static_cast<std::uint32_t>(index), seq));
  if (state == DeliveryState::kProcessed) {
    // Every unsettled delivery is in its agency's queue; one still there
    // (and not settled earlier in this turn) keeps the case where it is.
    for (std::size_t i = 0; i < agencies_.size(); ++i) {
      if (static_cast<int>(i) == index) continue;
      if (agencies_[i]->queue.Holds(key, seq) &&
          !settled_this_turn_.count(MakeInflightKey(static_cast<std::uint32_t>(i), seq)))
        return;
    }
  }
  StageCaseRecompute(seq, now, state == DeliveryState::kProcessed);
}

void BrokerImpl::StageCaseRecompute(Sequence seq, Millis now, bool last_processed) {
  auto row = store_->GetCase(seq);
  if (!row.ok()) return StoreFailed(row.status());
  if (!row.value()) return;
  // An operator's resolution is final: later results of the case's
  // deliveries are recorded, the case stays COMPLETED.
  if (row.value()->resolved) return;
  CaseState before = row.value()->state;
  CaseState next;
  if (last_processed && before == CaseState::kInProgress) {
    // Every other delivery is settled, and none was rejected or dead: a
    // case with such a delivery was moved to attention when it settled
    // (the case state always follows from the delivery states below).
    next = CaseState::kCompleted;
  } else {
    auto states = store_->DeliveryStates(seq);
    if (!states.ok()) return StoreFailed(states.status());
    bool all_processed = true, attention = false;
    for (const auto& [agency, state] : states.value()) {
      if (state != DeliveryState::kProcessed) all_processed = false;
      if (state == DeliveryState::kRejected || state == DeliveryState::kDead) attention = true;
    }
    next = all_processed ? CaseState::kCompleted : attention ? CaseState::kAttention : CaseState::kInProgress;
  }
  if (next == before) return;
  if (Status s = store_->SetCaseState(seq, next, next == CaseState::kCompleted ? now : 0); !s.ok())
    return StoreFailed(s);
  AuditLine("case seq=" + std::to_string(seq) + " " + v1::CaseState_Name(static_cast<v1::CaseState>(before)) + "->" +
        v1::CaseState_Name(static_cast<v1::CaseState>(next)));
  if (next == CaseState::kCompleted) {
    StageCaseUpdate(seq, v1::CASE_COMPLETED, "", now);
    double seconds = static_cast<double>(now - row.value()->published_at) / 1000.0;
    turn_.OnCommit([this, seconds] { metrics_.CaseCompleted(seconds); });
  }
  if (next == CaseState::kAttention) StageCaseUpdate(seq, v1::CASE_NEEDS_ATTENTION, "", now);
}

void BrokerImpl::DispatchCaseUpdates() {
  for (auto& [rid, session] : sessions_) {
    if (session.role != v1::WATCHER) continue;
    while (!open_updates_.empty() && session.in_use < session.credit && !turn_.failed()) {
      store::CaseUpdateRecord r = open_updates_.front();
      open_updates_.pop_front();
      auto c = store_->LoadCase(r.seq);
      if (!c.ok()) {
        open_updates_.push_front(r);
        return StoreFailed(c.status());
      }
      v1::Envelope env;
      v1::CaseUpdate* u = env.mutable_case_update();
      u->set_update_id(r.id);
      u->set_kind(static_cast<v1::CaseUpdateKind>(r.kind));
      u->set_agency(r.agency);
      u->mutable_at()->set_seconds(r.at / 1000);
      u->mutable_at()->set_nanos(static_cast<int>(r.at % 1000) * 1000000);
      if (c.value()) *u->mutable_case_() = *c.value();
      ++session.in_use;
      session.updates.insert(r.id);
      updates_out_[r.id] = {rid, r};
      outbox_.Reply(rid, env);
    }
  }
}

void BrokerImpl::HandleUpdateAck(Session& session, const v1::UpdateAck& ack) {
  if (session.role != v1::WATCHER) {
    outbox_.SendError(session.routing_id, v1::FORBIDDEN, "only a WATCHER acknowledges case updates");
    return;
  }
  if (turn_.failed() || !turn_.in_transaction()) return;  // the watcher acknowledges again after a resend
  auto acked = store_->AckCaseUpdate(ack.update_id());
  if (!acked.ok()) return StoreFailed(acked.status());
  std::uint64_t id = ack.update_id();
  turn_.OnCommit([this, id] {
    auto it = updates_out_.find(id);
    if (it == updates_out_.end()) return;
    auto s = sessions_.find(it->second.first);
    if (s != sessions_.end() && s->second.updates.erase(id) && s->second.in_use > 0) --s->second.in_use;
    updates_out_.erase(it);
  });
}

void BrokerImpl::SweepDeadlines(Millis now) {
  while (!deadlines_.empty() && deadlines_.top().due <= now && !turn_.failed()) {
    Deadline d = deadlines_.top();
    deadlines_.pop();
    auto row = store_->GetCase(d.seq);
    if (!row.ok()) return StoreFailed(row.status());
    if (!row.value()) continue;
    if (d.agency < 0) {
      if (row.value()->state == CaseState::kCompleted || row.value()->overdue) continue;
      if (Status s = store_->SetCaseOverdue(d.seq); !s.ok()) return StoreFailed(s);
      AuditLine("case seq=" + std::to_string(d.seq) + " OVERDUE");
      log_->warn("case seq {} uscc {} is overdue", d.seq, row.value()->uscc);
      StageCaseUpdate(d.seq, v1::CASE_OVERDUE, "", now);
      turn_.OnCommit([this] { metrics_.Overdue(""); });
      continue;
    }
    const std::string& agency = agencies_[d.agency]->id;
    auto delivery = store_->GetDelivery(d.seq, agency);
    if (!delivery.ok()) return StoreFailed(delivery.status());
    if (!delivery.value() || store::IsSettled(delivery.value()->state) || delivery.value()->overdue) continue;
    if (Status s = store_->SetDeliveryOverdue(d.seq, agency); !s.ok()) return StoreFailed(s);
    if (!row.value()->overdue) {
      if (Status s = store_->SetCaseOverdue(d.seq); !s.ok()) return StoreFailed(s);
    }
    AuditLine("delivery seq=" + std::to_string(d.seq) + " agency=" + agency + " OVERDUE");
    log_->warn("delivery seq {} uscc {} agency {} is overdue", d.seq, row.value()->uscc, agency);
    StageCaseUpdate(d.seq, v1::CASE_OVERDUE, agency, now);
    turn_.OnCommit([this, agency] { metrics_.Overdue(agency); });
  }
}

namespace {
// An operator's reason as stored and audited; "operator retry: " and the
// reason fit the 1024 bytes of a delivery's reason.
constexpr std::size_t kOperatorReasonBytes = 1000;
}  // namespace

void BrokerImpl::HandleActions(Millis now) {
  for (auto& [request, promise] : actions_.Drain()) {
    // The transitions of the turn so far are recorded before the action's
    // own record: the chain keeps the order in which things happened,
    // which `yilian audit verify` relies on to know each row's last state.
    if (Status s = audit_->Flush(now, turn_.failed()); !s.ok()) StoreFailed(s);
    http::ActionOutcome out;
    if (turn_.failed()) {
      out.status = Status::Unavailable("store unavailable: " + turn_.error().message());
    } else {
      switch (request.kind) {
        case http::ActionRequest::Kind::kRetry:
          out = Retry(request, now);
          break;
        case http::ActionRequest::Kind::kReplay:
          out = Replay(request, now);
          break;
        case http::ActionRequest::Kind::kResolve:
          out = Resolve(request, now);
          break;
      }
    }
    if (!out.status.ok()) {
      promise.set_value(std::move(out));
      continue;
    }
    // Answered when the turn's fate is known.
    auto shared = std::make_shared<std::promise<http::ActionOutcome>>(std::move(promise));
    turn_.OnCommit([shared, out] { shared->set_value(out); });
    turn_.OnAbort([this, shared] {
      shared->set_value(http::ActionOutcome{Status::Unavailable("store unavailable: " + turn_.error().message()), {}});
    });
  }
}

http::ActionOutcome BrokerImpl::Retry(const http::ActionRequest& a, Millis now) {
  http::ActionOutcome out;
  auto seq = store_->FindSequence(a.event_id);
  if (!seq.ok()) return StoreFailed(seq.status()), http::ActionOutcome{seq.status(), {}};
  if (!seq.value()) return {Status::NotFound("no event '" + ClientText(a.event_id, 128) + "'"), {}};
  auto found = store_->GetDelivery(*seq.value(), a.agency);
  if (!found.ok()) return StoreFailed(found.status()), http::ActionOutcome{found.status(), {}};
  // The event id is a stored event's from here on (validated when it was
  // published); the agency is a configured one once its delivery is found.
  if (!found.value())
    return {Status::NotFound("event '" + a.event_id + "' is not for agency '" + ClientText(a.agency, 64) + "'"), {}};
  const DeliveryRecord& stored = *found.value();
  const std::string reason = ClientText(a.reason, kOperatorReasonBytes);
  auto moved = delivery::Apply(stored, {delivery::Input::kOperatorRetry, now, reason}, config_.retry);
  if (!moved.ok())
    return {Status::FailedPrecondition("delivery is " + std::string(store::ToString(stored.state)) +
                                       "; only REJECTED or DEAD deliveries can be retried"),
            {}};
  const DeliveryState before = stored.state;
  const std::uint32_t attempts = stored.attempts;
  const DeliveryRecord& r = moved.value().record;
  auto updated = store_->UpdateDelivery(r, before, attempts);
  if (!updated.ok()) return StoreFailed(updated.status()), http::ActionOutcome{updated.status(), {}};
  if (!updated.value()) return {Status::Unavailable("delivery changed meanwhile; try again"), {}};
  StageCaseRecompute(r.seq, now);
  int index = AgencyIndex(a.agency);
  turn_.OnCommit([this, index, uscc = r.uscc, seq = r.seq] { agencies_[index]->queue.Insert(uscc, seq); });
  auto audit = store_->AppendAudit(now, a.actor, "retry",
                                   "event=" + a.event_id + " agency=" + a.agency + " from=" +
                                       std::string(store::ToString(before)) + " reason=" + reason);
  if (!audit.ok()) return StoreFailed(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} retries event {} for {} (was {})", a.actor, a.event_id, a.agency, store::ToString(before));
  out.result.set_action("retry");
  out.result.set_affected(1);
  out.result.set_audit_id(audit.value());
  out.result.set_message("delivery of " + a.event_id + " to " + a.agency + " queued again");
  return out;
}

http::ActionOutcome BrokerImpl::Replay(const http::ActionRequest& a, Millis now) {
  if (!router_.IsKnownAgency(a.agency))
    return {Status::NotFound("agency '" + ClientText(a.agency, 64) + "' is not configured"), {}};
  int index = AgencyIndex(a.agency);
  std::vector<DeliveryRecord> rows;
  Status s = store_->ForEachSettledSince(a.agency, a.since, [&](const DeliveryRecord& r) { rows.push_back(r); });
  if (!s.ok()) return StoreFailed(s), http::ActionOutcome{s, {}};
  std::vector<std::pair<std::string, Sequence>> queued;
  std::string lines;  // one per re-opened delivery, for the audit record
  for (const DeliveryRecord& stored : rows) {
    const DeliveryState before = stored.state;
    const std::uint32_t attempts = stored.attempts;
    auto moved = delivery::Apply(stored, {delivery::Input::kOperatorReplay, now}, config_.retry);
    if (!moved.ok()) continue;  // only settled rows are read: not refused
    const DeliveryRecord& r = moved.value().record;
    auto updated = store_->UpdateDelivery(r, before, attempts);
    if (!updated.ok()) return StoreFailed(updated.status()), http::ActionOutcome{updated.status(), {}};
    if (!updated.value()) continue;
    lines += "\ndelivery seq=" + std::to_string(r.seq) + " agency=" + a.agency + " " +
             std::string(store::ToString(before)) + "->PENDING replay";
    StageCaseRecompute(r.seq, now);
    queued.emplace_back(r.uscc, r.seq);
  }
  turn_.OnCommit([this, index, queued] {
    for (const auto& [uscc, seq] : queued) {
      agencies_[index]->queue.Insert(uscc, seq);
      replays_.insert(MakeInflightKey(static_cast<std::uint32_t>(index), seq));
    }
  });
  auto audit = store_->AppendAudit(now, a.actor, "replay",
                                   "agency=" + a.agency + " since=" + std::to_string(a.since) +
                                       " deliveries=" + std::to_string(queued.size()) +
                                       " reason=" + ClientText(a.reason, kOperatorReasonBytes) + lines);
  if (!audit.ok()) return StoreFailed(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} replays {} deliveries of {} since {}", a.actor, queued.size(), a.agency, a.since);
  http::ActionOutcome out;
  out.result.set_action("replay");
  out.result.set_affected(queued.size());
  out.result.set_audit_id(audit.value());
  out.result.set_message(std::to_string(queued.size()) + " deliveries of " + a.agency + " queued for replay");
  return out;
}

http::ActionOutcome BrokerImpl::Resolve(const http::ActionRequest& a, Millis now) {
  auto seq = store_->FindSequence(a.event_id);
  if (!seq.ok()) return StoreFailed(seq.status()), http::ActionOutcome{seq.status(), {}};
  if (!seq.value()) return {Status::NotFound("no event '" + ClientText(a.event_id, 128) + "'"), {}};
  auto row = store_->GetCase(*seq.value());
  if (!row.ok()) return StoreFailed(row.status()), http::ActionOutcome{row.status(), {}};
  if (row.value() && row.value()->state == CaseState::kCompleted)
    return {Status::FailedPrecondition("case '" + a.event_id + "' is already COMPLETED"), {}};
  const std::string reason = ClientText(a.reason, kOperatorReasonBytes);
  if (Status s = store_->SetCaseResolution(*seq.value(), "resolved by " + a.actor + ": " + reason, now); !s.ok())
    return StoreFailed(s), http::ActionOutcome{s, {}};
  StageCaseUpdate(*seq.value(), v1::CASE_RESOLVED, "", now);
  auto audit = store_->AppendAudit(now, a.actor, "resolve", "event=" + a.event_id + " reason=" + reason);
  if (!audit.ok()) return StoreFailed(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} resolved case {} by hand", a.actor, a.event_id);
  http::ActionOutcome out;
  out.result.set_action("resolve");
  out.result.set_affected(1);
  out.result.set_audit_id(audit.value());
  out.result.set_message("case " + a.event_id + " resolved");
  return out;
}

}  // namespace yilian::server
