// What ets_test.cc and theta_test.cc share: fixtures/statsforecast_reference.json (written by
// fixtures/statsforecast_fixture.py with statsforecast) and the series it was computed on, the
// log daily closes of a kline file read in place from ../shared/data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace cryptolake::forecast::testing {

inline nlohmann::json StatsforecastReference() {
  std::string path = std::string(CL_FORECAST_FIXTURES) + "/statsforecast_reference.json";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// log(close) of the first `days` rows of ../shared/data/<file> (a 12-field kline CSV).
inline std::vector<double> LogCloses(const std::string& file, int days) {
  std::string path = std::string(CL_SHARED_DATA) + "/" + file;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<double> y;
  std::string line;
  while (static_cast<int>(y.size()) < days && std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) fields.push_back(x);
    if (fields.size() != 12) {
      ADD_FAILURE() << path << ": not a 12-field kline row: " << line;
      break;
    }
    y.push_back(std::log(std::stod(fields[4])));
  }
  EXPECT_EQ(static_cast<int>(y.size()), days) << path;
  return y;
}

// |a - b| / max(|b|, floor): the relative difference, absolute near 0.
inline double RelDiff(double a, double b, double floor = 1e-3) {
  return std::abs(a - b) / std::max(std::abs(b), floor);
}

}  // namespace cryptolake::forecast::testing
