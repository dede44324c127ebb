#include "server/session_quota.h"

namespace yilian::server {

SessionQuota::SessionQuota(Limits limits, std::set<std::string> reserved)
    : limits_(limits), reserved_(std::move(reserved)) {}

std::string SessionQuota::Class(Kind kind, const std::string& agency_rule) {
  switch (kind) {
    case Kind::kPublisher:
      return "publisher";
    case Kind::kWatcher:
      return "watcher";
    case Kind::kAgency:
      break;
  }
  return "agency:" + agency_rule;
}

const char* SessionQuota::ToString(Refusal r) {
  switch (r) {
    case Refusal::kIdentityQuota:
      return "identity_quota";
    case Refusal::kReserved:
      return "reserved";
    case Refusal::kMaxSessions:
      return "max_connections";
  }
  return "?";
}

std::uint32_t SessionQuota::QuotaOf(Kind kind) const {
  switch (kind) {
    case Kind::kPublisher:
      return limits_.per_publisher;
    case Kind::kAgency:
      return limits_.per_agency;
    case Kind::kWatcher:
      return limits_.per_watcher;
  }
  return 0;
}

std::optional<SessionQuota::Refused> SessionQuota::Check(const std::string& identity, Kind kind,
                                                         const std::string& cls) const {
  if (!identity.empty()) {
    auto it = by_identity_.find(identity);
    const std::uint32_t held = it == by_identity_.end() ? 0 : it->second;
    if (held >= QuotaOf(kind)) {
      const char* key = kind == Kind::kPublisher ? "limits.publisher_sessions_per_identity"
                        : kind == Kind::kAgency  ? "limits.agency_sessions_per_identity"
                                                 : "limits.watcher_sessions_per_identity";
      return Refused{Refusal::kIdentityQuota, "identity already holds " + std::to_string(held) + " sessions (" +
                                                  std::string(key) + " = " + std::to_string(QuotaOf(kind)) + ")"};
    }
  }
  if (total_ >= limits_.max_sessions)
    return Refused{Refusal::kMaxSessions,
                   "too many sessions (limits.max_connections = " + std::to_string(limits_.max_sessions) + ")"};
  auto has_session = [this](const std::string& c) {
    auto it = by_class_.find(c);
    return it != by_class_.end() && it->second > 0;
  };
  // A reserved class without a session takes its own reserved slot.
  if (reserved_.count(cls) && !has_session(cls)) return std::nullopt;
  std::size_t kept = 0;  // slots kept for reserved classes without a session
  for (const std::string& c : reserved_)
    if (!has_session(c)) ++kept;
  if (total_ + kept >= limits_.max_sessions)
    return Refused{Refusal::kReserved,
                   "the remaining " + std::to_string(limits_.max_sessions - total_) +
                       " sessions are kept for clients that have none yet (limits.max_connections = " +
                       std::to_string(limits_.max_sessions) + ")"};
  return std::nullopt;
}

void SessionQuota::Opened(const std::string& identity, const std::string& cls) {
  ++total_;
  ++by_class_[cls];
  if (!identity.empty()) ++by_identity_[identity];
}

void SessionQuota::Closed(const std::string& identity, const std::string& cls) {
  if (total_ > 0) --total_;
  auto c = by_class_.find(cls);
  if (c != by_class_.end() && --c->second == 0) by_class_.erase(c);
  if (identity.empty()) return;
  auto i = by_identity_.find(identity);
  if (i != by_identity_.end() && --i->second == 0) by_identity_.erase(i);
}

}  // namespace yilian::server
