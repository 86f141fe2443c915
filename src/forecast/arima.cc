#include "forecast/arima.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <span>
#include <utility>

#include "forecast/evaluate.h"

namespace cryptolake::forecast {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kKappa = 1e6;  // prior variance of the differenced states
constexpr int kMaxOrder = 5;

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
// BFGS as scipy.optimize.minimize(method="BFGS", tol=1e-8, options={"maxiter": 100}): forward
// differences with absolute step sqrt(eps), strong-Wolfe line search (scipy's
// scalar_search_wolfe2 with its zoom), initial inverse Hessian I.
// With a batch objective, a gradient's k points x + h e_i are evaluated in one call (in the
// order i = 0..k-1, as one at a time): the path is the same, and an objective whose cost is a
// serial recursion runs the independent points side by side.

struct BfgsResult {
  Vec x;
  double fun = kNaN;
  int status = 0;  // 0 converged, 1 iteration limit, 2 line search failed (precision loss)
};

class Bfgs {
 public:
  using Fn = std::function<double(const Vec&)>;
  // values[k] = f(*points[k]), the points evaluated as if one at a time in their order.
  using BatchFn = std::function<void(std::span<const Vec* const> points, std::span<double> values)>;
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

// ---------------------------------------------------------------------------------------------
// The ARMA machinery of statsforecast's src/arima.cpp (R's arima.c).

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

// Two doubles, for the recursions of two points side by side (GCC's vector extension: each
// operation is the IEEE one per lane).
using V2 = double __attribute__((vector_size(16)));
using V2Mask = int64_t __attribute__((vector_size(16)));

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

// u[l] = w[l] - phi_1 w[l-1] - ... - phi_p w[l-p] for l >= ncond (p <= kMaxOrder).
void CssArPart(size_t p, const double* w, size_t n, size_t ncond, const double* phi, double* u) {
  using Fn = void (*)(const double*, size_t, size_t, const double*, double*);
  static constexpr Fn kFns[] = {&CssArPartT<0>, &CssArPartT<1>, &CssArPartT<2>,
                                &CssArPartT<3>, &CssArPartT<4>, &CssArPartT<5>};
  kFns[p](w, n, ncond, phi, u);
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

constexpr size_t kCssBatch = 8;
using ArimaCssFn = void (*)(const double* const*, size_t, size_t, const double* const*, double*);
template <size_t... I>
constexpr std::array<ArimaCssFn, sizeof...(I)> ArimaCssTable(std::index_sequence<I...>) {
  return {&ArimaCssM<I / (kMaxOrder + 1) + 1, I % (kMaxOrder + 1)>...};
}
constexpr std::array<ArimaCssFn, kCssBatch*(kMaxOrder + 1)> kArimaCss =
    ArimaCssTable(std::make_index_sequence<kCssBatch*(kMaxOrder + 1)>());

// Conditional sum of squares / number of residuals at count (1..kCssBatch) points: out[k] from
// the AR parts ar[k] (CssArPart) and the MA coefficients theta[k] (q <= kMaxOrder).
void ArimaCss(size_t count, const double* const* ar, size_t n, size_t ncond, size_t q,
              const double* const* theta, double* out) {
  kArimaCss[(count - 1) * (kMaxOrder + 1) + q](ar, n, ncond, theta, out);
}

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

// statsforecast's make_arima: the state-space form (column-major rd x rd matrices).
struct StateSpace {
  Vec phi, theta, delta;  // theta padded to r - 1
  size_t r = 0, rd = 0;
  Vec Z, a, P, T, V, Pn;
};

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

struct LikeResult {
  double ssq = 0, sumlog = 0;
  int nu = 0;
};

// A Kalman filter in its steady state (constant gain): from step `from` on, only the state moves.
constexpr size_t kMaxState = kMaxOrder + 1 + 2;  // r <= 6, d <= 2
struct SteadyFilter {
  const double* y = nullptr;
  size_t from = 0;
  double a[kMaxState], K[kMaxState], phir[kMaxOrder + 1];  // phi padded to r
  double gain = 0, log_gain = 0;
  LikeResult out;  // the sums so far
};

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

// r in 1..6, d in 0..2.
void SteadySteps(SteadyFilter* f, size_t count, size_t r, size_t p, const Vec& delta, size_t from,
                 size_t to) {
  kSteadySteps[(r - 1) * 3 + delta.size()](f, count, r - 1 < p, delta.data(), from, to);
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
  const size_t p = m.phi.size(), q = m.theta.size();
  const Vec& phi = m.phi;
  const Vec& theta = m.theta;
  const Vec& delta = m.delta;
  double* a = m.a.data();
  double* P = m.P.data();
  double* Pnew = m.Pn.data();
  LikeResult out;
  double anew[rd] = {}, M[rd] = {}, K[rd] = {}, mm[rd * rd] = {};
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

// The filter of its orders (r in 1..6, d in 0..2): fixed sizes, so that its loops unroll.
LikeResult ArimaLike(const Vec& y, StateSpace& m, Vec* resid, SteadyFilter* tail = nullptr) {
  const size_t d = m.delta.size(), r = m.rd - d;
  return kArimaLike[(r - 1) * 3 + d](y, m, resid, tail);
}

// The smallest modulus of the roots of 1 + c_1 z + ... + c_k z^k (numpy's polyroots: the
// eigenvalues of the companion matrix).
double MinRootModulus(const Vec& c) {
  const size_t k = c.size();
  Eigen::MatrixXd C = Eigen::MatrixXd::Zero(static_cast<long>(k), static_cast<long>(k));
  // Monic in z: z^k + (c_{k-1}/c_k) z^{k-1} + ... + 1/c_k.
  for (size_t i = 0; i < k; ++i) {
    double coef = i == 0 ? 1.0 : c[i - 1];  // coefficient of z^i
    C(static_cast<long>(i), static_cast<long>(k - 1)) = -coef / c[k - 1];
    if (i > 0) C(static_cast<long>(i), static_cast<long>(i - 1)) = 1;
  }
  Eigen::EigenSolver<Eigen::MatrixXd> es(C, false);
  double m = kInf;
  for (long i = 0; i < es.eigenvalues().size(); ++i) m = std::min(m, std::abs(es.eigenvalues()[i]));
  return m;
}

// myarima's root check on one polynomial (phi with sign -1, theta with +1).
double PolyMinRoot(const Vec& coefs, double sign) {
  long last = -1;
  for (size_t i = 0; i < coefs.size(); ++i)
    if (std::abs(coefs[i]) > 1e-8) last = static_cast<long>(i);
  if (last <= 0) return 2;
  Vec c(coefs.begin(), coefs.begin() + last + 1);
  for (double& v : c) v *= sign;
  return MinRootModulus(c);
}

Vec Diff(std::span<const double> x, int d) {
  Vec w(x.begin(), x.end());
  for (int k = 0; k < d && !w.empty(); ++k) {
    for (size_t i = w.size() - 1; i > 0; --i) w[i] -= w[i - 1];
    w.erase(w.begin());
  }
  return w;
}

bool IsConstant(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [&](double v) { return v == x[0]; });
}

Status CheckSeries(std::span<const double> x, size_t min_n) {
  if (x.size() < min_n) {
    return InvalidArgument("arima: x has {} values, at least {} are needed", x.size(), min_n);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]))
      return InvalidArgument("arima: x is not finite at index {}: {}", i, x[i]);
  }
  return Status::Ok();
}

