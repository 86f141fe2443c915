// The native model's features beyond Prophet's defaults (issue 13) against the real Prophet:
// logistic growth (a cap; a cap and a floor), flat growth, a custom seasonality, seasonalities
// conditional on a 0/1 column, multiplicative seasonality, explicit changepoints,
// changepoint_range and missing y, each fitted on Prophet's own example series
// (fixtures/example_*.csv, from facebook/prophet's examples/) as Prophet's documentation does.
// fixtures/prophet_features.json holds PyPI Prophet's yhat for each case at every 7th row of
// history + future; bench/prophet_reference.py --features-fixture wrote it (the command and the
// prophet version are inside it). Each native fit must be within 1% of the series' scale (max|y|)
// in mean |yhat difference| over those rows, and over the history rows alone, and reach a
// -log posterior (prophet.stan's, constants dropped) no higher than Prophet's, which the fixture
// holds, plus 0.05% of it.
//
// One exception, logistic_floor (the docs' "saturating minimum": y = 10 - y, cap 6, floor 1.5):
// the logistic likelihood has more than one mode and Prophet's L-BFGS stops in a worse one
// (-log posterior -4280.19: k 0.018, m 93.9, the curve's midpoint far in the future) than the
// native fit from the same initialization (-4467.47: k 0.190, m 9.22). Started from the native
// parameters (cmdstanpy inits), Prophet stays there (-4467.47), so both agree on which is the
// better mode. The two modes fit the history alike (mean 0.29% of scale apart) but extrapolate
// apart over the 5 years ahead (3.4%): that case checks the history rows and a -log posterior at
// least 100 below Prophet's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "forecast/prophet.h"

namespace cryptolake::forecast {
namespace {

using nlohmann::json;

constexpr double kMeanDiffGoal = 0.01;  // mean |yhat - Prophet's| / scale

std::string Fixtures() { return CL_FORECAST_FIXTURES; }

json Fixture() {
  std::ifstream in(Fixtures() + "/prophet_features.json");
  EXPECT_TRUE(in) << "missing " << Fixtures() << "/prophet_features.json";
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// A Prophet example CSV: a "ds","y" header, then date,value rows; lines end in \n or \r (the air
// passengers file has classic Mac line endings).
Frame ReadExample(const std::string& name) {
  std::ifstream in(Fixtures() + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::replace(text.begin(), text.end(), '\r', '\n');
  Frame f;
  std::stringstream lines(text);
  bool header = true;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    line.erase(std::remove(line.begin(), line.end(), '"'), line.end());
    const size_t comma = line.find(',');
    auto ds = ParseTime(line.substr(0, comma));
    EXPECT_TRUE(ds.ok()) << name << ": " << line;
    if (!ds.ok()) break;
    f.ds.push_back(*ds);
    f.y.push_back(std::stod(line.substr(comma + 1)));
  }
  return f;
}

Micros Day(const char* iso) { return *ParseTime(iso); }

// `periods` month starts after `last` (a month start), as pandas' freq="MS".
std::vector<Micros> FutureMonths(Micros last, int periods) {
  int y, m, d;
  CivilFromMicros(last, &y, &m, &d);
  std::vector<Micros> out;
  for (int i = 0; i < periods; ++i) {
    if (++m > 12) m = 1, ++y;
    out.push_back(MicrosFromCivil(y, m, 1));
  }
  return out;
}

bool NflSeason(Micros ds) {
  int y, m, d;
  CivilFromMicros(ds, &y, &m, &d);
  return m > 8 || m < 2;
}

// The case as bench/prophet_reference.py's feature_cases() builds it for Prophet: the history,
// the options, and the frame to predict (history days + periods, with the same columns).
struct Case {
  Frame history, all;
  ProphetOptions options;
};

Case MakeCase(const std::string& name, const json& ref) {
  Case c;
  const bool air = name == "multiplicative";
  c.history = ReadExample(air ? "example_air_passengers.csv" : "example_wp_log_peyton_manning.csv");
  Frame& h = c.history;
  ProphetOptions& o = c.options;
  o.uncertainty_samples = 0;  // yhat only
  double cap = NAN, floor = NAN;
  bool conditions = false;
  if (name == "logistic_cap") {
    o.growth = "logistic";
    cap = 8.5;
  } else if (name == "logistic_cap_floor") {
    o.growth = "logistic";
    cap = 8.5;
    floor = 1.5;
  } else if (name == "logistic_floor") {
    for (double& y : h.y) y = 10 - y;
    o.growth = "logistic";
    cap = 6;
    floor = 1.5;
  } else if (name == "flat") {
    o.growth = "flat";
  } else if (name == "monthly") {
    o.weekly_seasonality = false;
    Seasonality s;
    s.name = "monthly";
    s.period_days = 30.5;
    s.order = 5;
    o.extra_seasonalities.push_back(s);
  } else if (name == "conditional_weekly") {
    o.weekly_seasonality = false;
    for (const char* cond : {"on_season", "off_season"}) {
      Seasonality s;
      s.name = std::string("weekly_") + cond;
      s.period_days = 7;
      s.order = 3;
      s.condition_name = cond;
      o.extra_seasonalities.push_back(s);
    }
    conditions = true;
  } else if (name == "multiplicative") {
    o.seasonality_mode = "multiplicative";
  } else if (name == "changepoints") {
    o.changepoints = std::vector<Micros>{Day("2014-01-01")};
  } else if (name == "changepoint_range") {
    o.changepoint_range = 0.9;
  } else if (name == "missing_y") {
    for (size_t i = 0; i < h.ds.size(); ++i) {
      if (h.ds[i] > Day("2010-01-01") && h.ds[i] < Day("2011-01-01")) h.y[i] = NAN;
    }
  } else {
    ADD_FAILURE() << "unknown case " << name;
  }
  c.all.ds = h.ds;
  const int periods = ref["periods"].get<int>();
  for (Micros d : air ? FutureMonths(h.ds.back(), periods) : FutureDays(h.ds.back(), periods)) {
    c.all.ds.push_back(d);
  }
  for (Frame* f : {&c.history, &c.all}) {
    if (!std::isnan(cap)) f->regressors["cap"].assign(f->ds.size(), cap);
    if (!std::isnan(floor)) f->regressors["floor"].assign(f->ds.size(), floor);
    if (conditions) {
      for (Micros d : f->ds) {
        f->regressors["on_season"].push_back(NflSeason(d) ? 1 : 0);
        f->regressors["off_season"].push_back(NflSeason(d) ? 0 : 1);
      }
    }
  }
  return c;
}

class ProphetFeaturesReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProphetFeaturesReferenceTest, NativeFitMatchesProphet) {
  const std::string name = GetParam();
  const bool better_mode = name == "logistic_floor";
  const json fixture = Fixture();
  ASSERT_FALSE(fixture.is_discarded()) << "fixtures/prophet_features.json is not valid JSON";
  ASSERT_TRUE(fixture["cases"].contains(name)) << name;
  const json& ref = fixture["cases"][name];
  Case c = MakeCase(name, ref);
  ASSERT_EQ(c.history.ds.size(), ref["history_rows"].get<size_t>());
  double scale = 0;
  size_t non_nan = 0;
  for (double y : c.history.y) {
    if (std::isnan(y)) continue;
    scale = std::max(scale, std::abs(y));
    ++non_nan;
  }
  EXPECT_EQ(non_nan, ref["non_nan_y"].get<size_t>());
  EXPECT_NEAR(scale, ref["scale"].get<double>(), 1e-12);

