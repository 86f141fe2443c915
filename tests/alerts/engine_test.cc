// The alert rules and engine: the config's [[alerts]] checks with their exact messages, each
// state machine on made-up candles and ticks, and the recorded 2021-04 window replayed through
// alerts::ReplayHistory, against firing minutes this test computes from the file itself.
#include "alerts/engine.h"

#include <gtest/gtest.h>

#include "alerts/history.h"
#include "alerts/recorded_2021.h"
#include "alerts/rules.h"
#include "testing/testing.h"

namespace cryptolake::alerts {
namespace {

using testing::TempDir;
using testing::WriteText;

Micros At(const std::string& t) { return ParseTime(t).value(); }

StatusOr<AlertConfig> Load(const std::string& toml) {
  static int n = 0;
  TempDir dir;
  const auto f = dir / ("c" + std::to_string(++n) + ".toml");
  WriteText(f, toml);
  auto c = LoadAlertConfig(f);
  if (!c.ok()) {
    // The message names the file: make it stable for the assertions.
    std::string m = c.status().message();
    const std::string p = f.string();
    if (auto i = m.find(p); i != std::string::npos) m.replace(i, p.size(), "F");
    return InvalidArgument("{}", m);
  }
  return c;
}

TEST(AlertRulesTest, ParsesEveryKind) {
  auto c = Load(R"(
[[alerts]]
name = "btc-60k"
kind = "level"
symbols = ["btcusdt"]
price = 60000
direction = "above"
hysteresis = 100
cooldown_seconds = 600
[[alerts]]
name = "move"
kind = "move"
percent = 5
window_minutes = 60
severity = "critical"
[[alerts]]
name = "hi"
kind = "high_low"
days = 30
direction = "high"
[[alerts]]
name = "ma"
kind = "ma_cross"
ma = 30
direction = "below"
[[alerts]]
name = "quiet"
kind = "silence"
seconds = 120
[[alerts]]
name = "storm"
kind = "reconnects"
count = 5
window_minutes = 10
[[alerts]]
name = "gap"
kind = "gap"
minutes = 10
[[alerts]]
name = "ban"
kind = "ban"
[[webhooks]]
name = "ops"
url = "https://hooks.example/T0/secret"
min_severity = "warning"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->rules.size(), 8u);
  const AlertRule& l = c->rules[0];
  EXPECT_EQ(l.kind, Kind::kLevel);
  EXPECT_EQ(l.symbols, std::vector<std::string>{"BTCUSDT"});
  EXPECT_EQ(l.threshold, 60000);
  EXPECT_EQ(l.direction, Direction::kUp);
  EXPECT_EQ(l.hysteresis, 100);
  EXPECT_EQ(l.cooldown, 600 * kMicrosPerSecond);
  EXPECT_EQ(l.severity, "warning");
  EXPECT_EQ(c->rules[1].window, 60 * kMicrosPerMinute);
  EXPECT_EQ(c->rules[1].direction, Direction::kAny);
  EXPECT_EQ(c->rules[1].severity, "critical");
  EXPECT_EQ(c->rules[2].threshold, 30);
  EXPECT_EQ(c->rules[3].ma, 30);
  EXPECT_EQ(c->rules[3].direction, Direction::kDown);
  EXPECT_EQ(c->rules[5].threshold, 5);
  EXPECT_EQ(c->rules[7].kind, Kind::kBan);
  ASSERT_EQ(c->webhooks.size(), 1u);
  EXPECT_EQ(c->webhooks[0].url, "https://hooks.example/T0/secret");
  EXPECT_EQ(c->webhooks[0].min_severity, "warning");
}

TEST(AlertRulesTest, ExactErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[alerts]]\nname = \"a\"\nkind = \"move\"\npercent = 5\n",
       "F: alerts[0] (a).window_minutes is required"},
      {"[[alerts]]\nname = \"a\"\nkind = \"move\"\npercent = 0\nwindow_minutes = 60\n",
       "F: alerts[0] (a).percent must be a number in (0, 1000], got 0"},
      {"[[alerts]]\nname = \"a\"\nkind = \"moves\"\n",
       "F: alerts[0] (a).kind must be one of \"level\", \"move\", \"high_low\", \"ma_cross\", "
       "\"silence\", \"lag\", \"reconnects\", \"gap\", \"verify_errors\", \"weight\", \"ban\", got "
       "\"moves\""},
      {"[[alerts]]\nname = \"a\"\nkind = \"silence\"\nseconds = 60\nsymbols = [\"BTCUSDT\"]\n",
       "F: unknown key 'alerts[0] (a).symbols'"},
      {"[[alerts]]\nname = \"a\"\nkind = \"level\"\nprice = 1\ndirection = \"up\"\n",
       "F: alerts[0] (a).direction must be one of \"above\", \"below\", got \"up\""},
      {"[[alerts]]\nname = \"a\"\nkind = \"ban\"\n[[alerts]]\nname = \"a\"\nkind = \"ban\"\n",
       "F: alerts[1]: name 'a' is used twice"},
      {"[[alerts]]\nname = \"a b\"\nkind = \"ban\"\n",
       "F: alerts[0].name must be 1 to 64 letters, digits, '-', '_' or '.', got \"a b\""},
      {"[[alerts]]\nname = \"a\"\nkind = \"ma_cross\"\nma = 14\ndirection = \"above\"\n",
       "F: alerts[0] (a).ma must be an integer in [7, 7], got 14"},
      {"[[webhooks]]\nname = \"w\"\nurl = \"ftp://s3cr3t@host/\"\n",
       "F: webhooks[0] (w).url must be an http:// or https:// URL (value not shown)"},
      {"alerts = 3\n", "F: alerts must be an array of tables ([[alerts]]), got 3"},
  };
  for (const auto& [toml, want] : cases) {
    auto c = Load(toml);
    ASSERT_FALSE(c.ok()) << toml;
    EXPECT_EQ(c.status().message(), want) << toml;
  }
}

