// The merged view (batch + speed) on the real 2025 1m recording of BTCUSDT, with the batch
// watermark moving while the stream goes on.
#include "serve/merged.h"

#include <gtest/gtest.h>

#include "batch/views.h"
#include "ingest/parser.h"
#include "testing/recorded.h"
#include "testing/testing.h"

namespace cryptolake::serve {
namespace {

namespace fs = std::filesystem;
using speed::Event;
using speed::KlineEvent;
using testing::SharedData;
using testing::TempDir;

Micros At(const std::string& t) { return ParseTime(t).value(); }

// Closed 1m kline events of [from, to) from the real file.
std::vector<Event> Recorded(Micros from, Micros to) {
  return testing::AsEvents(testing::ClosedKlines(testing::RecordedBtcusdt1m(), from, to));
}

// Binance's own 1d kline of `day` (the 1d file), the reference for a day built from 1m candles.
struct Day {
  double open, high, low, close, volume;
};
Day BinanceDaily(Micros day) {
  auto parsed = ingest::ParseInput(testing::FindKlineFile("1d", "BTCUSDT-1d-"), {});
  EXPECT_TRUE(parsed.ok());
  const ingest::KlineBatch& b = (*parsed)[0].batch;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.open_time[i] == day) return {b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i]};
  }
  ADD_FAILURE() << "no 1d row for " << FormatDate(day);
  return {};
}

void ExpectConsecutiveDays(const std::vector<DailyRow>& rows) {
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].day, rows[i - 1].day + kMicrosPerDay)
        << "after " << FormatDate(rows[i - 1].day) << " comes " << FormatDate(rows[i].day);
  }
}

class MergedTest : public ::testing::Test {
 protected:
  MergedTest() : clock_(At("2025-06-05")) {
    lake_ =
        std::make_unique<lake::Lake>(std::move(lake::Lake::Open(dir_ / "lake", clock_)).value());
    auto v = speed::RealtimeView::Open(*lake_, dir_ / "view.duckdb");
    EXPECT_TRUE(v.ok());
    view_ = std::move(*v);
  }
  void RefreshBatch() {
    auto db = lake::Database::Open();
    auto con = lake::Connection::Open(*db);
    auto rs = batch::RefreshViews(*lake_, *con);
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  }
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<lake::Lake> lake_;
  std::unique_ptr<speed::RealtimeView> view_;
};

// Must show 1 of issue 5: the batch watermark moves while streaming goes on; the merged series
// has no gap and no day twice across the move, and the day that moved keeps its values.
TEST_F(MergedTest, WatermarkMovesWhileStreamingNoGapNoDoubleDay) {
  // Two whole days streamed, appended to the master dataset, and taken by the batch layer.
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-01"), At("2025-06-03"))).ok());
  ASSERT_EQ(*view_->AppendToLake(), 2 * 1440);
  RefreshBatch();
  ASSERT_TRUE(view_->RefreshWatermark().ok());
  // The stream goes on: 06-03 whole, 06-04 until 12:00, plus the open candle of 12:00.
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-03"), At("2025-06-04 12:00"))).ok());
  KlineEvent open =
      std::get<KlineEvent>(Recorded(At("2025-06-04 12:00"), At("2025-06-04 12:01"))[0]);
  open.closed = false;
  ASSERT_TRUE(view_->Apply({Event(open)}).ok());

  Merged merged(*lake_, view_.get(), {{"BTCUSDT"}});
  auto st = merged.Current();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  const SymbolSeries* s = (*st)->Find("BTCUSDT");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->watermark, At("2025-06-03"));
  ASSERT_EQ(s->daily.size(), 4u);
  ExpectConsecutiveDays(s->daily);
  EXPECT_FALSE(s->daily[1].speed);
  EXPECT_TRUE(s->daily[2].speed);
  EXPECT_FALSE(s->daily[2].partial);
  EXPECT_TRUE(s->daily[3].speed);
  EXPECT_TRUE(s->daily[3].partial);  // today's open day
  EXPECT_EQ(s->daily[3].minutes, 720);
  EXPECT_EQ(s->daily[3].close, open.close);
  // A speed day built from the stream is Binance's own daily kline.
  for (Micros day : {At("2025-06-01"), At("2025-06-03")}) {
    const DailyRow& r = s->daily[(day - At("2025-06-01")) / kMicrosPerDay];
    Day want = BinanceDaily(day);
    EXPECT_EQ(r.open, want.open) << FormatDate(day);
    EXPECT_EQ(r.high, want.high) << FormatDate(day);
    EXPECT_EQ(r.low, want.low) << FormatDate(day);
    EXPECT_EQ(r.close, want.close) << FormatDate(day);
    EXPECT_NEAR(r.volume, want.volume, 1e-6) << FormatDate(day);
  }
  // ma7 across the seam: the mean close of the rows so far (4 days).
  const double ma =
      (s->daily[0].close + s->daily[1].close + s->daily[2].close + s->daily[3].close) / 4;
  EXPECT_NEAR(*s->daily[3].ma7, ma, 1e-9);
  const DailyRow speed_0603 = s->daily[2];

  // The batch layer catches up with 06-03 while the stream goes on (12:01..13:00), before the
  // view has seen the new watermark.
  ASSERT_EQ(*view_->AppendToLake(), 1440 + 720);
  RefreshBatch();
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-04 12:00"), At("2025-06-04 13:00"))).ok());
  merged.Invalidate();
  st = merged.Fresh();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  s = (*st)->Find("BTCUSDT");
  EXPECT_EQ(s->watermark, At("2025-06-04"));
  ASSERT_EQ(s->daily.size(), 4u);
  ExpectConsecutiveDays(s->daily);
  EXPECT_FALSE(s->daily[2].speed);  // 06-03 is a batch day now, with the same bar
  EXPECT_EQ(s->daily[2].open, speed_0603.open);
  EXPECT_EQ(s->daily[2].high, speed_0603.high);
  EXPECT_EQ(s->daily[2].low, speed_0603.low);
  EXPECT_EQ(s->daily[2].close, speed_0603.close);
  EXPECT_NEAR(s->daily[2].volume, speed_0603.volume, 1e-6);
  EXPECT_TRUE(s->daily[3].speed);
  EXPECT_EQ(s->daily[3].minutes, 780);

  // The view drops what the batch layer passed; the merged series stays the same.
  ASSERT_TRUE(view_->RefreshWatermark().ok());
  auto before = s->daily;
  st = merged.Fresh();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)->Find("BTCUSDT")->daily, before);
}

