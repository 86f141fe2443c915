// The ARMA machinery of statsforecast's src/arima.cpp (R's arima.c) for the native ARIMA fit
// (forecast/arima.h), internal to src/forecast, part 1: the AR reparametrisation and the
// conditional sum of squares (CSS). Part 2, the state-space form and the Kalman filter, is
// forecast/arima_filter.h.
// Every function does statsforecast's arithmetic operation for operation (the fits agree with
// it bit for bit where the algorithms are the same); the batched forms compute, per point,
// exactly what one point at a time computes. Orders: p, q <= kMaxOrder, d <= 2.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace cryptolake::forecast::arima_internal {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr int kMaxOrder = 5;

using Vec = std::vector<double>;

// Two doubles, for the recursions of two points side by side (GCC's vector extension: each
// operation is the IEEE one per lane).
using V2 = double __attribute__((vector_size(16)));
using V2Mask = int64_t __attribute__((vector_size(16)));

// AR coefficients from unconstrained values: tanh, then the Durbin-Levinson recursion
// (statsforecast's partrans); InvPartransAr is its inverse (ARIMA_undoPars' inverse).
Vec PartransAr(const Vec& raw);
Vec InvPartransAr(const Vec& phi);

// w = x minus beta times the regressor (x as is if xreg is empty), differenced d (0..2) times in
// place as statsforecast's arima_css does to its copy (the first d values are kept): the series
// the CSS objective filters. w is resized to x's size.
void CssSeries(const Vec& x, const Vec& xreg, double beta, int d, Vec& w);

// The AR part of the CSS residuals: u[l] = w[l] - phi_1 w[l-1] - ... - phi_p w[l-p] for
// ncond <= l < n (u[0..ncond) untouched); p <= kMaxOrder.
void CssArPart(size_t p, const double* w, size_t n, size_t ncond, const double* phi, double* u);

// The most points ArimaCss takes in one call.
inline constexpr size_t kCssBatch = 8;

// The CSS objective at `count` (1..kCssBatch) points: out[k] = the sum of squared residuals /
// their number (NaN residuals not counted), the residuals conditioning on the first ncond values:
//   resid_l = ar[k][l] - theta_1 resid_{l-1} - ... - theta_q resid_{l-q}
// (the MA terms only over residuals after ncond), ar[k] from CssArPart (the differenced series
// itself when p = 0), theta[k] the q (<= kMaxOrder) MA coefficients of point k.
void ArimaCss(size_t count, const double* const* ar, size_t n, size_t ncond, size_t q,
              const double* const* theta, double* out);

}  // namespace cryptolake::forecast::arima_internal