model::Kline Candle(const std::string& sym, const std::string& t, double close) {
  model::Kline k;
  k.symbol = sym;
  k.open_time = At(t);
  k.close_time = k.open_time + kMicrosPerMinute - 1000;
  k.open = k.high = k.low = k.close = close;
  return k;
}

AlertRule Rule(const std::string& name, Kind kind, double threshold) {
  AlertRule r;
  r.name = name;
  r.kind = kind;
  r.threshold = threshold;
  return r;
}

TEST(AlertEngineTest, LevelHysteresisAndCooldown) {
  AlertRule r = Rule("lvl", Kind::kLevel, 100);
  r.direction = Direction::kUp;
  r.hysteresis = 2;
  r.cooldown = 10 * kMicrosPerMinute;
  Engine e({r}, {"X"}, 0);
  std::vector<std::string> seen;
  const std::vector<std::pair<std::string, double>> path = {
      {"2021-01-01 00:00", 99},   {"2021-01-01 00:01", 100}, {"2021-01-01 00:02", 99},
      {"2021-01-01 00:03", 97.9}, {"2021-01-01 00:04", 101}, {"2021-01-01 00:10", 97},
      {"2021-01-01 00:11", 100},  {"2021-01-01 00:12", 97},  {"2021-01-01 00:13", 100}};
  for (const auto& [t, c] : path) {
    for (const auto& ev : e.Feed(Candle("X", t, c))) {
      seen.push_back(fmt::format("{} {}", FormatMinute(ev.at), StateName(ev.state)));
      EXPECT_EQ(ev.key, MakeKey("lvl", "X", ev.fired_at, ev.state));
    }
  }
  // Fires at 100 (00:01, at its close 00:02); 99 is inside the hysteresis, 97.9 resolves;
  // 101 at 00:04 is within the cool-down of 00:02; 00:11 is past it (00:12 >= 00:12).
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "2021-01-01 00:02 firing",
                      "2021-01-01 00:04 resolved",
                      "2021-01-01 00:12 firing",
                      "2021-01-01 00:13 resolved",
                  }));
}

