// Operator actions from the HTTP API (retry, replay, resolve), performed in
// the broker loop's turn: each is a transition of the delivery state
// machine or of the case, with its own audit record, answered once the
// turn's fate is known.
#include "server/operator_actions.h"

#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "delivery/state_machine.h"
#include "store/cases.h"

namespace yilian::server {

OperatorActions::OperatorActions(Parts p)
    : config_(p.config),
      store_(p.store),
      turn_(p.turn),
      audit_(&p.audit),
      tracking_(&p.tracking),
      deliveries_(&p.deliveries),
      agencies_(p.agencies),
      router_(p.router),
      log_(std::move(p.log)) {}

using store::CaseState;
using store::DeliveryRecord;
using store::DeliveryState;

namespace {
// An operator's reason as stored and audited; "operator retry: " and the
// reason fit the 1024 bytes of a delivery's reason.
constexpr std::size_t kOperatorReasonBytes = 1000;
}  // namespace

void OperatorActions::Perform(http::ActionQueue& queue, Millis now) {
  turn_.AssertInLoopThread();
  for (auto& [request, promise] : queue.Drain()) {
    // The transitions of the turn so far are recorded before the action's
    // own record: the chain keeps the order in which things happened,
    // which `yilian audit verify` relies on to know each row's last state.
    if (Status s = audit_->Flush(now, turn_.failed()); !s.ok()) turn_.Fail(s);
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

http::ActionOutcome OperatorActions::Retry(const http::ActionRequest& a, Millis now) {
  http::ActionOutcome out;
  auto seq = store_->FindSequence(a.event_id);
  if (!seq.ok()) return turn_.Fail(seq.status()), http::ActionOutcome{seq.status(), {}};
  if (!seq.value()) return {Status::NotFound("no event '" + ClientText(a.event_id, 128) + "'"), {}};
  auto found = store_->GetDelivery(*seq.value(), a.agency);
  if (!found.ok()) return turn_.Fail(found.status()), http::ActionOutcome{found.status(), {}};
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
  if (!updated.ok()) return turn_.Fail(updated.status()), http::ActionOutcome{updated.status(), {}};
  if (!updated.value()) return {Status::Unavailable("delivery changed meanwhile; try again"), {}};
  tracking_->StageCaseRecompute(r.seq, now);
  int index = agencies_.Index(a.agency);
  turn_.OnCommit([this, index, uscc = r.uscc, seq = r.seq] { deliveries_->Reopened(index, uscc, seq, false); });
  auto audit = store_->AppendAudit(now, a.actor, "retry",
                                   "event=" + a.event_id + " agency=" + a.agency +
                                       " from=" + std::string(store::ToString(before)) + " reason=" + reason);
  if (!audit.ok()) return turn_.Fail(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} retries event {} for {} (was {})", a.actor, a.event_id, a.agency, store::ToString(before));
  out.result.set_action("retry");
  out.result.set_affected(1);
  out.result.set_audit_id(audit.value());
  out.result.set_message("delivery of " + a.event_id + " to " + a.agency + " queued again");
  return out;
}

http::ActionOutcome OperatorActions::Replay(const http::ActionRequest& a, Millis now) {
  if (!router_.IsKnownAgency(a.agency))
    return {Status::NotFound("agency '" + ClientText(a.agency, 64) + "' is not configured"), {}};
  int index = agencies_.Index(a.agency);
  std::vector<DeliveryRecord> rows;
  Status s = store_->ForEachSettledSince(a.agency, a.since, [&](const DeliveryRecord& r) { rows.push_back(r); });
  if (!s.ok()) return turn_.Fail(s), http::ActionOutcome{s, {}};
  std::vector<std::pair<std::string, Sequence>> queued;
  std::string lines;  // one per re-opened delivery, for the audit record
  for (const DeliveryRecord& stored : rows) {
    const DeliveryState before = stored.state;
    const std::uint32_t attempts = stored.attempts;
    auto moved = delivery::Apply(stored, {delivery::Input::kOperatorReplay, now}, config_.retry);
    if (!moved.ok()) continue;  // only settled rows are read: not refused
    const DeliveryRecord& r = moved.value().record;
    auto updated = store_->UpdateDelivery(r, before, attempts);
    if (!updated.ok()) return turn_.Fail(updated.status()), http::ActionOutcome{updated.status(), {}};
    if (!updated.value()) continue;
    lines += "\ndelivery seq=" + std::to_string(r.seq) + " agency=" + a.agency + " " +
             std::string(store::ToString(before)) + "->PENDING replay";
    tracking_->StageCaseRecompute(r.seq, now);
    queued.emplace_back(r.uscc, r.seq);
  }
  turn_.OnCommit([this, index, queued] {
    for (const auto& [uscc, seq] : queued) {
      deliveries_->Reopened(index, uscc, seq, true);
    }
  });
  auto audit = store_->AppendAudit(now, a.actor, "replay",
                                   "agency=" + a.agency + " since=" + std::to_string(a.since) +
                                       " deliveries=" + std::to_string(queued.size()) +
                                       " reason=" + ClientText(a.reason, kOperatorReasonBytes) + lines);
  if (!audit.ok()) return turn_.Fail(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} replays {} deliveries of {} since {}", a.actor, queued.size(), a.agency, a.since);
  http::ActionOutcome out;
  out.result.set_action("replay");
  out.result.set_affected(queued.size());
  out.result.set_audit_id(audit.value());
  out.result.set_message(std::to_string(queued.size()) + " deliveries of " + a.agency + " queued for replay");
  return out;
}

http::ActionOutcome OperatorActions::Resolve(const http::ActionRequest& a, Millis now) {
  auto seq = store_->FindSequence(a.event_id);
  if (!seq.ok()) return turn_.Fail(seq.status()), http::ActionOutcome{seq.status(), {}};
  if (!seq.value()) return {Status::NotFound("no event '" + ClientText(a.event_id, 128) + "'"), {}};
  auto row = store_->GetCase(*seq.value());
  if (!row.ok()) return turn_.Fail(row.status()), http::ActionOutcome{row.status(), {}};
  if (row.value() && row.value()->state == CaseState::kCompleted)
    return {Status::FailedPrecondition("case '" + a.event_id + "' is already COMPLETED"), {}};
  const std::string reason = ClientText(a.reason, kOperatorReasonBytes);
  if (Status s = store_->SetCaseResolution(*seq.value(), "resolved by " + a.actor + ": " + reason, now); !s.ok())
    return turn_.Fail(s), http::ActionOutcome{s, {}};
  tracking_->StageCaseUpdate(*seq.value(), v1::CASE_RESOLVED, "", now);
  auto audit = store_->AppendAudit(now, a.actor, "resolve", "event=" + a.event_id + " reason=" + reason);
  if (!audit.ok()) return turn_.Fail(audit.status()), http::ActionOutcome{audit.status(), {}};
  log_->info("operator {} resolved case {} by hand", a.actor, a.event_id);
  http::ActionOutcome out;
  out.result.set_action("resolve");
  out.result.set_affected(1);
  out.result.set_audit_id(audit.value());
  out.result.set_message("case " + a.event_id + " resolved");
  return out;
}

}  // namespace yilian::server
