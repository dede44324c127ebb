#include "common/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace yilian {

Millis SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339Utc(Millis ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string NowRfc3339Utc() { return FormatRfc3339Utc(SystemClock::Default()->NowMillis()); }

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace yilian
