// The evaluation of forecasts: every expected value below is worked out by hand (in the comments)
// or computed independently from the raw CSV with DuckDB, never by the code under test.
#include "forecast/evaluate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "batch/sample_lake.h"
#include "batch/views.h"

namespace cryptolake::forecast {
namespace {

using testing::DayMs;
using testing::DayUs;
using testing::Klines;
using testing::SampleLake;
using testing::VisionCsvSql;

constexpr double kZ80 = 1.2815515655446004;  // Phi^-1(0.9): the 80% interval's half-width

std::vector<Micros> Days(const std::string& first, size_t n) {
  std::vector<Micros> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(DayUs(first) + static_cast<Micros>(i) * kMicrosPerDay);
  return out;
}

Frame Series(const std::string& first, const std::vector<double>& y) {
  Frame f;
  f.ds = Days(first, y.size());
  f.y = y;
  return f;
}

std::vector<std::string> Dates(const std::vector<Micros>& ds) {
  std::vector<std::string> out;
  for (Micros d : ds) out.push_back(FormatDate(d));
  return out;
}

const Metrics& Row(const ModelResult& m, int horizon) {
  for (const Metrics& x : m.metrics) {
    if (x.horizon_days == horizon) return x;
  }
  ADD_FAILURE() << m.name << " has no metrics at horizon " << horizon;
  return m.metrics.front();
}

TEST(EvaluateTest, NormalQuantileKnownValues) {
  EXPECT_NEAR(NormalQuantile(0.9), kZ80, 1e-15);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(NormalQuantile(0.001), -3.090232306167813, 1e-13);
  EXPECT_TRUE(std::isnan(NormalQuantile(1.0)));
}

TEST(EvaluateTest, ParseDaysAcceptsProphetStyleDurations) {
  EXPECT_EQ(*ParseDays("730d"), 730);
  EXPECT_EQ(*ParseDays("30 days"), 30);
  EXPECT_EQ(*ParseDays("1day"), 1);
  EXPECT_EQ(*ParseDays("7"), 7);
  auto bad = ParseDays("30h");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cannot parse '30h' as a number of days (e.g. 730d, 30d)");
  EXPECT_FALSE(ParseDays("0d").ok());
  EXPECT_FALSE(ParseDays("").ok());
}

TEST(EvaluateTest, ParseProphetInputCsv) {
  auto s = ParseProphetInputCsv("ds,y\r\n2017-12-16,19102.66\r\n2017-12-17,18860.02\r\n", "BTC");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->symbol, "BTC");
  EXPECT_EQ(Dates(s->ds), (std::vector<std::string>{"2017-12-16", "2017-12-17"}));
  EXPECT_EQ(s->y, (std::vector<double>{19102.66, 18860.02}));
  EXPECT_EQ(s->minutes_present, (std::vector<int64_t>{1440, 1440}));
  EXPECT_FALSE(s->dropped_partial_day.has_value());
  // No trailing newline is fine too; a CSV series has no ma7/ma30 to regress on.
  auto one = ParseProphetInputCsv("ds,y\n2025-01-01,1e3", "X");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->y, std::vector<double>{1000});
  auto frame = ToFrame(*one, {"ma7"});
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().message(),
            "regressor 'ma7' is not in this series (a prophet_input CSV has none)");

  auto error = [](std::string_view text) {
    auto r = ParseProphetInputCsv(text, "X");
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(error("date,close\n2025-01-01,1\n"),
            "prophet_input CSV: expected the header 'ds,y', got 'date,close'");
  EXPECT_EQ(error(""), "prophet_input CSV: expected the header 'ds,y', got ''");
  EXPECT_EQ(error("ds,y\n"), "prophet_input CSV has no rows");
  EXPECT_EQ(error("ds,y\n2025-01-01,1,2\n"),
            "prophet_input CSV line 2: expected 2 fields 'ds,y', got '2025-01-01,1,2'");
  EXPECT_EQ(error("ds,y\n2025-01-01\n"),
            "prophet_input CSV line 2: expected 2 fields 'ds,y', got '2025-01-01'");
  EXPECT_EQ(error("ds,y\n2025-01-01 12:00,1\n"),
            "prophet_input CSV line 2: ds '2025-01-01 12:00' is not a UTC date");
  EXPECT_EQ(error("ds,y\n2025-02-30,1\n"),
            "prophet_input CSV line 2: ds '2025-02-30' is not a UTC date");
  EXPECT_EQ(error("ds,y\n2025-01-01,1\n2025-01-02,\n"),
            "prophet_input CSV line 3: y '' is not a finite number");
  EXPECT_EQ(error("ds,y\n2025-01-01,inf\n"),
            "prophet_input CSV line 2: y 'inf' is not a finite number");
  EXPECT_EQ(error("ds,y\n2025-01-01,1x\n"),
            "prophet_input CSV line 2: y '1x' is not a finite number");
  EXPECT_EQ(error("ds,y\n2025-01-01,1\n2025-01-03,2\n"),
            "prophet_input CSV line 3: 2025-01-03 follows 2025-01-01, days must be contiguous");
  EXPECT_EQ(error("ds,y\n2025-01-02,1\n2025-01-01,2\n"),
            "prophet_input CSV line 3: 2025-01-01 follows 2025-01-02, days must be contiguous");
  EXPECT_EQ(error("ds,y\n2025-01-01,1\n\n2025-01-02,2\n"),
            "prophet_input CSV line 3: expected 2 fields 'ds,y', got ''");
}

