// Typed reads of the master dataset's klines for the speed layer (the stream's start-up and its
// gap healing), so that no SQL is written outside the lake.
//
// Contract:
//  * Both read the snapshot given (files in its manifest), never anything newer.
//  * ReadKlines' errors are the query's (DuckDB's message, e.g. a missing or unreadable Parquet
//    file), with context naming the read.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "model/kline.h"

namespace cryptolake::lake {

// The newest open_time stored per symbol among the klines of `interval` (any source, duplicates
// included); a symbol with none is absent from the map. From the manifest's per-file time
// ranges: no file is read, so it cannot fail.
std::map<std::string, Micros> LastOpenTimes(const Snapshot& snap, const Interval& interval);

// The klines of `symbol` and `interval` with open_time in [from, to), one per open_time (the
// highest-priority source, as KlinesSql's dedup), oldest first. Where the stored row lacks them,
// close_time is open_time + interval - 1 ms and quote_volume, trades and taker_buy_* are 0.
StatusOr<std::vector<model::Kline>> ReadKlines(const Snapshot& snap, const Interval& interval,
                                               const std::string& symbol, Micros from, Micros to,
                                               Connection& con);

}  // namespace cryptolake::lake
