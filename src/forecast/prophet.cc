#include "forecast/prophet.h"

#include <lbfgs.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <set>
#include <utility>

namespace cryptolake::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Eigen::MatrixXd;
using Eigen::VectorXd;

bool ValidMode(const std::string& m) { return m == "additive" || m == "multiplicative"; }

Status CheckIncreasing(const std::vector<Micros>& ds) {
  for (size_t i = 1; i < ds.size(); ++i) {
    if (ds[i] <= ds[i - 1]) {
      return InvalidArgument("ds not strictly increasing at row {}: {} after {}", i,
                             FormatIso(ds[i]), FormatIso(ds[i - 1]));
    }
  }
  return Status::Ok();
}

// The frame's regressor `name`: one value per ds, finite at `rows`.
StatusOr<const std::vector<double>*> RegressorValues(const Frame& f, const std::string& name,
                                                     const char* which,
                                                     const std::vector<size_t>& rows) {
  auto it = f.regressors.find(name);
  if (it == f.regressors.end()) {
    return InvalidArgument("regressor '{}' is missing from the {} frame", name, which);
  }
  const std::vector<double>& v = it->second;
  if (v.size() != f.ds.size()) {
    return InvalidArgument("regressor '{}' has {} values for {} ds in the {} frame", name, v.size(),
                           f.ds.size(), which);
  }
  for (size_t i : rows) {
    if (!std::isfinite(v[i])) {
      return InvalidArgument("regressor '{}' is not finite at {}", name, FormatIso(f.ds[i]));
    }
  }
  return &v;
}

Status ValidateOptions(const ProphetOptions& o) {
  auto bad = [](std::string_view what) { return InvalidArgument("invalid option: {}", what); };
  if (!ValidMode(o.seasonality_mode)) {
    return InvalidArgument("unknown seasonality_mode '{}': expected additive or multiplicative",
                           o.seasonality_mode);
  }
  auto check_mode = [](const std::optional<std::string>& m, const std::string& name) {
    if (m && !ValidMode(*m)) {
      return InvalidArgument("unknown mode '{}' for '{}': expected additive or multiplicative", *m,
                             name);
    }
    return Status::Ok();
  };
  if (o.n_changepoints < 0) return bad(fmt::format("n_changepoints {} < 0", o.n_changepoints));
  if (!(o.changepoint_range >= 0 && o.changepoint_range <= 1)) {
    return bad(fmt::format("changepoint_range {} outside [0, 1]", o.changepoint_range));
  }
  if (!(o.changepoint_prior_scale > 0)) {
    return bad(fmt::format("changepoint_prior_scale {} <= 0", o.changepoint_prior_scale));
  }
  if (!(o.seasonality_prior_scale > 0)) {
    return bad(fmt::format("seasonality_prior_scale {} <= 0", o.seasonality_prior_scale));
  }
  if (!(o.holidays_prior_scale > 0)) {
    return bad(fmt::format("holidays_prior_scale {} <= 0", o.holidays_prior_scale));
  }
  if (o.yearly_order < 0 || o.weekly_order < 0 || o.daily_order < 0) {
    return bad("a built-in seasonality order < 0");
  }
  if (!(o.interval_width > 0 && o.interval_width < 1)) {
    return bad(fmt::format("interval_width {} outside (0, 1)", o.interval_width));
  }
  if (o.uncertainty_samples < 0) {
    return bad(fmt::format("uncertainty_samples {} < 0", o.uncertainty_samples));
  }
  if (o.max_iterations <= 0) return bad(fmt::format("max_iterations {} <= 0", o.max_iterations));
  if (!(o.tolerance >= 0)) return bad(fmt::format("tolerance {} < 0", o.tolerance));
  std::set<std::string> names;
  for (const Seasonality& s : o.extra_seasonalities) {
    if (s.name.empty()) return bad("a seasonality without a name");
    if (!names.insert(s.name).second) return bad(fmt::format("duplicate seasonality '{}'", s.name));
    if (!(s.period_days > 0)) return bad(fmt::format("seasonality '{}' period <= 0", s.name));
    if (s.order < 1) return bad(fmt::format("seasonality '{}' order < 1", s.name));
    if (s.prior_scale && !(*s.prior_scale > 0)) {
      return bad(fmt::format("seasonality '{}' prior_scale <= 0", s.name));
    }
    RETURN_IF_ERROR(check_mode(s.mode, s.name));
  }
  names.clear();
  for (const RegressorSpec& r : o.regressors) {
    if (r.name.empty()) return bad("a regressor without a name");
    if (!names.insert(r.name).second) return bad(fmt::format("duplicate regressor '{}'", r.name));
    if (r.prior_scale && !(*r.prior_scale > 0)) {
      return bad(fmt::format("regressor '{}' prior_scale <= 0", r.name));
    }
    RETURN_IF_ERROR(check_mode(r.mode, r.name));
  }
  std::map<std::string, double> holiday_scales;
  for (const Holiday& h : o.holidays) {
    if (h.name.empty()) return bad("a holiday without a name");
    if (h.lower_window > 0 || h.upper_window < 0) {
      return bad(fmt::format("holiday '{}' window [{}, {}] does not contain 0", h.name,
                             h.lower_window, h.upper_window));
    }
    double ps = h.prior_scale.value_or(o.holidays_prior_scale);
    if (!(ps > 0)) return bad(fmt::format("holiday '{}' prior_scale <= 0", h.name));
    auto [it, fresh] = holiday_scales.emplace(h.name, ps);
    if (!fresh && it->second != ps) {
      return bad(fmt::format("holiday '{}' has inconsistent prior scales", h.name));
    }
  }
  return Status::Ok();
}

