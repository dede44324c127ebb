// Deliveries, first half: recovery of the queues, payloads and agency
// views, and hand-over under credit (results.cc has the answers).
#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "common/mask.h"
#include "delivery/state_machine.h"
#include "server/broker_impl.h"
#include "server/deliveries.h"
#include "wire/wire.h"

namespace yilian::server {

using store::DeliveryRecord;
using store::DeliveryState;

Deliveries::Deliveries(Parts p)
    : config_(p.config),
      clock_(p.clock),
      store_(p.store),
      turn_(p.turn),
      outbox_(p.outbox),
      audit_(&p.audit),
      tracking_(&p.tracking),
      metrics_(p.metrics),
      sessions_(p.sessions),
      agencies_(p.agencies),
      cipher_(p.cipher),
      log_(std::move(p.log)) {}

Status Deliveries::Recover() {
  // Deliveries that were out with an adapter (DELIVERED) when the broker
  // stopped go back to PENDING: the adapter's answer, if any, was lost with
  // its session. The queues take them as ready; the store rows and an
  // audit record of every such transition are written in one transaction.
  std::size_t count = 0, accepted = 0;
  std::string requeued_lines;
  std::size_t requeued = 0;
  Status s = store_->ForEachUnsettled([&](const DeliveryRecord& r) {
    AgencyState& agency = *agencies_[agencies_.Index(r.agency)];
    agency.queue.Append(r.uscc, r.seq, r.attempts, r.state == DeliveryState::kPending ? r.next_attempt_at : 0);
    if (r.state == DeliveryState::kAccepted) {
      agency.queue.MarkBusy(r.uscc, r.seq);
      ++accepted;
    }
    if (r.state == DeliveryState::kDelivered) {
      requeued_lines += "delivery seq=" + std::to_string(r.seq) + " agency=" + r.agency +
                        " DELIVERED->PENDING attempt=" + std::to_string(r.attempts) + " (broker restart)\n";
      ++requeued;
    }
    int index = agencies_.Index(r.agency);
    if (r.deadline_at > 0 && !r.overdue) tracking_->AddDeadline(r.deadline_at, r.seq, index);
    if (r.replay) replays_.insert(MakeInflightKey(static_cast<std::uint32_t>(index), r.seq));
    ++count;
  });
  if (!s.ok()) return s;
  if (requeued > 0) {
    auto requeue = [&]() -> Status {
      if (auto moved = store_->RequeueDelivered(); !moved.ok()) return moved.status();
      if (auto audited = store_->AppendAudit(clock_->NowMillis(), "broker", "recovery", requeued_lines); !audited.ok())
        return audited.status();
      return store_->Commit();
    };
    if (Status b = store_->Begin(); !b.ok()) return b;
    if (Status done = requeue(); !done.ok()) {
      store_->Rollback();
      return done;
    }
  }
  auto events = store_->CountEvents();
  log_->info(
      "recovered {} stored events, {} unsettled deliveries ({} handed over before the restart, {} accepted "
      "by adapters)",
      events.ok() ? events.value() : -1, count, requeued, accepted);
  return Status::Ok();
}

std::shared_ptr<const store::EventPayload> Deliveries::PayloadFor(Sequence seq, std::string* corrupt) {
  auto it = payload_cache_.find(seq);
  if (it != payload_cache_.end()) return it->second;
  auto loaded = store_->LoadEventPayload(seq);
  if (!loaded.ok() && loaded.status().code() == StatusCode::kNotFound) {
    // Its events row was removed by hand: nothing to deliver, ever. A
    // failed turn would fail again every time the delivery comes up.
    *corrupt = "stored event seq " + std::to_string(seq) + " is missing (no events row)";
    return nullptr;
  }
  if (!loaded.ok()) {
    turn_.Fail(loaded.status());
    return nullptr;
  }
  store::EventPayload p = std::move(loaded).value();
  // The store holds personal fields encrypted; deliveries carry them in
  // clear (inside CURVE) to the agencies allowed to see them.
  auto plaintext = StoredPlaintext(p.payload);
  if (!plaintext.ok()) {
    *corrupt = "stored event seq " + std::to_string(seq) + " " + plaintext.status().message();
    return nullptr;
  }
  p.payload = std::move(plaintext).value();
  auto payload = std::make_shared<const store::EventPayload>(std::move(p));
  CachePayload(seq, payload);
  return payload;
}

Result<std::string> Deliveries::StoredPlaintext(const std::string& stored) const {
  if (!cipher_) return stored;
  v1::EnterpriseEvent event;
  if (!event.ParseFromString(stored)) return Status::Corruption("does not decode");
  if (Status s = cipher_->DecryptPersonal(&event); !s.ok())
    return Status::Corruption("cannot be decrypted: " + s.message());
  return EncodeDeterministic(event);
}

void Deliveries::CachePayload(Sequence seq, std::shared_ptr<const store::EventPayload> payload) {
  if (config_.payload_cache_entries == 0) return;
  if (!payload_cache_.emplace(seq, std::move(payload)).second) return;
  payload_cache_order_.push_back(seq);
  while (payload_cache_order_.size() > config_.payload_cache_entries) {
    payload_cache_.erase(payload_cache_order_.front());
    payload_cache_order_.pop_front();
  }
}

// The event bytes are the EnterpriseEvent's encoding, so they are appended
// as field Deliver.event as they are. One allocation; field order does not
// matter on the wire.
std::string EncodeDeliver(const v1::Deliver& head, const std::string& event_bytes) {
  const std::size_t inner =
      head.ByteSizeLong() + wire::LengthDelimitedSize(v1::Deliver::kEventFieldNumber, event_bytes.size());
  std::string out(wire::LengthDelimitedSize(v1::Envelope::kDeliverFieldNumber, inner), '\0');
  char* p = wire::WriteLengthPrefix(v1::Envelope::kDeliverFieldNumber, inner, out.data());
  p = reinterpret_cast<char*>(head.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(p)));
  wire::WriteLengthDelimited(v1::Deliver::kEventFieldNumber, event_bytes, p);
  return out;
}

