// Bounds on kline values and times that every ingest path (file import, REST backfill, the
// WebSocket stream) enforces before a row can reach the lake, so that every stored value can be
// stored and aggregated.
//
// Why these numbers: the batch views and verify sum prices and volumes as DECIMAL(38,10), which
// holds magnitudes below 1e28. A volume of at most 1e18 keeps the sum of ten years of 1m rows
// (5.3e6 rows) below 5.3e24, a 1e3 headroom; a price of at most 1e15 keeps 30-day sums of closes
// far below the limit too. Real Binance values are many orders of magnitude smaller (BTCUSDT's
// highest price is ~1.3e5, the largest 1m volumes ~1e10 for meme coins).
//
//   price fields (open, high, low, close)                      in (0, 1e15]
//   volume fields (volume, quote_volume, taker_buy_base/quote) in [0, 1e18]
//   open_time  >= 2017-07-14T00:00:00Z for Binance sources (the first Binance kline),
//              >= 2009-01-03T00:00:00Z for other OHLCV sources (the first bitcoin block),
//              <= now + one interval (now: the injected clock, or the exchange's time).
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <string_view>

#include "core/time.h"

namespace cryptolake {

inline constexpr double kMaxPrice = 1e15;
inline constexpr double kMaxVolume = 1e18;
inline constexpr Micros kFirstBinanceKline = 1'499'990'400LL * kMicrosPerSecond;  // 2017-07-14
inline constexpr Micros kFirstOhlcvTime = 1'230'940'800LL * kMicrosPerSecond;     // 2009-01-03

// "" if `v` is a price the lake stores, else "open 0 out of range (0, 1e15]" (field named).
inline std::string PriceBoundError(std::string_view field, double v) {
  if (v > 0 && v <= kMaxPrice) return {};
  return fmt::format("{} {} out of range (0, 1e15]", field, v);
}

// "" if `v` is a volume the lake stores, else "volume 1e+29 out of range [0, 1e18]".
inline std::string VolumeBoundError(std::string_view field, double v) {
  if (v >= 0 && v <= kMaxVolume) return {};
  return fmt::format("{} {} out of range [0, 1e18]", field, v);
}

// "" if a kline of `interval` opening at `open_time` may be stored, given the earliest allowed
// open time `first` (kFirstBinanceKline or kFirstOhlcvTime) and `now`; else e.g.
//   "open_time 2100-01-01T00:00:00Z is after now + 1d (2026-12-04T14:00:00Z)"
//   "open_time 2001-09-09T01:46:40Z is before the first Binance kline (2017-07-14T00:00:00Z)"
inline std::string OpenTimeBoundError(Micros open_time, const Interval& interval, Micros first,
                                      Micros now) {
  if (open_time < first) {
    return fmt::format(
        "open_time {} is before {} ({})", FormatIso(open_time),
        first == kFirstBinanceKline ? "the first Binance kline" : "the first bitcoin block",
        FormatIso(first));
  }
  if (open_time > now && open_time - now > interval.micros) {
    return fmt::format("open_time {} is after now + {} ({})", FormatIso(open_time), interval.name,
                       FormatIso(now + interval.micros));
  }
  return {};
}

}  // namespace cryptolake