// numpy.percentile's default (linear) quantile of v, q in [0, 1]; reorders v.
double Quantile(std::vector<double>& v, double q) {
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  double frac = pos - static_cast<double>(lo);
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(lo), v.end());
  double a = v[lo];
  if (frac == 0 || lo + 1 >= v.size()) return a;
  double b = *std::min_element(v.begin() + static_cast<ptrdiff_t>(lo) + 1, v.end());
  return a + (b - a) * frac;
}

// The negative log posterior of prophet.stan (constants dropped) without the Laplace prior, which
// OWL-QN adds as its L1 term, and its gradient. Variables (contiguous delta block for OWL-QN):
//   x = [k, m, delta (S), u = log sigma_obs, beta_a (Ka), beta_m (Km)].
// Purely additive models (Km = 0) are linear in theta = [k, m, delta, beta_a]: mu = Z theta with
// Z = [t, 1, B, X_a], B_ij = max(t_i - s_j, 0), so the residual sum of squares and its gradient
// come from the Gram matrix Z'Z (p x p) in O(p^2) per evaluation instead of O(T p). Models with
// multiplicative columns evaluate the residual explicitly. Nothing is allocated per evaluation.
class Objective {
 public:
  Objective(VectorXd t, VectorXd y, const std::vector<double>& changepoints, MatrixXd b,
            MatrixXd xa, MatrixXd xm, VectorXd inv_var_a, VectorXd inv_var_m)
      : t_(std::move(t)),
        y_(std::move(y)),
        b_(std::move(b)),
        xa_(std::move(xa)),
        xm_(std::move(xm)),
        inv_var_a_(std::move(inv_var_a)),
        inv_var_m_(std::move(inv_var_m)),
        n_(static_cast<double>(t_.size())),
        s_(b_.cols()),
        ka_(xa_.cols()),
        km_(xm_.cols()) {
    const Eigen::Index rows = t_.size();
    if (km_ == 0) {
      const Eigen::Index p = 2 + s_ + ka_;
      z_.resize(rows, p);
      z_.col(0) = t_;
      z_.col(1).setOnes();
      z_.middleCols(2, s_) = b_;
      z_.middleCols(2 + s_, ka_) = xa_;
      gram_.setZero(p, p);
      gram_.selfadjointView<Eigen::Lower>().rankUpdate(z_.transpose());
      gram_ = gram_.selfadjointView<Eigen::Lower>();
      zy_.noalias() = z_.transpose() * y_;
      yy_ = y_.squaredNorm();
      theta_.resize(p);
      q_.resize(p);
      r_.resize(rows);
    } else {
      // Rows are in time order: changepoint j applies from row start_[j] on.
      for (double c : changepoints) {
        Eigen::Index i = 0;
        while (i < rows && t_[i] < c) ++i;
        start_.push_back(i);
        cps_.push_back(c);
      }
      trend_.resize(rows);
      xab_.resize(rows);
      xmb_.resize(rows);
      r_.resize(rows);
      gtr_.resize(rows);
      tmp_.resize(rows);
    }
  }

  int size() const { return static_cast<int>(3 + s_ + ka_ + km_); }
  int delta_begin() const { return 2; }
  int delta_end() const { return static_cast<int>(2 + s_); }
  Eigen::Index s() const { return s_; }

