// The kline: one candle of one symbol and interval, as every layer holds it (import, REST
// backfill, the WebSocket stream, the real-time view, the serving merge). Fields and units are
// Binance's (see ../shared/docs/binance-facts.md), with timestamps in UTC microseconds.
//
// Contract:
//  * open_time is on the interval's grid; close_time = open_time + interval - 1 us when the
//    source gives it (0 when it does not: OHLCV-only sources).
//  * Prices and quantities are the doubles nearest to the exchange's decimal strings.
//  * quote_volume, taker_buy_* and trades are 0 when the source does not carry them (KlineBatch
//    says which: `full`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace cryptolake::model {

struct Kline {
  std::string symbol;
  Micros open_time = 0, close_time = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  double quote_volume = 0, taker_buy_base = 0, taker_buy_quote = 0;
  int64_t trades = 0;
  bool operator==(const Kline&) const = default;
};

// Columnar klines of one symbol and interval (what a file, a REST page or a stream batch
// carries into the lake). All timestamps UTC microseconds.
struct KlineBatch {
  std::string symbol;
  Interval interval;
  // true: all 11 Binance fields present (vision, REST, stream). false: only open_time + OHLCV
  // (ohlcv, bitstamp files); close_time, quote_volume, trades and taker_* are NULL in the lake
  // and their vectors empty.
  bool full = true;
  std::vector<Micros> open_time, close_time;  // close_time empty when !full
  std::vector<double> open, high, low, close, volume;
  std::vector<double> quote_volume, taker_buy_base, taker_buy_quote;  // empty when !full
  std::vector<int64_t> trades;                                        // empty when !full
  size_t size() const { return open_time.size(); }
  // Appends one kline (symbol is the batch's; the full-only fields are ignored when !full).
  void Add(const Kline& k);
  // Row i as a Kline (0 for fields the batch does not carry).
  Kline At(size_t i) const;
  // Reserves room for n rows in the columns the batch carries.
  void Reserve(size_t n);
  // Keeps the first n rows (n <= size()).
  void Truncate(size_t n);
};

}  // namespace cryptolake::model
