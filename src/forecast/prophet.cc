// ProphetModel::Predict (forecast/prophet.h); the fit is prophet_fit.cc, the checks both use
// prophet_checks.cc (forecast/prophet_internal.h).
#include "forecast/prophet.h"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "forecast/prophet_internal.h"

namespace cryptolake::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace prophet_internal;

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

// The rate and offset of each segment of Prophet's piecewise logistic trend: segment j (after
// changepoint j) has k_j = k + delta_1..j and m_j = m + gamma_1..j, gamma as logistic_gamma.
void LogisticSegments(double k, double m, const std::vector<double>& delta,
                      const std::vector<double>& changepoints_t, std::vector<double>* ks,
                      std::vector<double>* ms) {
  ks->assign(1, k);
  ms->assign(1, m);
  for (size_t j = 0; j < changepoints_t.size(); ++j) {
    const double k_prev = ks->back(), m_prev = ms->back(), k_next = k_prev + delta[j];
    const double gamma = (changepoints_t[j] - m_prev) * (1 - k_prev / k_next);
    ks->push_back(k_next);
    ms->push_back(m_prev + gamma);
  }
}

// Prophet's piecewise_logistic at t, with the segments from LogisticSegments.
double PiecewiseLogistic(double t, double cap, const std::vector<double>& ks,
                         const std::vector<double>& ms, const std::vector<double>& changepoints_t) {
  size_t j = 0;
  while (j < changepoints_t.size() && changepoints_t[j] <= t) ++j;
  return cap / (1 + std::exp(-ks[j] * (t - ms[j])));
}

// The trend at the frame's rows (scaled), with what the samples need.
struct TrendPath {
  std::vector<double> t, trend, cap_scaled;
  std::vector<double> ks, ms;  // logistic: the segments' rates and offsets
};

// On y's scale, as Prophet: (trend * y_scale + floor) * (1 + X_m beta) + X_a beta * y_scale.
// (With noise e, in scaled units, added before the scale as the linear model always did.)
struct OutputScale {
  const Params& p;
  const std::vector<double>* floor;
  bool log_transform;
  double Combine(size_t i, double tr, double xm_i, double xa_i, double e) const {
    if (floor == nullptr) return (tr * (1 + xm_i) + xa_i + e) * p.y_scale;
    return (tr * p.y_scale + (*floor)[i]) * (1 + xm_i) + (xa_i + e) * p.y_scale;
  }
  double Out(double v) const { return log_transform ? std::exp(v) : v; }
};

