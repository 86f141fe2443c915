// What a forecast is worth: baselines, metrics, rolling-origin cross-validation (Prophet's
// cross_validation + performance_metrics), the prototype's seed protocol, and leakage detection.
//
// Everything here works on daily series: ds are UTC midnights one day apart (prophet_input and
// daily_filled have no missing days). The model is injected as a ModelFn, so the evaluation does
// not depend on how a model is fitted; the baselines are always evaluated beside it.
//
// Baselines (forecasts from the end of a history y_1..y_T, h = days after T):
//   naive           yhat(T+h) = y_T
//   seasonal_naive  yhat(T+h) = y_{T+h-7(k+1)}, k = floor((h-1)/7)
//   drift           yhat(T+h) = y_T + h (y_T - y_1) / (T - 1)
// with normal intervals yhat +- z sigma_h, z the (1 + interval_width)/2 normal quantile and sigma
// the root mean square of the in-sample one-step residuals (naive: y_t - y_{t-1}; seasonal naive:
// y_t - y_{t-7}; drift: y_t - y_{t-1} - c with c the drift slope):
//   naive sigma sqrt(h), seasonal naive sigma sqrt(k + 1), drift sigma sqrt(h (1 + h / T))
// (Hyndman & Athanasopoulos, FPP3 5.5). Too short a history for the residuals gives NaN bounds.
//
// Metrics (as Prophet's performance_metrics with rolling_window = 0, i.e. per horizon day), over
// points with error e = yhat - y:
//   mse = mean e^2, rmse = sqrt(mse), mae = mean |e|, mape = mean |e / y|, mdape = median |e / y|,
//   smape = mean 2 |e| / (|y| + |yhat|) (0 where both are 0), coverage = share of points with
//   yhat_lower <= y <= yhat_upper, mase = mean |e| / s, where s is the mean absolute one-step
//   naive error |y_t - y_{t-1}| over the history the point was forecast from (Hyndman's MASE;
//   below 1 beats the in-sample naive forecast), and rel_mae = mae / the naive baseline's mae on
//   the same forecasts (cutoffs and horizon; below 1 beats the naive baseline out of sample: the
//   comparison MASE makes less well on a series whose level changed 20-fold, as the in-sample
//   scale then lags the recent volatility). Ratios are fractions, not percentages. mape and
//   mdape are NaN if some |y| < 1e-8 (as Prophet drops them), coverage is NaN if a bound is NaN.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "forecast/prophet.h"
#include "lake/lake.h"

namespace cryptolake::lake {
class Connection;  // lake/duck.h; the reads go through batch/forecast_io.h
}  // namespace cryptolake::lake

