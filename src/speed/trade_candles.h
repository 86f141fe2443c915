// 1m candles rebuilt from trades, to fill a minute the kline stream missed without waiting for
// REST. A minute rebuilt from trades may fill a gap only when it is provably whole.
//
// Contract:
//  * Add(trade) folds one trade ("e":"trade", never aggTrade: aggregate ids are not trade ids)
//    into the minute of its trade time T, floored to the minute. Idempotent and order-tolerant:
//    a trade id seen again counts once (the first version is kept; a re-sent id whose minute,
//    price, quantity or side differ is counted in stats().conflicts), and any arrival order of
//    the same trades gives bit for bit the same candles (they are summed in trade-id order when
//    read, not as they arrive).
//  * The candle of a minute, as Binance builds its kline: open = price of the lowest trade id,
//    close = of the highest, high/low, volume = sum of qty, quote_volume = sum of price*qty,
//    trades = count, taker_buy_base/quote = the same sums over trades whose buyer is the taker
//    ("m" false). open_time = the minute, close_time = open_time + 59.999 s (Binance's
//    openTime + 59999 ms, as its WS and REST klines give it).
//  * Complete: Binance trade ids are consecutive per symbol and increase with trade time. A
//    minute is complete when (1) it holds every id from its lowest `first` to its highest
//    `last`, (2) trade first-1 is known to be in an earlier minute (held, or at or before the
//    point DropBefore dropped: the highest id seen before that point is remembered), and (3)
//    trade last+1 has been seen in a later minute. Then the minute's trades are exactly
//    first..last and its candle is final: it never changes while the feed keeps Binance's id
//    order. Only complete minutes may fill a gap. A minute with no trades is never complete
//    (an exchange outage has no kline at all; a quiet minute's kline carries the previous close,
//    which trades alone do not prove).
//  * Partial() gives the candle of whatever trades a minute holds, complete or not: for display
//    and diagnosis, never for filling a gap.
//  * Compare(): exact on symbol, open_time, open, high, low, close and trades; volume,
//    quote_volume and taker_buy_base/quote within 1e-9 relative (sums of decimal strings in
//    doubles). close_time is not compared (Binance's ms sources and its us dumps differ by
//    999 us there).
//  * Memory: every trade of a minute not dropped stays held, about 80-100 bytes a trade (BTCUSDT
//    trades a few thousand times a minute at busy times). The caller bounds it with
//    DropBefore(); per symbol a few words survive a drop. A trade of a dropped minute that
//    arrives later is not held (stats().late), only remembered as a possible trade first-1.
//  * Not thread-safe: one thread owns a TradeCandles (the const readers may run concurrently
//    with each other, not with Add or DropBefore).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "model/kline.h"
#include "speed/event.h"

namespace cryptolake::speed {

// A 1m candle rebuilt from trades: the shared kline model (model/kline.h).
using TradeCandle = model::Kline;

class TradeCandles {
 public:
  struct Stats {
    int64_t added = 0;       // trades held for the first time
    int64_t duplicates = 0;  // trade ids seen again (conflicting ones included)
    int64_t conflicts = 0;   // ...of which minute, price, quantity or side differ
    int64_t late = 0;        // trades of minutes already dropped, not held
  };

  void Add(const TradeEvent& trade);

  // The candle of `minute_open_time` (floored to the minute) if that minute is complete;
  // otherwise nullopt and, if `why` is given, the reason, e.g. "BTCUSDT 2021-10-22 22:49:
  // ids 101..105 held 4 of 5, first missing 103".
  std::optional<TradeCandle> Complete(const std::string& symbol, Micros minute_open_time,
                                      std::string* why = nullptr) const;
  // The complete candles with open_time in [from, to), by open_time. Incomplete minutes are
  // left out: they stay gaps.
  std::vector<TradeCandle> CompleteBetween(const std::string& symbol, Micros from, Micros to) const;
  // The candle of the trades held for the minute, complete or not; nullopt if none are held.
  std::optional<TradeCandle> Partial(const std::string& symbol, Micros minute_open_time) const;

  // Drops the minutes of `symbol` with open_time < t and stops holding trades for them. Never
  // moves back: a smaller t than an earlier call does nothing.
  void DropBefore(const std::string& symbol, Micros t);

  struct Agreement {
    bool agrees = false;
    std::string diff;  // "" when agreeing; else "close 60650.01 vs 60650.00, trades 10 vs 11"
  };
  static Agreement Compare(const TradeCandle& from_trades, const TradeCandle& kline);

  const Stats& stats() const { return stats_; }
  // Trades held now, all symbols.
  int64_t held() const { return held_; }

 private:
  struct Trade {
    int64_t id = 0;
    double price = 0, quantity = 0;
    bool buyer_is_maker = false;
  };
  struct Symbol {
    std::map<Micros, std::vector<Trade>> minutes;   // each sorted by id, none empty
    std::unordered_map<int64_t, Micros> minute_of;  // trade id -> its minute
    Micros dropped_before = INT64_MIN;              // minutes before this are gone
    std::optional<int64_t> dropped_last;            // highest id seen in a minute before that
  };

  static TradeCandle Fold(const std::string& symbol, Micros minute,
                          const std::vector<Trade>& trades);

  std::unordered_map<std::string, Symbol> symbols_;
  Stats stats_;
  int64_t held_ = 0;
};

}  // namespace cryptolake::speed
