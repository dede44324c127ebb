// What a simulated agency decides about one submission, as a pure function
// of the seed and the submission, so a run is reproducible whatever the
// timing: how long it takes, whether it processes or rejects, the reference
// it hands out (unit numbers, accounts, confirmation numbers, stable per
// enterprise where the real agency's are), and a realistic reason when it
// rejects. Rules per agency: docs/agencies.md#the-agency-simulator.
// Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "yilian/agency/v1/records.pb.h"

namespace yilian::sim {

struct SimSpec {
  std::uint64_t seed = 1;
  // Processing delay, uniform in [min, max].
  int delay_min_ms = 200;
  int delay_max_ms = 2000;
  // Fraction of submissions refused for one of the agency's reasons.
  double reject_rate = 0.1;
};

struct Decision {
  int delay_ms = 0;
  bool processed = true;
  std::string reference;    // processed
  std::string reason_code;  // rejected
  std::string reason;       // rejected
};

Decision Decide(const SimSpec& spec, const agency::v1::AgencySubmission& submission);

// A stable 64-bit hash of the seed and the parts (FNV-1a).
std::uint64_t StableHash(std::uint64_t seed, const std::string& a, const std::string& b = "");

}  // namespace yilian::sim
