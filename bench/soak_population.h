// The soak's publishing side, apart from the sockets: a working-day rate
// curve and a growing population of enterprises whose events come out in
// a valid order (revisions increasing per enterprise, all event types).
//
// DayCurve: a publish rate by hour of a simulated day, read from a text
// file of "HH:MM FRACTION" lines (fraction of the peak rate, 0..1; linear
// between points, wrapping at midnight; '#' starts a comment).
//
// Population: enterprises arrive in cohorts of `enterprises_per_cohort`,
// each cohort the output of sample::Generate with its own seed (so USCCs
// and event ids never collide). A few cohorts are open at once and the next
// event is drawn from a random open one, so old enterprises keep changing
// while new ones are established; when a cohort has handed out all its
// events a new one opens. An event is held back while an earlier event of
// the same enterprise is unconfirmed: a later revision stored first would
// make the earlier one STALE when it is sent again after a broker restart.
//
// Pure (no I/O but DayCurve::Load); one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/status.h"
#include "yilian/v1/event.pb.h"

namespace yilian::bench {

class DayCurve {
 public:
  static Result<DayCurve> Load(const std::string& path);
  // Fraction of the peak rate at `hour` (0 <= hour < 24).
  double At(double hour) const;

 private:
  std::vector<std::pair<double, double>> points_;  // (hour, fraction), sorted by hour
};

struct PopulationOptions {
  std::uint64_t seed = 1;
  int enterprises_per_cohort = 500;
  int events_per_enterprise = 6;
  int open_cohorts = 4;
  std::string id_prefix = "soak";
  std::string bank = "ICBC";  // every enterprise reserves its account here
};

class Population {
 public:
  explicit Population(PopulationOptions options);

  // The next event that may be published now, or nullopt if every open
  // cohort's next event waits for a confirm. Marks its enterprise busy.
  std::optional<v1::EnterpriseEvent> Next();
  // The enterprise's last event is confirmed (or finally refused).
  void Done(const std::string& uscc) { busy_.erase(uscc); }

  std::uint64_t enterprises() const { return enterprises_; }

 private:
  struct Cohort {
    std::vector<v1::EnterpriseEvent> events;
    std::size_t next = 0;
  };
  void Open();

  PopulationOptions options_;
  std::mt19937_64 rng_;
  std::vector<Cohort> open_;
  std::uint64_t cohorts_ = 0;
  std::uint64_t enterprises_ = 0;
  std::unordered_set<std::string> busy_;  // USCCs with an unconfirmed event
};

}  // namespace yilian::bench
