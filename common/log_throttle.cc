#include "common/log_throttle.h"

#include <algorithm>

namespace yilian {

std::optional<std::uint64_t> LogThrottle::Admit(const std::string& key) {
  const Millis now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      entries_.erase(oldest);
    }
    entries_.emplace(key, Entry{now, 0});
    return 0;
  }
  Entry& e = it->second;
  if (now - e.last < interval_ms_) {
    ++e.unlogged;
    return std::nullopt;
  }
  const std::uint64_t unlogged = e.unlogged;
  e.last = now;
  e.unlogged = 0;
  return unlogged;
}

std::string LogThrottle::Suppressed(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " more since the last line)";
}

}  // namespace yilian
