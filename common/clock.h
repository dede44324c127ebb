// Injectable time source. The broker reads time only through a Clock so tests
// can drive timeouts and backoff without sleeping.
// Thread-safety: SystemClock is safe from any thread; ManualClock is not.
#pragma once

#include <cstdint>
#include <string>

namespace yilian {

// Milliseconds since the Unix epoch (wall clock), used for stored timestamps
// and all timers in the broker.
using Millis = std::int64_t;

// `ms` as RFC 3339 UTC with milliseconds, e.g. "2026-01-02T03:04:05.678Z".
std::string FormatRfc3339Utc(Millis ms);
// The system clock's now, formatted so.
std::string NowRfc3339Utc();

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  Millis NowMillis() const override;
  static SystemClock* Default();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start = 1'700'000'000'000) : now_(start) {}
  Millis NowMillis() const override { return now_; }
  void Advance(Millis by) { now_ += by; }
  void Set(Millis to) { now_ = to; }

 private:
  Millis now_;
};

}  // namespace yilian
