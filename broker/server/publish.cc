// Publishing: the publish path end to end, one way: decode and validate
// ahead (Predecode), then check, store and hand over in the turn
// (HandlePublish); the confirm leaves only after the turn's commit.
#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "common/mask.h"
#include "server/broker_impl.h"
#include "server/publish_wire.h"
#include "server/publishing.h"

namespace yilian::server {

namespace {

// Whether two encodings of an EnterpriseEvent hold the same event: equal
// bytes, or equal deterministic encodings (a publisher's encoder may order
// fields differently from another's).
bool SameEvent(const std::string& a, const std::string& b) {
  if (a == b) return true;
  v1::EnterpriseEvent ea, eb;
  return ea.ParseFromString(a) && eb.ParseFromString(b) && EncodeDeterministic(ea) == EncodeDeterministic(eb);
}

}  // namespace

Publishing::Publishing(Parts p)
    : config_(p.config),
      clock_(p.clock),
      store_(p.store),
      turn_(p.turn),
      outbox_(p.outbox),
      metrics_(p.metrics),
      router_(p.router),
      agencies_(p.agencies),
      deliveries_(&p.deliveries),
      tracking_(&p.tracking),
      cipher_(p.cipher),
      archived_content_(std::move(p.archived_content)),
      log_(std::move(p.log)) {
  validation_options_.max_event_bytes = config_.max_event_bytes;
  validation_options_.strict_uscc_checksum = config_.strict_uscc_checksum;
  // Publishes arrive as Protobuf; the parser has verified UTF-8 (proto3).
  validation_options_.utf8_already_verified = true;
}

void Publishing::BeginTurn() {
  if (filters_.size() == agencies_.size()) return;
  filters_.clear();
  for (const auto& a : agencies_) filters_.emplace_back(a->id, &*a->filter);
}

std::string_view Publishing::DecodePublish(const zmq::message_t& body, v1::Envelope* env,
                                           google::protobuf::Arena* arena) {
  auto view = ScanPublish(std::string_view(static_cast<const char*>(body.data()), body.size()));
  if (!view) return {};
  auto* event = google::protobuf::Arena::CreateMessage<v1::EnterpriseEvent>(arena);
  if (!event->ParseFromArray(view->event.data(), static_cast<int>(view->event.size()))) return {};
  v1::Publish* publish = env->mutable_publish();
  publish->set_correlation_id(view->correlation_id);
  publish->unsafe_arena_set_allocated_event(event);
  return view->event;
}

void Publishing::Predecode(Incoming& in, google::protobuf::Arena* arena) const {
  // Decoded on a turn arena: one reset per turn instead of a free per
  // field. Nothing of it may outlive the turn (effects copy what they keep).
  auto* env = google::protobuf::Arena::CreateMessage<v1::Envelope>(arena);
  // A Publish is decoded with its event's bytes kept: they are what the
  // store keeps and the agencies receive, with no second encoding.
  in.raw_event = DecodePublish(in.body, env, arena);
  if (in.raw_event.empty() && !env->ParseFromArray(in.body.data(), static_cast<int>(in.body.size()))) return;
  in.env = env;
  if (!env->has_publish() || !env->publish().has_event()) return;
  const v1::EnterpriseEvent& event = env->publish().event();
  in.errors = validation::Validate(event, validation_options_);
  in.validated = true;
  if (!in.errors.empty()) return;
  in.route = router_.Route(event);
  // The agencies' views of a valid event as published: what hand-overs in
  // this turn send.
  if (in.raw_event.empty() || !in.route->ok()) return;
  for (const auto& id : in.route->value()) {
    auto f = std::find_if(filters_.begin(), filters_.end(), [&](const auto& e) { return e.first == id; });
    if (f == filters_.end()) continue;
    auto view = f->second->PruneEncoded(in.raw_event);
    if (view.ok()) in.views.emplace_back(id, std::move(view).value());
  }
}

void Publishing::HandlePublish(Session& session, const v1::Publish& publish, Incoming& in) {
  turn_.AssertInLoopThread();
  const std::string_view raw_event = in.raw_event;
  const std::string rid = session.routing_id;
  v1::Envelope reply;
  v1::PublishAck* ack = reply.mutable_publish_ack();
  ack->set_correlation_id(publish.correlation_id());
  ack->set_event_id(TruncateUtf8(publish.event().event_id(), 128));
  auto refuse = [&](v1::ErrorCode code, const std::string& message) {
    ack->set_status(v1::REFUSED);
    ack->set_error(code);
    ack->set_message(ScrubPersonalData(message));
    metrics_.Published("refused");
    outbox_.Reply(rid, reply);
  };
  auto refuse_for_store = [&](const Status& status) {
    metrics_.Published("refused");
    outbox_.RefuseForStore(rid, reply, status);
  };

  if (session.role != v1::PUBLISHER) {
    log_->warn("session {} ('{}') is not a publisher but sent Publish", session.session_id, session.name);
    return refuse(v1::FORBIDDEN, "this session's role may not publish");
  }
  if (++session.publishes_this_turn > config_.max_inflight_publishes) {
    return refuse(v1::OVER_LIMIT, "more than limits.max_inflight_publishes (" +
                                      std::to_string(config_.max_inflight_publishes) + ") unconfirmed publishes");
  }
  if (!publish.has_event()) return refuse(v1::INVALID_EVENT, "Publish.event is missing");
  const v1::EnterpriseEvent& event = publish.event();

  // Predecode ran on every message of the turn: an event that decoded was
  // validated and, when valid, routed.
  const std::vector<validation::FieldError>& errors = in.errors;
  if (!errors.empty()) {
    for (const auto& e : errors) {
      auto* out = ack->add_errors();
      out->set_path(e.path);
      out->set_code(e.code);
      out->set_message(e.message);
    }
    // Not validated: the event id and USCC may hold anything.
    log_->info("refused event {} uscc {}: {} validation error(s), first {} {}", ClientText(event.event_id(), 128),
               ClientText(event.uscc(), 64), errors.size(), errors[0].path, errors[0].code);
    return refuse(v1::INVALID_EVENT, std::to_string(errors.size()) + " validation error(s); first: " + errors[0].path +
                                         ": " + errors[0].message);
  }
  if (turn_.failed()) return refuse_for_store(Status::Ok());

  // Stored and delivered as the publisher encoded it (the bytes decoded to
  // `event`, so they hold the same event); otherwise encoded here.
  std::string payload = raw_event.empty() ? EncodeDeterministic(event) : std::string(raw_event);

  // Answers a publish whose event_id is stored: confirmed again as a
  // duplicate if it holds the same event, refused as a conflict if not.
  // False, with nothing sent, if no such event is stored.
  auto answer_stored = [&]() -> bool {
    auto existing = store_->FindEvent(event.event_id());
    if (!existing.ok()) {
      refuse_for_store(existing.status());
      return true;
    }
    if (!existing.value().has_value()) return false;
    const store::EventSummary& found = *existing.value();
    if (found.archived) {
      // Past the retention: its rows are in an archive file, and the store
      // keeps the hash of its plaintext to compare a publish with.
      const std::string content = archived_content_ ? archived_content_(payload) : std::string();
      if (content.empty() || content != found.content) {
        log_->warn("conflict: archived event {} published again {}", event.event_id(),
                   content.empty() ? "(cannot be compared)" : "with different content");
        refuse(v1::CONFLICT, "event_id '" + event.event_id() + "' was already published (now archived) " +
                                 (content.empty() ? "and cannot be compared" : "with different content"));
        return true;
      }
    } else {
      // A duplicate holds the same event as the stored one (stored payloads
      // are encrypted with a fresh IV each time, so they are decrypted to
      // compare).
      auto stored_plaintext = deliveries_->StoredPlaintext(found.payload);
      if (!stored_plaintext.ok()) {
        log_->error("event {} (seq {}) is stored but {}", event.event_id(), found.seq,
                    stored_plaintext.status().message());
        refuse(v1::CONFLICT,
               "event_id '" + event.event_id() + "' was already published; its stored copy cannot be compared");
        return true;
      }
      if (!SameEvent(stored_plaintext.value(), payload)) {
        log_->warn("conflict: event {} published again with different content", event.event_id());
        refuse(v1::CONFLICT, "event_id '" + event.event_id() + "' was already published with different content");
        return true;
      }
    }
    ack->set_status(v1::DUPLICATE);
    ack->set_sequence(found.seq);
    for (const auto& a : found.agencies) ack->add_agencies(a);
    // A duplicate may race the original's commit in this same turn: confirm
    // only after the turn commits, like the original.
    outbox_.ReplyAfterCommit(rid, reply, [this] { metrics_.Published("duplicate"); });
    return true;
  };

  // A stored event's revision is at most its enterprise's accepted
  // revision, so a duplicate is never newer: the event_id is looked up only
  // for a publish that is not newer, and a newer one with a stored event_id
  // (a conflict) is caught by the insert.
  auto last = store_->LastRevision(event.uscc());
  if (!last.ok()) return refuse_for_store(last.status());
  if (event.revision() <= last.value()) {
    if (answer_stored()) return;
    ack->set_current_revision(last.value());
    return refuse(v1::STALE_REVISION, "revision " + std::to_string(event.revision()) + " of " + event.uscc() +
                                          " is not newer than the accepted revision " + std::to_string(last.value()));
  }

  auto agencies = std::move(*in.route);
  if (!agencies.ok()) return refuse(v1::UNROUTABLE, agencies.status().message());
  // Enterprise relations: a change or deregistration also goes to every bank
  // that holds the enterprise's account, reservation or not.
  if (event.type() == v1::CHANGED || event.type() == v1::DEREGISTERED) {
    auto banks = store_->BanksHolding(event.uscc());
    if (!banks.ok()) return refuse_for_store(banks.status());
    for (const auto& bank : banks.value()) {
      auto& list = agencies.value();
      if (std::find(list.begin(), list.end(), bank) == list.end() && router_.RuleActs(bank, event)) {
        list.insert(std::lower_bound(list.begin(), list.end(), bank), bank);
      }
    }
  }

  store::StoredEvent stored;
  stored.event_id = event.event_id();
  stored.uscc = event.uscc();
  stored.revision = event.revision();
  stored.type = event.type();
  stored.agencies = std::move(agencies).value();
  if (cipher_) {
    v1::EnterpriseEvent sealed = event;
    if (Status s = cipher_->EncryptPersonal(&sealed); !s.ok()) {
      return refuse(v1::INVALID_EVENT, "personal fields cannot be encrypted: " + s.message());
    }
    stored.payload = EncodeDeterministic(sealed);
  }
  Millis now = clock_->NowMillis();
  stored.published_at = now;
  // The case views' copy, shown by the API and the dashboard: validation
  // leaves control characters in text fields (the event itself is stored
  // and delivered as published). 2048 bytes hold any escaped name of at
  // most validation's 512.
  stored.enterprise_name = ClientText(event.enterprise().name(), 2048);
  for (const auto& a : stored.agencies) {
    const config::AgencyConfig* rule = router_.RuleFor(a);
    stored.agency_deadlines.push_back(rule && rule->deadline_ms ? now + rule->deadline_ms : 0);
  }
  stored.case_deadline_at = config_.case_deadline_ms && !stored.agencies.empty() ? now + config_.case_deadline_ms : 0;

  // Hand over at once where nothing of this enterprise is unsettled at the
  // agency and an adapter has credit: the delivery is stored DELIVERED in
  // this turn's transaction and leaves right after the commit, instead of
  // being stored PENDING, handed over in a later turn and updated.
  std::vector<int> indexes;
  for (const auto& a : stored.agencies) indexes.push_back(agencies_.Index(a));
  const delivery::UsccKey key = delivery::UsccKey::From(event.uscc());
  std::vector<std::string> direct(indexes.size());
  std::vector<std::string> views(indexes.size());
  stored.handed_over.assign(indexes.size(), false);
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    AgencyState& agency = *agencies_[indexes[i]];
    const bool idle = !agency.queue.HasEnterprise(key) && !agency.staged.count(key);
    agency.staged.insert(key);
    if (!idle) continue;
    Session* consumer = deliveries_->ConsumerWithCredit(indexes[i]);
    if (consumer == nullptr) continue;
    // Computed ahead by Predecode when the agency was known then.
    auto ahead =
        std::find_if(in.views.begin(), in.views.end(), [&](const auto& v) { return v.first == stored.agencies[i]; });
    if (ahead != in.views.end()) {
      views[i] = std::move(ahead->second);
    } else {
      auto view = deliveries_->ViewFor(indexes[i], payload);
      if (!view.ok()) continue;  // cannot happen for an event just encoded; the queue will dead-letter it
      views[i] = std::move(view).value();
    }
    direct[i] = consumer->routing_id;
    stored.handed_over[i] = true;
  }

