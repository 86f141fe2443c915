#include "forecast/prophet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace cryptolake::forecast {
namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;
const Micros kStart = MicrosFromCivil(2020, 1, 1);

// n daily points from kStart, y = f(day index).
template <typename F>
Frame Daily(int n, F f) {
  Frame fr;
  for (int i = 0; i < n; ++i) {
    fr.ds.push_back(kStart + i * kMicrosPerDay);
    fr.y.push_back(f(i));
  }
  return fr;
}

Frame Future(const Frame& history, int periods) {
  Frame f;
  f.ds = FutureDays(history.ds.back(), periods);
  return f;
}

double EpochDays(Micros ds) { return static_cast<double>(ds) / static_cast<double>(kMicrosPerDay); }

double Beta(const ProphetModel& m, const std::string& column) {
  const Params& p = m.params();
  auto it = std::find(p.columns.begin(), p.columns.end(), column);
  EXPECT_NE(it, p.columns.end()) << column;
  if (it == p.columns.end()) return NAN;
  return p.beta[static_cast<size_t>(it - p.columns.begin())];
}

RegressorSpec Regressor(std::string name, std::optional<std::string> mode = std::nullopt) {
  RegressorSpec r;
  r.name = std::move(name);
  r.mode = std::move(mode);
  return r;
}

int NonZeroDeltas(const Params& p) {
  return static_cast<int>(
      std::count_if(p.delta.begin(), p.delta.end(), [](double d) { return d != 0.0; }));
}

// Slope 1/day until day 300, then -0.5/day (100 .. 400 .. 300), plus N(0, 5) noise.
Frame KinkedLine() {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 5);
  return Daily(500, [&](int i) {
    const double trend = i < 300 ? 100.0 + i : 400.0 - 0.5 * (i - 300);
    return trend + noise(rng);
  });
}

TEST(ProphetTest, TrendChangepointRecovered) {
  Frame h = KinkedLine();
  ProphetOptions o;
  o.weekly_seasonality = false;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& p = m->params();
  ASSERT_EQ(p.delta.size(), 25u);

  // Changepoints at history indexes round(linspace(0, 399, 26))[1:]: ..., 287, 303, ...
  auto day_of = [&](double t) {
    return t * static_cast<double>(p.t_scale) / static_cast<double>(kMicrosPerDay);
  };
  size_t nearest = 0, largest = 0;
  for (size_t j = 0; j < p.delta.size(); ++j) {
    if (std::abs(day_of(p.changepoints_t[j]) - 300) <
        std::abs(day_of(p.changepoints_t[nearest]) - 300)) {
      nearest = j;
    }
    if (std::abs(p.delta[j]) > std::abs(p.delta[largest])) largest = j;
  }
  EXPECT_NEAR(day_of(p.changepoints_t[nearest]), 303, 1e-9);
  EXPECT_EQ(largest, nearest);

  Frame all;
  all.ds = h.ds;
  auto pr = m->Predict(all);
  ASSERT_TRUE(pr.ok()) << pr.status().ToString();
  const double before = (pr->trend[250] - pr->trend[50]) / 200;
  const double after = (pr->trend[499] - pr->trend[320]) / 179;
  EXPECT_NEAR(before, 1.0, 0.03);
  EXPECT_NEAR(after, -0.5, 0.015);
  // The rate changes add up to the true -1.5 per day (mostly at 303, some at 287).
  double total = 0;
  for (double d : p.delta) total += d * p.y_scale * kMicrosPerDay / static_cast<double>(p.t_scale);
  EXPECT_NEAR(total, -1.5, 0.05);
}

