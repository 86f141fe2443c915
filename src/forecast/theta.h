// AutoTheta without season, as statsforecast 2.1.1's AutoTheta(season_length=1)
// (python/statsforecast/theta.py and src/theta.cpp; the models of Fiorucci et al., "Models for
// optimising the theta method and their relationship to state space models", IJF 2016): the
// standard (STM), optimised (OTM), dynamic standard (DSTM) and dynamic optimised (DOTM) theta
// models, each fitted by minimizing the in-sample MSE, the one with the least kept. With
// season_length 1 there is no seasonal decomposition. The suite's "theta" model
// (forecast/models.h) fits it on log y.
//
// States after each value y_t, t = 0..n-1 (statsforecast's rows): level l_t, mean_t (mean of
// y_0..y_t), A_t, B_t and the one-step forecast mu_t:
//   row 0:  l_0 = alpha y_0 + (1 - alpha) ell0, mean_0 = y_0; static models (STM, OTM): A, B
//           the intercept and slope of the least-squares line of y on t = 1..n (all of y) and
//           mu_0 = ell0 + (1 - 1/theta) (A + B); dynamic models: A_0 = y_0, B_0 = 0, mu_0 = y_0.
//   row i:  mu_i = l_{i-1} + (1 - 1/theta) (A_{i-1} (1 - alpha)^i
//                                          + B_{i-1} (1 - (1 - alpha)^(i+1)) / alpha)
//           l_i = alpha y_i + (1 - alpha) l_{i-1},  mean_i = (i mean_{i-1} + y_i) / (i + 1),
//           dynamic: B_i = ((i - 1) B_{i-1} + 6 (y_i - mean_{i-1}) / (i + 1)) / (i + 2),
//                    A_i = mean_i - B_i (i + 2) / 2;  static: A, B unchanged.
// Residuals e_0 = y_0 - mu_0, e_i = y_i - mu_i. Forecasts continue the rows with y_i = mu_i.
// Fit: parameters ell0 (start y_0 / 2, bounds +-1e10), alpha (start 0.5, [0.1, 0.99]) and, for
// OTM/DOTM, theta (start 2, [1, 1e10]; STM/DSTM: theta = 2), minimizing
// sum_{i>=3} e_i^2 / mean|y| with statsforecast's Nelder-Mead (forecast/nelder_mead.h). The
// model with the least of that value (`mse`) is kept, the first of equals in the order STM, OTM,
// DSTM, DOTM.
// Interval (statsforecast's compute_pi_samples): `samples` paths continuing the rows with
// y_i = mu_i + N(0, s) noise (s the sample standard deviation of e_3..e_{n-1}; of all residuals
// if fewer than 2) and the dynamic update of A, B; bounds are the (1 -+ level)/2 quantiles of
// the paths (linear interpolation, numpy's default). statsforecast draws from numpy's generator
// (seed 0, 200 paths); here from std::mt19937_64 seeded by `seed`, so bounds match its in
// distribution, not draw for draw.
//
// Errors (InvalidArgument, exact messages):
//   "Theta: <n> values, at least 4 are needed"           (statsforecast refuses n <= 3)
//   "Theta: y is not finite at index <i>: <y>"
//   "Theta: no model could be fitted to <n> values"    (every candidate's criterion NaN)
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "forecast/models.h"

namespace cryptolake::forecast {

enum class ThetaType { kSTM, kOTM, kDSTM, kDOTM };
std::string ThetaTypeName(ThetaType t);  // "STM", "OTM", "DSTM", "DOTM"

struct ThetaFit {
  ThetaType type = ThetaType::kSTM;
  double initial_smoothed = 0, alpha = 0, theta = 2;
  double mse = 0;  // sum_{i>=3} e_i^2 / mean|y|, the selection criterion
  int n = 0;
  int iterations = 0;            // Nelder-Mead's (0: evaluated, not optimized)
  std::array<double, 5> last{};  // the last row: level, mean, A, B, mu
  std::vector<double> residuals;
  std::string name() const { return ThetaTypeName(type); }
};

// Fits one model (statsforecast's thetamodel).
StatusOr<ThetaFit> FitTheta(std::span<const double> y, ThetaType type);
// The model at given values, not optimized (statsforecast's pegels_resid).
StatusOr<ThetaFit> EvaluateTheta(std::span<const double> y, ThetaType type, double initial_smoothed,
                                 double alpha, double theta);
// STM, OTM, DSTM and DOTM, the least mse kept.
StatusOr<ThetaFit> AutoTheta(std::span<const double> y);

// Days 1..h after the last value.
std::vector<double> ForecastTheta(const ThetaFit& fit, int h);

struct ThetaInterval {
  std::vector<double> lower, upper;
};
ThetaInterval ThetaSampleInterval(const ThetaFit& fit, int h, double level, uint64_t seed,
                                  int samples = 200);

// The suite's "theta": AutoTheta on log(close), forecasts and interval bounds exp()'d back.
std::unique_ptr<Model> MakeThetaModel();

}  // namespace cryptolake::forecast
