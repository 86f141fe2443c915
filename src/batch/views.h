// The batch views (`cryptolake batch`): daily tables derived from the master dataset
// (klines_<interval>), defined as SQL so that RefreshViews (below) stores them and `cryptolake
// verify` recomputes them.
//
// All three views are stored under views/<view>/symbol=S/year=Y/ (StageSpec partitions {"year"}).
// The day column is a DATE: the UTC calendar day (a kline belongs to the day of its open_time in
// UTC, computed from epoch micros, never through a session time zone).
//
// daily_raw: one row per (symbol, UTC day) that has at least one kline.
//   open = open of the first kline of the day, close = close of the last, high = max(high),
//   low = min(low); volume and quote_volume are the exact decimal sums of the klines' values
//   (each value rounded to 10 decimals, summed as DECIMAL(38,10), the sum rounded once to DOUBLE:
//   order-independent, so every run gives the same bits); trades = sum of trades.
//   quote_volume / trades are NULL unless every kline of the day has them. A non-finite volume
//   (NaN, inf) cannot be summed exactly: the refresh then fails with DuckDB's conversion error.
//   minutes_present = klines * interval minutes; source_interval = the interval ("1m") used.
//   Each (symbol, day) comes from ONE kline dataset: the one with the most minutes_present, ties
//   going to the finest interval. So complete 1m beats complete 15m beats 1h beats 1d, a day
//   present only in 1d uses that row (minutes_present 1440), and a 1m day with an outage loses to
//   a complete 1d row. Klines are read deduplicated (lake::KlinesSql: rest > import > stream).
//
// daily_filled: daily_raw plus one row for every day missing between the symbol's first and last
//   day, forward-filled: open = high = low = close = the previous day's close, volume =
//   quote_volume = trades = minutes_present = 0, source_interval NULL, filled = true (false on
//   days present in daily_raw).
//   ma7 / ma30 = mean close over the last 7 / 30 rows of daily_filled including the day (filled
//   days count with their filled close). With fewer rows before it (the start of a series) the
//   mean is over the rows available. Computed exactly: the closes (rounded to 10 decimals) are
//   summed as DECIMAL(38,10), the sum rounded to DOUBLE, then divided by the row count.
//
// prophet_input: ds (= daily_filled.day), y (= daily_filled.close); symbol comes from the path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lake/duck.h"
#include "lake/klines.h"
#include "lake/lake.h"

