// The real-time view, fed with events made from the real 2025 1m recording of BTCUSDT.
#include "speed/view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "batch/views.h"
#include "ingest/importer.h"
#include "ingest/parser.h"
#include "lake/klines.h"
#include "testing/recorded.h"
#include "testing/testing.h"
#include "verify/verify.h"

namespace cryptolake::speed {
namespace {

namespace fs = std::filesystem;
using testing::SharedData;
using testing::TempDir;

Micros At(const std::string& t) { return ParseTime(t).value(); }

// The closed-candle events of [from, to) from the real file, in time order.
std::vector<KlineEvent> Recorded(Micros from, Micros to) {
  return testing::ClosedKlines(testing::RecordedBtcusdt1m(), from, to);
}

std::vector<Event> Events(const std::vector<KlineEvent>& ks) {
  return std::vector<Event>(ks.begin(), ks.end());
}

class ViewTest : public ::testing::Test {
 protected:
  ViewTest() : clock_(At("2025-09-01")) {
    lake_ =
        std::make_unique<lake::Lake>(std::move(lake::Lake::Open(dir_ / "lake", clock_)).value());
  }
  std::unique_ptr<RealtimeView> OpenView(ViewOptions o = {}) {
    auto v = RealtimeView::Open(*lake_, dir_ / "view.duckdb", o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return std::move(v).value();
  }
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<lake::Lake> lake_;
};

// A whole real day through the view: its daily bar is Binance's own 1d kline of that day.
TEST_F(ViewTest, ADayOfClosedCandlesGivesBinancesDailyBar) {
  auto day = Recorded(At("2025-06-01"), At("2025-06-02"));
  ASSERT_EQ(day.size(), 1440u);
  auto view = OpenView();
  auto st = view->Apply(Events(day));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->closed_new, 1440);
  auto bars = view->DailyBars("BTCUSDT");
  ASSERT_TRUE(bars.ok());
  ASSERT_EQ(bars->size(), 1u);
  const DailyBar& b = (*bars)[0];
  // BTCUSDT-1d 2025-06-01: 104591.88, 105866.91, 103752.49, 105642.93, volume 9709.70006.
  EXPECT_EQ(b.day, At("2025-06-01"));
  EXPECT_EQ(b.open, 104591.88);
  EXPECT_EQ(b.high, 105866.91);
  EXPECT_EQ(b.low, 103752.49);
  EXPECT_EQ(b.close, 105642.93);
  EXPECT_NEAR(b.volume, 9709.70006, 1e-6);
  EXPECT_EQ(b.minutes, 1440);
}

// Duplicates, a shuffled order and a replay of older events give the same view; an open update
// older than what the view has is ignored, and a closed candle replaces the open one.
TEST_F(ViewTest, IdempotentAndOrderTolerant) {
  auto hour = Recorded(At("2025-06-01 10:00"), At("2025-06-01 11:00"));
  ASSERT_EQ(hour.size(), 60u);
  auto in_order = OpenView();
  ASSERT_TRUE(in_order->Apply(Events(hour)).ok());
  auto want = in_order->ClosedCandles("BTCUSDT");
  auto want_bars = in_order->DailyBars("BTCUSDT");
  in_order.reset();
  fs::remove(dir_ / "view.duckdb");

  std::vector<Event> messy = Events(hour);
  messy.insert(messy.end(), messy.begin(), messy.begin() + 20);  // duplicates
  std::mt19937_64 rng(7);
  std::shuffle(messy.begin(), messy.end(), rng);
  auto view = OpenView();
  for (size_t i = 0; i < messy.size(); i += 7) {
    std::vector<Event> batch(messy.begin() + i, messy.begin() + std::min(messy.size(), i + 7));
    ASSERT_TRUE(view->Apply(batch).ok());
  }
  auto st = view->Apply(Events(hour));  // a replay from an older offset
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->duplicates, 60);
  EXPECT_EQ(st->closed_new, 0);
  EXPECT_EQ(*view->ClosedCandles("BTCUSDT"), *want);
  EXPECT_EQ(*view->DailyBars("BTCUSDT"), *want_bars);

