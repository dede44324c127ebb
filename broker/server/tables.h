// The tables the parts of the server share: sessions, agencies with their
// queues, outstanding hand-overs and deadlines. Plain data; the parts that
// change each are named beside it.
//
// Loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/ids.h"
#include "delivery/agency_queue.h"
#include "routing/routing.h"
#include "security/field_filter.h"
#include "yilian/v1/protocol.pb.h"

namespace spdlog {
class logger;
}

namespace yilian::server {

// (agency index, sequence) packed into one integer.
using InflightKey = std::uint64_t;
inline InflightKey MakeInflightKey(std::uint32_t agency, Sequence seq) { return (seq << 16) | agency; }

struct Session {
  std::string routing_id;
  std::string session_id;
  v1::ClientRole role = v1::CLIENT_ROLE_UNSPECIFIED;
  std::string name;
  int agency = -1;  // index into agencies_, CONSUMER only
  std::uint32_t credit = 0;
  std::uint32_t in_use = 0;
  Millis last_recv = 0;
  Millis last_send = 0;
  std::uint32_t publishes_this_turn = 0;
  bool unreachable = false;  // a send to it failed: drop at the next sweep
  bool batch_acks = false;   // Hello.batch_acks: a turn's acks go out as one Acks
  std::string key;           // CURVE public key (Z85); empty in --insecure-dev
  auth::Principal principal;
  std::string quota_identity;  // as counted by SessionQuota ("" in --insecure-dev)
  std::string quota_class;
  std::unordered_set<InflightKey> inflight;
  std::unordered_set<std::uint64_t> updates;  // WATCHER: case updates outstanding
};

struct AgencyState {
  std::string id;
  // Minimum necessary: fields this agency may see. Always set once the
  // agency exists (an allow-list that fails to compile becomes the empty
  // list: only the always-kept fields go out).
  std::optional<security::FieldFilter> filter;
  delivery::AgencyQueue queue;
  std::vector<std::string> consumers;  // routing ids, round-robin
  std::size_t next_consumer = 0;
  // Enterprises with an event accepted for this agency in the current turn
  // (not in `queue` before the commit): their later events wait.
  std::unordered_set<delivery::UsccKey, delivery::UsccKeyHash> staged;
};

struct Inflight {
  std::string routing_id;
  std::string event_id;
  delivery::UsccKey key;
  std::uint32_t attempts = 0;  // including this hand-over
  Millis deadline = 0;
};

// A deadline to check: a delivery's (agency >= 0) or a whole case's (-1).
struct Deadline {
  Millis due;
  Sequence seq;
  int agency;
  bool operator>(const Deadline& o) const { return due > o.due; }
};

// Agencies by index, in the order they became known (the configured ones
// first, then each bank:<code> as an event or a consumer names it). An
// agency is never removed: its index is a stable key (InflightKey).
class Agencies {
 public:
  Agencies(const routing::Router& router, std::shared_ptr<spdlog::logger> log)
      : router_(router), log_(std::move(log)) {}

  // The index of agency `id`, created with its allow-list on first use.
  int Index(const std::string& id);
  std::size_t size() const { return table_.size(); }
  const std::unique_ptr<AgencyState>& operator[](std::size_t i) const { return table_[i]; }
  auto begin() const { return table_.begin(); }
  auto end() const { return table_.end(); }
  // Empties every queue, consumer list and staged set (the agencies and
  // their numbers stay): a broker that steps down keeps nothing.
  void ClearQueues();

 private:
  const routing::Router& router_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<AgencyState>> table_;
  std::unordered_map<std::string, int> index_;
};

// Sessions by routing id (broker.cc: hello, heartbeats, drop).
using SessionTable = std::unordered_map<std::string, Session>;

}  // namespace yilian::server
