// Normalized speed-layer events: what `cryptolake stream` publishes to the bus and the consumer
// folds into the real-time view. Independent of the wire format of any exchange.
//
// Contract:
//  * Every timestamp is UTC microseconds. Prices and quantities are doubles parsed from the
//    exchange's decimal strings (the same values `import` and REST backfill produce).
//  * Encode/Decode is the bus payload: a versioned, little-endian binary record (first byte
//    the format version, second the event type). Decode(Encode(e)) == e bit for bit; Decode of
//    anything else is InvalidArgument naming what is wrong ("event payload: 7 bytes, expected
//    at least 10"), never a crash. The key of a bus message is the symbol, so each symbol stays
//    ordered within a partition.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::speed {

// A kline update ("e":"kline"): the candle so far ("s" "t" "T" "o" "h" "l" "c" "v" "q" "V" "Q"
// "n"). `closed` is Binance's "x": the final update of its candle.
struct KlineEvent : model::Kline {
  std::string interval = "1m";  // "i"
  Micros event_time = 0;        // "E"
  bool closed = false;          // "x"
  bool operator==(const KlineEvent&) const = default;
};

// A trade ("e":"trade").
struct TradeEvent {
  std::string symbol;
  Micros event_time = 0;           // "E"
  int64_t trade_id = 0;            // "t"
  double price = 0, quantity = 0;  // "p", "q"
  Micros trade_time = 0;           // "T"
  bool buyer_is_maker = false;     // "m"
  bool operator==(const TradeEvent&) const = default;
};

using Event = std::variant<KlineEvent, TradeEvent>;

const std::string& SymbolOf(const Event& e);

std::string Encode(const Event& e);
StatusOr<Event> Decode(std::string_view payload);

}  // namespace cryptolake::speed
