// Prophet's features beyond its defaults (issue 13), on known answers: flat growth, the logistic
// trend and its continuity offsets computed by hand, conditional seasonalities, explicit
// changepoints, changepoint_range and missing y, and their exact error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "forecast/prophet.h"

namespace cryptolake::forecast {
namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;
const Micros kStart = MicrosFromCivil(2020, 1, 1);

template <typename F>
Frame Daily(int n, F f) {
  Frame fr;
  for (int i = 0; i < n; ++i) {
    fr.ds.push_back(kStart + i * kMicrosPerDay);
    fr.y.push_back(f(i));
  }
  return fr;
}

// The history's days and `periods` more.
Frame AllDays(const Frame& history, int periods) {
  Frame f;
  f.ds = history.ds;
  for (Micros d : FutureDays(history.ds.back(), periods)) f.ds.push_back(d);
  return f;
}

ProphetOptions NoSeasonality() {
  ProphetOptions o;
  o.yearly_seasonality = false;
  o.weekly_seasonality = false;
  o.daily_seasonality = false;
  o.uncertainty_samples = 0;
  return o;
}

TEST(ProphetFeaturesTest, FlatGrowthOnAConstantSeriesIsThatConstant) {
  Frame h = Daily(60, [](int) { return 5.0; });
  ProphetOptions o = NoSeasonality();
  o.growth = "flat";
  o.uncertainty_samples = 100;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // As Prophet: a constant y is not optimized; flat_growth_init gives k = 0, m = mean(y_scaled).
  EXPECT_EQ(m->params().k, 0.0);
  EXPECT_EQ(m->params().m, 1.0);
  EXPECT_EQ(m->params().y_scale, 5.0);
  EXPECT_DOUBLE_EQ(m->params().sigma_obs, 1e-9);
  Frame all = AllDays(h, 30);
  auto p = m->Predict(all);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (size_t i = 0; i < all.ds.size(); ++i) {
    EXPECT_EQ(p->yhat[i], 5.0) << i;
    EXPECT_EQ(p->trend[i], 5.0) << i;
    EXPECT_NEAR(p->yhat_lower[i], 5.0, 1e-7) << i;  // noise only (sigma 1e-9 of the scale)
    EXPECT_NEAR(p->yhat_upper[i], 5.0, 1e-7) << i;
  }
}

TEST(ProphetFeaturesTest, FlatGrowthIgnoresATrendAndFitsItsLevel) {
  // A rising line: flat growth fits a level, k and every delta fit to exactly 0 (their priors
  // only), and the trend is that level everywhere.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 0.5);
  Frame h = Daily(200, [&](int i) { return 100 + 0.1 * i + noise(rng); });
  ProphetOptions o = NoSeasonality();
  o.growth = "flat";
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& pr = m->params();
  EXPECT_NEAR(pr.k, 0.0, 1e-9);
  for (double d : pr.delta) EXPECT_EQ(d, 0.0);
  double mean = 0;
  for (double y : h.y) mean += y / static_cast<double>(h.y.size());
  // The MAP level: the mean, shrunk by m ~ N(0, 5) (negligibly: m / 25 against n / sigma^2).
  EXPECT_NEAR(pr.m * pr.y_scale, mean, 1e-3);
  auto p = m->Predict(AllDays(h, 10));
  ASSERT_TRUE(p.ok());
  for (double t : p->trend) EXPECT_EQ(t, pr.m * pr.y_scale);
}

// A clean logistic curve: cap 10, y = cap / (1 + exp(-r (d - d0))) per day d.
Frame LogisticCurve(int n, double r, double d0, double noise_sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, noise_sd);
  Frame h = Daily(n, [&](int i) { return 10 / (1 + std::exp(-r * (i - d0))) + noise(rng); });
  h.regressors["cap"].assign(h.ds.size(), 10.0);
  return h;
}

