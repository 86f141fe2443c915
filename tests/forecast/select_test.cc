// Selection by nested CV, conformal intervals and the median ensemble (forecast/select.h), on
// small series whose answers are known exactly.
#include "forecast/select.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/time.h"

namespace cryptolake::forecast {
namespace {

constexpr Micros kDay0 = 1735689600000000;  // 2025-01-01

Frame Days(const std::vector<double>& y) {
  Frame f;
  for (size_t i = 0; i < y.size(); ++i) {
    f.ds.push_back(kDay0 + static_cast<Micros>(i) * kMicrosPerDay);
    f.y.push_back(y[i]);
  }
  return f;
}

TEST(SelectTest, MedianPathIsTheDayByDayMedianWithoutABand) {
  PathForecast a{{1, 10, 5}, {0, 0, 0}, {2, 2, 2}};
  PathForecast b{{3, 20, 4}, {}, {}};
  PathForecast c{{2, 30, NAN}, {}, {}};
  PathForecast odd = MedianPath({a, b, c}, 3);
  EXPECT_EQ(odd.yhat, (std::vector<double>{2, 20, 4.5}));  // day 3: NaN left out, mean of two
  ASSERT_EQ(odd.lower.size(), 3u);
  EXPECT_TRUE(std::isnan(odd.lower[0]) && std::isnan(odd.upper[2]));
  PathForecast even = MedianPath({a, b}, 2);
  EXPECT_EQ(even.yhat, (std::vector<double>{2, 15}));
}

TEST(SelectTest, EnsembleIsTheMedianOfItsRegisteredMembers) {
  auto m = MakeModel("ensemble");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->name(), "ensemble");
  EXPECT_EQ((*m)->complexity(), 5);
  // 40 closes 100 exp(0.01 t + 0.02 sin t): long enough for every member (arima needs 30), noisy
  // enough that each fits; the members are fitted here one by one the same way.
  std::vector<double> y;
  for (int t = 0; t < 40; ++t) y.push_back(100 * std::exp(0.01 * t + 0.02 * std::sin(t)));
  Frame hist = Days(y);
  EXPECT_EQ((*m)->min_history(), 30);  // arima's, the most any member needs
  auto members = EnsembleMembers();
  ASSERT_GE(members.size(), 2u);
  EXPECT_EQ(members[0], "naive");
  EXPECT_EQ(members[1], "drift");
  std::vector<PathForecast> paths;
  for (const auto& name : members) {
    auto mm = MakeModel(name);
    ASSERT_TRUE(mm.ok());
    auto fit = (*mm)->Fit(hist);
    ASSERT_TRUE(fit.ok()) << name << ": " << fit.status().ToString();
    paths.push_back((*fit)->Predict(3));
  }
  auto fit = (*m)->Fit(hist);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  PathForecast p = (*fit)->Predict(3);
  EXPECT_EQ(p.yhat, MedianPath(paths, 3).yhat);
  EXPECT_TRUE(std::isnan(p.lower[0]) && std::isnan(p.upper[0]));
  ASSERT_EQ(members.size(), 5u);  // naive, drift, ets, theta, arima: the middle of five
  std::vector<double> day1;
  for (const auto& q : paths) day1.push_back(q.yhat[0]);
  std::sort(day1.begin(), day1.end());
  EXPECT_EQ(p.yhat[0], day1[2]);
}

TEST(SelectTest, TheMarginKeepsTheSimplerModel) {
  std::vector<Candidate> c = {{"naive", 0, 1.00}, {"drift", 1, 0.985}, {"ets", 2, 0.97}};
  // 2% margin: the bar is 0.98; ets (0.97) clears it, drift (0.985) does not.
  Choice two = Choose(c, 0.02);
  EXPECT_EQ(two.model, "ets");
  EXPECT_DOUBLE_EQ(two.mase, 0.97);
  EXPECT_EQ(two.runner_up, "drift");
  EXPECT_DOUBLE_EQ(two.runner_up_mase, 0.985);
  EXPECT_EQ(two.why, "ets: MASE 0.970, 3.0% below naive's 1.000 (margin 2%)");
  // 5% margin: the bar is 0.95; nobody clears it, naive is kept.
  Choice five = Choose(c, 0.05);
  EXPECT_EQ(five.model, "naive");
  EXPECT_EQ(five.runner_up, "ets");
  EXPECT_EQ(five.why, "naive kept: ets's MASE 0.970 is not 5% below naive's 1.000");
  // No margin: the lowest wins; a tie goes to the simpler.
  EXPECT_EQ(Choose({{"naive", 0, 1.0}, {"theta", 3, 0.9}, {"drift", 1, 0.9}}, 0).model, "drift");
  // Naive the best: kept, with the runner-up named.
  Choice n = Choose({{"naive", 0, 0.95}, {"drift", 1, 0.99}}, 0.02);
  EXPECT_EQ(n.model, "naive");
  EXPECT_EQ(n.why, "naive: the lowest MASE, 0.950");
  // The sign test: 10% lower MASE, but better on only 2 of 4 cutoffs: naive kept; 3 of 4
  // (75% > 70%): drift.
  Choice luck =
      Choose({{"naive", 0, 1.0, {1, 1, 1, 1}}, {"drift", 1, 0.9, {0.5, 0.9, 1.1, 1.1}}}, 0.02, 0.7);
  EXPECT_EQ(luck.model, "naive");
  EXPECT_EQ(luck.why,
            "naive kept: drift's MASE 0.900 is 10.0% below naive's 1.000 but better on only 50% "
            "of the cutoffs");
  Choice steady =
      Choose({{"naive", 0, 1.0, {1, 1, 1, 1}}, {"drift", 1, 0.9, {0.7, 0.9, 0.9, 1.1}}}, 0.02, 0.7);
  EXPECT_EQ(steady.model, "drift");
  EXPECT_EQ(steady.why,
            "drift: MASE 0.900, 10.0% below naive's 1.000 (margin 2%), better on 75% of the "
            "cutoffs");
  // No score yet: the simplest.
  Choice none = Choose({{"drift", 1, NAN}, {"naive", 0, NAN}}, 0.02);
  EXPECT_EQ(none.model, "naive");
  EXPECT_EQ(none.why, "naive: no inner-CV point yet, the simplest model is kept");
}

TEST(SelectTest, ConformalQuantileIsTheRankCeilNPlusOneTimesWidth) {
  std::vector<double> s = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(ConformalQuantile(s, 0.8), 9);                       // ceil(11 * 0.8) = 9th smallest
  EXPECT_EQ(ConformalQuantile(s, 0.5), 6);                       // ceil(5.5) = 6
  EXPECT_EQ(ConformalQuantile({0.3, 0.1, 0.2, 0.4}, 0.8), 0.4);  // (4 + 1) 0.8 = 4 exactly
  EXPECT_TRUE(std::isnan(ConformalQuantile({0.3, 0.1, 0.2}, 0.8)));  // rank 4 > 3 scores
  EXPECT_TRUE(std::isnan(ConformalQuantile({}, 0.8)));
}

TEST(SelectTest, HorizonWindowAndEwmaVolatility) {
  EXPECT_EQ(HorizonWindow(1, 30), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(HorizonWindow(7, 30), (std::vector<int>{5, 6, 7, 8, 9}));
  EXPECT_EQ(HorizonWindow(30, 30), (std::vector<int>{23, 24, 25, 26, 27, 28, 29, 30}));
  EXPECT_EQ(HorizonWindow(2, 3), (std::vector<int>{1, 2, 3}));
  // Returns +ln 2, -ln 2, 0: warm-up = all 3 (n - 1 < 30): v = running RMS, then the warm value.
  std::vector<double> v = EwmaVolatility({1, 2, 1, 1});
  const double l2 = std::log(2.0);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_NEAR(v[1], l2, 1e-15);
  EXPECT_NEAR(v[2], l2, 1e-15);
  EXPECT_NEAR(v[3], l2 * std::sqrt(2.0 / 3), 1e-15);
  // After the warm-up: var' = 0.94 var + 0.06 r^2.
  std::vector<double> y(32, 100);
  y[1] = 200;  // r1 = ln 2, r2 = -ln 2, then 0 up to r30; r31 = ln 1.5
  y[31] = 150;
  std::vector<double> w = EwmaVolatility(y);
  const double var30 = 2 * l2 * l2 / 30;
  EXPECT_NEAR(w[30], std::sqrt(var30), 1e-15);
  EXPECT_NEAR(w[31], std::sqrt(0.94 * var30 + 0.06 * std::log(1.5) * std::log(1.5)), 1e-15);
}

// y doubles in log terms at a constant rate: drift forecasts it exactly, naive lags.
TEST(SelectTest, SuiteCvSelectsDriftOnASteadyTrendAndItsBandIsExact) {
  std::vector<double> y;
  for (int t = 0; t < 200; ++t) y.push_back(100 * std::pow(1.01, t));
  Frame f = Days(y);
  SuiteOptions o;
  o.initial_days = 100;
  o.period_days = 10;
  o.horizon_days = 10;
  o.inner_cutoffs = 3;
  o.calibration_cutoffs = 4;
  o.models = {"naive", "drift"};
  o.threads = 2;
  auto cv = RunSuiteCv("UPUSDT", f, o);
  ASSERT_TRUE(cv.ok()) << cv.status().ToString();
  // Grid: day 189 (index, = 200 - 1 - 10) back by 10 while day >= 100 (9 outer cutoffs), then
  // 4 more (max(inner, calibration)): days 69..189.
  ASSERT_EQ(cv->grid.size(), 13u);
  EXPECT_EQ(cv->first_outer, 4u);
  EXPECT_EQ(cv->end.front(), 70u);
  EXPECT_EQ(cv->end.back(), 190u);
  EXPECT_EQ(cv->grid[cv->first_outer], kDay0 + 109 * kMicrosPerDay);
  auto today = SelectAt(*cv, 200);
  ASSERT_EQ(today.size(), 10u);
  for (const auto& c : today) {
    EXPECT_EQ(c.model, "drift");
    EXPECT_NEAR(c.mase, 0, 1e-9);
    EXPECT_EQ(c.runner_up, "naive");
  }
  // naive's MASE at h = 1 pooled over h = 1..3 from the last 3 cutoffs: |y(c) - y(c+h)| / s,
  // s = mean |y(t) - y(t-1)| over the history of c.
  double sum = 0;
  for (size_t e : {170u, 180u, 190u}) {
    double s = NaiveScale(y, e);
    for (int h = 1; h <= 3; ++h) sum += std::abs(y[e - 1] - y[e - 1 + h]) / s;
  }
  EXPECT_NEAR(today[0].runner_up_mase, sum / 9, 1e-12);
  // Drift's errors are 0 (to rounding): its conformal band is the point itself.
  EXPECT_NEAR(ConformalQAt(*cv, 1, 200, 1), 0, 1e-9);
  // naive's score at horizon h is h ln 1.01 / (v sqrt(h)) = sqrt(h) (every return is ln 1.01,
  // so v = ln 1.01): calibrated on horizon h alone, q = sqrt(h) exactly (horizons pooled
  // around h would give sqrt(3) at h = 1 and 3 at h = 7).
  EXPECT_NEAR(ConformalQAt(*cv, 0, 200, 1), 1.0, 1e-9);
  EXPECT_NEAR(ConformalQAt(*cv, 0, 200, 7), std::sqrt(7.0), 1e-9);
  EXPECT_NEAR(ConformalQAt(*cv, 0, 200, 10), std::sqrt(10.0), 1e-9);
  Evaluation ev = NestedEvaluation(*cv);
  EXPECT_EQ(ev.primary, kProcedureName);
  EXPECT_EQ(ev.cutoffs.size(), 9u);
  ASSERT_EQ(ev.models.size(), 3u);
  EXPECT_EQ(ev.models[2].name, "selected (nested CV)");
  EXPECT_EQ(ev.models[2].points.size(), 9u * 10);
  // The procedure chose drift everywhere: its points are drift's.
  for (size_t i = 0; i < ev.models[2].points.size(); ++i) {
    EXPECT_EQ(ev.models[2].points[i].yhat, ev.models[1].points[i].yhat);
  }
  ASSERT_EQ(ev.selection.size(), 2u);  // 1d and 7d (the horizon is 10 days)
  EXPECT_EQ(ev.selection[0].substr(0, 17), "1d: drift: MASE 0");
  // Too short for any outer cutoff: an error naming the days.
  auto short_cv = RunSuiteCv("UPUSDT", Days({1, 2, 3, 4, 5}), o);
  EXPECT_FALSE(short_cv.ok());
  EXPECT_EQ(short_cv.status().message(),
            "initial 100d + horizon 10d leave no cutoff in 2025-01-01..2025-01-05 (5 days)");
  // ...unless outer cutoffs are not required (fit/predict on a short history).
  auto fit_cv = RunSuiteCv("UPUSDT", Days({1, 2, 3, 4, 5}), o, /*outer_required=*/false);
  ASSERT_TRUE(fit_cv.ok());
  EXPECT_TRUE(fit_cv->grid.empty());
  EXPECT_EQ(SelectAt(*fit_cv, 5)[0].model, "naive");
}

}  // namespace
}  // namespace cryptolake::forecast