TEST(ProphetTest, SinusoidFourierCoefficientsRecovered) {
  // 50 + 8 sin(2 pi d / 365.25) - 5 cos(2 pi d / 365.25), d = days since the epoch, as Prophet's
  // Fourier columns; tiny noise keeps the posterior proper.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.05);
  Frame h = Daily(3 * 365, [&](int i) {
    const double a = kTwoPi * EpochDays(kStart + i * kMicrosPerDay) / 365.25;
    return 50 + 8 * std::sin(a) - 5 * std::cos(a) + noise(rng);
  });
  auto m = ProphetModel::Fit(h);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& p = m->params();
  ASSERT_EQ(p.columns.size(), 26u);  // yearly (auto: >= 730 days) and weekly (auto), not daily
  EXPECT_EQ(p.columns[0], "yearly_sin1");
  EXPECT_EQ(p.columns[1], "yearly_cos1");
  EXPECT_EQ(p.columns[20], "weekly_sin1");
  EXPECT_NEAR(Beta(*m, "yearly_sin1") * p.y_scale, 8, 0.08);
  EXPECT_NEAR(Beta(*m, "yearly_cos1") * p.y_scale, -5, 0.05);
  for (size_t c = 2; c < p.columns.size(); ++c) {
    EXPECT_LT(std::abs(p.beta[c] * p.y_scale), 0.05) << p.columns[c];
  }
}

TEST(ProphetTest, OwlqnSetsInsignificantChangepointsToExactlyZero) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 1);
  Frame line = Daily(400, [&](int i) { return 10 + 0.1 * i + noise(rng); });
  ProphetOptions o;
  o.weekly_seasonality = false;
  auto m = ProphetModel::Fit(line, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_LE(NonZeroDeltas(m->params()), 2);

  auto kinked = ProphetModel::Fit(KinkedLine(), o);
  ASSERT_TRUE(kinked.ok()) << kinked.status().ToString();
  EXPECT_GE(NonZeroDeltas(kinked->params()), 2);
  EXPECT_LE(NonZeroDeltas(kinked->params()), 5);
}

TEST(ProphetTest, IntervalCoverageIsNominalAndSeeded) {
  auto trend = [](int i) { return 20 + 0.05 * i; };
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 2);
  Frame all = Daily(1000, [&](int i) { return trend(i) + noise(rng); });
  Frame h = all;
  h.ds.resize(800);
  h.y.resize(800);
  Frame f;
  f.ds.assign(all.ds.begin() + 800, all.ds.end());

  ProphetOptions o;
  o.seed = 1;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto pr = m->Predict(f);
  ASSERT_TRUE(pr.ok()) << pr.status().ToString();
  EXPECT_NEAR(m->params().sigma_obs * m->params().y_scale, 2, 0.15);

  // Coverage of the 80% interval on 20 fresh noise draws of the 200 held-out days.
  std::mt19937_64 fresh(12);
  int inside = 0, total = 0;
  for (int rep = 0; rep < 20; ++rep) {
    for (size_t i = 0; i < f.ds.size(); ++i) {
      const double y = trend(static_cast<int>(800 + i)) + noise(fresh);
      inside += pr->yhat_lower[i] <= y && y <= pr->yhat_upper[i];
      ++total;
    }
  }
  const double coverage = static_cast<double>(inside) / total;
  EXPECT_GT(coverage, 0.72);
  EXPECT_LT(coverage, 0.88);

  auto again = m->Predict(f);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->yhat_lower, pr->yhat_lower);
  EXPECT_EQ(again->yhat_upper, pr->yhat_upper);
  o.seed = 2;
  auto other = ProphetModel::Fit(h, o);
  ASSERT_TRUE(other.ok());
  auto pr2 = other->Predict(f);
  ASSERT_TRUE(pr2.ok());
  EXPECT_EQ(pr2->yhat, pr->yhat);
  EXPECT_NE(pr2->yhat_lower, pr->yhat_lower);
  EXPECT_NE(pr2->yhat_upper, pr->yhat_upper);

  o.uncertainty_samples = 0;
  auto none = ProphetModel::Fit(h, o);
  ASSERT_TRUE(none.ok());
  auto pr3 = none->Predict(f);
  ASSERT_TRUE(pr3.ok());
  EXPECT_EQ(pr3->yhat, pr->yhat);
  EXPECT_TRUE(std::isnan(pr3->yhat_lower[0]) && std::isnan(pr3->yhat_upper[199]));
}

std::string FitError(const Frame& h, const ProphetOptions& o = {}) {
  auto m = ProphetModel::Fit(h, o);
  if (m.ok()) return "OK";
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  return m.status().message();
}