// Four forecasts, by hand (e = yhat - y, ape = |e / y|, q = |e| / scale):
//   y 100 yhat 110 [90, 120]   scale 10: e  10, ape 0.1,  smape 20/210,  covered, q 1
//   y 200 yhat 180 [185, 215]  scale 10: e -20, ape 0.1,  smape 40/380,  covered, q 2
//   y  50 yhat  50 [40, 45]    scale  5: e   0, ape 0,    smape 0,  not covered, q 0
//   y 400 yhat 300 [350, 450]  scale 20: e -100, ape 0.25, smape 200/700, covered, q 5
// mse (100 + 400 + 0 + 10000) / 4 = 2625; mae 130 / 4 = 32.5; mape 0.45 / 4 = 0.1125;
// mdape median(0, 0.1, 0.1, 0.25) = 0.1; coverage 3/4; mase 8 / 4 = 2.
std::vector<Point> FourPoints() {
  Micros c = DayUs("2025-01-10");
  Micros d = kMicrosPerDay;
  return {{c, c + d, 100, 110, 90, 120, 10},
          {c, c + d, 200, 180, 185, 215, 10},
          {c, c + 2 * d, 50, 50, 40, 45, 5},
          {c, c + 2 * d, 400, 300, 350, 450, 20}};
}

TEST(EvaluateTest, MetricsByHandOnATinySeries) {
  Metrics m = ComputeMetrics(FourPoints(), 0);
  EXPECT_EQ(m.n, 4);
  EXPECT_DOUBLE_EQ(m.mse, 2625.0);
  EXPECT_DOUBLE_EQ(m.rmse, std::sqrt(2625.0));
  EXPECT_DOUBLE_EQ(m.mae, 32.5);
  EXPECT_DOUBLE_EQ(m.mape, 0.1125);
  EXPECT_DOUBLE_EQ(m.mdape, 0.1);
  EXPECT_NEAR(m.smape, (20.0 / 210 + 40.0 / 380 + 0 + 200.0 / 700) / 4, 1e-15);
  EXPECT_DOUBLE_EQ(m.coverage, 0.75);
  EXPECT_DOUBLE_EQ(m.mase, 2.0);
}

TEST(EvaluateTest, PerformanceMetricsPerHorizonThenAll) {
  // Horizon 1: the first two points; horizon 2: the last two (see FourPoints).
  auto rows = PerformanceMetrics(FourPoints());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].horizon_days, 1);
  EXPECT_EQ(rows[0].n, 2);
  EXPECT_DOUBLE_EQ(rows[0].mse, 250.0);     // (100 + 400) / 2
  EXPECT_DOUBLE_EQ(rows[0].mape, 0.1);      // (0.1 + 0.1) / 2
  EXPECT_DOUBLE_EQ(rows[0].coverage, 1.0);  // both inside
  EXPECT_DOUBLE_EQ(rows[0].mase, 1.5);      // (1 + 2) / 2
  EXPECT_EQ(rows[1].horizon_days, 2);
  EXPECT_DOUBLE_EQ(rows[1].mse, 5000.0);   // (0 + 10000) / 2
  EXPECT_DOUBLE_EQ(rows[1].mdape, 0.125);  // median(0, 0.25)
  EXPECT_DOUBLE_EQ(rows[1].coverage, 0.5);
  EXPECT_DOUBLE_EQ(rows[1].mase, 2.5);  // (0 + 5) / 2
  EXPECT_EQ(rows[2].horizon_days, 0);
  EXPECT_EQ(rows[2].n, 4);
  EXPECT_DOUBLE_EQ(rows[2].mse, 2625.0);
}

TEST(EvaluateTest, MetricsEdgeCases) {
  Micros c = DayUs("2025-01-10");
  // Odd count: the median is the middle value. ape 0.5, 0.1, 0.3 -> mdape 0.3.
  std::vector<Point> odd = {{c, c + kMicrosPerDay, 10, 15, 0, 20, 1},
                            {c, c + kMicrosPerDay, 10, 11, 0, 20, 1},
                            {c, c + kMicrosPerDay, 10, 7, 0, 20, 1}};
  EXPECT_DOUBLE_EQ(ComputeMetrics(odd, 1).mdape, 0.3);
  // A zero actual: mape and mdape are undefined (Prophet drops them); a missing bound: coverage.
  std::vector<Point> zero = {{c, c + kMicrosPerDay, 0, 1, NAN, NAN, 1}};
  Metrics z = ComputeMetrics(zero, 1);
  EXPECT_TRUE(std::isnan(z.mape));
  EXPECT_TRUE(std::isnan(z.mdape));
  EXPECT_TRUE(std::isnan(z.coverage));
  EXPECT_DOUBLE_EQ(z.smape, 2.0);  // 2 |1| / (0 + 1)
  EXPECT_DOUBLE_EQ(z.mae, 1.0);
  Metrics none = ComputeMetrics({}, 0);
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mse));
}

