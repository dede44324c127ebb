#include "server/broker.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <set>

#include "common/client_text.h"
#include "common/log.h"
#include "common/mask.h"
#include "server/broker_impl.h"
#include "server/publish_wire.h"

namespace yilian::server {

namespace {
constexpr Millis kSweepIntervalMs = 100;
}  // namespace

// ---------------------------------------------------------------- Broker

Broker::Broker(std::unique_ptr<BrokerImpl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;

Result<std::unique_ptr<Broker>> Broker::Create(const config::BrokerConfig& config, Clock* clock) {
  auto impl = std::make_unique<BrokerImpl>(config, clock);
  if (Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Status Broker::Run() { return impl_->Run(); }
void Broker::Stop() { impl_->Stop(); }

// ---------------------------------------------------------------- BrokerImpl

namespace {

// The session classes that keep a slot in reserve (SessionQuota): the
// publisher, the watcher and each configured agency rule.
std::set<std::string> ReservedSessionClasses(const config::BrokerConfig& config) {
  std::set<std::string> classes = {SessionQuota::Class(SessionQuota::Kind::kPublisher, ""),
                                   SessionQuota::Class(SessionQuota::Kind::kWatcher, "")};
  for (const auto& a : config.agencies) classes.insert(SessionQuota::Class(SessionQuota::Kind::kAgency, a.id));
  return classes;
}

}  // namespace

BrokerImpl::BrokerImpl(config::BrokerConfig config, Clock* clock)
    : config_(std::move(config)),
      clock_(clock),
      log_(GetLogger("broker")),
      router_(config_.agencies),
      quota_(SessionQuota::Limits{config_.max_connections, config_.publisher_sessions_per_identity,
                                  config_.agency_sessions_per_identity, config_.watcher_sessions_per_identity},
             ReservedSessionClasses(config_)) {
  for (const auto& a : config_.agencies)
    if (!a.IsBankTemplate()) agencies_.Index(a.id);
}

Status BrokerImpl::Open() {
  if (Status s = SetUpSecurity(); !s.ok()) return s;
  if (Status s = BuildFilters(); !s.ok()) return s;
  Result<std::unique_ptr<store::Store>> store = Status::Internal("no store");
  if (config_.store_backend == "postgresql") {
    if (Status s = LockDataDir(); !s.ok()) return s;
    store::PostgresOptions options;
    options.conninfo = config_.store_postgresql_conninfo;
    options.statement_timeout_ms = static_cast<int>(config_.store_postgresql_statement_timeout_ms);
    options.lease_ms = static_cast<int>(config_.ha_lease_ms);
    store = store::Store::OpenPostgres(options);
  } else {
    store::StoreOptions options;
    options.synchronous = config_.store_synchronous;
    store = store::Store::OpenSqlite(config_.data_dir, options);
  }
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  audit_ = std::make_unique<AuditTrail>(config_, store_.get(), log_);
  if (Status s = audit_->SetUpAnchors(secure_); !s.ok()) return s;
  if (!config_.strict_uscc_checksum)
    log_->warn("validation.strict_uscc_checksum is false: USCCs with a wrong check character are accepted");
  metrics_.Leader(false);
  // SQLite: one broker per data directory, always the active one. On
  // PostgreSQL the loop takes the lease once it listens (leadership.cc).
  if (config_.store_backend == "postgresql") {
    if (config_.store_retention_days > 0)
      log_->warn("store.retention_days {} is not applied: the PostgreSQL store does not archive (docs/storage.md 14); "
                 "its cases stay in the database",
                 config_.store_retention_days);
    return Status::Ok();
  }
  Archiver::Options archive;
  archive.store_path = config_.data_dir + "/yilian.db";
  archive.dir = config_.store_archive_dir.empty() ? config_.data_dir + "/archive" : config_.store_archive_dir;
  archive.retention_days = config_.store_retention_days;
  archive.minute_of_day = config_.store_archive_minute;
  archiver_ = std::make_unique<Archiver>(archive, clock_, cipher_, log_);
  if (Status s = archiver_->Start(); !s.ok()) return s;
  return BecomeLeader();
}

Status BrokerImpl::Bind() {
  try {
    if (secure_) {
      // The ZAP handler must be bound before the first handshake.
      zap_ = zmq::socket_t(context_, zmq::socket_type::rep);
      zap_.bind("inproc://zeromq.zap.01");
    }
    socket_ = zmq::socket_t(context_, zmq::socket_type::router);
    socket_.set(zmq::sockopt::router_mandatory, 1);
    if (secure_) {
      socket_.set(zmq::sockopt::curve_server, 1);
      socket_.set(zmq::sockopt::curve_secretkey, server_keys_.secret_key);
      socket_.set(zmq::sockopt::zap_domain, "yilian");
    }
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(config_.max_frame_bytes));
    socket_.set(zmq::sockopt::sndhwm, 100000);
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    socket_.set(zmq::sockopt::linger, 1000);
    socket_.bind(config_.listen);
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind '" + config_.listen + "': " + e.what());
  }
  log_->info("listening on {}", endpoint_);
  return Status::Ok();
}

Status BrokerImpl::Run() {
  if (Status s = Bind(); !s.ok()) return s;
  // A broker whose lease is free (or still its own, after a restart) is the
  // active one before it serves HTTP.
  if (Status s = StartWebhook(); !s.ok()) return s;
  // Open() may have made this broker the active one before the sender existed.
  if (leading_) AddWebhookSession(clock_->NowMillis());
  if (!leading_) TryToLead(clock_->NowMillis());
  if (Status s = StartHttp(); !s.ok()) return s;
  serving_ = leading_;
  while (!stop_requested_.load()) {
    Millis now = clock_->NowMillis();
    // The socket, the ZAP requests, and the HTTP publishes' wake-up.
    // The socket, the HTTP publishes' and the webhook's wake-ups, the ZAP
    // requests.
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, http_publishes_.wake_fd(), ZMQ_POLLIN, 0},
                               {nullptr, webhook_wake_fd_, ZMQ_POLLIN, 0},
                               {secure_ ? zap_.handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, secure_ ? 4 : 3, std::chrono::milliseconds(PollTimeoutMs(now)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Internal(std::string("poll failed: ") + e.what());
    }
    Turn();
  }
  serving_ = false;
  // The head as the broker leaves it, signed whatever the interval.
  audit_->Close(clock_->NowMillis());
  log_->info("stopping: last turn committed, closing {}", endpoint_);
  http_publishes_.FailAll(Status::Unavailable("the broker is stopping; send again"));
  if (webhook_) webhook_->Stop();
  if (archiver_) archiver_->Stop();
  if (http_) http_->Stop();
  http_publishes_.FailAll(Status::Unavailable("the broker is stopping; send again"));
  socket_.close();
  if (secure_) zap_.close();
  return Status::Ok();
}

int BrokerImpl::PollTimeoutMs(Millis now) {
  if (!leading_) return static_cast<int>(std::clamp<Millis>(next_lead_attempt_ - now, 0, kSweepIntervalMs));
  Millis wake = now + kSweepIntervalMs;
  for (const auto& a : agencies_) {
    bool has_credit = false;
    for (const auto& rid : a->consumers) {
      auto it = sessions_.find(rid);
      if (it != sessions_.end() && it->second.in_use < it->second.credit) has_credit = true;
    }
    if (!has_credit) continue;
    if (a->queue.HasReady(now)) return 0;
    if (auto w = a->queue.NextWakeup()) wake = std::min(wake, *w);
  }
  if (tracking_->HasOpenUpdates()) {
    for (const auto& [rid, s] : sessions_)
      if (s.role == v1::WATCHER && s.in_use < s.credit) return 0;
  }
  if (!actions_.Empty() || !http_publishes_.Empty()) return 0;
  if (archiver_ && archiver_->HasWork()) return 0;
  if (rekey_ && rekey_->running()) {
    if (now >= next_rekey_step_) return 0;
    wake = std::min(wake, next_rekey_step_);
  }
  wake = std::min(wake, next_sweep_);
  return static_cast<int>(std::clamp<Millis>(wake - now, 0, kSweepIntervalMs));
}

void BrokerImpl::Turn() {
  Millis now = clock_->NowMillis();
  turn_.Begin(now);
  outbox_.BeginTurn();
  if (!leading_) return StandbyTurn(now);
  tracking_->BeginTurn();
  for (auto& agency : agencies_) agency->staged.clear();
  arena_.Reset();
  predecode_arena_.Reset();
  batch_.clear();
  for (auto& [rid, s] : sessions_) s.publishes_this_turn = 0;

  if (Status s = store_->Begin(); !s.ok()) {
    if (!store_->leading()) return StepDown(s.message(), now);
    turn_.Fail(s);
  } else {
    turn_.set_in_transaction(true);
  }
  if (store_->TakeReconnected()) {
    // A turn whose COMMIT was lost with the connection may have committed:
    // read everything again from the store, as a takeover does.
    store_->Rollback();
    turn_.set_in_transaction(false);
    return StepDown("reconnected to the store after losing the connection", now);
  }

  if (now >= next_sweep_ && !turn_.failed()) {
    SweepSessions(now);
    deliveries_->SweepInflight(now);
    next_sweep_ = now + kSweepIntervalMs;
  }
  if (secure_) HandleZap();
  if (now >= next_deadline_sweep_ && !turn_.failed()) {
    ReloadKeysIfChanged();
    tracking_->SweepDeadlines(now);
    UpdateGauges(now);
    next_deadline_sweep_ = now + 1000;
  }

  for (std::uint32_t i = 0; i < config_.max_batch; ++i) {
    Incoming in;
    const Received got = Receive(&in);
    if (got == Received::kNothing) break;
    if (got == Received::kMultiFrame) {
      outbox_.SendError(in.routing_id, v1::BAD_REQUEST, "one Envelope per message: multi-frame refused");
      continue;
    }
    if (got == Received::kMessage) batch_.push_back(std::move(in));
  }
  TakeHttpPublishes();
  if (!turn_.failed()) TakeWebhookAcks(now);
  if (!batch_.empty()) metrics_.TurnMessages(batch_.size());
  publishing_->BeginTurn();
  // Decoding and validation need nothing of the loop's state: with enough
  // messages, the predecoder's thread does them ahead of the handling, on
  // the other core.
  if (batch_.size() >= kPredecodeMinMessages) {
    predecoder_.Start(batch_.size(), [this](std::size_t i) { publishing_->Predecode(batch_[i], &predecode_arena_); });
    // The run ends before the batch is touched again, also if handling throws.
    struct FinishRun {
      InOrderWorker& worker;
      ~FinishRun() { worker.Finish(); }
    } finish{predecoder_};
    if (store_->Prefetches() && !batch_.empty()) {
      predecoder_.WaitFor(batch_.size() - 1);
      Prefetch();
    }
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      predecoder_.WaitFor(i);
      HandleMessage(batch_[i]);
    }
  } else if (store_->Prefetches() && !batch_.empty()) {
    for (auto& in : batch_) publishing_->Predecode(in, &arena_);
    Prefetch();
    for (auto& in : batch_) HandleMessage(in);
  } else {
    for (auto& in : batch_) {
      publishing_->Predecode(in, &arena_);
      HandleMessage(in);
    }
  }

  operator_actions_->Perform(actions_, now);
  if (archiver_ && !turn_.failed()) archiver_->ApplyInTurn(store_.get(), turn_, !batch_.empty());
  if (rekey_ && rekey_->running() && !turn_.failed() && now >= next_rekey_step_) {
    // A turn full of messages does a little, so that the rotation ends
    // under steady load too; an idle one does a whole batch.
    const std::size_t budget = batch_.size() >= config_.max_batch
                                   ? std::max<std::size_t>(1, config_.rekey_batch_events / 8)
                                   : config_.rekey_batch_events;
    rekey_->Step(budget, now);
    next_rekey_step_ = now + config_.rekey_interval_ms;
  }
  if (!turn_.failed()) deliveries_->Dispatch(now);
  if (!turn_.failed()) tracking_->DispatchCaseUpdates();
  if (turn_.in_transaction()) {
    if (Status s = audit_->Flush(now, turn_.failed()); !s.ok()) turn_.Fail(s);
  }

  if (turn_.in_transaction()) {
    if (!turn_.failed()) {
      auto t0 = std::chrono::steady_clock::now();
      if (Status s = store_->Commit(); !s.ok()) turn_.Fail(s);
      metrics_.Commit(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (turn_.failed()) store_->Rollback();
    turn_.set_in_transaction(false);
    if (!turn_.failed()) audit_->MaybeAnchor(now, false);
  }
  // Effects run in staging order; on commit they publish the new state.
  turn_.RunEffects();
  Flush();
  if (!http_inflight_.empty()) FinishHttpPublishes();

  // Heartbeats to peers we have not written to lately.
  Millis interval = config_.heartbeat_interval_ms;
  for (auto& [rid, s] : sessions_) {
    if (now - s.last_send >= interval) {
      v1::Envelope hb;
      hb.mutable_heartbeat();
      outbox_.Reply(rid, hb);
    }
  }
  Flush();
}

// What the turn's messages will read, read in one go by a store that pays
// a round trip per read (the PostgreSQL store).
void BrokerImpl::Prefetch() {
  if (turn_.failed() || !turn_.in_transaction()) return;
  store::TurnReads reads;
  for (const Incoming& in : batch_) {
    if (in.env == nullptr) continue;
    if (in.env->has_publish() && in.env->publish().has_event() && in.validated && in.errors.empty()) {
      reads.usccs.push_back(in.env->publish().event().uscc());
      reads.event_ids.push_back(in.env->publish().event().event_id());
    } else if (in.env->has_result()) {
      const v1::Result& r = in.env->result();
      if (r.sequence() > 0) {
        reads.cases.push_back(r.sequence());
      } else {
        reads.event_ids.push_back(r.event_id());
      }
    }
  }
  if (reads.usccs.empty() && reads.event_ids.empty() && reads.cases.empty()) return;
  if (Status s = store_->Prefetch(reads); !s.ok()) turn_.Fail(s);
}

BrokerImpl::Received BrokerImpl::Receive(Incoming* in) {
  zmq::message_t routing_id, body;
  try {
    if (!socket_.recv(routing_id, zmq::recv_flags::dontwait)) return Received::kNothing;
    if (!routing_id.more()) return Received::kSkipped;
    if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kSkipped;
    const bool extra = body.more();
    while (body.more()) {  // a client sent a multi-frame message: drain it
      zmq::message_t rest;
      if (!socket_.recv(rest, zmq::recv_flags::dontwait) || !rest.more()) break;
    }
    in->routing_id = routing_id.to_string();
    if (extra) return Received::kMultiFrame;
    in->body = std::move(body);
    return Received::kMessage;
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) log_->error("receive failed: {}", e.what());
    return Received::kNothing;
  }
}

void BrokerImpl::HandleMessage(Incoming& in) {
  const std::string& routing_id = in.routing_id;
  const zmq::message_t& body = in.body;
  if (IsHttpRoutingId(routing_id)) return HandleHttpPublish(in);
  if (in.env == nullptr) {
    v1::EnvelopeRaw raw;
    auto it = sessions_.find(routing_id);
    if (it != sessions_.end() && raw.ParseFromArray(body.data(), static_cast<int>(body.size())) &&
        raw.has_publish()) {
      it->second.last_recv = clock_->NowMillis();
      v1::Envelope reply;
      auto* ack = reply.mutable_publish_ack();
      ack->set_correlation_id(raw.publish().correlation_id());
      ack->set_status(v1::REFUSED);
      ack->set_error(v1::INVALID_EVENT);
      ack->set_message("the event does not decode as yilian.v1.EnterpriseEvent (invalid UTF-8 text or truncated)");
      auto* e = ack->add_errors();
      e->set_path("");
      e->set_code("UNDECODABLE");
      e->set_message(ack->message());
      outbox_.Reply(routing_id, reply);
      return;
    }
    outbox_.SendError(routing_id, v1::BAD_REQUEST, "message is not a yilian.v1.Envelope (" + std::to_string(body.size()) +
                                               " bytes could not be decoded)");
    return;
  }
  const v1::Envelope& env = *in.env;
  std::string key;
  auto principal = PrincipalOf(body, &key);
  if (!principal) {
    // Admitted at the handshake, but the key has been revoked since.
    if (auto unlogged = revoked_keys_log_.Admit(key))
      log_->warn("refused a message: CURVE key {}... is no longer in the keys file{}", key.substr(0, 8),
                 LogThrottle::Suppressed(*unlogged));
    outbox_.SendError(routing_id, v1::FORBIDDEN, "key revoked");
    DropSession(routing_id, "key revoked");
    return;
  }
  if (env.has_hello()) {
    HandleHello(routing_id, env.hello(), *principal, key);
    return;
  }
  auto it = sessions_.find(routing_id);
  if (it == sessions_.end()) {
    if (!env.has_bye()) outbox_.SendError(routing_id, v1::UNKNOWN_SESSION, "no session: send Hello first");
    return;
  }
  Session& session = it->second;
  session.last_recv = clock_->NowMillis();
  const bool dev = !secure_;
  const auth::Principal& p = *principal;
  switch (env.body_case()) {
    case v1::Envelope::kHeartbeat: break;
    case v1::Envelope::kPublish:
      if (!dev && !p.CanPublish()) return Refuse(routing_id, p, "publish", false), void();
      publishing_->HandlePublish(session, env.publish(), in);
      break;
    case v1::Envelope::kResult:
      if (!dev && (session.agency < 0 || !p.IsAgency(agencies_[session.agency]->id)))
        return Refuse(routing_id, p, "send results", false), void();
      deliveries_->HandleResult(session, env.result());
      break;
    case v1::Envelope::kCredit: deliveries_->HandleCredit(session, env.credit()); break;
    case v1::Envelope::kUpdateAck:
      if (!dev && !p.CanWatch()) return Refuse(routing_id, p, "acknowledge case updates", false), void();
      tracking_->HandleUpdateAck(session, env.update_ack());
      break;
    case v1::Envelope::kBye: DropSession(routing_id, "said goodbye"); break;
    default:
      outbox_.SendError(routing_id, v1::BAD_REQUEST,
                "unexpected message from a client (envelope field " + std::to_string(env.body_case()) + ")");
  }
}

void BrokerImpl::Flush() {
  Millis now = clock_->NowMillis();
  for (auto& out : outbox_.Take()) {
    if (AnswerHttp(out) || ToWebhook(out)) continue;
    bool sent = false;
    try {
      if (socket_.send(zmq::buffer(out.routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        sent = socket_.send(zmq::buffer(out.bytes), zmq::send_flags::dontwait).has_value();
      }
    } catch (const zmq::error_t& e) {
      if (e.num() != EHOSTUNREACH) log_->error("send failed: {}", e.what());
    }
    auto it = sessions_.find(out.routing_id);
    if (sent) {
      if (it != sessions_.end()) it->second.last_send = now;
      continue;
    }
    if (out.delivery != 0) deliveries_->Unsent(out.delivery, now);
    if (it != sessions_.end() && !it->second.unreachable) {
      log_->warn("session {} unreachable or full; dropping it", it->second.session_id);
      // Dropped by the next sweep, inside that turn's transaction.
      it->second.unreachable = true;
      next_sweep_ = now;
    }
  }
}

}  // namespace yilian::server