  // Open candle of 11:00: newer updates replace it, older ones do not, the close ends it.
  KlineEvent open = Recorded(At("2025-06-01 11:00"), At("2025-06-01 11:01"))[0];
  open.closed = false;
  open.event_time = At("2025-06-01 11:00:30");
  KlineEvent older = open;
  older.event_time = At("2025-06-01 11:00:10");
  older.close = 1;
  ASSERT_TRUE(view->Apply({Event(open), Event(older)}).ok());
  auto oc = view->OpenCandle("BTCUSDT");
  ASSERT_TRUE(oc.ok() && oc->has_value());
  EXPECT_EQ((*oc)->close, open.close);
  EXPECT_EQ(view->DailyBars("BTCUSDT")->back().close, open.close);
  EXPECT_EQ(view->DailyBars("BTCUSDT")->back().minutes, 60);
  KlineEvent closed = open;
  closed.closed = true;
  ASSERT_TRUE(view->Apply({Event(closed)}).ok());
  EXPECT_FALSE(view->OpenCandle("BTCUSDT")->has_value());
  EXPECT_EQ(view->ClosedCandles("BTCUSDT")->size(), 61u);
}

// The closed candles are durable: a reopened view (a restarted consumer) holds exactly what
// was applied. The open candle is not (the next kline update restores it).
TEST_F(ViewTest, ReopenedViewResumes) {
  auto hour = Recorded(At("2025-06-01 10:00"), At("2025-06-01 11:00"));
  KlineEvent open = Recorded(At("2025-06-01 11:00"), At("2025-06-01 11:01"))[0];
  open.closed = false;
  std::vector<Event> evs = Events(hour);
  evs.push_back(open);
  {
    auto view = OpenView();
    ASSERT_TRUE(view->Apply(evs).ok());
  }
  auto view = OpenView();
  auto closed = view->ClosedCandles("BTCUSDT");
  ASSERT_EQ(closed->size(), 60u);
  EXPECT_EQ((*closed)[59].close, hour[59].close);
  EXPECT_EQ((*closed)[0].open_time, At("2025-06-01 10:00"));
  EXPECT_FALSE(view->OpenCandle("BTCUSDT")->has_value());
  open.event_time += kMicrosPerSecond;
  auto st = view->Apply({Event(open)});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->open_updates, 1);
  EXPECT_EQ((*view->OpenCandle("BTCUSDT"))->open_time, At("2025-06-01 11:00"));
  EXPECT_EQ(view->DailyBars("BTCUSDT")->back().close, open.close);
}

// Late data goes to the master dataset, not to the view; appends never duplicate, even when
// the view's bookkeeping is lost after the lake commit (a crash between the two).
TEST_F(ViewTest, LateDataAndAppendsToTheMasterDataset) {
  auto two_hours = Recorded(At("2025-06-01 10:00"), At("2025-06-01 12:00"));
  ViewOptions o;
  o.lateness = 30 * kMicrosPerMinute;
  auto view = OpenView(o);
  std::vector<KlineEvent> first(two_hours.begin() + 1, two_hours.end());  // 10:01 .. 11:59
  ASSERT_TRUE(view->Apply(Events(first)).ok());
  auto st = view->Apply({Event(two_hours[0])});  // 10:00, more than 30 min behind 11:59
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->late, 1);
  EXPECT_EQ(view->ClosedCandles("BTCUSDT")->front().open_time, At("2025-06-01 10:01"));
  EXPECT_EQ(*view->late_rows(), 1);

  auto n = view->AppendToLake();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 120);
  EXPECT_EQ(*view->AppendToLake(), 0);
  view.reset();
  {  // lose the "in lake" marks, as a crash right after the lake commit would
    auto db = lake::Database::Open((dir_ / "view.duckdb").string());
    auto con = lake::Connection::Open(*db);
    ASSERT_TRUE(con->Exec("UPDATE closed SET in_lake = false").ok());
  }
  view = OpenView(o);
  EXPECT_EQ(*view->AppendToLake(), 0);

  auto db = lake::Database::Open();
  auto con = lake::Connection::Open(*db);
  auto snap = lake_->GetSnapshot();
  const Interval k1m{"1m", kMicrosPerMinute};
  auto rows =
      con->Query("SELECT epoch_us(open_time), open, high, low, close, volume, source FROM " +
                 lake::KlinesSql(*snap, k1m, {}, /*dedup=*/false) + " ORDER BY 1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows(), 120u);
  for (size_t i = 0; i < 120; ++i) {
    EXPECT_EQ(rows->GetInt64(0, i), two_hours[i].open_time);
    EXPECT_EQ(rows->GetDouble(4, i), two_hours[i].close);
    EXPECT_EQ(rows->GetDouble(5, i), two_hours[i].volume);
    EXPECT_EQ(rows->GetString(6, i), "stream");
  }
}

