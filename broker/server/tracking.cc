// One-stop completion tracking in the broker loop: the case state after
// each settled delivery, durable case updates for WATCHER sessions, and
// deadlines (docs/storage.md section 5, docs/protocol.md section 8).
#include "server/tracking.h"

#include <algorithm>

#include "common/log.h"
#include "store/cases.h"

namespace yilian::server {

using store::CaseState;
using store::DeliveryRecord;
using store::DeliveryState;

Tracking::Tracking(store::Store* store, TurnContext& turn, Outbox& outbox, AuditTrail& audit, BrokerMetrics& metrics,
                   SessionTable& sessions, const Agencies& agencies, std::shared_ptr<spdlog::logger> log)
    : store_(store),
      turn_(turn),
      outbox_(outbox),
      audit_(audit),
      metrics_(metrics),
      sessions_(sessions),
      agencies_(agencies),
      log_(std::move(log)) {}

Status Tracking::Recover() {
  Status s = store_->ForEachOpenCaseUpdate([&](const store::CaseUpdateRecord& r) { open_updates_.push_back(r); });
  if (!s.ok()) return s;
  s = store_->ForEachOpenCaseDeadline([&](Sequence seq, Millis due) { AddDeadline(due, seq, -1); });
  if (!s.ok()) return s;
  log_->info("recovered {} unacknowledged case updates, {} open deadlines", open_updates_.size(), deadlines_.size());
  return Status::Ok();
}

void Tracking::AddDeadline(Millis due, Sequence seq, int agency) {
  if (due > 0) deadlines_.push(Deadline{due, seq, agency});
}

void Tracking::StageCaseUpdate(Sequence seq, v1::CaseUpdateKind kind, const std::string& agency, Millis now) {
  store::CaseUpdateRecord r;
  r.seq = seq;
  r.kind = kind;
  r.agency = agency;
  r.at = now;
  auto id = store_->InsertCaseUpdate(r);
  if (!id.ok()) return turn_.Fail(id.status());
  r.id = id.value();
  turn_.OnCommit([this, r] { open_updates_.push_back(r); });
}

void Tracking::StageCaseSettled(Sequence seq, const delivery::UsccKey& key, int index, DeliveryState state,
                                Millis now) {
  turn_.AssertInLoopThread();
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

void Tracking::StageCaseRecompute(Sequence seq, Millis now, bool last_processed) {
  auto row = store_->GetCase(seq);
  if (!row.ok()) return turn_.Fail(row.status());
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
    if (!states.ok()) return turn_.Fail(states.status());
    bool all_processed = true, attention = false;
    for (const auto& [agency, state] : states.value()) {
      if (state != DeliveryState::kProcessed) all_processed = false;
      if (state == DeliveryState::kRejected || state == DeliveryState::kDead) attention = true;
    }
    next = all_processed ? CaseState::kCompleted : attention ? CaseState::kAttention : CaseState::kInProgress;
  }
  if (next == before) return;
  if (Status s = store_->SetCaseState(seq, next, next == CaseState::kCompleted ? now : 0); !s.ok())
    return turn_.Fail(s);
  audit_.Add("case seq=" + std::to_string(seq) + " " + v1::CaseState_Name(static_cast<v1::CaseState>(before)) + "->" +
                 v1::CaseState_Name(static_cast<v1::CaseState>(next)),
             turn_.now());
  if (next == CaseState::kCompleted) {
    StageCaseUpdate(seq, v1::CASE_COMPLETED, "", now);
    double seconds = static_cast<double>(now - row.value()->published_at) / 1000.0;
    turn_.OnCommit([this, seconds] { metrics_.CaseCompleted(seconds); });
  }
  if (next == CaseState::kAttention) StageCaseUpdate(seq, v1::CASE_NEEDS_ATTENTION, "", now);
}

void Tracking::DispatchCaseUpdates() {
  turn_.AssertInLoopThread();
  for (auto& [rid, session] : sessions_) {
    if (session.role != v1::WATCHER) continue;
    while (!open_updates_.empty() && session.in_use < session.credit && !turn_.failed()) {
      store::CaseUpdateRecord r = open_updates_.front();
      open_updates_.pop_front();
      auto c = store_->LoadCase(r.seq);
      if (!c.ok()) {
        open_updates_.push_front(r);
        return turn_.Fail(c.status());
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

void Tracking::HandleUpdateAck(Session& session, const v1::UpdateAck& ack) {
  if (session.role != v1::WATCHER) {
    outbox_.SendError(session.routing_id, v1::FORBIDDEN, "only a WATCHER acknowledges case updates");
    return;
  }
  if (turn_.failed() || !turn_.in_transaction()) return;  // the watcher acknowledges again after a resend
  auto acked = store_->AckCaseUpdate(ack.update_id());
  if (!acked.ok()) return turn_.Fail(acked.status());
  std::uint64_t id = ack.update_id();
  turn_.OnCommit([this, id] {
    auto it = updates_out_.find(id);
    if (it == updates_out_.end()) return;
    auto s = sessions_.find(it->second.first);
    if (s != sessions_.end() && s->second.updates.erase(id) && s->second.in_use > 0) --s->second.in_use;
    updates_out_.erase(it);
  });
}

void Tracking::SweepDeadlines(Millis now) {
  turn_.AssertInLoopThread();
  while (!deadlines_.empty() && deadlines_.top().due <= now && !turn_.failed()) {
    Deadline d = deadlines_.top();
    deadlines_.pop();
    auto row = store_->GetCase(d.seq);
    if (!row.ok()) return turn_.Fail(row.status());
    if (!row.value()) continue;
    if (d.agency < 0) {
      if (row.value()->state == CaseState::kCompleted || row.value()->overdue) continue;
      if (Status s = store_->SetCaseOverdue(d.seq); !s.ok()) return turn_.Fail(s);
      audit_.Add("case seq=" + std::to_string(d.seq) + " OVERDUE", turn_.now());
      log_->warn("case seq {} uscc {} is overdue", d.seq, row.value()->uscc);
      StageCaseUpdate(d.seq, v1::CASE_OVERDUE, "", now);
      turn_.OnCommit([this] { metrics_.Overdue(""); });
      continue;
    }
    const std::string& agency = agencies_[d.agency]->id;
    auto delivery = store_->GetDelivery(d.seq, agency);
    if (!delivery.ok()) return turn_.Fail(delivery.status());
    if (!delivery.value() || store::IsSettled(delivery.value()->state) || delivery.value()->overdue) continue;
    if (Status s = store_->SetDeliveryOverdue(d.seq, agency); !s.ok()) return turn_.Fail(s);
    if (!row.value()->overdue) {
      if (Status s = store_->SetCaseOverdue(d.seq); !s.ok()) return turn_.Fail(s);
    }
    audit_.Add("delivery seq=" + std::to_string(d.seq) + " agency=" + agency + " OVERDUE", turn_.now());
    log_->warn("delivery seq {} uscc {} agency {} is overdue", d.seq, row.value()->uscc, agency);
    StageCaseUpdate(d.seq, v1::CASE_OVERDUE, agency, now);
    turn_.OnCommit([this, agency] { metrics_.Overdue(agency); });
  }
}

void Tracking::ReturnUpdates(const Session& session) {
  // Case updates it had not acknowledged go back, in order, for the next watcher.
  std::vector<std::uint64_t> updates(session.updates.begin(), session.updates.end());
  std::sort(updates.rbegin(), updates.rend());
  for (std::uint64_t id : updates) {
    auto it = updates_out_.find(id);
    if (it == updates_out_.end()) continue;
    open_updates_.push_front(it->second.second);
    updates_out_.erase(it);
  }
}

}  // namespace yilian::server
