// The native ARIMA: the CSS-ML fit, the AutoARIMA stepwise search, forecasts and the suite's
// model (forecast/arima.h). The optimizer is forecast/arima_bfgs.h, the CSS objective
// forecast/arima_css.h, the state-space model and its Kalman filter forecast/arima_filter.h.
#include "forecast/arima.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <optional>
#include <span>
#include <utility>

#include "forecast/arima_bfgs.h"
#include "forecast/arima_css.h"
#include "forecast/arima_filter.h"
#include "forecast/evaluate.h"

namespace cryptolake::forecast {

namespace {

using namespace arima_internal;

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

// statsforecast's arima(method="CSS-ML") + myarima's criteria, as one object: the series, the
// order and what the objectives share across their evaluations. `fixed_constant` fixes the
// constant instead of estimating it (auto_arima_f's path for a series that differences to a
// constant).
class CssMl {
 public:
  CssMl(std::span<const double> xs, const ArimaOrder& order, std::optional<double> fixed_constant)
      : order_(order),
        p_(order.p),
        d_(order.d),
        q_(order.q),
        n_(xs.size()),
        x_(xs.begin(), xs.end()),
        has_xreg_(order.constant),
        narma_(p_ + q_),
        estimate_constant_(has_xreg_ && !fixed_constant),
        nfree_(narma_ + (estimate_constant_ ? 1 : 0)),
        no_optim_(nfree_ == 0),
        transform_(!no_optim_),
        beta_fixed_(fixed_constant.value_or(0.0)) {
    if (d_ == 1) delta_ = {1.0};
    if (d_ == 2) delta_ = {2.0, -1.0};
    if (has_xreg_) {
      xreg_.resize(n_);
      for (size_t t = 0; t < n_; ++t) xreg_[t] = d_ == 0 ? 1.0 : static_cast<double>(t + 1);
    }
  }

  ArimaFit Run() {
    Vec init = CssEstimates();
    if (transform_ && p_ > 0) {
      Vec ar(init.begin(), init.begin() + p_);
      ar = InvPartransAr(ar);
      std::copy(ar.begin(), ar.end(), init.begin());
    }
    // ML on one state-space model, as statsforecast's armafn.
    Vec phi0, theta0;
    Split(init, transform_, phi0, theta0);
    mod_ = MakeArima(phi0, theta0, delta_);
    Vec coef;
    double fun;
    if (no_optim_) {
      fun = Armafn({});
    } else {
      BfgsResult r = MinimizeBfgs([this](const Vec& par) { return Armafn(par); },
                                  [this](std::span<const Vec* const> points,
                                         std::span<double> values) { ArmafnBatch(points, values); },
                                  init);
      coef = r.x;
      fun = r.fun;
    }
    if (transform_ && p_ > 0) {
      Vec ar = PartransAr(Vec(coef.begin(), coef.begin() + p_));
      std::copy(ar.begin(), ar.end(), coef.begin());
    }
    return Finish(coef, fun);
  }

 private:
  double BetaOf(const Vec& par) const { return estimate_constant_ ? par[narma_] : beta_fixed_; }

  // x - beta xreg, in z_ (reused by every evaluation).
  Vec& Adjusted(double beta) {
    z_ = x_;
    if (has_xreg_)
      for (size_t t = 0; t < n_; ++t) z_[t] -= xreg_[t] * beta;
    return z_;
  }

  void Split(const Vec& par, bool trans, Vec& phi, Vec& theta) const {
    phi.assign(par.begin(), par.begin() + p_);
    if (trans && p_ > 0) phi = PartransAr(phi);
    theta.assign(par.begin() + p_, par.begin() + narma_);
  }

  // Initial values: 0 for the ARMA part, the OLS coefficient of the differenced regression; then
  // the CSS estimates by BFGS from there (kept unless BFGS hit its iteration limit).
  Vec CssEstimates() {
    Vec init(nfree_, 0.0);
    if (estimate_constant_) {
      Vec dx = Diff(x_, d_), dr = Diff(xreg_, d_);
      double sxy = 0, sxx = 0;
      for (size_t i = 0; i < dx.size(); ++i) {
        sxy += dx[i] * dr[i];
        sxx += dr[i] * dr[i];
      }
      init[narma_] = sxy / sxx;
    }
    if (no_optim_) return init;
    auto css_one = [this](const Vec& par) {
      const Vec* point = &par;
      double value;
      Css({&point, 1}, {&value, 1});
      return value;
    };
    BfgsResult r = MinimizeBfgs(
        css_one,
        [this](std::span<const Vec* const> points, std::span<double> values) {
          Css(points, values);
        },
        init);
    if (r.status != 1) init = r.x;
    return init;
  }

