// Security in the broker loop: CURVE on the ROUTER socket, the ZAP handler
// that admits only keys listed in the keys file, and the role check of every
// message against the key that sent it (ZeroMQ's per-message User-Id, which
// the ZAP handler sets to the client's public key).
#include <sys/stat.h>

#include "common/client_text.h"
#include "common/log.h"
#include "server/broker_impl.h"

namespace yilian::server {
namespace {

// What a change of the keys file changes: its content (mtime) or who may
// write it (mode). A chmod that lets others write is noticed (and refused)
// at once; one that takes it back makes the file be read again.
BrokerImpl::KeysStamp StampOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<std::uint32_t>(st.st_mode & 07777)};
}

}  // namespace

Status BrokerImpl::SetUpSecurity() {
  secure_ = !config_.insecure_dev;
  if (!secure_) {
    if (!auth::IsLoopbackEndpoint(config_.listen))
      return Status::FailedPrecondition("--insecure-dev is allowed only on a loopback endpoint, not '" +
                                        config_.listen + "'");
    log_->warn(
        "*** INSECURE DEVELOPMENT MODE: no CURVE encryption, no authentication, every peer may do "
        "everything. Never use this outside a developer's machine. ***");
  } else {
    if (config_.server_key_file.empty() || config_.keys_file.empty())
      return Status::FailedPrecondition(
          "CURVE needs security.server_key_file and security.keys_file (see docs/security.md); use --insecure-dev "
          "only for local development");
    if (zmq_has("curve") == 0) return Status::FailedPrecondition("this libzmq was built without CURVE");
    auto pair = auth::ReadKeyPair(config_.server_key_file);
    if (!pair.ok()) return pair.status();
    server_keys_ = pair.value();
    auto ring = auth::KeyRing::Load(config_.keys_file);
    if (!ring.ok()) return ring.status();
    keys_ = std::move(ring).value();
    keys_stamp_ = StampOf(config_.keys_file);
    log_->info("CURVE on; broker public key {}; {} client keys from {}", server_keys_.public_key, keys_.size(),
               config_.keys_file);
  }
  if (!config_.data_key_file.empty()) {
    auto cipher = security::FieldCipher::LoadKeyFiles(config_.data_key_file, config_.retired_data_key_files);
    if (!cipher.ok()) return cipher.status();
    cipher_ = std::move(cipher).value();
    rekey_progress_.key_id = cipher_->key_id();  // before the HTTP threads read it
    log_->info("personal fields are stored encrypted (SM4, data key {} from {})", cipher_->key_id(),
               config_.data_key_file);
    const std::vector<std::string> ids = cipher_->key_ids();
    for (std::size_t i = 1; i < ids.size(); ++i)
      log_->info("retired data key {} from {}: read only", ids[i], config_.retired_data_key_files[i - 1]);
  } else if (secure_) {
    return Status::FailedPrecondition(
        "security.data_key_file is required: ID and phone numbers are encrypted at rest (see docs/security.md)");
  } else {
    log_->warn("no security.data_key_file: ID and phone numbers are stored in clear (development only)");
  }
  if (!config_.tokens_file.empty()) {
    auto tokens = auth::TokenRing::Load(config_.tokens_file);
    if (!tokens.ok()) return tokens.status();
    tokens_ = std::move(tokens).value();
    log_->info("{} HTTP tokens and {} client certificates from {}", tokens_->size(), tokens_->certificates(),
               config_.tokens_file);
  }
  return Status::Ok();
}

Status BrokerImpl::BuildFilters() {
  for (const auto& a : config_.agencies) {
    if (a.fields.empty()) continue;
    auto f = security::FieldFilter::Create(security::FieldAllowList{a.fields});
    if (!f.ok()) return Status::InvalidArgument("agency '" + a.id + "': fields: " + f.status().message());
  }
  return Status::Ok();
}

