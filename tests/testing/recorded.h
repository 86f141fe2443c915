// The real recording in ../shared/data as test input: its files, and its 1m candles as the
// stream would deliver them (closed kline events).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/time.h"
#include "ingest/parser.h"
#include "speed/event.h"

namespace cryptolake::testing {

// The first file in ../shared/data/binance-spot/klines/<sub>/ whose name starts with `prefix`;
// fails the test (and returns an empty path) if there is none.
std::filesystem::path FindKlineFile(const std::string& sub, const std::string& prefix);

// The BTCUSDT 1m recording (2025-05-20 .. 2025-08-18), parsed once per process.
const ingest::KlineBatch& RecordedBtcusdt1m();

// Closed kline events, symbol BTCUSDT, of the candles of `b` with open_time in [from, to), in
// time order (close_time open_time + 1 min - 1 ms, event_time just after it).
std::vector<speed::KlineEvent> ClosedKlines(const ingest::KlineBatch& b, Micros from, Micros to);

// The same events as speed::Event (RealtimeView::Apply's input).
std::vector<speed::Event> AsEvents(const std::vector<speed::KlineEvent>& klines);

}  // namespace cryptolake::testing