// statsforecast's arima(method="CSS-ML") + myarima's criteria. `fixed_constant` fixes the
// constant instead of estimating it (auto_arima_f's path for a series that differences to a
// constant).
ArimaFit FitCssMl(std::span<const double> xs, const ArimaOrder& order,
                  std::optional<double> fixed_constant = std::nullopt) {
  const int p = order.p, d = order.d, q = order.q;
  const size_t n = xs.size();
  const Vec x(xs.begin(), xs.end());
  Vec delta;
  if (d == 1) delta = {1.0};
  if (d == 2) delta = {2.0, -1.0};
  const int n_used = static_cast<int>(n) - d;
  const bool has_xreg = order.constant;
  Vec xreg;
  if (has_xreg) {
    xreg.resize(n);
    for (size_t t = 0; t < n; ++t) xreg[t] = d == 0 ? 1.0 : static_cast<double>(t + 1);
  }
  const int narma = p + q;
  const bool estimate_constant = has_xreg && !fixed_constant;
  const int nfree = narma + (estimate_constant ? 1 : 0);
  const bool no_optim = nfree == 0;
  const bool transform = !no_optim;

  // Initial values: 0 for the ARMA part, the OLS coefficient of the differenced regression.
  Vec init(nfree, 0.0);
  double beta_fixed = fixed_constant.value_or(0.0);
  if (estimate_constant) {
    Vec dx = Diff(x, d), dr = Diff(xreg, d);
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < dx.size(); ++i) {
      sxy += dx[i] * dr[i];
      sxx += dr[i] * dr[i];
    }
    init[narma] = sxy / sxx;
  }
  auto beta_of = [&](const Vec& par) { return estimate_constant ? par[narma] : beta_fixed; };
  Vec z;  // x - beta xreg, reused by every evaluation
  auto adjusted = [&](double beta) -> Vec& {
    z = x;
    if (has_xreg)
      for (size_t t = 0; t < n; ++t) z[t] -= xreg[t] * beta;
    return z;
  };
  auto split = [&](const Vec& par, bool trans, Vec& phi, Vec& theta) {
    phi.assign(par.begin(), par.begin() + p);
    if (trans && p > 0) phi = PartransAr(phi);
    theta.assign(par.begin() + p, par.begin() + narma);
  };

  // CSS, 8 points at a time (the untransformed coefficients are the point's own values); points
  // with the same constant share their differenced series.
  if (!no_optim) {
    constexpr size_t kBatch = kCssBatch;
    const size_t ncond = static_cast<size_t>(p + d);
    std::vector<Vec> series(kBatch), ar_parts(kBatch);
    auto css = [&](std::span<const Vec* const> points, std::span<double> values) {
      for (size_t at = 0; at < points.size(); at += kBatch) {
        const size_t m = std::min(kBatch, points.size() - at);
        const double *w[kBatch], *ar[kBatch], *theta[kBatch];
        double beta[kBatch];
        for (size_t k = 0; k < m; ++k) {
          const Vec& par = *points[at + k];
          beta[k] = beta_of(par);
          size_t same = 0;
          while (same < k &&
                 std::bit_cast<uint64_t>(beta[same]) != std::bit_cast<uint64_t>(beta[k]))
            ++same;
          if (same == k) CssSeries(x, xreg, beta[k], d, series[k]);
          w[k] = series[same].data();
          theta[k] = par.data() + p;
          // The AR part: shared by the points with the same series and AR coefficients (a
          // gradient's MA steps), the series itself without AR terms.
          const double* phi = par.data();
          size_t twin = 0;
          while (twin < k && (w[twin] != w[k] ||
                              std::memcmp(points[at + twin]->data(), phi, sizeof(double) * p) != 0))
            ++twin;
          if (twin < k) {
            ar[k] = ar[twin];
          } else if (p == 0) {
            ar[k] = w[k];
          } else {
            ar_parts[k].resize(n);
            CssArPart(static_cast<size_t>(p), w[k], n, ncond, phi, ar_parts[k].data());
            ar[k] = ar_parts[k].data();
          }
        }
        double* out = values.data() + at;
        ArimaCss(m, ar, n, ncond, static_cast<size_t>(q), theta, out);
        for (size_t k = 0; k < m; ++k) {
          if (std::isinf(out[k])) {
            out[k] = std::numeric_limits<double>::max();
          } else if (out[k] <= 0.0) {
            out[k] = -kInf;
          } else {
            out[k] = 0.5 * std::log(out[k]);
          }
        }
      }
    };
    auto css_one = [&](const Vec& par) {
      const Vec* point = &par;
      double value;
      css({&point, 1}, {&value, 1});
      return value;
    };
    BfgsResult r = Bfgs(css_one, css).Minimize(init);
    if (r.status != 1) init = r.x;
  }
  if (transform && p > 0) {
    Vec ar(init.begin(), init.begin() + p);
    ar = InvPartransAr(ar);
    std::copy(ar.begin(), ar.end(), init.begin());
  }

  // ML on one state-space model, as statsforecast's armafn.
  Vec phi0, theta0;
  split(init, transform, phi0, theta0);
  StateSpace mod = MakeArima(phi0, theta0, delta);
  auto value_of = [](const LikeResult& res) {
    if (res.nu == 0) return kInf;
    double s2 = res.ssq / res.nu;
    if (s2 <= 0) return kNaN;
    return 0.5 * (std::log(s2) + res.sumlog / res.nu);
  };
  auto armafn = [&](const Vec& par) {
    Vec phi, theta;
    split(par, transform, phi, theta);
    UpArima(mod, phi, theta);
    return value_of(ArimaLike(adjusted(beta_of(par)), mod, nullptr));
  };
  // A gradient's points: each evaluation's filter starts from the covariance the last one left
  // in `mod`, and the steady steps do not move it, so the filters run one after the other up to
  // their steady steps, which then run side by side (SteadySteps). A series with a missing value
  // (a NaN constant) is filtered whole, in its turn.
  std::vector<Vec> like_y;
  std::vector<SteadyFilter> tails, running;
  auto armafn_batch = [&](std::span<const Vec* const> points, std::span<double> values) {
    const size_t count = points.size();
    like_y.resize(count);
    tails.resize(count);
    running.clear();
    std::vector<size_t> slot;
    Vec phi, theta, beta(count);
    std::vector<char> has_nan(count);
    for (size_t k = 0; k < count; ++k) {
      const Vec& par = *points[k];
      split(par, transform, phi, theta);
      UpArima(mod, phi, theta);
      beta[k] = beta_of(par);
      size_t same = 0;
      while (same < k && std::bit_cast<uint64_t>(beta[same]) != std::bit_cast<uint64_t>(beta[k]))
        ++same;
      if (same == k) {
        // adjusted(beta), and whether it has a NaN.
        Vec& yk = like_y[k];
        yk.resize(n);
        bool nan = false;
        for (size_t t = 0; t < n; ++t) {
          yk[t] = has_xreg ? x[t] - xreg[t] * beta[k] : x[t];
          nan |= std::isnan(yk[t]);
        }
        has_nan[k] = nan;
      }
      const Vec& y = like_y[same];
      if (has_nan[same]) {
        values[k] = value_of(ArimaLike(y, mod, nullptr));
        continue;
      }
      LikeResult res = ArimaLike(y, mod, nullptr, &tails[k]);
      if (tails[k].from >= n) {
        values[k] = value_of(res);
      } else {
        running.push_back(tails[k]);
        slot.push_back(k);
      }
    }
    if (running.empty()) return;
    const size_t r = mod.rd - delta.size();
    size_t from = 0;
    for (const SteadyFilter& s : running) from = std::max(from, s.from);
    for (SteadyFilter& s : running) SteadySteps(&s, 1, r, mod.phi.size(), delta, s.from, from);
    SteadySteps(running.data(), running.size(), r, mod.phi.size(), delta, from, n);
    for (size_t i = 0; i < running.size(); ++i) values[slot[i]] = value_of(running[i].out);
    // The model's state as after the last evaluation one at a time.
    if (slot.back() == count - 1)
      std::copy(running.back().a, running.back().a + mod.rd, mod.a.begin());
  };
  Vec coef;
  double fun;
  if (no_optim) {
    fun = armafn({});
  } else {
    BfgsResult r = Bfgs(armafn, armafn_batch).Minimize(init);
    coef = r.x;
    fun = r.fun;
  }
  if (transform && p > 0) {
    Vec ar = PartransAr(Vec(coef.begin(), coef.begin() + p));
    std::copy(ar.begin(), ar.end(), coef.begin());
  }

  ArimaFit fit;
  fit.order = order;
  Vec phi, theta;
  if (!no_optim) split(coef, false, phi, theta);
  fit.ar = phi;
  fit.ma = theta;
  fit.constant = has_xreg ? beta_of(coef) : 0.0;
  StateSpace final_mod = MakeArima(phi, theta, delta);
  Vec resid;
  ArimaLike(adjusted(fit.constant), final_mod, &resid);
  fit.a = final_mod.a;
  fit.P = final_mod.P;
  fit.delta = delta;
  fit.n = static_cast<int>(n);
  fit.nobs = n_used;

  const double value = 2 * n_used * fun + n_used + n_used * std::log(2 * std::numbers::pi);
  const int npar = nfree + 1;
  const double nstar = n_used;
  fit.loglik = -0.5 * value;
  fit.aic = value + 2 * npar;
  if (std::isnan(fit.aic)) {
    fit.aic = fit.aicc = fit.bic = fit.ic = kInf;
  } else {
    fit.bic = fit.aic + npar * (std::log(nstar) - 2);
    fit.aicc =
        nstar - npar - 1 != 0 ? fit.aic + 2.0 * npar * (npar + 1) / (nstar - npar - 1) : kInf;
    fit.ic = fit.aicc;
  }
  double ss = 0;
  for (double e : resid)
    if (!std::isnan(e)) ss += e * e;
  fit.sigma2 = ss / (nstar - npar + 1);

  double minroot = 2;
  if (p > 0) minroot = std::min(minroot, PolyMinRoot(final_mod.phi, -1));
  if (q > 0 && fit.ic < kInf) minroot = std::min(minroot, PolyMinRoot(final_mod.theta, 1));
  if (minroot < 1 + 0.01) fit.ic = kInf;
  return fit;
}

}  // namespace

