// The daily rule, once: daily bars of 1m klines, forward fill of missing days, MA7 and MA30.
// The speed view's daily bars and the serving merge call these functions; the batch views
// compute the same rule in SQL (batch/views.cc) for speed, and DailyRuleTest holds the two
// equal bit for bit (every OHLCV value, minutes, MA7, MA30, fill flag) on the real 1m windows
// of ../shared/data and on 1,000 seeded random series with gaps.
//
// The rule (UTC days):
//  * open: the first kline's open; close: the last kline's close; high/low: max/min;
//  * volume: the exact sum of the klines' volumes at 10 decimals, rounded once to double, as
//    the SQL `CAST(sum(CAST(volume AS DECIMAL(38,10))) AS DOUBLE)` does (DecimalSum below), so
//    the result does not depend on the order of the rows;
//  * minutes: the closed 1m klines of the day;
//  * forward fill: a day with no kline between two days that have one gets open = high = low =
//    close = the previous day's close, volume 0, minutes 0, filled = true;
//  * ma7 / ma30: the mean close of the last 7 / 30 rows of the filled series, the day included
//    (fewer at the start of the series): the decimal sum of the closes divided by their count.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::model {

struct DailyBar {
  Micros day = 0;  // 00:00 UTC
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  int64_t minutes = 0;                        // closed 1m klines (batch rows: minutes_present)
  std::optional<double> ma7 = {}, ma30 = {};  // set by MovingAverages
  bool filled = false;                        // forward-filled: no kline that day
  bool speed = false;                         // serving merge: the day comes from the speed layer
  bool partial = false;                       // serving merge: see serve/merged.h
  bool operator==(const DailyBar&) const = default;
};

// Exact sums of doubles as DuckDB sums DECIMAL(38,10): each value is rounded to 10 decimals
// (round(x * 1e10), halves away from zero), the integers are added exactly, and the total is
// converted back to double once (DuckDB 1.4's DECIMAL -> DOUBLE cast). Values must be below
// 1e27 in magnitude.
class DecimalSum {
 public:
  void Add(double x);
  void Sub(double x);
  double Value() const;

 private:
  __int128 units_ = 0;  // the sum in units of 1e-10
};

// Daily bars of one symbol's 1m klines sorted by open_time. With `open_last`, the last kline is
// the open (unfinished) candle: it counts in its day's OHLCV but not in `minutes`.
std::vector<DailyBar> DailyBarsOf(std::span<const Kline> m1, bool open_last = false);

// The series with every missing day between two bars added as a filled bar (see above).
std::vector<DailyBar> ForwardFill(std::vector<DailyBar> bars);

// Sets ma7 and ma30 of bars[from..] over the series as it stands (call after ForwardFill).
void MovingAverages(std::vector<DailyBar>& bars, size_t from = 0);

}  // namespace cryptolake::model
