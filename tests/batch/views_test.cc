#include "batch/views.h"

#include <gtest/gtest.h>

#include <cmath>

#include "batch/sample_lake.h"

namespace cryptolake::batch {
namespace {

using testing::DayMs;
using testing::DayUs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;
using testing::VisionCsvSql;

using testing::kBtc1m2025;
using testing::kEth1m2025;

// Binance's own daily klines of both symbols as a table expression (symbol, day DATE, ...).
std::string BinanceDailySql() {
  return "(SELECT symbol, CAST(make_timestamp(epoch_us(open_time)) AS DATE) AS day, open, high, "
         "low, close, volume, quote_volume, trades FROM (" +
         VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT") + " UNION ALL " +
         VisionCsvSql(Klines("1d/ETHUSDT-1d-*.csv"), "ETHUSDT") + "))";
}

std::string Date(const std::string& d) { return "DATE '" + d + "'"; }

TEST(ViewsTest, ParseColumnsSplitsNamesAndTypes) {
  auto cols = ParseColumns(kDailyFilledColumns);
  ASSERT_EQ(cols.size(), 13u);
  EXPECT_EQ(cols[0].name, "day");
  EXPECT_EQ(cols[0].type, "DATE");
  EXPECT_EQ(cols[9].name, "source_interval");
  EXPECT_EQ(cols[9].type, "VARCHAR");
  EXPECT_EQ(cols[12].name, "ma30");
  auto kl = ParseColumns(lake::kKlineColumns);
  ASSERT_EQ(kl.size(), 13u);
  EXPECT_EQ(kl[0].name, "open_time");
  EXPECT_EQ(kl[0].type, "TIMESTAMPTZ");
  EXPECT_EQ(ViewColumns("nope"), "");
  EXPECT_EQ(ViewTimeColumn(kProphetInput), "ds");
  auto spec = ViewStageSpec(kDailyFilled);
  EXPECT_EQ(spec.dir, "views/daily_filled");
  EXPECT_EQ(spec.partitions, std::vector<std::string>{"year"});
}

TEST(ViewsTest, UnknownViewFailsWhenQueried) {
  SampleLake lk;
  auto r = lk.con().Query("SELECT * FROM " + ViewSql(lk.Snap(), "weekly"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown view 'weekly'"), std::string::npos)
      << r.status().message();
}

TEST(ViewsTest, EmptyLakeHasEmptyViews) {
  SampleLake lk;
  auto snap = lk.Snap();
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + DailyRawSql(snap)), 0);
  for (const auto& v : ViewNames()) {
    EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + ViewSql(snap, v)), 0) << v;
  }
}

