// A native reimplementation of Prophet's model (Taylor & Letham, facebook/prophet 1.1.x / 1.5.0,
// python/prophet/forecaster.py and stan/prophet.stan), fitted as a MAP estimate.
//
// Model, on y scaled as Prophet's scaling="absmax": y_scaled = (y - floor) / y_scale, y_scale =
// max|y - floor| over the history (floor: the frame's "floor" column with logistic growth, else
// 0), and time scaled to t = (ds - start) / (end - start) over the history:
//   y_scaled(t) = trend(t) * (1 + X_m(t) . beta) + X_a(t) . beta + noise, noise ~ N(0, sigma_obs)
// trend by options.growth:
//   linear    (k + a(t) . delta) * t + (m + a(t) . (-s * delta))      (piecewise linear)
//   logistic  C(t) / (1 + exp(-(k + a(t) . delta) (t - (m + a(t) . gamma))))
//             C = (cap - floor) / y_scale, gamma_j = (s_j - m_{j-1}) (1 - k_{j-1} / k_j) the
//             offsets that keep it continuous (k_j, m_j the rate and offset after changepoint j;
//             Prophet's logistic_gamma)
//   flat      m (k and delta keep their priors only: they fit to 0)
// with changepoints s_j (by default 25, at the history points of indexes round(linspace(0,
// floor(n * changepoint_range) - 1, 26))[1:], as Prophet places them; or options.changepoints,
// explicit dates inside the history, which override n_changepoints and changepoint_range),
// a_j(t) = [t >= s_j].
// Predictions are on y's scale: yhat = (trend * y_scale + floor) * (1 + X_m . beta) +
// X_a . beta * y_scale, as Prophet's predict (the floor is added to the trend).
// Features X: Fourier terms of each seasonality (yearly 365.25 d order 10, weekly 7 d order 3,
// daily 1 d order 4, and the extra_seasonalities as Prophet's add_seasonality; for n = 1..order
// the columns sin(2 pi n t_days / P), cos(2 pi n t_days / P) with t_days = days since
// 1970-01-01, in that order; a seasonality with a condition_name is 0 on the rows where that
// 0/1 column of the frame is 0), extra regressors (standardized by their
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
// from the line through the first and last scaled points (linear; logistic: Prophet's
// logistic_growth_init; flat: k = 0, m = the mean scaled y), delta = 0, beta = 0, sigma_obs = 1.
// Logistic growth is not linear in its parameters: its fit evaluates the trend explicitly and
// runs without the preconditioner, so it needs more iterations (700-1200 on Prophet's Peyton
// Manning examples; a noise-free synthetic curve with 25 changepoints can use up
// max_iterations). Its likelihood can have more than one mode: from Prophet's initialization the
// fit may reach a different (on the documented floor example, better) mode than Prophet's Stan
// L-BFGS. Log
// transform (options.log_transform): the model is fitted on log(y) (y must be > 0) and predictions
// (yhat and the interval bounds) are exp()'d back.
//
// Predict: yhat = the model at the parameters. Intervals as Prophet's predict_uncertainty with
// MAP parameters: `uncertainty_samples` trend paths, each with future changepoints drawn as
// Prophet does (a Poisson number of them with rate n_changepoints per unit of scaled time
// beyond t = 1, placed uniformly, with Laplace(0, mean|delta| + 1e-8) rate changes), plus
// N(0, sigma_obs) noise (logistic: the sampled rate changes continue the logistic curve with its
// continuity offsets; flat: no trend uncertainty, noise only); yhat_lower/upper = the (1 -
// interval_width)/2 and (1 + interval_width)/2 quantiles of the samples. Seeded (options.seed): the
// same inputs give the same intervals.
//
// With uncertainty_samples = 0 no samples are drawn and yhat_lower/upper are NaN.
//
// Missing y: history rows with a NaN y are left out of the fit (scales, changepoints, auto
// seasonalities and regressor standardization see only the other rows, as Prophet's fit), and
// Predict covers any days, those included.
//
// Errors (InvalidArgument, exact messages; <date> is FormatIso(ds), <frame> "history"/"future"):
//   "history has <n> non-NaN y, at least 2 are needed"
//   "y is not finite at <date>: inf"                        (NaN y are dropped, as Prophet)
//   "unknown growth '<growth>': expected linear, logistic or flat"
//   "logistic growth needs a cap column in the <frame> frame"
//   "floor is missing from the future frame (the history has one)"
//   "<cap|floor> has <n> values for <m> ds in the <frame> frame"
//   "<cap|floor> is not finite at <date>"
//   "cap must be greater than floor (which defaults to 0) at <date>: cap <c>, floor <f>"
//   "condition '<name>' is missing from the <frame> frame"
//   "condition '<name>' has <n> values for <m> ds in the <frame> frame"
//   "condition '<name>' is not 0 or 1 at <date>: <v>"
//   "changepoint <date> is outside the history <first>..<last>"
//   "invalid option: log_transform with logistic growth"
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
  // A 0/1 column of the frames (Frame::regressors[condition_name]): the seasonality is 0 where it
  // is 0 (Prophet's condition_name). Empty: always on.
  std::string condition_name;
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
  // "linear" | "logistic" (the frames carry "cap", optionally "floor") | "flat".
  std::string growth = "linear";
  // Explicit changepoint dates (inside the history; any order): they replace the n_changepoints
  // grid. An empty list: no changepoints (Prophet's changepoints=[]).
  std::optional<std::vector<Micros>> changepoints;
  // Logistic growth: a constant cap / floor for frames without a "cap" / "floor" column (the
  // CLI's --cap and --floor; a column, where present, wins).
  std::optional<double> cap, floor;
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
// frame's other columns by name (one value per ds), as Prophet's data frame: the extra
// regressors, "cap" and "floor" (logistic growth) and the seasonalities' 0/1 conditions.
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
  bool logistic_floor = false;    // logistic growth with a floor column: yhat adds the floor
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
    std::string condition;     // Fourier: the frame's 0/1 column that switches it on, if any
    double prior_scale = 10;
    bool multiplicative = false;
  };
  struct Fitter;  // Fit's steps (prophet_fit.cc)

  ProphetOptions options_;
  Params params_;
  std::vector<Column> columns_;
};

// `periods` UTC days after `last` (last + 1 day, ...).
std::vector<Micros> FutureDays(Micros last, int periods);

}  // namespace cryptolake::forecast
