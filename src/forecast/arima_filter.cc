// The state-space form and the Kalman filter of the ARIMA likelihood (forecast/arima_filter.h).
#include "forecast/arima_filter.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace cryptolake::forecast::arima_internal {

namespace {

constexpr double kKappa = 1e6;  // prior variance of the differenced states

// Gardner et al. (1980): the stationary covariance of the ARMA state (r x r, column-major).
void InClu2(const Vec& xnext, Vec& xrow, double ynext, double* d, Vec& rbar, Vec& thetab) {
  const size_t np = xnext.size();
  xrow = xnext;
  size_t ithisr = 0;
  for (size_t i = 0; i < np; ++i) {
    if (xrow[i] != 0.0) {
      double xi = xrow[i], di = d[i], dpi = di + xi * xi;
      d[i] = dpi;
      double cbar = dpi == 0 ? kInf : di / dpi, sbar = dpi == 0 ? kInf : xi / dpi;
      for (size_t k = i + 1; k < np; ++k) {
        double xk = xrow[k], rbthis = rbar[ithisr];
        xrow[k] = xk - xi * rbthis;
        rbar[ithisr++] = cbar * rbthis + sbar * xk;
      }
      double xk = ynext;
      ynext = xk - xi * thetab[i];
      thetab[i] = cbar * thetab[i] + sbar * xk;
      if (di == 0.0) return;
    } else {
      ithisr += np - i - 1;
    }
  }
}

Vec GetQ0(const Vec& phi, const Vec& theta) {
  const size_t p = phi.size(), q = theta.size();
  const size_t r = std::max(p, q + 1);
  const size_t np = r * (r + 1) / 2, nrbar = np * (np - 1) / 2;
  Vec res(std::max(r * r, np), 0.0);
  Vec V(np);
  {
    size_t ind = 0;
    for (size_t j = 0; j < r; ++j) {
      double vj = j == 0 ? 1.0 : (j - 1 < q ? theta[j - 1] : 0.0);
      for (size_t i = j; i < r; ++i) {
        double vi = i == 0 ? 1.0 : (i - 1 < q ? theta[i - 1] : 0.0);
        V[ind++] = vi * vj;
      }
    }
  }
  if (r == 1) {
    res[0] = p == 0 ? 1.0 : 1.0 / (1 - phi[0] * phi[0]);
    res.resize(1);
    return res;
  }
  if (p > 0) {
    Vec rbar(nrbar, 0.0), thetab(np, 0.0), xnext(np, 0.0), xrow(np, 0.0);
    size_t ind = 0;
    long ind1 = -1;
    const size_t npr = np - r, npr1 = npr + 1;
    size_t indj = npr, ind2 = npr - 1;
    for (size_t j = 0; j < r; ++j) {
      double phij = j < p ? phi[j] : 0.0;
      size_t indi = npr1 + j;
      xnext[indj++] = 0.0;
      for (size_t i = j; i < r; ++i) {
        double ynext = V[ind++];
        double phii = i < p ? phi[i] : 0.0;
        if (j != r - 1) {
          xnext[indj] = -phii;
          if (i != r - 1) {
            xnext[indi] -= phij;
            xnext[++ind1] = -1.0;
          }
        }
        xnext[npr] = -phii * phij;
        if (++ind2 >= np) ind2 = 0;
        xnext[ind2] += 1.0;
        InClu2(xnext, xrow, ynext, res.data(), rbar, thetab);
        xnext[ind2] = 0.0;
        if (i != r - 1) {
          xnext[indi++] = 0.0;
          xnext[ind1] = 0.0;
        }
      }
    }
    long ithisr = static_cast<long>(nrbar) - 1;
    long im = static_cast<long>(np) - 1;
    for (size_t i = 0; i < np; ++i) {
      long jm = static_cast<long>(np) - 1;
      double bi = thetab[im];
      for (size_t j = 0; j < i; ++j) bi -= rbar[ithisr--] * res[jm--];
      res[im--] = bi;
    }
    ind = npr;
    for (size_t i = 0; i < r; ++i) xnext[i] = res[ind++];
    long indl = static_cast<long>(np) - 1;
    ind1 = static_cast<long>(npr) - 1;
    for (size_t i = 0; i < npr; ++i) res[indl--] = res[ind1--];
    std::copy(xnext.begin(), xnext.begin() + r, res.begin());
  } else {
    size_t ind = np, indn = np;
    for (size_t i = 0; i < r; ++i) {
      for (size_t j = 0; j < i + 1; ++j) {
        --ind;
        res[ind] = V[ind];
        if (j != 0) res[ind] += res[--indn];
      }
    }
  }
  {
    size_t ind = np;
    for (size_t i = r - 1; i > 0; --i)
      for (size_t j = r - 1; j > i - 1; --j) res[r * i + j] = res[--ind];
    for (size_t i = 0; i < r - 1; ++i)
      for (size_t j = i + 1; j < r; ++j) res[i + r * j] = res[j + r * i];
  }
  res.resize(r * r);
  return res;
}

// Steps from..to-1 (no missing value there) of `count` steady filters of the same orders (R =
// r, D = d; ar_last: r - 1 < p), interleaved step by step: independent chains the CPU overlaps.
// Each filter does exactly the arithmetic of ArimaLike's steps (below) in the same order.
template <size_t R, size_t D>
void SteadyStepsT(SteadyFilter* f, size_t count, bool ar_last, const double* delta, size_t from,
                  size_t to) {
  if (count == 1) {
    SteadyFilter& s = *f;
    double* a = s.a;
    for (size_t l = from; l < to; ++l) {
      double anew[R + D];
      const double a0 = a[0];
      for (size_t i = 0; i + 1 < R; ++i) anew[i] = a[i + 1] + s.phir[i] * a0;
      anew[R - 1] = ar_last ? s.phir[R - 1] * a0 : 0.0;
      if constexpr (D > 0) {
        for (size_t i = R + 1; i < R + D; ++i) anew[i] = a[i - 1];
        double tmp = a0;
        for (size_t i = 0; i < D; ++i) tmp += delta[i] * a[R + i];
        anew[R] = tmp;
      }
      double res = s.y[l] - anew[0];
      for (size_t i = 0; i < D; ++i) res -= delta[i] * anew[R + i];
      ++s.out.nu;
      s.out.ssq += res * res / s.gain;
      s.out.sumlog += s.log_gain;
      for (size_t i = 0; i < R + D; ++i) a[i] = anew[i] + s.K[i] * res;
    }
    return;
  }
  // Several: in pairs, the fields lane-innermost so that the compiler runs each pair with
  // two-lane vector instructions (the same operations per lane). An odd count pads the last
  // pair with a copy of the last filter.
  constexpr size_t S = R + D, kMaxPairs = 8;
  struct Pair {
    double a[S][2], K[S][2], phir[R][2], gain[2], log_gain[2], ssq[2], sumlog[2];
    const double* y[2];
  };
  for (size_t first = 0; first < count; first += 2 * kMaxPairs) {
    const size_t m = std::min(count - first, 2 * kMaxPairs), pairs = (m + 1) / 2;
    Pair pr[kMaxPairs];
    for (size_t g = 0; g < pairs; ++g)
      for (size_t w = 0; w < 2; ++w) {
        const SteadyFilter& s = f[first + std::min(2 * g + w, m - 1)];
        Pair& q = pr[g];
        for (size_t i = 0; i < S; ++i) {
          q.a[i][w] = s.a[i];
          q.K[i][w] = s.K[i];
        }
        for (size_t i = 0; i < R; ++i) q.phir[i][w] = s.phir[i];
        q.gain[w] = s.gain;
        q.log_gain[w] = s.log_gain;
        q.ssq[w] = s.out.ssq;
        q.sumlog[w] = s.out.sumlog;
        q.y[w] = s.y;
      }
    for (size_t l = from; l < to; ++l) {
      for (size_t g = 0; g < pairs; ++g) {
        Pair& q = pr[g];
        double a0[2], anew[S][2], res[2];
        for (size_t w = 0; w < 2; ++w) a0[w] = q.a[0][w];
        for (size_t i = 0; i + 1 < R; ++i)
          for (size_t w = 0; w < 2; ++w) anew[i][w] = q.a[i + 1][w] + q.phir[i][w] * a0[w];
        for (size_t w = 0; w < 2; ++w) anew[R - 1][w] = ar_last ? q.phir[R - 1][w] * a0[w] : 0.0;
        if constexpr (D > 0) {
          for (size_t i = R + 1; i < S; ++i)
            for (size_t w = 0; w < 2; ++w) anew[i][w] = q.a[i - 1][w];
          double tmp[2] = {a0[0], a0[1]};
          for (size_t i = 0; i < D; ++i)
            for (size_t w = 0; w < 2; ++w) tmp[w] += delta[i] * q.a[R + i][w];
          for (size_t w = 0; w < 2; ++w) anew[R][w] = tmp[w];
        }
        for (size_t w = 0; w < 2; ++w) res[w] = q.y[w][l] - anew[0][w];
        for (size_t i = 0; i < D; ++i)
          for (size_t w = 0; w < 2; ++w) res[w] -= delta[i] * anew[R + i][w];
        for (size_t w = 0; w < 2; ++w) {
          q.ssq[w] += res[w] * res[w] / q.gain[w];
          q.sumlog[w] += q.log_gain[w];
        }
        for (size_t i = 0; i < S; ++i)
          for (size_t w = 0; w < 2; ++w) q.a[i][w] = anew[i][w] + q.K[i][w] * res[w];
      }
    }
    for (size_t k = 0; k < m; ++k) {
      SteadyFilter& s = f[first + k];
      const Pair& q = pr[k / 2];
      for (size_t i = 0; i < S; ++i) s.a[i] = q.a[i][k % 2];
      s.out.ssq = q.ssq[k % 2];
      s.out.sumlog = q.sumlog[k % 2];
      s.out.nu += static_cast<int>(to - from);
    }
  }
}

using SteadyStepsFn = void (*)(SteadyFilter*, size_t, bool, const double*, size_t, size_t);
template <size_t... I>
constexpr std::array<SteadyStepsFn, sizeof...(I)> SteadyStepsTable(std::index_sequence<I...>) {
  return {&SteadyStepsT<I / 3 + 1, I % 3>...};
}
constexpr std::array<SteadyStepsFn, 3 * (kMaxOrder + 1)> kSteadySteps =
    SteadyStepsTable(std::make_index_sequence<3 * (kMaxOrder + 1)>());

// The predicted covariance Pnew of a step from the last step's P (statsforecast's arima_like).
template <size_t R, size_t D>
void PredictCovariance(const StateSpace& m, const double* P, double* Pnew) {
  constexpr size_t d = D, r = R, rd = R + D;
  const size_t p = m.phi.size(), q = m.theta.size();
  const Vec& phi = m.phi;
  const Vec& theta = m.theta;
  const Vec& delta = m.delta;
  double mm[rd * rd] = {};
  double tmp;
  if (d == 0) {
    for (size_t i = 0; i < r; ++i) {
      double vi = i == 0 ? 1.0 : (i - 1 < q ? theta[i - 1] : 0.0);
      for (size_t j = 0; j < r; ++j) {
        tmp = 0.0;
        if (j == 0) {
          tmp = vi;
        } else if (j - 1 < q) {
          tmp = vi * theta[j - 1];
        }
        if (i < p && j < p) tmp += phi[i] * phi[j] * P[0];
        if (i < r - 1 && j < r - 1) tmp += P[i + 1 + r * (j + 1)];
        if (i < p && j < r - 1) tmp += phi[i] * P[j + 1];
        if (j < p && i < r - 1) tmp += phi[j] * P[i + 1];
        Pnew[i + r * j] = tmp;
      }
    }
  } else {
    for (size_t i = 0; i < r; ++i)
      for (size_t j = 0; j < rd; ++j) {
        tmp = 0.0;
        if (i < p) tmp += phi[i] * P[rd * j];
        if (i < r - 1) tmp += P[i + 1 + rd * j];
        mm[i + rd * j] = tmp;
      }
    for (size_t j = 0; j < rd; ++j) {
      tmp = P[rd * j];
      for (size_t k = 0; k < d; ++k) tmp += delta[k] * P[r + k + rd * j];
      mm[r + rd * j] = tmp;
    }
    for (size_t i = 1; i < d; ++i)
      for (size_t j = 0; j < rd; ++j) mm[r + i + rd * j] = P[r + i - 1 + rd * j];
    for (size_t i = 0; i < r; ++i)
      for (size_t j = 0; j < rd; ++j) {
        tmp = 0.0;
        if (i < p) tmp += phi[i] * mm[j];
        if (i < r - 1) tmp += mm[rd * (i + 1) + j];
        Pnew[j + rd * i] = tmp;
      }
    for (size_t j = 0; j < rd; ++j) {
      tmp = mm[j];
      for (size_t k = 0; k < d; ++k) tmp += delta[k] * mm[rd * (r + k) + j];
      Pnew[rd * r + j] = tmp;
    }
    for (size_t i = 1; i < d; ++i)
      for (size_t j = 0; j < rd; ++j) Pnew[rd * (r + i) + j] = mm[rd * (r + i - 1) + j];
    for (size_t i = 0; i < q + 1; ++i) {
      double vi = i == 0 ? 1.0 : theta[i - 1];
      for (size_t j = 0; j < q + 1; ++j) Pnew[i + rd * j] += j == 0 ? vi : vi * theta[j - 1];
    }
  }
}

// The filtered state a (and, before the steady state, the gain K and the covariance P) of a step
// with an observation: innovation res, its variance gain (!= 0), M = Pnew Z.
template <size_t RD>
void CorrectState(bool steady, const double* anew, const double* M, const double* Pnew, double gain,
                  double res, double* a, double* K, double* P) {
  constexpr size_t rd = RD;
  if (steady) {  // the gain is constant: no division on the state's critical path
    for (size_t i = 0; i < rd; ++i) a[i] = anew[i] + K[i] * res;
  } else {
    // Two rows per vector (the divisions' throughput is the limit here).
    const V2 g = {gain, gain}, vres = {res, res};
    size_t i = 0;
    for (; i + 1 < rd; i += 2) {
      const V2 mi = {M[i], M[i + 1]}, an = {anew[i], anew[i + 1]};
      const V2 ai = an + mi * vres / g, ki = mi / g;
      a[i] = ai[0];
      a[i + 1] = ai[1];
      K[i] = ki[0];
      K[i + 1] = ki[1];
    }
    for (; i < rd; ++i) {
      a[i] = anew[i] + M[i] * res / gain;
      K[i] = M[i] / gain;
    }
    // M_i M_j / gain is M_j M_i / gain (multiplication commutes): one division for both
    // P_ij and P_ji.
    for (size_t j = 0; j < rd; ++j) {
      const V2 mj = {M[j], M[j]};
      for (i = 0; i + 1 <= j; i += 2) {
        const V2 mi = {M[i], M[i + 1]}, qv = mi * mj / g;
        for (size_t w = 0; w < 2; ++w) {
          P[i + w + j * rd] = Pnew[i + w + j * rd] - qv[w];
          if (i + w != j) P[j + (i + w) * rd] = Pnew[j + (i + w) * rd] - qv[w];
        }
      }
      for (; i <= j; ++i) {
        const double qs = M[i] * M[j] / gain;
        P[i + j * rd] = Pnew[i + j * rd] - qs;
        if (i != j) P[j + i * rd] = Pnew[j + i * rd] - qs;
      }
    }
  }
}

// The Kalman filter of statsforecast's arima_like (up = 0). Updates m.a, m.P and m.Pn in place;
// `resid` (if given) receives the standardised innovations. With `tail` (and no `resid`), the
// filter stops where its steady steps would start and leaves them to SteadySteps: *tail gets
// the state there (tail->from = n if the filter never got there; then the result is complete).
// m.P and m.Pn are final either way (the steady steps do not move them); m.a is not.
template <size_t R, size_t D>
LikeResult ArimaLikeT(const Vec& y, StateSpace& m, Vec* resid, SteadyFilter* tail) {
  constexpr size_t d = D, r = R, rd = R + D;
  const size_t n = y.size();
  const size_t p = m.phi.size();
  const Vec& phi = m.phi;
  const Vec& delta = m.delta;
  double* a = m.a.data();
  double* P = m.P.data();
  double* Pnew = m.Pn.data();
  LikeResult out;
  double anew[rd] = {}, M[rd] = {}, K[rd] = {};
  if (resid) resid->assign(n, kNaN);
  // Once the predicted covariance stops changing (to 1e-13 relative), the gain is constant: the
  // remaining steps update the state only, as a steady-state Kalman filter, and skip the
  // O(rd^2) covariance updates. The likelihood moves by ~1e-12 relative.
  bool steady = false, settled = false;
  double prev[rd * rd];
  bool has_prev = false;
  double gain = 0, log_gain = 0;
  double tmp;
  // phi padded to r, for the steady steps' loop without branches.
  double phir[r] = {};
  std::copy(phi.begin(), phi.begin() + static_cast<long>(std::min(p, r)), phir);
  SteadyFilter own;
  if (tail) tail->from = n;
  for (size_t l = 0; l < n; ++l) {
    if (steady && !resid && gain != 0 && gain < 1e4) {
      // The steady steps (SteadySteps: the same arithmetic as below), until a missing value.
      SteadyFilter& s = tail ? *tail : own;
      s.y = y.data();
      s.from = l;
      std::copy(a, a + rd, s.a);
      std::copy(K, K + rd, s.K);
      std::copy(phir, phir + r, s.phir);
      s.gain = gain;
      s.log_gain = log_gain;
      s.out = out;
      if (tail) return out;
      size_t end = l;
      while (end < n && !std::isnan(y[end])) ++end;
      SteadyStepsT<R, D>(&s, 1, r - 1 < p, delta.data(), l, end);
      std::copy(s.a, s.a + rd, a);
      out = s.out;
      l = end;
      if (l >= n) break;
    }
    for (size_t i = 0; i < r; ++i) {
      tmp = i < r - 1 ? a[i + 1] : 0.0;
      if (i < p) tmp += phi[i] * a[0];
      anew[i] = tmp;
    }
    if (d > 0) {
      for (size_t i = r + 1; i < rd; ++i) anew[i] = a[i - 1];
      tmp = a[0];
      for (size_t i = 0; i < d; ++i) tmp += delta[i] * a[r + i];
      anew[r] = tmp;
    }
    if (l > 0 && settled) steady = true;
    if (l > 0 && !steady) {
      PredictCovariance<R, D>(m, P, Pnew);
      // Pnew equal to the last step's: this step's P is the last one's, and from the next step
      // on nothing changes.
      settled = has_prev;
      for (size_t i = 0; i < rd * rd && settled; ++i) {
        settled = std::abs(Pnew[i] - prev[i]) <= 1e-13 * (1 + std::abs(Pnew[i]));
      }
      std::copy(Pnew, Pnew + rd * rd, prev);
      has_prev = true;
    }
    if (!std::isnan(y[l])) {
      double res = y[l] - anew[0];
      for (size_t i = 0; i < d; ++i) res -= delta[i] * anew[r + i];
      if (!steady) {
        for (size_t i = 0; i < rd; ++i) {
          tmp = Pnew[i];
          for (size_t j = 0; j < d; ++j) tmp += Pnew[i + (r + j) * rd] * delta[j];
          M[i] = tmp;
        }
        gain = M[0];
        for (size_t j = 0; j < d; ++j) gain += delta[j] * M[r + j];
        log_gain = std::log(gain);
      }
      if (gain < 1e4) {
        ++out.nu;
        out.ssq += gain == 0 ? kInf : res * res / gain;
        out.sumlog += log_gain;
      }
      if (resid) (*resid)[l] = gain == 0 ? kInf : res / std::sqrt(gain);
      if (gain == 0) {
        for (size_t i = 0; i < rd; ++i) {
          a[i] = kInf;
          for (size_t j = 0; j < rd; ++j) Pnew[i + j * rd] = kInf;
        }
      } else {
        CorrectState<R + D>(steady, anew, M, Pnew, gain, res, a, K, P);
      }
    } else {
      steady = settled = false;
      has_prev = false;
      std::copy(anew, anew + rd, a);
      std::copy(Pnew, Pnew + rd * rd, P);
    }
  }
  return out;
}

using ArimaLikeFn = LikeResult (*)(const Vec&, StateSpace&, Vec*, SteadyFilter*);
template <size_t... I>
constexpr std::array<ArimaLikeFn, sizeof...(I)> ArimaLikeTable(std::index_sequence<I...>) {
  return {&ArimaLikeT<I / 3 + 1, I % 3>...};
}
constexpr std::array<ArimaLikeFn, 3 * (kMaxOrder + 1)> kArimaLike =
    ArimaLikeTable(std::make_index_sequence<3 * (kMaxOrder + 1)>());

}  // namespace