TEST(ProphetTest, InvalidArguments) {
  Frame h = Daily(10, [](int i) { return 1.0 + i; });
  const std::string day2 = "2020-01-03T00:00:00Z";

  Frame one = h;
  std::fill(one.y.begin() + 1, one.y.end(), NAN);
  EXPECT_EQ(FitError(one), "history has 1 non-NaN y, at least 2 are needed");
  Frame inf = h;
  inf.y[2] = INFINITY;
  EXPECT_EQ(FitError(inf), "y is not finite at " + day2 + ": inf");
  Frame back = h;
  back.ds[3] = back.ds[2];
  EXPECT_EQ(FitError(back), "ds not strictly increasing at row 3: " + day2 + " after " + day2);
  Frame shorter = h;
  shorter.y.pop_back();
  EXPECT_EQ(FitError(shorter), "history has 10 ds but 9 y");

  ProphetOptions reg;
  reg.regressors.push_back(Regressor("x"));
  EXPECT_EQ(FitError(h, reg), "regressor 'x' is missing from the history frame");
  Frame with_x = h;
  with_x.regressors["x"] = std::vector<double>(9, 1.0);
  EXPECT_EQ(FitError(with_x, reg), "regressor 'x' has 9 values for 10 ds in the history frame");
  with_x.regressors["x"] = std::vector<double>(10, 1.0);
  with_x.regressors["x"][2] = NAN;
  EXPECT_EQ(FitError(with_x, reg), "regressor 'x' is not finite at " + day2);
  with_x.y[2] = NAN;  // a row without y is not used
  EXPECT_EQ(FitError(with_x, reg), "OK");

  ProphetOptions log;
  log.log_transform = true;
  Frame zero = h;
  zero.y[2] = 0;
  EXPECT_EQ(FitError(zero, log), "log_transform needs y > 0, got 0 at " + day2);

  ProphetOptions mode;
  mode.seasonality_mode = "multiplicatve";
  EXPECT_EQ(FitError(h, mode),
            "unknown seasonality_mode 'multiplicatve': expected additive or multiplicative");
  ProphetOptions reg_mode;
  reg_mode.regressors.push_back(Regressor("x", "mult"));
  EXPECT_EQ(FitError(h, reg_mode),
            "unknown mode 'mult' for 'x': expected additive or multiplicative");

  ProphetOptions cps;
  cps.changepoint_prior_scale = 0;
  EXPECT_EQ(FitError(h, cps), "invalid option: changepoint_prior_scale 0 <= 0");
  ProphetOptions width;
  width.interval_width = 1;
  EXPECT_EQ(FitError(h, width), "invalid option: interval_width 1 outside (0, 1)");

  auto m = ProphetModel::Fit(h);
  ASSERT_TRUE(m.ok());
  Frame f = Future(h, 3);
  std::swap(f.ds[0], f.ds[1]);
  EXPECT_EQ(m->Predict(f).status().message(),
            "ds not strictly increasing at row 1: 2020-01-11T00:00:00Z after 2020-01-12T00:00:00Z");
}

TEST(ProphetTest, LogTransformFitsAnExponentialExactly) {
  Frame h = Daily(300, [](int i) { return 100 * std::exp(0.01 * i); });
  ProphetOptions o;
  o.log_transform = true;
  // log(y) is exactly linear: the posterior has no mode (sigma_obs -> 0), so the fit runs to
  // max_iterations; the line is found long before.
  o.max_iterations = 1000;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Frame f;
  f.ds = h.ds;
  for (Micros d : FutureDays(h.ds.back(), 30)) f.ds.push_back(d);
  auto pr = m->Predict(f);
  ASSERT_TRUE(pr.ok()) << pr.status().ToString();
  for (size_t i = 0; i < f.ds.size(); ++i) {
    const double truth = 100 * std::exp(0.01 * static_cast<double>(i));
    ASSERT_NEAR(pr->yhat[i] / truth, 1, 0.005) << i;
    ASSERT_LE(pr->yhat_lower[i], pr->yhat[i] * (1 + 1e-9)) << i;
    ASSERT_GE(pr->yhat_upper[i], pr->yhat[i] * (1 - 1e-9)) << i;
    // The trend component is in log units.
    ASSERT_NEAR(pr->trend[i], std::log(truth), 0.005) << i;
  }
  EXPECT_EQ(m->params().iterations, 1000);
  EXPECT_LT(m->params().sigma_obs, 1e-6);
}

