#include "model/daily.h"

#include <algorithm>
#include <cmath>

namespace cryptolake::model {

namespace {

constexpr int64_t kScale = 10'000'000'000;  // 10 decimals
constexpr double kScaleD = 1e10;

__int128 Units(double x) { return static_cast<__int128>(std::round(x * kScaleD)); }

double Mean(std::span<const DailyBar> rows) {
  DecimalSum s;
  for (const auto& r : rows) s.Add(r.close);
  return s.Value() / static_cast<double>(rows.size());
}

}  // namespace

void DecimalSum::Add(double x) { units_ += Units(x); }
void DecimalSum::Sub(double x) { units_ -= Units(x); }

double DecimalSum::Value() const {
  // Exact when the integer has at most 53 bits; otherwise DuckDB adds the integer part and the
  // fraction, each converted on its own.
  const __int128 mag = units_ < 0 ? -units_ : units_;
  if (mag <= (static_cast<__int128>(1) << 53)) return static_cast<double>(units_) / kScaleD;
  return static_cast<double>(units_ / kScale) + static_cast<double>(units_ % kScale) / kScaleD;
}

std::vector<DailyBar> DailyBarsOf(std::span<const Kline> m1, bool open_last) {
  std::vector<DailyBar> out;
  DecimalSum volume;
  for (size_t i = 0; i < m1.size(); ++i) {
    const Kline& k = m1[i];
    const Micros day = DayFloor(k.open_time);
    if (out.empty() || out.back().day != day) {
      if (!out.empty()) out.back().volume = volume.Value();
      volume = {};
      out.push_back({.day = day, .open = k.open, .high = k.high, .low = k.low});
    }
    DailyBar& b = out.back();
    b.high = std::max(b.high, k.high);
    b.low = std::min(b.low, k.low);
    b.close = k.close;
    volume.Add(k.volume);
    if (!(open_last && i + 1 == m1.size())) ++b.minutes;
  }
  if (!out.empty()) out.back().volume = volume.Value();
  return out;
}

std::vector<DailyBar> ForwardFill(std::vector<DailyBar> bars) {
  std::vector<DailyBar> out;
  out.reserve(bars.size());
  for (auto& b : bars) {
    if (!out.empty()) {
      const double c = out.back().close;
      for (Micros t = out.back().day + kMicrosPerDay; t < b.day; t += kMicrosPerDay) {
        out.push_back({.day = t, .open = c, .high = c, .low = c, .close = c, .filled = true});
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

void MovingAverages(std::vector<DailyBar>& bars, size_t from) {
  std::span<const DailyBar> all(bars);
  for (size_t i = from; i < bars.size(); ++i) {
    bars[i].ma7 = Mean(all.subspan(i + 1 >= 7 ? i + 1 - 7 : 0, std::min<size_t>(i + 1, 7)));
    bars[i].ma30 = Mean(all.subspan(i + 1 >= 30 ? i + 1 - 30 : 0, std::min<size_t>(i + 1, 30)));
  }
}

}  // namespace cryptolake::model