  double Evaluate(const double* xp, double* gp) {
    Eigen::Map<const VectorXd> x(xp, size());
    Eigen::Map<VectorXd> g(gp, size());
    const double k = x[0], m = x[1], u = x[2 + s_];
    auto delta = x.segment(2, s_);
    auto ba = x.segment(3 + s_, ka_);
    auto bm = x.segment(3 + s_ + ka_, km_);
    const double sigma2 = std::exp(2 * u), inv_s2 = std::exp(-2 * u);
    double rss;
    if (km_ == 0) {
      const Eigen::Index p = theta_.size();
      theta_[0] = k;
      theta_[1] = m;
      theta_.segment(2, s_) = delta;
      theta_.segment(2 + s_, ka_) = ba;
      q_.noalias() = gram_ * theta_;
      rss = yy_ - 2 * theta_.dot(zy_) + theta_.dot(q_);
      if (rss < 1e-8 * yy_) {  // cancellation: compute the residual itself
        r_ = y_;
        r_.noalias() -= z_ * theta_;
        rss = r_.squaredNorm();
      }
      q_ -= zy_;
      q_ *= inv_s2;  // d/dtheta of rss / (2 sigma^2)
      g[0] = q_[0] + k / 25;
      g[1] = q_[1] + m / 25;
      g.segment(2, s_) = q_.segment(2, s_);
      g.segment(3 + s_, ka_) = q_.segment(2 + s_, p - 2 - s_) + ba.cwiseProduct(inv_var_a_);
    } else {
      // trend = k t + m + B delta in O(T): the slope and offset change at each start_[j].
      {
        double slope = k, offset = m;
        Eigen::Index j = 0;
        for (Eigen::Index i = 0; i < t_.size(); ++i) {
          for (; j < s_ && start_[static_cast<size_t>(j)] <= i; ++j) {
            slope += delta[j];
            offset -= delta[j] * cps_[static_cast<size_t>(j)];
          }
          trend_[i] = slope * t_[i] + offset;
        }
      }
      xab_.noalias() = xa_ * ba;
      xmb_.noalias() = xm_ * bm;
      r_ = y_ - trend_.cwiseProduct(xmb_) - trend_ - xab_;
      rss = r_.squaredNorm();
      gtr_ = -inv_s2 * (r_ + r_.cwiseProduct(xmb_));  // d/dtrend
      g[0] = t_.dot(gtr_) + k / 25;
      g[1] = gtr_.sum() + m / 25;
      // B' gtr in O(T): g_delta_j = sum_{i >= start_j} gtr_i (t_i - s_j), from suffix sums.
      {
        double sg = 0, sgt = 0;
        Eigen::Index j = s_ - 1;
        for (; j >= 0 && start_[static_cast<size_t>(j)] >= t_.size(); --j) g[2 + j] = 0;
        for (Eigen::Index i = t_.size() - 1; i >= 0 && j >= 0; --i) {
          sg += gtr_[i];
          sgt += gtr_[i] * t_[i];
          for (; j >= 0 && start_[static_cast<size_t>(j)] == i; --j) {
            g[2 + j] = sgt - cps_[static_cast<size_t>(j)] * sg;
          }
        }
      }
      g.segment(3 + s_, ka_).noalias() = -inv_s2 * (xa_.transpose() * r_);
      g.segment(3 + s_, ka_) += ba.cwiseProduct(inv_var_a_);
      tmp_ = r_.cwiseProduct(trend_);
      g.segment(3 + s_ + ka_, km_).noalias() = -inv_s2 * (xm_.transpose() * tmp_);
      g.segment(3 + s_ + ka_, km_) += bm.cwiseProduct(inv_var_m_);
    }
    // sigma_obs ~ N(0, 0.5): 2 sigma^2; the likelihood: T log sigma + rss / (2 sigma^2).
    g[2 + s_] = n_ - rss * inv_s2 + 4 * sigma2;
    return n_ * u + 0.5 * rss * inv_s2 + 2 * sigma2 + (k * k + m * m) / 50 +
           0.5 * ba.cwiseAbs2().dot(inv_var_a_) + 0.5 * bm.cwiseAbs2().dot(inv_var_m_);
  }

  // Preconditioning: OWL-QN runs on z with x = P z, where the delta block is only scaled (by one
  // factor d, so the L1 term stays c |x_delta| = c d |z_delta|) and the other trend and feature
  // variables o are decorrelated from delta and whitened with the Hessian H of rss / 2 (plus the
  // priors at sigma_obs = 0.1; multiplicative columns at the initial trend):
  //   x_delta = d z_delta,  x_o = d C z_delta + L^-T w,  C = -H_oo^-1 H_o,delta,  H_oo = L L'.
  // The ramps (t - s_j)_+ are nearly collinear with t and each other (cond(H) ~ 1e7 on 3000
  // daily points); in z the rest is the delta Schur complement (~1e5), and OWL-QN needs several
  // times fewer iterations. u = log sigma_obs is left as is.
  void Precondition(double k0, double m0) {
    const Eigen::Index rows = t_.size(), no = 2 + ka_ + km_;
    MatrixXd zo(rows, no);
    zo.col(0) = t_;
    zo.col(1).setOnes();
    zo.middleCols(2, ka_) = xa_;
    if (km_ > 0) {
      const VectorXd trend0 = (k0 * t_.array() + m0).matrix();
      zo.middleCols(2 + ka_, km_) = xm_.array().colwise() * trend0.array();
    }
    MatrixXd hoo = MatrixXd::Zero(no, no);
    hoo.selfadjointView<Eigen::Lower>().rankUpdate(zo.transpose());
    hoo = hoo.selfadjointView<Eigen::Lower>();
    const double s0 = 0.01;  // sigma_obs^2 at which the priors are weighed
    hoo(0, 0) += s0 / 25;
    hoo(1, 1) += s0 / 25;
    for (Eigen::Index j = 0; j < ka_; ++j) hoo(2 + j, 2 + j) += s0 * inv_var_a_[j];
    for (Eigen::Index j = 0; j < km_; ++j) hoo(2 + ka_ + j, 2 + ka_ + j) += s0 * inv_var_m_[j];
    const MatrixXd hod = zo.transpose() * b_;
    Eigen::LLT<MatrixXd> llt(hoo);
    if (llt.info() != Eigen::Success) return;  // leave P = I
    pc_c_ = -llt.solve(hod);
    const MatrixXd lower = llt.matrixL();
    pc_m_ = lower.transpose().triangularView<Eigen::Upper>().solve(MatrixXd::Identity(no, no));
    pc_lt_ = lower.transpose();
    // The Schur complement's mean diagonal, floored for a delta collinear with the rest (the
    // dummy changepoint at t = 0 is a second slope).
    MatrixXd schur = b_.transpose() * b_;
    const double raw = schur.diagonal().mean();
    schur.noalias() += hod.transpose() * pc_c_;
    const double diag = std::max(schur.diagonal().mean(), 1e-6 * raw);
    pc_d_ = diag > 0 && std::isfinite(diag) ? 1 / std::sqrt(diag) : 1.0;
    pc_w_.resize(no);
    pc_go_.resize(no);
    pc_x_.resize(size());
    pc_g_.resize(size());
    preconditioned_ = true;
  }
  bool preconditioned() const { return preconditioned_; }
  double delta_scale() const { return preconditioned_ ? pc_d_ : 1.0; }

