// scipy's BFGS and its line searches (forecast/arima_bfgs.h).
#include "forecast/arima_bfgs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

namespace cryptolake::forecast::arima_internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Vec = std::vector<double>;

// ---------------------------------------------------------------------------------------------
// MINPACK-2's dcsrch and dcstep (More and Thuente's line search), as scipy's _dcsrch.py.

// numpy's clip: max then min (so hi wins when lo > hi), NaN stays NaN.
double Clip(double v, double lo, double hi) { return std::min(std::max(v, lo), hi); }

void Dcstep(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy, double& stp,
            double fp, double dp, bool& brackt, double stpmin, double stpmax) {
  auto sign = [](double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); };
  const double sgnd = sign(dp) * sign(dx);
  double stpf;
  if (fp > fx) {
    double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    double p = (gamma - dx) + theta, q = ((gamma - dx) + gamma) + dp, r = p / q;
    double stpc = stx + r * (stp - stx);
    double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
    stpf = std::abs(stpc - stx) <= std::abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2.0;
    brackt = true;
  } else if (sgnd < 0.0) {
    double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dx, r = p / q;
    double stpc = stp + r * (stx - stp);
    double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
    brackt = true;
  } else if (std::abs(dp) < std::abs(dx)) {
    double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    double p = (gamma - dp) + theta, q = (gamma + (dx - dp)) + gamma, r = p / q;
    double stpc;
    if (r < 0 && gamma != 0) {
      stpc = stp + r * (stx - stp);
    } else if (stp > stx) {
      stpc = stpmax;
    } else {
      stpc = stpmin;
    }
    double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (brackt) {
      stpf = std::abs(stpc - stp) < std::abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? std::min(stp + 0.66 * (sty - stp), stpf)
                       : std::max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
      stpf = Clip(stpf, stpmin, stpmax);
    }
  } else {
    if (brackt) {
      double theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
      double s = std::max({std::abs(theta), std::abs(dy), std::abs(dp)});
      double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dy, r = p / q;
      stpf = stp + r * (sty - stp);
    } else {
      stpf = stp > stx ? stpmax : stpmin;
    }
  }
  if (fp > fx) {
    sty = stp;
    fy = fp;
    dy = dp;
  } else {
    if (sgnd < 0) {
      sty = stx;
      fy = fx;
      dy = dx;
    }
    stx = stp;
    fx = fp;
    dx = dp;
  }
  stp = stpf;
}

class Dcsrch {
 public:
  enum Task { kStart, kFg, kConverged, kWarning, kError };
  Dcsrch(double ftol, double gtol, double xtol, double stpmin, double stpmax)
      : ftol_(ftol), gtol_(gtol), xtol_(xtol), stpmin_(stpmin), stpmax_(stpmax) {}

  // One step of the search: the value f and slope g at stp in, the next stp (kFg) or the end.
  Task Iterate(double& stp, double f, double g, Task task) {
    constexpr double p5 = 0.5, p66 = 0.66, xtrapl = 1.1, xtrapu = 4.0;
    if (task == kStart) {
      if (stp < stpmin_ || stp > stpmax_ || g >= 0) return kError;
      brackt_ = false;
      stage_ = 1;
      finit_ = f;
      ginit_ = g;
      gtest_ = ftol_ * ginit_;
      width_ = stpmax_ - stpmin_;
      width1_ = width_ / p5;
      stx_ = 0.0;
      fx_ = finit_;
      gx_ = ginit_;
      sty_ = 0.0;
      fy_ = finit_;
      gy_ = ginit_;
      stmin_ = 0;
      stmax_ = stp + xtrapu * stp;
      return kFg;
    }
    const double ftest = finit_ + stp * gtest_;
    if (stage_ == 1 && f <= ftest && g >= 0) stage_ = 2;
    Task t = kFg;
    if (brackt_ && (stp <= stmin_ || stp >= stmax_)) t = kWarning;
    if (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_) t = kWarning;
    if (stp == stpmax_ && f <= ftest && g <= gtest_) t = kWarning;
    if (stp == stpmin_ && (f > ftest || g >= gtest_)) t = kWarning;
    if (f <= ftest && std::abs(g) <= gtol_ * -ginit_) t = kConverged;
    if (t != kFg) return t;
    if (stage_ == 1 && f <= fx_ && f > ftest) {
      double fm = f - stp * gtest_, fxm = fx_ - stx_ * gtest_, fym = fy_ - sty_ * gtest_;
      double gm = g - gtest_, gxm = gx_ - gtest_, gym = gy_ - gtest_;
      Dcstep(stx_, fxm, gxm, sty_, fym, gym, stp, fm, gm, brackt_, stmin_, stmax_);
      fx_ = fxm + stx_ * gtest_;
      fy_ = fym + sty_ * gtest_;
      gx_ = gxm + gtest_;
      gy_ = gym + gtest_;
    } else {
      Dcstep(stx_, fx_, gx_, sty_, fy_, gy_, stp, f, g, brackt_, stmin_, stmax_);
    }
    if (brackt_) {
      if (std::abs(sty_ - stx_) >= p66 * width1_) stp = stx_ + p5 * (sty_ - stx_);
      width1_ = width_;
      width_ = std::abs(sty_ - stx_);
      stmin_ = std::min(stx_, sty_);
      stmax_ = std::max(stx_, sty_);
    } else {
      stmin_ = stp + xtrapl * (stp - stx_);
      stmax_ = stp + xtrapu * (stp - stx_);
    }
    stp = Clip(stp, stpmin_, stpmax_);
    if ((brackt_ && (stp <= stmin_ || stp >= stmax_)) ||
        (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_)) {
      stp = stx_;
    }
    return kFg;
  }