namespace cryptolake::batch {

inline constexpr const char* kDailyRaw = "daily_raw";
inline constexpr const char* kDailyFilled = "daily_filled";
inline constexpr const char* kProphetInput = "prophet_input";

// Columns of each view's Parquet files, in file order (symbol and year come from the Hive path).
inline constexpr const char* kDailyRawColumns =
    "day DATE, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, "
    "quote_volume DOUBLE, trades BIGINT, minutes_present BIGINT, source_interval VARCHAR";
inline constexpr const char* kDailyFilledColumns =
    "day DATE, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, "
    "quote_volume DOUBLE, trades BIGINT, minutes_present BIGINT, source_interval VARCHAR, "
    "filled BOOLEAN, ma7 DOUBLE, ma30 DOUBLE";
inline constexpr const char* kProphetInputColumns = "ds DATE, y DOUBLE";

// The three views, in dependency order: daily_raw, daily_filled, prophet_input.
const std::vector<std::string>& ViewNames();
bool IsView(std::string_view view);

// One column of a view: name and DuckDB type as written in the *Columns strings above.
struct Column {
  std::string name;
  std::string type;
};
// Parses a "name TYPE, name TYPE" list (kKlineColumns, kDailyRawColumns, ...).
std::vector<Column> ParseColumns(std::string_view columns);
// The file columns of `view` (kDailyRawColumns, ...); empty for an unknown view.
std::string ViewColumns(std::string_view view);
// The view's time column: "day", or "ds" for prophet_input.
std::string ViewTimeColumn(std::string_view view);
// Layout of a view: dataset = view, dir = "views/<view>", partitions {"year"}, source "view",
// rows ordered by the time column.
lake::StageSpec ViewStageSpec(std::string_view view);

// One daily_raw partition's worth of master data: `symbol`'s klines with open_time in [from, to).
struct DailyRange {
  std::string symbol;
  Micros from = 0;
  Micros to = 0;
};

// daily_raw computed from the master dataset of `snap` (all symbols, or only `symbol`), as a
// parenthesised SELECT with columns symbol + kDailyRawColumns. Used by refresh and by verify.
std::string DailyRawSql(const lake::Snapshot& snap, std::optional<std::string> symbol = {});
// daily_raw of `klines`, a table expression with symbol + the kline columns (open_time, open,
// high, low, close, volume, quote_volume, trades at least) of one interval: the SQL form of the
// daily rule that DailyRuleTest holds equal to model::DailyBarsOf. Same columns as DailyRawSql.
std::string DailyRawOfSql(const Interval& interval, std::string_view klines);
// daily_raw of the given ranges only (each read with file pruning); same columns.
std::string DailyRawRangesSql(const lake::Snapshot& snap, const std::vector<DailyRange>& ranges);
// daily_filled computed from `daily_raw`, a table expression with symbol + kDailyRawColumns
// (stored or computed). Columns symbol + kDailyFilledColumns.
std::string DailyFilledSql(std::string_view daily_raw);
// prophet_input from `daily_filled` (symbol + kDailyFilledColumns): columns symbol, ds, y.
std::string ProphetInputSql(std::string_view daily_filled);

// A stored view of `snap` (optionally one symbol) as a parenthesised SELECT with columns
// symbol + the view's columns; no rows if the view has no files. An unknown view gives a SELECT
// that fails with "unknown view '<view>'" when run.
std::string ViewSql(const lake::Snapshot& snap, std::string_view view,
                    std::optional<std::string> symbol = {});

// ---------------------------------------------------------------------------------------------
// Refresh (refresh.cc). `cryptolake batch` builds and incrementally refreshes the views from the
// master dataset, publishing them through one atomic lake commit.
//
// Incremental refresh. A view partition is (symbol, year).
//  * daily_raw: each partition has a fingerprint of the master files it is computed from (every
//    live klines_<interval> file of the symbol whose time range overlaps the year: path and row
//    count). Only partitions whose fingerprint changed since the last refresh are recomputed from
//    the master dataset; partitions of symbols/years no longer in the master dataset are retired.
//    A recomputed partition whose content did not change keeps its file.
//  * daily_filled and prophet_input depend on a symbol's whole daily_raw (forward fill and moving
//    averages cross years), so they are recomputed per symbol for the symbols whose daily_raw
//    changed, and only partitions whose content hash changed are rewritten.
//  Fingerprints and content hashes are kept in the manifest meta under kRefreshMetaKey.
//
// Determinism. A view file depends only on its rows: the same master data gives byte-identical
// view files whether they were refreshed incrementally or rebuilt in full (StageQuery writes one
// file per partition in time order and the view SQL has no order-dependent arithmetic).
//
// Concurrency: run one refresh at a time per lake. A concurrent commit that retires a view file
// this refresh also retires makes this refresh fail with kAborted and publish nothing; master
// data committed after the refresh took its snapshot is picked up by the next refresh.

// Manifest meta key holding the refresh state (fingerprints and content hashes per partition).
inline constexpr const char* kRefreshMetaKey = "batch_views";

struct RefreshOptions {
  // Recompute and rewrite every partition of every view, ignoring the stored state (repairs
  // tampered or lost view files). Gives the same bytes as an incremental refresh would.
  bool full = false;
};

struct ViewRefreshStats {
  // daily_raw: partitions recomputed from the master dataset (fingerprint changed, or all with
  // `full`). daily_filled / prophet_input: partitions rewritten because their content changed
  // (or all with `full`).
  int64_t partitions_recomputed = 0;
  // Partitions left as they are (daily_raw: fingerprint unchanged; derived views: same content
  // hash, or symbol not affected). A daily_raw partition recomputed with the same content counts
  // as recomputed but keeps its file (no file written or retired).
  int64_t partitions_unchanged = 0;
  int64_t files_written = 0;
  int64_t files_retired = 0;
  int64_t rows_written = 0;
};

// Totals over the three views (the ViewRefreshStats fields), plus per-view figures.
struct RefreshStats : ViewRefreshStats {
  std::map<std::string, ViewRefreshStats> views;  // by view name; every view is present
  int64_t version = 0;     // manifest version after the refresh (unchanged if nothing changed)
  bool committed = false;  // whether the refresh published a new manifest version
};

// Brings the views of `lake` up to date with its master dataset (see the file comment).
StatusOr<RefreshStats> RefreshViews(lake::Lake& lake, lake::Connection& con,
                                    const RefreshOptions& options = {});

// A daily_raw partition: (symbol, year as "2025").
using PartitionKey = std::pair<std::string, std::string>;

// Fingerprint of the master files each daily_raw partition is computed from, for every
// (symbol, year) that has master files.
std::map<PartitionKey, std::string> DailyRawFingerprints(const lake::Snapshot& snap);

// daily_raw partitions that are out of date in `snap`: their master fingerprint differs from the
// one stored by the last refresh, they have master data but were never refreshed, or they were
// refreshed but their master data is gone. Sorted.
std::vector<PartitionKey> StalePartitions(const lake::Snapshot& snap);

// One line per view plus a total line, e.g.
//   daily_raw: 1 partition recomputed, 1 unchanged, 1 file written, 1 retired
//   ...
//   total: 3 partitions recomputed, 3 unchanged, 3 files written, 3 retired, 365 rows written
std::string FormatRefreshSummary(const RefreshStats& stats);

}  // namespace cryptolake::batch