// The 1m window summed into UTC days equals Binance's daily klines: OHLC exactly, volume within
// 1e-6 relative (in fact exactly: the view sums volumes as decimals, which is what Binance does).
TEST(ViewsTest, DailyRawFromOneMinuteEqualsBinanceDailyKlines) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT"));
  lk.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT"));
  auto st = RefreshViews(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto snap = lk.Snap();
  auto r = lk.con().Query(
      "SELECT v.symbol, CAST(v.day AS VARCHAR), v.open, b.open, v.high, b.high, v.low, b.low, "
      "v.close, b.close, v.volume, b.volume, v.minutes_present, v.source_interval FROM " +
      ViewSql(snap, kDailyRaw) + " v JOIN " + BinanceDailySql() +
      " b ON v.symbol = b.symbol AND v.day = b.day WHERE v.day BETWEEN " + Date("2025-05-20") +
      " AND " + Date("2025-08-17") + " ORDER BY 1, 2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 180u);
  int btc = 0;
  for (size_t i = 0; i < r->rows(); ++i) {
    std::string at = r->GetString(0, i) + " " + r->GetString(1, i);
    btc += r->GetString(0, i) == "BTCUSDT";
    EXPECT_EQ(r->GetDouble(2, i), r->GetDouble(3, i)) << "open " << at;
    EXPECT_EQ(r->GetDouble(4, i), r->GetDouble(5, i)) << "high " << at;
    EXPECT_EQ(r->GetDouble(6, i), r->GetDouble(7, i)) << "low " << at;
    EXPECT_EQ(r->GetDouble(8, i), r->GetDouble(9, i)) << "close " << at;
    double v = r->GetDouble(10, i), b = r->GetDouble(11, i);
    EXPECT_LE(std::fabs(v - b), 1e-6 * b) << "volume " << at;
    EXPECT_EQ(v, b) << "volume (exact decimal sum) " << at;
    EXPECT_EQ(r->GetInt64(12, i), 1440) << at;
    EXPECT_EQ(r->GetString(13, i), "1m") << at;
  }
  EXPECT_EQ(btc, 90);
  // The window ends 2025-08-18 18:27: that day is partial (18 h 28 min).
  auto last = lk.con().Query(
      "SELECT symbol, minutes_present, quote_volume IS NULL, trades IS NULL "
      "FROM " +
      ViewSql(snap, kDailyRaw) + " WHERE day = " + Date("2025-08-18") + " ORDER BY 1");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_EQ(last->rows(), 2u);
  EXPECT_EQ(last->GetInt64(1, 0), 1108);
  EXPECT_EQ(last->GetInt64(1, 1), 1108);
  // The 1m files have no quote volume or trade count: the daily sums are NULL, not 0.
  EXPECT_TRUE(last->GetBool(2, 0));
  EXPECT_TRUE(last->GetBool(3, 0));
  // The stored view is what DailyRawSql computes.
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM (SELECT * FROM " + ViewSql(snap, kDailyRaw) +
                                 " EXCEPT SELECT * FROM " + DailyRawSql(snap) + ")"),
            0);
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + DailyRawSql(snap, "ETHUSDT")), 91);
}

