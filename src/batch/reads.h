// Typed readers of the stored batch views (views.h), for the modules that must not write SQL
// (the serving merge). Both read one snapshot; a view without files reads as no rows.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "lake/typed.h"
#include "model/daily.h"

namespace cryptolake::batch {

// Per symbol, the end of its complete days in daily_raw: the newest day with minutes_present =
// 1440, plus one day (micros, 00:00 UTC). Symbols without a complete day are absent.
StatusOr<std::map<std::string, Micros>> CompleteDaysEnd(lake::Connection& con,
                                                        const lake::Snapshot& snap);

// The daily_filled rows of each symbol, by day: day, OHLCV, ma7, ma30 (unset where NULL), filled
// and minutes (minutes_present; 0 where NULL). `speed` and `partial` are false.
StatusOr<std::map<std::string, std::vector<model::DailyBar>>> ReadDailyFilled(
    lake::Connection& con, const lake::Snapshot& snap);

}  // namespace cryptolake::batch