StateSpace MakeArima(const Vec& phi, const Vec& theta_in, const Vec& delta) {
  StateSpace m;
  const size_t p = phi.size(), q = theta_in.size(), d = delta.size();
  const size_t r = std::max(p, q + 1), rd = r + d;
  m.phi = phi;
  m.delta = delta;
  m.r = r;
  m.rd = rd;
  m.Z.assign(rd, 0.0);
  m.Z[0] = 1;
  for (size_t i = 0; i < d; ++i) m.Z[r + i] = delta[i];
  m.T.assign(rd * rd, 0.0);
  auto T = [&](size_t i, size_t j) -> double& { return m.T[i + rd * j]; };
  for (size_t i = 0; i < p; ++i) T(i, 0) = phi[i];
  for (size_t i = 1; i < r; ++i) T(i - 1, i) = 1;
  if (d > 0) {
    for (size_t j = 0; j < rd; ++j) T(r, j) = m.Z[j];
    for (size_t i = 1; i < d; ++i) T(r + i, r + i - 1) = 1;
  }
  m.theta = theta_in;
  if (q < r - 1) m.theta.resize(r - 1, 0.0);
  Vec R(rd, 0.0);
  R[0] = 1;
  for (size_t i = 0; i < m.theta.size(); ++i) R[1 + i] = m.theta[i];
  m.V.assign(rd * rd, 0.0);
  for (size_t i = 0; i < rd; ++i)
    for (size_t j = 0; j < rd; ++j) m.V[i + rd * j] = R[i] * R[j];
  m.a.assign(rd, 0.0);
  m.P.assign(rd * rd, 0.0);
  m.Pn.assign(rd * rd, 0.0);
  if (r > 1) {
    Vec q0 = GetQ0(phi, m.theta);
    for (size_t i = 0; i < r; ++i)
      for (size_t j = 0; j < r; ++j) m.Pn[i + rd * j] = q0[i + r * j];
  } else {
    m.Pn[0] = p > 0 ? 1 / (1 - phi[0] * phi[0]) : 1.0;
  }
  for (size_t i = 0; i < d; ++i) m.Pn[(r + i) + rd * (r + i)] = kKappa;
  return m;
}