// The merge is computed at read time: reading never writes the lake (the prototype's merge
// rewrote daily_filled in place and lost 7,980 of 8,140 rows).
TEST_F(MergedTest, ReadingNeverWritesTheLake) {
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-01"), At("2025-06-02 06:00"))).ok());
  ASSERT_EQ(*view_->AppendToLake(), 1440 + 360);
  RefreshBatch();
  auto snap = lake_->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  const int64_t version = snap->version();
  const size_t files = snap->manifest().files.size();
  Merged merged(*lake_, view_.get(), {{"BTCUSDT"}});
  for (int i = 0; i < 3; ++i) {
    merged.Invalidate();
    auto st = merged.Fresh();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ((*st)->Find("BTCUSDT")->daily.size(), 2u);
  }
  auto after = lake_->GetSnapshot();
  EXPECT_EQ(after->version(), version);
  EXPECT_EQ(after->manifest().files.size(), files);
}

// The prepare hook (the Api renders its bodies there) sees every state before a reader gets it,
// runs at once on the state there is when it is set, and is never called once removed.
TEST_F(MergedTest, PrepareHookSeesEveryStateBeforeItIsPublished) {
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-01"), At("2025-06-01 06:00"))).ok());
  Merged merged(*lake_, view_.get(), {{"BTCUSDT"}});
  auto first = merged.Fresh();
  ASSERT_TRUE(first.ok());
  std::vector<std::shared_ptr<const MergedState>> prepared;
  size_t minutes_when_prepared = 0;
  merged.SetPrepare([&](const std::shared_ptr<const MergedState>& st) {
    prepared.push_back(st);
    minutes_when_prepared = st->Find("BTCUSDT")->m1.size();
  });
  ASSERT_EQ(prepared.size(), 1u);  // the state there was
  EXPECT_EQ(prepared[0], *first);
  EXPECT_EQ(minutes_when_prepared, 360u);

  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-01 06:00"), At("2025-06-01 07:00"))).ok());
  auto second = merged.Fresh();
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(prepared.size(), 2u);
  EXPECT_EQ(prepared[1], *second);
  EXPECT_EQ(minutes_when_prepared, 420u);
  // Nothing changed: the same state, not prepared again.
  EXPECT_EQ(*merged.Fresh(), *second);
  EXPECT_EQ(prepared.size(), 2u);

  merged.SetPrepare(nullptr);
  ASSERT_TRUE(view_->Apply(Recorded(At("2025-06-01 07:00"), At("2025-06-01 08:00"))).ok());
  auto third = merged.Fresh();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)->Find("BTCUSDT")->m1.size(), 480u);
  EXPECT_EQ(prepared.size(), 2u);
}

// Days the stream did not see between two speed days are forward-filled, once each; klines of
// an interval above 1m are aggregated from the speed candles.
TEST(MergeDailyTest, ForwardFillsAndAggregates) {
  auto mk = [](Micros t, double o, double h, double l, double c) {
    speed::Candle k;
    k.symbol = "X";
    k.open_time = t;
    k.open = o;
    k.high = h;
    k.low = l;
    k.close = c;
    k.volume = 1;
    return k;
  };
  const Micros d0 = At("2025-01-01");
  std::vector<speed::Candle> m1 = {mk(d0, 10, 12, 9, 11), mk(d0 + 60'000'000, 11, 13, 10, 12),
                                   mk(d0 + 3 * kMicrosPerDay, 20, 21, 19, 20)};
  auto rows = MergeDaily({}, 0, m1, /*m1_open_last=*/true);
  ASSERT_EQ(rows.size(), 4u);
  ExpectConsecutiveDays(rows);
  EXPECT_EQ(rows[0].open, 10);
  EXPECT_EQ(rows[0].high, 13);
  EXPECT_EQ(rows[0].low, 9);
  EXPECT_EQ(rows[0].close, 12);
  EXPECT_EQ(rows[0].minutes, 2);
  EXPECT_TRUE(rows[1].filled);
  EXPECT_EQ(rows[1].close, 12);
  EXPECT_TRUE(rows[2].filled);
  EXPECT_TRUE(rows[3].partial);
  EXPECT_EQ(rows[3].minutes, 0);
  EXPECT_DOUBLE_EQ(*rows[3].ma7, (12 + 12 + 12 + 20) / 4.0);
  auto hours = AggregateKlines(m1, true, Interval{"1h", kMicrosPerHour});
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0].open, 10);
  EXPECT_EQ(hours[0].close, 12);
  EXPECT_EQ(hours[0].volume, 2);
  EXPECT_TRUE(hours[0].partial);  // 2 of 60 minutes
  EXPECT_TRUE(hours[1].partial);  // the open candle
}

}  // namespace
}  // namespace cryptolake::serve