// Several consumer processes append to one lake (a consumer group after a rebalance hands a
// partition's uncommitted tail to another member, which appends it again): three views, each
// with its own file and its own Lake handle, hold overlapping hours and append at the same time.
// Their duplicate checks and commits are serializable (DependsOn + CommitWithRetry), so the lake
// holds the union, each key once. Before, every appender checked a snapshot taken before the
// others' commits and all of them committed the shared keys.
TEST_F(ViewTest, ConcurrentAppendersFromSeveralViewsStoreEachKeyOnce) {
  const Interval k1m{"1m", kMicrosPerMinute};
  auto a = Recorded(At("2025-06-01 10:00"), At("2025-06-01 12:00"));
  auto b = Recorded(At("2025-06-01 11:00"), At("2025-06-01 13:00"));
  auto c = Recorded(At("2025-06-01 10:30"), At("2025-06-01 11:30"));
  for (int trial = 0; trial < 5; ++trial) {
    const fs::path root = dir_ / fmt::format("lake{}", trial);
    std::vector<std::unique_ptr<lake::Lake>> lakes;
    std::vector<std::unique_ptr<RealtimeView>> views;
    for (const auto* part : {&a, &b, &c}) {
      lakes.push_back(
          std::make_unique<lake::Lake>(std::move(lake::Lake::Open(root, clock_)).value()));
      auto v = RealtimeView::Open(*lakes.back(),
                                  dir_ / fmt::format("view-{}-{}.duckdb", trial, views.size()));
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      ASSERT_TRUE((*v)->Apply(Events(*part)).ok());
      views.push_back(std::move(v).value());
    }
    std::atomic<int> ready{0};
    std::vector<StatusOr<int64_t>> appended(views.size(), int64_t{0});
    std::vector<std::thread> threads;
    for (size_t i = 0; i < views.size(); ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < static_cast<int>(views.size())) {
        }
        appended[i] = views[i]->AppendToLake();
      });
    }
    for (auto& t : threads) t.join();
    int64_t total = 0;
    for (const auto& n : appended) {
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      total += *n;
    }
    EXPECT_EQ(total, 180) << "trial " << trial;
    auto db = lake::Database::Open();
    auto con = lake::Connection::Open(*db);
    auto snap = lakes[0]->GetSnapshot();
    ASSERT_TRUE(snap.ok());
    auto rows = con->Query(
        "SELECT count(*), count(DISTINCT open_time), min(epoch_us(open_time)), "
        "max(epoch_us(open_time)) FROM " +
        lake::KlinesSql(*snap, k1m, {}, /*dedup=*/false));
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_EQ(rows->GetInt64(0, 0), 180) << "trial " << trial;
    EXPECT_EQ(rows->GetInt64(1, 0), 180) << "trial " << trial;
    EXPECT_EQ(rows->GetInt64(2, 0), At("2025-06-01 10:00"));
    EXPECT_EQ(rows->GetInt64(3, 0), At("2025-06-01 12:59"));
    verify::VerifyOptions o;
    auto rep = verify::Verify(*snap, *con, o);
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_EQ(rep->ExitCode(), 0) << verify::FormatReport(*rep);
  }
}

