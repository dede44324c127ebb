// Retry delay: exponential backoff with jitter, capped. Pure function of its
// inputs and the random draw; safe from any thread.
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "config/config.h"

namespace yilian::delivery {

// Delay before the attempt following `attempts` hand-overs (attempts >= 1).
// `unit_random` in [0, 1) picks the jitter: the delay is reduced by up to
// policy.jitter of itself.
Millis BackoffDelay(const config::RetryPolicy& policy, std::uint32_t attempts, double unit_random);

}  // namespace yilian::delivery