// yhat_lower and yhat_upper of `out` (n rows) by simulation, as Prophet's predictive samples:
// o.uncertainty_samples trend paths with sampled changepoints and noise (NaN with no samples).
void SampleIntervals(const Params& p, const ProphetOptions& o, bool logistic, bool flat,
                     const TrendPath& tp, const VectorXd& xa, const VectorXd& xm,
                     const OutputScale& scale, Prediction& out) {
  const size_t n = tp.t.size();
  const std::vector<double>&t = tp.t, &trend = tp.trend, &cap_scaled = tp.cap_scaled;
  const std::vector<double>&ks = tp.ks, &ms = tp.ms;
  const int n_samples = o.uncertainty_samples;
  if (n_samples == 0) {
    out.yhat_lower.assign(n, kNaN);
    out.yhat_upper.assign(n, kNaN);
    return;
  }
  // Prophet's sample_predictive_trend: per sample, Poisson(S (T - 1)) new changepoints placed
  // uniformly on [1, T] (T the frame's last t) with Laplace(0, mean |delta| + 1e-8) rate changes.
  std::mt19937_64 rng(o.seed);
  const double t_max = t.back();
  double lambda = 0;
  for (double d : p.delta) lambda += std::abs(d);
  lambda = lambda / static_cast<double>(p.delta.size()) + 1e-8;
  const auto ns = static_cast<size_t>(n_samples);
  std::vector<size_t> offsets(ns + 1, 0);
  std::vector<double> cp_t, cp_d;
  if (t_max > 1 && !flat) {  // flat: no trend uncertainty, as Prophet
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
  // Logistic: each sample's rate and offset once past a sampled changepoint (crossed), from the
  // fitted last segment on, with the continuity offsets.
  std::vector<double> rate(ns, logistic ? ks.back() : 0.0), base(ns, logistic ? ms.back() : 0.0);
  std::vector<char> crossed(ns, 0);
  std::vector<size_t> next(offsets.begin(), offsets.end() - 1);
  std::normal_distribution<double> normal(0.0, 1.0);
  const double lower_q = (1 - o.interval_width) / 2;
  const double upper_q = (1 + o.interval_width) / 2;
  out.yhat_lower.resize(n);
  out.yhat_upper.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    const double ti = t[i];
    for (size_t smp = 0; smp < ns; ++smp) {
      size_t& j = next[smp];
      while (j < offsets[smp + 1] && cp_t[j] <= ti) {
        if (logistic) {
          const double k_next = rate[smp] + cp_d[j];
          base[smp] += (cp_t[j] - base[smp]) * (1 - rate[smp] / k_next);
          rate[smp] = k_next;
          crossed[smp] = 1;
        } else {
          slope[smp] += cp_d[j];
          offset[smp] -= cp_d[j] * cp_t[j];
        }
        ++j;
      }
      double tr = trend[i] + slope[smp] * ti + offset[smp];
      if (crossed[smp]) tr = cap_scaled[i] / (1 + std::exp(-rate[smp] * (ti - base[smp])));
      values[smp] = scale.Combine(i, tr, xm[ie], xa[ie], p.sigma_obs * normal(rng));
    }
    out.yhat_lower[i] = scale.Out(Quantile(values, lower_q));
    out.yhat_upper[i] = scale.Out(Quantile(values, upper_q));
  }
}

}  // namespace

std::vector<Micros> FutureDays(Micros last, int periods) {
  std::vector<Micros> out;
  for (int i = 1; i <= periods; ++i) out.push_back(last + i * kMicrosPerDay);
  return out;
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
  const bool logistic = options_.growth == "logistic", flat = options_.growth == "flat";
  const std::vector<double>*cap = nullptr, *floor = nullptr;
  std::array<std::vector<double>, 2> constants;
  if (logistic) {
    RETURN_IF_ERROR(CapAndFloor(future, "future", rows, options_, params_.logistic_floor, &cap,
                                &floor, &constants));
  }
  RETURN_IF_ERROR(CheckConditions(options_.extra_seasonalities, future, "future", rows));
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
  TrendPath tp;
  tp.t.resize(n);
  tp.trend.resize(n);
  std::vector<double>&t = tp.t, &trend = tp.trend, &cap_scaled = tp.cap_scaled;
  std::vector<double>&ks = tp.ks, &ms = tp.ms;
  if (logistic) {
    LogisticSegments(p.k, p.m, p.delta, p.changepoints_t, &ks, &ms);
    cap_scaled.resize(n);
    for (size_t i = 0; i < n; ++i) {
      cap_scaled[i] = ((*cap)[i] - (floor ? (*floor)[i] : 0.0)) / p.y_scale;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    t[i] = static_cast<double>(future.ds[i] - p.start) / static_cast<double>(p.t_scale);
    if (logistic) {
      trend[i] = PiecewiseLogistic(t[i], cap_scaled[i], ks, ms, p.changepoints_t);
    } else if (flat) {
      trend[i] = p.m;
    } else {
      trend[i] = PiecewiseLinear(t[i], p.k, p.m, p.delta, p.changepoints_t);
    }
  }
  const OutputScale scale{p, floor, options_.log_transform};
  out.yhat.resize(n);
  out.trend.resize(n);
  out.additive.resize(n);
  out.multiplicative.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto ie = static_cast<Eigen::Index>(i);
    out.trend[i] = trend[i] * p.y_scale + (floor ? (*floor)[i] : 0.0);
    out.additive[i] = xa[ie] * p.y_scale;
    out.multiplicative[i] = xm[ie];
    out.yhat[i] = scale.Out(scale.Combine(i, trend[i], xm[ie], xa[ie], 0.0));
  }

  SampleIntervals(p, options_, logistic, flat, tp, xa, xm, scale, out);
  return out;
}

}  // namespace cryptolake::forecast
