// The real-time view: what the batch views have not reached yet, kept by the speed layer's
// consumer, and the speed layer's way into the master dataset.
//
// State per symbol, in memory and, for what must survive a restart, in a DuckDB file (the
// store, lake/view_store.h, which also makes the view's reads and writes of the lake):
//   * the closed 1m candles with open_time at or after the batch watermark (durable);
//   * the open candle (the newest non-final kline update; memory only: every kline update
//     carries the whole candle so far, so the next update after a restart restores it, and
//     persisting it would put a disk commit on the path of every update);
//   * the running daily bar of every day at or after the watermark (DailyBars, computed from
//     the closed candles plus the open one).
// The batch watermark of a symbol is the end of the last complete day (1440 minutes) in the
// lake's daily_raw view; RefreshWatermark() reads it and drops what it has passed.
//
// Contract:
//  * Apply(events) is idempotent and order-tolerant: applying the same events again, in another
//    order, or an older replay of them gives the same state. A closed candle is final (the
//    first one stored for a key stays; Binance never revises a closed 1m kline); an open update
//    replaces the open candle only if it is newer (open_time, then event_time) and that minute
//    is not closed yet.
//  * Late data: a closed candle older than the watermark, or older than `lateness` before the
//    newest closed candle of its symbol, does not enter the view; it is kept for the master
//    dataset only (late_rows()).
//  * Apply = Fold + Persist. Fold updates the in-memory state, which readers see at once
//    (ApplyStats::visible_at); Persist commits the new closed candles in one DuckDB transaction:
//    when it returns OK they are durable and the caller may commit the bus offsets of the
//    events folded so far (a consumer under load folds several polls per Persist). Readers may
//    see a closed candle before it is durable; that is safe because a closed candle is final:
//    after a crash the same candle comes back (bus replay or REST healing). If the commit
//    fails, the state is reloaded from the file and the error returned.
//  * AppendToLake() writes the closed candles (view and late) not yet in the master dataset to
//    klines_1m with source "stream", through one atomic lake commit; keys the lake already holds
//    from any source are not written again, so a crash between the lake commit and the view's
//    bookkeeping never duplicates a row.
//  * Trades are folded into 1m candles (trade_candles.h). A minute the kline stream skipped (a
//    later closed kline exists, within `lateness`) is filled from trades once the trade ids prove
//    the minute whole. Where a closed kline and a complete trade candle of the same minute both
//    exist they are compared (ApplyStats::trade_agreements / trade_disagreements; a
//    disagreement is logged, and the first stored candle stays).
//  * Threads: one consumer thread calls Apply, RefreshWatermark and AppendToLake; the const
//    readers (Read, Watermark, LastClosed, version, and the StatusOr readers) may be called from
//    any thread at the same time (a shared lock; Apply holds it exclusively only for its
//    in-memory update).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "model/daily.h"
#include "model/kline.h"
#include "speed/event.h"

namespace cryptolake::speed {

struct ViewOptions {
  Micros lateness = kMicrosPerHour;
};

// A 1m candle of the view: the shared kline model.
using Candle = model::Kline;
// A day of the view's candles (model::DailyBarsOf; ma7/ma30 unset, filled/speed/partial false).
using DailyBar = model::DailyBar;

struct ApplyStats {
  int64_t closed_new = 0;        // closed candles stored for the first time
  int64_t duplicates = 0;        // closed candles already stored
  int64_t late = 0;              // closed candles kept for the master dataset only
  int64_t open_updates = 0;      // open-candle updates taken
  int64_t stale_updates = 0;     // open-candle updates older than what the view has
  int64_t trades = 0;            // trade events
  int64_t from_trades = 0;       // closed candles rebuilt from trades (counted in closed_new too)
  int64_t trade_agreements = 0;  // klines checked against a complete trade candle: equal
  int64_t trade_disagreements = 0;  // ...and different (logged)
  Micros visible_at = 0;            // lake clock when the in-memory update was done
};

// One consistent read of a symbol's view.
struct ViewRead {
  Micros watermark = 0;
  std::vector<Candle> closed;  // at or after the watermark, late ones excluded, by open_time
  std::optional<Candle> open;  // newer than every closed candle, if any
  uint64_t version = 0;        // RealtimeView::version() at the read
};

// Daily bars (model::DailyBarsOf) of closed candles (by open_time) plus an optional open one,
// which counts only when it is newer than every closed candle.
std::vector<DailyBar> DailyBarsOf(const std::vector<Candle>& closed,
                                  const std::optional<Candle>& open);

class RealtimeView {
 public:
  // Opens (creating if absent) the view's DuckDB file. `lake` must outlive the view.
  static StatusOr<std::unique_ptr<RealtimeView>> Open(lake::Lake& lake,
                                                      const std::filesystem::path& file,
                                                      ViewOptions options = {});
  ~RealtimeView();

  // Fold(events) then Persist().
  StatusOr<ApplyStats> Apply(const std::vector<Event>& events);
  // The in-memory half of Apply: readers see the events at once; new closed candles wait for
  // Persist(). Never fails on valid events (the StatusOr is for future checks).
  StatusOr<ApplyStats> Fold(const std::vector<Event>& events);
  // Commits every closed candle folded since the last Persist in one DuckDB transaction; once it
  // returns OK, the bus offsets of everything folded so far may be committed. On failure the
  // state is reloaded from the file (unpersisted candles vanish from memory too) and the error
  // returned.
  Status Persist();
  // Closed candles folded and not yet persisted.
  size_t unpersisted() const;
  // Both Persist() first. Reads the batch watermark from the lake and drops what it has passed.
  Status RefreshWatermark();
  // Returns the number of rows appended to the master dataset.
  StatusOr<int64_t> AppendToLake();

  ViewRead Read(const std::string& symbol) const;
  // Increases whenever the visible state changes.
  uint64_t version() const;
  Micros Watermark(const std::string& symbol) const;
  // The newest closed candle's open_time stored for `symbol` (late ones included); 0 if none.
  Micros LastClosed(const std::string& symbol) const;
  StatusOr<std::vector<Candle>> ClosedCandles(const std::string& symbol);
  StatusOr<std::optional<Candle>> OpenCandle(const std::string& symbol);
  StatusOr<std::vector<DailyBar>> DailyBars(const std::string& symbol);
  StatusOr<int64_t> late_rows();

 private:
  struct Impl;
  explicit RealtimeView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::speed
