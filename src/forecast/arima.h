// Non-seasonal ARIMA and AutoARIMA (Hyndman-Khandakar stepwise), following statsforecast 2.1.1
// (python/statsforecast/arima.py and src/arima.cpp, themselves ports of R's arima() and
// forecast::auto.arima) so that the orders, coefficients and forecasts agree with
// `AutoARIMA(season_length=1)` on the same series.
//
// The model, with B the backshift operator and c the constant:
//   d = 0: (1 - ar_1 B - ... - ar_p B^p) (x_t - c)       = (1 + ma_1 B + ... + ma_q B^q) e_t
//   d = 1: (1 - ar(B)) ((1 - B) x_t - c)                   = (1 + ma(B)) e_t   (c: the drift)
//   d = 2: (1 - ar(B)) (1 - B)^2 x_t                       = (1 + ma(B)) e_t   (no constant)
// with e_t ~ N(0, sigma2). Exactly as statsforecast, the mean is a regression on 1 and the drift
// a regression on t = 1..n, with ARMA errors.
//
// Fitting (FitArima) is statsforecast's `myarima` with method "CSS-ML": conditional sum of
// squares by BFGS from zeros (and the OLS constant), then the exact Gaussian likelihood by the
// Kalman filter (Gardner 1980 initial covariance, diffuse differenced states with kappa 1e6) by
// BFGS on the partial autocorrelations of the AR part. statsforecast's quirks are kept on
// purpose, since agreement with it is the contract:
//   - the ML search reuses one state-space model, whose covariance of the differenced states is
//     left from the previous evaluation; for d >= 1 on series far from 0 this spoils every
//     evaluation after the first, the line search fails and the fit keeps the CSS estimates
//     (with their exact likelihood);
//   - the AR-stationarity check on the CSS estimates and the MA inversion are no-ops there;
//   - sigma2 = sum of standardised Kalman residuals^2 / (n - d - npar + 1), npar = estimated
//     coefficients + 1; aicc = aic + 2 npar (npar + 1) / (n - d - npar - 1);
//   - a fit whose AR (order >= 2) or MA (order >= 2) polynomial has a root of modulus < 1.01
//     gets ic = +inf (it is kept, but the search never picks it).
// The optimizer is scipy's BFGS as statsforecast calls it (forward differences, MINPACK's dcsrch
// line search, then wolfe2), so that the fits follow the same path. Agreement measured against
// statsforecast 2.1.1 on log closes, CV with 730 days initial and a cutoff every 30 days: the
// same order at all 81 cutoffs of BTCUSDT and of ETHUSDT 1d (forecasts within 3e-8, standard
// errors within 2e-7 relative), at 132 of 147 on BTC/USD daily (near-ties in AICc; MAPE within
// 0.1% at 1, 7 and 30 days). tests/forecast/arima_test.cc checks fixtures to 1e-6.
// Not ported: checkarima's NaN test of the coefficients' variance (never triggered by BFGS's
// positive-definite inverse Hessian), seasonal parts, exogenous regressors, Box-Cox.
//
// AutoArima is `auto_arima_f` with statsforecast's AutoARIMA defaults for season_length = 1:
// d by repeated KPSS tests (level, lags floor(3 sqrt(n) / 13), 5%), stepwise search from
// ARIMA(2,d,2) over p, q <= 5 (and <= n / 3), a constant allowed when d <= 1, least AICc,
// at most 94 models, every model fitted by CSS-ML (no approximation).
//
// Errors (InvalidArgument, exact):
//   "arima: x has <n> values, at least <m> are needed"          (m = d + 1 for FitArima, 3 for
//   auto) "arima: x is not finite at index <i>: <v>" "arima: order (<p>,<d>,<q>) out of range (p, q
//   in 0..5, d in 0..2)" "arima: a constant needs d <= 1, got d = <d>" "arima: no suitable ARIMA
//   model found"                       (every model had ic = inf)
// Thread-safety: the functions are pure; an ArimaFit is a value.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "forecast/models.h"

namespace cryptolake::forecast {

struct ArimaOrder {
  int p = 0, d = 0, q = 0;
  bool constant = false;  // the mean (d = 0) or the drift (d = 1)
  bool operator==(const ArimaOrder&) const = default;
};

// "ARIMA(1,1,0) with drift", "ARIMA(2,0,1) with non-zero mean", "ARIMA(0,1,1)".
std::string ArimaOrderName(const ArimaOrder& order);

struct ArimaFit {
  ArimaOrder order;
  std::vector<double> ar, ma;  // ar_1..ar_p, ma_1..ma_q
  double constant = 0;         // the mean (d = 0) or the drift per step (d = 1); 0 without
  double sigma2 = 0;           // as statsforecast reports it (see above)
  double loglik = 0, aic = 0, aicc = 0, bic = 0;
  double ic = 0;  // aicc, or +inf for a fit the search must not pick
  int nobs = 0;   // n - d
  // The Kalman filter after the last observation, for forecasting.
  int n = 0;                  // observations fitted
  std::vector<double> a, P;   // state and its covariance (rd x rd, column-major)
  std::vector<double> delta;  // differencing coefficients (d of them)
};

// Fits ARIMA(p,d,q) with or without its constant on x by CSS-ML, as statsforecast's myarima.
StatusOr<ArimaFit> FitArima(std::span<const double> x, const ArimaOrder& order);

// The KPSS level-stationarity statistic with `lags` Bartlett-weighted autocovariances
// (statsmodels' kpss(x, "c", nlags=lags)). Requires 0 <= lags < x.size().
double KpssStatistic(std::span<const double> x, int lags);

// The number of differences (0..max_d) that make x level-stationary by the KPSS test at 5%
// (statistic > 0.463 means difference again), as statsforecast's ndiffs.
int NDiffs(std::span<const double> x, int max_d = 2);

struct AutoArimaOptions {
  int max_p = 5, max_q = 5, max_d = 2;
  int start_p = 2, start_q = 2;
  int nmodels = 94;
};

// The stepwise search; the fit of the order it picks (ic = that model's aicc).
StatusOr<ArimaFit> AutoArima(std::span<const double> x, const AutoArimaOptions& options = {});

struct ArimaForecast {
  std::vector<double> mean, se;  // h steps; se = sqrt(sigma2 * forecast variance)
};
// h >= 1 steps after the fitted series, by the Kalman filter (statsforecast's forecast_arima).
ArimaForecast ForecastArima(const ArimaFit& fit, int h);

// The suite's "arima": AutoArima on log(close); forecasts exp(mean), interval exp(mean -+ z se).
// min_history 30.
std::unique_ptr<Model> MakeArimaModel();

}  // namespace cryptolake::forecast
