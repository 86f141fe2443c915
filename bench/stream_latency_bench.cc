// End-to-end latency of the speed layer (issue 4, "Must show" 3, second part): from the
// moment the replay exchange sends a kline update over WebSocket to the moment it is visible
// in the real-time view (readers see it), and to the moment it is durable (Apply returned:
// bus offsets may be committed), through the embedded bus and (with --kafka HOST:PORT) Kafka.
//
// The replay exchange runs in process on the real clock at speed 1 from a start in the
// recorded 2025 window, sending an update of the open candle of both symbols every 20 ms of
// exchange time (= real time). An update with event time E is sent when the exchange clock
// reaches E, i.e. at real time t0 + (E - start), t0 being the clock at creation (its polling
// adds at most 1 ms). RunStream reports every batch once the view has committed it, with the
// instant its in-memory update was done; latency = that instant - the send instant. Closed
// candles (one per symbol and minute) are the only events with a disk commit; their durable
// latency is shown apart. p50 and p99 over --seconds of streaming per bus, after 2 s
// of warm-up (connection set-up; Kafka's idempotent producer id).
// Usage: stream_latency_bench [--seconds S] [--kafka HOST:PORT]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "exchange/replay.h"
#include "speed/kafka_bus.h"
#include "speed/stream.h"
#include "venues/binance/stream_parser.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void Die(const Status& s) {
  std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Measure(const std::string& name, speed::Bus& bus, int seconds) {
  const Clock& clock = SystemClock::Instance();
  std::vector<std::string> data;
  for (const auto& e :
       fs::directory_iterator(fs::path(CL_SHARED_DATA) / "binance-spot/klines/1m")) {
    if (e.path().filename().string().find("-1m-20250520_") != std::string::npos) {
      data.push_back(e.path().string());
    }
  }
  exchange::ReplayOptions ro;
  const Micros start = ParseTime("2025-06-01 00:00:30").value();  // a minute closes at +30 s
  ro.start = start;
  ro.ws_update_interval = 20 * 1000;
  auto ex = exchange::ReplayExchange::Create(data, clock, ro);
  if (!ex.ok()) Die(ex.status());
  if (Status s = (*ex)->Start(); !s.ok()) Die(s);
  // The real instant at which exchange time was `start` (speed 1).
  const Micros t0 = clock.Now() - ((*ex)->ExchangeNow() - start);
  const Micros warm_up = t0 + 2 * kMicrosPerSecond;  // connection set-up, Kafka's producer id
  const fs::path dir = fs::temp_directory_path() / fmt::format("cl-latency-{}-{}", name, getpid());
  fs::remove_all(dir);
  auto lk = lake::Lake::Open(dir, clock);
  if (!lk.ok()) Die(lk.status());
  std::vector<double> visible, durable, closed_durable;
  speed::StreamOptions so;
  so.ws.url = (*ex)->ws_url();
  so.symbols = {"BTCUSDT", "ETHUSDT"};
  so.view_file = dir / "speed/view.duckdb";
  so.trades = false;
  so.duration = static_cast<Micros>(seconds + 2) * kMicrosPerSecond;
  so.on_applied = [&](const std::vector<speed::Event>& events, const speed::ApplyStats& as) {
    const Micros now = clock.Now();
    for (const auto& e : events) {
      if (const auto* k = std::get_if<speed::KlineEvent>(&e)) {
        const Micros sent = t0 + (k->event_time - start);
        if (sent < warm_up) continue;
        visible.push_back(static_cast<double>(as.visible_at - sent) / 1000.0);
        durable.push_back(static_cast<double>(now - sent) / 1000.0);
        if (k->closed) closed_durable.push_back(static_cast<double>(now - sent) / 1000.0);
      }
    }
  };
  venues::binance::StreamParser format;
  so.format = &format;
  std::atomic<bool> stop{false};
  auto st = speed::RunStream(*lk, bus, nullptr, so, stop);
  if (!st.ok()) Die(st.status());
  (*ex)->Stop();
  fs::remove_all(dir);
  std::printf(
      "  %-9s %6zu events   visible: p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms   durable: p50 "
      "%7.3f ms  p99 %7.3f ms\n",
      name.c_str(), visible.size(), Pct(visible, 0.5), Pct(visible, 0.99), Pct(visible, 1.0),
      Pct(durable, 0.5), Pct(durable, 0.99));
  std::printf("  %-9s %6zu closed candles (disk commit) durable: p50 %7.3f ms  max %7.3f ms\n", "",
              closed_durable.size(), Pct(closed_durable, 0.5), Pct(closed_durable, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 30;
  std::string kafka;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") {
      seconds = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--kafka") {
      kafka = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: stream_latency_bench [--seconds S] [--kafka HOST:PORT]\n");
      return 64;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::printf(
      "speed layer latency: replay exchange send -> visible / durable in the real-time view, "
      "%d s per bus, 2 symbols, an update every 20 ms each (goals: p99 <= 5 ms "
      "embedded, <= 50 ms Kafka)\n",
      seconds);
  speed::EmbeddedBus embedded;
  Measure("embedded", embedded, seconds);
  if (!kafka.empty()) {
    speed::KafkaOptions ko;
    ko.brokers = kafka;
    ko.topic = fmt::format("latency-bench-{}", getpid());
    auto kb = speed::KafkaBus::Open(ko);
    if (!kb.ok()) Die(kb.status());
    Measure("kafka", **kb, seconds);
  } else {
    std::printf(
        "  kafka     (not measured: pass --kafka HOST:PORT; scripts/bench.sh starts a broker)\n");
  }
  return 0;
}
