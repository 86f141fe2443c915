// WsStream against the replay exchange's WebSocket streams on 127.0.0.1 (real sockets, the real
// sample data). The exchange clock is a FakeClock where determinism helps; WebSocket timers are
// real time and kept to tens of milliseconds, except where a test injects a FakeClock for them
// (WsOptions::clock, ReplayOptions::ws_clock) and moves it by hand. No wait has a deadline: each
// awaits what it names, so a slow machine only makes a test slower (a hang fails at the ctest
// TIMEOUT).
#include "speed/ws_stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exchange/replay.h"
#include "ingest/parser.h"
#include "testing/testing.h"

namespace cryptolake::speed {
namespace {

using cryptolake::testing::SharedData;
using exchange::ReplayExchange;
using exchange::ReplayOptions;
using namespace std::chrono_literals;

std::string Btc1m() {
  return (SharedData() /
          "binance-spot/klines/1m/BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz")
      .string();
}

// The open times (ms) of the file's rows in [from, to) (us).
std::vector<int64_t> FileOpenTimes(Micros from, Micros to) {
  auto parsed = ingest::ParseInput(Btc1m(), ingest::ParseOptions{});
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::vector<int64_t> out;
  if (!parsed.ok()) return out;
  for (const auto& f : *parsed) {
    for (Micros t : f.batch.open_time) {
      if (t >= from && t < to) out.push_back(t / 1000);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What the callbacks saw, in order, and a way to wait for it. Every callback notifies; a wait
// re-checks its condition on each notification and at least every 5 ms (for conditions on
// counters that change without a callback).
class Recorder {
 public:
  struct Item {
    bool reconnect = false;  // else a message
    std::string text;
    Micros at = 0;               // wall clock when the callback ran
    Micros last_message_at = 0;  // OnReconnect's argument
  };

  WsStream::OnMessage Messages() {
    return [this](std::string_view text) {
      std::lock_guard<std::mutex> l(mu_);
      items_.push_back({false, std::string(text), SystemClock::Instance().Now(), 0});
      cv_.notify_all();
    };
  }
  WsStream::OnReconnect Reconnects() {
    return [this](Micros last) {
      std::lock_guard<std::mutex> l(mu_);
      items_.push_back({true, "", SystemClock::Instance().Now(), last});
      cv_.notify_all();
    };
  }
  // Waits until pred(items) holds, however long that takes. Returns true (for ASSERT_TRUE).
  bool WaitFor(const std::function<bool(const std::vector<Item>&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    while (!pred(items_)) cv_.wait_for(l, 5ms);
    return true;
  }
  // Whether pred(items) comes to hold within `d` of real time. Only for checks that something
  // does not happen: silence can only be waited for, and a slow machine can only make it pass.
  bool HoldsWithin(const std::function<bool(const std::vector<Item>&)>& pred,
                   std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    std::unique_lock<std::mutex> l(mu_);
    while (!pred(items_)) {
      if (std::chrono::steady_clock::now() >= end) return false;
      cv_.wait_for(l, 5ms);
    }
    return true;
  }
  std::vector<Item> Items() {
    std::lock_guard<std::mutex> l(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> items_;
};

bool IsFinal(const std::string& m) { return m.find("\"x\":true") != std::string::npos; }

// The "t" (open time) of a kline message, or -1.
int64_t OpenTimeOf(const std::string& m) {
  size_t k = m.find("\"k\":{\"t\":");
  if (k == std::string::npos) return -1;
  return std::stoll(m.substr(k + 9, 13));
}

size_t CountMessages(const std::vector<Recorder::Item>& items) {
  return static_cast<size_t>(
      std::count_if(items.begin(), items.end(), [](const auto& i) { return !i.reconnect; }));
}

// Runs a WsStream on its own thread; stops and joins it on destruction.
class Runner {
 public:
  Runner(WsOptions opt, Recorder& rec)
      : ws_(std::move(opt), rec.Messages(), rec.Reconnects()),
        thread_([this] { status_ = ws_.Run(); }) {}
  ~Runner() { IgnoreError(Stop(), "a test that checks the run's status calls Stop() itself"); }
  Status Stop() {
    ws_.Stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  const WsStats& stats() const { return ws_.stats(); }

 private:
  WsStream ws_;
  Status status_ = Status::Ok();
  std::thread thread_;
};

class WsStreamTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReplayExchange> Make(ReplayOptions opt, const Clock* clock = nullptr) {
    auto ex = ReplayExchange::Create({Btc1m()}, clock ? *clock : clock_, std::move(opt));
    EXPECT_TRUE(ex.ok()) << ex.status().ToString();
    if (!ex.ok()) return nullptr;
    Status s = (*ex)->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(ex).value();
  }
  WsOptions Options(const ReplayExchange& ex) {
    WsOptions o;
    o.url = ex.ws_url();
    o.path = "/stream?streams=btcusdt@kline_1m";
    o.connect_timeout = 2 * kMicrosPerSecond;
    o.backoff_base = 5'000;
    o.backoff_max = 40'000;
    o.seed = 7;
    return o;
  }

  FakeClock clock_{MicrosFromCivil(2026, 1, 1)};
};

TEST(WsStreamUrlTest, BadUrlsAreInvalidArgument) {
  for (std::string url : {"http://127.0.0.1:1", "ws://", "ws://:80", "ws://127.0.0.1:0",
                          "ws://127.0.0.1:x", "wss://host:70000", "ws://h/?a=b", "ws://[::1"}) {
    WsOptions o;
    o.url = url;
    o.path = "/stream?streams=btcusdt@kline_1m";
    WsStream ws(o, [](std::string_view) {});
    Status s = ws.Run();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url << ": " << s.ToString();
  }
  WsOptions o;
  o.url = "ws://127.0.0.1:1";
  WsStream none(o, [](std::string_view) {});
  EXPECT_EQ(none.Run().code(), StatusCode::kInvalidArgument);  // no stream path
}

TEST(WsStreamStopTest, StopBeforeRunAndDuringBackoff) {
  WsOptions o;
  o.url = "ws://127.0.0.1:1";  // nothing listens: connects fail
  o.path = "/stream?streams=btcusdt@kline_1m";
  // The backoff after the first failure: uniform(0, 1 h), with this seed 2,716 s (the log line
  // "reconnecting in 2715787 ms"), so a Stop() that waited for it would take 45 minutes.
  o.backoff_base = kMicrosPerHour;
  o.backoff_max = kMicrosPerHour;
  o.seed = 7;
  {
    WsStream ws(o, [](std::string_view) {});
    ws.Stop();
    EXPECT_TRUE(ws.Run().ok());  // returns at once
  }
  WsStream ws(o, [](std::string_view) {});
  Status s = Status::Ok();
  std::thread t([&] { s = ws.Run(); });
  // Until the first connect has failed: the stream is in its backoff.
  while (ws.stats().failures.load() == 0) std::this_thread::yield();
  ASSERT_EQ(ws.stats().failures.load(), 1);
  const auto t0 = std::chrono::steady_clock::now();
  ws.Stop();
  t.join();
  // Stop() cut the backoff short: far less than the backoff, and generous for a slow machine.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ws.stats().connects, 0);
  EXPECT_EQ(ws.stats().reconnects, 0);
}

// wss:// against a plain server: the TLS handshake fails, the stream backs off and retries, and
// stops cleanly (the TLS path, SNI and verification set-up included, runs under the sanitizers).
TEST_F(WsStreamTest, TlsHandshakeFailureIsRetried) {
  ReplayOptions ro;
  ro.start = MicrosFromCivil(2021, 4, 10);
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  WsOptions o = Options(*ex);
  o.url = "wss://127.0.0.1:" + std::to_string(ex->port());
  Recorder rec;
  Runner run(o, rec);
  // Each attempt sends a ClientHello that the server reads as a bad HTTP request and drops.
  EXPECT_FALSE(rec.HoldsWithin([](const auto& v) { return !v.empty(); }, 200ms));
  EXPECT_TRUE(run.Stop().ok());
  EXPECT_EQ(run.stats().connects, 0);
  EXPECT_EQ(run.stats().messages, 0);
  EXPECT_EQ(ex->Counters().ws_connections, 0);
}

// Combined streams: every message wrapped; an hour of exchange time gives the file's finals,
// one per minute in order; pings are answered (the server counts the pongs).
TEST_F(WsStreamTest, StreamsFinalsOfAnHourAndAnswersPings) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10, 0, 0, 30);
  ReplayOptions ro;
  ro.start = t0;
  ro.ws_ping_interval = 20'000;
  ro.ws_pong_timeout = 5 * kMicrosPerSecond;
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  Recorder rec;
  WsOptions o = Options(*ex);
  o.path = "/stream?streams=btcusdt@kline_1m/btcusdt@trade";
  Runner run(o, rec);
  ASSERT_TRUE(rec.WaitFor([](const auto& v) { return !v.empty(); }));
  clock_.Advance(kMicrosPerHour);
  const int64_t end_ms = (MicrosFromCivil(2021, 4, 10, 1)) / 1000;
  ASSERT_TRUE(rec.WaitFor([&](const auto& v) { return OpenTimeOf(v.back().text) == end_ms; }));
  ASSERT_TRUE(rec.WaitFor([&](const auto&) { return run.stats().pings >= 4; }));
  EXPECT_TRUE(run.Stop().ok());
  std::vector<int64_t> finals;
  for (const auto& i : rec.Items()) {
    ASSERT_FALSE(i.reconnect);
    EXPECT_EQ(i.text.rfind("{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",", 0), 0u)
        << i.text;
    if (IsFinal(i.text)) finals.push_back(OpenTimeOf(i.text));
  }
  EXPECT_EQ(finals, FileOpenTimes(MicrosFromCivil(2021, 4, 10), MicrosFromCivil(2021, 4, 10, 1)));
  EXPECT_EQ(finals.size(), 60u);
  EXPECT_EQ(run.stats().connects, 1);
  EXPECT_EQ(run.stats().reconnects, 0);
  EXPECT_EQ(run.stats().messages, static_cast<int64_t>(rec.Items().size()));
  ex->Stop();
  auto k = ex->Counters();
  EXPECT_GE(k.ws_pongs, run.stats().pings - 1);  // the last pong may have been cut by Stop()
  EXPECT_GE(k.ws_pongs, 3);
  EXPECT_EQ(k.ws_pong_timeouts, 0);
}

// disconnect_every cuts every connection; WsStream reconnects after a backoff and calls
// OnReconnect(last_message_at) before the new connection's first message.
TEST_F(WsStreamTest, ReconnectsAfterDisconnectsAndCallsOnReconnect) {
  ReplayOptions ro;
  ro.start = MicrosFromCivil(2021, 4, 10, 0, 0, 30);
  ro.ws_faults.disconnect_every = 60'000;
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  Recorder rec;
  Runner run(Options(*ex), rec);
  // Each connection delivers the open candle at once, then is cut.
  ASSERT_TRUE(rec.WaitFor([](const auto& v) { return CountMessages(v) >= 3; }));
  EXPECT_TRUE(run.Stop().ok());
  auto items = rec.Items();
  ASSERT_FALSE(items.front().reconnect);
  int reconnects = 0;
  Micros last_message = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].reconnect) {
      ++reconnects;
      EXPECT_FALSE(items[i - 1].reconnect) << "a reconnect without a message in between";
      EXPECT_GT(items[i].last_message_at, 0);
      EXPECT_LE(items[i].last_message_at, last_message);  // set just before OnMessage ran
      EXPECT_GE(items[i].last_message_at, last_message - kMicrosPerSecond);
    } else {
      last_message = items[i].at;
      if (i > 0) {
        EXPECT_TRUE(items[i - 1].reconnect) << "one message per connection";
      }
    }
  }
  EXPECT_GE(reconnects, 2);
  EXPECT_GE(run.stats().reconnects, reconnects);
  EXPECT_EQ(run.stats().connects, run.stats().reconnects + 1);
  EXPECT_EQ(run.stats().stalls, 0);
  EXPECT_GE(ex->Counters().ws_disconnects, 2);
}

// The server's serverShutdown at max age is a failure too: reconnect, OnReconnect.
TEST_F(WsStreamTest, ServerShutdownEventReconnects) {
  ReplayOptions ro;
  ro.start = MicrosFromCivil(2021, 4, 10, 0, 0, 30);
  ro.ws_max_age = 60'000;
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  Recorder rec;
  Runner run(Options(*ex), rec);
  ASSERT_TRUE(rec.WaitFor([](const auto& v) {
    return std::count_if(v.begin(), v.end(), [](const auto& i) { return i.reconnect; }) >= 1 &&
           !v.back().reconnect;
  }));
  EXPECT_TRUE(run.Stop().ok());
  auto items = rec.Items();
  ASSERT_GE(items.size(), 4u);
  EXPECT_EQ(OpenTimeOf(items[0].text), MicrosFromCivil(2021, 4, 10) / 1000);
  EXPECT_EQ(
      items[1].text.rfind("{\"stream\":\"!serverShutdown\",\"data\":{\"e\":\"serverShutdown\"", 0),
      0u)
      << items[1].text;
  EXPECT_TRUE(items[2].reconnect);
  EXPECT_EQ(OpenTimeOf(items[3].text), MicrosFromCivil(2021, 4, 10) / 1000);
  EXPECT_GE(ex->Counters().ws_max_age_closes, 1);
}

// A stalled connection (no data, no pings) is detected after stall_timeout; the stream
// reconnects and data continues on the new connection. The WebSocket timers of both sides run
// on one FakeClock that the test moves: the exchange pings, then goes silent; the client
// declares the stall exactly when stall_timeout has passed since the last frame, not before.
TEST_F(WsStreamTest, StallIsDetectedAndDataContinuesAfterReconnect) {
  FakeClock timers(MicrosFromCivil(2026, 1, 1));
  ReplayOptions ro;
  ro.start = MicrosFromCivil(2021, 4, 10, 0, 0, 30);
  ro.ws_clock = &timers;
  ro.ws_ping_interval = 10'000;  // a healthy connection is never silent for long
  ro.ws_faults.stall_after = 100'000;
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  Recorder rec;
  WsOptions o = Options(*ex);
  o.clock = &timers;
  o.stall_timeout = 150'000;
  o.backoff_base = 0;  // reconnect at once: the fake clock does not move on its own
  o.backoff_max = 0;
  Runner run(o, rec);
  ASSERT_TRUE(rec.WaitFor([](const auto& v) { return !v.empty(); }));
  // 50 ms: the exchange pings (a frame: the stall countdown starts again).
  timers.Advance(50'000);
  ASSERT_TRUE(rec.WaitFor([&](const auto&) { return run.stats().pings >= 1; }));
  // 110 ms: the exchange has gone silent (stall_after 100 ms).
  timers.Advance(60'000);
  ASSERT_TRUE(rec.WaitFor([&](const auto&) { return ex->Counters().ws_stalls >= 1; }));
  // 199 ms: the last frame (the ping at 50 ms) was 149 ms ago -- no stall yet. Silence can only
  // be waited for; a slow machine can only make this pass.
  timers.Advance(89'000);
  EXPECT_FALSE(rec.HoldsWithin([&](const auto&) { return run.stats().stalls > 0; }, 20ms));
  // 200 ms: 150 ms since the last frame: stalled, and the new connection takes over.
  timers.Advance(1'000);
  ASSERT_TRUE(rec.WaitFor(
      [&](const auto& v) { return run.stats().stalls >= 1 && v.size() >= 3 && v[1].reconnect; }));
  EXPECT_EQ(rec.Items().size(), 3u);  // the open candle, the reconnect, the open candle again
  // Make data due: it arrives on the new connection.
  clock_.Advance(kMicrosPerMinute);
  const int64_t final_ms = MicrosFromCivil(2021, 4, 10) / 1000;
  ASSERT_TRUE(rec.WaitFor([&](const auto& v) {
    return std::any_of(v.begin(), v.end(), [&](const auto& i) {
      return IsFinal(i.text) && OpenTimeOf(i.text) == final_ms;
    });
  }));
  EXPECT_TRUE(run.Stop().ok());
  EXPECT_EQ(run.stats().stalls, 1);
  EXPECT_EQ(run.stats().reconnects, 1);
  EXPECT_GE(run.stats().pings, 1);
  EXPECT_EQ(ex->Counters().ws_stalls, 1);
  EXPECT_EQ(ex->Counters().ws_pong_timeouts, 0);
}

// Rotation with a short rotate_after, the exchange running at 600x real time: every final of
// the streamed range arrives (duplicates at the seams are allowed), across many rotations.
TEST_F(WsStreamTest, RotationLosesNoFinal) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10);
  ReplayOptions ro;
  ro.start = t0;
  ro.speed = 600;  // a minute every 100 ms
  auto ex = Make(ro, &SystemClock::Instance());
  ASSERT_TRUE(ex);
  Recorder rec;
  WsOptions o = Options(*ex);
  o.rotate_after = 150'000;
  o.rotation_drain = 100'000;
  Runner run(o, rec);
  const int64_t end_ms = (t0 + 20 * kMicrosPerMinute) / 1000;
  ASSERT_TRUE(rec.WaitFor([&](const auto& v) {
    return !v.empty() && IsFinal(v.back().text) && OpenTimeOf(v.back().text) >= end_ms;
  }));
  EXPECT_TRUE(run.Stop().ok());
  std::set<int64_t> finals;
  const auto items = rec.Items();
  // The first connection starts with the candle open when it connected (00:00 unless the
  // start-up took more than 100 ms of real time).
  const int64_t first_ms = OpenTimeOf(items.front().text);
  EXPECT_LT(first_ms, end_ms - 10 * 60'000);
  for (const auto& i : items) {
    ASSERT_FALSE(i.reconnect);
    if (IsFinal(i.text) && OpenTimeOf(i.text) < end_ms) finals.insert(OpenTimeOf(i.text));
  }
  auto want = FileOpenTimes(first_ms * 1000, t0 + 20 * kMicrosPerMinute);
  EXPECT_EQ(std::vector<int64_t>(finals.begin(), finals.end()), want);
  EXPECT_GE(run.stats().rotations, 5);
  EXPECT_EQ(run.stats().reconnects, 0);
  EXPECT_EQ(run.stats().stalls, 0);
  // Every connection but the first came from a rotation (one may still be waiting for data).
  EXPECT_GE(run.stats().connects, run.stats().rotations + 1);
  EXPECT_LE(run.stats().connects, run.stats().rotations + 2);
}

// Malformed and duplicated messages reach OnMessage exactly as sent.
TEST_F(WsStreamTest, MalformedAndDuplicateMessagesArePassedOnAsIs) {
  ReplayOptions ro;
  ro.start = MicrosFromCivil(2021, 4, 10);
  ro.ws_faults.malformed = 0.3;
  ro.ws_faults.duplicate = 0.3;
  ro.ws_faults.seed = 3;
  auto ex = Make(ro);
  ASSERT_TRUE(ex);
  Recorder rec;
  Runner run(Options(*ex), rec);
  ASSERT_TRUE(rec.WaitFor([](const auto& v) { return !v.empty(); }));
  clock_.Advance(30 * kMicrosPerMinute);
  // 1 update at the start, then 30 finals and 1 update, each possibly twice.
  ASSERT_TRUE(rec.WaitFor([&](const auto& v) {
    auto k = ex->Counters();
    return k.ws_messages == 32 + k.ws_duplicates && static_cast<int64_t>(v.size()) == k.ws_messages;
  }));
  EXPECT_TRUE(run.Stop().ok());
  auto k = ex->Counters();
  auto items = rec.Items();
  int64_t broken = 0, twins = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& m = items[i].text;
    bool complete = m.size() > 3 && m.compare(m.size() - 3, 3, "}}}") == 0;
    if (!complete) ++broken;
    if (i > 0 && m == items[i - 1].text) ++twins;
  }
  EXPECT_GT(k.ws_malformed, 0);
  EXPECT_GT(k.ws_duplicates, 0);
  EXPECT_EQ(broken, k.ws_malformed);
  EXPECT_EQ(twins, k.ws_duplicates);
  EXPECT_EQ(run.stats().reconnects, 0);
}

}  // namespace
}  // namespace cryptolake::speed
