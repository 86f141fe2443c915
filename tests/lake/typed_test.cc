// lake/typed.h: the typed readers and writers, over a real lake in a temp dir and DuckDB.
#include "lake/typed.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/fsutil.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

// 2025-05-20T00:00:00Z
constexpr Micros kT0 = 1747699200 * kMicrosPerSecond;
const Interval k1m = *Interval::Parse("1m");

// 1m klines of `symbol` at minutes `minutes` (after kT0), close = base + minute.
model::KlineBatch Batch(const std::string& symbol, std::vector<int> minutes, double base,
                        bool full = true) {
  model::KlineBatch b;
  b.symbol = symbol;
  b.interval = k1m;
  b.full = full;
  for (int m : minutes) {
    model::Kline k;
    k.open_time = kT0 + m * kMicrosPerMinute;
    k.close_time = k.open_time + kMicrosPerMinute - 1000;
    k.open = base + m - 0.5;
    k.high = base + m + 1;
    k.low = base + m - 1;
    k.close = base + m;
    k.volume = 1.5;
    k.quote_volume = 3.25;
    k.trades = 7;
    k.taker_buy_base = 0.5;
    k.taker_buy_quote = 1.25;
    b.Add(k);
  }
  return b;
}

class TypedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0 + 3600 * kMicrosPerSecond);
    lake_ = std::make_unique<Lake>(std::move(Lake::Open(dir_.path(), clock_)).value());
    db_ = std::move(OpenDatabase()).value();
    con_ = std::move(OpenConnection(*db_)).value();
  }

  // Appends `batches` in one commit; returns the rows written.
  int64_t Append(const std::vector<const model::KlineBatch*>& batches, Source src,
                 bool skip_existing = false, bool dedup = false) {
    auto snap = lake_->GetSnapshot();
    EXPECT_TRUE(snap.ok());
    auto txn = lake_->Begin();
    EXPECT_TRUE(txn.ok());
    KlineAppend app;
    app.source = src;
    app.ingested_at = clock_.Now();
    app.dedup_batches = dedup;
    if (skip_existing) app.skip_existing = &*snap;
    auto added = AppendKlines(*con_, *txn, k1m, batches, app);
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    int64_t n = 0;
    for (const auto& e : *added) n += e.rows;
    auto v = lake_->Commit(std::move(txn).value());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return n;
  }

  Snapshot Snap() { return std::move(lake_->GetSnapshot()).value(); }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  DatabasePtr db_;
  ConnectionPtr con_;
};

TEST_F(TypedTest, AppendThenReadKlinesGivesTheRowsBack) {
  auto btc = Batch("BTCUSDT", {0, 1, 2}, 100);
  auto eth = Batch("ETHUSDT", {5, 6}, 10, /*full=*/false);
  EXPECT_EQ(Append({&eth, &btc}, Source::kImport), 5);
  auto ks = ReadKlines(*con_, Snap(), k1m);
  ASSERT_TRUE(ks.ok()) << ks.status().ToString();
  ASSERT_EQ(ks->size(), 5u);
  std::vector<model::Kline> want;
  for (size_t i = 0; i < btc.size(); ++i) want.push_back(btc.At(i));
  for (size_t i = 0; i < eth.size(); ++i) want.push_back(eth.At(i));
  EXPECT_EQ(*ks, want);  // by symbol, then open_time; OHLCV-only fields read as 0
  EXPECT_EQ((*ks)[3].close_time, 0);
  EXPECT_EQ((*ks)[0].close, 100);
  EXPECT_EQ((*ks)[2].trades, 7);
}

TEST_F(TypedTest, ReadKlinesFiltersLimitsAndTakesTheNewest) {
  auto btc = Batch("BTCUSDT", {0, 1, 2, 3, 4}, 100);
  auto eth = Batch("ETHUSDT", {0, 1}, 10);
  Append({&btc, &eth}, Source::kImport);
  KlineFilter f;
  f.symbol = "BTCUSDT";
  f.from = kT0 + 1 * kMicrosPerMinute;
  f.to = kT0 + 4 * kMicrosPerMinute;
  KlineRead r;
  r.limit = 2;
  r.newest = true;
  r.ohlcv_only = true;
  auto ks = ReadKlines(*con_, Snap(), k1m, f, r);
  ASSERT_TRUE(ks.ok()) << ks.status().ToString();
  ASSERT_EQ(ks->size(), 2u);
  EXPECT_EQ((*ks)[0].open_time, kT0 + 2 * kMicrosPerMinute);  // time order
  EXPECT_EQ((*ks)[1].open_time, kT0 + 3 * kMicrosPerMinute);
  EXPECT_EQ((*ks)[1].close, 103);
  EXPECT_EQ((*ks)[1].symbol, "BTCUSDT");
  EXPECT_EQ((*ks)[1].close_time, 0);  // ohlcv_only
  EXPECT_EQ((*ks)[1].trades, 0);
  r.newest = false;
  ks = ReadKlines(*con_, Snap(), k1m, f, r);
  ASSERT_TRUE(ks.ok());
  ASSERT_EQ(ks->size(), 2u);
  EXPECT_EQ((*ks)[0].open_time, kT0 + 1 * kMicrosPerMinute);
}

