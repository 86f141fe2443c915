// The real-time view's store (lake/view_store.h): its DuckDB file, and its reads and writes of
// the lake, with the real BTCUSDT 1m recording of 2025.
#include "lake/view_store.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "batch/views.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "testing/recorded.h"
#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

Micros At(const std::string& t) { return ParseTime(t).value(); }

const Interval k1m{"1m", kMicrosPerMinute};

// The recorded 1m candles of [from, to) as view rows (close_time open_time + 59.999 s; the
// recording has no trades or quote volumes, so these are set from the minute to fill every
// column).
std::vector<ViewRow> Rows(Micros from, Micros to) {
  std::vector<ViewRow> out;
  for (const auto& k : testing::ClosedKlines(testing::RecordedBtcusdt1m(), from, to)) {
    ViewRow r;
    r.candle = static_cast<const model::Kline&>(k);
    const int64_t minute = (k.open_time - from) / kMicrosPerMinute;
    r.candle.trades = 100 + minute;
    r.candle.quote_volume = 0.5 + static_cast<double>(minute);
    r.candle.taker_buy_base = 0.25;
    r.candle.taker_buy_quote = 1.75;
    out.push_back(r);
  }
  return out;
}

std::vector<const ViewRow*> Ptrs(const std::vector<ViewRow>& rows) {
  std::vector<const ViewRow*> out;
  for (const auto& r : rows) out.push_back(&r);
  return out;
}

// LoadClosed, by open_time.
std::vector<ViewRow> Loaded(ViewStore& store) {
  auto rows = store.LoadClosed();
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<ViewRow> out = std::move(rows).value();
  std::sort(out.begin(), out.end(), [](const ViewRow& a, const ViewRow& b) {
    return a.candle.open_time < b.candle.open_time;
  });
  return out;
}

std::vector<Micros> OpenTimes(const std::vector<ViewRow>& rows) {
  std::vector<Micros> out;
  for (const auto& r : rows) out.push_back(r.candle.open_time);
  return out;
}

class ViewStoreTest : public ::testing::Test {
 protected:
  ViewStoreTest() : clock_(At("2025-09-01")) {
    lake_ = std::make_unique<Lake>(std::move(Lake::Open(dir_ / "lake", clock_)).value());
    db_ = std::move(OpenDatabase()).value();
    con_ = std::move(OpenConnection(*db_)).value();
  }
  std::unique_ptr<ViewStore> OpenStore() {
    auto s = ViewStore::Open(dir_ / "speed" / "view.duckdb");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }
  // Imports the recorded candles of [from, to) into klines_1m in one commit.
  void Import(Micros from, Micros to) {
    model::KlineBatch b;
    b.symbol = "BTCUSDT";
    b.interval = k1m;
    for (const auto& r : Rows(from, to)) b.Add(r.candle);
    auto txn = lake_->Begin();
    ASSERT_TRUE(txn.ok());
    KlineAppend app;
    app.ingested_at = clock_.Now();
    ASSERT_TRUE(AppendKlines(*con_, *txn, k1m, {&b}, app).ok());
    ASSERT_TRUE(lake_->Commit(std::move(txn).value()).ok());
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  DatabasePtr db_;
  ConnectionPtr con_;
};

// Committed rows come back after a reopen, every column as written; a key already stored keeps
// its first row.
TEST_F(ViewStoreTest, RowsSurviveAReopenAndTheFirstRowOfAKeyStays) {
  auto store = OpenStore();
  EXPECT_TRUE(Loaded(*store).empty());
  EXPECT_TRUE(store->Watermarks()->empty());
  EXPECT_TRUE(store->NotInLakeSpans()->empty());
  EXPECT_EQ(*store->LateCount(), 0);

  std::vector<ViewRow> rows = Rows(At("2025-06-01 10:00"), At("2025-06-01 10:03"));
  ASSERT_EQ(rows.size(), 3u);
  rows[0].late = true;
  rows[1].in_lake = true;  // stored as not in the lake all the same
  ASSERT_TRUE(store->CommitClosed(Ptrs(rows)).ok());
  std::vector<ViewRow> more = Rows(At("2025-06-01 10:02"), At("2025-06-01 10:04"));
  more[0].candle.close = 1;  // 10:02 again, different: the stored one stays
  ASSERT_TRUE(store->CommitClosed(Ptrs(more)).ok());
  ASSERT_TRUE(store->CommitClosed({}).ok());
  store.reset();

  store = OpenStore();
  std::vector<ViewRow> got = Loaded(*store);
  ASSERT_EQ(OpenTimes(got), (std::vector<Micros>{At("2025-06-01 10:00"), At("2025-06-01 10:01"),
                                                 At("2025-06-01 10:02"), At("2025-06-01 10:03")}));
  // BTCUSDT 2025-06-01 10:01: 103992.79, 104012.56, 103992.78, 104012.56, volume 2.67369.
  const model::Kline& k = got[1].candle;
  EXPECT_EQ(k.symbol, "BTCUSDT");
  EXPECT_EQ(k.close_time, At("2025-06-01 10:01") + 59999000);
  EXPECT_EQ(k.open, 103992.79);
  EXPECT_EQ(k.high, 104012.56);
  EXPECT_EQ(k.low, 103992.78);
  EXPECT_EQ(k.close, 104012.56);
  EXPECT_EQ(k.volume, 2.67369);
  EXPECT_EQ(k.quote_volume, 1.5);
  EXPECT_EQ(k.trades, 101);
  EXPECT_EQ(k.taker_buy_base, 0.25);
  EXPECT_EQ(k.taker_buy_quote, 1.75);
  EXPECT_EQ(got[2].candle.close, 104012.54);  // 10:02 as first stored, not 1
  EXPECT_EQ(got[3].candle.trades, 101);       // 10:03 from the second commit (its minute 1)
  EXPECT_TRUE(got[0].late);
  EXPECT_FALSE(got[1].late);
  for (const auto& r : got) EXPECT_FALSE(r.in_lake);
  EXPECT_EQ(*store->LateCount(), 1);
  auto spans = store->NotInLakeSpans();
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 1u);
  EXPECT_EQ((*spans)[0].symbol, "BTCUSDT");
  EXPECT_EQ((*spans)[0].from, At("2025-06-01 10:00"));
  EXPECT_EQ((*spans)[0].to, At("2025-06-01 10:03"));
}

