// Typed access to the lake: the readers and writers every module outside src/lake, src/batch and
// src/verify calls instead of writing SQL. The DuckDB handles appear here only as opaque types
// (declared, not defined: lake/duck.h stays inside the lake), owned through the pointers below.
//
// Rows come back as model::Kline (core/time.h units: UTC microseconds); a column the lake holds
// as NULL (the fields an OHLCV-only file does not carry) reads as 0, as model/kline.h says.
// Every reader reads one snapshot (lake/lake.h), deduplicated as lake::KlinesSql does (rest >
// import > stream, then the latest ingested_at). Errors: DuckDB's (kInternal with its message),
// or an unreadable file's.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/pacer.h"
#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "model/kline.h"

namespace cryptolake::lake {

class Database;
class Connection;

// Owning handles of a DuckDB database and connection, usable where duck.h is not included.
struct DatabaseDeleter {
  void operator()(Database* db) const;
};
struct ConnectionDeleter {
  void operator()(Connection* con) const;
};
using DatabasePtr = std::unique_ptr<Database, DatabaseDeleter>;
using ConnectionPtr = std::unique_ptr<Connection, ConnectionDeleter>;

// Opens `path` (":memory:" or "" for an in-memory database); `threads` 0 = DuckDB's default.
StatusOr<DatabasePtr> OpenDatabase(const std::string& path = ":memory:", int threads = 0);
// A connection to `db` (session time zone UTC); `db` must outlive it.
StatusOr<ConnectionPtr> OpenConnection(const Database& db);
// Paces every statement `con` runs (Connection::SetPacer, lake/duck.h); nullptr: unpaced.
void SetPacer(Connection& con, Pacer* pacer);

// Which klines of an interval: `symbol` restricts to one symbol; `from`/`to` (inclusive /
// exclusive) to an open_time range, which also prunes files by their manifest time range.
struct KlineFilter {
  std::optional<std::string> symbol;
  std::optional<Micros> from, to;
};

// How many and which columns ReadKlines returns.
struct KlineRead {
  // At most `limit` klines (none: all): the oldest, or with `newest` the newest (returned in
  // time order all the same).
  std::optional<int64_t> limit;
  bool newest = false;
  // Only open_time and OHLCV (the other fields 0, symbol set): less to read for the callers
  // that need only those.
  bool ohlcv_only = false;
  // A close_time the lake holds as NULL (an OHLCV-only file) reads as Binance's, open_time +
  // interval - 1 ms, instead of 0 (the stream's healed candles need one).
  bool derive_close_time = false;
};

// The klines of `interval` in `snap` that `filter` selects, ordered by symbol, then open_time.
StatusOr<std::vector<model::Kline>> ReadKlines(Connection& con, const Snapshot& snap,
                                               const Interval& interval,
                                               const KlineFilter& filter = {},
                                               const KlineRead& read = {});

// The newest open_time stored per symbol among the klines of `interval` (any source, duplicates
// included); a symbol with none is absent from the map. From the manifest's per-file time
// ranges: no file is read, so it cannot fail.
std::map<std::string, Micros> LastOpenTimes(const Snapshot& snap, const Interval& interval);

// Writes a dataset of `snap` as CSV with a header to `out` (a file path; "/dev/stdout" works):
// for klines_<interval>, symbol plus the kline columns (lake/klines.h), deduplicated, ordered by
// symbol and open_time; for any other dataset (the views), symbol then the file's columns, rows
// in the order of all columns. `symbol` restricts to one symbol. NotFound "dataset '<d>' has no
// files[ for symbol S] (datasets: ...)" for a non-kline dataset without files; InvalidArgument for
// a klines_ dataset whose interval does not parse.
Status WriteDatasetCsv(Connection& con, const Snapshot& snap, const std::string& dataset,
                       const std::optional<std::string>& symbol, const std::filesystem::path& out);

// Converts `csv` (a header line, then rows of columns symbol, day (YYYY-MM-DD), then numbers,
// ma7 and ma30 possibly empty) into the Parquet file `parquet`, rows ordered by symbol and day:
// day a DATE, ma7/ma30 DOUBLE, the other columns as DuckDB's CSV sniffer types them. The
// serving merge's export (`cryptolake merge --format parquet`). Does not fsync.
Status DailyCsvToParquet(Connection& con, const std::filesystem::path& csv,
                         const std::filesystem::path& parquet);

// How AppendKlines writes.
struct KlineAppend {
  Source source = Source::kImport;
  Micros ingested_at = 0;
  // Keep only the first of rows repeating a (symbol, open_time) of the batches (in batch order,
  // then row order). Costs a sort: set it only when the batches may repeat keys.
  bool dedup_batches = false;
  // If set: rows whose (symbol, open_time) this snapshot already holds from import or rest are
  // not written (only the files overlapping each symbol's open_time span of the batches are
  // read).
  const Snapshot* skip_existing = nullptr;
  // If set, the write (one long DuckDB statement) runs inside it; `scanned` gives the rows DuckDB
  // has taken from the batches so far (from any thread): a progress measure.
  std::function<Status(const std::function<uint64_t()>& scanned,
                       const std::function<Status()>& write)>
      run;
};

// Stages the rows of `batches` (all of `interval`, none empty) as partitioned Parquet into
// `txn` (lake/klines.h: StagePartitioned with KlinesStageSpec(interval, append.source)), with
// `source` and `ingested_at` as given; absent fields (KlineBatch::full false) are NULL. Returns
// the files added (their rows: the rows written). The batches must outlive the call.
StatusOr<std::vector<FileEntry>> AppendKlines(Connection& con, Transaction& txn,
                                              const Interval& interval,
                                              const std::vector<const model::KlineBatch*>& batches,
                                              const KlineAppend& append);

// The stretches of [from, to) of `symbol`'s klines of `interval` in `snap` holding no stored
// kline of any source (not deduplicated): each (previous open_time + interval, next open_time),
// the scope's head and tail included, in time order. Not aligned to the interval's grid.
StatusOr<std::vector<std::pair<Micros, Micros>>> StoredKlineGaps(Connection& con,
                                                                 const Snapshot& snap,
                                                                 const Interval& interval,
                                                                 const std::string& symbol,
                                                                 Micros from, Micros to);

}  // namespace cryptolake::lake
