// --model auto's forecast (forecast/suite_forecast.h) on a steady trend that drift forecasts
// exactly, and on a history too short for any CV point.
#include "forecast/suite_forecast.h"

#include <gtest/gtest.h>

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

SuiteOptions Options() {
  SuiteOptions o;
  o.initial_days = 100;
  o.period_days = 10;
  o.horizon_days = 10;
  o.inner_cutoffs = 3;
  o.calibration_cutoffs = 4;
  o.models = {"naive", "drift"};
  o.threads = 2;
  return o;
}

TEST(SuiteForecastTest, DriftOnASteadyTrendWithItsZeroWidthBand) {
  std::vector<double> y;
  for (int t = 0; t < 200; ++t) y.push_back(100 * std::pow(1.01, t));
  const Frame f = Days(y);
  auto cv = RunSuiteCv("UPUSDT", f, Options(), /*outer_required=*/false);
  ASSERT_TRUE(cv.ok()) << cv.status().ToString();
  const std::vector<Micros> future = FutureDays(f.ds.back(), 12);
  auto s = ForecastSuite(*cv, f, future, {12, 0.8, 0, {"drift", "theta"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Forecast& fc = s->forecast;
  EXPECT_EQ(fc.symbol, "UPUSDT");
  EXPECT_EQ(fc.history.y, y);
  // selected, the suite's two, then theta (drift is in the suite already).
  ASSERT_EQ(fc.models.size(), 4u);
  EXPECT_EQ(fc.models[0].name, "selected");
  EXPECT_EQ(fc.models[1].name, "naive");
  EXPECT_EQ(fc.models[2].name, "drift");
  EXPECT_EQ(fc.models[3].name, "theta");
  EXPECT_EQ(fc.models[3].description.substr(fc.models[3].description.size() - 16),
            " (not in the CV)");
  const Prediction& rows = fc.models[0].prediction;
  ASSERT_EQ(rows.ds, future);
  ASSERT_EQ(rows.yhat.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    // Drift's own forecast, the trend continued; its conformal band has zero width (q = 0).
    EXPECT_EQ(rows.yhat[i], fc.models[2].prediction.yhat[i]) << i;
    EXPECT_NEAR(rows.yhat[i] / (100 * std::pow(1.01, 200 + static_cast<double>(i))), 1, 1e-9);
    EXPECT_NEAR(rows.yhat_lower[i] / rows.yhat[i], 1, 1e-8) << i;
    EXPECT_NEAR(rows.yhat_upper[i] / rows.yhat[i], 1, 1e-8) << i;
  }
  ASSERT_TRUE(fc.selection.has_value());
  const SuiteSelection& sel = *fc.selection;
  EXPECT_EQ(sel.interval, "conformal");
  EXPECT_EQ(sel.row_models, std::vector<std::string>(12, "drift"));  // days 11, 12: day 10's
  ASSERT_EQ(sel.by_horizon.size(), 2u);  // 1 and 7 (30 is beyond the 10-day horizon)
  EXPECT_EQ(sel.by_horizon[0].first, 1);
  EXPECT_EQ(sel.by_horizon[1].first, 7);
  EXPECT_EQ(sel.why.substr(0, 36), "drift at every horizon. At 1 day: dr");
  EXPECT_EQ(sel.rule, SelectionRule(0.02, 0.7));
  EXPECT_EQ(sel.initial_days, 100);
  EXPECT_EQ(sel.period_days, 10);
  EXPECT_EQ(sel.horizon_days, 10);
  EXPECT_EQ(sel.cutoffs, 9);
  ASSERT_EQ(sel.leaderboard.size(), 3u);
  EXPECT_EQ(sel.leaderboard[1].model, "drift");
  EXPECT_TRUE(sel.leaderboard[1].selected);
  EXPECT_FALSE(sel.leaderboard[0].selected);
  EXPECT_EQ(sel.leaderboard[0].horizons.size(), 2u);  // 1 and 7 days
  EXPECT_EQ(s->evaluation.cutoffs.size(), 9u);
}

TEST(SuiteForecastTest, TooShortForTheCvTakesNaiveWithItsOwnBand) {
  const Frame f = Days({10, 11, 12, 11, 13});
  auto cv = RunSuiteCv("X", f, Options(), /*outer_required=*/false);
  ASSERT_TRUE(cv.ok()) << cv.status().ToString();
  const std::vector<Micros> future = FutureDays(f.ds.back(), 3);
  auto s = ForecastSuite(*cv, f, future, {3, 0.8, 0, {}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Forecast& fc = s->forecast;
  const SuiteSelection& sel = *fc.selection;
  EXPECT_EQ(sel.interval, "model");  // no conformal quantile without CV points
  EXPECT_EQ(sel.row_models, std::vector<std::string>(3, "naive"));
  ASSERT_EQ(sel.by_horizon.size(), 1u);  // 7 and 30 are beyond the 3 days
  EXPECT_EQ(sel.by_horizon[0].second.why,
            "naive: no inner-CV point yet, the simplest model is kept");
  EXPECT_EQ(sel.why,
            "naive at every horizon. At 1 day: naive: no inner-CV point yet, the simplest model "
            "is kept.");
  EXPECT_TRUE(sel.leaderboard.empty());
  EXPECT_TRUE(s->evaluation.cutoffs.empty());
  // The rows are naive's own forecast and band.
  EXPECT_EQ(fc.models[0].prediction.yhat, fc.models[1].prediction.yhat);
  EXPECT_EQ(fc.models[0].prediction.yhat_lower, fc.models[1].prediction.yhat_lower);
  EXPECT_EQ(fc.models[0].prediction.yhat_upper, fc.models[1].prediction.yhat_upper);
  EXPECT_EQ(fc.models[0].prediction.yhat, std::vector<double>(3, 13.0));
}

TEST(SuiteForecastTest, AnUnknownExtraModelFails) {
  const Frame f = Days({10, 11, 12, 11, 13});
  auto cv = RunSuiteCv("X", f, Options(), /*outer_required=*/false);
  ASSERT_TRUE(cv.ok());
  auto s = ForecastSuite(*cv, f, FutureDays(f.ds.back(), 3), {3, 0.8, 0, {"nope"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().substr(0, 22), "unknown model 'nope': ");
}

}  // namespace
}  // namespace cryptolake::forecast
