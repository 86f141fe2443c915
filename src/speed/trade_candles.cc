#include "speed/trade_candles.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace cryptolake::speed {
namespace {

Micros MinuteFloor(Micros t) {
  Micros r = t % kMicrosPerMinute;
  return t - (r < 0 ? r + kMicrosPerMinute : r);
}

// The fewest decimals (in fixed notation) that read back as exactly `v`.
int Decimals(double v) {
  constexpr int kMax = 24;
  for (int p = 0; p < kMax; ++p) {
    if (std::strtod(fmt::format("{:.{}f}", v, p).c_str(), nullptr) == v) return p;
  }
  return kMax;
}

// "60650.01 vs 60650.00": both with the decimals the more precise one needs.
std::string Versus(double a, double b) {
  int p = std::max(Decimals(a), Decimals(b));
  return fmt::format("{:.{}f} vs {:.{}f}", a, p, b, p);
}

// The same for sums of doubles, first rounded to 12 significant digits: enough to show a
// difference beyond Near()'s 1e-9, without the noise of the last bits of a sum.
std::string SumVersus(double a, double b) {
  auto round12 = [](double v) { return std::strtod(fmt::format("{:.12g}", v).c_str(), nullptr); };
  return Versus(round12(a), round12(b));
}

bool Near(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

void TradeCandles::Add(const TradeEvent& t) {
  Symbol& s = symbols_[t.symbol];
  const Micros minute = MinuteFloor(t.trade_time);
  const Trade rec{t.trade_id, t.price, t.quantity, t.buyer_is_maker};
  auto by_id = [](const Trade& a, int64_t id) { return a.id < id; };

  if (auto seen = s.minute_of.find(t.trade_id); seen != s.minute_of.end()) {
    ++stats_.duplicates;
    const auto& held = s.minutes.at(seen->second);
    auto it = std::lower_bound(held.begin(), held.end(), t.trade_id, by_id);
    if (seen->second != minute || it->price != rec.price || it->quantity != rec.quantity ||
        it->buyer_is_maker != rec.buyer_is_maker) {
      ++stats_.conflicts;
    }
    return;
  }
  if (minute < s.dropped_before) {
    ++stats_.late;
    s.dropped_last = std::max(s.dropped_last.value_or(t.trade_id), t.trade_id);
    return;
  }
  auto& trades = s.minutes[minute];
  if (trades.empty() || trades.back().id < rec.id) {
    trades.push_back(rec);  // the usual case: trades arrive in id order
  } else {
    trades.insert(std::lower_bound(trades.begin(), trades.end(), rec.id, by_id), rec);
  }
  s.minute_of.emplace(rec.id, minute);
  ++stats_.added;
  ++held_;
}

TradeCandle TradeCandles::Fold(const std::string& symbol, Micros minute,
                               const std::vector<Trade>& trades) {
  TradeCandle c;
  c.symbol = symbol;
  c.open_time = minute;
  c.close_time = minute + kMicrosPerMinute - 1000;
  c.open = trades.front().price;
  c.close = trades.back().price;
  c.high = c.low = c.open;
  for (const Trade& t : trades) {  // in id order, so the sums do not depend on arrival order
    c.high = std::max(c.high, t.price);
    c.low = std::min(c.low, t.price);
    c.volume += t.quantity;
    c.quote_volume += t.price * t.quantity;
    if (!t.buyer_is_maker) {
      c.taker_buy_base += t.quantity;
      c.taker_buy_quote += t.price * t.quantity;
    }
  }
  c.trades = static_cast<int64_t>(trades.size());
  return c;
}

std::optional<TradeCandle> TradeCandles::Complete(const std::string& symbol,
                                                  Micros minute_open_time, std::string* why) const {
  const Micros minute = MinuteFloor(minute_open_time);
  auto fail = [&](const std::string& reason) -> std::optional<TradeCandle> {
    if (why) *why = fmt::format("{} {}: {}", symbol, FormatMinute(minute), reason);
    return std::nullopt;
  };
  auto sym = symbols_.find(symbol);
  if (sym == symbols_.end()) return fail("no trades held");
  const Symbol& s = sym->second;
  auto it = s.minutes.find(minute);
  if (it == s.minutes.end()) return fail("no trades held");
  const std::vector<Trade>& trades = it->second;
  const int64_t first = trades.front().id, last = trades.back().id;

  // Ids are unique and sorted, so the minute holds all of first..last iff it holds that many.
  const uint64_t span = static_cast<uint64_t>(last) - static_cast<uint64_t>(first) + 1;
  if (trades.size() != span) {
    int64_t missing = first;
    for (const Trade& t : trades) {
      if (t.id != missing) break;
      ++missing;
    }
    return fail(fmt::format("ids {}..{} held {} of {}, first missing {}", first, last,
                            trades.size(), span, missing));
  }
  bool before = false;
  if (first != INT64_MIN) {
    auto prev = s.minute_of.find(first - 1);
    before = prev != s.minute_of.end() ? prev->second < minute : s.dropped_last == first - 1;
  }
  if (!before) {
    return fail(fmt::format("trade {} (before first id {}) not seen in an earlier minute",
                            first - 1, first));
  }
  bool after = false;
  if (last != INT64_MAX) {
    auto next = s.minute_of.find(last + 1);
    after = next != s.minute_of.end() && next->second > minute;
  }
  if (!after) {
    return fail(
        fmt::format("trade {} (after last id {}) not seen in a later minute", last + 1, last));
  }
  if (why) why->clear();
  return Fold(symbol, minute, trades);
}

std::vector<TradeCandle> TradeCandles::CompleteBetween(const std::string& symbol, Micros from,
                                                       Micros to) const {
  std::vector<TradeCandle> out;
  auto sym = symbols_.find(symbol);
  if (sym == symbols_.end()) return out;
  const auto& minutes = sym->second.minutes;
  for (auto it = minutes.lower_bound(from); it != minutes.end() && it->first < to; ++it) {
    if (auto c = Complete(symbol, it->first)) out.push_back(std::move(*c));
  }
  return out;
}

std::optional<TradeCandle> TradeCandles::Partial(const std::string& symbol,
                                                 Micros minute_open_time) const {
  auto sym = symbols_.find(symbol);
  if (sym == symbols_.end()) return std::nullopt;
  const Micros minute = MinuteFloor(minute_open_time);
  auto it = sym->second.minutes.find(minute);
  if (it == sym->second.minutes.end()) return std::nullopt;
  return Fold(symbol, minute, it->second);
}

void TradeCandles::DropBefore(const std::string& symbol, Micros t) {
  Symbol& s = symbols_[symbol];  // kept even when empty: later trades before t are late
  if (t <= s.dropped_before) return;
  s.dropped_before = t;
  for (auto it = s.minutes.begin(); it != s.minutes.end() && it->first < t;) {
    for (const Trade& trade : it->second) {
      s.minute_of.erase(trade.id);
      s.dropped_last = std::max(s.dropped_last.value_or(trade.id), trade.id);
    }
    held_ -= static_cast<int64_t>(it->second.size());
    it = s.minutes.erase(it);
  }
}

TradeCandles::Agreement TradeCandles::Compare(const TradeCandle& from_trades,
                                              const TradeCandle& kline) {
  const TradeCandle &a = from_trades, &b = kline;
  std::vector<std::string> d;
  if (a.symbol != b.symbol) d.push_back(fmt::format("symbol {} vs {}", a.symbol, b.symbol));
  if (a.open_time != b.open_time) {
    d.push_back(fmt::format("open_time {} vs {}", FormatIso(a.open_time), FormatIso(b.open_time)));
  }
  auto exact = [&](const char* name, double x, double y) {
    if (x != y) d.push_back(fmt::format("{} {}", name, Versus(x, y)));
  };
  auto near = [&](const char* name, double x, double y) {
    if (!Near(x, y)) d.push_back(fmt::format("{} {}", name, SumVersus(x, y)));
  };
  exact("open", a.open, b.open);
  exact("high", a.high, b.high);
  exact("low", a.low, b.low);
  exact("close", a.close, b.close);
  near("volume", a.volume, b.volume);
  near("quote_volume", a.quote_volume, b.quote_volume);
  if (a.trades != b.trades) d.push_back(fmt::format("trades {} vs {}", a.trades, b.trades));
  near("taker_buy_base", a.taker_buy_base, b.taker_buy_base);
  near("taker_buy_quote", a.taker_buy_quote, b.taker_buy_quote);
  return {d.empty(), fmt::format("{}", fmt::join(d, ", "))};
}

}  // namespace cryptolake::speed