// Once the batch views hold a complete day, the view's rows of that day (already in the master
// dataset) leave the view, and its daily bars start after it.
TEST_F(ViewTest, BatchWatermarkDropsWhatTheBatchLayerHasPassed) {
  auto days = Recorded(At("2025-06-01"), At("2025-06-02 06:00"));
  auto view = OpenView();
  ASSERT_TRUE(view->Apply(Events(days)).ok());
  ASSERT_EQ(*view->AppendToLake(), 1440 + 360);
  auto db = lake::Database::Open();
  auto con = lake::Connection::Open(*db);
  auto rs = batch::RefreshViews(*lake_, *con);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_TRUE(view->RefreshWatermark().ok());
  EXPECT_EQ(view->Watermark("BTCUSDT"), At("2025-06-02"));
  auto closed = view->ClosedCandles("BTCUSDT");
  ASSERT_EQ(closed->size(), 360u);
  EXPECT_EQ(closed->front().open_time, At("2025-06-02"));
  auto bars = view->DailyBars("BTCUSDT");
  ASSERT_EQ(bars->size(), 1u);
  EXPECT_EQ((*bars)[0].day, At("2025-06-02"));
  // A closed candle of the passed day arriving now is late: master dataset only.
  auto st = view->Apply({Event(days[100])});
  EXPECT_EQ(st->duplicates + st->late, 1);
}

// Readers on other threads see a consistent state while the consumer folds: every read's
// closed candles are consecutive minutes from the first one, and the version only grows.
TEST_F(ViewTest, ConcurrentReadersSeeConsistentStates) {
  auto hours = Recorded(At("2025-06-01 00:00"), At("2025-06-01 06:00"));
  auto view = OpenView();
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0}, bad{0};
  std::thread reader([&] {
    uint64_t last_version = 0;
    while (!done.load()) {
      ViewRead r = view->Read("BTCUSDT");
      if (r.version < last_version) ++bad;
      last_version = r.version;
      for (size_t i = 1; i < r.closed.size(); ++i) {
        if (r.closed[i].open_time != r.closed[i - 1].open_time + kMicrosPerMinute) ++bad;
      }
      ++reads;
    }
  });
  for (size_t i = 0; i < hours.size(); i += 10) {
    std::vector<KlineEvent> batch(hours.begin() + i,
                                  hours.begin() + std::min(hours.size(), i + 10));
    ASSERT_TRUE(view->Fold(Events(batch)).ok());
    if (i % 60 == 0) {
      ASSERT_TRUE(view->Persist().ok());
    }
  }
  ASSERT_TRUE(view->Persist().ok());
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(view->Read("BTCUSDT").closed.size(), 360u);
  EXPECT_EQ(view->unpersisted(), 0u);
}

