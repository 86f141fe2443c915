// The master dataset's kline schema and the two operations every layer needs on it:
// staging rows as partitioned Parquet in a transaction, and reading them back deduplicated.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "lake/typed.h"
#include "model/kline.h"

namespace cryptolake::lake {

// Columns of every master-dataset Parquet file, in order (symbol comes from the Hive path).
// Timestamps are TIMESTAMPTZ (Parquet TIMESTAMP(MICROS, UTC)); absent fields are NULL.
inline constexpr const char* kKlineColumns =
    "open_time TIMESTAMPTZ, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, "
    "close_time TIMESTAMPTZ, quote_volume DOUBLE, trades BIGINT, taker_buy_base DOUBLE, "
    "taker_buy_quote DOUBLE, source VARCHAR, ingested_at TIMESTAMPTZ";
inline constexpr const char* kKlineColumnNames =
    "open_time, open, high, low, close, volume, close_time, quote_volume, trades, taker_buy_base, "
    "taker_buy_quote, source, ingested_at";

// "klines_1m" for 1m, etc.
std::string KlinesDataset(const Interval& interval);
// Datasets of the master dataset present in a snapshot, as intervals, finest first.
std::vector<Interval> KlineIntervals(const Snapshot& snap);

// How a staged dataset is laid out.
struct StageSpec {
  std::string dataset;  // manifest dataset name
  std::string dir;      // directory relative to the data root
  std::vector<std::string>
      partitions;           // Hive partition columns after symbol, e.g. {"year","month"}
  std::string time_column;  // recorded as min/max in the manifest
  std::string source;       // manifest source tag
  std::string order_by;     // row order inside each file
};

// Partition layout of a kline interval: year/month below 1d, year for 1d.
StageSpec KlinesStageSpec(const Interval& interval, Source source);

// Writes the rows of `query` (which must produce `symbol`, the partition columns and the data
// columns) as one Parquet file per partition into txn's staging directory and registers them
// with txn. Files are written one partition at a time in `order_by` order, so the same rows give
// byte-identical files. Returns the entries added (empty if the query has no rows).
StatusOr<std::vector<FileEntry>> StageQuery(Connection& con, Transaction& txn,
                                            std::string_view query, const StageSpec& spec);

// Bulk variant of StageQuery for large appends (imports): one parallel `COPY ... PARTITION_BY`
// pass over `query`, then one stats query over the written files. Same result set and layout
// as StageQuery, but file bytes and the row order inside a file are not deterministic, so it
// is not used where byte-identical output matters (the views).
StatusOr<std::vector<FileEntry>> StagePartitioned(Connection& con, Transaction& txn,
                                                  std::string_view query, const StageSpec& spec);

// A SELECT adding the partition columns of KlinesStageSpec to `rows` (a table expression with
// symbol and the kline columns), every column cast to its kKlineColumns type.
std::string WithKlinePartitions(const Interval& interval, std::string_view rows);

// SQL (a parenthesised SELECT) of the klines of one interval in a snapshot: columns symbol plus
// kKlineColumnNames. With `dedup`, one row per (symbol, open_time): the highest-priority source
// (rest > import > stream), then the latest ingested_at, then the last file name.
// `symbol` restricts to one symbol; `from`/`to` (inclusive/exclusive) to an open_time range,
// which also prunes files by their manifest time range (KlineFilter: lake/typed.h).
std::string KlinesSql(const Snapshot& snap, const Interval& interval,
                      const KlineFilter& filter = {}, bool dedup = true);

// A kline row of a query result: columns 0..11 are symbol, open_time, open, high, low, close,
// volume, close_time, quote_volume, trades, taker_buy_base, taker_buy_quote (times as UTC
// microseconds: BIGINT, or a timestamp). A NULL in columns 7..11 (an OHLCV-only file) reads as 0;
// with `ohlcv_only` only columns 0..6 are read (the others 0).
model::Kline KlineRowAt(const Result& r, size_t row, bool ohlcv_only = false);
// KlineRowAt's columns by name, for a table that stores them under these names with BIGINT times.
inline constexpr const char* kKlineRowColumns =
    "symbol, open_time, open, high, low, close, volume, close_time, quote_volume, trades, "
    "taker_buy_base, taker_buy_quote";

// SQL expression ranking a source column: rest 3, import 2, stream 1.
inline constexpr const char* kSourcePrioritySql =
    "CASE source WHEN 'rest' THEN 3 WHEN 'import' THEN 2 ELSE 1 END";

// Half-open time ranges [first, second), in micros.
using TimeRange = std::pair<Micros, Micros>;
using TimeRanges = std::vector<TimeRange>;

// Sorted, with overlapping and touching ranges merged and empty ones dropped.
TimeRanges MergeRanges(TimeRanges r);
// The parts of `a` not covered by `b` (both merged or not; the result is merged).
TimeRanges SubtractRanges(const TimeRanges& a, const TimeRanges& b);

// Confirmed-empty ranges: spans of open_time the exchange answered with no klines (real
// outages, times before a listing). Kept in manifest meta under kConfirmedEmptyKey as
// {"klines_1m": {"BTCUSDT": [[from, to], ...]}} (micros, half-open, merged), written in the same
// commit as the rows fetched with them, so a range is never both missing and unrecorded.
inline constexpr const char* kConfirmedEmptyKey = "confirmed_empty";
TimeRanges ConfirmedEmpty(const Manifest& m, const std::string& dataset, const std::string& symbol);
// `current` (the meta value, or null) with `add` merged into dataset/symbol.
nlohmann::json WithConfirmedEmpty(const nlohmann::json& current, const std::string& dataset,
                                  const std::string& symbol, const TimeRanges& add);

// Refetch ranges: key ranges (of a dataset's time column, half-open) that `cryptolake repair
// --drop` took out of the lake with a damaged file. Backfill fetches what of them is missing
// (even before the first or after the last stored candle) and then clears them; verify reports
// their missing keys as gaps meanwhile. Manifest meta under kRefetchKey, shaped like
// confirmed_empty: {"klines_1m": {"BTCUSDT": [[from, to], ...]}}.
inline constexpr const char* kRefetchKey = "refetch";
TimeRanges RefetchRanges(const Manifest& m, const std::string& dataset, const std::string& symbol);
// `current` (the meta value, or null) with `add` merged into / `remove` cut out of dataset/symbol
// (a symbol, then a dataset, left with no ranges is removed).
nlohmann::json WithRefetch(const nlohmann::json& current, const std::string& dataset,
                           const std::string& symbol, const TimeRanges& add);
nlohmann::json WithoutRefetch(const nlohmann::json& current, const std::string& dataset,
                              const std::string& symbol, const TimeRanges& remove);

}  // namespace cryptolake::lake
