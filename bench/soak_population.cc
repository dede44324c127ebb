#include "soak_population.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli/sample.h"

namespace yilian::bench {

Result<DayCurve> DayCurve::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read the rate curve " + path);
  DayCurve curve;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::string time;
    double fraction = 0;
    if (!(fields >> time)) continue;  // blank or comment
    int hh = -1, mm = -1;
    char colon = 0;
    std::istringstream hm(time);
    if (!(hm >> hh >> colon >> mm) || colon != ':' || hh < 0 || hh > 24 || mm < 0 || mm > 59 ||
        !(fields >> fraction) || fraction < 0 || fraction > 1)
      return Status::InvalidArgument(path + " line " + std::to_string(number) +
                                     ": expected \"HH:MM FRACTION\" with FRACTION in 0..1");
    curve.points_.emplace_back(hh + mm / 60.0, fraction);
  }
  if (curve.points_.empty()) return Status::InvalidArgument(path + ": no points");
  std::sort(curve.points_.begin(), curve.points_.end());
  return curve;
}

double DayCurve::At(double hour) const {
  // Between the last point of a day and the first of the next, wrapping.
  const auto& first = points_.front();
  const auto& last = points_.back();
  auto lerp = [](double h0, double f0, double h1, double f1, double h) {
    return h1 <= h0 ? f0 : f0 + (f1 - f0) * (h - h0) / (h1 - h0);
  };
  if (hour < first.first) return lerp(last.first - 24, last.second, first.first, first.second, hour);
  for (std::size_t i = 1; i < points_.size(); ++i)
    if (hour < points_[i].first)
      return lerp(points_[i - 1].first, points_[i - 1].second, points_[i].first, points_[i].second, hour);
  return lerp(last.first, last.second, first.first + 24, first.second, hour);
}

Population::Population(PopulationOptions options) : options_(std::move(options)), rng_(options_.seed) {
  for (int i = 0; i < options_.open_cohorts; ++i) Open();
}

void Population::Open() {
  sample::SampleOptions o;
  // Seeds far apart from run to run would not matter: every soak starts on
  // an empty store. Within a run each cohort has its own seed, so its
  // USCCs (seed * 1000003 + i) and event ids (prefix-seed-n) are new.
  o.seed = options_.seed * 100000 + ++cohorts_;
  o.enterprises = options_.enterprises_per_cohort;
  o.events_per_enterprise = options_.events_per_enterprise;
  o.banks = {options_.bank};
  o.id_prefix = options_.id_prefix;
  open_.push_back(Cohort{sample::Generate(o), 0});
  enterprises_ += static_cast<std::uint64_t>(o.enterprises);
}

std::optional<v1::EnterpriseEvent> Population::Next() {
  // Start at a random open cohort and take the first whose next event's
  // enterprise is not waiting for a confirm.
  std::size_t start = std::uniform_int_distribution<std::size_t>(0, open_.size() - 1)(rng_);
  for (std::size_t k = 0; k < open_.size(); ++k) {
    std::size_t i = (start + k) % open_.size();
    Cohort& c = open_[i];
    const std::string& uscc = c.events[c.next].uscc();
    if (busy_.count(uscc)) continue;
    busy_.insert(uscc);
    v1::EnterpriseEvent e = std::move(c.events[c.next++]);
    if (c.next == c.events.size()) {
      open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(i));
      Open();
    }
    return e;
  }
  return std::nullopt;
}

}  // namespace yilian::bench