TEST(EvaluateTest, NaiveScaleIsTheMeanAbsoluteDifference) {
  EXPECT_DOUBLE_EQ(NaiveScale({1, 3, 2, 6}, 4), 7.0 / 3);  // (2 + 1 + 4) / 3
  EXPECT_DOUBLE_EQ(NaiveScale({1, 3, 2, 6}, 2), 2.0);      // only the first two values
  EXPECT_TRUE(std::isnan(NaiveScale({5}, 1)));
}

// History 2025-01-01..2025-01-10: y = 10 12 11 13 15 14 16 18 17 20.
//   one-step differences 2 -1 2 2 -1 2 2 -1 3 (sum 10, sum of squares 32)
//   naive: yhat 20, sigma^2 = 32 / 9
//   seasonal naive: 01-11 repeats 01-04 (13), 01-12 repeats 01-05 (15), 01-17 repeats 01-10 (20),
//     01-18 (h 8) repeats 01-04 again (13); seasonal residuals 18-10, 17-12, 20-11 = 8 5 9:
//     sigma^2 = 170 / 3; h 8 has k = 1: sd = sigma sqrt(2)
//   drift: c = (20 - 10) / 9; residuals d - c: sum of squares 32 - 2 c 10 + 9 c^2 = 188 / 9,
//     sigma^2 = 188 / 81; sd(h) = sigma sqrt(h (1 + h / 10))
const std::vector<double> kTiny = {10, 12, 11, 13, 15, 14, 16, 18, 17, 20};

TEST(EvaluateTest, BaselinesOnATinySeries) {
  Frame h = Series("2025-01-01", kTiny);
  std::vector<Micros> fut = {DayUs("2025-01-11"), DayUs("2025-01-12"), DayUs("2025-01-17"),
                             DayUs("2025-01-18")};

  auto naive = BaselineForecast(Baseline::kNaive, h, fut);
  ASSERT_TRUE(naive.ok()) << naive.status().ToString();
  EXPECT_EQ(Dates(naive->ds), Dates(fut));
  EXPECT_EQ(naive->yhat, (std::vector<double>{20, 20, 20, 20}));
  double sn = std::sqrt(32.0 / 9);
  EXPECT_NEAR(naive->yhat_lower[0], 20 - kZ80 * sn, 1e-12);
  EXPECT_NEAR(naive->yhat_upper[1], 20 + kZ80 * sn * std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(naive->yhat_upper[3], 20 + kZ80 * sn * std::sqrt(8.0), 1e-12);

  auto snaive = BaselineForecast(Baseline::kSeasonalNaive, h, fut);
  ASSERT_TRUE(snaive.ok()) << snaive.status().ToString();
  EXPECT_EQ(snaive->yhat, (std::vector<double>{13, 15, 20, 13}));
  double ss = std::sqrt(170.0 / 3);
  EXPECT_NEAR(snaive->yhat_lower[0], 13 - kZ80 * ss, 1e-12);
  EXPECT_NEAR(snaive->yhat_lower[2], 20 - kZ80 * ss, 1e-12);  // h 7: k = 0
  EXPECT_NEAR(snaive->yhat_lower[3], 13 - kZ80 * ss * std::sqrt(2.0), 1e-12);

  auto drift = BaselineForecast(Baseline::kDrift, h, fut);
  ASSERT_TRUE(drift.ok()) << drift.status().ToString();
  const double c = 10.0 / 9;
  EXPECT_NEAR(drift->yhat[0], 20 + c, 1e-12);
  EXPECT_NEAR(drift->yhat[3], 20 + 8 * c, 1e-12);
  double sd = std::sqrt(188.0 / 81);
  EXPECT_NEAR(drift->yhat_upper[0], 20 + c + kZ80 * sd * std::sqrt(1 * 1.1), 1e-12);
  EXPECT_NEAR(drift->yhat_lower[3], 20 + 8 * c - kZ80 * sd * std::sqrt(8 * 1.8), 1e-12);
}

TEST(EvaluateTest, OneStepBaselinesUseOnlyTheDaysBefore) {
  Frame s = Series("2025-01-01", kTiny);
  auto naive = OneStepBaseline(Baseline::kNaive, s, 8);
  ASSERT_TRUE(naive.ok()) << naive.status().ToString();
  EXPECT_EQ(Dates(naive->ds), (std::vector<std::string>{"2025-01-09", "2025-01-10"}));
  EXPECT_EQ(naive->yhat, (std::vector<double>{18, 17}));  // "tomorrow = today"
  // Day 10 from the first nine: c = (17 - 10) / 8.
  auto drift = OneStepBaseline(Baseline::kDrift, s, 9);
  ASSERT_TRUE(drift.ok());
  EXPECT_DOUBLE_EQ(drift->yhat[0], 17.875);
  // Day 8 (index 7) from days 1..7: 01-08 repeats 01-01.
  auto snaive = OneStepBaseline(Baseline::kSeasonalNaive, s, 7);
  ASSERT_TRUE(snaive.ok());
  EXPECT_EQ(snaive->yhat, (std::vector<double>{10, 12, 11}));
}

TEST(EvaluateTest, BaselinesRejectWhatTheyCannotForecast) {
  Frame gap = Series("2025-01-01", {1, 2, 3});
  gap.ds[2] += kMicrosPerDay;
  auto g = BaselineForecast(Baseline::kNaive, gap, {DayUs("2025-01-05")});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), "naive: days not contiguous (2025-01-04 follows 2025-01-02)");
  auto short_s = BaselineForecast(Baseline::kSeasonalNaive, Series("2025-01-01", {1, 2, 3}),
                                  {DayUs("2025-01-04")});
  ASSERT_FALSE(short_s.ok());
  EXPECT_EQ(short_s.status().message(), "seasonal_naive needs at least 7 days of history");
  auto past =
      BaselineForecast(Baseline::kDrift, Series("2025-01-01", {1, 2, 3}), {DayUs("2025-01-03")});
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().message(),
            "drift: 2025-01-03T00:00:00Z is not a day after the history (last 2025-01-03)");
}

