// `cryptolake alerts test`: the rules of the config (or --rules) over the lake's history
// (alerts/history.h), printed as they would have fired.
#include <fmt/format.h>

#include <cstdio>

#include "alerts/history.h"
#include "alerts/rules.h"
#include "app/commands.h"
#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::app {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

}  // namespace

int RunAlertsTest(Env& env, const AlertsTestArgs& a) {
  const std::filesystem::path file =
      a.rules.empty() ? env.config.file : std::filesystem::path(a.rules);
  if (file.empty()) {
    return UsageFail(InvalidArgument(
        "alerts test: no rules: give --rules FILE or a config with [[alerts]] (--config, or "
        "./cryptolake.toml)"));
  }
  auto cfg = alerts::LoadAlertConfig(file);
  if (!cfg.ok()) return Fail(cfg.status());
  if (cfg->rules.empty()) return Fail(InvalidArgument("{} has no [[alerts]] rule", file.string()));
  std::vector<std::string> symbols = SplitList(a.symbols.empty() ? env.config.symbols : a.symbols);
  auto snap = env.lake->GetSnapshot();
  if (!snap.ok()) return Fail(snap.status());
  const auto last = lake::LastOpenTimes(*snap, k1m);
  Micros to = 0;
  for (const auto& s : symbols) {
    if (auto it = last.find(s); it != last.end()) to = std::max(to, it->second + kMicrosPerMinute);
  }
  if (a.to) {
    auto t = ParseTime(*a.to);
    if (!t.ok()) return UsageFail(t.status().WithContext("--to"));
    to = *t;
  }
  if (to == 0) return Fail(NotFound("the lake has no 1m klines of {}", fmt::join(symbols, ", ")));
  Micros from = to - 7 * kMicrosPerDay;
  if (a.from) {
    auto t = ParseTime(*a.from);
    if (!t.ok()) return UsageFail(t.status().WithContext("--from"));
    from = *t;
  }
  if (from >= to) {
    return UsageFail(
        InvalidArgument("--from {} must be before --to {}", FormatIso(from), FormatIso(to)));
  }
  const Micros lookback = alerts::LookbackOf(cfg->rules);
  std::vector<model::Kline> candles;
  std::map<std::string, alerts::Ranges> confirmed;
  for (const auto& s : symbols) {
    lake::KlineFilter f;
    f.symbol = s;
    f.from = from - lookback;
    f.to = to;
    lake::KlineRead r;
    r.ohlcv_only = true;
    auto ks = lake::ReadKlines(*env.con, *snap, k1m, f, r);
    if (!ks.ok()) return Fail(ks.status());
    candles.insert(candles.end(), ks->begin(), ks->end());
    for (const auto& range : lake::ConfirmedEmpty(snap->manifest(), lake::KlinesDataset(k1m), s)) {
      confirmed[s].push_back(range);
    }
  }
  std::printf("alerts test: %zu rules over %s..%s (%zu candles of %s, %s of warm-up)\n",
              cfg->rules.size(), FormatIso(from).c_str(), FormatIso(to).c_str(), candles.size(),
              fmt::format("{}", fmt::join(symbols, ", ")).c_str(),
              fmt::format("{} min", lookback / kMicrosPerMinute).c_str());
  alerts::Engine engine(cfg->rules, symbols, from);
  const auto events = alerts::ReplayHistory(engine, std::move(candles), confirmed, from, to);
  std::map<std::string, int> fired;
  for (const auto& e : events) {
    if (a.json) {
      std::printf("%s\n", alerts::ToJson(e).dump().c_str());
    } else {
      std::printf("%s\n", alerts::FormatEventLine(e).c_str());
    }
    if (e.state == alerts::AlertState::kFiring) ++fired[e.rule];
  }
  if (!a.json) {
    for (const auto& r : cfg->rules) {
      const int n = fired[r.name];
      std::printf("  %-24s fired %d %s\n", r.name.c_str(), n, n == 1 ? "time" : "times");
    }
    std::printf("alerts test: %zu events; still firing at the end: %zu\n", events.size(),
                engine.Active().size());
  }
  return 0;
}

}  // namespace cryptolake::app
