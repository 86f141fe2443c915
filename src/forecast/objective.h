// The MAP objective of the Prophet model (forecast/prophet.cc's fit): internal to the forecast
// module, not part of its interface.
#pragma once

#include <Eigen/Dense>
#include <vector>

namespace cryptolake::forecast {

// The negative log posterior of prophet.stan (constants dropped) without the Laplace prior, which
// OWL-QN adds as its L1 term, and its gradient. Variables (contiguous delta block for OWL-QN):
//   x = [k, m, delta (S), u = log sigma_obs, beta_a (Ka), beta_m (Km)].
// Purely additive models (Km = 0) are linear in theta = [k, m, delta, beta_a]: mu = Z theta with
// Z = [t, 1, B, X_a], B_ij = max(t_i - s_j, 0), so the residual sum of squares and its gradient
// come from the Gram matrix Z'Z (p x p) in O(p^2) per evaluation instead of O(T p). Models with
// multiplicative columns evaluate the residual explicitly. Nothing is allocated per evaluation.
// Logistic growth (a non-empty `cap`, the scaled capacity per row): the trend is prophet.stan's
// logistic_trend, cap / (1 + exp(-k_j (t - m_j))) on segment j with k_j = k + delta_1..j and
// m_j = s_j - (s_j - m_{j-1}) k_{j-1} / k_j (m_0 = m: the continuity offsets gamma), evaluated
// explicitly and its gradient back-propagated through that recursion; no preconditioner (b is
// then only used for its column count). Flat growth needs nothing here: the caller passes t = 0
// and b = 0, which leaves trend = m, and k and delta to their priors.
class Objective {
 public:
  Objective(Eigen::VectorXd t, Eigen::VectorXd y, const std::vector<double>& changepoints,
            Eigen::MatrixXd b, Eigen::MatrixXd xa, Eigen::MatrixXd xm, Eigen::VectorXd inv_var_a,
            Eigen::VectorXd inv_var_m, Eigen::VectorXd cap = {});

  int size() const { return static_cast<int>(3 + s_ + ka_ + km_); }
  int delta_begin() const { return 2; }
  int delta_end() const { return static_cast<int>(2 + s_); }
  Eigen::Index s() const { return s_; }

  double Evaluate(const double* xp, double* gp);

  // Preconditioning: OWL-QN runs on z with x = P z, where the delta block is only scaled (by one
  // factor d, so the L1 term stays c |x_delta| = c d |z_delta|) and the other trend and feature
  // variables o are decorrelated from delta and whitened with the Hessian H of rss / 2 (plus the
  // priors at sigma_obs = 0.1; multiplicative columns at the initial trend):
  //   x_delta = d z_delta,  x_o = d C z_delta + L^-T w,  C = -H_oo^-1 H_o,delta,  H_oo = L L'.
  // The ramps (t - s_j)_+ are nearly collinear with t and each other (cond(H) ~ 1e7 on 3000
  // daily points); in z the rest is the delta Schur complement (~1e5), and OWL-QN needs several
  // times fewer iterations. u = log sigma_obs is left as is.
  void Precondition(double k0, double m0);
  bool preconditioned() const { return preconditioned_; }
  double delta_scale() const { return preconditioned_ ? pc_d_ : 1.0; }

  // x = P z (both laid out as x).
  void ToX(const double* zp, double* xp);
  // z with P z = x.
  void ToZ(const double* xp, double* zp);
  // The objective at x = P z and its gradient in z: P' g.
  double EvaluateZ(const double* zp, double* gzp);

 private:
  // Evaluate's residual sum of squares at x and its gradient in g (all but d/du, which needs
  // rss), by trend: the Gram path, the logistic trend, the piecewise linear trend.
  double RssGram(const double* xp, double inv_s2, double* gp);
  double RssLogistic(const double* xp, double inv_s2, double* gp);
  double RssLinear(const double* xp, double inv_s2, double* gp);
  // The logistic and linear trends' shared steps: the residual of trend_ and its rss, and the
  // betas' gradient from that residual.
  double Residual(const double* xp, double inv_s2);
  void SeasonalGradient(const double* xp, double inv_s2, double* gp);
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

  const Eigen::VectorXd t_, y_;
  const Eigen::MatrixXd b_, xa_, xm_;
  const Eigen::VectorXd inv_var_a_, inv_var_m_;
  const double n_;
  const Eigen::Index s_, ka_, km_;
  const Eigen::VectorXd cap_;  // logistic growth if not empty
  const bool gram_path_;
  Eigen::VectorXd ks_, ms_, gk_, gm_, dtrend_;  // logistic: per segment, and d trend / d z
  // Gram path.
  Eigen::MatrixXd z_, gram_;
  Eigen::VectorXd zy_, theta_, q_;
  double yy_ = 0;
  // Workspace.
  std::vector<Eigen::Index> start_;
  std::vector<double> cps_;
  Eigen::VectorXd trend_, xab_, xmb_, r_, gtr_, tmp_;
  // Preconditioner.
  bool preconditioned_ = false;
  double pc_d_ = 1;
  Eigen::MatrixXd pc_c_, pc_m_, pc_lt_;
  Eigen::VectorXd pc_w_, pc_go_, pc_x_, pc_g_;
};

}  // namespace cryptolake::forecast
