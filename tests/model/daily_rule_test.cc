// The daily rule three ways, held equal bit for bit: the batch views (SQL, batch/views.cc), the
// speed view's daily bars (speed::DailyBarsOf) and the serving merge (serve::MergeDaily, across
// the batch/speed seam at every tested watermark). Every OHLCV value, minutes, MA7, MA30 and
// the fill flag; on the four real 1m windows of ../shared/data (through a real lake and a real
// batch refresh) and on 1,000 seeded random series with gaps (through the views' SQL in DuckDB).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "lake/klines.h"
#include "model/daily.h"
#include "serve/merged.h"
#include "speed/view.h"

namespace cryptolake {
namespace {

using model::DailyBar;
using model::Kline;

const Interval k1m{"1m", kMicrosPerMinute};

bool Same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool Same(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || Same(*a, *b));
}

std::string Show(const DailyBar& b) {
  return fmt::format(
      "day {} o {:.17g} h {:.17g} l {:.17g} c {:.17g} v {:.17g} min {} ma7 {:.17g} "
      "ma30 {:.17g} filled {}",
      b.day / kMicrosPerDay, b.open, b.high, b.low, b.close, b.volume, b.minutes,
      b.ma7.value_or(NAN), b.ma30.value_or(NAN), b.filled);
}

// Compares the rule's fields; `what` names the series and the path; counts every difference.
int Diff(const std::vector<DailyBar>& want, const std::vector<DailyBar>& got,
         const std::string& what, bool with_ma = true) {
  if (want.size() != got.size()) {
    ADD_FAILURE() << what << ": " << got.size() << " days, want " << want.size();
    return 1;
  }
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const DailyBar &w = want[i], &g = got[i];
    bool ok = w.day == g.day && Same(w.open, g.open) && Same(w.high, g.high) &&
              Same(w.low, g.low) && Same(w.close, g.close) && Same(w.volume, g.volume) &&
              w.minutes == g.minutes && w.filled == g.filled;
    if (with_ma) ok = ok && Same(w.ma7, g.ma7) && Same(w.ma30, g.ma30);
    if (!ok && ++bad <= 3) {
      ADD_FAILURE() << what << " row " << i << "\n want " << Show(w) << "\n got  " << Show(g);
    }
  }
  return bad;
}

// daily_filled rows (symbol, day, OHLCV, minutes_present, filled, ma7, ma30) by symbol.
std::map<std::string, std::vector<DailyBar>> ReadFilled(lake::Connection& con,
                                                        const std::string& daily_filled) {
  auto r = con.Query(
      "SELECT symbol, datediff('day', DATE '1970-01-01', day), open, high, low, close, volume, "
      "minutes_present, filled, ma7, ma30 FROM " +
      daily_filled + " ORDER BY symbol, day");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, std::vector<DailyBar>> out;
  if (!r.ok()) return out;
  for (size_t i = 0; i < r->rows(); ++i) {
    DailyBar b{.day = r->GetInt64(1, i) * kMicrosPerDay,
               .open = r->GetDouble(2, i),
               .high = r->GetDouble(3, i),
               .low = r->GetDouble(4, i),
               .close = r->GetDouble(5, i),
               .volume = r->GetDouble(6, i),
               .minutes = r->GetInt64(7, i),
               .ma7 = r->GetDouble(9, i),
               .ma30 = r->GetDouble(10, i),
               .filled = r->GetInt64(8, i) != 0};
    out[r->GetString(0, i)].push_back(b);
  }
  return out;
}

