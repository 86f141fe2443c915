// The speed layer end to end: the replay exchange streams the real 90-day 2025 1m window of both
// symbols over WebSocket (127.0.0.1), `RunStream` parses, publishes to the embedded bus,
// consumes into the real-time view and appends to the master dataset. Exchange time is a
// FakeClock: once the stream is up the test moves it past the window, and the replay exchange
// streams the whole backlog as fast as the socket takes it.
#include "speed/stream.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "backfill/healer.h"
#include "exchange/governor.h"
#include "exchange/replay.h"
#include "venues/binance/rest.h"
#include "venues/binance/stream_parser.h"
#if CL_STREAM_KAFKA
#include <unistd.h>

#include <fstream>

#include "speed/kafka_bus.h"
#endif
#include "ingest/parser.h"
#include "lake/klines.h"
#include "testing/testing.h"

namespace cryptolake::speed {
namespace {

namespace fs = std::filesystem;
using testing::SharedData;
using testing::TempDir;

Micros At(const std::string& t) { return ParseTime(t).value(); }

// A bus that tells when the first message was published (the stream is up), then behaves as
// the bus it wraps.
class SignalingBus final : public Bus {
 public:
  explicit SignalingBus(Bus& inner) : inner_(inner) {}
  StatusOr<std::unique_ptr<Producer>> NewProducer() override {
    ASSIGN_OR_RETURN(auto p, inner_.NewProducer());
    return std::unique_ptr<Producer>(std::make_unique<P>(std::move(p), this));
  }
  StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& g) override {
    return inner_.NewConsumer(g);
  }
  std::string Describe() const override { return inner_.Describe(); }
  // Returns once something was published or the run ended (`Ended` was called).
  void WaitFirst() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return first_ || ended_; });
  }
  void Ended() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ended_ = true;
    }
    cv_.notify_all();
  }

 private:
  struct P final : Producer {
    P(std::unique_ptr<Producer> p, SignalingBus* b) : p_(std::move(p)), b_(b) {}
    Status Publish(const std::string& k, const std::string& v) override {
      {
        std::lock_guard<std::mutex> l(b_->mu_);
        b_->first_ = true;
      }
      b_->cv_.notify_all();
      return p_->Publish(k, v);
    }
    Status Flush(std::chrono::milliseconds t) override { return p_->Flush(t); }
    std::unique_ptr<Producer> p_;
    SignalingBus* b_;
  };
  Bus& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_ = false, ended_ = false;
};

