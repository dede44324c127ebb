// LogThrottle: the first event of a key is logged, then one per interval
// with the count of those not logged; keys are independent; the table is
// bounded.
#include "common/log_throttle.h"

#include <gtest/gtest.h>

namespace yilian {
namespace {

TEST(LogThrottle, OneLinePerIntervalWithTheCountNotLogged) {
  ManualClock clock;
  LogThrottle throttle(&clock, 10000);
  EXPECT_EQ(throttle.Admit("10.0.0.7"), 0u);
  for (int i = 0; i < 99; ++i) {
    clock.Advance(50);
    EXPECT_FALSE(throttle.Admit("10.0.0.7")) << i;
  }
  EXPECT_EQ(throttle.Admit("10.0.0.8"), 0u);  // another key is not held back
  clock.Advance(10000);
  EXPECT_EQ(throttle.Admit("10.0.0.7"), 99u);
  EXPECT_FALSE(throttle.Admit("10.0.0.7"));
  clock.Advance(10000);
  EXPECT_EQ(throttle.Admit("10.0.0.7"), 1u);
  EXPECT_EQ(LogThrottle::Suppressed(0), "");
  EXPECT_EQ(LogThrottle::Suppressed(99), " (99 more since the last line)");
}

TEST(LogThrottle, TheTableIsBounded) {
  ManualClock clock;
  LogThrottle throttle(&clock, 10000);
  for (std::size_t i = 0; i < LogThrottle::kMaxKeys + 100; ++i) {
    clock.Advance(1);
    EXPECT_EQ(throttle.Admit("key-" + std::to_string(i)), 0u);
  }
  // The oldest keys were forgotten: they count as new again.
  EXPECT_EQ(throttle.Admit("key-0"), 0u);
  // A recent key is still held back.
  EXPECT_FALSE(throttle.Admit("key-" + std::to_string(LogThrottle::kMaxKeys + 99)));
}

}  // namespace
}  // namespace yilian