  // x = P z (both laid out as x).
  void ToX(const double* zp, double* xp) {
    if (!preconditioned_) {
      std::copy(zp, zp + size(), xp);
      return;
    }
    Eigen::Map<const VectorXd> z(zp, size());
    Eigen::Map<VectorXd> x(xp, size());
    GatherO(z, pc_w_);
    pc_go_.noalias() = pc_m_ * pc_w_;
    pc_go_.noalias() += pc_d_ * (pc_c_ * z.segment(2, s_));
    ScatterO(pc_go_, x);
    x.segment(2, s_) = pc_d_ * z.segment(2, s_);
    x[2 + s_] = z[2 + s_];
  }
  // z with P z = x.
  void ToZ(const double* xp, double* zp) {
    if (!preconditioned_) {
      std::copy(xp, xp + size(), zp);
      return;
    }
    Eigen::Map<const VectorXd> x(xp, size());
    Eigen::Map<VectorXd> z(zp, size());
    z.segment(2, s_) = x.segment(2, s_) / pc_d_;
    GatherO(x, pc_go_);
    pc_go_.noalias() -= pc_d_ * (pc_c_ * z.segment(2, s_));
    pc_w_.noalias() = pc_lt_ * pc_go_;
    ScatterO(pc_w_, z);
    z[2 + s_] = x[2 + s_];
  }
  // The objective at x = P z and its gradient in z: P' g.
  double EvaluateZ(const double* zp, double* gzp) {
    if (!preconditioned_) return Evaluate(zp, gzp);
    ToX(zp, pc_x_.data());
    const double f = Evaluate(pc_x_.data(), pc_g_.data());
    Eigen::Map<VectorXd> gz(gzp, size());
    GatherO(pc_g_, pc_go_);
    gz.segment(2, s_) = pc_d_ * pc_g_.segment(2, s_);
    gz.segment(2, s_).noalias() += pc_d_ * (pc_c_.transpose() * pc_go_);
    pc_w_.noalias() = pc_m_.transpose() * pc_go_;
    ScatterO(pc_w_, gz);
    gz[2 + s_] = pc_g_[2 + s_];
    return f;
  }

 private:
  // The non-delta, non-u variables of x: k, m, then the betas.
  template <typename V, typename O>
  void GatherO(const V& x, O& o) const {
    o[0] = x[0];
    o[1] = x[1];
    o.segment(2, ka_ + km_) = x.segment(3 + s_, ka_ + km_);
  }
  template <typename O, typename V>
  void ScatterO(const O& o, V& x) const {
    x[0] = o[0];
    x[1] = o[1];
    x.segment(3 + s_, ka_ + km_) = o.segment(2, ka_ + km_);
  }

  const VectorXd t_, y_;
  const MatrixXd b_, xa_, xm_;
  const VectorXd inv_var_a_, inv_var_m_;
  const double n_;
  const Eigen::Index s_, ka_, km_;
  // Gram path.
  MatrixXd z_, gram_;
  VectorXd zy_, theta_, q_;
  double yy_ = 0;
  // Workspace.
  std::vector<Eigen::Index> start_;
  std::vector<double> cps_;
  VectorXd trend_, xab_, xmb_, r_, gtr_, tmp_;
  // Preconditioner.
  bool preconditioned_ = false;
  double pc_d_ = 1;
  MatrixXd pc_c_, pc_m_, pc_lt_;
  VectorXd pc_w_, pc_go_, pc_x_, pc_g_;
};

struct Optimization {
  Objective* objective;
  double tolerance;
  std::array<double, 10> past{};  // objective at the last 10 iterations (ring)
  int done = 0;                   // iterations of the previous runs (restarts)
  int iterations = 0;             // in all
};

lbfgsfloatval_t EvaluateCallback(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g,
                                 int n, lbfgsfloatval_t step) {
  return static_cast<Optimization*>(instance)->objective->EvaluateZ(x, g);
}

// Stops (returns 1, LBFGS_STOP) once the objective decreased by less than tolerance * |f| over the
// last 10 iterations. liblbfgs' own `past`/`delta` test divides by f, which is negative here.
int ProgressCallback(void* instance, const lbfgsfloatval_t* x, const lbfgsfloatval_t* g,
                     lbfgsfloatval_t fx, lbfgsfloatval_t xnorm, lbfgsfloatval_t gnorm,
                     lbfgsfloatval_t step, int n, int k, int ls) {
  auto* o = static_cast<Optimization*>(instance);
  o->iterations = o->done + k;
  const size_t slot = static_cast<size_t>(o->iterations) % o->past.size();
  if (static_cast<size_t>(o->iterations) >= o->past.size() &&
      o->past[slot] - fx <= o->tolerance * std::abs(fx)) {
    return LBFGS_STOP;
  }
  o->past[slot] = fx;
  return 0;
}

struct LbfgsFree {
  void operator()(lbfgsfloatval_t* p) const { lbfgs_free(p); }
};

}  // namespace

std::vector<Micros> FutureDays(Micros last, int periods) {
  std::vector<Micros> out;
  for (int i = 1; i <= periods; ++i) out.push_back(last + i * kMicrosPerDay);
  return out;
}

