// Records the store persists.
//
// A delivery is one (event, agency) pair. Its state changes only through
// the delivery state machine, delivery::Apply (delivery/state_machine.h),
// which holds the table of transitions.
//
// Plain values; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"

namespace yilian::store {

enum class DeliveryState : int {
  kPending = 0,    // waiting to be handed over (first time or again)
  kDelivered = 1,  // handed to an adapter, no answer yet
  kAccepted = 2,   // adapter durably took it over; result will follow
  kProcessed = 3,  // final: agency processed it
  kRejected = 4,   // final: agency refused it
  kDead = 5,       // final: attempts exhausted (dead letter)
};

std::string_view ToString(DeliveryState state);
bool IsSettled(DeliveryState state);

// An event's agencies as the `events.agencies` column stores them:
// comma-separated, in routing order.
std::string JoinAgencies(const std::vector<std::string>& agencies);
std::vector<std::string> SplitAgencies(std::string_view text);

struct StoredEvent {
  Sequence seq = 0;
  std::string event_id;
  std::string uscc;
  std::uint64_t revision = 0;
  int type = 0;
  std::vector<std::string> agencies;
  std::string payload;  // EnterpriseEvent, deterministic Protobuf encoding
  Millis published_at = 0;
  // Parallel to `agencies`: each delivery's deadline (0: none).
  std::vector<Millis> agency_deadlines;
  // Parallel to `agencies` (or empty): deliveries handed over in the same
  // turn, inserted as DELIVERED with one attempt instead of PENDING.
  std::vector<bool> handed_over;
  Millis case_deadline_at = 0;  // 0: none
  std::string enterprise_name;
};

// Case state as stored (values of yilian.v1.CaseState).
enum class CaseState : int { kInProgress = 1, kCompleted = 2, kAttention = 3 };

// A durable case update waiting for the platform's acknowledgement.
struct CaseUpdateRecord {
  std::uint64_t id = 0;
  Sequence seq = 0;
  int kind = 0;  // yilian.v1.CaseUpdateKind
  std::string agency;
  Millis at = 0;
};

struct CaseRow {
  CaseState state = CaseState::kInProgress;
  bool overdue = false;
  Millis deadline_at = 0;
  Millis published_at = 0;
  std::string uscc;
  bool resolved = false;  // an operator resolved it by hand (`resolution` is set)
};

struct DeliveryRecord {
  Sequence seq = 0;
  std::string agency;
  std::string uscc;
  DeliveryState state = DeliveryState::kPending;
  std::uint32_t attempts = 0;  // hand-overs so far
  Millis next_attempt_at = 0;  // PENDING: not before this time
  Millis updated_at = 0;
  std::string reference;  // PROCESSED: agency reference
  std::string reason;     // REJECTED / DEAD / last RETRY reason
  Millis first_delivered_at = 0;
  Millis last_delivered_at = 0;
  Millis accepted_at = 0;
  Millis settled_at = 0;
  Millis deadline_at = 0;  // 0: no deadline
  bool overdue = false;
  bool replay = false;  // re-delivered by an operator's replay
};

}  // namespace yilian::store