std::vector<fs::path> Window2025() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(SharedData() / "binance-spot/klines/1m")) {
    if (e.path().filename().string().find("-1m-20250520_") != std::string::npos) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Streams the window through `inner` and checks the view and the master dataset. With
// `ws_faults` (WsFaultSpec) the replay exchange injects them and the stream heals every
// reconnect from its REST API (backfill::BackfillHealer).
void StreamTheWindowThrough(Bus& inner, const std::string& ws_faults = "", Micros stall_timeout = 0,
                            const std::function<void()>& mid_stream = {}) {
  TempDir dir;
  FakeClock clock(At("2026-01-01"));
  auto files = Window2025();
  ASSERT_EQ(files.size(), 2u);
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.string());
  exchange::ReplayOptions ro;
  ro.start = At("2025-05-20 00:00:30");    // the first candle is open: it is sent at once
  ro.ws_update_interval = kMicrosPerHour;  // a backlog sends finals only
  ro.weight_limit = 1'000'000'000;
  auto wf = exchange::WsFaultSpec::Parse(ws_faults);
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  ro.ws_faults = *wf;
  auto ex = exchange::ReplayExchange::Create(paths, clock, ro);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_TRUE((*ex)->Start().ok());

  auto lk = lake::Lake::Open(dir / "lake", clock);
  ASSERT_TRUE(lk.ok());
  StreamOptions so;
  so.ws.url = (*ex)->ws_url();
  so.symbols = {"BTCUSDT", "ETHUSDT"};
  so.view_file = dir / "lake/speed/view.duckdb";
  so.view.lateness = 365 * kMicrosPerDay;
  so.until = At(std::getenv("CL_UNTIL") ? std::getenv("CL_UNTIL") : "2025-08-18 18:27");
  so.ws.backoff_base = 1000;  // real time
  so.ws.backoff_max = 20'000;
  if (stall_timeout > 0) so.ws.stall_timeout = stall_timeout;
  exchange::RateGovernor governor(clock, {});
  venues::binance::RestOptions rest_opt;
  rest_opt.base_url = (*ex)->url();
  rest_opt.backoff_base = 1000;
  venues::binance::BinanceRest rest(rest_opt, governor, clock);
  venues::binance::StreamParser format;
  so.format = &format;
  backfill::BackfillHealer healer(*lk, rest);  // the real one, as `stream` and `up` wire it
  const bool faults = !ws_faults.empty();
  SignalingBus bus(inner);
  std::atomic<bool> stop{false};
  StatusOr<StreamStats> st = Internal("the stream did not run");
  std::thread run([&] {
    st = RunStream(*lk, bus, faults ? &healer : nullptr, so, stop);
    bus.Ended();
  });
  bus.WaitFirst();
  clock.Advance(100 * kMicrosPerDay);  // exchange time passes the whole window
  if (mid_stream) mid_stream();
  run.join();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->closed_new, 2 * 130708);
  if (!faults) {
    EXPECT_EQ(st->malformed, 0);
    EXPECT_EQ(st->appended, 2 * 130708);
  } else {
    auto c = (*ex)->Counters();
    EXPECT_GE(st->reconnects, 1);
    EXPECT_GE(st->heals, 1);
    EXPECT_EQ(st->malformed, c.ws_malformed);
    EXPECT_GE(c.ws_disconnects + c.ws_stalls, 1);
    if (ws_faults.find("duplicate") != std::string::npos) {
      EXPECT_GE(c.ws_duplicates, 1);
    }
    if (ws_faults.find("malformed") != std::string::npos) {
      EXPECT_GE(c.ws_malformed, 1);
    }
  }

  // The master dataset (source = stream) holds exactly the source rows, OHLCV bit for bit.
  auto db = lake::Database::Open();
  auto con = lake::Connection::Open(*db);
  auto snap = lk->GetSnapshot();
  const Interval k1m{"1m", kMicrosPerMinute};
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string symbol = f == 0 ? "BTCUSDT" : "ETHUSDT";
    auto parsed = ingest::ParseInput(files[f], {});
    ASSERT_TRUE(parsed.ok());
    const ingest::KlineBatch& b = (*parsed)[0].batch;
    ASSERT_EQ(b.symbol, symbol);
    lake::KlineFilter kf;
    kf.symbol = symbol;
    auto rows =
        con->Query("SELECT epoch_us(open_time), open, high, low, close, volume, source FROM " +
                   lake::KlinesSql(*snap, k1m, kf, /*dedup=*/false) + " ORDER BY 1");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->rows(), b.size());
    std::map<Micros, size_t> at;
    for (size_t i = 0; i < b.size(); ++i) at[b.open_time[i]] = i;
    size_t bad = 0;
    for (size_t r = 0; r < rows->rows(); ++r) {
      auto it = at.find(rows->GetInt64(0, r));
      if (it == at.end()) {
        ++bad;
        continue;
      }
      size_t i = it->second;
      bool differs =
          rows->GetDouble(1, r) != b.open[i] || rows->GetDouble(2, r) != b.high[i] ||
          rows->GetDouble(3, r) != b.low[i] || rows->GetDouble(4, r) != b.close[i] ||
          rows->GetDouble(5, r) != b.volume[i] ||
          (rows->GetString(6, r) != "stream" && !(faults && rows->GetString(6, r) == "rest"));
      if (differs && bad++ == 0) {
        ADD_FAILURE() << fmt::format(
            "{} {}: open {:.17g}/{:.17g} high {:.17g}/{:.17g} low {:.17g}/{:.17g} close "
            "{:.17g}/{:.17g} volume {:.17g}/{:.17g}",
            symbol, FormatIso(b.open_time[i]), rows->GetDouble(1, r), b.open[i],
            rows->GetDouble(2, r), b.high[i], rows->GetDouble(3, r), b.low[i],
            rows->GetDouble(4, r), b.close[i], rows->GetDouble(5, r), b.volume[i]);
      }
    }
    EXPECT_EQ(bad, 0u) << symbol;

    // The real-time view (reopened, as a restarted consumer would) holds the same candles.
    auto view = RealtimeView::Open(*lk, so.view_file, so.view);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    auto closed = (*view)->ClosedCandles(symbol);
    ASSERT_TRUE(closed.ok());
    ASSERT_EQ(closed->size(), b.size());
    size_t vbad = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      const Candle& c = (*closed)[i];
      vbad += c.open_time != b.open_time[i] || c.open != b.open[i] || c.high != b.high[i] ||
              c.low != b.low[i] || c.close != b.close[i] || c.volume != b.volume[i];
    }
    EXPECT_EQ(vbad, 0u) << symbol;
  }
  (*ex)->Stop();
}