void BrokerImpl::HandleZap() {
  // ZAP 1.0 (RFC 27): version, request id, domain, address, identity,
  // mechanism, credentials.
  for (;;) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t frame;
      if (!zap_.recv(frame, zmq::recv_flags::dontwait)) return;
      frames.push_back(std::move(frame));
      while (frames.back().more()) {
        zmq::message_t more;
        if (!zap_.recv(more, zmq::recv_flags::dontwait)) break;
        frames.push_back(std::move(more));
      }
    } catch (const zmq::error_t& e) {
      log_->error("ZAP receive failed: {}", e.what());
      return;
    }
    std::string status = "400", text = "unknown key", user;
    std::string address = frames.size() > 3 ? frames[3].to_string() : "?";
    if (frames.size() >= 7 && frames[0].to_string() == "1.0" && frames[5].to_string() == "CURVE" &&
        frames[6].size() == 32) {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const std::uint8_t*>(frames[6].data()), 32);
      auto p = keys_.Find(z85);
      if (p) {
        status = "200";
        text = "OK";
        user = z85;
      } else {
        if (auto unlogged = handshakes_log_.Admit(address))
          log_->warn("refused a connection from {}: CURVE key {} is not in the keys file{}", address, z85,
                     LogThrottle::Suppressed(*unlogged));
      }
    } else if (auto unlogged = handshakes_log_.Admit(address)) {
      log_->warn("refused a connection from {}: not a CURVE handshake{}", address, LogThrottle::Suppressed(*unlogged));
    }
    std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
    try {
      zap_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
      zap_.send(zmq::buffer(text), zmq::send_flags::sndmore);
      zap_.send(zmq::buffer(user), zmq::send_flags::sndmore);
      zap_.send(zmq::str_buffer(""), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      log_->error("ZAP reply failed: {}", e.what());
    }
  }
}

void BrokerImpl::ReloadKeysIfChanged() {
  if (!secure_) return;
  KeysStamp stamp = StampOf(config_.keys_file);
  if (stamp == keys_stamp_) return;
  // KeyRing::Load refuses a file others may write (common/file_modes.h).
  auto ring = auth::KeyRing::Load(config_.keys_file);
  if (!ring.ok()) {
    log_->error("keys file changed but cannot be used, keeping the previous keys: {}", ring.status().message());
    keys_stamp_ = stamp;
    return;
  }
  keys_ = std::move(ring).value();
  keys_stamp_ = stamp;
  log_->info("keys file reloaded: {} client keys", keys_.size());
  // Revoked keys lose their sessions now, not at their next message.
  std::vector<std::string> revoked;
  for (const auto& [rid, s] : sessions_) {
    auto p = keys_.Find(s.key);
    if (!p || p->role != s.principal.role) revoked.push_back(rid);
  }
  for (const auto& rid : revoked) {
    auto& s = sessions_.at(rid);
    log_->warn("key of identity '{}' was revoked or changed role; closing session {}",
               ClientText(s.principal.identity, 64), s.session_id);
    outbox_.SendError(rid, v1::FORBIDDEN, "key revoked");
    DropSession(rid, "key revoked");
  }
}

std::optional<auth::Principal> BrokerImpl::PrincipalOf(const zmq::message_t& body, std::string* key) {
  if (!secure_) {
    key->clear();
    return auth::Principal{"dev", "dev"};
  }
  const char* user = nullptr;
  try {
    // gets() is not const in cppzmq, though it does not modify the message.
    user = const_cast<zmq::message_t&>(body).gets("User-Id");
  } catch (const zmq::error_t&) {
    return std::nullopt;
  }
  if (!user) return std::nullopt;
  *key = user;
  return keys_.Find(*key);
}

void BrokerImpl::Refuse(const std::string& routing_id, const auth::Principal& p, const std::string& what, bool drop) {
  // `what` is built from client text already made printable.
  log_->warn("refused: identity '{}' (role {}) may not {}", ClientText(p.identity, 64), ClientText(p.role, 64), what);
  outbox_.SendError(routing_id, v1::FORBIDDEN, "identity '" + p.identity + "' (role " + p.role + ") may not " + what);
  if (drop) DropSession(routing_id, "forbidden");
}

}  // namespace yilian::server