  auto model = ProphetModel::Fit(c.history, c.options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto p = model->Predict(c.all);
  ASSERT_TRUE(p.ok()) << p.status().message();

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < c.all.ds.size(); ++i) index[FormatDate(c.all.ds[i])] = i;
  const auto& days = ref["ds"];
  const auto& yhat = ref["yhat"];
  ASSERT_EQ(days.size(), yhat.size());
  ASSERT_GE(days.size(), 20u);
  EXPECT_EQ(days.back().get<std::string>(), FormatDate(c.all.ds.back()));
  double sum = 0, worst = 0, sum_history = 0, sum_future = 0;
  int n_history = 0, n_future = 0;
  std::string worst_day;
  for (size_t k = 0; k < days.size(); ++k) {
    const std::string day = days[k].get<std::string>();
    ASSERT_TRUE(index.count(day)) << day;
    const double diff = std::abs(p->yhat[index[day]] - yhat[k].get<double>()) / scale;
    sum += diff;
    (index[day] < c.history.ds.size() ? sum_history : sum_future) += diff;
    (index[day] < c.history.ds.size() ? n_history : n_future) += 1;
    if (diff > worst) worst = diff, worst_day = day;
  }
  const double mean = sum / static_cast<double>(days.size());
  const Params& fitted = model->params();
  const double prophet_objective = ref["prophet_objective"].get<double>();
  EXPECT_LE(sum_history / n_history, kMeanDiffGoal) << name << ": history rows";
  if (better_mode) {
    EXPECT_LT(fitted.objective, prophet_objective - 100) << name;
  } else {
    EXPECT_LE(mean, kMeanDiffGoal) << name << ": mean |yhat diff| / scale";
    EXPECT_LE(fitted.objective, prophet_objective + 5e-4 * std::abs(prophet_objective)) << name;
  }
  std::printf(
      "%s: mean |dyhat| / scale %.4f%% (history %.4f%%, future %.4f%%), max %.4f%% (%s); %d "
      "iterations, -log posterior %.4f (Prophet %.4f), k %.6g, m %.6g\n",
      name.c_str(), mean * 100, sum_history / n_history * 100, sum_future / n_future * 100,
      worst * 100, worst_day.c_str(), fitted.iterations, fitted.objective, prophet_objective,
      fitted.k, fitted.m);
}

INSTANTIATE_TEST_SUITE_P(Cases, ProphetFeaturesReferenceTest,
                         ::testing::Values("logistic_cap", "logistic_cap_floor", "logistic_floor",
                                           "flat", "monthly", "conditional_weekly",
                                           "multiplicative", "changepoints", "changepoint_range",
                                           "missing_y"));

}  // namespace
}  // namespace cryptolake::forecast