TEST(ProphetTest, RegressorCoefficientRecoveredAndFutureValuesRequired) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> xdist(5, 2), noise(0, 0.1);
  std::vector<double> x(260);
  for (double& v : x) v = xdist(rng);
  Frame all = Daily(260, [&](int i) { return 2 * x[static_cast<size_t>(i)] + noise(rng); });
  all.regressors["x"] = x;
  Frame h = all;
  h.ds.resize(230);
  h.y.resize(230);
  h.regressors["x"].resize(230);
  Frame f;
  f.ds.assign(all.ds.begin() + 230, all.ds.end());

  ProphetOptions o;
  o.regressors.push_back(Regressor("x"));
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->Predict(f).status().message(), "regressor 'x' is missing from the future frame");
  f.regressors["x"].assign(x.begin() + 230, x.end() - 1);
  EXPECT_EQ(m->Predict(f).status().message(),
            "regressor 'x' has 29 values for 30 ds in the future frame");
  f.regressors["x"].push_back(x.back());

  // beta is per standardized unit of x in scaled y: 2 = beta * y_scale / std(x).
  double mu = 0, ss = 0;
  for (size_t i = 0; i < 230; ++i) mu += x[i] / 230;
  for (size_t i = 0; i < 230; ++i) ss += (x[i] - mu) * (x[i] - mu);
  const double sd = std::sqrt(ss / 229);
  EXPECT_NEAR(Beta(*m, "x") * m->params().y_scale / sd, 2, 0.04);

  auto pr = m->Predict(f);
  ASSERT_TRUE(pr.ok()) << pr.status().ToString();
  for (size_t i = 0; i < f.ds.size(); ++i) {
    EXPECT_NEAR(pr->yhat[i], 2 * x[230 + i], 0.03 * 2 * x[230 + i] + 0.3) << i;
  }
}

TEST(ProphetTest, MultiplicativeSeasonalityRecovered) {
  // trend * (1 + 0.1 sin(2 pi d / 365.25)) with a rising trend: the multiplicative (explicit
  // residual) path.
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0, 1);
  Frame h = Daily(3 * 365, [&](int i) {
    const double a = kTwoPi * EpochDays(kStart + i * kMicrosPerDay) / 365.25;
    return (100 + 0.1 * i) * (1 + 0.1 * std::sin(a)) + noise(rng);
  });
  ProphetOptions o;
  o.seasonality_mode = "multiplicative";
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NEAR(Beta(*m, "yearly_sin1"), 0.1, 0.002);
  EXPECT_NEAR(Beta(*m, "yearly_cos1"), 0, 0.002);
  EXPECT_NEAR(Beta(*m, "weekly_sin1"), 0, 0.002);
}

TEST(ProphetTest, AdditiveAndMultiplicativePathsReachTheSameOptimum) {
  // An all-zero multiplicative regressor (not standardized: constant) leaves the posterior's
  // mode unchanged but sends the fit down the explicit-residual path.
  std::mt19937_64 rng(13);
  std::normal_distribution<double> noise(0, 1);
  Frame h = Daily(900, [&](int i) {
    const double a = kTwoPi * i / 7;
    return 50 + 0.02 * i + (i > 400 ? 0.05 * (i - 400) : 0) + 2 * std::sin(a) + noise(rng);
  });
  auto additive = ProphetModel::Fit(h);
  ASSERT_TRUE(additive.ok()) << additive.status().ToString();
  h.regressors["zero"] = std::vector<double>(h.ds.size(), 0.0);
  ProphetOptions o;
  o.regressors.push_back(Regressor("zero", "multiplicative"));
  auto general = ProphetModel::Fit(h, o);
  ASSERT_TRUE(general.ok()) << general.status().ToString();
  const Params& a = additive->params();
  const Params& g = general->params();
  EXPECT_EQ(g.beta.back(), 0.0);
  EXPECT_NEAR(a.objective, g.objective, 1e-6 * std::abs(a.objective));
  EXPECT_NEAR(a.k, g.k, 1e-3);
  EXPECT_NEAR(a.sigma_obs, g.sigma_obs, 1e-5);
  for (size_t c = 0; c < a.beta.size(); ++c) EXPECT_NEAR(a.beta[c], g.beta[c], 1e-4) << c;
}

