#include "core/time.h"

#include <charconv>
#include <chrono>
#include <thread>

namespace cryptolake {

StatusOr<Interval> Interval::Parse(std::string_view s) {
  static constexpr struct {
    const char* name;
    Micros micros;
  } kIntervals[] = {
      {"1m", kMicrosPerMinute},       {"3m", 3 * kMicrosPerMinute},   {"5m", 5 * kMicrosPerMinute},
      {"15m", 15 * kMicrosPerMinute}, {"30m", 30 * kMicrosPerMinute}, {"1h", kMicrosPerHour},
      {"2h", 2 * kMicrosPerHour},     {"4h", 4 * kMicrosPerHour},     {"6h", 6 * kMicrosPerHour},
      {"8h", 8 * kMicrosPerHour},     {"12h", 12 * kMicrosPerHour},   {"1d", kMicrosPerDay},
  };
  for (const auto& i : kIntervals) {
    if (s == i.name) return Interval{i.name, i.micros};
  }
  return InvalidArgument(
      "unsupported interval '{}' (accepted: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d)", s);
}

// Howard Hinnant's days_from_civil / civil_from_days.
static int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromMicros(Micros t, int* year, int* month, int* day) {
  int64_t z = DayFloor(t) / kMicrosPerDay + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(y + (m <= 2));
  *month = static_cast<int>(m);
  *day = static_cast<int>(d);
}

Micros MicrosFromCivil(int year, int month, int day, int hour, int minute, int second) {
  return DaysFromCivil(year, month, day) * kMicrosPerDay + hour * kMicrosPerHour +
         minute * kMicrosPerMinute + second * kMicrosPerSecond;
}

static void SplitDay(Micros t, int* h, int* mi, int* s, int64_t* frac) {
  Micros in_day = t - DayFloor(t);
  *h = static_cast<int>(in_day / kMicrosPerHour);
  *mi = static_cast<int>(in_day % kMicrosPerHour / kMicrosPerMinute);
  *s = static_cast<int>(in_day % kMicrosPerMinute / kMicrosPerSecond);
  *frac = in_day % kMicrosPerSecond;
}

std::string FormatIso(Micros t) {
  int y, m, d, h, mi, s;
  int64_t frac;
  CivilFromMicros(t, &y, &m, &d);
  SplitDay(t, &h, &mi, &s, &frac);
  if (frac)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", y, m, d, h, mi, s, frac);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, h, mi, s);
}

std::string FormatMinute(Micros t) {
  int y, m, d, h, mi, s;
  int64_t frac;
  CivilFromMicros(t, &y, &m, &d);
  SplitDay(t, &h, &mi, &s, &frac);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", y, m, d, h, mi);
}

std::string FormatDate(Micros t) {
  int y, m, d;
  CivilFromMicros(t, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

StatusOr<Micros> ParseTime(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("unparseable time '{}' (expected YYYY-MM-DD[ HH:MM[:SS]], UTC)", s);
  };
  int f[6] = {0, 0, 0, 0, 0, 0};
  const int widths[6] = {4, 2, 2, 2, 2, 2};
  const char seps[6] = {0, '-', '-', ' ', ':', ':'};
  size_t pos = 0;
  int n = 0;
  for (; n < 6; ++n) {
    if (n > 0) {
      if (pos >= s.size()) break;
      char c = s[pos];
      if (!(c == seps[n] || (n == 3 && c == 'T'))) {
        if (c == 'Z' && pos + 1 == s.size()) break;
        return bad();
      }
      ++pos;
    }
    if (pos + widths[n] > s.size()) return bad();
    auto r = std::from_chars(s.data() + pos, s.data() + pos + widths[n], f[n]);
    if (r.ec != std::errc() || r.ptr != s.data() + pos + widths[n]) return bad();
    pos += widths[n];
  }
  if (pos < s.size() && !(s[pos] == 'Z' && pos + 1 == s.size())) return bad();
  if (n < 3 || n == 4) return bad();
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59) {
    return bad();
  }
  Micros t = MicrosFromCivil(f[0], f[1], f[2], f[3], f[4], f[5]);
  int y, m, d;
  CivilFromMicros(t, &y, &m, &d);
  if (d != f[2]) return bad();  // e.g. 2025-02-30
  return t;
}

Micros SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemClock::SleepUntil(Micros t) const {
  for (Micros now = Now(); now < t; now = Now()) {
    std::this_thread::sleep_for(std::chrono::microseconds(t - now));
  }
}

const Clock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace cryptolake