  // Without a data key the stored form is the plaintext: lent to the
  // store, not copied.
  if (!cipher_) stored.payload = std::move(payload);
  auto seq = store_->InsertEvent(stored, now);
  if (!cipher_) payload = std::move(stored.payload);
  if (!seq.ok() && seq.status().code() == StatusCode::kConflict) {
    if (!answer_stored()) refuse(v1::CONFLICT, "event_id '" + event.event_id() + "' was already published");
    return;
  }
  if (!seq.ok()) return refuse_for_store(seq.status());

  ack->set_status(v1::ACCEPTED);
  ack->set_sequence(seq.value());
  for (const auto& a : stored.agencies) ack->add_agencies(a);
  Sequence s = seq.value();
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    if (direct[i].empty()) continue;
    deliveries_->StageHandOver(indexes[i], direct[i], s, stored.event_id, key, views[i], now);
  }
  // A case no agency must act on (e.g. most filings) is complete at once.
  if (stored.agencies.empty()) tracking_->StageCaseUpdate(s, v1::CASE_COMPLETED, "", now);
  std::vector<Millis> deadlines = stored.agency_deadlines;
  Millis case_deadline = stored.case_deadline_at;
  auto cached =
      std::make_shared<const store::EventPayload>(store::EventPayload{std::move(stored.event_id), std::move(payload)});
  outbox_.ReplyAfterCommit(
      rid, std::move(reply),
      [this, s, indexes = std::move(indexes), uscc = std::move(stored.uscc), cached = std::move(cached),
       deadlines = std::move(deadlines), handed_over = std::move(stored.handed_over), case_deadline] {
        for (std::size_t i = 0; i < indexes.size(); ++i) {
          AgencyState& agency = *agencies_[indexes[i]];
          if (!handed_over[i]) {
            agency.queue.Append(uscc, s);
          } else if (!agency.queue.AppendHandedOver(uscc, s)) {
            // Cannot happen (the enterprise was idle here when
            // staged); keep the order and let the delivery's ack
            // timeout send it again.
            log_->error("seq {} handed over to {} while the enterprise had unsettled events there", s, agency.id);
            agency.queue.Append(uscc, s, 1);
          }
          tracking_->AddDeadline(deadlines[i], s, indexes[i]);
        }
        tracking_->AddDeadline(case_deadline, s, -1);
        log_->debug("accepted event {} uscc {} seq {} for {} agencies", cached->event_id, uscc, s, indexes.size());
        deliveries_->CachePayload(s, cached);
        metrics_.Published("accepted");
      });
}

}  // namespace yilian::server