// statsforecast's upARIMA: new coefficients into the same model. Only the ARMA block of Pn and
// the state are reset (the differenced block keeps what the last filter left there).
void UpArima(StateSpace& m, const Vec& phi, const Vec& theta) {
  const size_t p = phi.size(), q = theta.size(), r = std::max(p, q + 1), rd = m.rd;
  m.phi = phi;
  m.theta = theta;
  for (size_t i = 0; i < p; ++i) m.T[i] = phi[i];
  if (r > 1) {
    Vec q0 = GetQ0(phi, theta);
    for (size_t i = 0; i < r; ++i)
      for (size_t j = 0; j < r; ++j) m.Pn[i + rd * j] = q0[i + r * j];
  } else {
    m.Pn[0] = p > 0 ? 1 / (1 - phi[0] * phi[0]) : 1.0;
  }
  std::fill(m.a.begin(), m.a.end(), 0.0);
}

// r in 1..6, d in 0..2.
void SteadySteps(SteadyFilter* f, size_t count, size_t r, size_t p, const Vec& delta, size_t from,
                 size_t to) {
  kSteadySteps[(r - 1) * 3 + delta.size()](f, count, r - 1 < p, delta.data(), from, to);
}

// The filter of its orders (r in 1..6, d in 0..2): fixed sizes, so that its loops unroll.
LikeResult ArimaLike(const Vec& y, StateSpace& m, Vec* resid, SteadyFilter* tail) {
  const size_t d = m.delta.size(), r = m.rd - d;
  return kArimaLike[(r - 1) * 3 + d](y, m, resid, tail);
}

}  // namespace cryptolake::forecast::arima_internal
