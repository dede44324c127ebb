// LogThrottle: keeps a repeated warning from flooding the log. For each key
// (a client address, an identity, a failing component) the first event is
// logged, then at most one per interval, each telling how many were not
// logged since; a client that retries in a tight loop, or a disk that stays
// full, costs one line per interval, not one per attempt.
//
// Thread-safe: a mutex guards the table, so HTTP threads may share one. The
// table keeps at most kMaxKeys keys (the oldest line's key is forgotten
// first), so a stream of new keys cannot grow it without bound.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace yilian {

class LogThrottle {
 public:
  static constexpr std::size_t kMaxKeys = 4096;

  // `clock` must outlive the throttle.
  LogThrottle(Clock* clock, Millis interval_ms) : clock_(clock), interval_ms_(interval_ms) {}

  // nullopt: do not log this one. Otherwise log it, with the number of
  // events under `key` not logged since the last line (0 for the first).
  std::optional<std::uint64_t> Admit(const std::string& key);

  // " (N more since the last line)" or "" for N = 0: for the logged line.
  static std::string Suppressed(std::uint64_t n);

 private:
  struct Entry {
    Millis last = 0;
    std::uint64_t unlogged = 0;
  };

  Clock* clock_;
  Millis interval_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace yilian
