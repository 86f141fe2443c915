// The alert engine: rules (rules.h) over closed 1m candles and timer ticks -> state changes
// (event.h). Pure computation: no I/O, no clock of its own (every time comes in), so that
// `up`, `stream` and `cryptolake alerts test` (a lake's history replayed) share it.
//
// Contract:
//  * Feed(candle): a closed 1m candle of a symbol. Candles of a symbol at or before the
//    symbol's evaluated-through time (SetEvaluatedThrough, the newest candle fed so far) only
//    update the windows (closes, daily highs/lows/closes) and the gap tracking; a newer one is
//    also evaluated by every price rule of its symbol, at its close (open_time + 1 min), and
//    becomes the evaluated-through time. So a restart can feed its warm-up history again
//    without raising anything twice, and a healed older candle never raises a price alert.
//  * Tick(now, health, confirmed): evaluates the health rules at `now`. Gap tracking: a symbol's
//    missing minutes are the holes between the candles fed (from its first candle on) plus the
//    minutes after its newest candle that have closed by `now`, less `confirmed(symbol)` (the
//    exchange's confirmed-empty ranges); a candle fed later fills its minute.
//  * A rule's state per symbol ("" for whole-stream rules): inactive -> firing when its condition
//    holds and the last firing is at least `cooldown` ago -> resolved when the value is back past
//    the threshold by `hysteresis` (rules.h). Feed and Tick return the state changes in order.
//  * SaveState()/RestoreState(): the rule states and the evaluated-through times (windows are
//    rebuilt by feeding history again). State of rules no longer configured is dropped.
//  * Not thread-safe: one caller at a time (the AlertService holds a lock).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "alerts/event.h"
#include "alerts/rules.h"
#include "core/status.h"
#include "core/time.h"
#include "model/daily.h"
#include "model/kline.h"

namespace cryptolake::alerts {

// Half-open [from, to) ranges of open_time.
using Ranges = std::vector<std::pair<Micros, Micros>>;
using ConfirmedFn = std::function<Ranges(const std::string& symbol)>;

// What the health rules read at a tick.
struct Health {
  Micros last_message_at = 0;           // clock time of the newest stream message; 0: none yet
  Micros last_event_time = 0;           // that message's exchange event time
  std::vector<Micros> reconnect_times;  // clock times of recent reconnects (newest last)
  double weight_share = 0;              // REST weight used this minute / limit
  bool banned = false;                  // a 418 ban in force
  int64_t verify_errors = -1;           // errors of the last verify; -1: unknown
};

class Engine {
 public:
  // `symbols`: the configured ones (rules without `symbols` apply to each). `start`: the clock
  // time the engine started at (silence before the first message counts from it).
  Engine(std::vector<AlertRule> rules, std::vector<std::string> symbols, Micros start);
  ~Engine();

  std::vector<AlertEvent> Feed(const model::Kline& candle);
  std::vector<AlertEvent> Tick(Micros now, const Health& health, const ConfirmedFn& confirmed);

  void SetEvaluatedThrough(const std::string& symbol, Micros open_time);
  Micros EvaluatedThrough(const std::string& symbol) const;  // 0: none
  // The firing event of every active alert, by fired_at.
  std::vector<AlertEvent> Active() const;
  const std::vector<AlertRule>& rules() const { return rules_; }

  nlohmann::json SaveState() const;
  Status RestoreState(const nlohmann::json& j);

 private:
  struct RuleState {
    bool active = false;
    Micros last_fired = 0;  // 0: never
    AlertEvent firing;      // while active
  };
  struct DayAgg {         // a UTC day of the candles fed so far
    model::DailyBar bar;  // high, low and close (of the newest candle) are kept
    Micros last_open = 0;
  };
  struct Series {
    std::map<Micros, double> closes;  // open_time -> close, the longest move window back
    std::map<Micros, DayAgg> days;    // day start -> aggregate, the longest day window back
    Micros first = 0, last = 0;       // oldest/newest open_time fed (gap tracking)
    Ranges holes;                     // interior missing minutes
    Micros evaluated = 0;
  };
  // Applies a measurement to a rule state; appends the change, if any, to `out`.
  template <typename Message>
  void Observe(size_t rule, const std::string& symbol, Micros at, double value, double ref,
               bool fires, bool resolves, const Message& message, std::vector<AlertEvent>& out);
  void Track(Series& s, const model::Kline& k);
  void EvaluatePrice(size_t r, const std::string& symbol, const Series& s, const model::Kline& k,
                     const DayAgg& day_before, std::vector<AlertEvent>& out);
  bool Applies(const AlertRule& rule, const std::string& symbol) const;
  double GapAge(const std::string& symbol, const Series& s, Micros now, const Ranges& confirmed,
                Micros* oldest) const;

  std::vector<AlertRule> rules_;
  std::vector<std::string> symbols_;
  Micros start_;
  Micros max_window_ = 0;
  int max_days_ = 0;
  std::map<std::string, Series> series_;
  std::map<std::pair<size_t, std::string>, RuleState> state_;
};

}  // namespace cryptolake::alerts