// 2024 (a leap year), every day: the last cutoff is 2024-12-31 - 30 d = 2024-12-01; then back 30 d
// at a time: 11-01, 10-02, 09-02, 08-03, 07-04 (each >= 2024-01-01 + 180 d = 2024-06-29, so the
// loop goes on), 06-04 (< 06-29: dropped).
TEST(EvaluateTest, CutoffsArePlacedAsProphetPlacesThem) {
  auto c = GenerateCutoffs(Days("2024-01-01", 366), 180, 30, 30);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Dates(*c), (std::vector<std::string>{"2024-07-04", "2024-08-03", "2024-09-02",
                                                 "2024-10-02", "2024-11-01", "2024-12-01"}));
  // Period and horizon 10 d: 2024-12-21 back every 10 days to 2024-07-04 (2024-12-21 - 17 * 10 d,
  // the last one >= 2024-06-29; 06-29..12-21 is 175 days).
  auto o = GenerateCutoffs(Days("2024-01-01", 366), 180, 10, 10);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->size(), 18u);
  EXPECT_EQ(FormatDate(o->front()), "2024-07-04");
  EXPECT_EQ(FormatDate(o->back()), "2024-12-21");
}

// Data 2024-01-01..03-31 and 06-01..06-30 (April and May missing), initial 30, period 30,
// horizon 10: 06-20; 05-21 has no data in (05-21, 05-31], so it moves to the last day before it
// (03-31) minus the horizon: 03-21; then 02-20 and 01-21 (< 01-31: dropped).
TEST(EvaluateTest, CutoffsSkipGapsAsProphetDoes) {
  std::vector<Micros> ds = Days("2024-01-01", 91);
  for (Micros d : Days("2024-06-01", 30)) ds.push_back(d);
  auto c = GenerateCutoffs(ds, 30, 30, 10);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Dates(*c), (std::vector<std::string>{"2024-02-20", "2024-03-21", "2024-06-20"}));
}

TEST(EvaluateTest, CutoffsNoneFit) {
  auto c = GenerateCutoffs(Days("2024-01-01", 100), 90, 30, 30);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "initial 90d + horizon 30d leave no cutoff in 2024-01-01..2024-04-09 (100 days)");
}

// y = 1, 2, ..., 20 on 2025-01-01..2025-01-20; initial 5, period 5, horizon 5: cutoffs 01-10
// (y 10) and 01-15 (y 15). At horizon h the actual is cutoff's y + h, so:
//   naive forecasts the cutoff's y: error -h, mae h, MASE h (the naive scale of a unit-step line
//     is 1), mape at h 1 = (1/11 + 1/16) / 2;
//   seasonal naive forecasts the same weekday a week before: error -7 at every horizon;
//   drift continues the line exactly: error 0, interval of width 0 containing y.
Frame Line20() {
  std::vector<double> y;
  for (int i = 1; i <= 20; ++i) y.push_back(i);
  return Series("2025-01-01", y);
}

