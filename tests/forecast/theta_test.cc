// The native AutoTheta (forecast/theta.h): the standard theta method computed by hand from its
// definition, and statsforecast's fits of each theta model on real series
// (fixtures/statsforecast_reference.json).
#include "forecast/theta.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/time.h"
#include "forecast/models.h"
#include "statsforecast_reference.h"

namespace cryptolake::forecast {
namespace {

using testing::LogCloses;
using testing::RelDiff;
using testing::StatsforecastReference;

// Tolerances against statsforecast (relative): same algorithm, same Nelder-Mead path.
constexpr double kParamTol = 1e-6;
constexpr double kValueTol = 1e-8;

TEST(ThetaTest, StandardThetaIsSesPlusHalfTheTrendSlope) {
  // STM (theta = 2): the one-step forecast from the end is the SES level plus half the linear
  // trend (A, B: the least-squares line of y on t = 1..n) as Fiorucci et al. write it, and every
  // later day adds exactly B / 2 (the level follows the forecasts).
  const std::vector<double> y = {3, 5, 4, 6, 8, 7, 9, 10};
  const double n = static_cast<double>(y.size()), alpha = 0.4, ell0 = 2.5;
  double tm = (n + 1) / 2, ym = 0;
  for (double v : y) ym += v / n;
  double sxy = 0, sxx = 0;
  for (size_t t = 0; t < y.size(); ++t) {
    sxy += (t + 1 - tm) * (y[t] - ym);
    sxx += (t + 1 - tm) * (t + 1 - tm);
  }
  const double b = sxy / sxx, a = ym - b * tm;
  double level = ell0;
  for (double v : y) level = alpha * v + (1 - alpha) * level;  // SES
  const double f1 =
      level + 0.5 * (a * std::pow(1 - alpha, n) + b * (1 - std::pow(1 - alpha, n + 1)) / alpha);

  auto fit = EvaluateTheta(y, ThetaType::kSTM, ell0, alpha, 2.0);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NEAR(fit->last[0], level, 1e-12);
  EXPECT_NEAR(fit->last[2], a, 1e-12);
  EXPECT_NEAR(fit->last[3], b, 1e-12);
  std::vector<double> f = ForecastTheta(*fit, 5);
  for (int h = 1; h <= 5; ++h) EXPECT_NEAR(f[h - 1], f1 + (h - 1) * b / 2, 1e-12) << h;
  // The in-sample criterion: sum of squared one-step errors after the first 3, over mean|y|.
  double sse = 0;
  for (size_t i = 3; i < y.size(); ++i) sse += fit->residuals[i] * fit->residuals[i];
  EXPECT_NEAR(fit->mse, sse / ym, 1e-12);
  // The first one-step forecast: mu_0 = ell0 + (A + B) / 2.
  EXPECT_NEAR(fit->residuals[0], y[0] - (ell0 + (a + b) / 2), 1e-12);
}

TEST(ThetaTest, MatchesStatsforecastOnRealSeries) {
  auto ref = StatsforecastReference();
  ASSERT_TRUE(ref.is_object());
  const std::vector<std::pair<std::string, ThetaType>> models = {{"STM", ThetaType::kSTM},
                                                                 {"OTM", ThetaType::kOTM},
                                                                 {"DSTM", ThetaType::kDSTM},
                                                                 {"DOTM", ThetaType::kDOTM}};
  for (const auto& [symbol, s] : ref["series"].items()) {
    SCOPED_TRACE(symbol);
    std::vector<double> y = LogCloses(s["file"], s["days"]);
    for (const auto& [key, type] : models) {
      SCOPED_TRACE(key);
      const auto& e = s["theta"][key];
      auto fit = FitTheta(y, type);
      ASSERT_TRUE(fit.ok()) << fit.status().ToString();
      EXPECT_EQ(fit->iterations, e["iterations"].get<int>());
      EXPECT_LT(RelDiff(fit->initial_smoothed, e["initial_smoothed"]), kParamTol);
      EXPECT_LT(RelDiff(fit->alpha, e["alpha"]), kParamTol);
      EXPECT_LT(RelDiff(fit->theta, e["theta"]), kParamTol);
      EXPECT_LT(RelDiff(fit->mse, e["mse"]), kValueTol);
      std::vector<double> f = ForecastTheta(*fit, 30);
      for (int h : {0, 6, 29}) EXPECT_LT(RelDiff(f[h], e["mean"][h]), kValueTol) << h + 1;
    }
    auto best = AutoTheta(y);
    ASSERT_TRUE(best.ok());
    EXPECT_EQ(best->name(), s["theta_auto"].get<std::string>());
  }
}

TEST(ThetaTest, SuiteModelIsSeededAndBandsTheForecast) {
  auto ref = StatsforecastReference();
  ASSERT_TRUE(ref.is_object());
  const auto& s = ref["series"]["ETHUSDT"];
  std::vector<double> logy = LogCloses(s["file"], s["days"]);
  Frame history;
  for (size_t i = 0; i < logy.size(); ++i) {
    history.ds.push_back(1502928000000000 + static_cast<Micros>(i) * kMicrosPerDay);
    history.y.push_back(std::exp(logy[i]));
  }
  auto model = MakeModel("theta");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto fit = (*model)->Fit(history, {0.8, 7});
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  PathForecast p = (*fit)->Predict(30);
  const auto& e = s["theta"][s["theta_auto"].get<std::string>()];
  for (int h = 0; h < 30; ++h) {
    EXPECT_LT(RelDiff(p.yhat[h], std::exp(e["mean"][h].get<double>())), kValueTol);
    EXPECT_LT(p.lower[h], p.yhat[h]);
    EXPECT_GT(p.upper[h], p.yhat[h]);
  }
  EXPECT_GT(p.upper[29] - p.lower[29], p.upper[0] - p.lower[0]);
  auto again = (*model)->Fit(history, {0.8, 7});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Predict(30).lower, p.lower);
  EXPECT_EQ((*fit)->Describe().substr(0, 22), "Theta DOTM on log y, a");
}

TEST(ThetaTest, ExactErrors) {
  std::vector<double> three = {1, 2, 3};
  EXPECT_EQ(AutoTheta(three).status().message(), "Theta: 3 values, at least 4 are needed");
  std::vector<double> bad = {1, 2, INFINITY, 4};
  EXPECT_EQ(FitTheta(bad, ThetaType::kOTM).status().message(),
            "Theta: y is not finite at index 2: inf");
  auto model = MakeModel("theta");
  ASSERT_TRUE(model.ok());
  Frame h;
  for (int i = 0; i < 3; ++i) {
    h.ds.push_back(1735689600000000 + i * kMicrosPerDay);
    h.y.push_back(100 + i);
  }
  EXPECT_EQ((*model)->Fit(h, {}).status().message(),
            "theta: history has 3 days, at least 4 are needed");
}

}  // namespace
}  // namespace cryptolake::forecast