TEST(ProphetTest, HolidayEffectRecovered) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0, 0.2);
  Holiday h;
  h.name = "halving";
  h.lower_window = -1;
  h.upper_window = 1;
  for (int i = 20; i < 400; i += 50) h.days.push_back(kStart + i * kMicrosPerDay);
  Frame hist = Daily(400, [&](int i) {
    const double effect = i % 50 == 20 ? 5.0 : i % 50 == 19 ? -2.0 : 0.0;
    return 30 + effect + noise(rng);
  });
  ProphetOptions o;
  o.holidays.push_back(h);
  o.weekly_seasonality = false;
  auto m = ProphetModel::Fit(hist, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const Params& p = m->params();
  // Prophet's column order: sorted "<name>_delim_<+-k>" ('+' before '-').
  ASSERT_EQ(p.columns, (std::vector<std::string>{"halving+0", "halving+1", "halving-1"}));
  EXPECT_NEAR(p.beta[0] * p.y_scale, 5, 0.2);
  EXPECT_NEAR(p.beta[1] * p.y_scale, 0, 0.2);
  EXPECT_NEAR(p.beta[2] * p.y_scale, -2, 0.2);
}

TEST(ProphetTest, ChangepointsAndSeasonalitiesPlacedAsProphet) {
  // hist_size = floor(13 * 0.8) = 10; linspace(0, 9, 3) = [0, 4.5, 9] rounds half to even: 4, 9.
  Frame h = Daily(13, [](int i) { return 1.0 + i % 3; });
  ProphetOptions o;
  o.n_changepoints = 2;
  auto m = ProphetModel::Fit(h, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->params().changepoints_t, (std::vector<double>{4.0 / 12, 9.0 / 12}));
  EXPECT_TRUE(m->params().columns.empty());  // 12 days: no weekly (< 14 days), no yearly

  // Too few points for the changepoints: Prophet's single dummy changepoint at 0, folded into k.
  Frame tiny = Daily(2, [](int i) { return 1.0 + 2 * i; });
  auto t = ProphetModel::Fit(tiny);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->params().changepoints_t, std::vector<double>{0.0});
  EXPECT_EQ(t->params().delta, std::vector<double>{0.0});
  EXPECT_NEAR(t->params().k, 2.0 / 3, 1e-3);

  // Hourly points over 3 days: daily seasonality (order 4) on, weekly off.
  std::mt19937_64 rng(19);
  std::normal_distribution<double> noise(0, 0.1);
  Frame hourly;
  for (int i = 0; i < 72; ++i) {
    hourly.ds.push_back(kStart + i * kMicrosPerHour);
    hourly.y.push_back(std::sin(kTwoPi * i / 24) + 0.01 * i + noise(rng));
  }
  auto d = ProphetModel::Fit(hourly);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->params().columns,
            (std::vector<std::string>{"daily_sin1", "daily_cos1", "daily_sin2", "daily_cos2",
                                      "daily_sin3", "daily_cos3", "daily_sin4", "daily_cos4"}));

  // A constant series is not optimized (as Prophet): sigma_obs 1e-9, the flat line.
  Frame flat = Daily(30, [](int) { return 7.0; });
  auto c = ProphetModel::Fit(flat);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->params().iterations, 0);
  EXPECT_DOUBLE_EQ(c->params().sigma_obs, 1e-9);
  auto cp = c->Predict(Future(flat, 2));
  ASSERT_TRUE(cp.ok());
  EXPECT_DOUBLE_EQ(cp->yhat[1], 7.0);
}

}  // namespace
}  // namespace cryptolake::forecast
