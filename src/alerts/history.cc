#include "alerts/history.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace cryptolake::alerts {

Micros LookbackOf(const std::vector<AlertRule>& rules) {
  Micros back = kMicrosPerHour;
  for (const auto& r : rules) {
    if (r.kind == Kind::kMove) back = std::max(back, r.window + kMicrosPerMinute);
    if (r.kind == Kind::kHighLow) {
      back = std::max(back, static_cast<Micros>(r.threshold + 1) * kMicrosPerDay);
    }
    if (r.kind == Kind::kMaCross) back = std::max(back, static_cast<Micros>(r.ma) * kMicrosPerDay);
  }
  return back;
}

std::vector<AlertEvent> ReplayHistory(Engine& engine, std::vector<model::Kline> candles,
                                      const std::map<std::string, Ranges>& confirmed, Micros from,
                                      Micros to) {
  std::sort(candles.begin(), candles.end(), [](const model::Kline& a, const model::Kline& b) {
    return std::tie(a.open_time, a.symbol) < std::tie(b.open_time, b.symbol);
  });
  std::vector<AlertEvent> out;
  std::map<std::string, Micros> last_fed;  // newest open_time fed per symbol
  size_t i = 0;
  for (; i < candles.size() && candles[i].open_time < from; ++i) {
    const auto& k = candles[i];
    if (engine.EvaluatedThrough(k.symbol) < from - kMicrosPerMinute) {
      engine.SetEvaluatedThrough(k.symbol, from - kMicrosPerMinute);
    }
    engine.Feed(k);
    last_fed[k.symbol] = k.open_time;
  }
  Health health;
  // The stream "started" at `from`: silence before the first candle counts from there, or from
  // the last warm-up candle's close.
  for (const auto& [sym, t] : last_fed) {
    health.last_message_at = std::max(health.last_message_at, t + kMicrosPerMinute);
  }
  health.last_event_time = health.last_message_at;
  auto confirmed_now = [&](const std::string& sym) {
    Ranges out;
    auto it = confirmed.find(sym);
    auto fed = last_fed.find(sym);
    if (it == confirmed.end() || fed == last_fed.end()) return out;
    for (const auto& r : it->second) {
      if (r.second <= fed->second) out.push_back(r);
    }
    return out;
  };
  for (Micros t = AlignDown(from, kMicrosPerMinute) + kMicrosPerMinute; t <= to;
       t += kMicrosPerMinute) {
    bool message = false;
    for (; i < candles.size() && candles[i].open_time < t; ++i) {
      const auto& k = candles[i];
      for (auto& e : engine.Feed(k)) out.push_back(std::move(e));
      last_fed[k.symbol] = std::max(last_fed[k.symbol], k.open_time);
      message = true;
    }
    if (message) health.last_message_at = health.last_event_time = t;
    for (auto& e : engine.Tick(t, health, confirmed_now)) out.push_back(std::move(e));
  }
  return out;
}

std::string FormatEventLine(const AlertEvent& e) {
  return fmt::format("{}  {:<8} {:<8} {} {}", FormatIso(e.at),
                     e.state == AlertState::kFiring ? "FIRING" : "RESOLVED", e.severity, e.rule,
                     e.message);
}

}  // namespace cryptolake::alerts
