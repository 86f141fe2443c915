// The ARMA machinery of statsforecast's src/arima.cpp (R's arima.c) for the native ARIMA fit
// (forecast/arima.h), internal to src/forecast, part 2: the state-space form of an ARIMA(p,d,q)
// and the Kalman filter of its exact Gaussian likelihood. Part 1 (CSS) is forecast/arima_css.h.
// As there, every function does statsforecast's arithmetic operation for operation, and the
// batched steady steps compute per filter exactly what one filter at a time computes.
// Sizes: r = max(p, q + 1) in 1..kMaxOrder + 1, d in 0..2, rd = r + d; matrices column-major.
// Thread-safety: a StateSpace is a value, changed in place by the functions that take it.
#pragma once

#include <cstddef>

#include "forecast/arima_css.h"

namespace cryptolake::forecast::arima_internal {

// statsforecast's make_arima: the state-space form (column-major rd x rd matrices).
struct StateSpace {
  Vec phi, theta, delta;  // theta padded to r - 1
  size_t r = 0, rd = 0;
  Vec Z, a, P, T, V, Pn;
};

// The model of AR coefficients phi, MA coefficients theta and differencing coefficients delta
// ({}, {1} or {2, -1}): Pn's ARMA block is the stationary covariance (Gardner et al. 1980), its
// differenced states are diffuse (kappa 1e6); a and P are zero.
StateSpace MakeArima(const Vec& phi, const Vec& theta, const Vec& delta);

// statsforecast's upARIMA: new coefficients (of the same orders) into the same model. Only the
// ARMA block of Pn and the state are reset (the differenced block keeps what the last filter
// left there, statsforecast's quirk that arima.h describes).
void UpArima(StateSpace& m, const Vec& phi, const Vec& theta);

// The filter's sums: squared standardised innovations, log gains, and their count.
struct LikeResult {
  double ssq = 0, sumlog = 0;
  int nu = 0;
};

// A Kalman filter in its steady state (constant gain): from step `from` on, only the state moves.
inline constexpr size_t kMaxState = kMaxOrder + 1 + 2;  // r <= 6, d <= 2
struct SteadyFilter {
  const double* y = nullptr;
  size_t from = 0;
  double a[kMaxState], K[kMaxState], phir[kMaxOrder + 1];  // phi padded to r
  double gain = 0, log_gain = 0;
  LikeResult out;  // the sums so far
};

// The Kalman filter of statsforecast's arima_like (up = 0) on y (NaN: missing). Updates m.a, m.P
// and m.Pn in place; `resid` (if given) receives the standardised innovations. Once the
// predicted covariance stops changing (to 1e-13 relative) the gain is constant and the filter
// moves the state only (the likelihood moves by ~1e-12 relative). With `tail` (and no `resid`),
// the filter stops where those steady steps would start and leaves them to SteadySteps: *tail
// gets the state there (tail->from = n if the filter never got there; then the result is
// complete). m.P and m.Pn are final either way (the steady steps do not move them); m.a is not.
LikeResult ArimaLike(const Vec& y, StateSpace& m, Vec* resid, SteadyFilter* tail = nullptr);

// Steps from..to-1 (no missing value there) of `count` steady filters of the same orders (r, p
// and delta of their model), interleaved step by step: independent chains the CPU overlaps.
// Each filter does exactly the arithmetic of ArimaLike's steps in the same order; f[k].out and
// f[k].a are advanced.
void SteadySteps(SteadyFilter* f, size_t count, size_t r, size_t p, const Vec& delta, size_t from,
                 size_t to);

}  // namespace cryptolake::forecast::arima_internal