// A watermark drops the rows before it that are in the lake, and only those.
TEST_F(ViewStoreTest, AWatermarkDropsOnlyRowsInTheLake) {
  auto store = OpenStore();
  std::vector<ViewRow> rows = Rows(At("2025-06-01 10:00"), At("2025-06-01 10:04"));
  ASSERT_TRUE(store->CommitClosed(Ptrs(rows)).ok());
  ASSERT_TRUE(store->MarkAllInLake().ok());
  EXPECT_TRUE(store->NotInLakeSpans()->empty());
  std::vector<ViewRow> later = Rows(At("2025-06-01 09:59"), At("2025-06-01 10:05"));
  ASSERT_TRUE(store->CommitClosed({&later.front(), &later.back()}).ok());  // 09:59, 10:04

  ASSERT_TRUE(store->SetWatermarks({{"BTCUSDT", At("2025-06-01 10:02")}}).ok());
  std::vector<ViewRow> got = Loaded(*store);
  EXPECT_EQ(OpenTimes(got), (std::vector<Micros>{At("2025-06-01 09:59"), At("2025-06-01 10:02"),
                                                 At("2025-06-01 10:03"), At("2025-06-01 10:04")}));
  EXPECT_FALSE(got[0].in_lake);
  EXPECT_TRUE(got[1].in_lake);
  auto spans = store->NotInLakeSpans();
  ASSERT_EQ(spans->size(), 1u);
  EXPECT_EQ((*spans)[0].from, At("2025-06-01 09:59"));
  EXPECT_EQ((*spans)[0].to, At("2025-06-01 10:04"));

  ASSERT_TRUE(store->SetWatermarks({{"BTCUSDT", At("2025-06-01 10:03")}, {"ETHUSDT", 7}}).ok());
  EXPECT_EQ(*store->Watermarks(),
            (std::map<std::string, Micros>{{"BTCUSDT", At("2025-06-01 10:03")}, {"ETHUSDT", 7}}));
  EXPECT_EQ(OpenTimes(Loaded(*store)),
            (std::vector<Micros>{At("2025-06-01 09:59"), At("2025-06-01 10:03"),
                                 At("2025-06-01 10:04")}));
}

// The rows not in the lake are staged as klines_1m from the stream, except the keys the lake
// already holds.
TEST_F(ViewStoreTest, StagesTheRowsNotInTheLakeExceptKeysItHolds) {
  Import(At("2025-06-01 10:05"), At("2025-06-01 10:08"));
  auto store = OpenStore();
  std::vector<ViewRow> rows = Rows(At("2025-06-01 10:00"), At("2025-06-01 10:10"));
  ASSERT_TRUE(store->CommitClosed(Ptrs(rows)).ok());
  auto spans = store->NotInLakeSpans();
  ASSERT_TRUE(spans.ok());
  int64_t staged = -1;
  auto v = lake_->CommitWithRetry([&](const Snapshot& snap) -> StatusOr<Transaction> {
    ASSIGN_OR_RETURN(Transaction txn, lake_->Begin());
    ASSIGN_OR_RETURN(staged, store->StageNotInLake(snap, txn, *spans, At("2025-09-01 12:00")));
    return txn;
  });
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(staged, 7);

  auto r =
      con_->Query("SELECT epoch_us(open_time), close, trades, source, epoch_us(ingested_at) FROM " +
                  KlinesSql(*lake_->GetSnapshot(), k1m, {}, /*dedup=*/false) + " ORDER BY 1, 4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    const bool imported = i >= 5 && i < 8;
    EXPECT_EQ(r->GetInt64(0, i),
              At("2025-06-01 10:00") + static_cast<Micros>(i) * kMicrosPerMinute);
    EXPECT_EQ(r->GetString(3, i), imported ? "import" : "stream") << i;
    EXPECT_EQ(r->GetInt64(4, i), imported ? At("2025-09-01") : At("2025-09-01 12:00")) << i;
  }
  EXPECT_EQ(r->GetDouble(1, 0), 103992.79);  // 10:00
  EXPECT_EQ(r->GetInt64(2, 9), 109);
}

// The batch watermark: the end of the last complete day of daily_raw.
TEST_F(ViewStoreTest, DailyWatermarksAreTheEndOfTheLastCompleteDay) {
  auto store = OpenStore();
  auto none = store->DailyWatermarks(*lake_->GetSnapshot());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  Import(At("2025-06-01"), At("2025-06-02 06:00"));
  ASSERT_TRUE(batch::RefreshViews(*lake_, *con_).ok());
  auto w = store->DailyWatermarks(*lake_->GetSnapshot());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, (std::map<std::string, Micros>{{"BTCUSDT", At("2025-06-02")}}));
}

}  // namespace
}  // namespace cryptolake::lake
