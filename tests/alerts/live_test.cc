// The alert rules live, as `up` and `stream` wire them (alerts/live.h): the replay exchange plays
// the real 2021-04 1m window of both symbols over WebSocket on 127.0.0.1, RunStream (embedded
// bus, the REST backfill as gap healer) feeds the closed candles and its health to LiveAlerts.
// Exchange time is a FakeClock that the test moves one minute at a time: at each minute it
// waits until the messages the recorded file says are due (the final of the candle that just
// closed, the first update of the one that opens) have arrived and been evaluated, then ticks
// the health rules. Expected minutes come from the recorded files, read by the test itself.
#include "alerts/live.h"

#include <gtest/gtest.h>

#include <thread>

#include "alerts/recorded_2021.h"
#include "backfill/healer.h"
#include "exchange/replay.h"
#include "lake/klines.h"
#include "speed/bus.h"
#include "venues/binance/rest.h"
#include "venues/binance/stream_parser.h"

namespace cryptolake::alerts {
namespace {

namespace fs = std::filesystem;
using testing::SharedData;
using testing::TempDir;
using testing::WriteText;

Micros At(const std::string& t) { return ParseTime(t).value(); }

const std::vector<std::string> kSymbols = {"BTCUSDT", "ETHUSDT"};

std::vector<std::string> Window2021() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(SharedData() / "binance-spot/klines/1m")) {
    if (e.path().filename().string().find("-1m-20210402_") != std::string::npos) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Waits (polling) until `done`. The deadline only turns a message that never comes into a
// failure naming `what` instead of a hang: here each wait ends within milliseconds.
template <typename F>
bool WaitFor(const std::string& what, F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "waited 120 s for " << what;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

struct LiveResult {
  std::vector<AlertEvent> events;  // the event log, in order
  lake::TimeRanges confirmed_btc;  // the lake's confirmed-empty ranges of BTCUSDT at the end
};

// Streams [start, end) of exchange time with `rules` (TOML) and returns what was raised.
LiveResult RunLive(const std::string& start, const std::string& end, const std::string& rules) {
  LiveResult out;
  TempDir dir;
  const Micros t0 = At(start);
  FakeClock clock(t0);
  exchange::ReplayOptions ro;
  ro.start = t0;
  ro.weight_limit = 1'000'000'000;
  auto ex = exchange::ReplayExchange::Create(Window2021(), clock, ro);
  EXPECT_TRUE(ex.ok()) << ex.status().ToString();
  if (!ex.ok()) return out;
  EXPECT_TRUE((*ex)->Start().ok());
  auto lk = lake::Lake::Open(dir / "lake", clock);
  auto db = lake::OpenDatabase();
  auto con = lake::OpenConnection(**db);
  WriteText(dir / "cryptolake.toml", rules);
  LiveOptions lo;
  lo.config_file = dir / "cryptolake.toml";
  lo.data_root = dir / "lake";
  lo.symbols = kSymbols;
  lo.tick = 0;  // ticked by hand below
  auto live = LiveAlerts::Start(*lk, **con, clock, lo);
  EXPECT_TRUE(live.ok() && *live) << live.status().ToString();
  if (!live.ok() || !*live) return out;
  LiveAlerts& la = **live;

  speed::StreamOptions so;
  so.ws.url = (*ex)->ws_url();
  so.symbols = kSymbols;
  so.view_file = dir / "lake/speed/view.duckdb";
  so.view.lateness = 365 * kMicrosPerDay;
  so.trades = false;
  so.append_every = 365 * kMicrosPerDay;  // the lake gets the healer's commits only
  la.Hook(so);
  exchange::RateGovernor governor(clock, {});
  la.SetGovernor(&governor);
  venues::binance::RestOptions rest_opt;
  rest_opt.base_url = (*ex)->url();
  venues::binance::BinanceRest rest(rest_opt, governor, clock);
  venues::binance::StreamParser format;
  so.format = &format;
  backfill::BackfillHealer healer(*lk, rest);
  speed::EmbeddedBus bus;
  std::atomic<bool> stop{false};
  Status st = Status::Ok();
  std::thread run([&] { st = speed::RunStream(*lk, bus, &healer, so, stop).status(); });

  // The replay sends a connection the candles from the exchange minute it connects in: the
  // clock moves only once the stream is connected (the first candle's opening update is in).
  if (!WaitFor("the stream's first message", [&] { return la.health().last_message_at() != 0; })) {
    stop = true;
  }
  std::map<std::string, std::map<Micros, double>> file;
  for (const auto& s : kSymbols) file[s] = testing_2021::Closes(s);
  for (Micros t = AlignDown(t0, kMicrosPerMinute) + kMicrosPerMinute; t < At(end) && !stop;
       t += kMicrosPerMinute) {
    clock.Set(t);
    bool ok = true;
    for (const auto& s : kSymbols) {
      // The candle that closed at t: evaluated by the price rules once durable in the view.
      if (file[s].count(t - kMicrosPerMinute)) {
        ok = ok && WaitFor(s + "'s candle of " + FormatMinute(t - kMicrosPerMinute), [&] {
               return la.service().EvaluatedThrough(s) >= t - kMicrosPerMinute;
             });
      }
      // The candle that opens at t sends its first update at t.
      if (file[s].count(t)) {
        ok = ok && WaitFor("a message at " + FormatMinute(t),
                           [&] { return la.health().last_message_at() >= t; });
      }
    }
    if (!ok) break;
    la.TickNow();
  }
  stop = true;
  run.join();
  EXPECT_TRUE(st.ok()) << st.ToString();
  out.events = la.service().Recent(100000);
  auto snap = lk->GetSnapshot();
  if (snap.ok()) {
    out.confirmed_btc = lake::ConfirmedEmpty(snap->manifest(), "klines_1m", "BTCUSDT");
  }
  return out;
}

std::vector<std::string> Lines(const std::vector<AlertEvent>& events, const std::string& rule) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.rule != rule) continue;
    out.push_back(fmt::format("{} {}{}", FormatMinute(e.at), e.symbol.empty() ? "" : e.symbol + " ",
                              StateName(e.state)));
  }
  return out;
}