// 15m files in ms and the same files in us (how data.binance.vision publishes from 2025 on) give
// the same daily_raw, and it equals the daily klines (quote volume and trades included).
TEST(ViewsTest, DailyRawFromFifteenMinuteMillisAndMicrosAgreeWithDailyKlines) {
  SampleLake ms, us;
  for (const char* sym : {"BTCUSDT", "ETHUSDT"}) {
    std::string s = sym;
    ms.Commit("15m", VisionCsvSql(Klines("15m/" + s + "-15m-2025-0*.csv"), s,
                                  fmt::format("open_time < {}", DayMs("2025-04-01"))));
    us.Commit("15m", VisionCsvSql(Klines("15m-microseconds/" + s + "-15m-2025-0*.csv"), s, "true",
                                  1000000));
  }
  std::string a = DailyRawSql(ms.Snap()), b = DailyRawSql(us.Snap());
  auto& con = ms.con();
  EXPECT_EQ(*con.QueryInt64("SELECT count(*) FROM " + a), 180);
  EXPECT_EQ(*con.QueryInt64("SELECT count(*) FROM " + b), 180);
  EXPECT_EQ(*con.QueryInt64("SELECT count(*) FROM (SELECT * FROM " + a + " EXCEPT SELECT * FROM " +
                            b + ")"),
            0);
  auto r = con.Query(
      "SELECT v.symbol, CAST(v.day AS VARCHAR), v.open = d.open, v.high = d.high, "
      "v.low = d.low, v.close = d.close, abs(v.volume - d.volume) <= 1e-6 * "
      "d.volume, abs(v.quote_volume - d.quote_volume) <= 1e-9 * d.quote_volume, "
      "v.trades = d.trades, v.minutes_present, v.source_interval FROM " +
      b + " v JOIN " + BinanceDailySql() +
      " d ON v.symbol = d.symbol AND v.day = d.day ORDER BY 1, 2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 180u);
  EXPECT_EQ(r->GetString(1, 0), "2025-01-01");
  EXPECT_EQ(r->GetString(1, 89), "2025-03-31");
  for (size_t i = 0; i < r->rows(); ++i) {
    std::string at = r->GetString(0, i) + " " + r->GetString(1, i);
    for (size_t c = 2; c <= 8; ++c) EXPECT_TRUE(r->GetBool(c, i)) << r->ColumnName(c) << " " << at;
    EXPECT_EQ(r->GetInt64(9, i), 1440) << at;
    EXPECT_EQ(r->GetString(10, i), "15m") << at;
  }
}

// Each (symbol, day) comes from the most complete interval, ties to the finest.
TEST(ViewsTest, MostCompleteIntervalWinsTiesGoToTheFinest) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines("1m/BTCUSDT-1m-20210402_20210514__*.csv.gz"), "BTCUSDT"));
  lk.Commit("1d", VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT",
                               fmt::format("open_time BETWEEN {} AND {}", DayMs("2021-03-30"),
                                           DayMs("2021-04-25"))));
  auto snap = lk.Snap();
  auto r = lk.con().Query(
      "SELECT CAST(day AS VARCHAR), source_interval, minutes_present, "
      "quote_volume IS NOT NULL, close FROM " +
      DailyRawSql(snap) + " ORDER BY day");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, std::pair<std::string, int64_t>> got;
  for (size_t i = 0; i < r->rows(); ++i)
    got[r->GetString(0, i)] = {r->GetString(1, i), r->GetInt64(2, i)};
  ASSERT_EQ(got.size(), 46u);  // 2021-03-30 .. 2021-05-14
  // Only a daily kline: use it.
  EXPECT_EQ(got["2021-03-30"], std::make_pair(std::string("1d"), int64_t{1440}));
  EXPECT_EQ(got["2021-04-01"], std::make_pair(std::string("1d"), int64_t{1440}));
  // Both complete: the finer one.
  EXPECT_EQ(got["2021-04-02"], std::make_pair(std::string("1m"), int64_t{1440}));
  EXPECT_EQ(got["2021-04-24"], std::make_pair(std::string("1m"), int64_t{1440}));
  // Exchange outages (1m misses 150 and 284 minutes): the complete daily kline wins.
  EXPECT_EQ(got["2021-04-20"], std::make_pair(std::string("1d"), int64_t{1440}));
  EXPECT_EQ(got["2021-04-25"], std::make_pair(std::string("1d"), int64_t{1440}));
  // Only 1m (no daily kline loaded after 2021-04-25): partial days still come from 1m.
  EXPECT_EQ(got["2021-04-26"], std::make_pair(std::string("1m"), int64_t{1440}));
  EXPECT_EQ(got["2021-05-14"], std::make_pair(std::string("1m"), int64_t{1226}));
  // Without the daily klines the outage day comes from the 1m data with its missing minutes.
  SampleLake only1m;
  only1m.Commit("1m",
                OneMinuteCsvSql(Klines("1m/BTCUSDT-1m-20210402_20210514__*.csv.gz"), "BTCUSDT"));
  EXPECT_EQ(*only1m.con().QueryInt64("SELECT minutes_present FROM " + DailyRawSql(only1m.Snap()) +
                                     " WHERE day = " + Date("2021-04-20")),
            1290);
  EXPECT_EQ(*only1m.con().QueryInt64("SELECT minutes_present FROM " + DailyRawSql(only1m.Snap()) +
                                     " WHERE day = " + Date("2021-04-25")),
            1156);
}

TEST(ViewsTest, DailyKlinesOnlyGiveTheKnownCloses) {
  SampleLake lk;
  lk.Commit("1d", VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT"));
  lk.Commit("1d", VisionCsvSql(Klines("1d/ETHUSDT-1d-*.csv"), "ETHUSDT"));
  auto raw = DailyRawSql(lk.Snap());
  auto q = [&](const std::string& sym, const std::string& day) {
    auto r = lk.con().Query("SELECT close, high FROM " + raw + " WHERE symbol = '" + sym +
                            "' AND day = " + Date(day));
    EXPECT_TRUE(r.ok() && r->rows() == 1u) << sym << " " << day;
    return std::make_pair(r->GetDouble(0, 0), r->GetDouble(1, 0));
  };
  EXPECT_EQ(q("BTCUSDT", "2017-12-17").first, 18860.02);
  EXPECT_EQ(q("BTCUSDT", "2021-11-10"), std::make_pair(64882.43, 69000.00));
  EXPECT_EQ(q("ETHUSDT", "2021-11-10"), std::make_pair(4628.78, 4868.00));
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + raw + " WHERE symbol = 'BTCUSDT'"),
            3178);
}

