// The speed layer's events on the bus: the normalized events of model/event.h, which
// `cryptolake stream` publishes and the consumer folds into the real-time view, and their bus
// codec. Independent of the wire format of any exchange.
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
#include "model/event.h"

namespace cryptolake::speed {

// The normalized events (model/event.h), which a venue's StreamFormat produces (venue/venue.h).
using model::KlineEvent;
using model::TradeEvent;
using Event = model::Event;

const std::string& SymbolOf(const Event& e);

std::string Encode(const Event& e);
StatusOr<Event> Decode(std::string_view payload);

}  // namespace cryptolake::speed