TEST(ProphetFeaturesTest, LogisticTrendIsItsFormulaWithTheContinuityOffset) {
  Frame h = LogisticCurve(300, 0.03, 150, 0.01, 5);
  ProphetOptions o = NoSeasonality();
  o.growth = "logistic";
  o.changepoints = std::vector<Micros>{kStart + 120 * kMicrosPerDay};
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& pr = m->params();
  ASSERT_EQ(pr.changepoints_t.size(), 1u);
  EXPECT_DOUBLE_EQ(pr.changepoints_t[0], 120.0 / 299.0);
  // The curve itself: rate 0.03 per day = 0.03 * 299 per unit of t, midpoint 150 / 299. y_scale
  // is max y, so the scaled cap is 10 / y_scale.
  const double y_scale = pr.y_scale;
  EXPECT_NEAR(pr.k, 0.03 * 299, 0.05);
  EXPECT_NEAR(pr.m, 150.0 / 299.0, 1e-3);

  Frame all = AllDays(h, 30);
  all.regressors["cap"].assign(all.ds.size(), 10.0);
  auto p = m->Predict(all);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // By hand, Prophet's piecewise_logistic: before the changepoint rate k, offset m; after it
  // rate k1 = k + delta, offset m1 = m + gamma, gamma = (s - m) (1 - k / k1).
  const double s = pr.changepoints_t[0], k1 = pr.k + pr.delta[0];
  const double m1 = pr.m + (s - pr.m) * (1 - pr.k / k1);
  const double cap_scaled = 10 / y_scale;
  for (size_t i : {0u, 50u, 119u, 120u, 121u, 200u, 299u, 329u}) {
    const double t = static_cast<double>(i) / 299.0;
    const double want = t < s ? cap_scaled / (1 + std::exp(-pr.k * (t - pr.m)))
                              : cap_scaled / (1 + std::exp(-k1 * (t - m1)));
    EXPECT_NEAR(p->trend[i], want * y_scale, 1e-12) << i;
    EXPECT_NEAR(p->yhat[i], p->trend[i], 1e-12) << i;  // no seasonality
  }
  // Continuous at the changepoint whatever delta is: gamma keeps both pieces equal at s.
  EXPECT_NEAR(cap_scaled / (1 + std::exp(-pr.k * (s - pr.m))),
              cap_scaled / (1 + std::exp(-k1 * (s - m1))), 1e-12);
  // The fit follows the curve (noise 0.01).
  for (size_t i = 0; i < h.ds.size(); ++i) {
    EXPECT_NEAR(p->yhat[i], 10 / (1 + std::exp(-0.03 * (static_cast<double>(i) - 150))), 0.01) << i;
  }
  // Saturates at the cap.
  EXPECT_LT(p->yhat.back(), 10.0);
  EXPECT_GT(p->yhat.back(), 9.9);
}

TEST(ProphetFeaturesTest, LogisticFloorShiftsTheCurveAndScale) {
  // floor 2, cap 12: y = 2 + 10 / (1 + exp(-0.03 (d - 150))). Prophet scales y - floor by its
  // absmax and adds the floor back to the trend.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 0.01);
  Frame h =
      Daily(300, [&](int i) { return 2 + 10 / (1 + std::exp(-0.03 * (i - 150))) + noise(rng); });
  h.regressors["cap"].assign(h.ds.size(), 12.0);
  h.regressors["floor"].assign(h.ds.size(), 2.0);
  ProphetOptions o = NoSeasonality();
  o.growth = "logistic";
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->params().logistic_floor);
  double absmax = 0;
  for (double y : h.y) absmax = std::max(absmax, std::abs(y - 2));
  EXPECT_EQ(m->params().y_scale, absmax);
  Frame all = AllDays(h, 10);
  all.regressors["cap"].assign(all.ds.size(), 12.0);
  all.regressors["floor"].assign(all.ds.size(), 2.0);
  auto p = m->Predict(all);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (size_t i = 0; i < h.ds.size(); i += 10) {
    EXPECT_NEAR(p->yhat[i], 2 + 10 / (1 + std::exp(-0.03 * (static_cast<double>(i) - 150))), 0.01)
        << i;
  }
  EXPECT_GT(p->yhat.front(), 2.0);
  // The future frame must carry the floor the history had.
  Frame no_floor;
  no_floor.ds = all.ds;
  no_floor.regressors["cap"] = all.regressors["cap"];
  EXPECT_EQ(m->Predict(no_floor).status().message(),
            "floor is missing from the future frame (the history has one)");
}

