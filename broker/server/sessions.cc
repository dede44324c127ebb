// Sessions: a client's Hello (version, role, quota, agency, credit), its
// end (Bye, a new Hello, silence, an unreachable peer), and what its end
// gives back (deliveries it held, case updates it had not acknowledged).
// docs/protocol.md sections 3 and 4.
#include <algorithm>

#include "common/client_text.h"
#include "common/log.h"
#include "server/broker_impl.h"

namespace yilian::server {

void BrokerImpl::HandleHello(const std::string& routing_id, const v1::Hello& hello, const auth::Principal& principal,
                             const std::string& key) {
  if (hello.version() != v1::PROTOCOL_V1) {
    outbox_.SendError(routing_id, v1::UNSUPPORTED_VERSION,
                      "protocol version " + std::to_string(hello.version()) + " not supported; this broker speaks 1");
    return;
  }
  if (sessions_.count(routing_id)) DropSession(routing_id, "sent a new Hello");
  if (secure_) {
    bool allowed = (hello.role() == v1::PUBLISHER && principal.CanPublish()) ||
                   (hello.role() == v1::CONSUMER && principal.IsAgency(hello.agency())) ||
                   (hello.role() == v1::WATCHER && principal.CanWatch());
    if (!allowed) {
      std::string what = "open a " + v1::ClientRole_Name(hello.role()) + " session" +
                         (hello.role() == v1::CONSUMER ? " for agency '" + ClientText(hello.agency(), 64) + "'" : "");
      return Refuse(routing_id, principal, what, false);
    }
  }
  // Quotas apply to the roles a Hello may ask for; another role, or an
  // unknown agency, is refused below anyway.
  const routing::Router& router = router_;
  const config::AgencyConfig* rule = hello.role() == v1::CONSUMER ? router.RuleFor(hello.agency()) : nullptr;
  std::optional<SessionQuota::Kind> kind;
  if (hello.role() == v1::PUBLISHER) kind = SessionQuota::Kind::kPublisher;
  if (hello.role() == v1::WATCHER) kind = SessionQuota::Kind::kWatcher;
  if (hello.role() == v1::CONSUMER && rule != nullptr) kind = SessionQuota::Kind::kAgency;
  const std::string quota_identity = secure_ ? principal.identity : "";
  const std::string quota_class = kind ? SessionQuota::Class(*kind, rule ? rule->id : "") : "";
  if (kind) {
    if (auto refused = quota_.Check(quota_identity, *kind, quota_class)) {
      outbox_.SendError(routing_id, v1::OVER_LIMIT, refused->message);
      metrics_.SessionRefused(SessionQuota::ToString(refused->reason));
      LogSessionRefusal(principal, quota_class, refused->message);
      return;
    }
  }
  Session s;
  s.routing_id = routing_id;
  s.key = key;
  s.principal = principal;
  s.quota_identity = quota_identity;
  s.quota_class = quota_class;
  s.role = hello.role();
  // Printed in log lines and audit records (by=...) as it is from here on.
  s.name = ClientText(hello.client_name(), 64);
  s.last_recv = s.last_send = clock_->NowMillis();
  s.batch_acks = hello.batch_acks() && (s.role == v1::PUBLISHER || s.role == v1::CONSUMER);
  if (s.role == v1::CONSUMER) {
    if (!router_.IsKnownAgency(hello.agency())) {
      const std::string agency = ClientText(hello.agency(), 64);
      outbox_.SendError(routing_id, v1::UNKNOWN_AGENCY, "agency '" + agency + "' is not configured");
      log_->warn("refused consumer '{}': unknown agency '{}'", s.name, agency);
      return;
    }
    if (hello.credit() == 0) {
      outbox_.SendError(routing_id, v1::BAD_REQUEST, "a CONSUMER needs credit >= 1");
      return;
    }
    s.agency = agencies_.Index(hello.agency());
    s.credit = std::min(hello.credit(), config_.max_credit);
    agencies_[s.agency]->consumers.push_back(routing_id);
  } else if (s.role == v1::WATCHER) {
    s.credit = std::min(hello.credit() == 0 ? 64u : hello.credit(), config_.max_credit);
  } else if (s.role != v1::PUBLISHER) {
    outbox_.SendError(routing_id, v1::BAD_REQUEST, "Hello.role must be PUBLISHER, CONSUMER or WATCHER");
    return;
  }
  s.session_id = std::to_string(clock_->NowMillis()) + "-" + std::to_string(++session_counter_);
  v1::Envelope env;
  auto* w = env.mutable_welcome();
  w->set_session_id(s.session_id);
  w->set_heartbeat_interval_ms(config_.heartbeat_interval_ms);
  w->set_heartbeat_liveness(config_.heartbeat_liveness);
  w->set_broker_version(kBrokerVersion);
  w->set_max_inflight_publishes(config_.max_inflight_publishes);
  w->set_granted_credit(s.credit);
  w->set_batch_acks(s.batch_acks);
  log_->info("session {} opened: {} '{}' identity '{}'{}{} credit {}", s.session_id, v1::ClientRole_Name(s.role),
             s.name, ClientText(s.principal.identity, 64), s.agency >= 0 ? " agency " : "",
             s.agency >= 0 ? agencies_[s.agency]->id : "", s.credit);
  if (kind) quota_.Opened(s.quota_identity, s.quota_class);
  sessions_.emplace(routing_id, std::move(s));
  outbox_.Reply(routing_id, env);
}

void BrokerImpl::LogSessionRefusal(const auth::Principal& principal, const std::string& cls, const std::string& why) {
  auto unlogged = session_refusals_log_.Admit(principal.identity);
  if (!unlogged) return;
  log_->warn("refused a {} session of identity '{}' (role {}): {}{}", cls, ClientText(principal.identity, 64),
             ClientText(principal.role, 64), why, LogThrottle::Suppressed(*unlogged));
}

void BrokerImpl::DropSession(const std::string& routing_id, const char* why) {
  auto it = sessions_.find(routing_id);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  log_->info("session {} closed ({}): {} '{}', {} deliveries outstanding", s.session_id, why,
             v1::ClientRole_Name(s.role), s.name, s.inflight.size());
  if (s.agency >= 0) {
    auto& consumers = agencies_[s.agency]->consumers;
    consumers.erase(std::remove(consumers.begin(), consumers.end(), routing_id), consumers.end());
  }
  tracking_->ReturnUpdates(s);
  deliveries_->ReleaseSession(s, clock_->NowMillis());
  if (!it->second.quota_class.empty()) quota_.Closed(it->second.quota_identity, it->second.quota_class);
  sessions_.erase(it);
}

void BrokerImpl::SweepSessions(Millis now) {
  Millis limit = static_cast<Millis>(config_.heartbeat_interval_ms) * config_.heartbeat_liveness;
  std::vector<std::string> gone;
  for (auto& [rid, s] : sessions_)
    if (s.unreachable || now - s.last_recv > limit) gone.push_back(rid);
  for (const auto& rid : gone) DropSession(rid, sessions_.at(rid).unreachable ? "unreachable" : "heartbeats stopped");
}

}  // namespace yilian::server