TEST_F(TypedTest, ReadKlinesDeduplicatesRestOverImport) {
  auto imp = Batch("BTCUSDT", {0, 1}, 100);
  auto rest = Batch("BTCUSDT", {1}, 200);
  Append({&imp}, Source::kImport);
  Append({&rest}, Source::kRest);
  auto ks = ReadKlines(*con_, Snap(), k1m);
  ASSERT_TRUE(ks.ok());
  ASSERT_EQ(ks->size(), 2u);
  EXPECT_EQ((*ks)[0].close, 100);
  EXPECT_EQ((*ks)[1].close, 201);
}

TEST_F(TypedTest, LastOpenTimesPerSymbol) {
  auto btc = Batch("BTCUSDT", {0, 7}, 100);
  auto eth = Batch("ETHUSDT", {3}, 10);
  Append({&btc, &eth}, Source::kImport);
  EXPECT_EQ(LastOpenTimes(Snap(), k1m),
            (std::map<std::string, Micros>{{"BTCUSDT", kT0 + 7 * kMicrosPerMinute},
                                           {"ETHUSDT", kT0 + 3 * kMicrosPerMinute}}));
  EXPECT_TRUE(LastOpenTimes(Snap(), *Interval::Parse("5m")).empty());
}

TEST_F(TypedTest, AppendSkipsExistingKeysAndRepeatsWithinTheBatches) {
  auto first = Batch("BTCUSDT", {0, 1}, 100);
  Append({&first}, Source::kImport);
  auto again = Batch("BTCUSDT", {1, 2, 2}, 500);  // 1 is stored; 2 repeats
  EXPECT_EQ(Append({&again}, Source::kImport, /*skip_existing=*/true, /*dedup=*/true), 1);
  auto ks = ReadKlines(*con_, Snap(), k1m);
  ASSERT_TRUE(ks.ok());
  ASSERT_EQ(ks->size(), 3u);
  EXPECT_EQ((*ks)[1].close, 101);  // the stored row, not the new one
  EXPECT_EQ((*ks)[2].close, 502);
}

TEST_F(TypedTest, AppendRunsTheWriteThroughRunWithAProgressMeasure) {
  auto b = Batch("BTCUSDT", {0, 1, 2}, 100);
  auto txn = lake_->Begin();
  ASSERT_TRUE(txn.ok());
  KlineAppend app;
  app.ingested_at = clock_.Now();
  uint64_t scanned_after = 0;
  app.run = [&](const std::function<uint64_t()>& scanned, const std::function<Status()>& write) {
    EXPECT_EQ(scanned(), 0u);
    Status s = write();
    scanned_after = scanned();
    return s;
  };
  auto added = AppendKlines(*con_, *txn, k1m, {&b}, app);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(scanned_after, 3u);
  lake_->Abandon(std::move(*txn));
}

TEST_F(TypedTest, StoredKlineGapsNamesHeadHoleAndTail) {
  auto b = Batch("BTCUSDT", {2, 3, 6}, 100);
  Append({&b}, Source::kImport);
  auto gaps = StoredKlineGaps(*con_, Snap(), k1m, "BTCUSDT", kT0, kT0 + 10 * kMicrosPerMinute);
  ASSERT_TRUE(gaps.ok()) << gaps.status().ToString();
  auto m = [](int i) { return kT0 + i * kMicrosPerMinute; };
  EXPECT_EQ(*gaps,
            (std::vector<std::pair<Micros, Micros>>{{m(0), m(2)}, {m(4), m(6)}, {m(7), m(10)}}));
}

TEST_F(TypedTest, WriteDatasetCsvWritesKlinesAndRefusesAnUnknownDataset) {
  auto b = Batch("BTCUSDT", {0}, 100);
  Append({&b}, Source::kImport);
  const auto out = dir_ / "out.csv";
  ASSERT_TRUE(WriteDatasetCsv(*con_, Snap(), "klines_1m", std::nullopt, out).ok());
  auto text = ReadFile(out);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->substr(0, text->find('\n')),
            "symbol,open_time,open,high,low,close,volume,close_time,quote_volume,trades,"
            "taker_buy_base,taker_buy_quote,source,ingested_at");
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 2);
  Status s = WriteDatasetCsv(*con_, Snap(), "daily_raw", std::nullopt, out);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "dataset 'daily_raw' has no files (datasets: klines_1m)");
}

}  // namespace
}  // namespace cryptolake::lake
