// The model suite's rolling-origin CV on one series, for bench/statsforecast_reference.py (issue
// 13: each native ETS/ARIMA/Theta within 2% of statsforecast's MAPE and >= 10x faster per fit).
//
// Reads a prophet_input CSV (ds,y: forecast::ParseProphetInputCsv), takes the cutoffs of
// forecast::GenerateCutoffs (730 days initial, a cutoff every 30 days, 30 days ahead, as the
// project's CV), and for each model of forecast::ModelNames() but ensemble and prophet (or those
// of --models) fits the days <= each cutoff, single-threaded, and forecasts 30 days. Printed as
// one JSON object on stdout: the series, its cutoffs, and per model the MAPE (mean |yhat - y| / y
// over the cutoffs) and the coverage of the model's own 80% interval at 1, 7 and 30 days ahead,
// and the median, min and max wall time of a fit (Model::Fit, the model's own search included),
// and its median CPU time (the fitting thread's: what it costs, whoever else shares the cores).
// Usage: models_bench --csv FILE [--symbol NAME] [--models naive,ets,...] [--initial D]
//                     [--period D] [--horizon D]
#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.h"
#include "forecast/evaluate.h"
#include "forecast/models.h"

namespace cl = cryptolake;
namespace fc = cryptolake::forecast;

namespace {

[[noreturn]] void Die(const std::string& msg) {
  fmt::print(stderr, "models_bench: {}\n", msg);
  std::exit(1);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) {
    if (!x.empty()) out.push_back(x);
  }
  return out;
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv, symbol = "series";
  std::vector<std::string> models;
  int initial = 730, period = 30, horizon = 30;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--csv") {
      csv = value();
    } else if (a == "--symbol") {
      symbol = value();
    } else if (a == "--models") {
      models = Split(value());
    } else if (a == "--initial") {
      initial = std::stoi(value());
    } else if (a == "--period") {
      period = std::stoi(value());
    } else if (a == "--horizon") {
      horizon = std::stoi(value());
    } else {
      Die("unknown argument " + a +
          " (usage: models_bench --csv FILE [--symbol NAME] [--models a,b] [--initial D] "
          "[--period D] [--horizon D])");
    }
  }
  if (csv.empty()) Die("--csv FILE is required");
  if (models.empty()) {
    for (const std::string& m : fc::ModelNames()) {
      if (m != "ensemble" && m != "prophet") models.push_back(m);
    }
  }
  std::ifstream in(csv, std::ios::binary);
  if (!in) Die("cannot open " + csv);
  std::stringstream text;
  text << in.rdbuf();
  auto series = fc::ParseProphetInputCsv(text.str(), symbol);
  if (!series.ok()) Die(series.status().ToString());
  auto frame = fc::ToFrame(*series);
  if (!frame.ok()) Die(frame.status().ToString());
  auto cutoffs = fc::GenerateCutoffs(frame->ds, initial, period, horizon);
  if (!cutoffs.ok()) Die(cutoffs.status().ToString());

  const std::vector<int> horizons = {1, 7, 30};
  nlohmann::json out;
  out["symbol"] = symbol;
  out["days"] = frame->ds.size();
  out["first"] = cl::FormatDate(frame->ds.front());
  out["last"] = cl::FormatDate(frame->ds.back());
  out["initial_days"] = initial;
  out["period_days"] = period;
  out["horizon_days"] = horizon;
  out["cutoffs"] = nlohmann::json::array();
  for (cl::Micros c : *cutoffs) out["cutoffs"].push_back(cl::FormatDate(c));
  out["models"] = nlohmann::json::object();
  for (const std::string& name : models) {
    auto model = fc::MakeModel(name);
    if (!model.ok()) Die(model.status().ToString());
    std::vector<double> fit_ms, fit_cpu_ms;
    std::vector<double> ape_sum(horizons.size(), 0), covered(horizons.size(), 0);
    std::vector<int> count(horizons.size(), 0);
    for (cl::Micros c : *cutoffs) {
      size_t end = std::upper_bound(frame->ds.begin(), frame->ds.end(), c) - frame->ds.begin();
      fc::Frame history;
      history.ds.assign(frame->ds.begin(), frame->ds.begin() + end);
      history.y.assign(frame->y.begin(), frame->y.begin() + end);
      double c0 = ThreadCpuMs();
      auto t0 = std::chrono::steady_clock::now();
      auto fit = (*model)->Fit(history, {0.8, 0});
      auto t1 = std::chrono::steady_clock::now();
      fit_cpu_ms.push_back(ThreadCpuMs() - c0);
      if (!fit.ok())
        Die(fmt::format("{} at {}: {}", name, cl::FormatDate(c), fit.status().ToString()));
      fit_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      fc::PathForecast p = (*fit)->Predict(horizon);
      for (size_t k = 0; k < horizons.size(); ++k) {
        size_t idx = end + horizons[k] - 1;
        if (horizons[k] > horizon || idx >= frame->y.size()) continue;
        double y = frame->y[idx], yhat = p.yhat[horizons[k] - 1];
        ape_sum[k] += std::abs(yhat - y) / std::abs(y);
        double lo = p.lower[horizons[k] - 1], hi = p.upper[horizons[k] - 1];
        covered[k] += lo <= y && y <= hi ? 1 : 0;
        ++count[k];
      }
    }
    nlohmann::json m;
    for (size_t k = 0; k < horizons.size(); ++k) {
      std::string h = std::to_string(horizons[k]);
      m["mape"][h] = count[k] ? ape_sum[k] / count[k] : NAN;
      m["coverage80"][h] = count[k] ? covered[k] / count[k] : NAN;
    }
    m["fits"] = fit_ms.size();
    m["fit_ms_median"] = Median(fit_ms);
    m["fit_cpu_ms_median"] = Median(fit_cpu_ms);
    m["fit_ms_min"] = *std::min_element(fit_ms.begin(), fit_ms.end());
    m["fit_ms_max"] = *std::max_element(fit_ms.begin(), fit_ms.end());
    out["models"][name] = m;
  }
  std::puts(out.dump(1).c_str());
  return 0;
}
