#include "store/records.h"

namespace yilian::store {

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

}  // namespace yilian::store
