#include "forecast/objective.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cryptolake::forecast {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Objective::Objective(VectorXd t, VectorXd y, const std::vector<double>& changepoints, MatrixXd b,
                     MatrixXd xa, MatrixXd xm, VectorXd inv_var_a, VectorXd inv_var_m, VectorXd cap)
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
      km_(xm_.cols()),
      cap_(std::move(cap)),
      gram_path_(km_ == 0 && cap_.size() == 0) {
  const Eigen::Index rows = t_.size();
  if (gram_path_) {
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
    if (cap_.size() > 0) {
      ks_.resize(s_ + 1);
      ms_.resize(s_ + 1);
      gk_.resize(s_ + 1);
      gm_.resize(s_ + 1);
      dtrend_.resize(rows);
    }
  }
}

// The linear trend by its Gram matrix (no multiplicative columns).
double Objective::RssGram(const double* xp, double inv_s2, double* gp) {
  Eigen::Map<const VectorXd> x(xp, size());
  Eigen::Map<VectorXd> g(gp, size());
  const double k = x[0], m = x[1];
  auto delta = x.segment(2, s_);
  auto ba = x.segment(3 + s_, ka_);
  double rss;
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
  return rss;
}

// The residual of the trend in trend_ (r = y - trend (1 + Xm bm) - Xa ba) into r_, with
// d rss / (2 sigma^2) / d trend into gtr_; returns rss.
double Objective::Residual(const double* xp, double inv_s2) {
  Eigen::Map<const VectorXd> x(xp, size());
  xab_.noalias() = xa_ * x.segment(3 + s_, ka_);
  xmb_.noalias() = xm_ * x.segment(3 + s_ + ka_, km_);
  r_ = y_ - trend_.cwiseProduct(xmb_) - trend_ - xab_;
  gtr_ = -inv_s2 * (r_ + r_.cwiseProduct(xmb_));  // d/dtrend
  return r_.squaredNorm();
}

// The betas' gradient at the residual r_ of Residual, with their priors.
void Objective::SeasonalGradient(const double* xp, double inv_s2, double* gp) {
  Eigen::Map<const VectorXd> x(xp, size());
  Eigen::Map<VectorXd> g(gp, size());
  g.segment(3 + s_, ka_).noalias() = -inv_s2 * (xa_.transpose() * r_);
  g.segment(3 + s_, ka_) += x.segment(3 + s_, ka_).cwiseProduct(inv_var_a_);
  tmp_ = r_.cwiseProduct(trend_);
  g.segment(3 + s_ + ka_, km_).noalias() = -inv_s2 * (xm_.transpose() * tmp_);
  g.segment(3 + s_ + ka_, km_) += x.segment(3 + s_ + ka_, km_).cwiseProduct(inv_var_m_);
}

// The logistic trend.
double Objective::RssLogistic(const double* xp, double inv_s2, double* gp) {
  Eigen::Map<const VectorXd> x(xp, size());
  Eigen::Map<VectorXd> g(gp, size());
  const double k = x[0], m = x[1];
  auto delta = x.segment(2, s_);
  // Logistic: the rate and offset of each segment (prophet.stan's logistic_gamma), the trend
  // and its derivative in z = k_j (t - m_j).
  ks_[0] = k;
  ms_[0] = m;
  for (Eigen::Index j = 0; j < s_; ++j) {
    ks_[j + 1] = ks_[j] + delta[j];
    const double c = cps_[static_cast<size_t>(j)];
    ms_[j + 1] = c - (c - ms_[j]) * (ks_[j] / ks_[j + 1]);
  }
  {
    Eigen::Index j = 0;
    for (Eigen::Index i = 0; i < t_.size(); ++i) {
      while (j < s_ && start_[static_cast<size_t>(j)] <= i) ++j;
      const double sig = 1 / (1 + std::exp(-ks_[j] * (t_[i] - ms_[j])));
      trend_[i] = cap_[i] * sig;
      dtrend_[i] = cap_[i] * sig * (1 - sig);
    }
  }
  const double rss = Residual(xp, inv_s2);
  // Back to the segments' k_j, m_j, then through the offsets' recursion (last segment first).
  gk_.setZero();
  gm_.setZero();
  {
    Eigen::Index j = 0;
    for (Eigen::Index i = 0; i < t_.size(); ++i) {
      while (j < s_ && start_[static_cast<size_t>(j)] <= i) ++j;
      const double gz = gtr_[i] * dtrend_[i];
      gk_[j] += gz * (t_[i] - ms_[j]);
      gm_[j] -= gz * ks_[j];
    }
  }
  for (Eigen::Index j = s_ - 1; j >= 0; --j) {
    const double a = gm_[j + 1], d = cps_[static_cast<size_t>(j)] - ms_[j];
    const double ratio = ks_[j] / ks_[j + 1];
    gm_[j] += a * ratio;
    gk_[j] -= a * d / ks_[j + 1];
    gk_[j + 1] += a * d * ratio / ks_[j + 1];
  }
  // k_j = k + delta_1..j: dk gets every segment's, delta_j those after it.
  double suffix = 0;
  for (Eigen::Index j = s_; j >= 1; --j) {
    suffix += gk_[j];
    g[2 + j - 1] = suffix;
  }
  g[0] = suffix + gk_[0] + k / 25;
  g[1] = gm_[0] + m / 25;
  SeasonalGradient(xp, inv_s2, gp);
  return rss;
}

// The piecewise linear trend, in O(T).
double Objective::RssLinear(const double* xp, double inv_s2, double* gp) {
  Eigen::Map<const VectorXd> x(xp, size());
  Eigen::Map<VectorXd> g(gp, size());
  const double k = x[0], m = x[1];
  auto delta = x.segment(2, s_);
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
  const double rss = Residual(xp, inv_s2);
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
  SeasonalGradient(xp, inv_s2, gp);
  return rss;
}

double Objective::Evaluate(const double* xp, double* gp) {
  Eigen::Map<const VectorXd> x(xp, size());
  Eigen::Map<VectorXd> g(gp, size());
  const double k = x[0], m = x[1], u = x[2 + s_];
  auto ba = x.segment(3 + s_, ka_);
  auto bm = x.segment(3 + s_ + ka_, km_);
  const double sigma2 = std::exp(2 * u), inv_s2 = std::exp(-2 * u);
  const double rss = gram_path_        ? RssGram(xp, inv_s2, gp)
                     : cap_.size() > 0 ? RssLogistic(xp, inv_s2, gp)
                                       : RssLinear(xp, inv_s2, gp);
  // sigma_obs ~ N(0, 0.5): 2 sigma^2; the likelihood: T log sigma + rss / (2 sigma^2).
  g[2 + s_] = n_ - rss * inv_s2 + 4 * sigma2;
  return n_ * u + 0.5 * rss * inv_s2 + 2 * sigma2 + (k * k + m * m) / 50 +
         0.5 * ba.cwiseAbs2().dot(inv_var_a_) + 0.5 * bm.cwiseAbs2().dot(inv_var_m_);
}

void Objective::Precondition(double k0, double m0) {
  if (cap_.size() > 0) return;  // logistic: not linear in k, m, delta; leave P = I
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

void Objective::ToX(const double* zp, double* xp) {
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

void Objective::ToZ(const double* xp, double* zp) {
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

double Objective::EvaluateZ(const double* zp, double* gzp) {
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

}  // namespace cryptolake::forecast