namespace {

// Feature matrix (rows x columns) of `f` at `rows`, regressors already checked.
template <typename Column>
MatrixXd BuildFeatures(const std::vector<Column>& columns, const Frame& f,
                       const std::vector<size_t>& rows) {
  MatrixXd x(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(columns.size()));
  constexpr double kTwoPi = 2 * std::numbers::pi;
  for (size_t c = 0; c < columns.size(); ++c) {
    const Column& col = columns[c];
    const auto ci = static_cast<Eigen::Index>(c);
    switch (col.kind) {
      case Column::Kind::kSin:
      case Column::Kind::kCos: {
        // As Prophet's fourier_series: (n / P) * (2 pi t_days), t_days since the epoch.
        const double w = static_cast<double>(col.harmonic) / col.period;
        const bool sine = col.kind == Column::Kind::kSin;
        for (size_t i = 0; i < rows.size(); ++i) {
          const double t_days =
              static_cast<double>(f.ds[rows[i]]) / static_cast<double>(kMicrosPerDay);
          const double a = w * (kTwoPi * t_days);
          x(static_cast<Eigen::Index>(i), ci) = sine ? std::sin(a) : std::cos(a);
        }
        break;
      }
      case Column::Kind::kRegressor: {
        const std::vector<double>& v = f.regressors.at(col.regressor);
        for (size_t i = 0; i < rows.size(); ++i) {
          x(static_cast<Eigen::Index>(i), ci) = (v[rows[i]] - col.mu) / col.sd;
        }
        break;
      }
      case Column::Kind::kHoliday:
        for (size_t i = 0; i < rows.size(); ++i) {
          x(static_cast<Eigen::Index>(i), ci) =
              std::binary_search(col.days.begin(), col.days.end(), DayFloor(f.ds[rows[i]])) ? 1.0
                                                                                            : 0.0;
        }
        break;
    }
  }
  return x;
}

// Prophet's piecewise_linear at t.
double PiecewiseLinear(double t, double k, double m, const std::vector<double>& delta,
                       const std::vector<double>& changepoints_t) {
  double slope = k, offset = m;
  for (size_t j = 0; j < changepoints_t.size(); ++j) {
    if (changepoints_t[j] <= t) {
      slope += delta[j];
      offset -= delta[j] * changepoints_t[j];
    }
  }
  return slope * t + offset;
}

}  // namespace