// daily_filled forward-fills a removed day and computes ma7/ma30; the expected values are
// computed here straight from the CSV (daily close = close of the day's last minute).
TEST(ViewsTest, DailyFilledForwardFillsMissingDaysAndComputesMovingAverages) {
  SampleLake lk;
  const int64_t gap = DayMs("2025-06-15");
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT",
                                  fmt::format("open_time // 86400000 <> {}", gap / 86400000)));
  auto st = RefreshViews(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto snap = lk.Snap();
  auto& con = lk.con();
  EXPECT_EQ(*con.QueryInt64("SELECT count(*) FROM " + ViewSql(snap, kDailyRaw)), 90);
  EXPECT_EQ(*con.QueryInt64("SELECT count(*) FROM " + ViewSql(snap, kDailyFilled)), 91);
  EXPECT_EQ(
      *con.QueryInt64("SELECT count(*) FROM " + ViewSql(snap, kDailyFilled) + " WHERE filled"), 1);

  // Daily closes from the raw CSV, independent of the code under test.
  std::string closes = fmt::format(
      "(SELECT open_time // 86400000 AS dn, arg_max(close, open_time) AS close FROM read_csv({}) "
      "GROUP BY 1)",
      lake::SqlQuote(Klines(kBtc1m2025)));
  auto close_of = [&](const std::string& day) {
    auto r =
        con.Query(fmt::format("SELECT close FROM {} WHERE dn = {}", closes, DayMs(day) / 86400000));
    EXPECT_TRUE(r.ok() && r->rows() == 1u) << day;
    return r->GetDouble(0, 0);
  };
  const double c14 = close_of("2025-06-14");

  auto f = con.Query(
      "SELECT open, high, low, close, volume, quote_volume, trades, minutes_present, "
      "source_interval IS NULL, filled FROM " +
      ViewSql(snap, kDailyFilled) + " WHERE day = " + Date("2025-06-15"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->rows(), 1u);
  for (size_t c = 0; c < 4; ++c) EXPECT_EQ(f->GetDouble(c, 0), c14) << f->ColumnName(c);
  EXPECT_EQ(f->GetDouble(4, 0), 0.0);
  EXPECT_EQ(f->GetDouble(5, 0), 0.0);
  EXPECT_EQ(f->GetInt64(6, 0), 0);
  EXPECT_EQ(f->GetInt64(7, 0), 0);
  EXPECT_TRUE(f->GetBool(8, 0));
  EXPECT_TRUE(f->GetBool(9, 0));

  // Mean of a list of closes as defined in views.h: exact decimal sum rounded to DOUBLE, / n.
  auto mean = [&](const std::string& values_sql) {
    auto r = con.Query(
        "SELECT CAST(sum(CAST(close AS DECIMAL(38,10))) AS DOUBLE) / count(*), "
        "avg(close), count(*) FROM (" +
        values_sql + ")");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::make_tuple(r->GetDouble(0, 0), r->GetDouble(1, 0), r->GetInt64(2, 0));
  };
  auto ma = [&](const std::string& day) {
    auto r = con.Query("SELECT ma7, ma30 FROM " + ViewSql(snap, kDailyFilled) +
                       " WHERE day = " + Date(day));
    EXPECT_TRUE(r.ok() && r->rows() == 1u) << day;
    return std::make_pair(r->GetDouble(0, 0), r->GetDouble(1, 0));
  };
  auto days = [&](const std::string& from, const std::string& to) {
    return fmt::format("SELECT close FROM {} WHERE dn BETWEEN {} AND {}", closes,
                       DayMs(from) / 86400000, DayMs(to) / 86400000);
  };
  // ma7 on 2025-06-20: 06-14..06-20, where 06-15 is absent from the CSV filter above and counts
  // with the 06-14 close.
  std::string fill = fmt::format("SELECT {} AS close", c14);
  auto [e7, a7, n7] = mean(days("2025-06-14", "2025-06-20") + " AND dn <> " +
                           std::to_string(gap / 86400000) + " UNION ALL " + fill);
  EXPECT_EQ(n7, 7);
  EXPECT_EQ(ma("2025-06-20").first, e7);
  EXPECT_NEAR(e7, a7, 1e-9 * a7);
  // ma30 on 2025-07-10: 06-11..07-10, the filled day included.
  auto [e30, a30, n30] = mean(days("2025-06-11", "2025-07-10") + " AND dn <> " +
                              std::to_string(gap / 86400000) + " UNION ALL " + fill);
  EXPECT_EQ(n30, 30);
  EXPECT_EQ(ma("2025-07-10").second, e30);
  // At the start of the series the mean is over the rows available: 3 on 2025-05-22.
  auto [e3, a3, n3] = mean(days("2025-05-20", "2025-05-22"));
  EXPECT_EQ(n3, 3);
  EXPECT_EQ(ma("2025-05-22"), std::make_pair(e3, e3));
  EXPECT_EQ(ma("2025-05-20"), std::make_pair(close_of("2025-05-20"), close_of("2025-05-20")));
  // ma7 on 2025-05-26 is the first full week; ma30 there still covers 7 rows.
  auto [w7, wa7, wn7] = mean(days("2025-05-20", "2025-05-26"));
  EXPECT_EQ(ma("2025-05-26"), std::make_pair(w7, w7));

  // prophet_input is (ds, y) = (day, close) of daily_filled, the filled day included.
  auto p = con.Query("SELECT count(*), count(*) FILTER (WHERE p.y = f.close) FROM " +
                     ViewSql(snap, kProphetInput) + " p JOIN " + ViewSql(snap, kDailyFilled) +
                     " f ON p.symbol = f.symbol AND p.ds = f.day");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->GetInt64(0, 0), 91);
  EXPECT_EQ(p->GetInt64(1, 0), 91);
  auto y = con.Query("SELECT y FROM " + ViewSql(snap, kProphetInput, "BTCUSDT") +
                     " WHERE ds = " + Date("2025-06-15"));
  ASSERT_TRUE(y.ok() && y->rows() == 1u);
  EXPECT_EQ(y->GetDouble(0, 0), c14);
}

