// Deliveries: recovery of the queues, hand-over under credit, results,
// timeouts and lost adapters.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cstring>

#include "common/client_text.h"
#include "common/log.h"
#include "common/mask.h"
#include "delivery/state_machine.h"
#include "server/broker_impl.h"

namespace yilian::server {

using store::DeliveryRecord;
using store::DeliveryState;

Status BrokerImpl::Recover() {
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

std::shared_ptr<const store::EventPayload> BrokerImpl::PayloadFor(Sequence seq, std::string* corrupt) {
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
    StoreFailed(loaded.status());
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

Result<std::string> BrokerImpl::StoredPlaintext(const std::string& stored) const {
  if (!cipher_) return stored;
  v1::EnterpriseEvent event;
  if (!event.ParseFromString(stored)) return Status::Corruption("does not decode");
  if (Status s = cipher_->DecryptPersonal(&event); !s.ok())
    return Status::Corruption("cannot be decrypted: " + s.message());
  return EncodeDeterministic(event);
}

void BrokerImpl::CachePayload(Sequence seq, std::shared_ptr<const store::EventPayload> payload) {
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
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  const std::size_t head_size = head.ByteSizeLong();
  const std::uint32_t event_tag =
      WireFormatLite::MakeTag(v1::Deliver::kEventFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  const std::uint32_t deliver_tag =
      WireFormatLite::MakeTag(v1::Envelope::kDeliverFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  const std::size_t inner = head_size + CodedOutputStream::VarintSize32(event_tag) +
                            CodedOutputStream::VarintSize32(static_cast<std::uint32_t>(event_bytes.size())) +
                            event_bytes.size();
  std::string out;
  out.resize(CodedOutputStream::VarintSize32(deliver_tag) +
             CodedOutputStream::VarintSize32(static_cast<std::uint32_t>(inner)) + inner);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());
  p = CodedOutputStream::WriteVarint32ToArray(deliver_tag, p);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<std::uint32_t>(inner), p);
  p = head.SerializeWithCachedSizesToArray(p);
  p = CodedOutputStream::WriteVarint32ToArray(event_tag, p);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<std::uint32_t>(event_bytes.size()), p);
  std::memcpy(p, event_bytes.data(), event_bytes.size());
  return out;
}

Session* BrokerImpl::ConsumerWithCredit(int index) {
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

void BrokerImpl::StageHandOver(int index, const std::string& routing_id, Sequence seq, const std::string& event_id,
                               const delivery::UsccKey& key, const std::string& view, Millis now) {
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

void BrokerImpl::Dispatch(Millis now) {
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
      auto step = delivery::Apply(queued, {delivery::Input::kHandOver, now}, config_.retry);
      if (!step.ok()) {  // a queue item is PENDING by construction: never refused
        log_->error("hand-over of seq {} to {}: {}", item->seq, agency.id, step.status().message());
        agency.queue.Release(item->key, item->seq, item->attempts, now + config_.retry.initial_backoff_ms);
        continue;
      }
      const DeliveryRecord& record = step.value().record;
      auto updated = store_->UpdateDelivery(record, DeliveryState::kPending, item->attempts);
      if (!updated.ok()) {
        StoreFailed(updated.status());
        agency.queue.Release(item->key, item->seq, item->attempts, 0);
        break;
      }
      if (!updated.value()) {
        // Memory and store disagree (a late answer raced this hand-over):
        // the store is the truth, resynchronise the queue from it.
        auto row = store_->GetDelivery(item->seq, agency.id);
        if (!row.ok()) {
          StoreFailed(row.status());
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

void BrokerImpl::StageUnusable(int index, const delivery::AgencyQueue::Item& item, const std::string& reason,
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
    if (!updated.ok()) StoreFailed(updated.status());
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

void BrokerImpl::ReturnCredit(const std::string& routing_id, InflightKey ikey) {
  auto it = sessions_.find(routing_id);
  if (it == sessions_.end()) return;
  if (it->second.inflight.erase(ikey) && it->second.in_use > 0) --it->second.in_use;
}

void BrokerImpl::StageRelease(InflightKey ikey, const Inflight& inflight, ReleaseCause cause, Millis retry_after,
                              const std::string& reason, Millis now) {
  // Outside a transaction nothing is written: the sweep returns the
  // delivery in a later turn (its session is gone or its deadline passed).
  if (turn_.failed() || !turn_.in_transaction()) return;
  std::uint32_t index = static_cast<std::uint32_t>(ikey & 0xffff);
  Sequence seq = ikey >> 16;
  AgencyState& agency = *agencies_[index];
  const DeliveryRecord out = delivery::KnownRecord(seq, agency.id, std::string(inflight.key.view()),
                                                   DeliveryState::kDelivered, inflight.attempts);
  delivery::Step step{cause == ReleaseCause::kLostAdapter ? delivery::Input::kAdapterLost
                                                          : delivery::Input::kAckTimeout,
                      now, reason, retry_after};
  if (step.input == delivery::Input::kAckTimeout) step.jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  auto moved = delivery::Apply(out, step, config_.retry);
  if (!moved.ok()) return log_->error("release of seq {} to {}: {}", seq, agency.id, moved.status().message());
  const DeliveryRecord& record = moved.value().record;
  const bool dead = record.state == DeliveryState::kDead;
  const Millis not_before = record.next_attempt_at;
  auto updated = store_->UpdateDelivery(record, DeliveryState::kDelivered, inflight.attempts);
  if (!updated.ok()) return StoreFailed(updated.status());
  if (!updated.value()) {
    // Settled or accepted meanwhile (a result won the race): just forget it.
    turn_.OnCommit([this, ikey, rid = inflight.routing_id] {
      inflight_.erase(ikey);
      ReturnCredit(rid, ikey);
    });
    return;
  }
  AuditLine("delivery seq=" + std::to_string(seq) + " agency=" + agency.id + " DELIVERED->" +
        std::string(store::ToString(record.state)) + " attempt=" + std::to_string(inflight.attempts) + " (" + reason +
        ")");
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

void BrokerImpl::SweepInflight(Millis now) {
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

void BrokerImpl::HandleCredit(Session& session, const v1::Credit& credit) {
  if (session.role != v1::CONSUMER) {
    outbox_.SendError(session.routing_id, v1::FORBIDDEN, "only a CONSUMER has credit");
    return;
  }
  std::uint64_t total = static_cast<std::uint64_t>(session.credit) + credit.add();
  session.credit = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, config_.max_credit));
}

void BrokerImpl::HandleResult(Session& session, const v1::Result& result) {
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
    default: break;
  }
  auto moved = delivery::Apply(record, step, config_.retry);
  if (!moved.ok()) return refuse(v1::BAD_REQUEST, moved.status().message());
  record = std::move(moved.value().record);
  // What the queues do once the turn commits.
  enum class Effect { kNone, kHold, kSettle, kRelease } effect = Effect::kNone;
  if (moved.value().changed) {
    effect = record.state == DeliveryState::kAccepted  ? Effect::kHold
             : store::IsSettled(record.state)          ? Effect::kSettle
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
  outbox_.ReplyAfterCommit(rid, std::move(reply),
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
                       case Effect::kHold: agency.queue.Hold(key, seq); break;
                       case Effect::kSettle:
                         agency.queue.Settle(key, seq);
                         replays_.erase(ikey);
                         break;
                       case Effect::kRelease: agency.queue.Release(key, seq, attempts, not_before); break;
                       case Effect::kNone: break;
                     }
                   });
}

}  // namespace yilian::server
