// Leadership: several brokers on one PostgreSQL store, one active. The
// active broker holds the store's lease (renewed by every turn's Begin);
// a standby answers every client with NOT_LEADER, naming the active
// broker, and tries to take the lease once a second. Taking it means
// reading everything the broker keeps in memory again from the store, as
// at a start; losing it (or reconnecting to the store, after which a lost
// COMMIT may have committed) means forgetting it all and every session.
// With SQLite the broker always leads. docs/storage.md section 13.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/client_text.h"
#include "common/file_modes.h"
#include "server/broker_impl.h"

namespace yilian::server {
namespace {
constexpr Millis kLeadIntervalMs = 1000;
}  // namespace

BrokerImpl::~BrokerImpl() {
  if (data_dir_lock_ >= 0) ::close(data_dir_lock_);
  if (webhook_) webhook_->Stop();
  if (webhook_wake_fd_ >= 0) ::close(webhook_wake_fd_);
}

Status BrokerImpl::LockDataDir() {
  std::string notice;
  if (Status s = files::MakePrivateDir(config_.data_dir, &notice); !s.ok())
    return Status(s.code(), "data directory: " + s.message());
  if (!notice.empty()) log_->warn("data directory {}", notice);
  const std::string path = config_.data_dir + "/LOCK";
  data_dir_lock_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (data_dir_lock_ < 0) return Status::IoError("cannot open '" + path + "': " + std::strerror(errno));
  if (flock(data_dir_lock_, LOCK_EX | LOCK_NB) != 0)
    return Status::Unavailable("data directory '" + config_.data_dir + "' is in use by another broker (lock '" +
                               path + "')");
  // The node is this host's broker of this data directory: a broker that
  // restarts there takes its own lease back at once, and no other process
  // can be the same node while the lock is held.
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(config_.data_dir, ec);
  node_ = std::string(host) + ":" + (ec ? config_.data_dir : absolute.lexically_normal().string());
  return Status::Ok();
}

void BrokerImpl::TryToLead(Millis now) {
  next_lead_attempt_ = now + kLeadIntervalMs;
  const std::string advertised = config_.ha_advertised_endpoint.empty() ? endpoint_ : config_.ha_advertised_endpoint;
  auto won = store_->TryLead(store::LeaderClaim{node_, advertised});
  (void)store_->TakeReconnected();  // nothing is kept in memory as a standby
  if (won.ok() && won.value()) {
    log_->info("this broker is now the active one (node {}, clients at {})", node_, advertised);
    if (Status s = BecomeLeader(); !s.ok()) {
      log_->error("taking over failed, staying a standby: {}", s.ToString());
      leading_ = false;
      serving_ = false;
      agencies_.ClearQueues();
    }
    return;
  }
  if (!won.ok()) {
    if (auto unlogged = lease_log_.Admit("lease"))
      log_->warn("cannot take the lease: {}{}", won.status().message(), LogThrottle::Suppressed(*unlogged));
  } else {
    log_->debug("standby: the lease is held by another broker");
  }
  auto leader = store_->LeaderEndpoint();
  const std::string was = leader_endpoint_;
  leader_endpoint_ = leader.ok() ? leader.value() : "";
  if (leader_endpoint_ != was)
    log_->info("standby: the active broker is {}", leader_endpoint_.empty() ? "(none)" : leader_endpoint_);
}

std::function<std::string(const std::string&)> BrokerImpl::ArchivedContent() const {
  if (!archiver_) return nullptr;
  const Archiver* archiver = archiver_.get();
  return [archiver](const std::string& plaintext) { return archiver->ContentHash(plaintext); };
}

Status BrokerImpl::BecomeLeader() {
  // Before anything is read or written: a store holding values under a key
  // this broker lacks is refused now, not at the first hand-over.
  if (cipher_) {
    rekey_ = std::make_unique<Rekey>(store_.get(), *cipher_, *audit_, turn_, rekey_progress_, log_);
    if (Status s = rekey_->Start(clock_->NowMillis()); !s.ok()) {
      rekey_.reset();
      return s;
    }
  }
  tracking_ = std::make_unique<Tracking>(store_.get(), turn_, outbox_, *audit_, metrics_, sessions_, agencies_, log_);
  deliveries_ = std::make_unique<Deliveries>(Deliveries::Parts{config_, clock_, store_.get(), turn_, outbox_, *audit_,
                                                               *tracking_, metrics_, sessions_, agencies_, cipher_,
                                                               log_});
  publishing_ = std::make_unique<Publishing>(Publishing::Parts{config_, clock_, store_.get(), turn_, outbox_, metrics_,
                                                                router_, agencies_, *deliveries_, *tracking_, cipher_,
                                                                ArchivedContent(), log_});
  operator_actions_ = std::make_unique<OperatorActions>(OperatorActions::Parts{
      config_, store_.get(), turn_, *audit_, *tracking_, *deliveries_, agencies_, router_, log_});
  if (Status s = deliveries_->Recover(); !s.ok()) return s;
  if (Status s = tracking_->Recover(); !s.ok()) return s;
  AddWebhookSession(clock_->NowMillis());
  leading_ = true;
  serving_ = true;
  metrics_.Leader(true);
  return Status::Ok();
}

void BrokerImpl::StepDown(const std::string& why, Millis now) {
  auto leader = store_->LeaderEndpoint();
  leader_endpoint_ = leader.ok() ? leader.value() : "";
  log_->warn("stepping down as the active broker: {}; {} sessions closed", why, sessions_.size());
  leading_ = false;
  serving_ = false;
  metrics_.Leader(false);
  for (const auto& [rid, s] : sessions_) {
    SendNotLeader(rid);
    if (!s.quota_class.empty()) quota_.Closed(s.quota_identity, s.quota_class);
  }
  leader_endpoint_.clear();  // the standby's turn says who leads now
  sessions_.clear();
  if (webhook_) webhook_->Clear();
  agencies_.ClearQueues();
  operator_actions_.reset();
  rekey_.reset();
  publishing_.reset();
  deliveries_.reset();
  tracking_.reset();
  Flush();
  next_lead_attempt_ = now;
}

void BrokerImpl::SendNotLeader(const std::string& routing_id) {
  v1::Envelope env;
  auto* e = env.mutable_error();
  e->set_code(v1::NOT_LEADER);
  e->set_leader_endpoint(leader_endpoint_);
  e->set_message(leader_endpoint_.empty() ? "this broker is a standby and no broker is active yet: try again"
                                          : "this broker is a standby: the active broker is " + leader_endpoint_);
  outbox_.Reply(routing_id, env);
}

void BrokerImpl::StandbyTurn(Millis now) {
  if (now >= next_lead_attempt_) {
    TryToLead(now);
    if (leading_) return;
  }
  if (secure_) HandleZap();
  for (std::uint32_t i = 0; i < config_.max_batch; ++i) {
    Incoming in;
    const Received got = Receive(&in);
    if (got == Received::kNothing) break;
    if (got != Received::kSkipped) SendNotLeader(in.routing_id);
  }
  if (!http_publishes_.Empty()) {
    http_publishes_.FailAll(Status::FailedPrecondition("this broker is a standby" +
                                       (leader_endpoint_.empty() ? std::string() : "; the active broker is " + leader_endpoint_)));
  }
  Flush();
}

}  // namespace yilian::server
