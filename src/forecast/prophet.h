// A native reimplementation of Prophet's additive model (Taylor & Letham, facebook/prophet
// 1.1.x, python/prophet/forecaster.py and stan/prophet.stan), fitted as a MAP estimate.
//
// Model, on y scaled by y_scale = max|y| (Prophet's scaling="absmax", floor 0) and time scaled
// to t = (ds - start) / (end - start) over the history:
//   y(t) = trend(t) * (1 + X_m(t) . beta) + X_a(t) . beta + noise,   noise ~ N(0, sigma_obs)
//   trend(t) = (k + a(t) . delta) * t + (m + a(t) . (-s * delta))   (piecewise linear)
// with changepoints s_j (by default 25, at the history points of indexes round(linspace(0,
// floor(n * 0.8) - 1, 26))[1:], as Prophet places them), a_j(t) = [t >= s_j].
// Features X: Fourier terms of each seasonality (yearly 365.25 d order 10, weekly 7 d order 3,
// daily 1 d order 4; for n = 1..order the columns sin(2 pi n t_days / P), cos(2 pi n t_days / P)
// with t_days = days since 1970-01-01, in that order), extra regressors (standardized by their
// history mean and std unless binary or standardize = false) and holidays (one indicator column
// per holiday and day offset in [lower_window, upper_window]). Each column is additive or
// multiplicative (seasonality_mode, or per component).
// Priors (the negative log posterior is minimized, constants dropped):
//   k, m ~ N(0, 5); delta_j ~ Laplace(0, changepoint_prior_scale); beta_i ~ N(0, prior_scale_i);
//   sigma_obs ~ N(0, 0.5) truncated at 0.
// Auto seasonalities as Prophet: yearly if the history spans >= 730 days, weekly if >= 2 weeks
// (and the spacing is < 7 days), daily if the spacing is < 1 day and the span >= 2 days.
//
// Fit: L-BFGS on Eigen vectors through liblbfgs, with the Laplace prior as the L1 term of OWL-QN
// (orthant-wise, liblbfgs' orthantwise_c over the delta block): insignificant changepoints get
// delta exactly 0. OWL-QN runs on preconditioned variables (a linear change of variables that
// scales the delta block by one common factor, so the L1 term stays exact, and decorrelates the
// other variables from it; see Objective::Precondition) and restarts from its last point if a
// line search stalls. The optimum is the posterior's mode, which Stan's L-BFGS (Prophet) only
// approaches: its delta are small instead of 0. sigma_obs is optimized as log(sigma_obs) (the mode
// in sigma is unchanged: no Jacobian term, as Stan's optimizing()). Initialization as Prophet: k, m
// from the line through the first and last scaled points, delta = 0, beta = 0, sigma_obs = 1. Log
// transform (options.log_transform): the model is fitted on log(y) (y must be > 0) and predictions
// (yhat and the interval bounds) are exp()'d back.
//
// Predict: yhat = the model at the parameters. Intervals as Prophet's predict_uncertainty with
// MAP parameters: `uncertainty_samples` trend paths, each with future changepoints drawn as
// Prophet does (a Poisson number of them with rate n_changepoints per unit of scaled time
// beyond t = 1, placed uniformly, with Laplace(0, mean|delta| + 1e-8) rate changes), plus
// N(0, sigma_obs) noise; yhat_lower/upper = the (1 - interval_width)/2 and (1 + interval_width)/2
// quantiles of the samples. Seeded (options.seed): the same inputs give the same intervals.
//
// With uncertainty_samples = 0 no samples are drawn and yhat_lower/upper are NaN.
//
// Errors (InvalidArgument, exact messages; <date> is FormatIso(ds), <frame> "history"/"future"):
//   "history has <n> non-NaN y, at least 2 are needed"
//   "y is not finite at <date>: inf"                        (NaN y are dropped, as Prophet)
//   "ds not strictly increasing at row <i>: <date> after <date>"
//   "<frame> has <n> ds but <m> y"
//   "regressor '<name>' is missing from the <frame> frame"
//   "regressor '<name>' has <n> values for <m> ds in the <frame> frame"
//   "regressor '<name>' is not finite at <date>"            (history rows with NaN y are ignored)
//   "log_transform needs y > 0, got <y> at <date>"
//   "unknown seasonality_mode '<mode>': expected additive or multiplicative"
//   "unknown mode '<mode>' for '<name>': expected additive or multiplicative"
//   "invalid option: <what>" for a non-positive prior scale, period, order or max_iterations, a
//     changepoint_range outside [0, 1], interval_width outside (0, 1), a negative
//     n_changepoints or uncertainty_samples, an empty or duplicate name, a holiday window not
//     around its day.
// Predict on a default-constructed (unfitted) model: FailedPrecondition "the model is not fitted".
// Thread-safety: a fitted model is immutable; Predict is const and may run concurrently (each
// call seeds its own RNG).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::forecast {