#if CL_STREAM_KAFKA
// The same through a real Kafka broker (KRaft, started by the CTest fixture).
TEST(StreamKafkaTest, NinetyDayWindowThroughKafkaEqualsTheSourceRows) {
  std::ifstream in(std::string(CL_KAFKA_DIR) + "/kafka.port");
  int port = 0;
  ASSERT_TRUE(in >> port) << "no broker: " << CL_KAFKA_DIR << "/kafka.port is missing";
  KafkaOptions ko;
  ko.brokers = fmt::format("127.0.0.1:{}", port);
  ko.topic = fmt::format("stream-test-{}", ::getpid());
  auto bus = KafkaBus::Open(ko);
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  StreamTheWindowThrough(**bus);
}

// The broker is stopped and started again while the window streams through it: nothing is lost
// and nothing doubled (idempotent producer, offsets committed after the view).
TEST(StreamKafkaTest, BrokerRestartMidStreamLosesAndDoublesNothing) {
  std::ifstream in(std::string(CL_KAFKA_DIR) + "/kafka.port");
  int port = 0;
  ASSERT_TRUE(in >> port) << "no broker: " << CL_KAFKA_DIR << "/kafka.port is missing";
  KafkaOptions ko;
  ko.brokers = fmt::format("127.0.0.1:{}", port);
  ko.topic = fmt::format("stream-restart-test-{}", ::getpid());
  auto bus = KafkaBus::Open(ko);
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  StreamTheWindowThrough(**bus, "", 0, [] {
    for (const char* verb : {"stop", "start"}) {
      std::string cmd =
          fmt::format("bash '{}' {} '{}' >/dev/null", CL_KAFKA_SH, verb, CL_KAFKA_DIR);
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  });
}
#else
TEST(StreamTest, NinetyDayWindowThroughTheEmbeddedBusEqualsTheSourceRows) {
  EmbeddedBus bus;
  StreamTheWindowThrough(bus);
}

// Forced disconnects, malformed and duplicated messages: every reconnect is healed from REST;
// the view and the master dataset still hold every minute exactly once.
TEST(StreamTest, DisconnectsMalformedAndDuplicatesLoseAndDoubleNothing) {
  EmbeddedBus bus;
  StreamTheWindowThrough(bus, "disconnect_every=300ms,malformed=0.02,duplicate=0.02");
}

// A connection that goes silent (no data, no pings) is detected and replaced.
TEST(StreamTest, StalledConnectionIsReplacedAndHealed) {
  EmbeddedBus bus;
  StreamTheWindowThrough(bus, "stall_after=200ms", 400 * 1000);
}
#endif

}  // namespace
}  // namespace cryptolake::speed