std::string ArimaOrderName(const ArimaOrder& o) {
  std::string s = fmt::format("ARIMA({},{},{})", o.p, o.d, o.q);
  if (o.constant) s += o.d == 0 ? " with non-zero mean" : " with drift";
  return s;
}

StatusOr<ArimaFit> FitArima(std::span<const double> x, const ArimaOrder& order) {
  if (order.p < 0 || order.p > kMaxOrder || order.q < 0 || order.q > kMaxOrder || order.d < 0 ||
      order.d > 2) {
    return InvalidArgument("arima: order ({},{},{}) out of range (p, q in 0..5, d in 0..2)",
                           order.p, order.d, order.q);
  }
  if (order.constant && order.d > 1) {
    return InvalidArgument("arima: a constant needs d <= 1, got d = {}", order.d);
  }
  RETURN_IF_ERROR(CheckSeries(x, static_cast<size_t>(order.d) + 1));
  return FitCssMl(x, order);
}

double KpssStatistic(std::span<const double> x, int lags) {
  const size_t n = x.size();
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  Vec e(n);
  for (size_t i = 0; i < n; ++i) e[i] = x[i] - mean;
  double cum = 0, eta = 0;
  for (double v : e) {
    cum += v;
    eta += cum * cum;
  }
  eta /= static_cast<double>(n) * static_cast<double>(n);
  double s = 0;
  for (double v : e) s += v * v;
  for (int i = 1; i <= lags; ++i) {
    double prod = 0;
    for (size_t t = static_cast<size_t>(i); t < n; ++t) prod += e[t] * e[t - i];
    s += 2 * prod * (1 - i / (lags + 1.0));
  }
  s /= static_cast<double>(n);
  return eta / s;
}

