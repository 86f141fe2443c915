// AutoETS with additive errors and no season, as statsforecast 2.1.1's
// AutoETS(season_length=1, model="AZN") (python/statsforecast/ets.py and src/ets.cpp, which follow
// R forecast's ets()): ETS(A,N,N), ETS(A,A,N) and ETS(A,Ad,N), each fitted by maximum likelihood,
// the one with the least AICc kept. The suite's "ets" model (forecast/models.h) fits it on log y.
//
// Models (innovations state space, Hyndman et al. 2008), y_t = f_t + e_t:
//   A,N,N   f_t = l,            l <- l + alpha e
//   A,A,N   f_t = l + b,        l <- l + b + alpha e,        b <- b + beta e
//   A,Ad,N  f_t = l + phi b,    l <- l + phi b + alpha e,    b <- phi b + beta e
// (statsforecast's Update computes b = phi b + (beta / alpha) (l - l_old - phi b), the same
// value up to rounding; here b = phi b + beta e, which halves the latency of the serial
// recursion that is the fit's cost. The fits still agree with statsforecast's to 1e-6: see
// tests/forecast/ets_test.cc.)
//
// Fit (statsforecast's etsmodel, bounds "both", optimization criterion "lik"):
//   - start: alpha = 1e-4 + 0.2 (0.9999 - 1e-4); the box for beta is [1e-4, min(0.9999, alpha
//     start)] and beta starts at 1e-4 + 0.1 of that box; phi starts at 0.8 + 0.99 (0.98 - 0.8);
//     l0 = the mean of the first min(10, n) values (A,N,N) or l0, b0 the least-squares line
//     through them at t = 1..min(10, n) (trend models);
//   - box bounds alpha [1e-4, 0.9999], beta as above, phi [0.8, 0.98], states unbounded;
//   - minimizes -2 log L (constants dropped) = n log(sum e_t^2) with statsforecast's Nelder-Mead
//     (forecast/nelder_mead.h: tol_std 1e-4, at most 1000 iterations) over
//     (alpha, beta, phi, l0, b0) (those the model has);
//   - n_params = the optimized values + 1 (the variance); AIC = -2 log L + 2 k,
//     AICc = AIC + 2 k (k + 1) / (n - k - 1), BIC = -2 log L + log(n) k;
//     sigma2 = sum e_t^2 / (n - k - 1).
//   A model with as many values to optimize as n - 1 or more is not fitted (AICc infinite).
//   A constant series is fitted as A,N,N with alpha fixed at 0.9999 (as statsforecast).
// Forecast: l + phi_h b from the last states (l, b), with phi_h as statsforecast's Forecast
// computes it: phi_1 = phi, phi_h = phi_{h-1} + phi^(h-1) (h for A,A,N, phi = 1; b = 0 for
// A,N,N); note phi_2 = 2 phi, not the textbook phi + phi^2. The interval uses the
// class-1 forecast variances of Hyndman et al. (2008, table 6.1) as statsforecast's
// _compute_pred_intervals: sigma2 v_h with
//   A,N,N   v_h = 1 + alpha^2 (h - 1)
//   A,A,N   v_h = 1 + (h - 1) (alpha^2 + alpha beta h + beta^2 h (2h - 1) / 6)
//   A,Ad,N  v_h = 1 + alpha^2 (h - 1) + beta phi h (2 alpha (1 - phi) + beta phi) / (1 - phi)^2
//                 - beta phi (1 - phi^h) (2 alpha (1 - phi^2) + beta phi (1 + 2 phi - phi^h))
//                   / ((1 - phi)^2 (1 - phi^2))
// and the interval mean +- z sqrt(sigma2 v_h), z the normal quantile of (1 + level) / 2.
//
// Errors (InvalidArgument, exact messages):
//   "ETS: <n> values, at least 7 are needed"           (statsforecast refuses n <= 6)
//   "ETS: y is not finite at index <i>: <y>"
//   "ETS: no model could be fitted to <n> values"      (every candidate's AICc infinite)
//   "ETS: alpha <a> outside [0.0001, 0.9999]"          (a fixed alpha)
//   "ETS: parameters out of range"                     (start values not admissible)
// Thread-safety: pure functions.
#pragma once

#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "forecast/models.h"

namespace cryptolake::forecast {

enum class EtsTrend { kNone, kAdditive, kDamped };

// "ETS(A,N,N)", "ETS(A,A,N)", "ETS(A,Ad,N)"
std::string EtsName(EtsTrend trend);

struct EtsSpec {
  EtsTrend trend = EtsTrend::kNone;
  // A fixed alpha (statsforecast keeps it in the optimized vector but does not use it there, and
  // counts it in n_params); NaN: estimated.
  double alpha = std::numeric_limits<double>::quiet_NaN();
};

struct EtsFit {
  EtsTrend trend = EtsTrend::kNone;
  double alpha = 0;
  double beta = std::numeric_limits<double>::quiet_NaN();  // NaN without trend
  double phi = std::numeric_limits<double>::quiet_NaN();   // NaN unless damped
  double l0 = 0;
  double b0 = std::numeric_limits<double>::quiet_NaN();
  double level = 0;                                         // the states after the last y
  double slope = std::numeric_limits<double>::quiet_NaN();  //
  double neg2_loglik = 0;                                   // n log(sum e^2)
  double aic = 0, aicc = 0, bic = 0;
  double sigma2 = 0;  // sum e^2 / (n - n_params - 1)
  double mse = 0;     // mean e^2
  int n_params = 0;   // optimized values + 1
  int n = 0;
  int iterations = 0;  // Nelder-Mead's (0: evaluated, not optimized)
  std::vector<double> residuals;
  std::string name() const { return EtsName(trend); }
};

// Fits one model by maximum likelihood (as statsforecast's etsmodel). A model with too many
// values to optimize for n (n_params - 1 >= n - 1) comes back unfitted, with AICc = infinity.
StatusOr<EtsFit> FitEts(std::span<const double> y, const EtsSpec& spec);

// The model at given values, not optimized (statsforecast's pegelsresid): residuals, states,
// likelihood and criteria, n_params counting alpha, beta, phi, l0, b0 as the model has them.
StatusOr<EtsFit> EvaluateEts(std::span<const double> y, EtsTrend trend, double alpha, double beta,
                             double phi, double l0, double b0);

// A,N,N, A,Ad,N and A,A,N fitted in that order (statsforecast's), the least AICc kept (the first
// of equals).
StatusOr<EtsFit> AutoEts(std::span<const double> y);

struct EtsForecast {
  std::vector<double> mean, lower, upper;
};
// Days 1..h after the fit's last value, with the interval at `level` (e.g. 0.8).
EtsForecast ForecastEts(const EtsFit& fit, int h, double level);

// The suite's "ets": AutoEts on log(close), forecasts and interval bounds exp()'d back.
std::unique_ptr<Model> MakeEtsModel();

}  // namespace cryptolake::forecast
