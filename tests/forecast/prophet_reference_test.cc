// The native model against the real Prophet (issue 6's reference check, in small): Prophet's
// yhat at chosen days of the BTCUSDT and ETHUSDT daily close, and its mean interval width, from
// fixtures/prophet_reference.json. bench/prophet_reference.py wrote that file with PyPI prophet;
// the command and the prophet version that regenerate it are inside it. The series are read in
// place from ../shared/data and fitted with the default options, which are Prophet's defaults.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "forecast/prophet.h"
#include "testing/testing.h"

namespace cryptolake::forecast {
namespace {

using nlohmann::json;

// Tolerances, as fractions of the series' scale max|y|, against two references in the fixture:
// - prophet_yhat: Prophet as shipped (default Stan settings). Its L-BFGS stops short of the
//   posterior's mode on the non-smooth Laplace prior (our -log posterior is lower by 4.8 on
//   BTCUSDT and 17.7 on ETHUSDT), so on ETHUSDT one fixture day, 2021-11-10, is 1.05% of scale
//   away: the per-day bound is 1.5%. Measured mean over the fixture days: BTCUSDT 0.19%, ETHUSDT
//   0.44%, bound 0.5%.
// - prophet_tight_yhat: Prophet with Stan's stopping tests tightened (the fixture's stan_tight),
//   closer to the mode: every fixture day within issue 6's 1% (measured max 0.44% BTCUSDT,
//   0.56% ETHUSDT; mean 0.19% and 0.17%, bound 0.5%).
// - The mean interval width over history + 30 days: measured 0.996 and 0.995 of Prophet's, bound
//   +-3%.
constexpr double kMaxDayDiff = 0.015;      // vs prophet_yhat, each fixture day
constexpr double kMaxDayDiffTight = 0.01;  // vs prophet_tight_yhat, each fixture day
constexpr double kMeanDayDiff = 0.005;     // mean over the fixture days, vs either
constexpr double kWidthRatioTol = 0.03;    // |our mean width / Prophet's - 1|

json Fixture() {
  std::ifstream in(std::string(CL_FORECAST_FIXTURES) + "/prophet_reference.json");
  EXPECT_TRUE(in) << "missing " << CL_FORECAST_FIXTURES << "/prophet_reference.json";
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// The daily close of a data.binance.vision 1d kline file: ds = open time (field 1, ms), y = close
// (field 5), as bench/prophet_reference.py reads it for Prophet.
Frame DailyClose(const std::filesystem::path& path) {
  Frame f;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) fields.push_back(x);
    if (fields.size() != 12) {
      ADD_FAILURE() << path << ": not a 12-field kline row: " << line;
      break;
    }
    f.ds.push_back(std::stoll(fields[0]) * 1000);
    f.y.push_back(std::stod(fields[4]));
  }
  return f;
}

class ProphetReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProphetReferenceTest, NativeFitMatchesProphet) {
  const std::string symbol = GetParam();
  const json fixture = Fixture();
  ASSERT_FALSE(fixture.is_discarded()) << "fixtures/prophet_reference.json is not valid JSON";
  ASSERT_TRUE(fixture["series"].contains(symbol));
  const json& ref = fixture["series"][symbol];

  Frame history = DailyClose(testing::SharedData() / ref["file"].get<std::string>());
  ASSERT_EQ(history.ds.size(), ref["days"].get<size_t>());
  EXPECT_EQ(FormatDate(history.ds.front()), ref["first"].get<std::string>());
  EXPECT_EQ(FormatDate(history.ds.back()), ref["last"].get<std::string>());
  double scale = 0;
  for (double y : history.y) scale = std::max(scale, std::abs(y));
  EXPECT_EQ(scale, ref["scale"].get<double>());
  if (symbol == "BTCUSDT") {  // a known close (the data README), so the reader reads the close
    auto it = std::find(history.ds.begin(), history.ds.end(), *ParseTime("2017-12-17"));
    ASSERT_NE(it, history.ds.end());
    EXPECT_EQ(history.y[it - history.ds.begin()], 18860.02);
  }

  auto model = ProphetModel::Fit(history, ProphetOptions{});
  ASSERT_TRUE(model.ok()) << model.status().message();
  Frame all;
  all.ds = history.ds;
  for (Micros d : FutureDays(history.ds.back(), ref["periods"].get<int>())) all.ds.push_back(d);
  auto p = model->Predict(all);
  ASSERT_TRUE(p.ok()) << p.status().message();

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < all.ds.size(); ++i) index[FormatDate(all.ds[i])] = i;
  for (const auto& [key, max_day] :
       {std::pair<std::string, double>{"prophet_yhat", kMaxDayDiff},
        std::pair<std::string, double>{"prophet_tight_yhat", kMaxDayDiffTight}}) {
    double sum = 0;
    int n = 0;
    for (const auto& [day, yhat] : ref[key].items()) {
      ASSERT_TRUE(index.count(day)) << day;
      const double ours = p->yhat[index[day]];
      const double diff = std::abs(ours - yhat.get<double>()) / scale;
      EXPECT_LE(diff, max_day) << symbol << " " << key << " " << day << ": ours " << ours
                               << ", Prophet " << yhat.get<double>();
      sum += diff;
      ++n;
    }
    EXPECT_GE(n, 10) << key;
    EXPECT_LE(sum / n, kMeanDayDiff) << symbol << " " << key << ": mean |yhat diff| / scale";
  }

  double width = 0;
  for (size_t i = 0; i < all.ds.size(); ++i) width += p->yhat_upper[i] - p->yhat_lower[i];
  width /= static_cast<double>(all.ds.size());
  const double ref_width = ref["prophet_interval_width_mean"].get<double>();
  EXPECT_NEAR(width / ref_width, 1.0, kWidthRatioTol)
      << symbol << ": mean interval width " << width << ", Prophet's " << ref_width;
}

INSTANTIATE_TEST_SUITE_P(Symbols, ProphetReferenceTest, ::testing::Values("BTCUSDT", "ETHUSDT"));

}  // namespace
}  // namespace cryptolake::forecast
