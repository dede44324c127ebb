// Delivery states as stored: their names, numbers and which are final. The
// transitions are the state machine's (tests/delivery/state_machine_test.cc).
#include "store/records.h"

#include <gtest/gtest.h>

#include <array>

namespace yilian::store {
namespace {

constexpr std::array<DeliveryState, 6> kAll = {DeliveryState::kPending,  DeliveryState::kDelivered,
                                               DeliveryState::kAccepted, DeliveryState::kProcessed,
                                               DeliveryState::kRejected, DeliveryState::kDead};

TEST(DeliveryState, NamesAreTheDocumentedOnes) {
  EXPECT_EQ(ToString(DeliveryState::kPending), "PENDING");
  EXPECT_EQ(ToString(DeliveryState::kDelivered), "DELIVERED");
  EXPECT_EQ(ToString(DeliveryState::kAccepted), "ACCEPTED");
  EXPECT_EQ(ToString(DeliveryState::kProcessed), "PROCESSED");
  EXPECT_EQ(ToString(DeliveryState::kRejected), "REJECTED");
  EXPECT_EQ(ToString(DeliveryState::kDead), "DEAD");
  EXPECT_EQ(ToString(static_cast<DeliveryState>(42)), "UNKNOWN");
}

TEST(DeliveryState, StoredValuesAreStable) {
  // The numbers are persisted in the deliveries table; they must not move.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(static_cast<int>(kAll[i]), i) << ToString(kAll[i]);
}

TEST(DeliveryState, SettledStatesAreTheFinalOnes) {
  EXPECT_FALSE(IsSettled(DeliveryState::kPending));
  EXPECT_FALSE(IsSettled(DeliveryState::kDelivered));
  EXPECT_FALSE(IsSettled(DeliveryState::kAccepted));
  EXPECT_TRUE(IsSettled(DeliveryState::kProcessed));
  EXPECT_TRUE(IsSettled(DeliveryState::kRejected));
  EXPECT_TRUE(IsSettled(DeliveryState::kDead));
}

}  // namespace
}  // namespace yilian::store