// The three checks on one series: `sql` is its daily_filled from SQL, `m1` its 1m klines.
// `seams` are the watermarks the serving merge is tried at. Returns the differences found.
int CheckSeries(const std::string& name, const std::vector<Kline>& m1,
                const std::vector<DailyBar>& sql, const std::vector<Micros>& seams) {
  int bad = 0;
  // 1. The model's rule.
  std::vector<DailyBar> rule = model::ForwardFill(model::DailyBarsOf(m1));
  model::MovingAverages(rule);
  bad += Diff(sql, rule, name + " model");
  // 2. The speed view's daily bars (the last candle as the open one: not counted in minutes).
  std::vector<Kline> closed(m1.begin(), m1.end() - 1);
  std::vector<DailyBar> speed = speed::DailyBarsOf(closed, m1.back());
  std::vector<DailyBar> raw;
  for (const auto& b : sql) {
    if (!b.filled) raw.push_back({b.day, b.open, b.high, b.low, b.close, b.volume, b.minutes});
  }
  --raw.back().minutes;
  bad += Diff(raw, speed, name + " speed view", /*with_ma=*/false);
  // 3. The serving merge at each watermark: batch rows before it, speed days from it.
  for (Micros w : seams) {
    auto from = std::lower_bound(m1.begin(), m1.end(), w,
                                 [](const Kline& k, Micros t) { return k.open_time < t; });
    std::vector<Kline> after(from, m1.end());
    std::vector<DailyBar> merged = serve::MergeDaily(sql, w, after, false);
    bad += Diff(sql, merged, fmt::format("{} merge at day {}", name, w / kMicrosPerDay));
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------

constexpr const char* kWindows[] = {"20210402_20210514", "20210917_20211017", "20230316_20230501",
                                    "20250520_20250818"};

TEST(DailyRuleTest, RealWindowsAgreeThroughTheLakeTheSpeedViewAndTheMerge) {
  testing::SampleLake lk;
  const std::vector<std::string> symbols = {"BTCUSDT", "ETHUSDT"};
  for (const auto& sym : symbols) {
    for (const char* w : kWindows) {
      lk.Commit("1m", testing::OneMinuteCsvSql(
                          testing::Klines(fmt::format("1m/{}-1m-{}__*.csv*", sym, w)), sym));
    }
  }
  auto st = batch::RefreshViews(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  lake::Snapshot snap = lk.Snap();
  auto filled = ReadFilled(lk.con(), batch::ViewSql(snap, batch::kDailyFilled));
  for (const auto& sym : symbols) {
    lake::KlineFilter f;
    f.symbol = sym;
    auto r = lk.con().Query("SELECT epoch_us(open_time), open, high, low, close, volume FROM " +
                            lake::KlinesSql(snap, k1m, f) + " ORDER BY open_time");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<Kline> m1;
    for (size_t i = 0; i < r->rows(); ++i) {
      m1.push_back({.symbol = sym,
                    .open_time = r->GetInt64(0, i),
                    .open = r->GetDouble(1, i),
                    .high = r->GetDouble(2, i),
                    .low = r->GetDouble(3, i),
                    .close = r->GetDouble(4, i),
                    .volume = r->GetDouble(5, i)});
    }
    const auto& sql = filled[sym];
    // The four windows (the 2025 one: 130,708 rows) and the filled months between them.
    EXPECT_EQ(
        std::count_if(m1.begin(), m1.end(),
                      [](const Kline& k) { return k.open_time >= testing::DayUs("2025-05-20"); }),
        130708)
        << sym;
    ASSERT_EQ(sql.front().day, testing::DayUs("2021-04-02"));
    ASSERT_EQ(sql.back().day, testing::DayUs("2025-08-18"));
    // Watermarks: every 9th day, the days around each window's edges and an outage.
    std::vector<Micros> seams;
    for (size_t i = 0; i < sql.size(); i += 9) seams.push_back(sql[i].day);
    for (const char* d : {"2021-04-20", "2021-04-21", "2021-05-14", "2021-05-15", "2021-09-17",
                          "2023-05-01", "2023-05-02", "2025-05-20", "2025-08-18", "2025-08-19"}) {
      seams.push_back(testing::DayUs(d));
    }
    EXPECT_EQ(CheckSeries(sym, m1, sql, seams), 0);
  }
}

// 1,000 random series with gaps (missing minutes, missing days, runs of missing days), prices
// of 0 to 8 decimals from 0.01 to 100,000, volumes up to 10^6 with up to 12 decimals.
TEST(DailyRuleTest, ThousandSeededRandomSeriesAgree) {
  testing::TempDir dir;
  std::mt19937_64 rng(2026);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  std::map<std::string, std::vector<Kline>> series;
  const std::filesystem::path csv = dir.path() / "klines.csv";
  {
    std::ofstream out(csv);
    out << "symbol,open_time,open,high,low,close,volume\n";
    for (int s = 0; s < 1000; ++s) {
      const std::string sym = fmt::format("R{:04d}", s);
      const Micros start = testing::DayUs("2020-01-01") + int64_t(rng() % 2000) * kMicrosPerDay;
      const int days = 1 + rng() % 45;
      const int decimals = rng() % 9;
      const double scale = std::pow(10.0, decimals);
      auto px = [&](double x) { return std::max(std::round(x * scale) / scale, 1 / scale); };
      double price = std::pow(10.0, uni(-2, 5));
      std::vector<Kline>& m1 = series[sym];
      for (int d = 0; d < days; ++d) {
        if (d > 0 && rng() % 4 == 0) d += rng() % 6;  // a run of missing days
        if (d >= days) break;
        const bool whole = rng() % 40 == 0;
        std::vector<int> minutes;
        for (int m = 0; m < 1440; ++m) {
          if (whole || rng() % 120 == 0) minutes.push_back(m);
        }
        if (minutes.empty()) minutes.push_back(rng() % 1440);
        for (int m : minutes) {
          Kline k{.symbol = sym, .open_time = start + d * kMicrosPerDay + m * kMicrosPerMinute};
          k.open = px(price);
          price *= std::exp(uni(-0.02, 0.02));
          k.close = px(price);
          k.high = px(std::max(k.open, k.close) * (1 + uni(0, 0.01)));
          k.low = px(std::min(k.open, k.close) * (1 - uni(0, 0.01)));
          k.high = std::max({k.high, k.open, k.close});
          k.low = std::min({k.low, k.open, k.close});
          const double v = std::pow(10.0, uni(-3, 6));
          k.volume = rng() % 3 == 0 ? v : std::round(v * 1e8) / 1e8;
          m1.push_back(k);
          out << fmt::format("{},{},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g}\n", sym, k.open_time,
                             k.open, k.high, k.low, k.close, k.volume);
        }
      }
    }
  }
  auto db = lake::Database::Open();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto con = lake::Connection::Open(*db);
  ASSERT_TRUE(con.ok()) << con.status().ToString();
  ASSERT_TRUE(
      con->Exec(fmt::format("CREATE TABLE k AS SELECT symbol, make_timestamp(open_time) AS "
                            "open_time, open, high, low, close, volume, NULL::DOUBLE AS "
                            "quote_volume, NULL::BIGINT AS trades FROM read_csv('{}', header = "
                            "true, columns = {{'symbol': 'VARCHAR', 'open_time': 'BIGINT', 'open': "
                            "'DOUBLE', 'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', "
                            "'volume': 'DOUBLE'}})",
                            csv.string()))
          .ok());
  auto filled = ReadFilled(*con, batch::DailyFilledSql(batch::DailyRawOfSql(k1m, "k")));
  ASSERT_EQ(filled.size(), 1000u);
  int bad = 0, seams = 0;
  for (const auto& [sym, m1] : series) {
    const auto& sql = filled[sym];
    // Watermarks: the first day, the day after the last, and three random days between.
    std::vector<Micros> w = {sql.front().day, sql.back().day + kMicrosPerDay};
    for (int i = 0; i < 3; ++i) w.push_back(sql[rng() % sql.size()].day);
    seams += w.size();
    bad += CheckSeries(sym, m1, sql, w);
    if (bad > 10) break;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(seams, 5000);
}

}  // namespace
}  // namespace cryptolake