  // The CSS objective, 8 points at a time (the untransformed coefficients are the point's own
  // values); points with the same constant share their differenced series.
  void Css(std::span<const Vec* const> points, std::span<double> values) {
    constexpr size_t kBatch = kCssBatch;
    const size_t ncond = static_cast<size_t>(p_ + d_);
    std::vector<Vec>& series = css_series_;
    std::vector<Vec>& ar_parts = css_ar_parts_;
    for (size_t at = 0; at < points.size(); at += kBatch) {
      const size_t m = std::min(kBatch, points.size() - at);
      const double *w[kBatch], *ar[kBatch], *theta[kBatch];
      double beta[kBatch];
      for (size_t k = 0; k < m; ++k) {
        const Vec& par = *points[at + k];
        beta[k] = BetaOf(par);
        size_t same = 0;
        while (same < k && std::bit_cast<uint64_t>(beta[same]) != std::bit_cast<uint64_t>(beta[k]))
          ++same;
        if (same == k) CssSeries(x_, xreg_, beta[k], d_, series[k]);
        w[k] = series[same].data();
        theta[k] = par.data() + p_;
        // The AR part: shared by the points with the same series and AR coefficients (a
        // gradient's MA steps), the series itself without AR terms.
        const double* phi = par.data();
        size_t twin = 0;
        while (twin < k && (w[twin] != w[k] ||
                            std::memcmp(points[at + twin]->data(), phi, sizeof(double) * p_) != 0))
          ++twin;
        if (twin < k) {
          ar[k] = ar[twin];
        } else if (p_ == 0) {
          ar[k] = w[k];
        } else {
          ar_parts[k].resize(n_);
          CssArPart(static_cast<size_t>(p_), w[k], n_, ncond, phi, ar_parts[k].data());
          ar[k] = ar_parts[k].data();
        }
      }
      double* out = values.data() + at;
      ArimaCss(m, ar, n_, ncond, static_cast<size_t>(q_), theta, out);
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
  }

  static double ValueOf(const LikeResult& res) {
    if (res.nu == 0) return kInf;
    double s2 = res.ssq / res.nu;
    if (s2 <= 0) return kNaN;
    return 0.5 * (std::log(s2) + res.sumlog / res.nu);
  }

  // The ML objective at one point, on the shared model.
  double Armafn(const Vec& par) {
    Vec phi, theta;
    Split(par, transform_, phi, theta);
    UpArima(mod_, phi, theta);
    return ValueOf(ArimaLike(Adjusted(BetaOf(par)), mod_, nullptr));
  }

  // A gradient's points: each evaluation's filter starts from the covariance the last one left
  // in `mod_`, and the steady steps do not move it, so the filters run one after the other up to
  // their steady steps, which then run side by side (SteadySteps). A series with a missing value
  // (a NaN constant) is filtered whole, in its turn.
  void ArmafnBatch(std::span<const Vec* const> points, std::span<double> values) {
    const size_t count = points.size();
    like_y_.resize(count);
    tails_.resize(count);
    running_.clear();
    std::vector<size_t> slot;
    Vec phi, theta, beta(count);
    std::vector<char> has_nan(count);
    for (size_t k = 0; k < count; ++k) {
      const Vec& par = *points[k];
      Split(par, transform_, phi, theta);
      UpArima(mod_, phi, theta);
      beta[k] = BetaOf(par);
      size_t same = 0;
      while (same < k && std::bit_cast<uint64_t>(beta[same]) != std::bit_cast<uint64_t>(beta[k]))
        ++same;
      if (same == k) {
        // Adjusted(beta), and whether it has a NaN.
        Vec& yk = like_y_[k];
        yk.resize(n_);
        bool nan = false;
        for (size_t t = 0; t < n_; ++t) {
          yk[t] = has_xreg_ ? x_[t] - xreg_[t] * beta[k] : x_[t];
          nan |= std::isnan(yk[t]);
        }
        has_nan[k] = nan;
      }
      const Vec& y = like_y_[same];
      if (has_nan[same]) {
        values[k] = ValueOf(ArimaLike(y, mod_, nullptr));
        continue;
      }
      LikeResult res = ArimaLike(y, mod_, nullptr, &tails_[k]);
      if (tails_[k].from >= n_) {
        values[k] = ValueOf(res);
      } else {
        running_.push_back(tails_[k]);
        slot.push_back(k);
      }
    }
    if (running_.empty()) return;
    const size_t r = mod_.rd - delta_.size();
    size_t from = 0;
    for (const SteadyFilter& s : running_) from = std::max(from, s.from);
    for (SteadyFilter& s : running_) SteadySteps(&s, 1, r, mod_.phi.size(), delta_, s.from, from);
    SteadySteps(running_.data(), running_.size(), r, mod_.phi.size(), delta_, from, n_);
    for (size_t i = 0; i < running_.size(); ++i) values[slot[i]] = ValueOf(running_[i].out);
    // The model's state as after the last evaluation one at a time.
    if (slot.back() == count - 1)
      std::copy(running_.back().a, running_.back().a + mod_.rd, mod_.a.begin());
  }

  // The fit at the ML estimates `coef` (objective value `fun`): the filter's final state, the
  // criteria, sigma2 and myarima's root check.
  ArimaFit Finish(const Vec& coef, double fun) {
    ArimaFit fit;
    fit.order = order_;
    Vec phi, theta;
    if (!no_optim_) Split(coef, false, phi, theta);
    fit.ar = phi;
    fit.ma = theta;
    fit.constant = has_xreg_ ? BetaOf(coef) : 0.0;
    StateSpace final_mod = MakeArima(phi, theta, delta_);
    Vec resid;
    ArimaLike(Adjusted(fit.constant), final_mod, &resid);
    fit.a = final_mod.a;
    fit.P = final_mod.P;
    fit.delta = delta_;
    const int n_used = static_cast<int>(n_) - d_;
    fit.n = static_cast<int>(n_);
    fit.nobs = n_used;

    const double value = 2 * n_used * fun + n_used + n_used * std::log(2 * std::numbers::pi);
    const int npar = nfree_ + 1;
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
    if (p_ > 0) minroot = std::min(minroot, PolyMinRoot(final_mod.phi, -1));
    if (q_ > 0 && fit.ic < kInf) minroot = std::min(minroot, PolyMinRoot(final_mod.theta, 1));
    if (minroot < 1 + 0.01) fit.ic = kInf;
    return fit;
  }

  const ArimaOrder order_;
  const int p_, d_, q_;
  const size_t n_;
  const Vec x_;
  Vec delta_, xreg_;
  const bool has_xreg_;
  const int narma_;
  const bool estimate_constant_;
  const int nfree_;
  const bool no_optim_, transform_;
  const double beta_fixed_;
  Vec z_;                                                      // Adjusted's
  std::vector<Vec> css_series_ = std::vector<Vec>(kCssBatch);  // Css's, reused
  std::vector<Vec> css_ar_parts_ = std::vector<Vec>(kCssBatch);
  StateSpace mod_;           // the ML search's model
  std::vector<Vec> like_y_;  // ArmafnBatch's, reused
  std::vector<SteadyFilter> tails_, running_;
};

ArimaFit FitCssMl(std::span<const double> xs, const ArimaOrder& order,
                  std::optional<double> fixed_constant = std::nullopt) {
  return CssMl(xs, order, fixed_constant).Run();
}

// auto_arima_f's stepwise search at a given d: the initial models, then moves to the best
// neighbour (p +- 1, q +- 1, both, the constant toggled) while one improves the criterion and
// fewer than nmodels models were fitted.
class StepwiseSearch {
 public:
  StepwiseSearch(std::span<const double> x, int d, int max_p, int max_q, const AutoArimaOptions& o)
      : x_(x),
        d_(d),
        max_p_(max_p),
        max_q_(max_q),
        nmodels_(o.nmodels),
        use_aic_(x.size() <= 3),
        allow_constant_(d <= 1),
        constant_(allow_constant_) {}