Session* Deliveries::ConsumerWithCredit(int index) {
  AgencyState& agency = *agencies_[index];
  const std::size_t n = agency.consumers.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::string& rid = agency.consumers[agency.next_consumer % n];
    agency.next_consumer = (agency.next_consumer + 1) % n;
    auto it = sessions_.find(rid);
    if (it != sessions_.end() && !it->second.unreachable && it->second.in_use < it->second.credit) return &it->second;
  }
  return nullptr;
}

void Deliveries::StageHandOver(int index, const std::string& routing_id, Sequence seq, const std::string& event_id,
                               const delivery::UsccKey& key, const std::string& view, Millis now) {
  turn_.AssertInLoopThread();
  AgencyState& agency = *agencies_[index];
  Session& session = sessions_.at(routing_id);
  ++session.in_use;
  v1::Deliver head;
  head.set_event_id(event_id);
  head.set_agency(agency.id);
  head.set_uscc(std::string(key.view()));
  head.set_attempt(1);
  head.set_sequence(seq);
  AuditLine("delivery seq=" + std::to_string(seq) + " agency=" + agency.id + " PENDING->DELIVERED attempt=1");
  InflightKey ikey = MakeInflightKey(static_cast<std::uint32_t>(index), seq);
  Inflight inflight{routing_id, event_id, key, 1, now + config_.ack_timeout_ms};
  turn_.OnCommit(
      [this, routing_id, ikey, inflight = std::move(inflight), index, bytes = EncodeDeliver(head, view)]() mutable {
        metrics_.Delivered(agencies_[index]->id);
        inflight_[ikey] = std::move(inflight);
        auto it = sessions_.find(routing_id);
        if (it != sessions_.end()) it->second.inflight.insert(ikey);
        outbox_.Deliver(routing_id, std::move(bytes), ikey);
      });
  turn_.OnAbort([this, routing_id] {
    auto it = sessions_.find(routing_id);
    if (it != sessions_.end() && it->second.in_use > 0) --it->second.in_use;
  });
}

