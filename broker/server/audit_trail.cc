#include "server/audit_trail.h"

#include "common/log.h"
#include "store/cases.h"

namespace yilian::server {
namespace {

constexpr const char* kActor = "broker";
constexpr const char* kKind = "transitions";
// Audit text handed to the hasher at a time.
constexpr std::size_t kPiece = 4096;

// Appends `text` with its line breaks written as \n and \r: one audit line
// stays one line whatever a client put in a name or a reason, so nobody can
// add lines of their own to the trail (`yilian audit verify` reads them).
// Client text reaches a line already through ClientText, which leaves no
// line break; this keeps every Add() one line whatever it is given.
void AppendOneLine(std::string_view text, std::string* out) {
  for (char c : text) {
    if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else {
      *out += c;
    }
  }
}

}  // namespace

AuditTrail::AuditTrail(const config::BrokerConfig& config, store::Store* store, std::shared_ptr<spdlog::logger> log)
    : config_(config), store_(store), log_(std::move(log)) {}

AuditTrail::~AuditTrail() = default;

Status AuditTrail::SetUpAnchors(bool secure) {
  if (config_.audit_key_file.empty()) {
    if (secure) {
      log_->warn(
          "security.audit_key_file is not set: the audit chain is not anchored outside the database, so a "
          "consistent rewrite of the database (records and hashes recomputed) cannot be detected (docs/security.md)");
    } else {
      log_->info("no security.audit_key_file: the audit chain is not anchored (development)");
    }
    return Status::Ok();
  }
  auto key = audit::AnchorKey::LoadKeyFile(config_.audit_key_file);
  if (!key.ok()) return key.status();
  const std::string path =
      config_.audit_anchor_file.empty() ? audit::DefaultAnchorFile(config_.data_dir) : config_.audit_anchor_file;
  auto writer = audit::AnchorWriter::Open(path, std::move(key).value());
  if (!writer.ok()) return writer.status();
  anchors_ = std::move(writer).value();
  log_->info("audit chain head signed to {} at most every {} ms (key from {})", path, config_.audit_anchor_interval_ms,
             config_.audit_key_file);
  return Status::Ok();
}

void AuditTrail::Add(const std::string& line, Millis turn_at) {
  if (body_.empty()) {
    // The turn's record will follow the current head, stamped with the
    // turn's time: its digest can start now.
    auto [id, hash] = store_->AuditHead();
    start_ = Start{id + 1, hash, turn_at};
    hasher_.Start(store::AuditHashPrefix(hash, id + 1, turn_at, kActor, kKind));
    sent_ = 0;
  }
  AppendOneLine(line, &body_);
  body_ += '\n';
  if (body_.size() - sent_ >= kPiece) {
    hasher_.Add(body_.substr(sent_));
    sent_ = body_.size();
  }
}

Status AuditTrail::Flush(Millis now, bool discard) {
  if (body_.empty()) return Status::Ok();
  std::string body = std::move(body_);
  body_.clear();
  if (discard) {
    hasher_.Abandon();
    return Status::Ok();
  }
  auto [id, hash] = store_->AuditHead();
  Result<std::uint64_t> appended = std::uint64_t{0};
  if (id + 1 == start_.id && hash == start_.prev_hash && now == start_.at) {
    hasher_.Add(body.substr(sent_));
    appended = store_->AppendAuditHashed(now, kActor, kKind, body, hasher_.Finish());
  } else {
    // Another record joined the chain first (an operator action in this
    // turn), or the lines predate the turn: hashed here instead.
    hasher_.Abandon();
    appended = store_->AppendAudit(now, kActor, kKind, body);
  }
  return appended.ok() ? Status::Ok() : appended.status();
}

void AuditTrail::MaybeAnchor(Millis now, bool now_or_never) {
  if (!anchors_ || (!now_or_never && now < next_anchor_at_)) return;
  auto [id, hash] = store_->AuditHead();
  // Nothing new to sign: the next record is signed as soon as it commits.
  if (id == 0 || id == anchored_id_) return;
  anchors_->Submit(now, id, hash);
  anchored_id_ = id;
  next_anchor_at_ = now + config_.audit_anchor_interval_ms;
}

void AuditTrail::Close(Millis now) {
  MaybeAnchor(now, true);
  if (anchors_) anchors_->Close();
}

}  // namespace yilian::server