  ArimaFit Run(int start_p, int start_q) {
    Start(start_p, start_q);
    size_t startk = 0;
    while (startk < results_.size() && static_cast<int>(results_.size()) < nmodels_) {
      startk = results_.size();
      Step();
    }
    return std::move(best_);
  }

 private:
  struct Tried {
    int p, q;
    bool constant;
  };

  ArimaFit Fit(int p, int q, bool c) {
    ArimaFit f = FitCssMl(x_, {p, d_, q, c});
    f.ic = use_aic_ && f.ic < kInf ? f.aic : f.ic;
    results_.push_back({p, q, c});
    return f;
  }
  bool IsNew(int p, int q, bool c) const {
    return std::none_of(results_.begin(), results_.end(),
                        [&](const Tried& t) { return t.p == p && t.q == q && t.constant == c; });
  }
  // Fits (p, q, c) if the budget allows; true if it is the new best.
  bool TryParams(int p, int q, bool c) {
    if (static_cast<int>(results_.size()) >= nmodels_) return false;
    ArimaFit f = Fit(p, q, c);
    if (f.ic < best_.ic) {
      best_ = std::move(f);
      return true;
    }
    return false;
  }
  // A move to (p + dp, q + dq) if it is in range, new and better.
  bool Move(int dp, int dq) {
    const int p = p_ + dp, q = q_ + dq;
    if (p < 0 || q < 0 || p > max_p_ || q > max_q_) return false;
    if (!IsNew(p, q, constant_) || !TryParams(p, q, constant_)) return false;
    p_ = p;
    q_ = q;
    return true;
  }