// The real outage of 2021-04-20 02:00-04:30: no message for two minutes raises the silence
// alert; ten minutes after the first missing candle was due the gap alert fires; when the
// stream resumes, the healer's backfill asks the exchange for the missing minutes, gets none and
// records them as confirmed empty, and the gap alert resolves at the next tick.
TEST(AlertsLiveTest, OutageRaisesSilenceAndTheGapResolvesWhenConfirmedEmpty) {
  const auto btc = testing_2021::Closes("BTCUSDT");
  const auto eth = testing_2021::Closes("ETHUSDT");
  ASSERT_FALSE(btc.empty());
  const auto after = btc.lower_bound(At("2021-04-20 02:00"));
  const Micros last = std::prev(after)->first, resumed = after->first;
  ASSERT_EQ(std::prev(eth.lower_bound(At("2021-04-20 02:00")))->first, last);
  ASSERT_EQ(eth.lower_bound(At("2021-04-20 02:00"))->first, resumed);
  auto r = RunLive("2021-04-20 01:30:30", "2021-04-20 04:40", R"(
[[alerts]]
name = "stream-silence"
kind = "silence"
seconds = 120
severity = "critical"
[[alerts]]
name = "gap-10m"
kind = "gap"
minutes = 10
)");
  const Micros first_missing = last + kMicrosPerMinute;  // due at its close, one minute later
  EXPECT_EQ(Lines(r.events, "stream-silence"),
            (std::vector<std::string>{
                FormatMinute(last + kMicrosPerMinute + 120 * kMicrosPerSecond) + " firing",
                FormatMinute(resumed) + " resolved"}));
  const std::string fired = FormatMinute(first_missing + kMicrosPerMinute + 10 * kMicrosPerMinute);
  const std::string healed = FormatMinute(resumed + kMicrosPerMinute);
  EXPECT_EQ(Lines(r.events, "gap-10m"),
            (std::vector<std::string>{fired + " BTCUSDT firing", fired + " ETHUSDT firing",
                                      healed + " BTCUSDT resolved", healed + " ETHUSDT resolved"}));
  // What resolved it: the exchange confirmed the outage empty (backfill's record in the lake).
  EXPECT_EQ(r.confirmed_btc, (lake::TimeRanges{{first_missing, resumed}}));
  // The literal minutes, for the reader: 02:02, 02:11, 04:30 and 04:31.
  EXPECT_EQ(fired, "2021-04-20 02:11");
  EXPECT_EQ(healed, "2021-04-20 04:31");
}

// A 5%-in-60-min rule on the crash of 2021-04-18: the minutes it fires and resolves at, per
// symbol, recomputed here from the recorded closes with the rule's definition (rules.h).
TEST(AlertsLiveTest, MoveRuleFiresAtIndependentlyComputedMinutes) {
  const Micros start = At("2021-04-18 02:10"), end = At("2021-04-18 05:00");
  std::vector<std::string> want;
  for (const auto& sym : kSymbols) {
    const auto closes = testing_2021::Closes(sym);
    bool active = false;
    Micros last = 0;
    for (const auto& [t, c] : closes) {
      if (t < start || t + kMicrosPerMinute >= end) continue;  // streamed and closed in the run
      auto ref = closes.find(t - 60 * kMicrosPerMinute);
      if (ref == closes.end() || ref->first < start) continue;
      const double v = 100 * (c / ref->second - 1);
      const Micros at = t + kMicrosPerMinute;
      if (!active && std::fabs(v) >= 5 && (last == 0 || at - last >= kMicrosPerHour)) {
        active = true;
        last = at;
        want.push_back(fmt::format("{} {} firing", FormatMinute(at), sym));
      } else if (active && std::fabs(v) < 4) {
        active = false;
        want.push_back(fmt::format("{} {} resolved", FormatMinute(at), sym));
      }
    }
  }
  ASSERT_GE(want.size(), 4u);  // both symbols crashed by more than 5% within the hour
  auto r = RunLive("2021-04-18 02:10:30", "2021-04-18 05:00", R"(
[[alerts]]
name = "move-5pct-60m"
kind = "move"
percent = 5
window_minutes = 60
cooldown_seconds = 3600
hysteresis = 1
)");
  auto got = Lines(r.events, "move-5pct-60m");
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  for (const auto& e : r.events) {
    EXPECT_EQ(e.key, MakeKey(e.rule, e.symbol, e.fired_at, e.state));
  }
}

}  // namespace
}  // namespace cryptolake::alerts
