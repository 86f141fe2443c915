// The AR reparametrisation and the conditional sum of squares (forecast/arima_css.h).
#include "forecast/arima_css.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace cryptolake::forecast::arima_internal {

namespace {

// The conditional sum of squares, conditioning on the first ncond = p + d values of the
// differenced series w, each residual statsforecast's arima_css's, operation for operation:
//   resid_l = w_l - phi_1 w_{l-1} - ... - phi_p w_{l-p} - theta_1 resid_{l-1} - ...
// (the MA terms only over residuals after ncond). The AR part does not depend on the residuals,
// so it is computed first, for all l (CssArPart; points that share w and phi share it); the
// serial MA recursions of up to 8 points then run interleaved step by step (ArimaCss),
// independent chains the CPU overlaps.
template <size_t P>
void CssArPartT(const double* w, size_t n, size_t ncond, const double* phi, double* u) {
  for (size_t l = ncond; l < n; ++l) {
    double tmp = w[l];
    for (size_t j = 0; j < P; ++j) tmp -= phi[j] * w[l - j - 1];
    u[l] = tmp;
  }
}

template <size_t M, size_t Q>
void ArimaCssM(const double* const* ar_in, size_t n, size_t ncond, const double* const* theta,
               double* out) {
  // Columns: the points, padded to an even number with a copy of the last for M > 1.
  constexpr size_t C = M == 1 ? 1 : M + M % 2;
  const double* ar[C];
  for (size_t k = 0; k < C; ++k) ar[k] = ar_in[std::min(k, M - 1)];
  double ssq[C], nu[C];
  for (size_t k = 0; k < C; ++k) ssq[k] = nu[k] = 0;
  const auto th = [&](size_t j, size_t k) { return theta[std::min(k, M - 1)][j]; };
  // The first Q residuals (in r0) have fewer MA terms; a NaN residual is not counted.
  double r0[C][Q + 1];
  size_t l = ncond;
  for (; l < n && l - ncond < Q; ++l) {
    for (size_t k = 0; k < C; ++k) {
      double tmp = ar[k][l];
      for (size_t j = 0; j < l - ncond; ++j) tmp -= th(j, k) * r0[k][l - ncond - j - 1];
      r0[k][l - ncond] = tmp;
      if (!std::isnan(tmp)) {
        ++nu[k];
        ssq[k] += tmp * tmp;
      }
    }
  }
  if (l < n) {
    // Then all Q, the last Q residuals kept in h (h[j] = residual l - j - 1).
    if constexpr (C == 1) {
      double t[Q + 1], h[Q + 1];
      for (size_t j = 0; j < Q; ++j) {
        t[j] = th(j, 0);
        h[j] = r0[0][Q - j - 1];
      }
      const double* u = ar[0];
      for (; l < n; ++l) {
        double tmp = u[l];
        for (size_t j = 0; j < Q; ++j) tmp -= t[j] * h[j];
        for (size_t j = Q; j > 1; --j) h[j - 1] = h[j - 2];
        if constexpr (Q > 0) h[0] = tmp;
        if (!std::isnan(tmp)) {
          ++nu[0];
          ssq[0] += tmp * tmp;
        }
      }
    } else {
      // Two points per vector; ssq + 0.0 (a NaN's term) is ssq, as ssq >= +0.
      constexpr size_t kPairs = C / 2;
      V2 t[Q + 1][kPairs], h[Q + 1][kPairs], vssq[kPairs], vnu[kPairs];
      const V2 one = {1.0, 1.0};
      for (size_t g = 0; g < kPairs; ++g) {
        vssq[g] = V2{ssq[2 * g], ssq[2 * g + 1]};
        vnu[g] = V2{nu[2 * g], nu[2 * g + 1]};
        for (size_t j = 0; j < Q; ++j) {
          t[j][g] = V2{th(j, 2 * g), th(j, 2 * g + 1)};
          h[j][g] = V2{r0[2 * g][Q - j - 1], r0[2 * g + 1][Q - j - 1]};
        }
      }
      for (; l < n; ++l) {
#pragma GCC unroll 4
        for (size_t g = 0; g < kPairs; ++g) {
          V2 tmp = {ar[2 * g][l], ar[2 * g + 1][l]};
#pragma GCC unroll 8
          for (size_t j = 0; j < Q; ++j) tmp -= t[j][g] * h[j][g];
#pragma GCC unroll 8
          for (size_t j = Q; j > 1; --j) h[j - 1][g] = h[j - 2][g];
          if constexpr (Q > 0) h[0][g] = tmp;
          const V2Mask ok = tmp == tmp;
          vssq[g] += (V2)((V2Mask)(tmp * tmp) & ok);
          vnu[g] += (V2)((V2Mask)one & ok);
        }
      }
      for (size_t g = 0; g < kPairs; ++g)
        for (size_t w = 0; w < 2; ++w) {
          ssq[2 * g + w] = vssq[g][w];
          nu[2 * g + w] = vnu[g][w];
        }
    }
  }
  for (size_t k = 0; k < M; ++k) out[k] = ssq[k] / nu[k];
}

using ArimaCssFn = void (*)(const double* const*, size_t, size_t, const double* const*, double*);
template <size_t... I>
constexpr std::array<ArimaCssFn, sizeof...(I)> ArimaCssTable(std::index_sequence<I...>) {
  return {&ArimaCssM<I / (kMaxOrder + 1) + 1, I % (kMaxOrder + 1)>...};
}
constexpr std::array<ArimaCssFn, kCssBatch*(kMaxOrder + 1)> kArimaCss =
    ArimaCssTable(std::make_index_sequence<kCssBatch*(kMaxOrder + 1)>());

}  // namespace