TEST(ProphetFeaturesTest, ConstantCapAndFloorOptionsEqualTheColumns) {
  Frame h = LogisticCurve(200, 0.03, 100, 0.05, 6);
  h.regressors["floor"].assign(h.ds.size(), -1.0);
  ProphetOptions o = NoSeasonality();
  o.growth = "logistic";
  o.n_changepoints = 3;  // a quick fit: the comparison is what matters here
  auto columns = ProphetModel::Fit(h, o);
  Frame bare = h;
  bare.regressors.clear();
  o.cap = 10;
  o.floor = -1;
  auto constants = ProphetModel::Fit(bare, o);
  ASSERT_TRUE(columns.ok() && constants.ok());
  EXPECT_EQ(columns->params().k, constants->params().k);
  EXPECT_EQ(columns->params().m, constants->params().m);
  EXPECT_EQ(columns->params().delta, constants->params().delta);
  Frame future;
  future.ds = FutureDays(h.ds.back(), 5);
  auto p = constants->Predict(future);  // the options stand in for the future's columns too
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  future.regressors["cap"].assign(5, 10.0);
  future.regressors["floor"].assign(5, -1.0);
  EXPECT_EQ(p->yhat, columns->Predict(future)->yhat);
}

TEST(ProphetFeaturesTest, FlatGrowthIntervalsAreNoiseOnlyAndLogisticOnesSeeded) {
  // Flat: no trend uncertainty, so the 80% interval is yhat +- 1.2816 sigma_obs * y_scale ahead
  // as in the history (1000 samples: within 10%).
  std::mt19937_64 rng(8);
  std::normal_distribution<double> noise(0, 2);
  Frame h = Daily(300, [&](int) { return 50 + noise(rng); });
  ProphetOptions o = NoSeasonality();
  o.growth = "flat";
  o.uncertainty_samples = 1000;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok());
  auto p = m->Predict(AllDays(h, 400));  // t reaches 2.3: the linear trend would fan out
  ASSERT_TRUE(p.ok());
  const double want = 2 * 1.2815516 * m->params().sigma_obs * m->params().y_scale;
  for (size_t i : {0u, 299u, 500u, 699u}) {
    EXPECT_NEAR(p->yhat_upper[i] - p->yhat_lower[i], want, 0.1 * want) << i;
  }
  // Logistic: sampled rate changes continue the curve; seeded, the same twice.
  Frame lh = LogisticCurve(200, 0.03, 100, 0.05, 2);
  ProphetOptions lo = NoSeasonality();
  lo.growth = "logistic";
  lo.uncertainty_samples = 200;
  auto lm = ProphetModel::Fit(lh, lo);
  ASSERT_TRUE(lm.ok());
  Frame all = AllDays(lh, 100);
  all.regressors["cap"].assign(all.ds.size(), 10.0);
  auto a = lm->Predict(all), b = lm->Predict(all);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->yhat_lower, b->yhat_lower);
  EXPECT_EQ(a->yhat_upper, b->yhat_upper);
  for (size_t i = 0; i < all.ds.size(); ++i) {
    EXPECT_LT(a->yhat_lower[i], a->yhat[i]) << i;
    EXPECT_GT(a->yhat_upper[i], a->yhat[i]) << i;
    EXPECT_LT(a->yhat_upper[i], 10.5) << i;  // the cap bounds the trend; noise is 0.05
  }
}

