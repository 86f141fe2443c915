// Time in cryptolake: UTC microseconds since the Unix epoch (int64), everywhere.
// Kline intervals are fixed-length; Binance's calendar intervals (1w, 1M) are not supported.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cryptolake {

using Micros = int64_t;  // UTC microseconds since 1970-01-01T00:00:00Z

inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr Micros kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr Micros kMicrosPerDay = 24 * kMicrosPerHour;

// A Binance kline interval such as "1m", "15m", "1h", "1d".
struct Interval {
  std::string name;  // canonical Binance spelling
  Micros micros = 0;

  // Parses "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d".
  // Returns InvalidArgument naming the accepted values for anything else.
  static StatusOr<Interval> Parse(std::string_view s);
  int64_t minutes() const { return micros / kMicrosPerMinute; }
  bool operator==(const Interval& o) const { return micros == o.micros; }
};

// Start of the UTC day that contains t.
inline Micros DayFloor(Micros t) {
  Micros r = t % kMicrosPerDay;
  return t - (r < 0 ? r + kMicrosPerDay : r);
}

// The first multiple of `step` at or after / at or before t (also for negative t).
inline Micros AlignUp(Micros t, Micros step) {
  Micros r = t % step;
  if (r < 0) r += step;
  return r == 0 ? t : t + (step - r);
}
inline Micros AlignDown(Micros t, Micros step) {
  Micros r = t % step;
  if (r < 0) r += step;
  return t - r;
}

// "2025-05-20T00:00:00Z" style (seconds precision unless fractional part is non-zero).
std::string FormatIso(Micros t);
// "2025-05-20 02:00" (minute precision), as verify prints gap ranges.
std::string FormatMinute(Micros t);
// "2025-05-20".
std::string FormatDate(Micros t);
// Parses "2025-05-20", "2025-05-20 02:00[:00]", "2025-05-20T02:00:00[Z]". UTC only.
StatusOr<Micros> ParseTime(std::string_view s);
// Civil date helpers.
void CivilFromMicros(Micros t, int* year, int* month, int* day);
Micros MicrosFromCivil(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

// The one source of "now". Production uses SystemClock; tests use FakeClock and advance it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros Now() const = 0;
  // Returns once Now() >= t. SystemClock sleeps; FakeClock jumps forward to t at once (never
  // backwards), so code that waits (rate limits, backoff) runs instantly and exactly in tests.
  virtual void SleepUntil(Micros t) const = 0;
  void SleepFor(Micros d) const { SleepUntil(Now() + d); }
};

class SystemClock final : public Clock {
 public:
  Micros Now() const override;
  void SleepUntil(Micros t) const override;
  static const Clock& Instance();
};

// Does not tick on its own: tests call Advance() or Set().
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Micros start = 0) : now_(start) {}
  Micros Now() const override { return now_.load(); }
  void SleepUntil(Micros t) const override {
    Micros cur = now_.load();
    while (cur < t && !now_.compare_exchange_weak(cur, t)) {
    }
  }
  void Advance(Micros d) { now_ += d; }
  void Set(Micros t) { now_ = t; }

 private:
  mutable std::atomic<Micros> now_;
};

}  // namespace cryptolake