TEST(AlertEngineTest, HealthRulesOnTicks) {
  AlertRule quiet = Rule("quiet", Kind::kSilence, 60);
  AlertRule storm = Rule("storm", Kind::kReconnects, 3);
  storm.window = 10 * kMicrosPerMinute;
  AlertRule ban = Rule("ban", Kind::kBan, 1);
  const Micros t0 = At("2021-01-01 00:00");
  Engine e({quiet, storm, ban}, {"X"}, t0);
  Health h;
  EXPECT_TRUE(e.Tick(t0 + 59 * kMicrosPerSecond, h, nullptr).empty());
  auto ev = e.Tick(t0 + 60 * kMicrosPerSecond, h, nullptr);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rule, "quiet");
  EXPECT_EQ(ev[0].message,
            "no stream message for 60 s (since 2021-01-01T00:00:00Z), threshold 60 s");
  h.last_message_at = t0 + 61 * kMicrosPerSecond;
  h.reconnect_times = {t0, t0 + kMicrosPerSecond, t0 + 2 * kMicrosPerSecond};
  h.banned = true;
  ev = e.Tick(t0 + 62 * kMicrosPerSecond, h, nullptr);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].key, "quiet:-:20210101T000100Z:resolved");
  EXPECT_EQ(ev[1].key, "storm:-:20210101T000102Z:firing");
  EXPECT_EQ(ev[1].message, "3 WebSocket reconnects in 10 min, threshold 3");
  EXPECT_EQ(ev[2].key, "ban:-:20210101T000102Z:firing");
  // Ten minutes on, the first reconnect has left the window.
  ev = e.Tick(t0 + 10 * kMicrosPerMinute, h, nullptr);
  ASSERT_EQ(ev.size(), 2u);  // silence again (no message for 539 s), storm resolved
  EXPECT_EQ(ev[0].rule, "quiet");
  EXPECT_EQ(ev[1].key, "storm:-:20210101T000102Z:resolved");
  EXPECT_EQ(e.Active().size(), 2u);  // ban, quiet
}

TEST(AlertEngineTest, GapFiresAndResolvesWhenHealedOrConfirmedEmpty) {
  Engine e({Rule("gap", Kind::kGap, 5)}, {"X"}, 0);
  e.Feed(Candle("X", "2021-01-01 00:00", 1));
  e.Feed(Candle("X", "2021-01-01 00:01", 1));
  Ranges confirmed;
  auto fn = [&](const std::string&) { return confirmed; };
  // 00:02 is due at 00:03; five minutes later it is a gap.
  EXPECT_TRUE(e.Tick(At("2021-01-01 00:07:59"), {}, fn).empty());
  auto ev = e.Tick(At("2021-01-01 00:08"), {}, fn);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].symbol, "X");
  EXPECT_EQ(ev[0].message,
            "X: 1m candles missing from 2021-01-01 00:02, the oldest due 5 min ago; not healed, "
            "not confirmed empty; threshold 5 min");
  e.Feed(Candle("X", "2021-01-01 00:09", 1));  // the stream is back: 00:02..00:08 a hole
  EXPECT_TRUE(e.Tick(At("2021-01-01 00:10"), {}, fn).empty());  // 00:02 is 7 min overdue
  // Backfill: 00:02 and 00:03 healed, 00:04..00:08 confirmed empty by the exchange.
  e.Feed(Candle("X", "2021-01-01 00:02", 1));
  e.Feed(Candle("X", "2021-01-01 00:03", 1));
  EXPECT_TRUE(e.Tick(At("2021-01-01 00:10:30"), {}, fn).empty());  // 00:04 is 5.5 min overdue
  confirmed = {{At("2021-01-01 00:04"), At("2021-01-01 00:09")}};
  ev = e.Tick(At("2021-01-01 00:11"), {}, fn);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].state, AlertState::kResolved);
  EXPECT_EQ(ev[0].key, "gap:X:20210101T000800Z:resolved");
}

TEST(AlertEngineTest, StateSurvivesARestart) {
  AlertRule r = Rule("lvl", Kind::kLevel, 100);
  r.direction = Direction::kUp;
  Engine a({r}, {"X"}, 0);
  ASSERT_EQ(a.Feed(Candle("X", "2021-01-01 00:00", 101)).size(), 1u);
  Engine b({r}, {"X"}, 0);
  ASSERT_TRUE(b.RestoreState(a.SaveState()).ok());
  EXPECT_EQ(b.EvaluatedThrough("X"), At("2021-01-01 00:00"));
  // Fed again (a warm-up after the restart): nothing; the next candle resolves the same firing.
  EXPECT_TRUE(b.Feed(Candle("X", "2021-01-01 00:00", 101)).empty());
  auto ev = b.Feed(Candle("X", "2021-01-01 00:01", 99));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, "lvl:X:20210101T000100Z:resolved");
}