// verify checks the speed view: a missing minute is a gap, a candle that differs from the
// master dataset's row is a view_mismatch error; an intact view is clean.
TEST_F(ViewTest, VerifyChecksTheSpeedView) {
  auto hour = Recorded(At("2025-06-01 10:00"), At("2025-06-01 11:00"));
  {
    auto view = OpenView();
    ASSERT_TRUE(view->Apply(Events(hour)).ok());
    ASSERT_EQ(*view->AppendToLake(), 60);
  }
  auto db = lake::Database::Open();
  auto con = lake::Connection::Open(*db);
  verify::VerifyOptions o;
  o.speed_view = (dir_ / "view.duckdb").string();
  auto clean = verify::Verify(*lake_->GetSnapshot(), *con, o);
  ASSERT_TRUE(clean.ok()) << clean.status().ToString();
  EXPECT_EQ(clean->ExitCode(), 0) << verify::FormatReport(*clean);
  EXPECT_EQ(clean->speed_view_rows, 60);
  {  // damage the view file: lose 10:30 and change 10:40's close
    auto vdb = lake::Database::Open((dir_ / "view.duckdb").string());
    auto vcon = lake::Connection::Open(*vdb);
    ASSERT_TRUE(vcon->Exec(fmt::format("DELETE FROM closed WHERE open_time = {}; UPDATE closed "
                                       "SET close = close + 1 WHERE open_time = {}",
                                       At("2025-06-01 10:30"), At("2025-06-01 10:40")))
                    .ok());
  }
  auto rep = verify::Verify(*lake_->GetSnapshot(), *con, o);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_EQ(rep->ExitCode(), 2);
  std::string text = verify::FormatReport(*rep);
  EXPECT_NE(text.find("ERROR view_mismatch speed_view BTCUSDT: 1 closed candles differ from (or "
                      "are missing in) klines_1m, first 2025-06-01 10:40"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("GAP   speed_view BTCUSDT: 2025-06-01 10:30..10:31 (1 missing)"),
            std::string::npos)
      << text;
}

// A minute the kline stream skipped is filled from trades once their ids prove it whole; the
// kline that comes later (REST healing) is a duplicate that is checked against it.
TEST_F(ViewTest, TradesFillASkippedMinuteAndMustAgreeWithItsKline) {
  auto three = Recorded(At("2025-06-01 10:29"), At("2025-06-01 10:32"));
  ASSERT_EQ(three.size(), 3u);
  KlineEvent m = three[1];  // 10:30, the minute the kline stream skips
  // Four trades of 10:30 that make its OHLCV (ids 100..103, bracketed by 99 and 104), all with
  // the buyer as maker; the kline that comes later carries the same figures.
  auto trade = [](int64_t id, Micros t, double p, double q) {
    TradeEvent e;
    e.symbol = "BTCUSDT";
    e.trade_id = id;
    e.trade_time = t;
    e.event_time = t;
    e.price = p;
    e.quantity = q;
    e.buyer_is_maker = true;
    return e;
  };
  const double q = m.volume / 4;
  std::vector<Event> evs = {Event(three[0]),
                            Event(trade(99, At("2025-06-01 10:29:59"), m.open, 0.001)),
                            Event(trade(100, At("2025-06-01 10:30:01"), m.open, q)),
                            Event(trade(101, At("2025-06-01 10:30:10"), m.high, q)),
                            Event(trade(102, At("2025-06-01 10:30:20"), m.low, q)),
                            Event(trade(103, At("2025-06-01 10:30:59"), m.close, q)),
                            Event(trade(104, At("2025-06-01 10:31:00"), m.close, 0.001)),
                            Event(three[2])};
  auto view = OpenView();
  auto st = view->Apply(evs);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->from_trades, 1);
  auto closed = view->ClosedCandles("BTCUSDT");
  ASSERT_EQ(closed->size(), 3u);
  const Candle& c = (*closed)[1];
  EXPECT_EQ(c.open_time, At("2025-06-01 10:30"));
  EXPECT_EQ(c.open, m.open);
  EXPECT_EQ(c.high, m.high);
  EXPECT_EQ(c.low, m.low);
  EXPECT_EQ(c.close, m.close);
  EXPECT_NEAR(c.volume, m.volume, 1e-9 * m.volume);
  EXPECT_EQ(c.trades, 4);

  KlineEvent healed = m;  // as REST gives it
  healed.trades = 4;
  healed.quote_volume = m.open * q + m.high * q + m.low * q + m.close * q;
  st = view->Apply({Event(healed)});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->duplicates, 1);
  EXPECT_EQ(st->trade_agreements, 1);
  EXPECT_EQ(st->trade_disagreements, 0);
  KlineEvent wrong = healed;
  wrong.close += 0.01;
  st = view->Apply({Event(wrong)});
  EXPECT_EQ(st->trade_disagreements, 1);
}

}  // namespace
}  // namespace cryptolake::speed