void Deliveries::Dispatch(Millis now) {
  turn_.AssertInLoopThread();
  std::uint32_t budget = config_.max_batch;
  for (std::size_t index = 0; index < agencies_.size() && budget > 0; ++index) {
    AgencyState& agency = *agencies_[index];
    std::size_t n = agency.consumers.size();
    std::size_t idle_rounds = 0;
    while (budget > 0 && n > 0 && idle_rounds < n && !turn_.failed()) {
      const std::string rid = agency.consumers[agency.next_consumer % n];
      agency.next_consumer = (agency.next_consumer + 1) % n;
      Session& session = sessions_.at(rid);
      if (session.in_use >= session.credit) {
        ++idle_rounds;
        continue;
      }
      auto item = agency.queue.PopReady(now);
      if (!item) break;
      idle_rounds = 0;
      --budget;

      std::string corrupt;
      auto payload = PayloadFor(item->seq, &corrupt);
      if (!corrupt.empty()) {
        StageUnusable(static_cast<int>(index), *item, corrupt, now);
        continue;
      }
      if (!payload || turn_.failed()) {
        agency.queue.Release(item->key, item->seq, item->attempts, 0);
        break;
      }
      auto view = ViewFor(static_cast<int>(index), payload->payload);
      if (!view.ok()) {
        StageUnusable(static_cast<int>(index), *item,
                      "stored event seq " + std::to_string(item->seq) + ": " + view.status().message(), now);
        continue;
      }
      InflightKey ikey = MakeInflightKey(static_cast<std::uint32_t>(index), item->seq);
      const bool replay = replays_.count(ikey) > 0;
      DeliveryRecord queued = delivery::KnownRecord(item->seq, agency.id, std::string(item->key.view()),
                                                    DeliveryState::kPending, item->attempts);
      queued.replay = replay;
      auto step = delivery::Apply(std::move(queued), {delivery::Input::kHandOver, now}, config_.retry);
      if (!step.ok()) {  // a queue item is PENDING by construction: never refused
        log_->error("hand-over of seq {} to {}: {}", item->seq, agency.id, step.status().message());
        agency.queue.Release(item->key, item->seq, item->attempts, now + config_.retry.initial_backoff_ms);
        continue;
      }
      const DeliveryRecord& record = step.value().record;
      auto updated = store_->UpdateDelivery(record, DeliveryState::kPending, item->attempts);
      if (!updated.ok()) {
        turn_.Fail(updated.status());
        agency.queue.Release(item->key, item->seq, item->attempts, 0);
        break;
      }
      if (!updated.value()) {
        // Memory and store disagree (a late answer raced this hand-over):
        // the store is the truth, resynchronise the queue from it.
        auto row = store_->GetDelivery(item->seq, agency.id);
        if (!row.ok()) {
          turn_.Fail(row.status());
          agency.queue.Release(item->key, item->seq, item->attempts, 0);
          break;
        }
        if (!row.value() || store::IsSettled(row.value()->state)) {
          agency.queue.Settle(item->key, item->seq);
        } else if (row.value()->state == DeliveryState::kAccepted) {
          agency.queue.Hold(item->key, item->seq);
        } else {
          agency.queue.Release(item->key, item->seq, row.value()->attempts, now + config_.retry.initial_backoff_ms);
        }
        log_->warn("delivery seq {} to {} was not PENDING with {} attempts in the store; resynchronised", item->seq,
                   agency.id, item->attempts);
        continue;
      }

      v1::Deliver head;
      head.set_event_id(payload->event_id);
      head.set_agency(agency.id);
      head.set_uscc(record.uscc);
      head.set_attempt(record.attempts);
      head.set_sequence(item->seq);
      head.set_replay(replay);
      AuditLine("delivery seq=" + std::to_string(item->seq) + " agency=" + agency.id +
            " PENDING->DELIVERED attempt=" + std::to_string(record.attempts) + (replay ? " replay" : ""));

      ++session.in_use;
      Inflight inflight{rid, payload->event_id, item->key, record.attempts, now + config_.ack_timeout_ms};
      std::string bytes = EncodeDeliver(head, view.value());
      turn_.OnCommit([this, rid, ikey, inflight, index, bytes = std::move(bytes)]() mutable {
        metrics_.Delivered(agencies_[index]->id);
        inflight_[ikey] = inflight;
        auto it = sessions_.find(rid);
        if (it != sessions_.end()) it->second.inflight.insert(ikey);
        outbox_.Deliver(rid, std::move(bytes), ikey);
      });
      turn_.OnAbort([this, index, rid, item = *item] {
        agencies_[index]->queue.Release(item.key, item.seq, item.attempts, 0);
        auto it = sessions_.find(rid);
        if (it != sessions_.end() && it->second.in_use > 0) --it->second.in_use;
      });
    }
  }
}

void Deliveries::StageUnusable(int index, const delivery::AgencyQueue::Item& item, const std::string& reason,
                               Millis now) {
  AgencyState& agency = *agencies_[index];
  const DeliveryRecord queued = delivery::KnownRecord(item.seq, agency.id, std::string(item.key.view()),
                                                      DeliveryState::kPending, item.attempts);
  auto step = delivery::Apply(queued, {delivery::Input::kUnusable, now, reason}, config_.retry);
  if (!step.ok()) {  // a queue item is PENDING by construction: never refused
    log_->error("dead letter of seq {} to {}: {}", item.seq, agency.id, step.status().message());
    return agency.queue.Release(item.key, item.seq, item.attempts, now + config_.retry.initial_backoff_ms);
  }
  const DeliveryRecord& record = step.value().record;
  auto updated = store_->UpdateDelivery(record, DeliveryState::kPending, item.attempts);
  if (!updated.ok() || !updated.value()) {
    // A store failure, or the row moved on meanwhile: try again next turn.
    if (!updated.ok()) turn_.Fail(updated.status());
    agency.queue.Release(item.key, item.seq, item.attempts, now + config_.retry.initial_backoff_ms);
    return;
  }
  log_->error("dead letter: seq {} uscc {} agency {}: {}", item.seq, record.uscc, agency.id, reason);
  AuditLine("delivery seq=" + std::to_string(item.seq) + " agency=" + agency.id + " PENDING->DEAD (" + reason + ")");
  tracking_->StageCaseSettled(item.seq, item.key, index, DeliveryState::kDead, now);
  InflightKey ikey = MakeInflightKey(static_cast<std::uint32_t>(index), item.seq);
  turn_.OnCommit([this, index, ikey, item] {
    metrics_.DeadLetter(agencies_[index]->id);
    agencies_[index]->queue.Settle(item.key, item.seq);
    replays_.erase(ikey);
  });
  turn_.OnAbort([this, index, item] { agencies_[index]->queue.Release(item.key, item.seq, item.attempts, 0); });
}

Result<std::string> Deliveries::ViewFor(int index, const std::string& plaintext) {
  return agencies_[index]->filter->PruneEncoded(plaintext);
}

void Deliveries::Reopened(int index, const std::string& uscc, Sequence seq, bool replay) {
  agencies_[index]->queue.Insert(uscc, seq);
  if (replay) replays_.insert(MakeInflightKey(static_cast<std::uint32_t>(index), seq));
}

}  // namespace yilian::server
