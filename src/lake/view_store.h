// The speed layer's own store: the DuckDB file of the real-time view (<data>/speed/view.duckdb),
// and the reads of the lake the view makes through it. The view (speed/view.h) keeps its state
// in memory and calls this for what must survive a restart; no SQL is written outside the lake.
//
// The file holds two tables (the format every existing view file has):
//   closed(symbol, open_time, close_time, open, high, low, close, volume, quote_volume, trades,
//          taker_buy_base, taker_buy_quote, late, in_lake), key (symbol, open_time): the closed
//          1m candles of the view (times in UTC microseconds);
//   watermark(symbol, t), key symbol: each symbol's batch watermark.
//
// Contract:
//  * Every write is one DuckDB transaction: after an error nothing of it is stored (the
//    transaction is rolled back) and the store stays usable.
//  * One thread uses a ViewStore at a time (a DuckDB connection is not shared).
//  * Errors are DuckDB's (kInternal with its message), or an unreadable Parquet file's.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "model/kline.h"

namespace cryptolake::lake {

// A closed candle as the view's file stores it.
struct ViewRow {
  model::Kline candle;
  bool late = false;     // older than the watermark or the lateness: master dataset only
  bool in_lake = false;  // appended to klines_1m already
};

// The open_time span [from, to] (both inclusive) of a symbol's rows not yet in the lake.
struct ViewSpan {
  std::string symbol;
  Micros from = 0, to = 0;
};

class ViewStore {
 public:
  // Opens `file`, creating it (and its directory) with empty tables if absent.
  static StatusOr<std::unique_ptr<ViewStore>> Open(const std::filesystem::path& file);
  ~ViewStore();
  ViewStore(const ViewStore&) = delete;
  ViewStore& operator=(const ViewStore&) = delete;

  // Every stored row (in no particular order).
  StatusOr<std::vector<ViewRow>> LoadClosed();
  // Every symbol's stored watermark.
  StatusOr<std::map<std::string, Micros>> Watermarks();
  // Inserts `rows` (in_lake stored false) in one transaction; a key already stored keeps its
  // row. Empty `rows`: nothing is done.
  Status CommitClosed(const std::vector<const ViewRow*>& rows);
  // For each (symbol, t) in one transaction: stores t as the symbol's watermark and deletes the
  // symbol's rows with open_time < t that are in the lake.
  Status SetWatermarks(const std::map<std::string, Micros>& watermarks);
  // How many rows are late.
  StatusOr<int64_t> LateCount();
  // Per symbol (ordered by symbol), the span of the rows not in the lake; none: empty.
  StatusOr<std::vector<ViewSpan>> NotInLakeSpans();
  // Marks every row as in the lake.
  Status MarkAllInLake();

  // --- reads and writes of the lake ---
  // The batch watermark of every symbol in `snap`: the end of its last complete day (1440
  // minutes present) in daily_raw. Symbols without one are absent; no daily_raw: empty.
  StatusOr<std::map<std::string, Micros>> DailyWatermarks(const Snapshot& snap);
  // Stages into `txn` as klines_1m (source "stream", ingested_at as given) the rows not in the
  // lake whose key `snap` holds from no source. Declares on `txn` (Transaction::DependsOn) the
  // key range of each span, which is what the check reads; `spans` are NotInLakeSpans(). Returns
  // the rows staged.
  StatusOr<int64_t> StageNotInLake(const Snapshot& snap, Transaction& txn,
                                   const std::vector<ViewSpan>& spans, Micros ingested_at);

 private:
  struct Handles;
  explicit ViewStore(std::unique_ptr<Handles> h);
  // Runs `sql` (a transaction); on failure rolls it back and returns the error.
  Status Transact(const std::string& sql);
  std::unique_ptr<Handles> h_;
};

}  // namespace cryptolake::lake