TEST(ProphetFeaturesTest, ConditionalSeasonalityIsZeroWhereItsConditionIsFalse) {
  // A weekly pattern only on "on" days (the first 28 of every 56), amplitude 3.
  auto on = [](int i) { return (i / 28) % 2 == 0 ? 1.0 : 0.0; };
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0, 0.01);
  Frame h = Daily(364, [&](int i) {
    const double a =
        kTwoPi * static_cast<double>(kStart + i * kMicrosPerDay) / (7.0 * kMicrosPerDay);
    return 50 + on(i) * 3 * std::sin(a) + noise(rng);
  });
  for (int i = 0; i < 364; ++i) h.regressors["on"].push_back(on(i));
  ProphetOptions o = NoSeasonality();
  Seasonality s;
  s.name = "weekly_on";
  s.period_days = 7;
  s.order = 3;
  s.condition_name = "on";
  o.extra_seasonalities.push_back(s);
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& pr = m->params();
  ASSERT_EQ(pr.columns.size(), 6u);
  EXPECT_EQ(pr.columns[0], "weekly_on_sin1");
  EXPECT_NEAR(pr.beta[0] * pr.y_scale, 3, 0.01);
  for (size_t c = 1; c < 6; ++c) EXPECT_NEAR(pr.beta[c] * pr.y_scale, 0, 0.01) << pr.columns[c];

  Frame all = AllDays(h, 56);
  for (int i = 0; i < static_cast<int>(all.ds.size()); ++i) all.regressors["on"].push_back(on(i));
  auto p = m->Predict(all);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  int zeros = 0;
  for (size_t i = 0; i < all.ds.size(); ++i) {
    if (on(static_cast<int>(i)) == 0) {
      EXPECT_EQ(p->additive[i], 0.0) << i;  // every feature is 0 on the off days
      ++zeros;
    } else if (i % 7 != 3) {  // sin(2 pi n d / 7) is never 0 on a day, except d = 0 mod 7
      EXPECT_NE(p->additive[i], 0.0) << i;
    }
  }
  EXPECT_EQ(zeros, 28 * 7);

  // The condition column is required in both frames and must be 0 or 1.
  Frame future;
  future.ds = FutureDays(h.ds.back(), 3);
  EXPECT_EQ(m->Predict(future).status().message(),
            "condition 'on' is missing from the future frame");
  future.regressors["on"] = {1, 0.5, 0};
  EXPECT_EQ(m->Predict(future).status().message(),
            "condition 'on' is not 0 or 1 at 2020-12-31T00:00:00Z: 0.5");
  future.regressors["on"] = {1, 0};
  EXPECT_EQ(m->Predict(future).status().message(),
            "condition 'on' has 2 values for 3 ds in the future frame");
  Frame bare = h;
  bare.regressors.clear();
  EXPECT_EQ(ProphetModel::Fit(bare, o).status().message(),
            "condition 'on' is missing from the history frame");
}

TEST(ProphetFeaturesTest, ExplicitChangepointsReplaceTheGrid) {
  Frame h = Daily(101, [](int i) { return i < 60 ? 10.0 + i : 70.0 - 0.5 * (i - 60); });
  ProphetOptions o = NoSeasonality();
  o.n_changepoints = 3;  // ignored: the explicit list wins
  o.changepoints = std::vector<Micros>{kStart + 80 * kMicrosPerDay, kStart + 60 * kMicrosPerDay};
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& pr = m->params();
  ASSERT_EQ(pr.changepoints_t.size(), 2u);  // sorted, (ds - start) / (end - start)
  EXPECT_EQ(pr.changepoints_t[0], 0.6);
  EXPECT_EQ(pr.changepoints_t[1], 0.8);
  ASSERT_EQ(pr.delta.size(), 2u);
  // The kink at day 60: slope 1 then -0.5 per day, all of it at the first changepoint.
  const double per_day = pr.y_scale / 100.0;
  EXPECT_NEAR(pr.k * per_day, 1.0, 0.01);
  EXPECT_NEAR(pr.delta[0] * per_day, -1.5, 0.01);
  EXPECT_NEAR(pr.delta[1], 0.0, 1e-9);

  // An empty list: no changepoints (the dummy one at t = 0, folded into k).
  o.changepoints = std::vector<Micros>{};
  auto none = ProphetModel::Fit(h, o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->params().changepoints_t, std::vector<double>{0.0});
  EXPECT_EQ(none->params().delta, std::vector<double>{0.0});

  o.changepoints = std::vector<Micros>{kStart - kMicrosPerDay};
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "changepoint 2019-12-31T00:00:00Z is outside the history "
            "2020-01-01T00:00:00Z..2020-04-10T00:00:00Z");
}

TEST(ProphetFeaturesTest, ChangepointRangePlacesTheGridAsProphet) {
  // 100 days, changepoint_range 0.5: hist_size 50, changepoints at the history indexes
  // round(linspace(0, 49, 6))[1:] = 10, 20, 29 (29.4), 39, 49 (numpy's round).
  Frame h = Daily(100, [](int i) { return 1.0 + i % 3; });
  ProphetOptions o = NoSeasonality();
  o.n_changepoints = 5;
  o.changepoint_range = 0.5;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<double> want;
  for (int i : {10, 20, 29, 39, 49}) want.push_back(i / 99.0);
  ASSERT_EQ(m->params().changepoints_t.size(), want.size());
  for (size_t j = 0; j < want.size(); ++j) {
    EXPECT_DOUBLE_EQ(m->params().changepoints_t[j], want[j]) << j;
  }
}

