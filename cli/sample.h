// Realistic sample events for demos, tests and benchmarks: enterprises of a
// development zone with valid USCCs and resident IDs, Chinese names,
// addresses and business scopes; establishments followed by changes and
// deregistrations, each enterprise's revisions increasing.
// Deterministic for a given seed. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yilian/v1/event.pb.h"

namespace yilian::sample {

struct SampleOptions {
  std::uint64_t seed = 1;
  int enterprises = 10;
  // Events per enterprise: the first is ESTABLISHED, then CHANGED/FILED,
  // and the last may be DEREGISTERED.
  int events_per_enterprise = 3;
  // Fraction (0..1) of enterprises that are deregistered at the end.
  double deregister_fraction = 0.1;
  // Bank codes to reserve accounts with; chosen round-robin.
  std::vector<std::string> banks = {"ICBC", "CCB"};
  // Prefix of event ids.
  std::string id_prefix = "ev";
  // Pad business_scope so an encoded event is about this many bytes (0: no
  // padding), at most kMaxTargetBytes: the scope stays within the
  // validator's 4096 bytes, so every event stays valid.
  int target_bytes = 0;
  // Region code of the zone (first 6 digits of the USCC region).
  std::string region_code = "350206";
};

// The largest target_bytes every generated event reaches: a business scope
// of at most 4096 bytes (validation's limit) and the rest of an event.
constexpr int kMaxTargetBytes = 4500;

// The events in publish order: enterprises interleaved, so consecutive
// events mostly belong to different enterprises.
std::vector<yilian::v1::EnterpriseEvent> Generate(const SampleOptions& options);

// A valid USCC for enterprise number `n` in `region_code`.
std::string MakeUscc(const std::string& region_code, std::uint64_t n);
// A valid resident ID number for a person born in 1960-1999, from `n`.
std::string MakeResidentId(std::uint64_t n);

}  // namespace yilian::sample
