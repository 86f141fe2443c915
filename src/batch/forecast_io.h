// The forecast's reads and writes through DuckDB, so that src/forecast holds no SQL and no
// DuckDB handle: its input (a symbol's prophet_input joined with daily_filled, views.h) and its
// Parquet output (forecast rows, forecast/report.h).
//
// The connection is only declared here (lake/duck.h stays inside lake, batch and verify); the
// caller passes the one it owns. It must not be used by another thread meanwhile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"

namespace cryptolake::lake {
class Connection;
}  // namespace cryptolake::lake

namespace cryptolake::batch {

// One day of a symbol's forecast input: prophet_input's (ds, y) with daily_filled's ma7, ma30
// (unset where NULL) and minutes_present (0 where NULL) of the same day.
struct ProphetDay {
  Micros ds = 0;  // 00:00 UTC
  double y = 0;
  std::optional<double> ma7, ma30;
  int64_t minutes_present = 0;
};

// `symbol`'s prophet_input rows of `snap` joined with its daily_filled rows on the day, in day
// order (every row as stored: no check that the days are contiguous, no partial day dropped).
// No rows if the symbol has none. DuckDB's error (an unreadable view file) otherwise.
StatusOr<std::vector<ProphetDay>> ReadProphetInput(lake::Connection& con,
                                                   const lake::Snapshot& snap,
                                                   const std::string& symbol);

// The symbols that have prophet_input files in `snap` (Snapshot::Symbols).
std::vector<std::string> ProphetInputSymbols(const lake::Snapshot& snap);

// The columns of a forecast Parquet file, in file order (DuckDB types).
inline constexpr const char* kForecastParquetColumns =
    "symbol VARCHAR, model VARCHAR, cutoff DATE, ds DATE, horizon_days INTEGER, y DOUBLE, "
    "yhat DOUBLE, yhat_lower DOUBLE, yhat_upper DOUBLE";

// One row of a forecast Parquet file: `model`'s forecast of day `ds` made from the history up to
// `cutoff` (both 00:00 UTC; horizon_days = their distance in days). A non-finite value is
// written as NULL.
struct ForecastParquetRow {
  const std::string* model;  // not owned; must outlive the write
  Micros cutoff, ds;
  double y, yhat, yhat_lower, yhat_upper;
};

// Writes `rows` (with `symbol`) to the Parquet file `path` (kForecastParquetColumns), ordered by
// model, cutoff and ds, replacing it atomically: written to <path>.tmp through a scratch table of
// `con` (dropped afterwards), fsynced and renamed over `path`. DuckDB's or the file system's error
// otherwise (nothing replaced).
Status WriteForecastParquet(lake::Connection& con, const std::string& symbol,
                            const std::vector<ForecastParquetRow>& rows,
                            const std::filesystem::path& path);

}  // namespace cryptolake::batch
