// ValidateKline: the one rule set every source's klines pass before they reach the bus or the
// lake (import's CSV rows, REST pages, WebSocket kline events).
//
// Rules, checked in this order, the first failure reported:
//  1. no negative value (open, high, low, close, volume, and with `full` quote_volume, trades,
//     taker_buy_base, taker_buy_quote): "negative volume -1";
//  2. prices and volumes within what the lake's DECIMAL(38,10) sums hold (core/bounds.h);
//  3. OHLC consistency: high >= max(open, close) ("high 10.5 below max(open, close) 11") and
//     low <= min(open, close) ("low 12 above min(open, close) 11").
// Time checks (the open time's grid, unit and bounds) depend on the source's context and stay
// with core/bounds.h's OpenTimeBoundError.
//
// Messages name each field as the source spells it (KlineFieldNames): a CSV column name for
// files and REST, the JSON key for WebSocket events ("k.h").
#pragma once

#include <string>

#include "model/kline.h"

namespace cryptolake::model {

struct KlineFieldNames {
  const char* open = "open";
  const char* high = "high";
  const char* low = "low";
  const char* close = "close";
  const char* volume = "volume";
  const char* quote_volume = "quote_volume";
  const char* trades = "trades";
  const char* taker_buy_base = "taker_buy_base";
  const char* taker_buy_quote = "taker_buy_quote";
};

// The names of Binance's WebSocket kline payload ("k": {"o": ..., "h": ...}).
inline constexpr KlineFieldNames kWsKlineFields{"k.o", "k.h", "k.l", "k.c", "k.v",
                                                "k.q", "k.n", "k.V", "k.Q"};

// "" when `k` passes the rules above, else the reason. With !full only open_time + OHLCV are
// checked (OHLCV-only sources).
std::string ValidateKline(const Kline& k, bool full, const KlineFieldNames& names = {});

}  // namespace cryptolake::model