// Forward fill and moving averages cross year boundaries: the 15m sample starts 2024-12-30.
TEST(ViewsTest, DailyFilledCrossesYearBoundaries) {
  SampleLake lk;
  lk.Commit("15m", VisionCsvSql(Klines("15m/BTCUSDT-15m-202?-*.csv"), "BTCUSDT",
                                fmt::format("open_time < {} AND open_time // 86400000 <> {}",
                                            DayMs("2025-02-01"), DayMs("2025-01-01") / 86400000)));
  auto snap = lk.Snap();
  std::string filled = DailyFilledSql(DailyRawSql(snap));
  auto r = lk.con().Query("SELECT CAST(day AS VARCHAR), filled, close, ma7 FROM " + filled +
                          " WHERE day <= " + Date("2025-01-02") + " ORDER BY day");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 4u);
  EXPECT_EQ(r->GetString(0, 0), "2024-12-30");
  EXPECT_FALSE(r->GetBool(1, 1));
  EXPECT_TRUE(r->GetBool(1, 2));                      // 2025-01-01 removed: filled
  EXPECT_EQ(r->GetDouble(2, 2), r->GetDouble(2, 1));  // with 2024-12-31's close
  // ma7 of 2025-01-02 spans the year boundary: 4 rows, the filled one included.
  auto e = lk.con().Query(fmt::format(
      "SELECT CAST(sum(CAST(c AS DECIMAL(38,10))) AS DOUBLE) / 4 FROM (VALUES ({}), ({}), ({}), "
      "({})) t(c)",
      r->GetDouble(2, 0), r->GetDouble(2, 1), r->GetDouble(2, 2), r->GetDouble(2, 3)));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(r->GetDouble(3, 3), e->GetDouble(0, 0));
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + filled), 33);
  EXPECT_EQ(
      *lk.con().QueryInt64("SELECT count(*) FROM " + filled + " WHERE ma30 IS NULL OR ma7 IS NULL"),
      0);
}

}  // namespace
}  // namespace cryptolake::batch