struct Seasonality {
  std::string name;  // "yearly", "weekly", "daily", or a custom name
  double period_days = 0;
  int order = 0;
  std::optional<double> prior_scale;  // default: seasonality_prior_scale (as Prophet)
  std::optional<std::string> mode;    // "additive" | "multiplicative"; default: seasonality_mode
};

struct RegressorSpec {
  std::string name;
  std::optional<double> prior_scale;  // default: holidays_prior_scale (as Prophet)
  bool standardize = true;            // "auto" in Prophet: binary columns are not standardized
  std::optional<std::string> mode;    // default: seasonality_mode
};

struct Holiday {
  std::string name;
  std::vector<Micros> days;  // UTC midnights
  int lower_window = 0;      // e.g. -1: the day before too
  int upper_window = 0;
  std::optional<double> prior_scale;  // default: holidays_prior_scale; mode: seasonality_mode
};

struct ProphetOptions {
  int n_changepoints = 25;
  double changepoint_range = 0.8;
  double changepoint_prior_scale = 0.05;
  // Auto (nullopt) decides from the history as Prophet; true/false forces.
  std::optional<bool> yearly_seasonality, weekly_seasonality, daily_seasonality;
  int yearly_order = 10, weekly_order = 3, daily_order = 4;
  double seasonality_prior_scale = 10;
  std::string seasonality_mode = "additive";
  std::vector<Seasonality> extra_seasonalities;
  std::vector<RegressorSpec> regressors;
  std::vector<Holiday> holidays;
  double holidays_prior_scale = 10;
  bool log_transform = false;
  double interval_width = 0.8;
  int uncertainty_samples = 1000;
  uint64_t seed = 0;
  // L-BFGS: stop when the relative objective decrease over 10 iterations is below this, or
  // after max_iterations.
  double tolerance = 1e-10;
  int max_iterations = 10000;
};

// Daily history or future frame: ds (UTC micros, strictly increasing), y (history only), and the
// extra regressors' values by name (one value per ds).
struct Frame {
  std::vector<Micros> ds;
  std::vector<double> y;
  std::map<std::string, std::vector<double>> regressors;
};

struct Prediction {
  std::vector<Micros> ds;
  std::vector<double> yhat, yhat_lower, yhat_upper;
  std::vector<double> trend, additive, multiplicative;  // components, in y's units (before exp)
};

// The fitted parameters, in the scaled space (for tests and the reference comparison).
struct Params {
  double k = 0, m = 0, sigma_obs = 0;
  std::vector<double> delta;           // one per changepoint
  std::vector<double> beta;            // one per feature column
  std::vector<std::string> columns;    // feature column names: "yearly_sin1", "ma7", "halving-1"
  std::vector<double> changepoints_t;  // scaled changepoint times ({0} with delta {0} if none fit,
                                       // as Prophet: the dummy's rate is folded into k)
  double y_scale = 1;
  Micros start = 0, t_scale = 0;  // t = (ds - start) / t_scale
  int iterations = 0;
  double objective = 0;  // negative log posterior at the optimum (constants dropped)
};

class ProphetModel {
 public:
  static StatusOr<ProphetModel> Fit(const Frame& history, const ProphetOptions& options = {});
  StatusOr<Prediction> Predict(const Frame& future) const;
  const Params& params() const { return params_; }
  const ProphetOptions& options() const { return options_; }

 private:
  // How to build one feature column for any ds (same order as params_.beta).
  struct Column {
    enum class Kind { kSin, kCos, kRegressor, kHoliday };
    Kind kind = Kind::kSin;
    double period = 0;  // Fourier: period (days) and harmonic n
    int harmonic = 0;
    std::string regressor;  // regressor: (x - mu) / sd
    double mu = 0, sd = 1;
    std::vector<Micros> days;  // holiday: the UTC days (offset applied) it is 1 on, sorted
    double prior_scale = 10;
    bool multiplicative = false;
  };

  ProphetOptions options_;
  Params params_;
  std::vector<Column> columns_;
};

// `periods` UTC days after `last` (last + 1 day, ...).
std::vector<Micros> FutureDays(Micros last, int periods);

}  // namespace cryptolake::forecast
