// SessionQuota: whether one more session may open. Three bounds, checked in
// this order when a Hello arrives:
//  1. per identity (secure mode only; --insecure-dev has no identities): one
//     CURVE identity holds at most its role's quota of sessions, so a
//     compromised or misbehaving client cannot take every slot;
//  2. a reserve: as long as a client class (the publisher, the watcher, each
//     configured agency rule, "bank:*" counting as one) has no session, one
//     slot is kept free for it, so the platform and every agency can always
//     connect however many sessions others hold;
//  3. limits.max_connections in all.
// Refusals are counted by reason for the metrics.
//
// Owned and used by the broker loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace yilian::server {

class SessionQuota {
 public:
  struct Limits {
    std::uint32_t max_sessions = 1024;
    std::uint32_t per_publisher = 16;  // sessions of one publisher identity
    std::uint32_t per_agency = 16;     // sessions of one agency identity
    std::uint32_t per_watcher = 8;     // sessions of one observer/admin identity watching
  };
  enum class Kind { kPublisher, kAgency, kWatcher };
  enum class Refusal { kIdentityQuota, kReserved, kMaxSessions };

  // `reserved` are the classes that keep a slot: see Class().
  SessionQuota(Limits limits, std::set<std::string> reserved);

  // The class of a session: "publisher", "watcher", or "agency:" + the id
  // of the configured agency rule it consumes for.
  static std::string Class(Kind kind, const std::string& agency_rule);

  // nullopt when a session of `kind` and `cls` for `identity` (empty: no
  // identity quota) may open; else why not, with a text for the client.
  struct Refused {
    Refusal reason;
    std::string message;
  };
  std::optional<Refused> Check(const std::string& identity, Kind kind, const std::string& cls) const;

  void Opened(const std::string& identity, const std::string& cls);
  void Closed(const std::string& identity, const std::string& cls);

  std::size_t sessions() const { return total_; }
  static const char* ToString(Refusal r);

 private:
  std::uint32_t QuotaOf(Kind kind) const;

  Limits limits_;
  std::set<std::string> reserved_;
  std::size_t total_ = 0;
  std::map<std::string, std::uint32_t> by_identity_;
  std::map<std::string, std::uint32_t> by_class_;
};

}  // namespace yilian::server