// The recorded window, 2021-04-17 .. 04-21, both symbols: the 5%-in-60-min rule against a
// re-computation from the file, the silence and gap rules at the real outage of 2021-04-20
// 02:00-04:30 (confirmed empty by the exchange, as backfill records it).
TEST(AlertEngineTest, RecordedWindowFiresAtIndependentlyComputedMinutes) {
  const Micros from = At("2021-04-17 00:00"), to = At("2021-04-21 00:00");
  AlertRule move = Rule("move-5pct-60m", Kind::kMove, 5);
  move.window = 60 * kMicrosPerMinute;
  move.cooldown = 3600 * kMicrosPerSecond;
  move.hysteresis = 1;
  AlertRule quiet = Rule("silence", Kind::kSilence, 120);
  AlertRule gap = Rule("gap", Kind::kGap, 10);
  std::vector<std::string> want, got;
  std::vector<model::Kline> candles;
  for (const std::string sym : {"BTCUSDT", "ETHUSDT"}) {
    const auto closes = testing_2021::Closes(sym);
    ASSERT_GT(closes.size(), 60000u) << sym;
    bool active = false;
    Micros last = 0;
    for (const auto& [t, c] : closes) {
      if (t < from - 61 * kMicrosPerMinute || t >= to) continue;
      candles.push_back(Candle(sym, FormatIso(t), c));
      if (t < from) continue;
      auto ref = closes.find(t - 60 * kMicrosPerMinute);
      if (ref == closes.end()) continue;
      const double v = 100 * (c / ref->second - 1);
      const Micros at = t + kMicrosPerMinute;
      if (!active && std::fabs(v) >= 5 && (last == 0 || at - last >= 3600 * kMicrosPerSecond)) {
        active = true;
        last = at;
        want.push_back(fmt::format("{} {} firing", FormatMinute(at), sym));
      } else if (active && std::fabs(v) < 4) {
        active = false;
        want.push_back(fmt::format("{} {} resolved", FormatMinute(at), sym));
      }
    }
  }
  // The outage, from the file: the last candle before it and the first after it.
  const auto btc = testing_2021::Closes("BTCUSDT");
  auto after = btc.lower_bound(At("2021-04-20 02:00"));
  const Micros resumed = after->first, before = std::prev(after)->first;
  ASSERT_EQ(before, At("2021-04-20 01:59"));
  ASSERT_EQ(resumed, At("2021-04-20 04:30"));
  std::map<std::string, Ranges> confirmed = {{"BTCUSDT", {{before + kMicrosPerMinute, resumed}}},
                                             {"ETHUSDT", {{before + kMicrosPerMinute, resumed}}}};
  Engine e({move, quiet, gap}, {"BTCUSDT", "ETHUSDT"}, from);
  std::vector<std::string> health;
  for (const auto& ev : ReplayHistory(e, candles, confirmed, from, to)) {
    const std::string line =
        fmt::format("{} {}{}", FormatMinute(ev.at), ev.symbol.empty() ? "" : ev.symbol + " ",
                    StateName(ev.state));
    (ev.rule == "move-5pct-60m" ? got : health)
        .push_back(ev.rule == "move-5pct-60m" ? line : ev.rule + " " + line);
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  EXPECT_GE(want.size(), 4u);
  const std::string stop = FormatMinute(before + kMicrosPerMinute + 2 * kMicrosPerMinute);
  const std::string due10 = FormatMinute(before + kMicrosPerMinute + 11 * kMicrosPerMinute);
  const std::string back = FormatMinute(resumed + kMicrosPerMinute);
  EXPECT_EQ(health, (std::vector<std::string>{
                        "silence " + stop + " firing",       // 2021-04-20 02:02
                        "gap " + due10 + " BTCUSDT firing",  // 02:11
                        "gap " + due10 + " ETHUSDT firing",
                        "silence " + back + " resolved",  // 04:31
                        "gap " + back + " BTCUSDT resolved",
                        "gap " + back + " ETHUSDT resolved",
                    }));
}

}  // namespace
}  // namespace cryptolake::alerts