  // The initial models: (start_p, start_q), (0, 0), (1, 0), (0, 1) and (0, 0) without constant.
  void Start(int start_p, int start_q) {
    if (x_.size() < 10) {
      start_p = std::min(start_p, 1);
      start_q = std::min(start_q, 1);
    }
    p_ = std::min(start_p, max_p_);
    q_ = std::min(start_q, max_q_);
    best_ = Fit(p_, q_, constant_);
    const auto consider = [&](int p, int q, bool c) {
      ArimaFit f = Fit(p, q, c);
      if (f.ic < best_.ic) {
        best_ = std::move(f);
        p_ = p;
        q_ = q;
      }
    };
    consider(0, 0, constant_);
    if (max_p_ > 0) consider(1, 0, constant_);
    if (max_q_ > 0) consider(0, 1, constant_);
    if (constant_) consider(0, 0, false);  // statsforecast keeps `constant` as it was here
  }

  // One move of the search, the first that improves in statsforecast's order.
  void Step() {
    if (Move(-1, 0) || Move(0, -1) || Move(1, 0) || Move(0, 1) || Move(-1, -1) || Move(-1, 1) ||
        Move(1, -1) || Move(1, 1)) {
      return;
    }
    if (allow_constant_ && IsNew(p_, q_, !constant_) && TryParams(p_, q_, !constant_)) {
      constant_ = !constant_;
    }
  }

  std::span<const double> x_;
  const int d_, max_p_, max_q_, nmodels_;
  const bool use_aic_, allow_constant_;
  bool constant_;
  int p_ = 0, q_ = 0;
  ArimaFit best_;
  std::vector<Tried> results_;
};

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
  ArimaFit best = StepwiseSearch(x, d, max_p, max_q, options).Run(options.start_p, options.start_q);
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

class ArimaFitted : public LogScaleFitted {
 public:
  ArimaFitted(ArimaFit fit, double z) : fit_(std::move(fit)), z_(z) {}
  LogPath PredictLog(int h) const override {
    ArimaForecast f = ForecastArima(fit_, h);
    LogPath p;
    for (int i = 0; i < h; ++i) {
      p.mean.push_back(f.mean[i]);
      p.lower.push_back(f.mean[i] - z_ * f.se[i]);
      p.upper.push_back(f.mean[i] + z_ * f.se[i]);
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

class ArimaModel : public LogScaleModel {
 public:
  std::string name() const override { return "arima"; }
  int complexity() const override { return 4; }
  int min_history() const override { return 30; }
  StatusOr<std::unique_ptr<FittedModel>> FitLog(const std::vector<double>& logy,
                                                const FitOptions& options) const override {
    ASSIGN_OR_RETURN(ArimaFit fit, AutoArima(logy));
    double z = NormalQuantile((1 + options.interval_width) / 2);
    return std::unique_ptr<FittedModel>(std::make_unique<ArimaFitted>(std::move(fit), z));
  }
};

}  // namespace

std::unique_ptr<Model> MakeArimaModel() { return std::make_unique<ArimaModel>(); }

}  // namespace cryptolake::forecast
