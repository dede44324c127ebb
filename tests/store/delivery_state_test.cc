// The delivery state machine, driven from the transition table written in
// store/records.h. The table below is a transcription of that comment; if
// the code and the documented table disagree, these tests say where.
#include "store/records.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace yilian::store {
namespace {

constexpr std::array<DeliveryState, 6> kAll = {DeliveryState::kPending,  DeliveryState::kDelivered,
                                               DeliveryState::kAccepted, DeliveryState::kProcessed,
                                               DeliveryState::kRejected, DeliveryState::kDead};

// kDocumented[from][to], rows and columns in kAll order, as in records.h:
//   from \ to   PENDING DELIVERED ACCEPTED PROCESSED REJECTED DEAD
constexpr bool kDocumented[6][6] = {
    /* PENDING   */ {false, true, true, true, true, false},
    /* DELIVERED */ {true, false, true, true, true, true},
    /* ACCEPTED  */ {true, false, false, true, true, true},
    /* PROCESSED */ {true, false, false, false, false, false},
    /* REJECTED  */ {true, false, false, false, false, false},
    /* DEAD      */ {true, false, false, false, false, false},
};

DeliveryRecord Record(DeliveryState state) {
  DeliveryRecord r;
  r.seq = 17;
  r.agency = "tax";
  r.uscc = "91110000100000001A";
  r.state = state;
  r.attempts = 2;
  return r;
}

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

TEST(DeliveryState, EveryPairMatchesTheDocumentedTable) {
  for (int f = 0; f < 6; ++f) {
    for (int t = 0; t < 6; ++t) {
      EXPECT_EQ(IsAllowedTransition(kAll[f], kAll[t]), kDocumented[f][t])
          << ToString(kAll[f]) << " -> " << ToString(kAll[t]);
    }
  }
}

TEST(DeliveryState, TransitionPerformsEveryAllowedMove) {
  for (int f = 0; f < 6; ++f) {
    for (int t = 0; t < 6; ++t) {
      if (!kDocumented[f][t]) continue;
      SCOPED_TRACE(std::string(ToString(kAll[f])) + " -> " + std::string(ToString(kAll[t])));
      DeliveryRecord r = Record(kAll[f]);
      Status s = TransitionDelivery(&r, kAll[t]);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(r.state, kAll[t]);
      // Only the state changes.
      EXPECT_EQ(r.seq, 17u);
      EXPECT_EQ(r.attempts, 2u);
      EXPECT_EQ(r.agency, "tax");
    }
  }
}

TEST(DeliveryState, TransitionRefusesEveryOtherMoveAndKeepsTheState) {
  int refused = 0;
  for (int f = 0; f < 6; ++f) {
    for (int t = 0; t < 6; ++t) {
      if (kDocumented[f][t]) continue;
      ++refused;
      const std::string from(ToString(kAll[f])), to(ToString(kAll[t]));
      SCOPED_TRACE(from + " -> " + to);
      DeliveryRecord r = Record(kAll[f]);
      Status s = TransitionDelivery(&r, kAll[t]);
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(s.message().find(from + " -> " + to), std::string::npos) << s.message();
      EXPECT_EQ(r.state, kAll[f]) << "state changed by a refused transition";
    }
  }
  EXPECT_EQ(refused, 36 - 16);  // the table allows 16 moves
}

TEST(DeliveryState, SelfTransitionsAreNeverAllowed) {
  for (DeliveryState s : kAll) EXPECT_FALSE(IsAllowedTransition(s, s)) << ToString(s);
}

TEST(DeliveryState, ProcessedOnlyReopensForAnOperatorReplay) {
  for (DeliveryState to : kAll) {
    EXPECT_EQ(IsAllowedTransition(DeliveryState::kProcessed, to), to == DeliveryState::kPending) << ToString(to);
  }
}

TEST(DeliveryState, OutOfRangeStatesAreRefused) {
  const auto bogus = static_cast<DeliveryState>(6);
  EXPECT_FALSE(IsAllowedTransition(bogus, DeliveryState::kPending));
  EXPECT_FALSE(IsAllowedTransition(DeliveryState::kPending, bogus));
  EXPECT_FALSE(IsAllowedTransition(static_cast<DeliveryState>(-1), DeliveryState::kPending));
  DeliveryRecord r = Record(DeliveryState::kDelivered);
  EXPECT_EQ(TransitionDelivery(&r, bogus).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.state, DeliveryState::kDelivered);
}

TEST(DeliveryState, TypicalLifecycles) {
  DeliveryRecord r = Record(DeliveryState::kPending);
  for (DeliveryState next : {DeliveryState::kDelivered, DeliveryState::kAccepted, DeliveryState::kProcessed})
    ASSERT_TRUE(TransitionDelivery(&r, next).ok()) << ToString(next);
  // Retry after a timeout, then dead-lettered, then an operator retry.
  r = Record(DeliveryState::kPending);
  for (DeliveryState next : {DeliveryState::kDelivered, DeliveryState::kPending, DeliveryState::kDelivered,
                             DeliveryState::kDead, DeliveryState::kPending})
    ASSERT_TRUE(TransitionDelivery(&r, next).ok()) << ToString(next);
}

}  // namespace
}  // namespace yilian::store
