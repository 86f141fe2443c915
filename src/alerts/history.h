// `cryptolake alerts test`: a lake's history replayed through the rules, as if it had been
// streamed live, so that thresholds can be tuned before going live.
//
// Contract (ReplayHistory):
//  * Candles with open_time before `from` only warm the windows (the engine raises nothing for
//    them); LookbackOf(rules) says how much history before `from` the rules need.
//  * Then, for every minute boundary T in (from, to]: the candles that close at T (open_time
//    T - 1 min) are fed, each symbol's, in symbol order; the stream is taken to have had a
//    message at T if any candle closed at T (event time T); then the engine ticks at T. So a
//    silence rule of S seconds fires S seconds after the last candle before an outage closed,
//    and a gap rule of N minutes N minutes after the first missing minute was due.
//  * A confirmed-empty range (the exchange had no candles there: an outage) counts only once a
//    candle after it has been fed: live, backfill confirms a gap when the stream resumes.
//  * Health that history does not record (reconnects, lag, REST weight, bans, verify) is quiet.
//  * Returns the state changes in order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "alerts/engine.h"

namespace cryptolake::alerts {

// The history the rules need before the first evaluated minute: the longest move window, or
// the most days (plus the current one) of high_low and ma_cross; at least one hour (gap
// tracking).
Micros LookbackOf(const std::vector<AlertRule>& rules);

std::vector<AlertEvent> ReplayHistory(Engine& engine, std::vector<model::Kline> candles,
                                      const std::map<std::string, Ranges>& confirmed, Micros from,
                                      Micros to);

// One line per event: "<at ISO>  FIRING   <severity> <rule> <message>".
std::string FormatEventLine(const AlertEvent& e);

}  // namespace cryptolake::alerts