// AR coefficients from unconstrained values: tanh, then the Durbin-Levinson recursion.
Vec PartransAr(const Vec& raw) {
  const size_t p = raw.size();
  Vec out(p);
  for (size_t i = 0; i < p; ++i) out[i] = std::tanh(raw[i]);
  Vec work = out;
  for (size_t j = 1; j < p; ++j) {
    for (size_t k = 0; k < j; ++k) work[k] -= out[j] * out[j - k - 1];
    std::copy(work.begin(), work.begin() + j, out.begin());
  }
  return out;
}

Vec InvPartransAr(const Vec& phi) {
  const size_t p = phi.size();
  Vec out = phi, work = phi;
  for (size_t j = p == 0 ? 0 : p - 1; j > 0; --j) {
    double a = out[j];
    for (size_t k = 0; k < j; ++k) work[k] = (out[k] + a * out[j - k - 1]) / (1 - a * a);
    std::copy(work.begin(), work.begin() + j, out.begin());
  }
  for (double& v : out) v = std::atanh(v);
  return out;
}

// x minus beta times the regressor (x as is without one), differenced d times in place (as
// statsforecast's arima_css does to its copy): the series the CSS objective filters.
// One forward pass, each value the same operations as differencing in place from the end.
void CssSeries(const Vec& x, const Vec& xreg, double beta, int d, Vec& w) {
  const size_t n = x.size();
  w.resize(n);
  if (n == 0) return;
  const bool reg = !xreg.empty();
  auto z = [&](size_t t) { return reg ? x[t] - xreg[t] * beta : x[t]; };
  if (d == 0) {
    for (size_t t = 0; t < n; ++t) w[t] = z(t);
    return;
  }
  double z_prev = z(0), w1_prev = z_prev;  // the first difference keeps the first value
  w[0] = z_prev;
  for (size_t t = 1; t < n; ++t) {
    const double zt = z(t), w1 = zt - z_prev;
    w[t] = d == 1 ? w1 : w1 - w1_prev;
    z_prev = zt;
    w1_prev = w1;
  }
}

// u[l] = w[l] - phi_1 w[l-1] - ... - phi_p w[l-p] for l >= ncond (p <= kMaxOrder).
void CssArPart(size_t p, const double* w, size_t n, size_t ncond, const double* phi, double* u) {
  using Fn = void (*)(const double*, size_t, size_t, const double*, double*);
  static constexpr Fn kFns[] = {&CssArPartT<0>, &CssArPartT<1>, &CssArPartT<2>,
                                &CssArPartT<3>, &CssArPartT<4>, &CssArPartT<5>};
  kFns[p](w, n, ncond, phi, u);
}

// Conditional sum of squares / number of residuals at count (1..kCssBatch) points: out[k] from
// the AR parts ar[k] (CssArPart) and the MA coefficients theta[k] (q <= kMaxOrder).
void ArimaCss(size_t count, const double* const* ar, size_t n, size_t ncond, size_t q,
              const double* const* theta, double* out) {
  kArimaCss[(count - 1) * (kMaxOrder + 1) + q](ar, n, ncond, theta, out);
}

}  // namespace cryptolake::forecast::arima_internal
