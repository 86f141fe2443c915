#include "forecast/models.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/time.h"

namespace cryptolake::forecast {
namespace {

Frame Days(const std::vector<double>& y) {
  Frame f;
  Micros d0 = 1735689600000000;  // 2025-01-01
  for (size_t i = 0; i < y.size(); ++i) {
    f.ds.push_back(d0 + static_cast<Micros>(i) * kMicrosPerDay);
    f.y.push_back(y[i]);
  }
  return f;
}

TEST(ModelsTest, NaiveRepeatsTheLastCloseWithARandomWalkBand) {
  auto m = MakeModel("naive");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // log returns +ln(1.1), -ln(1.1): sigma = ln(1.1), z(0.8) = 1.2815515655446004.
  auto fit = (*m)->Fit(Days({100, 110, 100}), {0.8, 0});
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  PathForecast p = (*fit)->Predict(4);
  ASSERT_EQ(p.yhat.size(), 4u);
  for (double v : p.yhat) EXPECT_DOUBLE_EQ(v, 100);
  double s = std::log(1.1) * 1.2815515655446004;
  EXPECT_NEAR(p.lower[0], 100 * std::exp(-s), 1e-9);
  EXPECT_NEAR(p.upper[3], 100 * std::exp(2 * s), 1e-9);
}

TEST(ModelsTest, DriftCompoundsTheMeanLogReturn) {
  auto m = MakeModel("drift");
  ASSERT_TRUE(m.ok());
  auto fit = (*m)->Fit(Days({100, 110, 121}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  PathForecast p = (*fit)->Predict(2);
  EXPECT_NEAR(p.yhat[0], 133.1, 1e-9);
  EXPECT_NEAR(p.yhat[1], 146.41, 1e-9);
  // Every log return equals the drift: no residual, the band collapses onto the forecast.
  EXPECT_NEAR(p.lower[1], 146.41, 1e-9);
  EXPECT_NEAR(p.upper[1], 146.41, 1e-9);
}

TEST(ModelsTest, BadHistoriesAndNamesHaveExactErrors) {
  auto m = MakeModel("drift");
  ASSERT_TRUE(m.ok());
  auto one = (*m)->Fit(Days({100}));
  EXPECT_EQ(one.status().message(), "drift: history has 1 days, at least 2 are needed");
  auto neg = (*m)->Fit(Days({100, -1, 3}));
  EXPECT_EQ(neg.status().message(), "drift: y is not a positive finite number at 2025-01-02: -1");
  Frame gap = Days({1, 2, 3});
  gap.ds[2] += kMicrosPerDay;
  EXPECT_EQ((*m)->Fit(gap).status().message(),
            "drift: days not contiguous (2025-01-04 follows 2025-01-02)");
  auto bad = MakeModel("lstm");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("unknown model 'lstm': expected one of naive, drift", 0),
            0u)
      << bad.status().message();
}

}  // namespace
}  // namespace cryptolake::forecast
