// An alert event: what a rule's state change tells the world (the log, the API, webhooks).
//
// Contract:
//  * A rule fires (state kFiring) when its condition starts to hold and it is not in its
//    cool-down, and resolves (kResolved) when the condition is back past the rule's hysteresis
//    margin. Every firing has at most one resolution, with the same fired_at.
//  * `key` is the idempotency key, deterministic in (rule, symbol, fired_at, state):
//      "<rule>:<symbol or ->:<fired_at as YYYYMMDDTHHMMSSZ>:<firing|resolved>"
//    so the same state change evaluated twice (a restart that re-evaluates candles it had
//    already seen) has the same key, and a log or a receiver deduplicates on it.
//  * Times are exchange time (the lake's clock, or the replay exchange's): `at` is the
//    observation that changed the state (a candle's close, a timer tick).
//  * ToJson/FromJson round-trip every field; FromJson rejects a document missing a field with
//    InvalidArgument "alert event: <field> missing or not a <type>".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::alerts {

enum class AlertState { kFiring, kResolved };
const char* StateName(AlertState s);  // "firing", "resolved"

struct AlertEvent {
  std::string key;
  std::string rule;      // the rule's name, unique in the config
  std::string kind;      // the rule's kind ("move", "silence", ... rules.h)
  std::string severity;  // "info", "warning", "critical"
  std::string symbol;    // "" for rules over the whole stream
  AlertState state = AlertState::kFiring;
  Micros at = 0;
  Micros fired_at = 0;
  double value = 0;      // the measured value at `at` (percent, seconds, price...)
  double threshold = 0;  // the rule's threshold, in the same unit
  std::string message;   // one line for people, e.g. "BTCUSDT moved -5.31% in 60 min ..."
};

std::string MakeKey(const std::string& rule, const std::string& symbol, Micros fired_at,
                    AlertState state);
nlohmann::json ToJson(const AlertEvent& e);
StatusOr<AlertEvent> FromJson(const nlohmann::json& j);

}  // namespace cryptolake::alerts
