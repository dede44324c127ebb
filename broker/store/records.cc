#include "store/records.h"

#include <array>

namespace yilian::store {
namespace {

constexpr int kStates = 6;
// kDeliveryTransitions[from][to]
constexpr std::array<std::array<bool, kStates>, kStates> kDeliveryTransitions = {{
    //        PEND   DELIV  ACCEPT PROC   REJ    DEAD
    /*PEND*/ {false, true, true, true, true, false},
    /*DELV*/ {true, false, true, true, true, true},
    /*ACPT*/ {true, false, false, true, true, true},
    /*PROC*/ {true, false, false, false, false, false},
    /*REJ */ {true, false, false, false, false, false},
    /*DEAD*/ {true, false, false, false, false, false},
}};

}  // namespace

std::string_view ToString(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending: return "PENDING";
    case DeliveryState::kDelivered: return "DELIVERED";
    case DeliveryState::kAccepted: return "ACCEPTED";
    case DeliveryState::kProcessed: return "PROCESSED";
    case DeliveryState::kRejected: return "REJECTED";
    case DeliveryState::kDead: return "DEAD";
  }
  return "UNKNOWN";
}

bool IsSettled(DeliveryState state) {
  return state == DeliveryState::kProcessed || state == DeliveryState::kRejected || state == DeliveryState::kDead;
}

bool IsAllowedTransition(DeliveryState from, DeliveryState to) {
  int f = static_cast<int>(from), t = static_cast<int>(to);
  if (f < 0 || f >= kStates || t < 0 || t >= kStates) return false;
  return kDeliveryTransitions[f][t];
}

Status TransitionDelivery(DeliveryRecord* record, DeliveryState to) {
  if (!IsAllowedTransition(record->state, to)) {
    return Status::FailedPrecondition("delivery of seq " + std::to_string(record->seq) + " to " + record->agency +
                                      ": illegal transition " + std::string(ToString(record->state)) + " -> " +
                                      std::string(ToString(to)));
  }
  record->state = to;
  return Status::Ok();
}

}  // namespace yilian::store
