// The normalized market events a venue's stream produces (venue/venue.h: StreamFormat::Parse),
// independent of any exchange's wire format: what the speed layer publishes to its bus (the bus
// codec is speed/event.h) and folds into the real-time view.
//
// Contract:
//  * Every timestamp is UTC microseconds. Prices and quantities are doubles parsed from the
//    exchange's decimal strings (the same values `import` and REST backfill produce).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::model {

// A kline update: the candle so far. `closed`: the final update of its candle.
struct KlineEvent : Kline {
  std::string interval = "1m";
  Micros event_time = 0;
  bool closed = false;
  bool operator==(const KlineEvent&) const = default;
};

// One trade.
struct TradeEvent {
  std::string symbol;
  Micros event_time = 0;
  int64_t trade_id = 0;
  double price = 0, quantity = 0;
  Micros trade_time = 0;
  bool buyer_is_maker = false;
  bool operator==(const TradeEvent&) const = default;
};

using Event = std::variant<KlineEvent, TradeEvent>;

}  // namespace cryptolake::model
