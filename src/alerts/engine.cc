#include "alerts/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cryptolake::alerts {

namespace {

// a - b, both sorted and merged.
Ranges Subtract(const Ranges& a, const Ranges& b) {
  Ranges out;
  for (auto [from, to] : a) {
    for (const auto& [bf, bt] : b) {
      if (bt <= from || bf >= to) continue;
      if (bf > from) out.emplace_back(from, bf);
      from = std::max(from, bt);
      if (from >= to) break;
    }
    if (from < to) out.emplace_back(from, to);
  }
  return out;
}

Ranges Merged(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& x : r) {
    if (x.first >= x.second) continue;
    if (!out.empty() && x.first <= out.back().second) {
      out.back().second = std::max(out.back().second, x.second);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

std::string Num(double v) { return fmt::format("{:.10g}", v); }
std::string Pct(double v) { return fmt::format("{:+.2f}%", v); }
// Where a close is against a reference, as the messages say it.
const char* Relation(double close, double ref) {
  return close > ref ? "above" : close < ref ? "below" : "at";
}

}  // namespace

Engine::Engine(std::vector<AlertRule> rules, std::vector<std::string> symbols, Micros start)
    : rules_(std::move(rules)), symbols_(std::move(symbols)), start_(start) {
  for (const auto& r : rules_) {
    if (r.kind == Kind::kMove) max_window_ = std::max(max_window_, r.window);
    if (r.kind == Kind::kHighLow) max_days_ = std::max(max_days_, static_cast<int>(r.threshold));
    if (r.kind == Kind::kMaCross) max_days_ = std::max(max_days_, r.ma);
  }
}

Engine::~Engine() = default;

bool Engine::Applies(const AlertRule& rule, const std::string& symbol) const {
  const auto& list = rule.symbols.empty() ? symbols_ : rule.symbols;
  return std::find(list.begin(), list.end(), symbol) != list.end();
}

void Engine::SetEvaluatedThrough(const std::string& symbol, Micros open_time) {
  series_[symbol].evaluated = open_time;
}

Micros Engine::EvaluatedThrough(const std::string& symbol) const {
  auto it = series_.find(symbol);
  return it == series_.end() ? 0 : it->second.evaluated;
}

// `message` makes the event's text: called only for a state change (it formats numbers, which
// would otherwise cost more than the rule itself on every candle and tick).
template <typename Message>
void Engine::Observe(size_t r, const std::string& symbol, Micros at, double value, double ref,
                     bool fires, bool resolves, const Message& message,
                     std::vector<AlertEvent>& out) {
  const AlertRule& rule = rules_[r];
  RuleState& st = state_[{r, symbol}];
  AlertEvent e;
  if (!st.active) {
    if (!fires || (st.last_fired != 0 && at - st.last_fired < rule.cooldown)) return;
    e.state = AlertState::kFiring;
    e.fired_at = at;
    e.message = message();
  } else {
    if (!resolves) return;
    e.state = AlertState::kResolved;
    e.fired_at = st.firing.fired_at;
    e.message = "resolved: " + std::string(message());
  }
  e.rule = rule.name;
  e.kind = KindName(rule.kind);
  e.severity = rule.severity;
  e.symbol = symbol;
  e.at = at;
  e.value = value;
  e.threshold = ref;
  e.key = MakeKey(e.rule, e.symbol, e.fired_at, e.state);
  if (e.state == AlertState::kFiring) {
    st.active = true;
    st.last_fired = at;
    st.firing = e;
  } else {
    st.active = false;
  }
  out.push_back(std::move(e));
}

void Engine::Track(Series& s, const model::Kline& k) {
  const Micros t = k.open_time;
  s.closes[t] = k.close;
  while (!s.closes.empty() && s.closes.begin()->first < t - max_window_ - kMicrosPerMinute) {
    s.closes.erase(s.closes.begin());
  }
  const Micros day = AlignDown(t, kMicrosPerDay);
  auto [it, fresh] = s.days.try_emplace(day);
  DayAgg& d = it->second;
  if (fresh) {
    d.bar.day = day;
    d.bar.high = k.high;
    d.bar.low = k.low;
    d.bar.close = k.close;
    d.last_open = t;
  } else {
    d.bar.high = std::max(d.bar.high, k.high);
    d.bar.low = std::min(d.bar.low, k.low);
    if (t >= d.last_open) {
      d.bar.close = k.close;
      d.last_open = t;
    }
  }
  while (!s.days.empty() && s.days.begin()->first < day - (max_days_ + 1) * kMicrosPerDay) {
    s.days.erase(s.days.begin());
  }
  if (s.last == 0) {
    s.first = s.last = t;
  } else if (t > s.last) {
    if (t > s.last + kMicrosPerMinute) s.holes.emplace_back(s.last + kMicrosPerMinute, t);
    s.last = t;
  } else if (t < s.first) {
    s.first = t;  // older history: not tracked for gaps before the first candle
  } else {
    s.holes = Subtract(s.holes, {{t, t + kMicrosPerMinute}});
  }
}

void Engine::EvaluatePrice(size_t r, const std::string& sym, const Series& s, const model::Kline& k,
                           const DayAgg& before, std::vector<AlertEvent>& out) {
  const AlertRule& rule = rules_[r];
  const Micros at = k.open_time + kMicrosPerMinute;
  const double c = k.close, h = rule.hysteresis;
  const bool up = rule.direction == Direction::kUp;
  const Micros day = AlignDown(k.open_time, kMicrosPerDay);
  switch (rule.kind) {
    case Kind::kLevel: {
      const double p = rule.threshold;
      Observe(
          r, sym, at, c, p, up ? c >= p : c <= p, up ? c < p - h : c > p + h,
          [&] {
            return fmt::format("{} closed at {}, {} the level {}", sym, Num(c), Relation(c, p),
                               Num(p));
          },
          out);
      break;
    }
    case Kind::kMove: {
      auto ref = s.closes.find(k.open_time - rule.window);
      if (ref == s.closes.end() || ref->second <= 0) return;
      const double v = 100 * (c / ref->second - 1), p = rule.threshold;
      bool fires = false, resolves = false;
      if (rule.direction == Direction::kUp) {
        fires = v >= p, resolves = v < p - h;
      } else if (rule.direction == Direction::kDown) {
        fires = v <= -p, resolves = v > -p + h;
      } else {
        fires = std::fabs(v) >= p, resolves = std::fabs(v) < p - h;
      }
      Observe(
          r, sym, at, v, p, fires, resolves,
          [&] {
            return fmt::format("{} moved {} in {} min ({} -> {}), threshold {}%", sym, Pct(v),
                               rule.window / kMicrosPerMinute, Num(ref->second), Num(c), Num(p));
          },
          out);
      break;
    }
    case Kind::kHighLow: {
      const int n = static_cast<int>(rule.threshold);
      double ext = up ? before.bar.high : before.bar.low;
      bool have_today = before.last_open != 0;
      for (int i = 1; i <= n; ++i) {
        auto it = s.days.find(day - i * kMicrosPerDay);
        if (it == s.days.end()) return;  // not n days of history yet
        if (!have_today) {
          ext = up ? it->second.bar.high : it->second.bar.low;
          have_today = true;
        }
        ext = up ? std::max(ext, it->second.bar.high) : std::min(ext, it->second.bar.low);
      }
      Observe(
          r, sym, at, c, ext, up ? c >= ext : c <= ext,
          up ? c < ext * (1 - h / 100) : c > ext * (1 + h / 100),
          [&] {
            return fmt::format("{} closed at {}, {} the {}-day {} {}", sym, Num(c),
                               Relation(c, ext), n, up ? "high" : "low", Num(ext));
          },
          out);
      break;
    }
    case Kind::kMaCross: {
      double sum = c;
      for (int i = 1; i < rule.ma; ++i) {
        auto it = s.days.find(day - i * kMicrosPerDay);
        if (it == s.days.end()) return;
        sum += it->second.bar.close;
      }
      const double ma = sum / rule.ma;
      Observe(
          r, sym, at, c, ma, up ? c > ma : c < ma,
          up ? c < ma * (1 - h / 100) : c > ma * (1 + h / 100),
          [&] {
            return fmt::format("{} closed at {}, {} its MA{} {}", sym, Num(c), Relation(c, ma),
                               rule.ma, Num(ma));
          },
          out);
      break;
    }
    default:
      break;
  }
}

std::vector<AlertEvent> Engine::Feed(const model::Kline& k) {
  std::vector<AlertEvent> out;
  Series& s = series_[k.symbol];
  if (k.open_time > s.evaluated) {
    DayAgg before;
    if (auto it = s.days.find(AlignDown(k.open_time, kMicrosPerDay)); it != s.days.end()) {
      before = it->second;
    }
    // Evaluated before Track: the day's aggregate and the windows hold only older candles.
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (IsPriceKind(rules_[r].kind) && Applies(rules_[r], k.symbol)) {
        EvaluatePrice(r, k.symbol, s, k, before, out);
      }
    }
    s.evaluated = k.open_time;
  }
  Track(s, k);
  return out;
}

double Engine::GapAge(const std::string& symbol, const Series& s, Micros now,
                      const Ranges& confirmed, Micros* oldest) const {
  (void)symbol;
  if (s.last == 0) return 0;
  Ranges missing = s.holes;
  const Micros due_end = AlignDown(now, kMicrosPerMinute);
  if (due_end > s.last + kMicrosPerMinute) missing.emplace_back(s.last + kMicrosPerMinute, due_end);
  missing = Subtract(Merged(std::move(missing)), Merged(confirmed));
  if (missing.empty()) return 0;
  *oldest = missing.front().first;
  return static_cast<double>(now - (missing.front().first + kMicrosPerMinute)) /
         static_cast<double>(kMicrosPerMinute);
}

std::vector<AlertEvent> Engine::Tick(Micros now, const Health& hl, const ConfirmedFn& confirmed) {
  std::vector<AlertEvent> out;
  for (size_t r = 0; r < rules_.size(); ++r) {
    const AlertRule& rule = rules_[r];
    const double t = rule.threshold, h = rule.hysteresis;
    auto observe = [&](const std::string& sym, double v, const auto& msg) {
      Observe(r, sym, now, v, t, v >= t, v < t - h, msg, out);
    };
    switch (rule.kind) {
      case Kind::kSilence: {
        const Micros since = hl.last_message_at ? hl.last_message_at : start_;
        const double v = static_cast<double>(now - since) / kMicrosPerSecond;
        observe("", v, [&] {
          return fmt::format("no stream message for {} s (since {}), threshold {} s", Num(v),
                             FormatIso(since), Num(t));
        });
        break;
      }
      case Kind::kLag: {
        if (hl.last_message_at == 0) break;
        const double v = std::max<double>(
            0, static_cast<double>(hl.last_message_at - hl.last_event_time) / kMicrosPerSecond);
        observe("", v,
                [&] { return fmt::format("stream lag {} s, threshold {} s", Num(v), Num(t)); });
        break;
      }
      case Kind::kReconnects: {
        const double v = static_cast<double>(
            std::count_if(hl.reconnect_times.begin(), hl.reconnect_times.end(),
                          [&](Micros x) { return x > now - rule.window && x <= now; }));
        observe("", v, [&] {
          return fmt::format("{} WebSocket reconnects in {} min, threshold {}", Num(v),
                             rule.window / kMicrosPerMinute, Num(t));
        });
        break;
      }
      case Kind::kGap: {
        for (const auto& sym : rule.symbols.empty() ? symbols_ : rule.symbols) {
          auto it = series_.find(sym);
          if (it == series_.end()) continue;
          Micros oldest = 0;
          const double v =
              GapAge(sym, it->second, now, confirmed ? confirmed(sym) : Ranges{}, &oldest);
          observe(sym, v, [&] {
            return oldest ? fmt::format(
                                "{}: 1m candles missing from {}, the oldest due {} min "
                                "ago; not healed, not confirmed empty; threshold {} min",
                                sym, FormatMinute(oldest), Num(v), Num(t))
                          : fmt::format(
                                "{}: no 1m candle missing (healed or confirmed empty by "
                                "the exchange)",
                                sym);
          });
        }
        break;
      }
      case Kind::kVerifyErrors: {
        if (hl.verify_errors < 0) break;
        const double v = static_cast<double>(hl.verify_errors);
        observe("", v, [&] {
          return fmt::format("the last verify found {} errors, threshold {}", Num(v), Num(t));
        });
        break;
      }
      case Kind::kWeight: {
        observe("", hl.weight_share, [&] {
          return fmt::format("REST weight at {}% of the limit, threshold {}%",
                             Num(100 * hl.weight_share), Num(100 * t));
        });
        break;
      }
      case Kind::kBan: {
        observe("", hl.banned ? 1 : 0, [&] {
          return std::string(hl.banned
                                 ? "the exchange banned this IP (HTTP 418): REST calls are stopped"
                                 : "the exchange's IP ban is over");
        });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

std::vector<AlertEvent> Engine::Active() const {
  std::vector<AlertEvent> out;
  for (const auto& [k, st] : state_) {
    if (st.active) out.push_back(st.firing);
  }
  std::sort(out.begin(), out.end(), [](const AlertEvent& a, const AlertEvent& b) {
    return std::tie(a.fired_at, a.key) < std::tie(b.fired_at, b.key);
  });
  return out;
}

nlohmann::json Engine::SaveState() const {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& [k, st] : state_) {
    if (!st.active && st.last_fired == 0) continue;
    nlohmann::json j{{"rule", rules_[k.first].name},
                     {"symbol", k.second},
                     {"active", st.active},
                     {"last_fired", st.last_fired}};
    if (st.active) j["firing"] = ToJson(st.firing);
    rules.push_back(std::move(j));
  }
  nlohmann::json evaluated = nlohmann::json::object();
  for (const auto& [sym, s] : series_) {
    if (s.evaluated) evaluated[sym] = s.evaluated;
  }
  return {{"version", 1}, {"rules", std::move(rules)}, {"evaluated", std::move(evaluated)}};
}

Status Engine::RestoreState(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array() ||
      !j.contains("evaluated") || !j["evaluated"].is_object()) {
    return InvalidArgument("alert state: not an object with rules and evaluated");
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < rules_.size(); ++i) index[rules_[i].name] = i;
  try {
    for (const auto& x : j["rules"]) {
      auto it = index.find(x.at("rule").get<std::string>());
      if (it == index.end()) continue;  // a rule no longer configured
      RuleState st;
      st.active = x.at("active").get<bool>();
      st.last_fired = x.at("last_fired").get<Micros>();
      if (st.active) {
        ASSIGN_OR_RETURN(st.firing, FromJson(x.at("firing")));
      }
      state_[{it->second, x.at("symbol").get<std::string>()}] = std::move(st);
    }
    for (const auto& [sym, t] : j["evaluated"].items()) series_[sym].evaluated = t.get<Micros>();
  } catch (const std::exception& e) {
    return InvalidArgument("alert state: {}", e.what());
  }
  return Status::Ok();
}

}  // namespace cryptolake::alerts