namespace cryptolake::forecast {

// ---------------------------------------------------------------------------------------------
// Input

// A symbol's daily series from the lake: prophet_input (ds, y) joined with daily_filled (ma7,
// ma30, minutes_present), in day order, complete days only: a last day with minutes_present <
// 1440 (the current, partial UTC day) is dropped and reported in `dropped_partial_day`.
struct DailySeries {
  std::string symbol;
  std::vector<Micros> ds;
  std::vector<double> y, ma7, ma30;
  std::vector<int64_t> minutes_present;
  std::optional<Micros> dropped_partial_day;
};

// Reads `symbol`'s series from the views of `snap`. NotFound if the symbol has no prophet_input
// rows ("no prophet_input for FOOUSDT: run cryptolake batch"); DataLoss if the days are not
// contiguous.
StatusOr<DailySeries> LoadDailySeries(const lake::Snapshot& snap, lake::Connection& con,
                                      const std::string& symbol);

// A series from a prophet_input CSV: a header `ds,y`, then one row per day, ds a UTC date
// ("2025-05-20") and y a finite number (the close), days contiguous and increasing; \r\n line
// ends and a trailing empty line are accepted. ma7/ma30 are left empty (no regressors) and
// minutes_present is 1440 for every day (each row is taken as a complete day). This is how
// bench/prophet_reference.py feeds the same prophet_input to Prophet and to cryptolake.
// InvalidArgument, exact messages:
//   "prophet_input CSV: expected the header 'ds,y', got '<line>'"
//   "prophet_input CSV line <n>: expected 2 fields 'ds,y', got '<line>'"
//   "prophet_input CSV line <n>: ds '<ds>' is not a UTC date"     (not YYYY-MM-DD at midnight)
//   "prophet_input CSV line <n>: y '<y>' is not a finite number"
//   "prophet_input CSV line <n>: <date> follows <date>, days must be contiguous"
//   "prophet_input CSV has no rows"
StatusOr<DailySeries> ParseProphetInputCsv(std::string_view text, const std::string& symbol);

// The series as a model frame (ds, y) with the named regressors ("ma7", "ma30"). InvalidArgument
// for any other regressor name, and for ma7/ma30 on a series without them ("regressor 'ma7' is
// not in this series (a prophet_input CSV has none)").
StatusOr<Frame> ToFrame(const DailySeries& s, const std::vector<std::string>& regressors = {});

// "730d", "730 days", "730" -> 730. InvalidArgument otherwise (zero or negative too).
StatusOr<int> ParseDays(std::string_view s);

// The standard normal quantile Phi^-1(p), p in (0, 1).
double NormalQuantile(double p);

// ---------------------------------------------------------------------------------------------
// Baselines

enum class Baseline { kNaive, kSeasonalNaive, kDrift };
inline constexpr int kSeasonDays = 7;
const char* BaselineName(Baseline b);  // "naive", "seasonal_naive", "drift"
const std::vector<Baseline>& AllBaselines();
// The baseline named `name` (BaselineName), or nullopt.
std::optional<Baseline> ParseBaseline(std::string_view name);

// Forecasts `future` (days after history.ds.back(), in increasing order) from `history` (y only;
// regressors are ignored). InvalidArgument for an empty history, days that are not contiguous or
// a future day not after the history; seasonal_naive needs >= 7 days and drift >= 2.
StatusOr<Prediction> BaselineForecast(Baseline b, const Frame& history,
                                      const std::vector<Micros>& future,
                                      double interval_width = 0.8);

// One-step-ahead forecasts: day i of `series`, for each i in [begin, n), forecast with h = 1 from
// days [0, i) only ("tomorrow = today" for naive). `begin` must leave the history the baseline
// needs (as BaselineForecast).
StatusOr<Prediction> OneStepBaseline(Baseline b, const Frame& series, size_t begin,
                                     double interval_width = 0.8);

// ---------------------------------------------------------------------------------------------
// Metrics

// One forecast of one day, with what it was forecast from.
struct Point {
  Micros cutoff = 0;  // the last day of the history used
  Micros ds = 0;      // the day forecast
  double y = 0, yhat = 0, yhat_lower = 0, yhat_upper = 0;
  double scale = 0;  // MASE scale of the history (NaiveScale)
  int horizon_days() const { return static_cast<int>((ds - cutoff) / kMicrosPerDay); }
};

struct Metrics {
  int horizon_days = 0;  // 0: every point (all horizons)
  int64_t n = 0;
  double mse = 0, rmse = 0, mae = 0, mape = 0, mdape = 0, smape = 0, coverage = 0, mase = 0;
  double rel_mae = 0;  // set by the protocols (NaN from ComputeMetrics)
};

// The median of v (the mean of the middle two for an even count); NaN when v is empty.
double Median(std::vector<double> v);
// Mean |y_t - y_{t-1}| over t = 2..n; NaN with fewer than 2 values.
double NaiveScale(const std::vector<double>& y, size_t n);
// The metrics of `points` (all of them), labelled `horizon_days`. Empty points: n = 0, NaNs.
Metrics ComputeMetrics(const std::vector<Point>& points, int horizon_days);
// One row per distinct horizon (ascending), then the row over every point (horizon_days 0).
std::vector<Metrics> PerformanceMetrics(const std::vector<Point>& points);

// ---------------------------------------------------------------------------------------------
// Leakage

// Which target values a regressor's value at day d is computed from: y of days
// [d + first_offset, d + last_offset]. daily_filled's ma7 is {-6, 0}: it contains y(d) itself.
struct RegressorLineage {
  std::string name;
  int first_offset = 0;
  int last_offset = 0;
};
// The lineage of a daily_filled column used as a regressor ("ma7", "ma30"); InvalidArgument for
// an unknown one.
StatusOr<RegressorLineage> DailyFilledLineage(std::string_view name);

struct Leak {
  std::string regressor;
  Micros at = 0;      // the forecast day whose regressor value leaks
  Micros uses = 0;    // the latest target day it uses (> cutoff)
  Micros cutoff = 0;  // the last day the forecast may know
  // "regressor ma7 at 2025-06-01 uses close of 2025-06-01, the day being forecast: leakage", or
  // for a lagged one "... uses close of D, after the cutoff C: leakage".
  std::string message;
};

// For each regressor, its first leak over the forecasts (cutoff, days) in `forecasts`, in the
// order given: a value at day d > cutoff that uses y of a day after the cutoff. Empty: no leakage.
std::vector<Leak> DetectLeakage(
    const std::vector<RegressorLineage>& regressors,
    const std::vector<std::pair<Micros, std::vector<Micros>>>& forecasts);
// The refusal of a leaky run: each leak's message, "; "-joined, then "; pass --allow-leakage to
// compute the prototype's inflated metrics anyway".
std::string LeakageRefusal(const std::vector<Leak>& leaks);

// ---------------------------------------------------------------------------------------------
// Protocols

// Fits on `history` (ds, y, regressors) and predicts `future` (ds and the same regressors, no y).
// Called concurrently from several threads: it must be thread-safe.
using ModelFn = std::function<StatusOr<Prediction>(const Frame& history, const Frame& future)>;

struct NamedModel {
  std::string name;  // "prophet", ...
  ModelFn fn;
};

// The forecasts and metrics of one model.
struct ModelResult {
  std::string name;
  bool baseline = false;
  std::vector<Point> points;     // by cutoff, then day
  std::vector<Metrics> metrics;  // PerformanceMetrics (cv) or the single all-points row (seed)
};

// Sets rel_mae of every row of `models`: mae / the mae of the model named `reference` at the
// same horizon_days (NaN if it has no such row or its mae is 0).
void SetRelativeMae(std::vector<ModelResult>& models, std::string_view reference);

struct Evaluation {
  std::string symbol;
  std::string protocol;  // "rolling" | "seed"
  Frame series;          // the whole series evaluated (y; no regressors)
  std::vector<Micros> cutoffs;
  int initial_days = 0, period_days = 0, horizon_days = 0;  // rolling only
  size_t train_days = 0, test_days = 0;                     // seed only
  std::vector<std::string> regressors;
  std::vector<Leak> leakage;  // non-empty only for a run with allow_leakage
  double interval_width = 0.8;
  int threads = 1;
  std::string primary;              // the model the report features (a baseline's name if no fn)
  std::vector<ModelResult> models;  // the model (if any) first, then the baselines
  // Suite runs (forecast/select.h): the selection at the last day, a line per horizon 1, 7, 30
  // ("1d: naive kept: ets's MASE 0.991 is not 2% below naive's 0.995").
  std::vector<std::string> selection;
  bool leaky() const { return !leakage.empty(); }
  const ModelResult* Find(std::string_view name) const;
};

// Prophet's generate_cutoffs on the days `ds`: the last cutoff is ds.back() - horizon; then every
// `period` days earlier while the cutoff stays >= ds.front() + initial (a cutoff with no day in
// (cutoff, cutoff + horizon] moves to the last day before it, minus the horizon). Ascending.
// InvalidArgument if none fits ("initial 730d + horizon 30d leave no cutoff in 2025-01-01..
// 2025-06-30 (181 days)").
StatusOr<std::vector<Micros>> GenerateCutoffs(const std::vector<Micros>& ds, int initial_days,
                                              int period_days, int horizon_days);

struct CvOptions {
  int initial_days = 730, period_days = 30, horizon_days = 30;
  int threads = 0;                           // 0: std::thread::hardware_concurrency()
  std::vector<RegressorLineage> regressors;  // taken from series.regressors by name
  bool allow_leakage = false;
  double interval_width = 0.8;
  // Called after each finished cutoff with (done, total), from worker threads (serialized).
  std::function<void(int, int)> progress;
};

// Rolling-origin cross-validation: for each cutoff c, `model` (if it has a fn) and every
// baseline are fitted on the days <= c and forecast the days in (c, c + horizon]. Cutoffs run on
// a pool of `threads` threads. FailedPrecondition with LeakageRefusal(...) if a regressor leaks and
// !allow_leakage; the first failing model fit fails the run (message prefixed with the model and
// the cutoff).
StatusOr<Evaluation> CrossValidate(const std::string& symbol, const Frame& series,
                                   const NamedModel& model, const CvOptions& options);

// The prototype's split: the first floor(n * train_fraction) days train, the rest test.
struct SeedSplit {
  size_t train = 0, test = 0;
};
SeedSplit SplitSeed(size_t n, double train_fraction = 0.8);

struct SeedOptions {
  double train_fraction = 0.8;
  std::vector<RegressorLineage> regressors;  // the prototype's: ma7, ma30 (same day)
  bool allow_leakage = false;
  double interval_width = 0.8;
};

// The prototype's evaluation: fit on the first 80% (with the regressors), forecast every test day
// with its same-day regressor values. Beside the model: the baselines from the end of the
// training days (multi-step, as the model) and one step ahead ("naive_1step", ...: each test day
// from the days before it). Metrics: one all-points row per model. FailedPrecondition with
// LeakageRefusal(...) if a regressor leaks and !allow_leakage.
StatusOr<Evaluation> SeedProtocol(const std::string& symbol, const Frame& series,
                                  const NamedModel& model, const SeedOptions& options);

}  // namespace cryptolake::forecast