int NDiffs(std::span<const double> xs, int max_d) {
  Vec x(xs.begin(), xs.end());
  if (x.empty() || IsConstant(x)) return 0;
  auto needs_diff = [](const Vec& v) {
    int lags = static_cast<int>(std::floor(3 * std::sqrt(static_cast<double>(v.size())) / 13));
    if (lags >= static_cast<int>(v.size())) return false;  // statsmodels refuses: no difference
    return KpssStatistic(v, lags) > 0.463;                 // p-value < 0.05
  };
  int d = 0;
  bool dodiff = needs_diff(x);
  while (dodiff && d < max_d) {
    ++d;
    x = Diff(x, 1);
    if (!x.empty()) x.erase(x.begin());  // statsforecast drops one more value here
    if (x.empty() || IsConstant(x)) return d;
    dodiff = needs_diff(x);
  }
  return d;
}

StatusOr<ArimaFit> AutoArima(std::span<const double> x, const AutoArimaOptions& options) {
  RETURN_IF_ERROR(CheckSeries(x, 3));
  const int n = static_cast<int>(x.size());
  if (IsConstant(x)) return FitCssMl(x, {0, 0, 0, true}, x[0]);
  const int max_p = std::min(options.max_p, n / 3), max_q = std::min(options.max_q, n / 3);
  const bool use_aic = n <= 3;
  auto ic_of = [&](const ArimaFit& f) { return use_aic && f.ic < kInf ? f.aic : f.ic; };
  int d = NDiffs(x, options.max_d);
  Vec dx = Diff(x, d);
  if (dx.empty())
    return InvalidArgument("arima: x has {} values, at least {} are needed", n, d + 1);
  if (IsConstant(dx)) {
    if (d == 2) return FitCssMl(x, {0, 2, 0, false});
    double mean = 0;
    for (double v : dx) mean += v;
    return FitCssMl(x, {0, d, 0, true}, mean / static_cast<double>(dx.size()));
  }
  const bool allow_constant = d <= 1;
  bool constant = allow_constant;

  struct Tried {
    int p, q;
    bool constant;
  };
  std::vector<Tried> results;
  const int nmodels = options.nmodels;
  auto fit = [&](int p, int q, bool c) {
    ArimaFit f = FitCssMl(x, {p, d, q, c});
    f.ic = ic_of(f);
    results.push_back({p, q, c});
    return f;
  };
  auto is_new = [&](int p, int q, bool c) {
    return std::none_of(results.begin(), results.end(),
                        [&](const Tried& t) { return t.p == p && t.q == q && t.constant == c; });
  };

  int start_p = options.start_p, start_q = options.start_q;
  if (n < 10) {
    start_p = std::min(start_p, 1);
    start_q = std::min(start_q, 1);
  }
  int p = std::min(start_p, max_p), q = std::min(start_q, max_q);
  ArimaFit best = fit(p, q, constant);
  {
    ArimaFit f = fit(0, 0, constant);
    if (f.ic < best.ic) {
      best = std::move(f);
      p = q = 0;
    }
  }
  if (max_p > 0) {
    ArimaFit f = fit(1, 0, constant);
    if (f.ic < best.ic) {
      best = std::move(f);
      p = 1;
      q = 0;
    }
  }
  if (max_q > 0) {
    ArimaFit f = fit(0, 1, constant);
    if (f.ic < best.ic) {
      best = std::move(f);
      p = 0;
      q = 1;
    }
  }
  if (constant) {
    ArimaFit f = fit(0, 0, false);
    if (f.ic < best.ic) {  // statsforecast keeps `constant` as it was here
      best = std::move(f);
      p = q = 0;
    }
  }
  auto try_params = [&](int tp, int tq, bool tc) {
    if (static_cast<int>(results.size()) >= nmodels) return false;
    ArimaFit f = fit(tp, tq, tc);
    if (f.ic < best.ic) {
      best = std::move(f);
      return true;
    }
    return false;
  };
  size_t startk = 0;
  while (startk < results.size() && static_cast<int>(results.size()) < nmodels) {
    startk = results.size();
    if (p > 0 && is_new(p - 1, q, constant) && try_params(p - 1, q, constant)) {
      --p;
      continue;
    }
    if (q > 0 && is_new(p, q - 1, constant) && try_params(p, q - 1, constant)) {
      --q;
      continue;
    }
    if (p < max_p && is_new(p + 1, q, constant) && try_params(p + 1, q, constant)) {
      ++p;
      continue;
    }
    if (q < max_q && is_new(p, q + 1, constant) && try_params(p, q + 1, constant)) {
      ++q;
      continue;
    }
    if (q > 0 && p > 0 && is_new(p - 1, q - 1, constant) && try_params(p - 1, q - 1, constant)) {
      --p;
      --q;
      continue;
    }
    if (q < max_q && p > 0 && is_new(p - 1, q + 1, constant) &&
        try_params(p - 1, q + 1, constant)) {
      --p;
      ++q;
      continue;
    }
    if (q > 0 && p < max_p && is_new(p + 1, q - 1, constant) &&
        try_params(p + 1, q - 1, constant)) {
      ++p;
      --q;
      continue;
    }
    if (q < max_q && p < max_p && is_new(p + 1, q + 1, constant) &&
        try_params(p + 1, q + 1, constant)) {
      ++p;
      ++q;
      continue;
    }
    if (allow_constant && is_new(p, q, !constant) && try_params(p, q, !constant)) {
      constant = !constant;
      continue;
    }
  }
  if (std::isinf(best.ic)) return InvalidArgument("arima: no suitable ARIMA model found");
  return best;
}