StatusOr<ProphetModel> ProphetModel::Fit(const Frame& history, const ProphetOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (history.y.size() != history.ds.size()) {
    return InvalidArgument("history has {} ds but {} y", history.ds.size(), history.y.size());
  }
  RETURN_IF_ERROR(CheckIncreasing(history.ds));
  std::vector<size_t> rows;  // the non-NaN y
  for (size_t i = 0; i < history.y.size(); ++i) {
    const double y = history.y[i];
    if (std::isnan(y)) continue;
    if (std::isinf(y)) {
      return InvalidArgument("y is not finite at {}: {}", FormatIso(history.ds[i]), y);
    }
    if (options.log_transform && !(y > 0)) {
      return InvalidArgument("log_transform needs y > 0, got {} at {}", y,
                             FormatIso(history.ds[i]));
    }
    rows.push_back(i);
  }
  if (rows.size() < 2) {
    return InvalidArgument("history has {} non-NaN y, at least 2 are needed", rows.size());
  }
  std::vector<const std::vector<double>*> regressor_values;
  for (const RegressorSpec& r : options.regressors) {
    ASSIGN_OR_RETURN(const std::vector<double>* v,
                     RegressorValues(history, r.name, "history", rows));
    regressor_values.push_back(v);
  }

  ProphetModel model;
  model.options_ = options;
  Params& p = model.params_;
  const size_t n = rows.size();
  const Eigen::Index rows_e = static_cast<Eigen::Index>(n);

  // Scales: y by max |y| (absmax, floor 0), t over the history.
  VectorXd y(rows_e);
  for (size_t i = 0; i < n; ++i) {
    const double v = history.y[rows[i]];
    y[static_cast<Eigen::Index>(i)] = options.log_transform ? std::log(v) : v;
  }
  p.y_scale = y.cwiseAbs().maxCoeff();
  if (p.y_scale == 0) p.y_scale = 1;
  y /= p.y_scale;
  p.start = history.ds[rows.front()];
  p.t_scale = history.ds[rows.back()] - p.start;
  VectorXd t(rows_e);
  for (size_t i = 0; i < n; ++i) {
    t[static_cast<Eigen::Index>(i)] =
        static_cast<double>(history.ds[rows[i]] - p.start) / static_cast<double>(p.t_scale);
  }

  // Seasonalities: the extra ones in order, then the built-ins (Prophet's set_auto_seasonalities:
  // a custom seasonality of the same name disables an auto built-in; a forced one replaces it).
  struct Season {
    std::string name;
    double period;
    int order;
    double prior_scale;
    std::string mode;
  };
  std::vector<Season> seasons;
  for (const Seasonality& s : options.extra_seasonalities) {
    seasons.push_back({s.name, s.period_days, s.order,
                       s.prior_scale.value_or(options.seasonality_prior_scale),
                       s.mode.value_or(options.seasonality_mode)});
  }
  const Micros span = history.ds[rows.back()] - history.ds[rows.front()];
  Micros min_dt = std::numeric_limits<Micros>::max();
  for (size_t i = 1; i < n; ++i)
    min_dt = std::min(min_dt, history.ds[rows[i]] - history.ds[rows[i - 1]]);
  auto builtin = [&](const char* name, std::optional<bool> arg, bool disable, int order,
                     double period) {
    auto it = std::find_if(seasons.begin(), seasons.end(),
                           [&](const Season& s) { return s.name == name; });
    int fourier_order = 0;
    if (!arg) {
      if (it == seasons.end() && !disable) fourier_order = order;
    } else if (*arg) {
      fourier_order = order;
    }
    if (fourier_order <= 0) return;
    Season s{name, period, fourier_order, options.seasonality_prior_scale,
             options.seasonality_mode};
    if (it != seasons.end()) {
      *it = s;
    } else {
      seasons.push_back(s);
    }
  };
  builtin("yearly", options.yearly_seasonality, span < 730 * kMicrosPerDay, options.yearly_order,
          365.25);
  builtin("weekly", options.weekly_seasonality,
          span < 14 * kMicrosPerDay || min_dt >= 7 * kMicrosPerDay, options.weekly_order, 7);
  builtin("daily", options.daily_seasonality, span < 2 * kMicrosPerDay || min_dt >= kMicrosPerDay,
          options.daily_order, 1);

  for (const Season& s : seasons) {
    for (int h = 1; h <= s.order; ++h) {
      for (Column::Kind kind : {Column::Kind::kSin, Column::Kind::kCos}) {
        Column c;
        c.kind = kind;
        c.period = s.period;
        c.harmonic = h;
        c.prior_scale = s.prior_scale;
        c.multiplicative = s.mode == "multiplicative";
        model.columns_.push_back(std::move(c));
        p.columns.push_back(
            fmt::format("{}_{}{}", s.name, kind == Column::Kind::kSin ? "sin" : "cos", h));
      }
    }
  }
  // Holidays: one column per name and offset, ordered as Prophet's sorted "<name>_delim_<+-k>".
  {
    struct HolidayColumn {
      std::string name;
      std::set<Micros> days;
      double prior_scale;
    };
    std::map<std::string, HolidayColumn> by_key;
    for (const Holiday& h : options.holidays) {
      for (int off = h.lower_window; off <= h.upper_window; ++off) {
        std::string sign = off >= 0 ? "+" : "-";
        std::string key = fmt::format("{}_delim_{}{}", h.name, sign, std::abs(off));
        auto [it, fresh] = by_key.try_emplace(key);
        HolidayColumn& hc = it->second;
        if (fresh) {
          hc.name = fmt::format("{}{}{}", h.name, sign, std::abs(off));
          hc.prior_scale = h.prior_scale.value_or(options.holidays_prior_scale);
        }
        for (Micros d : h.days) hc.days.insert(DayFloor(d) + off * kMicrosPerDay);
      }
    }
    for (auto& [key, hc] : by_key) {
      Column c;
      c.kind = Column::Kind::kHoliday;
      c.days.assign(hc.days.begin(), hc.days.end());
      c.prior_scale = hc.prior_scale;
      c.multiplicative = options.seasonality_mode == "multiplicative";
      model.columns_.push_back(std::move(c));
      p.columns.push_back(hc.name);
    }
  }
  // Extra regressors, standardized as Prophet's standardize="auto" (not binary 0/1 columns, not
  // constant ones), with the sample standard deviation.
  for (size_t r = 0; r < options.regressors.size(); ++r) {
    const RegressorSpec& spec = options.regressors[r];
    const std::vector<double>& v = *regressor_values[r];
    Column c;
    c.kind = Column::Kind::kRegressor;
    c.regressor = spec.name;
    c.prior_scale = spec.prior_scale.value_or(options.holidays_prior_scale);
    c.multiplicative = spec.mode.value_or(options.seasonality_mode) == "multiplicative";
    std::set<double> unique;
    for (size_t i : rows) unique.insert(v[i]);
    bool standardize = spec.standardize && unique.size() >= 2 &&
                       !(unique.size() == 2 && *unique.begin() == 0 && *unique.rbegin() == 1);
    if (standardize) {
      double mu = 0;
      for (size_t i : rows) mu += v[i];
      mu /= static_cast<double>(n);
      double ss = 0;
      for (size_t i : rows) ss += (v[i] - mu) * (v[i] - mu);
      c.mu = mu;
      c.sd = std::sqrt(ss / static_cast<double>(n - 1));
    }
    model.columns_.push_back(std::move(c));
    p.columns.push_back(spec.name);
  }

  // Changepoints as Prophet's set_changepoints: round(linspace(0, hist_size - 1, S + 1))[1:],
  // numpy's round (half to even), and a dummy changepoint at t = 0 if there are none.
  const int hist_size =
      static_cast<int>(std::floor(static_cast<double>(n) * options.changepoint_range));
  int n_cp = options.n_changepoints;
  if (n_cp + 1 > hist_size) n_cp = hist_size - 1;
  const bool dummy_changepoint = n_cp <= 0;
  if (dummy_changepoint) {
    p.changepoints_t = {0.0};
  } else {
    const double step = static_cast<double>(hist_size - 1) / n_cp;
    for (int i = 1; i <= n_cp; ++i) {
      const double pos = i == n_cp ? hist_size - 1 : i * step;
      p.changepoints_t.push_back(t[static_cast<Eigen::Index>(std::nearbyint(pos))]);
    }
    std::sort(p.changepoints_t.begin(), p.changepoints_t.end());
  }
  const auto s = static_cast<Eigen::Index>(p.changepoints_t.size());

  // Design matrices, built once.
  MatrixXd x = BuildFeatures(model.columns_, history, rows);
  std::vector<Eigen::Index> add_cols, mul_cols;
  for (size_t c = 0; c < model.columns_.size(); ++c) {
    (model.columns_[c].multiplicative ? mul_cols : add_cols)
        .push_back(static_cast<Eigen::Index>(c));
  }
  auto pick = [&](const std::vector<Eigen::Index>& cols, MatrixXd* xs, VectorXd* inv_var) {
    xs->resize(rows_e, static_cast<Eigen::Index>(cols.size()));
    inv_var->resize(static_cast<Eigen::Index>(cols.size()));
    for (size_t j = 0; j < cols.size(); ++j) {
      const auto je = static_cast<Eigen::Index>(j);
      xs->col(je) = x.col(cols[j]);
      const double ps = model.columns_[static_cast<size_t>(cols[j])].prior_scale;
      (*inv_var)[je] = 1 / (ps * ps);
    }
  };
  MatrixXd xa, xm;
  VectorXd inv_var_a, inv_var_m;
  pick(add_cols, &xa, &inv_var_a);
  pick(mul_cols, &xm, &inv_var_m);
  MatrixXd b(rows_e, s);
  for (Eigen::Index j = 0; j < s; ++j) {
    b.col(j) = (t.array() - p.changepoints_t[static_cast<size_t>(j)]).max(0.0);
  }

  // Initialization as Prophet: the line through the first and last points, sigma_obs = 1.
  const double k0 = (y[rows_e - 1] - y[0]) / (t[rows_e - 1] - t[0]);
  const double m0 = y[0] - k0 * t[0];
  const bool constant_y = y.maxCoeff() == y.minCoeff();

  Objective objective(t, y, p.changepoints_t, std::move(b), std::move(xa), std::move(xm),
                      std::move(inv_var_a), std::move(inv_var_m));
  const int nvar = objective.size();
  std::unique_ptr<lbfgsfloatval_t, LbfgsFree> xv(lbfgs_malloc(nvar));
  if (!xv) return Internal("lbfgs_malloc({}) failed", nvar);
  std::fill(xv.get(), xv.get() + nvar, 0.0);
  xv.get()[0] = k0;
  xv.get()[1] = m0;
  xv.get()[2 + s] = constant_y ? std::log(1e-9) : 0.0;  // log sigma_obs

  std::vector<double> x0(xv.get(), xv.get() + nvar), g(static_cast<size_t>(nvar));
  if (!constant_y) {  // Prophet skips the optimization for a constant y
    objective.Precondition(k0, m0);
    objective.ToZ(x0.data(), xv.get());
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    param.epsilon = 0;  // stop on the relative decrease (ProgressCallback) or max_iterations
    param.past = 0;
    param.linesearch = LBFGS_LINESEARCH_BACKTRACKING;
    param.max_linesearch = 60;
    param.orthantwise_c = objective.delta_scale() / options.changepoint_prior_scale;
    param.orthantwise_start = objective.delta_begin();
    param.orthantwise_end = objective.delta_end();
    Optimization opt{&objective, options.tolerance};
    opt.past[0] = objective.Evaluate(x0.data(), g.data());  // + 0: delta starts at 0
    // The objective with its L1 term at z = xv.
    auto total = [&] {
      double f = objective.EvaluateZ(xv.get(), g.data());
      for (Eigen::Index j = 0; j < s; ++j) f += param.orthantwise_c * std::abs(xv.get()[2 + j]);
      return f;
    };
    double f_run = opt.past[0];
    for (int restarts = 0;; ++restarts) {
      param.max_iterations = options.max_iterations - opt.done;
      lbfgsfloatval_t fx = 0;
      const int ret = lbfgs(nvar, xv.get(), &fx, EvaluateCallback, ProgressCallback, &opt, &param);
      bool line_search_failed = false;
      switch (ret) {
        case LBFGS_SUCCESS:
        case LBFGS_STOP:
        case LBFGS_ALREADY_MINIMIZED:
        case LBFGSERR_MAXIMUMITERATION:
          break;
        // No decrease along the direction: xv is the last accepted point. Either converged to
        // rounding, or the quasi-Newton memory went stale (OWL-QN keeps pairs with y's <= 0):
        // restart from xv with an empty memory while that still makes progress.
        case LBFGSERR_ROUNDING_ERROR:
        case LBFGSERR_MINIMUMSTEP:
        case LBFGSERR_MAXIMUMSTEP:
        case LBFGSERR_MAXIMUMLINESEARCH:
        case LBFGSERR_INCREASEGRADIENT:
          line_search_failed = true;
          break;
        default:
          return Internal("L-BFGS failed with code {}", ret);
      }
      opt.done = opt.iterations;
      if (!line_search_failed || opt.done >= options.max_iterations || restarts == 20) break;
      const double f = total();
      if (!(f_run - f > options.tolerance * std::abs(f))) break;
      f_run = f;
    }
    p.iterations = opt.iterations;
    objective.ToX(xv.get(), x0.data());
    // Exact zeros in z are exact zeros in x; keep them exact through rounding in ToX.
    for (Eigen::Index j = 0; j < s; ++j) {
      if (xv.get()[2 + j] == 0) x0[static_cast<size_t>(2 + j)] = 0;
    }
  }
  const double* xs = x0.data();
  p.objective = objective.Evaluate(xs, g.data());
  for (Eigen::Index j = 0; j < s; ++j) {
    p.objective += std::abs(xs[2 + j]) / options.changepoint_prior_scale;
  }
  if (!std::isfinite(p.objective)) return Internal("the fit diverged (objective {})", p.objective);

  p.k = xs[0];
  p.m = xs[1];
  p.delta.assign(xs + 2, xs + 2 + s);
  p.sigma_obs = std::exp(xs[2 + s]);
  p.beta.assign(model.columns_.size(), 0.0);
  size_t next = static_cast<size_t>(3 + s);
  for (Eigen::Index c : add_cols) p.beta[static_cast<size_t>(c)] = xs[next++];
  for (Eigen::Index c : mul_cols) p.beta[static_cast<size_t>(c)] = xs[next++];
  if (dummy_changepoint) {  // as Prophet: fold the dummy's rate into k
    p.k += p.delta[0];
    p.delta[0] = 0;
  }
  return model;
}