TEST(EvaluateTest, CrossValidateALineByHand) {
  std::atomic<int> calls{0};
  NamedModel truth{"truth", [&calls](const Frame& h, const Frame& f) -> StatusOr<Prediction> {
                     ++calls;
                     // The model sees the days up to the cutoff only, and no future y.
                     if (!f.y.empty()) return Internal("future y given to the model");
                     if (f.ds.front() != h.ds.back() + kMicrosPerDay) return Internal("gap");
                     Prediction p;
                     for (size_t i = 0; i < f.ds.size(); ++i) {
                       double v = h.y.back() + static_cast<double>(i + 1);
                       p.ds.push_back(f.ds[i]);
                       p.yhat.push_back(v);
                       p.yhat_lower.push_back(v - 1);
                       p.yhat_upper.push_back(v + 1);
                     }
                     return p;
                   }};
  CvOptions o;
  o.initial_days = 5;
  o.period_days = 5;
  o.horizon_days = 5;
  o.threads = 1;
  int last_done = 0, last_total = 0;
  o.progress = [&](int done, int total) {
    last_done = done;
    last_total = total;
  };
  auto ev = CrossValidate("LINE", Line20(), truth, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(last_done, 2);
  EXPECT_EQ(last_total, 2);
  EXPECT_EQ(Dates(ev->cutoffs), (std::vector<std::string>{"2025-01-10", "2025-01-15"}));
  ASSERT_EQ(ev->models.size(), 4u);
  EXPECT_EQ(ev->models[0].name, "truth");
  EXPECT_EQ(ev->primary, "truth");
  EXPECT_EQ(ev->models[1].name, "naive");
  EXPECT_EQ(ev->models[2].name, "seasonal_naive");
  EXPECT_EQ(ev->models[3].name, "drift");
  for (const auto& m : ev->models) EXPECT_EQ(m.points.size(), 10u) << m.name;

  const ModelResult& truth_r = ev->models[0];
  EXPECT_DOUBLE_EQ(Row(truth_r, 0).mse, 0.0);
  EXPECT_DOUBLE_EQ(Row(truth_r, 0).coverage, 1.0);
  EXPECT_DOUBLE_EQ(Row(truth_r, 0).rel_mae, 0.0);
  const ModelResult& naive = ev->models[1];
  for (int h = 1; h <= 5; ++h) {
    EXPECT_DOUBLE_EQ(Row(naive, h).mae, h);
    EXPECT_DOUBLE_EQ(Row(naive, h).mase, h);
    EXPECT_DOUBLE_EQ(Row(naive, h).rel_mae, 1.0);
    EXPECT_EQ(Row(naive, h).n, 2);
  }
  EXPECT_NEAR(Row(naive, 1).mape, (1.0 / 11 + 1.0 / 16) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(Row(naive, 0).mae, 3.0);  // (1 + 2 + 3 + 4 + 5) / 5
  const ModelResult& snaive = ev->models[2];
  for (int h = 1; h <= 5; ++h) EXPECT_DOUBLE_EQ(Row(snaive, h).mae, 7.0);
  EXPECT_DOUBLE_EQ(Row(snaive, 2).rel_mae, 3.5);  // 7 / 2
  const ModelResult& drift = ev->models[3];
  EXPECT_NEAR(Row(drift, 0).mse, 0.0, 1e-20);
  EXPECT_DOUBLE_EQ(Row(drift, 0).coverage, 1.0);

  // The same run on three threads gives the same points in the same order.
  o.threads = 3;
  auto par = CrossValidate("LINE", Line20(), truth, o);
  ASSERT_TRUE(par.ok());
  EXPECT_EQ(par->threads, 2);  // no more threads than cutoffs
  for (size_t m = 0; m < 4; ++m) {
    ASSERT_EQ(par->models[m].points.size(), ev->models[m].points.size());
    for (size_t i = 0; i < ev->models[m].points.size(); ++i) {
      EXPECT_EQ(par->models[m].points[i].ds, ev->models[m].points[i].ds);
      EXPECT_EQ(par->models[m].points[i].yhat, ev->models[m].points[i].yhat);
    }
  }
}

TEST(EvaluateTest, CrossValidateWithoutAModelRunsTheBaselines) {
  CvOptions o;
  o.initial_days = 5;
  o.period_days = 5;
  o.horizon_days = 5;
  auto ev = CrossValidate("LINE", Line20(), NamedModel{"drift", {}}, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  ASSERT_EQ(ev->models.size(), 3u);
  EXPECT_EQ(ev->primary, "drift");
  EXPECT_EQ(ev->Find("drift")->points.size(), 10u);
}

TEST(EvaluateTest, AFailingFitFailsTheRunNamingTheCutoff) {
  NamedModel bad{"prophet", [](const Frame& h, const Frame&) -> StatusOr<Prediction> {
                   if (h.ds.back() == DayUs("2025-01-15")) return InvalidArgument("diverged");
                   return Prediction{};
                 }};
  CvOptions o;
  o.initial_days = 5;
  o.period_days = 5;
  o.horizon_days = 5;
  o.threads = 2;
  auto ev = CrossValidate("LINE", Line20(), bad, o);
  ASSERT_FALSE(ev.ok());
  // The 01-10 cutoff returns no rows for 5 days: that is an error too, and it comes first.
  EXPECT_EQ(ev.status().message(),
            "prophet at cutoff 2025-01-10: the model returned 0 forecasts for 5 days");
}

TEST(EvaluateTest, SeedSplitIsEightyPercentRoundedDown) {
  EXPECT_EQ(SplitSeed(3178).train, 2542u);  // 3178 * 0.8 = 2542.4
  EXPECT_EQ(SplitSeed(3178).test, 636u);
  EXPECT_EQ(SplitSeed(10).train, 8u);
  EXPECT_EQ(SplitSeed(10).test, 2u);
  EXPECT_EQ(SplitSeed(7).train, 5u);  // 5.6
  EXPECT_EQ(SplitSeed(5).train, 4u);
}

constexpr const char* kRefusal =
    "regressor ma7 at 2025-06-01 uses close of 2025-06-01, the day being forecast: leakage; "
    "regressor ma30 at 2025-06-01 uses close of 2025-06-01, the day being forecast: leakage; "
    "pass --allow-leakage to compute the prototype's inflated metrics anyway";

TEST(EvaluateTest, SameDayMovingAveragesAreFlaggedAsLeakage) {
  auto ma7 = DailyFilledLineage("ma7");
  auto ma30 = DailyFilledLineage("ma30");
  ASSERT_TRUE(ma7.ok() && ma30.ok());
  EXPECT_EQ(ma7->first_offset, -6);
  EXPECT_EQ(ma7->last_offset, 0);
  EXPECT_EQ(ma30->first_offset, -29);
  EXPECT_EQ(DailyFilledLineage("volume").status().message(),
            "unknown regressor 'volume' (known: ma7, ma30)");
  auto leaks = DetectLeakage({*ma7, *ma30}, {{DayUs("2025-05-31"), Days("2025-06-01", 30)}});
  ASSERT_EQ(leaks.size(), 2u);
  EXPECT_EQ(leaks[0].regressor, "ma7");
  EXPECT_EQ(FormatDate(leaks[0].at), "2025-06-01");
  EXPECT_EQ(FormatDate(leaks[0].uses), "2025-06-01");
  EXPECT_EQ(leaks[0].message,
            "regressor ma7 at 2025-06-01 uses close of 2025-06-01, the day being forecast: "
            "leakage");
  EXPECT_EQ(leaks[1].regressor, "ma30");
  EXPECT_EQ(LeakageRefusal(leaks), kRefusal);
}

TEST(EvaluateTest, LaggedRegressorsLeakOnlyPastTheCutoff) {
  // A moving average ending the day before (lag 1) is known one day ahead, not two.
  RegressorLineage lag1{"ma7_lag1", -7, -1};
  auto leaks = DetectLeakage({lag1}, {{DayUs("2025-05-31"), Days("2025-06-01", 2)}});
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0].message,
            "regressor ma7_lag1 at 2025-06-02 uses close of 2025-06-01, after the cutoff "
            "2025-05-31: leakage");
  EXPECT_TRUE(DetectLeakage({lag1}, {{DayUs("2025-05-31"), Days("2025-06-01", 1)}}).empty());
  RegressorLineage lag30{"ma7_lag30", -36, -30};
  EXPECT_TRUE(DetectLeakage({lag30}, {{DayUs("2025-05-31"), Days("2025-06-01", 30)}}).empty());
}

// 2025-01-01..2025-07-19 (200 days): the seed split trains on 160 days (to 2025-06-09) and tests
// on 40 from 2025-06-10.
Frame WithMovingAverages(size_t n) {
  Frame f;
  f.ds = Days("2025-01-01", n);
  for (size_t i = 0; i < n; ++i) {
    f.y.push_back(100 + static_cast<double>(i % 9));
    f.regressors["ma7"].push_back(1000 + static_cast<double>(i));
    f.regressors["ma30"].push_back(2000 + static_cast<double>(i));
  }
  return f;
}

TEST(EvaluateTest, SeedProtocolRefusesLeakyRegressors) {
  SeedOptions o;
  o.regressors = {*DailyFilledLineage("ma7"), *DailyFilledLineage("ma30")};
  std::atomic<int> calls{0};
  NamedModel m{"prophet", [&calls](const Frame&, const Frame&) -> StatusOr<Prediction> {
                 ++calls;
                 return Prediction{};
               }};
  auto ev = SeedProtocol("BTCUSDT", WithMovingAverages(200), m, o);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ev.status().message(),
            "regressor ma7 at 2025-06-10 uses close of 2025-06-10, the day being forecast: "
            "leakage; regressor ma30 at 2025-06-10 uses close of 2025-06-10, the day being "
            "forecast: leakage; pass --allow-leakage to compute the prototype's inflated metrics "
            "anyway");
  EXPECT_EQ(calls.load(), 0);  // refused before any fit

  // Rolling cross-validation with the same regressors is refused too, at the first cutoff.
  CvOptions cv;
  cv.initial_days = 100;
  cv.regressors = o.regressors;
  auto r = CrossValidate("BTCUSDT", WithMovingAverages(200), m, cv);
  ASSERT_FALSE(r.ok());
  // Cutoffs 2025-04-20, 05-20, 06-19 (>= 2025-01-01 + 100 d = 04-11).
  EXPECT_EQ(r.status().message(),
            "regressor ma7 at 2025-04-21 uses close of 2025-04-21, the day being forecast: "
            "leakage; regressor ma30 at 2025-04-21 uses close of 2025-04-21, the day being "
            "forecast: leakage; pass --allow-leakage to compute the prototype's inflated metrics "
            "anyway");
}