ArimaForecast ForecastArima(const ArimaFit& fit, int h) {
  const size_t d = fit.delta.size();
  const size_t p = fit.ar.size(), q = fit.ma.size();
  const size_t r = std::max(p, q + 1), rd = r + d;
  StateSpace m = MakeArima(fit.ar, fit.ma, fit.delta);
  Vec a = fit.a, P = fit.P;
  ArimaForecast out;
  Vec an(rd), TP(rd * rd), Pn(rd * rd);
  for (int l = 0; l < h; ++l) {
    for (size_t i = 0; i < rd; ++i) {
      double s = 0;
      for (size_t j = 0; j < rd; ++j) s += m.T[i + rd * j] * a[j];
      an[i] = s;
    }
    a = an;
    double f = 0;
    for (size_t i = 0; i < rd; ++i) f += m.Z[i] * a[i];
    for (size_t i = 0; i < rd; ++i)
      for (size_t j = 0; j < rd; ++j) {
        double s = 0;
        for (size_t k = 0; k < rd; ++k) s += m.T[i + rd * k] * P[k + rd * j];
        TP[i + rd * j] = s;
      }
    for (size_t i = 0; i < rd; ++i)
      for (size_t j = 0; j < rd; ++j) {
        double s = m.V[i + rd * j];
        for (size_t k = 0; k < rd; ++k) s += TP[i + rd * k] * m.T[j + rd * k];
        Pn[i + rd * j] = s;
      }
    P = Pn;
    double var = 0;
    for (size_t i = 0; i < rd; ++i)
      for (size_t j = 0; j < rd; ++j) var += m.Z[i] * m.Z[j] * P[i + rd * j];
    double xm = 0;
    if (fit.order.constant) {
      xm = fit.order.d == 0 ? fit.constant : fit.constant * static_cast<double>(fit.n + l + 1);
    }
    out.mean.push_back(f + xm);
    out.se.push_back(std::sqrt(var * fit.sigma2));
  }
  return out;
}