 private:
  double ftol_, gtol_, xtol_, stpmin_, stpmax_;
  bool brackt_ = false;
  int stage_ = 1;
  double ginit_ = 0, gtest_ = 0, gx_ = 0, gy_ = 0, finit_ = 0, fx_ = 0, fy_ = 0;
  double stx_ = 0, sty_ = 0, stmin_ = 0, stmax_ = 0, width_ = 0, width1_ = 0;
};

// ---------------------------------------------------------------------------------------------
// BFGS (forecast/arima_bfgs.h).

class Bfgs {
 public:
  using Fn = BfgsFn;
  using BatchFn = BfgsBatchFn;
  explicit Bfgs(Fn f, BatchFn batch = {}) : f_(std::move(f)), batch_(std::move(batch)) {}

  BfgsResult Minimize(Vec x0, double gtol = 1e-8, int maxiter = 100) {
    const size_t n = x0.size();
    Vec xk = std::move(x0);
    Vec gk;
    double fk = ValueAndGradient(xk, gk);
    std::vector<Vec> H(n, Vec(n, 0.0));
    for (size_t i = 0; i < n; ++i) H[i][i] = 1;
    double old_old = fk + Norm2(gk) / 2;
    int status = 0, k = 0;
    double gnorm = NormInf(gk);
    while (gnorm > gtol && k < maxiter) {
      Vec pk(n, 0.0);
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) pk[i] -= H[i][j] * gk[j];
      std::optional<LineResult> ls = LineSearch(xk, pk, fk, gk, old_old);
      if (!ls) {
        status = 2;
        break;
      }
      Vec sk(n), yk(n);
      for (size_t i = 0; i < n; ++i) {
        sk[i] = ls->alpha * pk[i];
        xk[i] += sk[i];
        yk[i] = ls->g[i] - gk[i];
      }
      old_old = fk;
      fk = ls->f;
      gk = ls->g;
      ++k;
      gnorm = NormInf(gk);
      if (gnorm <= gtol) break;
      if (!std::isfinite(fk)) {
        status = 2;
        break;
      }
      double rinv = 0;
      for (size_t i = 0; i < n; ++i) rinv += yk[i] * sk[i];
      double rho = rinv == 0 ? 1000.0 : 1 / rinv;
      // H = (I - rho s y') H (I - rho y s') + rho s s'
      std::vector<Vec> A(n, Vec(n)), HA(n, Vec(n, 0.0));
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) A[i][j] = (i == j) - rho * sk[i] * yk[j];
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
          for (size_t l = 0; l < n; ++l) HA[i][j] += H[i][l] * A[j][l];  // H A2, A2 = A'
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
          double v = 0;
          for (size_t l = 0; l < n; ++l) v += A[i][l] * HA[l][j];
          H[i][j] = v + rho * sk[i] * sk[j];
        }
    }
    if (status == 0 && k >= maxiter) status = 1;
    return {std::move(xk), fk, status};
  }

 private:
  struct LineResult {
    double alpha, f;
    Vec g;
  };

  static double Norm2(const Vec& v) {
    double s = 0;
    for (double x : v) s += x * x;
    return std::sqrt(s);
  }
  static double NormInf(const Vec& v) {
    double m = 0;
    for (double x : v) {
      if (std::isnan(x)) return kNaN;
      m = std::max(m, std::abs(x));
    }
    return m;
  }

  static inline const double kStep = std::sqrt(std::numeric_limits<double>::epsilon());

  // With the batch objective: the gradient's points x + h e_i in one call, preceded by x itself
  // if fx is not given (f(x) is then returned in *fx_out). The evaluations' order is that of
  // f(x) then Gradient(x, f(x)) one at a time.
  Vec BatchGradient(const Vec& x, std::optional<double> fx, double* fx_out) {
    const size_t k = x.size(), first = fx ? 0 : 1;
    points_.resize(k + first);
    ptrs_.resize(k + first);
    values_.resize(k + first);
    if (!fx) points_[0] = x;
    for (size_t i = 0; i < k; ++i) {
      points_[first + i] = x;
      points_[first + i][i] = x[i] + kStep;
    }
    for (size_t i = 0; i < k + first; ++i) ptrs_[i] = &points_[i];
    batch_(ptrs_, values_);
    const double f = fx ? *fx : values_[0];
    Vec g(k);
    for (size_t i = 0; i < k; ++i) {
      double dx = points_[first + i][i] - x[i];
      g[i] = (values_[first + i] - f) / dx;
    }
    if (fx_out) *fx_out = f;
    return g;
  }

  // f(x) and the gradient there.
  double ValueAndGradient(const Vec& x, Vec& g) {
    if (batch_) {
      double f;
      g = BatchGradient(x, std::nullopt, &f);
      return f;
    }
    double f = f_(x);
    g = Gradient(x, f);
    return f;
  }

  Vec Gradient(const Vec& x, double fx) {
    if (batch_) return BatchGradient(x, fx, nullptr);
    Vec g(x.size()), xh = x;
    for (size_t i = 0; i < x.size(); ++i) {
      xh[i] = x[i] + kStep;
      double dx = xh[i] - x[i];
      g[i] = (f_(xh) - fx) / dx;
      xh[i] = x[i];
    }
    return g;
  }

  std::optional<LineResult> LineSearch(const Vec& xk, const Vec& pk, double phi0, const Vec& gk,
                                       double old_phi0) {
    constexpr double c1 = 1e-4, c2 = 0.9;
    const size_t n = xk.size();
    double derphi0 = 0;
    for (size_t i = 0; i < n; ++i) derphi0 += gk[i] * pk[i];
    Vec last_g;
    double last_alpha = kNaN;
    auto at = [&](double alpha) {
      Vec x(n);
      for (size_t i = 0; i < n; ++i) x[i] = xk[i] + alpha * pk[i];
      return x;
    };
    auto phi = [&](double alpha) { return f_(at(alpha)); };
    auto derphi = [&](double alpha, double phi_alpha) {
      last_g = Gradient(at(alpha), phi_alpha);
      last_alpha = alpha;
      double d = 0;
      for (size_t i = 0; i < n; ++i) d += last_g[i] * pk[i];
      return d;
    };
    auto phi_derphi = [&](double alpha, double& phi_alpha) {
      phi_alpha = ValueAndGradient(at(alpha), last_g);
      last_alpha = alpha;
      double d = 0;
      for (size_t i = 0; i < n; ++i) d += last_g[i] * pk[i];
      return d;
    };
    auto done = [&](double alpha, double f) -> std::optional<LineResult> {
      if (last_alpha != alpha) derphi(alpha, f);
      return LineResult{alpha, f, last_g};
    };

    double alpha1 = 1.0;
    if (derphi0 != 0) alpha1 = std::min(1.0, 1.01 * 2 * (phi0 - old_phi0) / derphi0);
    if (!(alpha1 >= 0)) alpha1 = 1.0;

    // scipy's line_search_wolfe1: MINPACK's dcsrch (More and Thuente), 100 iterations in all.
    {
      Dcsrch search(c1, c2, 1e-14, 1e-100, 1e100);
      double stp = alpha1, f = phi0, g = derphi0;
      Dcsrch::Task task = search.Iterate(stp, f, g, Dcsrch::kStart);
      for (int i = 1; i < 100 && task == Dcsrch::kFg && std::isfinite(stp); ++i) {
        g = phi_derphi(stp, f);
        task = search.Iterate(stp, f, g, task);
      }
      if (task == Dcsrch::kConverged && std::isfinite(stp)) return done(stp, f);
    }

    // Else scipy's line_search_wolfe2.
    double alpha0 = 0;
    double phi_a1 = phi(alpha1), phi_a0 = phi0, derphi_a0 = derphi0;
    for (int i = 0; i < 10; ++i) {
      if (alpha1 == 0) return std::nullopt;
      if (phi_a1 > phi0 + c1 * alpha1 * derphi0 || (phi_a1 >= phi_a0 && i > 0)) {
        return Zoom(alpha0, alpha1, phi_a0, phi_a1, derphi_a0, phi, derphi, done, phi0, derphi0);
      }
      double derphi_a1 = derphi(alpha1, phi_a1);
      if (std::abs(derphi_a1) <= -c2 * derphi0) return done(alpha1, phi_a1);
      if (derphi_a1 >= 0) {
        return Zoom(alpha1, alpha0, phi_a1, phi_a0, derphi_a1, phi, derphi, done, phi0, derphi0);
      }
      alpha0 = alpha1;
      alpha1 = 2 * alpha1;
      phi_a0 = phi_a1;
      phi_a1 = phi(alpha1);
      derphi_a0 = derphi_a1;
    }
    return done(alpha1, phi_a1);
  }

  static std::optional<double> CubicMin(double a, double fa, double fpa, double b, double fb,
                                        double c, double fc) {
    double C = fpa, db = b - a, dc = c - a;
    double denom = (db * dc) * (db * dc) * (db - dc);
    double r1 = fb - fa - C * db, r2 = fc - fa - C * dc;
    double A = (dc * dc * r1 - db * db * r2) / denom;
    double B = (-dc * dc * dc * r1 + db * db * db * r2) / denom;
    double radical = B * B - 3 * A * C;
    double xmin = a + (-B + std::sqrt(radical)) / (3 * A);
    if (!std::isfinite(xmin)) return std::nullopt;
    return xmin;
  }
  static std::optional<double> QuadMin(double a, double fa, double fpa, double b, double fb) {
    double db = b - a;
    double B = (fb - fa - fpa * db) / (db * db);
    double xmin = a - fpa / (2.0 * B);
    if (!std::isfinite(xmin)) return std::nullopt;
    return xmin;
  }

  template <typename Phi, typename Derphi, typename Done>
  std::optional<LineResult> Zoom(double a_lo, double a_hi, double phi_lo, double phi_hi,
                                 double derphi_lo, Phi& phi, Derphi& derphi, Done& done,
                                 double phi0, double derphi0) {
    constexpr double c1 = 1e-4, c2 = 0.9, delta1 = 0.2, delta2 = 0.1;
    double phi_rec = phi0, a_rec = 0;
    for (int i = 0;; ++i) {
      double dalpha = a_hi - a_lo;
      double a = std::min(a_lo, a_hi), b = std::max(a_lo, a_hi);
      std::optional<double> aj;
      if (i > 0) {
        double cchk = delta1 * dalpha;
        aj = CubicMin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi, a_rec, phi_rec);
        if (aj && (*aj > b - cchk || *aj < a + cchk)) aj.reset();
      }
      if (!aj) {
        double qchk = delta2 * dalpha;
        aj = QuadMin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi);
        if (!aj || *aj > b - qchk || *aj < a + qchk) aj = a_lo + 0.5 * dalpha;
      }
      double phi_aj = phi(*aj);
      if (phi_aj > phi0 + c1 * *aj * derphi0 || phi_aj >= phi_lo) {
        phi_rec = phi_hi;
        a_rec = a_hi;
        a_hi = *aj;
        phi_hi = phi_aj;
      } else {
        double derphi_aj = derphi(*aj, phi_aj);
        if (std::abs(derphi_aj) <= -c2 * derphi0) return done(*aj, phi_aj);
        if (derphi_aj * (a_hi - a_lo) >= 0) {
          phi_rec = phi_hi;
          a_rec = a_hi;
          a_hi = a_lo;
          phi_hi = phi_lo;
        } else {
          phi_rec = phi_lo;
          a_rec = a_lo;
        }
        a_lo = *aj;
        phi_lo = phi_aj;
        derphi_lo = derphi_aj;
      }
      if (i + 1 > 10) return std::nullopt;
    }
  }

  Fn f_;
  BatchFn batch_;
  std::vector<Vec> points_;  // the gradient's points, reused
  std::vector<const Vec*> ptrs_;
  Vec values_;
};

}  // namespace

BfgsResult MinimizeBfgs(BfgsFn f, BfgsBatchFn batch, std::vector<double> x0, double gtol,
                        int maxiter) {
  return Bfgs(std::move(f), std::move(batch)).Minimize(std::move(x0), gtol, maxiter);
}

}  // namespace cryptolake::forecast::arima_internal
