// Injectable time source. The broker reads time only through a Clock so tests
// can drive timeouts and backoff without sleeping.
// Thread-safety: SystemClock is safe from any thread; ManualClock is not.
#pragma once

#include <cstdint>

namespace yilian {

// Milliseconds since the Unix epoch (wall clock), used for stored timestamps
// and all timers in the broker.
using Millis = std::int64_t;

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
