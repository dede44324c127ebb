#include "delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace yilian::delivery {

Millis BackoffDelay(const config::RetryPolicy& policy, std::uint32_t attempts, double unit_random) {
  double base = policy.initial_backoff_ms;
  double exponent = attempts > 0 ? attempts - 1 : 0;
  double delay = base * std::pow(policy.multiplier, std::min(exponent, 64.0));
  delay = std::min(delay, static_cast<double>(policy.max_backoff_ms));
  delay -= delay * policy.jitter * std::clamp(unit_random, 0.0, 1.0);
  return static_cast<Millis>(std::max(0.0, delay));
}

}  // namespace yilian::delivery
