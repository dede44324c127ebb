// Retry delays: exponential growth, a hard cap, and jitter that only ever
// shortens a delay, by at most `jitter` of it.
#include "delivery/backoff.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace yilian::delivery {
namespace {

config::RetryPolicy NoJitter() {
  config::RetryPolicy p;
  p.initial_backoff_ms = 1000;
  p.max_backoff_ms = 300000;
  p.multiplier = 2.0;
  p.jitter = 0.0;
  return p;
}

TEST(Backoff, GrowsByTheMultiplier) {
  config::RetryPolicy p = NoJitter();
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), 1000);
  EXPECT_EQ(BackoffDelay(p, 2, 0.0), 2000);
  EXPECT_EQ(BackoffDelay(p, 3, 0.0), 4000);
  EXPECT_EQ(BackoffDelay(p, 9, 0.0), 256000);
  p.multiplier = 3.0;
  p.initial_backoff_ms = 100;
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), 100);
  EXPECT_EQ(BackoffDelay(p, 2, 0.0), 300);
  EXPECT_EQ(BackoffDelay(p, 4, 0.0), 2700);
  p.multiplier = 1.5;
  EXPECT_EQ(BackoffDelay(p, 3, 0.0), 225);
}

TEST(Backoff, MultiplierOneIsConstant) {
  config::RetryPolicy p = NoJitter();
  p.multiplier = 1.0;
  for (std::uint32_t a : {1u, 2u, 10u, 1000u}) EXPECT_EQ(BackoffDelay(p, a, 0.0), 1000) << a;
}

TEST(Backoff, ZeroAttemptsCountsAsTheFirst) {
  EXPECT_EQ(BackoffDelay(NoJitter(), 0, 0.0), 1000);
}

TEST(Backoff, CappedAtMaxBackoff) {
  config::RetryPolicy p = NoJitter();
  EXPECT_EQ(BackoffDelay(p, 10, 0.0), 300000);  // 512000 uncapped
  EXPECT_EQ(BackoffDelay(p, 11, 0.0), 300000);
  // Huge attempt counts and multipliers neither overflow nor escape the cap.
  EXPECT_EQ(BackoffDelay(p, 1000, 0.0), 300000);
  EXPECT_EQ(BackoffDelay(p, UINT32_MAX, 0.0), 300000);
  p.multiplier = 10.0;
  p.max_backoff_ms = 86400000;
  EXPECT_EQ(BackoffDelay(p, UINT32_MAX, 0.0), 86400000);
  // The cap applies to the first delay too.
  p.initial_backoff_ms = 5000;
  p.max_backoff_ms = 4000;
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), 4000);
}

TEST(Backoff, ZeroDelaysStayZero) {
  config::RetryPolicy p = NoJitter();
  p.initial_backoff_ms = 0;
  EXPECT_EQ(BackoffDelay(p, 5, 0.5), 0);
  p.initial_backoff_ms = 1000;
  p.max_backoff_ms = 0;
  EXPECT_EQ(BackoffDelay(p, 5, 0.5), 0);
}

TEST(Backoff, JitterAtTheEndsOfTheDraw) {
  config::RetryPolicy p = NoJitter();
  p.jitter = 0.2;
  // A draw of 0 leaves the delay whole.
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), 1000);
  EXPECT_EQ(BackoffDelay(p, 3, 0.0), 4000);
  EXPECT_EQ(BackoffDelay(p, 20, 0.0), 300000);
  // A draw just below 1 takes off almost the full jitter fraction.
  const double almost_one = 0.999999;
  Millis d = BackoffDelay(p, 1, almost_one);
  EXPECT_GE(d, 800);
  EXPECT_LE(d, 801);
  d = BackoffDelay(p, 20, almost_one);  // jitter applies after the cap
  EXPECT_GE(d, 240000);
  EXPECT_LE(d, 240001);
  // Half way.
  EXPECT_EQ(BackoffDelay(p, 2, 0.5), 1800);
}

TEST(Backoff, JitterStaysWithinBoundsForEveryDraw) {
  for (double jitter : {0.0, 0.1, 0.2, 0.5, 1.0}) {
    config::RetryPolicy p = NoJitter();
    p.jitter = jitter;
    for (std::uint32_t attempts = 1; attempts <= 12; ++attempts) {
      const Millis full = BackoffDelay(p, attempts, 0.0);
      const double low = static_cast<double>(full) * (1.0 - jitter) - 1.0;
      Millis previous = full;
      for (int i = 0; i < 100; ++i) {
        double r = i / 100.0;
        Millis d = BackoffDelay(p, attempts, r);
        EXPECT_LE(d, full) << "jitter " << jitter << " attempts " << attempts << " r " << r;
        EXPECT_GE(static_cast<double>(d), low) << "jitter " << jitter << " attempts " << attempts << " r " << r;
        EXPECT_GE(d, 0);
        EXPECT_LE(d, previous) << "a larger draw gave a longer delay";
        previous = d;
      }
    }
  }
}

TEST(Backoff, DrawsOutsideTheUnitIntervalAreClamped) {
  config::RetryPolicy p = NoJitter();
  p.jitter = 0.2;
  EXPECT_EQ(BackoffDelay(p, 2, -3.0), 2000);
  EXPECT_EQ(BackoffDelay(p, 2, 7.0), 1600);
}

}  // namespace
}  // namespace yilian::delivery
