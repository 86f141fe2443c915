// Binance's klines JSON (GET /api/v3/klines) decoded straight into a model::KlineBatch.
//
// Contract:
//  * The body is a JSON array of rows; each row an array of exactly 12 strings or numbers:
//    open_time, open, high, low, close, volume, close_time, quote_volume, trades,
//    taker_buy_base, taker_buy_quote, ignore (the data.binance.vision column order). Times and
//    trades are integers, the others decimals; strings and numbers are both accepted.
//  * Times are in `unit` (microseconds with X-MBX-TIME-UNIT: MICROSECOND, else milliseconds):
//    the first row's open_time digits tell the unit the response uses (16 us, 13 ms, 10 s), and
//    another unit than `unit` is an error ("timestamps in ms, expected us").
//  * Every row is checked as `import` checks a vision file's rows: open_time on the interval's
//    grid and within core/bounds.h, close_time = open_time + interval - 1 unit at most, and
//    model::ValidateKline (full). Then every open_time must lie in [start, end] and be strictly
//    after the previous one, and there may be at most `limit` rows.
//  * Any failure is InvalidArgument naming the first reason, rows counted from 1: "not a JSON
//    array", "row 1 has 2 fields, expected 12", "row 3: high 10.5 below max(open, close) 11",
//    "row 2: open_time 2021-04-02T00:00:00Z not after 2021-04-02T00:01:00Z", "3 rows for limit 2".
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::venues::binance {

enum class TimeUnit { kMillis, kMicros };

struct KlinesRequest {
  std::string symbol;  // the batch's symbol
  Interval interval;
  Micros start = 0, end = 0;  // open_times in [start, end], both inclusive
  int limit = 1000;
};

StatusOr<model::KlineBatch> DecodeKlines(std::string_view body, const KlinesRequest& request,
                                         TimeUnit unit = TimeUnit::kMicros);

}  // namespace cryptolake::venues::binance