TEST(EvaluateTest, SeedProtocolWithAllowLeakageGivesTheModelTheSameDayValues) {
  SeedOptions o;
  o.regressors = {*DailyFilledLineage("ma7"), *DailyFilledLineage("ma30")};
  o.allow_leakage = true;
  Frame seen_history, seen_future;
  NamedModel m{"prophet", [&](const Frame& h, const Frame& f) -> StatusOr<Prediction> {
                 seen_history = h;
                 seen_future = f;
                 Prediction p;
                 p.ds = f.ds;
                 p.yhat.assign(f.ds.size(), 104);
                 p.yhat_lower.assign(f.ds.size(), 100);
                 p.yhat_upper.assign(f.ds.size(), 108);
                 return p;
               }};
  auto ev = SeedProtocol("BTCUSDT", WithMovingAverages(200), m, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_TRUE(ev->leaky());
  EXPECT_EQ(ev->train_days, 160u);
  EXPECT_EQ(ev->test_days, 40u);
  EXPECT_EQ(Dates(ev->cutoffs), (std::vector<std::string>{"2025-06-09"}));
  ASSERT_EQ(seen_history.ds.size(), 160u);
  EXPECT_EQ(FormatDate(seen_history.ds.back()), "2025-06-09");
  ASSERT_EQ(seen_future.ds.size(), 40u);
  EXPECT_EQ(FormatDate(seen_future.ds.front()), "2025-06-10");
  EXPECT_TRUE(seen_future.y.empty());
  EXPECT_EQ(seen_future.regressors["ma7"].front(), 1160.0);  // day index 160
  EXPECT_EQ(seen_future.regressors["ma30"].back(), 2199.0);
  std::vector<std::string> names;
  for (const auto& r : ev->models) names.push_back(r.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"prophet", "naive", "seasonal_naive", "drift", "naive_1step",
                                      "seasonal_naive_1step", "drift_1step"}));
  for (const auto& r : ev->models) {
    ASSERT_EQ(r.metrics.size(), 1u);
    EXPECT_EQ(r.metrics[0].horizon_days, 0);
    EXPECT_EQ(r.metrics[0].n, 40);
  }
  // y cycles 100..108 (i % 9); test days 160..199 are i % 9 = 7, 8, 0, 1, ... The constant
  // forecast 104 is off by |i % 9 - 4|, and inside [100, 108] every day.
  double abs_err = 0;
  for (size_t i = 160; i < 200; ++i) abs_err += std::abs(static_cast<double>(i % 9) - 4);
  EXPECT_DOUBLE_EQ(ev->models[0].metrics[0].mae, abs_err / 40);
  EXPECT_DOUBLE_EQ(ev->models[0].metrics[0].coverage, 1.0);
}