TEST(ProphetFeaturesTest, MissingYIsLeftOutOfTheFitAndPredicted) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> noise(0, 1);
  Frame full = Daily(120, [&](int i) { return 100 + 0.5 * i + noise(rng); });
  Frame holes = full, dropped;
  for (size_t i = 0; i < full.ds.size(); ++i) {
    if (i == 0 || (i >= 40 && i < 55) || i == full.ds.size() - 1) {
      holes.y[i] = NAN;
    } else {
      dropped.ds.push_back(full.ds[i]);
      dropped.y.push_back(full.y[i]);
    }
  }
  ProphetOptions o;
  o.uncertainty_samples = 50;
  auto a = ProphetModel::Fit(holes, o);
  auto b = ProphetModel::Fit(dropped, o);
  ASSERT_TRUE(a.ok() && b.ok());
  // Exactly the fit without those rows: same scales (t from the first to the last non-NaN day),
  // changepoints, seasonalities and parameters.
  EXPECT_EQ(a->params().start, full.ds[1]);
  EXPECT_EQ(a->params().t_scale, full.ds[118] - full.ds[1]);
  EXPECT_EQ(a->params().changepoints_t, b->params().changepoints_t);
  EXPECT_EQ(a->params().columns, b->params().columns);
  EXPECT_EQ(a->params().k, b->params().k);
  EXPECT_EQ(a->params().delta, b->params().delta);
  EXPECT_EQ(a->params().beta, b->params().beta);
  // Predict covers every day of the frame, the NaN ones included.
  Frame all = AllDays(holes, 5);
  auto pa = a->Predict(all);
  auto pb = b->Predict(all);
  ASSERT_TRUE(pa.ok() && pb.ok());
  ASSERT_EQ(pa->yhat.size(), 125u);
  EXPECT_EQ(pa->yhat, pb->yhat);
  EXPECT_EQ(pa->yhat_lower, pb->yhat_lower);
  for (double v : pa->yhat) EXPECT_TRUE(std::isfinite(v));

  Frame one = Daily(5, [](int i) { return i == 2 ? 1.0 : NAN; });
  EXPECT_EQ(ProphetModel::Fit(one).status().message(),
            "history has 1 non-NaN y, at least 2 are needed");
}

TEST(ProphetFeaturesTest, GrowthErrors) {
  Frame h = Daily(30, [](int i) { return 1.0 + i; });
  ProphetOptions o = NoSeasonality();
  o.growth = "exponential";
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "unknown growth 'exponential': expected linear, logistic or flat");
  o.growth = "logistic";
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "logistic growth needs a cap column in the history frame");
  h.regressors["cap"].assign(30, 40.0);
  h.regressors["cap"][7] = -1;
  h.regressors["floor"].assign(30, 0.0);
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "cap must be greater than floor (which defaults to 0) at 2020-01-08T00:00:00Z: cap "
            "-1, floor 0");
  h.regressors["cap"][7] = 40;
  h.regressors["floor"].resize(29);
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "floor has 29 values for 30 ds in the history frame");
  h.regressors["floor"].assign(30, 0.0);
  h.regressors["cap"][3] = INFINITY;
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "cap is not finite at 2020-01-04T00:00:00Z");
  h.regressors["cap"][3] = 40;
  o.log_transform = true;
  EXPECT_EQ(ProphetModel::Fit(h, o).status().message(),
            "invalid option: log_transform with logistic growth");
  o.log_transform = false;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Frame future;
  future.ds = FutureDays(h.ds.back(), 2);
  EXPECT_EQ(m->Predict(future).status().message(),
            "logistic growth needs a cap column in the future frame");
  future.regressors["cap"] = {40, 40};
  future.regressors["floor"] = {0, 41};
  EXPECT_EQ(m->Predict(future).status().message(),
            "cap must be greater than floor (which defaults to 0) at 2020-02-01T00:00:00Z: cap "
            "40, floor 41");
}

}  // namespace
}  // namespace cryptolake::forecast
