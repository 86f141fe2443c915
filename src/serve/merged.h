// The serving layer's merged view: one series per symbol from the batch views and the speed
// layer, computed at read time. Nothing is overwritten: the batch views, the master dataset and
// the real-time view stay as they are (the prototype rewrote daily_filled and prophet_input in
// place and lost 7,980 of 8,140 rows).
//
// Daily series of a symbol, for one lake snapshot and one read of the real-time view:
//  * the batch watermark W is the day after the last complete day (1440 minutes) in daily_raw,
//    the same definition the real-time view uses (0 when there is none);
//  * days before W are the stored daily_filled rows (forward-filled days included, ma7/ma30 as
//    stored), source "batch";
//  * days from W on are "speed" days: daily bars of the 1m candles at or after W, from the
//    master dataset's klines_1m (any source: streamed candles the speed layer appended, backfilled
//    ones) merged with the real-time view's closed candles and open candle (the lake's row wins
//    for a minute both hold; they are equal). A day at or after W with no 1m candle keeps its
//    batch row (e.g. a partial day from 1h files), source "batch". Days missing between speed
//    days are forward-filled as daily_filled does (filled = true).
//  * ma7/ma30 of speed days are recomputed across the seam: the mean close of the last 7/30 rows
//    of the merged series, the day included (fewer at the start of a series).
//  * partial: a day with fewer than 1440 minutes that is the last of the series (today's open
//    day, or the end of a recording), or a batch day after W.
// So when the watermark moves (a batch refresh), a day passes from speed to batch in one step:
// the merged series never has a day twice or a day missing.
//
// Klines of an interval: the master dataset's klines_<interval> (deduplicated, source "batch"),
// then, for time after its last row, candles of that interval aggregated from the speed 1m
// candles above (source "speed"; a bucket still open or incomplete is partial).
//
// Thread-safety: all methods may be called from any thread. Current() returns an immutable
// state shared by readers; a refresh builds a new one and swaps it in, so a reader never sees a
// torn state. Readers never wait for a rebuild: Current() returns the latest state and leaves
// rebuilding to a background thread (only the very first Current() builds), which runs the
// prepare hook (SetPrepare) on a new state before publishing it. The builder and the merged
// view's DuckDB workers run at Priority::kBackground (core/priority.h), below the io threads. The
// lake's manifest is read again only when its file changed (Lake::ManifestStamp), and an unchanged
// lake version and view version keep the same state.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "model/daily.h"
#include "model/kline.h"
#include "speed/view.h"

namespace cryptolake::serve {

// A day of the merged series: the shared daily bar (model/daily.h), with `speed`, `partial` and
// `filled` as described above and `minutes` the minutes present (speed days: closed candles).
using DailyRow = model::DailyBar;

// A candle of the merged klines (symbol, close_time and the full-only fields unset).
struct KlineRow : model::Kline {
  bool speed = false;
  bool partial = false;
  static KlineRow Of(Micros open_time, double open, double high, double low, double close,
                     double volume, bool speed, bool partial) {
    KlineRow k;
    k.open_time = open_time;
    k.open = open;
    k.high = high;
    k.low = low;
    k.close = close;
    k.volume = volume;
    k.speed = speed;
    k.partial = partial;
    return k;
  }
  bool operator==(const KlineRow&) const = default;
};

struct SymbolSeries {
  std::string symbol;
  Micros watermark = 0;           // W above; 0 if the batch views have no complete day
  std::vector<DailyRow> daily;    // by day
  std::vector<speed::Candle> m1;  // the speed 1m candles at or after W (closed, then open)
  bool m1_open_last = false;      // m1.back() is the view's open candle
};

struct MergedState {
  int64_t lake_version = -1;
  std::optional<lake::Snapshot> snapshot;  // the lake snapshot of lake_version (none: no lake read)
  uint64_t view_version = 0;
  std::map<std::string, std::shared_ptr<const SymbolSeries>> symbols;
  const SymbolSeries* Find(const std::string& symbol) const {
    auto it = symbols.find(symbol);
    return it == symbols.end() ? nullptr : it->second.get();
  }
};

// The merge itself (pure): batch daily_filled rows (by day, with minutes_present), the watermark
// and the speed 1m candles (by open_time; the last may be open).
std::vector<DailyRow> MergeDaily(const std::vector<DailyRow>& batch, Micros watermark,
                                 const std::vector<speed::Candle>& m1, bool m1_open_last);

// Candles of `interval` from 1m candles (by open_time), each bucket's OHLCV; a bucket is partial
// when it holds the open candle or fewer than interval/1m candles.
std::vector<KlineRow> AggregateKlines(const std::vector<speed::Candle>& m1, bool m1_open_last,
                                      const Interval& interval);

struct MergedOptions {
  std::vector<std::string> symbols;  // always listed (e.g. the configured ones), even if empty
  Micros recheck_every = kMicrosPerSecond;  // how often Current() looks for a new lake version
};

class Merged {
 public:
  // `view` may be null (a `serve` without a stream in the process: the speed part then comes
  // from what the stream appended to the master dataset). Both must outlive this object.
  Merged(lake::Lake& lake, const speed::RealtimeView* view, MergedOptions options = {});
  ~Merged();

  // The latest state built, at once. When it may be stale (the view changed, recheck_every of
  // the lake's clock passed, or Invalidate() was called) a background thread rebuilds it, and
  // a later Current() gets the new one; only the very first call builds (as Fresh()).
  StatusOr<std::shared_ptr<const MergedState>> Current();
  // Builds the state now from the lake's current version and the view (waits for a rebuild in
  // progress), and returns it.
  StatusOr<std::shared_ptr<const MergedState>> Fresh();
  // The next rebuild reads the lake's manifest again (after a batch refresh in the process).
  void Invalidate();

  // A hook run on the building thread with each new state before it is published: no reader
  // gets the state until the hook has returned (the Api renders and compresses its cached
  // bodies there, off the io threads). Replaces the previous hook; null removes it. Runs the
  // hook at once on the current state, if there is one. Returns after any build under way, so
  // once SetPrepare(nullptr) returns the old hook is never called again.
  using PrepareFn = std::function<void(const std::shared_ptr<const MergedState>&)>;
  void SetPrepare(PrepareFn prepare);

  // Merged klines of `symbol` at `interval` in [from, to) (a bound not given: open on that
  // side), by open_time, from the lake snapshot and the view read of Current() (as the daily
  // series): with `from`, the `limit` oldest in the range; without, the `limit` newest (the
  // candles just before `to`, or the newest of all), as Binance's klines answer an endTime alone.
  // Errors: NotFound for a symbol the state does not have; DuckDB's errors reading the lake.
  StatusOr<std::vector<KlineRow>> Klines(const std::string& symbol, const Interval& interval,
                                         std::optional<Micros> from, std::optional<Micros> to,
                                         int64_t limit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::serve