// ---------------------------------------------------------------------------------------------
// Real data: Binance's BTCUSDT daily klines, 2017-08-17..2026-04-29 (3178 days, none missing).

class RealSeriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lk_.Commit("1d", VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT"));
    auto st = batch::RefreshViews(lk_.lake(), lk_.con());
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }
  // A number computed by DuckDB straight from the CSV.
  double CsvScalar(const std::string& sql) {
    auto r = lk_.con().Query(
        "WITH k AS (SELECT column00 AS t, CAST(column04 AS DOUBLE) AS close, "
        "row_number() OVER (ORDER BY column00) AS i FROM read_csv('" +
        Klines("1d/BTCUSDT-1d-*.csv") +
        "', header = false)), r AS (SELECT *, lag(close) OVER (ORDER BY t) AS prev FROM k) " + sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetDouble(0, 0) : NAN;
  }
  SampleLake lk_;
};

TEST_F(RealSeriesTest, LoadsTheCompleteDays) {
  auto s = LoadDailySeries(lk_.Snap(), lk_.con(), "BTCUSDT");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->ds.size(), 3178u);
  EXPECT_EQ(FormatDate(s->ds.front()), "2017-08-17");
  EXPECT_EQ(FormatDate(s->ds.back()), "2026-04-29");
  EXPECT_FALSE(s->dropped_partial_day.has_value());
  EXPECT_EQ(s->y.front(), 4285.08);  // the first close in the file
  EXPECT_EQ(s->y.back(), 75780.0);
  // ma7 on the 7th day is the mean of the first seven closes.
  EXPECT_NEAR(s->ma7[6], CsvScalar("SELECT avg(close) FROM r WHERE i <= 7"), 1e-9);
  auto none = LoadDailySeries(lk_.Snap(), lk_.con(), "FOOUSDT");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(),
            "no prophet_input for FOOUSDT: run cryptolake batch (symbols: BTCUSDT)");
}

