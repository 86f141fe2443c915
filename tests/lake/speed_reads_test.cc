// The speed layer's reads of the lake (lake/typed.h: LastOpenTimes from the manifest, and
// ReadKlines of one symbol's range with Binance's close_time, as the stream's healer reads) over
// real Parquet files committed to a lake in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>

#include "lake/klines.h"
#include "lake/typed.h"
#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

constexpr Micros kT0 = 1747699200 * kMicrosPerSecond;  // 2025-05-20 00:00:00Z
constexpr Micros kMin = kMicrosPerMinute;

class SpeedReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0);
    lake_ = std::make_unique<Lake>(std::move(Lake::Open(dir_.path(), clock_)).value());
    db_ = std::make_unique<Database>(std::move(Database::Open()).value());
    con_ = std::make_unique<Connection>(std::move(Connection::Open(*db_)).value());
  }
  // `n` 1m klines of `symbol` from minute `first` after kT0: open = close = base + minute,
  // high = close + 1, low = close - 1, volume 1.5; close_time set (open_time + 59.999 s) unless
  // `ohlcv_only`, which leaves it and the full-only fields NULL.
  void Commit(const std::string& symbol, int first, int n, Source src, double base,
              bool ohlcv_only = false) {
    const std::string rows = fmt::format(
        "SELECT '{0}' AS symbol, make_timestamp({1} + i * {2}) AS open_time, {3} + i AS open, "
        "{3} + i + 1 AS high, {3} + i - 1 AS low, {3} + i AS close, 1.5 AS volume, {4} AS "
        "close_time, {5}::DOUBLE AS quote_volume, {6}::BIGINT AS trades, {5}::DOUBLE AS "
        "taker_buy_base, {5}::DOUBLE AS taker_buy_quote, '{7}' AS source, make_timestamp({1}) AS "
        "ingested_at FROM range({8}, {8} + {9}) t(i)",
        symbol, kT0, kMin, base,
        ohlcv_only ? "NULL::TIMESTAMP"
                   : fmt::format("make_timestamp({} + i * {} + 59999000)", kT0, kMin),
        ohlcv_only ? "NULL" : "2.5", ohlcv_only ? "NULL" : "7", SourceName(src), first, n);
    auto txn = lake_->Begin();
    ASSERT_TRUE(txn.ok());
    const Interval iv = *Interval::Parse("1m");
    auto added = StageQuery(*con_, *txn, WithKlinePartitions(iv, "(" + rows + ")"),
                            KlinesStageSpec(iv, src));
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    ASSERT_TRUE(lake_->Commit(std::move(txn).value()).ok());
  }
  // The klines of `symbol` in [from, to), close_time derived where the lake holds none.
  StatusOr<std::vector<model::Kline>> Read(const Snapshot& snap, const Interval& interval,
                                           const std::string& symbol, Micros from, Micros to) {
    KlineFilter f;
    f.symbol = symbol;
    f.from = from;
    f.to = to;
    KlineRead read;
    read.derive_close_time = true;
    return ReadKlines(*con_, snap, interval, f, read);
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

TEST_F(SpeedReadsTest, LastOpenTimesIsTheNewestStoredMinutePerSymbol) {
  const Interval k1m = *Interval::Parse("1m");
  EXPECT_TRUE(LastOpenTimes(*lake_->GetSnapshot(), k1m).empty());
  Commit("BTCUSDT", 0, 10, Source::kStream, 500);
  Commit("BTCUSDT", 5, 10, Source::kImport, 100);  // minutes 5..14
  Commit("ETHUSDT", 0, 3, Source::kRest, 10);
  auto snap = *lake_->GetSnapshot();
  std::map<std::string, Micros> want{{"BTCUSDT", kT0 + 14 * kMin}, {"ETHUSDT", kT0 + 2 * kMin}};
  EXPECT_EQ(LastOpenTimes(snap, k1m), want);
  EXPECT_TRUE(LastOpenTimes(snap, *Interval::Parse("5m")).empty());
}

TEST_F(SpeedReadsTest, ReadKlinesGivesOneRowPerMinuteFromTheHighestPrioritySource) {
  Commit("BTCUSDT", 0, 10, Source::kStream, 500);
  Commit("BTCUSDT", 5, 10, Source::kImport, 100);
  Commit("BTCUSDT", 8, 1, Source::kRest, 900);
  Commit("ETHUSDT", 0, 3, Source::kImport, 10, /*ohlcv_only=*/true);
  auto snap = *lake_->GetSnapshot();
  const Interval k1m = *Interval::Parse("1m");
  auto got = Read(snap, k1m, "BTCUSDT", kT0 + 4 * kMin, kT0 + 10 * kMin);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  // minute -> close: 4 from the stream, 5..7 and 9 imported, 8 from REST.
  const std::vector<std::pair<int, double>> want{{4, 504}, {5, 105}, {6, 106},
                                                 {7, 107}, {8, 908}, {9, 109}};
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const model::Kline& k = (*got)[i];
    const auto [minute, close] = want[i];
    model::Kline w;
    w.symbol = "BTCUSDT";
    w.open_time = kT0 + minute * kMin;
    w.close_time = w.open_time + 59'999'000;
    w.open = w.close = close;
    w.high = close + 1;
    w.low = close - 1;
    w.volume = 1.5;
    w.quote_volume = w.taker_buy_base = w.taker_buy_quote = 2.5;
    w.trades = 7;
    EXPECT_EQ(k, w) << "minute " << minute;
  }
  // OHLCV-only rows: close_time is open_time + 1 min - 1 ms, the full-only fields 0.
  auto eth = Read(snap, k1m, "ETHUSDT", kT0, kT0 + kMicrosPerHour);
  ASSERT_TRUE(eth.ok()) << eth.status().ToString();
  ASSERT_EQ(eth->size(), 3u);
  EXPECT_EQ((*eth)[2].open_time, kT0 + 2 * kMin);
  EXPECT_EQ((*eth)[2].close_time, kT0 + 3 * kMin - 1000);
  EXPECT_EQ((*eth)[2].close, 12);
  EXPECT_EQ((*eth)[2].quote_volume, 0);
  EXPECT_EQ((*eth)[2].trades, 0);
  // An empty range, and a symbol with nothing stored.
  EXPECT_TRUE(Read(snap, k1m, "BTCUSDT", kT0 + kMicrosPerHour, kT0 + 2 * kMicrosPerHour)->empty());
  EXPECT_TRUE(Read(snap, k1m, "SOLUSDT", kT0, kT0 + kMicrosPerHour)->empty());
}

TEST_F(SpeedReadsTest, ReadKlinesOfAMissingFileNamesTheFile) {
  Commit("BTCUSDT", 0, 10, Source::kImport, 100);
  auto snap = *lake_->GetSnapshot();
  auto files = snap.Files("klines_1m", "BTCUSDT");
  ASSERT_EQ(files.size(), 1u);
  std::filesystem::remove(snap.Abs(*files[0]));
  auto got = Read(snap, *Interval::Parse("1m"), "BTCUSDT", kT0, kT0 + 10 * kMin);
  ASSERT_FALSE(got.ok());
  const std::string m = got.status().message();
  EXPECT_NE(m.find(files[0]->path), std::string::npos) << m;
}

}  // namespace
}  // namespace cryptolake::lake