StatusOr<Prediction> ProphetModel::Predict(const Frame& future) const {
  if (params_.t_scale <= 0) return FailedPrecondition("the model is not fitted");
  RETURN_IF_ERROR(CheckIncreasing(future.ds));
  const size_t n = future.ds.size();
  std::vector<size_t> rows(n);
  for (size_t i = 0; i < n; ++i) rows[i] = i;
  for (const RegressorSpec& r : options_.regressors) {
    RETURN_IF_ERROR(RegressorValues(future, r.name, "future", rows).status());
  }
  const Params& p = params_;
  Prediction out;
  out.ds = future.ds;
  if (n == 0) return out;

  MatrixXd x = BuildFeatures(columns_, future, rows);
  VectorXd beta_a(static_cast<Eigen::Index>(columns_.size())), beta_m(beta_a.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    const auto ce = static_cast<Eigen::Index>(c);
    beta_a[ce] = columns_[c].multiplicative ? 0.0 : p.beta[c];
    beta_m[ce] = columns_[c].multiplicative ? p.beta[c] : 0.0;
  }
  const VectorXd xa = x * beta_a, xm = x * beta_m;
  std::vector<double> t(n), trend(n);
  for (size_t i = 0; i < n; ++i) {
    t[i] = static_cast<double>(future.ds[i] - p.start) / static_cast<double>(p.t_scale);
    trend[i] = PiecewiseLinear(t[i], p.k, p.m, p.delta, p.changepoints_t);
  }
  auto out_scale = [&](double v) { return options_.log_transform ? std::exp(v) : v; };
  out.yhat.resize(n);
  out.trend.resize(n);
  out.additive.resize(n);
  out.multiplicative.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    out.trend[i] = trend[i] * p.y_scale;
    out.additive[i] = xa[ie] * p.y_scale;
    out.multiplicative[i] = xm[ie];
    out.yhat[i] = out_scale((trend[i] * (1 + xm[ie]) + xa[ie]) * p.y_scale);
  }

  const int n_samples = options_.uncertainty_samples;
  if (n_samples == 0) {
    out.yhat_lower.assign(n, kNaN);
    out.yhat_upper.assign(n, kNaN);
    return out;
  }
  // Prophet's sample_predictive_trend: per sample, Poisson(S (T - 1)) new changepoints placed
  // uniformly on [1, T] (T the frame's last t) with Laplace(0, mean |delta| + 1e-8) rate changes.
  std::mt19937_64 rng(options_.seed);
  const double t_max = t.back();
  double lambda = 0;
  for (double d : p.delta) lambda += std::abs(d);
  lambda = lambda / static_cast<double>(p.delta.size()) + 1e-8;
  const auto ns = static_cast<size_t>(n_samples);
  std::vector<size_t> offsets(ns + 1, 0);
  std::vector<double> cp_t, cp_d;
  if (t_max > 1) {
    std::poisson_distribution<int> poisson(static_cast<double>(p.changepoints_t.size()) *
                                           (t_max - 1));
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    std::exponential_distribution<double> expo(1 / lambda);
    for (size_t smp = 0; smp < ns; ++smp) {
      const int changes = poisson(rng);
      const size_t begin = cp_t.size();
      for (int c = 0; c < changes; ++c) cp_t.push_back(1 + unif(rng) * (t_max - 1));
      std::sort(cp_t.begin() + static_cast<ptrdiff_t>(begin), cp_t.end());
      for (int c = 0; c < changes; ++c) {
        const double mag = expo(rng);
        cp_d.push_back(unif(rng) < 0.5 ? -mag : mag);
      }
      offsets[smp + 1] = cp_t.size();
    }
  }
  // Sweep the rows in time order, carrying each sample's extra slope and offset.
  std::vector<double> slope(ns, 0.0), offset(ns, 0.0), values(ns);
  std::vector<size_t> next(offsets.begin(), offsets.end() - 1);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double lower_q = (1 - options_.interval_width) / 2;
  const double upper_q = (1 + options_.interval_width) / 2;
  out.yhat_lower.resize(n);
  out.yhat_upper.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    const double ti = t[i];
    for (size_t smp = 0; smp < ns; ++smp) {
      size_t& j = next[smp];
      while (j < offsets[smp + 1] && cp_t[j] <= ti) {
        slope[smp] += cp_d[j];
        offset[smp] -= cp_d[j] * cp_t[j];
        ++j;
      }
      const double tr = trend[i] + slope[smp] * ti + offset[smp];
      values[smp] = (tr * (1 + xm[ie]) + xa[ie] + p.sigma_obs * normal(rng)) * p.y_scale;
    }
    out.yhat_lower[i] = out_scale(Quantile(values, lower_q));
    out.yhat_upper[i] = out_scale(Quantile(values, upper_q));
  }
  return out;
}

}  // namespace cryptolake::forecast