TEST_F(RealSeriesTest, SeedProtocolSplitsAtEightyPercent) {
  auto s = LoadDailySeries(lk_.Snap(), lk_.con(), "BTCUSDT");
  ASSERT_TRUE(s.ok());
  auto f = ToFrame(*s, {"ma7", "ma30"});
  ASSERT_TRUE(f.ok());
  SeedOptions o;
  o.regressors = {*DailyFilledLineage("ma7"), *DailyFilledLineage("ma30")};
  auto refused = SeedProtocol("BTCUSDT", *f, NamedModel{"naive", {}}, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "regressor ma7 at 2024-08-02 uses close of 2024-08-02, the day being forecast: "
            "leakage; regressor ma30 at 2024-08-02 uses close of 2024-08-02, the day being "
            "forecast: leakage; pass --allow-leakage to compute the prototype's inflated metrics "
            "anyway");
  o.allow_leakage = true;
  auto ev = SeedProtocol("BTCUSDT", *f, NamedModel{"naive", {}}, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->train_days, 2542u);
  EXPECT_EQ(ev->test_days, 636u);
  EXPECT_EQ(FormatDate(ev->cutoffs[0]), "2024-08-01");  // 2017-08-17 + 2541 days
  // The naive forecast from the split repeats the close of 2024-08-01 (row 2542 of the file).
  const ModelResult* naive = ev->Find("naive");
  ASSERT_NE(naive, nullptr);
  EXPECT_EQ(naive->points.front().yhat, CsvScalar("SELECT close FROM r WHERE i = 2542"));
  // "tomorrow = today" over the test days, straight from the file.
  const ModelResult* one = ev->Find("naive_1step");
  ASSERT_NE(one, nullptr);
  double mape = CsvScalar("SELECT avg(abs(prev - close) / close) FROM r WHERE i > 2542");
  EXPECT_NEAR(one->metrics[0].mape, mape, 1e-12 * mape);
  double mae = CsvScalar("SELECT avg(abs(prev - close)) FROM r WHERE i > 2542");
  EXPECT_NEAR(one->metrics[0].mae, mae, 1e-9 * mae);
}

TEST_F(RealSeriesTest, CrossValidationCutoffsOnTheRealSeries) {
  auto s = LoadDailySeries(lk_.Snap(), lk_.con(), "BTCUSDT");
  ASSERT_TRUE(s.ok());
  auto f = ToFrame(*s);
  CvOptions o;  // 730d / 30d / 30d
  o.threads = 2;
  auto ev = CrossValidate("BTCUSDT", *f, NamedModel{"naive", {}}, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  // Last cutoff 2026-04-29 - 30 d = 2026-03-30; 3147 days after the first day, 2417 after
  // first + 730 d: 2417 / 30 = 80 steps back, 81 cutoffs, the first 2026-03-30 - 2400 d.
  ASSERT_EQ(ev->cutoffs.size(), 81u);
  EXPECT_EQ(FormatDate(ev->cutoffs.back()), "2026-03-30");
  EXPECT_EQ(FormatDate(ev->cutoffs.front()), "2019-09-03");
  EXPECT_EQ(ev->Find("naive")->points.size(), 81u * 30);
  // The naive forecast at horizon 1 is yesterday's close: its mae over the cutoffs is the mean
  // |close(c + 1) - close(c)| over the 81 cutoff days (rows 748, 778, ... of the file).
  double mae1 = CsvScalar(
      "SELECT avg(abs(close - prev)) FROM r WHERE i >= 749 AND (i - 749) % 30 = 0 AND i <= 3149");
  EXPECT_NEAR(Row(*ev->Find("naive"), 1).mae, mae1, 1e-9 * mae1);
}

TEST(LoadDailySeriesTest, DropsAPartialLastDay) {
  SampleLake lk;
  // Daily klines to 2025-05-20, then the 1m klines of 2025-05-21 until 12:00 (720 minutes).
  lk.Commit("1d", VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT",
                               fmt::format("open_time < {}", DayMs("2025-05-21"))));
  lk.Commit("1m", testing::OneMinuteCsvSql(
                      Klines(testing::kBtc1m2025), "BTCUSDT",
                      fmt::format("open_time >= {} AND open_time < {}", DayMs("2025-05-21"),
                                  DayMs("2025-05-21") + 720 * 60000)));
  ASSERT_TRUE(batch::RefreshViews(lk.lake(), lk.con()).ok());
  auto s = LoadDailySeries(lk.Snap(), lk.con(), "BTCUSDT");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->dropped_partial_day.has_value());
  EXPECT_EQ(FormatDate(*s->dropped_partial_day), "2025-05-21");
  EXPECT_EQ(FormatDate(s->ds.back()), "2025-05-20");
  EXPECT_EQ(s->minutes_present.back(), 1440);
}

}  // namespace
}  // namespace cryptolake::forecast