namespace {

class ArimaFitted : public FittedModel {
 public:
  ArimaFitted(ArimaFit fit, double z) : fit_(std::move(fit)), z_(z) {}
  PathForecast Predict(int h) const override {
    ArimaForecast f = ForecastArima(fit_, h);
    PathForecast p;
    for (int i = 0; i < h; ++i) {
      p.yhat.push_back(std::exp(f.mean[i]));
      p.lower.push_back(std::exp(f.mean[i] - z_ * f.se[i]));
      p.upper.push_back(std::exp(f.mean[i] + z_ * f.se[i]));
    }
    return p;
  }
  std::string Describe() const override {
    std::string s = ArimaOrderName(fit_.order) + " on log y";
    for (size_t i = 0; i < fit_.ar.size(); ++i) s += fmt::format(" ar{}={:.4g}", i + 1, fit_.ar[i]);
    for (size_t i = 0; i < fit_.ma.size(); ++i) s += fmt::format(" ma{}={:.4g}", i + 1, fit_.ma[i]);
    if (fit_.order.constant) {
      s += fmt::format(" {}={:.4g}", fit_.order.d == 0 ? "mean" : "drift", fit_.constant);
    }
    return s + fmt::format(" sigma2={:.4g} aicc={:.2f}", fit_.sigma2, fit_.aicc);
  }

 private:
  ArimaFit fit_;
  double z_;
};

class ArimaModel : public Model {
 public:
  std::string name() const override { return "arima"; }
  int complexity() const override { return 4; }
  int min_history() const override { return 30; }
  StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                             const FitOptions& options) const override {
    RETURN_IF_ERROR(CheckHistory(history, name(), min_history()));
    Vec logy(history.y.size());
    for (size_t i = 0; i < logy.size(); ++i) logy[i] = std::log(history.y[i]);
    ASSIGN_OR_RETURN(ArimaFit fit, AutoArima(logy));
    double z = NormalQuantile((1 + options.interval_width) / 2);
    return std::unique_ptr<FittedModel>(std::make_unique<ArimaFitted>(std::move(fit), z));
  }
};

}  // namespace

std::unique_ptr<Model> MakeArimaModel() { return std::make_unique<ArimaModel>(); }

}  // namespace cryptolake::forecast
