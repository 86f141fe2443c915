#include "forecast/ets.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "forecast/evaluate.h"
#include "forecast/nelder_mead.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNA = -99999.0;  // statsforecast's "no value" marker
constexpr double kTol = 1e-10;
// statsforecast's default bounds: alpha, beta, gamma, phi.
constexpr double kLower[4] = {0.0001, 0.0001, 0.0001, 0.8};
constexpr double kUpper[4] = {0.9999, 0.9999, 0.9999, 0.98};

bool HasTrend(EtsTrend t) { return t != EtsTrend::kNone; }

// statsforecast's Calc for additive errors, no season: runs the filter from (l0, b0), returns
// n log(sum e^2) (kNA if a forecast is the NA marker), and the residuals and last states if asked.
// The slope update b = phi b + beta e is statsforecast's phi b + (beta / alpha) (l - l_old - phi b)
// with l - l_old - phi b = alpha e: the same value up to rounding, in half the latency (the
// recursion is serial, so its latency is the fit's cost).
template <bool kTrend>
double FilterT(std::span<const double> y, double alpha, double beta, double phi, double l0,
               double b0, std::vector<double>* e, double* l_end, double* b_end) {
  double l = l0, b = kTrend ? b0 : 0.0;
  double sse = 0;
  bool na = false;
  for (size_t i = 0; i < y.size(); ++i) {
    double phi_b = 0.0, q = l;
    if constexpr (kTrend) {
      phi_b = phi * b;
      q = l + phi_b;  // the one-step forecast
    }
    na |= std::abs(q - kNA) < kTol;
    const double err = y[i] - q;
    if (e != nullptr) (*e)[i] = err;
    l = q + alpha * err;
    if constexpr (kTrend) b = phi_b + beta * err;
    sse += err * err;
  }
  if (na) return kNA;
  if (l_end != nullptr) *l_end = l;
  if (b_end != nullptr) *b_end = b;
  const double n = static_cast<double>(y.size());
  return sse > 0.0 ? n * std::log(sse) : n * std::log(sse + 1e-8);
}

// FilterT's likelihood at M parameter vectors (alpha, beta, phi, l0, b0 each), their recursions
// interleaved step by step: independent chains the CPU overlaps (M fixed, so the states stay in
// registers).
template <bool kTrend, size_t M>
void FilterBatchM(std::span<const double> y, const std::array<double, 5>* p, double* out) {
  double l[M], b[M], sse[M], alpha[M], beta[M], phi[M];
  bool na[M];
  for (size_t k = 0; k < M; ++k) {
    alpha[k] = p[k][0];
    beta[k] = p[k][1];
    phi[k] = p[k][2];
    l[k] = p[k][3];
    b[k] = kTrend ? p[k][4] : 0.0;
    sse[k] = 0;
    na[k] = false;
  }
  for (size_t i = 0; i < y.size(); ++i) {
    const double yi = y[i];
#pragma GCC unroll 8
    for (size_t k = 0; k < M; ++k) {
      double phi_b = 0.0, q = l[k];
      if constexpr (kTrend) {
        phi_b = phi[k] * b[k];
        q = l[k] + phi_b;
      }
      na[k] |= std::abs(q - kNA) < kTol;
      const double err = yi - q;
      l[k] = q + alpha[k] * err;
      if constexpr (kTrend) b[k] = phi_b + beta[k] * err;
      sse[k] += err * err;
    }
  }
  const double n = static_cast<double>(y.size());
  for (size_t k = 0; k < M; ++k) {
    out[k] = na[k] ? kNA : sse[k] > 0.0 ? n * std::log(sse[k]) : n * std::log(sse[k] + 1e-8);
  }
}

template <bool kTrend>
void FilterBatch(std::span<const double> y, std::span<const std::array<double, 5>> p,
                 std::span<double> out) {
  const std::array<double, 5>* ps = p.data();
  double* o = out.data();
  switch (p.size()) {
    case 1:
      return FilterBatchM<kTrend, 1>(y, ps, o);
    case 2:
      return FilterBatchM<kTrend, 2>(y, ps, o);
    case 3:
      return FilterBatchM<kTrend, 3>(y, ps, o);
    case 4:
      return FilterBatchM<kTrend, 4>(y, ps, o);
    case 5:
      return FilterBatchM<kTrend, 5>(y, ps, o);
    case 6:
      return FilterBatchM<kTrend, 6>(y, ps, o);
    case 7:
      return FilterBatchM<kTrend, 7>(y, ps, o);
    default:
      return FilterBatchM<kTrend, 8>(y, ps, o);
  }
}

double Filter(std::span<const double> y, EtsTrend trend, double alpha, double beta, double phi,
              double l0, double b0, std::vector<double>* e, double* l_end, double* b_end) {
  return HasTrend(trend) ? FilterT<true>(y, alpha, beta, phi, l0, b0, e, l_end, b_end)
                         : FilterT<false>(y, alpha, beta, phi, l0, b0, e, l_end, b_end);
}

// statsforecast's admissible() for a non-seasonal model (phi NaN: 1).
bool Admissible(double alpha, double beta, double phi) {
  if (std::isnan(phi)) phi = 1;
  if (phi < 0.0 || phi > 1 + 1e-8) return false;
  if (alpha < 1 - 1 / phi || alpha > 1 + 1 / phi) return false;
  if (!std::isnan(beta) && (beta < alpha * (phi - 1) || beta > (1 + phi) * (2 - alpha))) {
    return false;
  }
  return true;
}

// statsforecast's check_param with bounds "both".
bool CheckParam(double alpha, double beta, double phi, const double* lower, const double* upper) {
  if (!std::isnan(alpha) && (alpha < lower[0] || alpha > upper[0])) return false;
  if (!std::isnan(beta) && (beta < lower[1] || beta > alpha || beta > upper[1])) return false;
  if (!std::isnan(phi) && (phi < lower[3] || phi > upper[3])) return false;
  return Admissible(alpha, beta, phi);
}

void SetCriteria(EtsFit& fit, double neg2_loglik, int np_opt) {
  const int k = np_opt + 1;
  const double n = fit.n;
  fit.n_params = k;
  fit.neg2_loglik = neg2_loglik;
  fit.aic = neg2_loglik + 2 * k;
  fit.bic = neg2_loglik + std::log(n) * k;
  fit.aicc = n - k - 1 != 0.0 ? fit.aic + 2.0 * k * (k + 1) / (n - k - 1) : kInf;
  double sse = 0;
  for (double r : fit.residuals) sse += r * r;
  fit.sigma2 = sse / (n - k - 1);
  fit.mse = sse / n;
}

Status CheckValues(std::span<const double> y) {
  if (y.size() < 7) return InvalidArgument("ETS: {} values, at least 7 are needed", y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]))
      return InvalidArgument("ETS: y is not finite at index {}: {}", i, y[i]);
  }
  return Status::Ok();
}

bool IsConstant(std::span<const double> y) {
  return std::all_of(y.begin(), y.end(), [&](double v) { return v == y[0]; });
}

}  // namespace

std::string EtsName(EtsTrend trend) {
  switch (trend) {
    case EtsTrend::kNone:
      return "ETS(A,N,N)";
    case EtsTrend::kAdditive:
      return "ETS(A,A,N)";
    case EtsTrend::kDamped:
      return "ETS(A,Ad,N)";
  }
  return "ETS(?)";
}

StatusOr<EtsFit> EvaluateEts(std::span<const double> y, EtsTrend trend, double alpha, double beta,
                             double phi, double l0, double b0) {
  RETURN_IF_ERROR(CheckValues(y));
  EtsFit fit;
  fit.trend = trend;
  fit.n = static_cast<int>(y.size());
  fit.alpha = alpha;
  fit.l0 = l0;
  const bool has_trend = HasTrend(trend);
  if (has_trend) {
    fit.beta = beta;
    fit.b0 = b0;
  }
  if (trend == EtsTrend::kDamped) fit.phi = phi;
  fit.residuals.assign(y.size(), kNaN);
  double l = 0, b = 0;
  double lik =
      Filter(y, trend, alpha, has_trend ? beta : 0.0, trend == EtsTrend::kDamped ? phi : 1.0, l0,
             has_trend ? b0 : 0.0, &fit.residuals, &l, &b);
  if (std::abs(lik - kNA) < 1e-7) lik = kNaN;
  fit.level = l;
  if (has_trend) fit.slope = b;
  // alpha, (beta, phi), l0, (b0)
  int np_opt = 2 + (has_trend ? 2 : 0) + (trend == EtsTrend::kDamped ? 1 : 0);
  SetCriteria(fit, lik, np_opt);
  return fit;
}

namespace {

// statsforecast's initstate (m = 1) from the first min(10, n) values: the level l0 (their mean),
// and with a trend the OLS line's level and slope b0 (left as is without one).
void InitialStates(std::span<const double> y, bool has_trend, double& l0, double& b0) {
  const size_t maxn = std::min<size_t>(10, y.size());
  if (!has_trend) {
    for (size_t i = 0; i < maxn; ++i) l0 += y[i];
    l0 /= static_cast<double>(maxn);
  } else {
    // least squares of y on (1, t), t = 1..maxn
    double tm = 0, ym = 0;
    for (size_t i = 0; i < maxn; ++i) {
      tm += static_cast<double>(i + 1);
      ym += y[i];
    }
    tm /= static_cast<double>(maxn);
    ym /= static_cast<double>(maxn);
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < maxn; ++i) {
      double dt = static_cast<double>(i + 1) - tm;
      sxy += dt * (y[i] - ym);
      sxx += dt * dt;
    }
    b0 = sxy / sxx;
    l0 = ym - b0 * tm;
    if (std::abs(l0 + b0) < 1e-8) {
      l0 = l0 * (1 + 1e-3);
      b0 = b0 * (1 - 1e-3);
    }
  }
}

}  // namespace

StatusOr<EtsFit> FitEts(std::span<const double> y, const EtsSpec& spec) {
  RETURN_IF_ERROR(CheckValues(y));
  const EtsTrend trend = spec.trend;
  const bool has_trend = HasTrend(trend);
  const bool damped = trend == EtsTrend::kDamped;
  double lower[4], upper[4];
  std::copy(kLower, kLower + 4, lower);
  std::copy(kUpper, kUpper + 4, upper);
  // initparam (m = 1)
  const bool opt_alpha = std::isnan(spec.alpha);
  double alpha = spec.alpha;
  if (opt_alpha) {
    alpha = lower[0] + 0.2 * (upper[0] - lower[0]);
    if (alpha > 1 || alpha < 0) alpha = lower[0] + 2e-3;
  } else if (alpha < lower[0] || alpha > upper[0]) {
    return InvalidArgument("ETS: alpha {} outside [{}, {}]", alpha, lower[0], upper[0]);
  }
  double beta = kNaN, phi = kNaN;
  if (has_trend) {
    upper[1] = std::min(upper[1], alpha);
    beta = lower[1] + 0.1 * (upper[1] - lower[1]);
    if (beta < 0 || beta > alpha) beta = alpha - 1e-3;
  }
  if (damped) {
    phi = lower[3] + 0.99 * (upper[3] - lower[3]);
    if (phi < 0 || phi > 1) phi = upper[3] - 1e-3;
  }
  if (!CheckParam(alpha, beta, phi, lower, upper)) {
    return InvalidArgument("ETS: parameters out of range");
  }
  // initstate: the first min(10, n) values
  double l0 = 0, b0 = kNaN;
  InitialStates(y, has_trend, l0, b0);
  // The optimized vector: alpha (even when fixed, as statsforecast), beta, phi, l0, b0.
  std::vector<double> x0 = {alpha}, lo = {lower[0]}, hi = {upper[0]};
  if (has_trend) {
    x0.push_back(beta);
    lo.push_back(lower[1]);
    hi.push_back(upper[1]);
  }
  if (damped) {
    x0.push_back(phi);
    lo.push_back(lower[3]);
    hi.push_back(upper[3]);
  }
  const size_t n_smooth = x0.size();
  x0.push_back(l0);
  lo.push_back(-kInf);
  hi.push_back(kInf);
  if (has_trend) {
    x0.push_back(b0);
    lo.push_back(-kInf);
    hi.push_back(kInf);
  }
  const int np_opt = static_cast<int>(x0.size());
  EtsFit fit;
  fit.trend = trend;
  fit.n = static_cast<int>(y.size());
  if (np_opt >= fit.n - 1) {
    fit.aic = fit.aicc = fit.bic = kInf;
    return fit;
  }
  const double fixed_alpha = alpha;
  auto unpack = [&](std::span<const double> p, double& a, double& bt, double& ph, double& l,
                    double& b) {
    size_t j = 0;
    a = opt_alpha ? p[j] : fixed_alpha;
    ++j;
    bt = 0.0;
    ph = 1.0;
    if (has_trend) bt = p[j++];
    if (damped) ph = p[j++];
    l = p[n_smooth];
    b = has_trend ? p[n_smooth + 1] : 0.0;
  };
  // The likelihood at the points, 8 at a time (Nelder-Mead asks for at most 6 here).
  BatchObjective objective = [&](std::span<const std::vector<double>* const> points,
                                 std::span<double> values) {
    std::array<std::array<double, 5>, 8> p;
    for (size_t at = 0; at < points.size(); at += p.size()) {
      const size_t m = std::min(p.size(), points.size() - at);
      for (size_t k = 0; k < m; ++k) {
        auto& v = p[k];
        unpack(*points[at + k], v[0], v[1], v[2], v[3], v[4]);
      }
      std::span<const std::array<double, 5>> ps(p.data(), m);
      if (has_trend) {
        FilterBatch<true>(y, ps, values.subspan(at, m));
      } else {
        FilterBatch<false>(y, ps, values.subspan(at, m));
      }
    }
    for (double& lik : values) {
      lik = std::max(lik, -1e10);
      if (std::isnan(lik) || std::abs(lik + 99999.0) < 1e-7) lik = -kInf;
    }
  };
  NelderMeadResult r = NelderMead(objective, x0, lo, hi);
  double a, bt, ph, l, b;
  unpack(r.x, a, bt, ph, l, b);
  ASSIGN_OR_RETURN(fit, EvaluateEts(y, trend, a, bt, ph, l, b));
  fit.iterations = r.iterations;
  SetCriteria(fit, fit.neg2_loglik, np_opt);
  return fit;
}

StatusOr<EtsFit> AutoEts(std::span<const double> y) {
  RETURN_IF_ERROR(CheckValues(y));
  if (IsConstant(y)) return FitEts(y, {EtsTrend::kNone, 0.9999});
  std::optional<EtsFit> best;
  double best_ic = kInf;
  for (EtsTrend t : {EtsTrend::kNone, EtsTrend::kDamped, EtsTrend::kAdditive}) {
    ASSIGN_OR_RETURN(EtsFit fit, FitEts(y, {t}));
    if (!std::isnan(fit.aicc) && fit.aicc < best_ic) {
      best_ic = fit.aicc;
      best = std::move(fit);
    }
  }
  if (!best) return InvalidArgument("ETS: no model could be fitted to {} values", y.size());
  return *std::move(best);
}

EtsForecast ForecastEts(const EtsFit& fit, int h, double level) {
  EtsForecast out;
  const bool has_trend = HasTrend(fit.trend);
  const bool damped = fit.trend == EtsTrend::kDamped;
  const double phi = damped ? fit.phi : 1.0;
  const double z = NormalQuantile((1 + level) / 2);
  const double alpha = fit.alpha, beta = fit.beta;
  double phistar = phi;
  for (int i = 0; i < h; ++i) {
    const double steps = i + 1;
    double mean = has_trend ? fit.level + phistar * fit.slope : fit.level;
    if (i < h - 1) phistar += std::abs(phi - 1.0) < kTol ? 1.0 : std::pow(phi, i + 1);
    double v;
    if (!has_trend) {
      v = 1 + alpha * alpha * (steps - 1);
    } else if (!damped) {
      double exp1 =
          alpha * alpha + alpha * beta * steps + (1.0 / 6) * beta * beta * steps * (2 * steps - 1);
      v = 1 + (steps - 1) * exp1;
    } else {
      double exp2 = (beta * phi * steps) / ((1 - phi) * (1 - phi));
      double exp3 = 2 * alpha * (1 - phi) + beta * phi;
      double exp4 =
          (beta * phi * (1 - std::pow(phi, steps))) / ((1 - phi) * (1 - phi) * (1 - phi * phi));
      double exp5 = 2 * alpha * (1 - phi * phi) + beta * phi * (1 + 2 * phi - std::pow(phi, steps));
      v = 1 + alpha * alpha * (steps - 1) + exp2 * exp3 - exp4 * exp5;
    }
    double sd = std::sqrt(fit.sigma2 * v);
    out.mean.push_back(mean);
    out.lower.push_back(mean - z * sd);
    out.upper.push_back(mean + z * sd);
  }
  return out;
}

namespace {

class EtsFitted : public LogScaleFitted {
 public:
  EtsFitted(EtsFit fit, double level) : fit_(std::move(fit)), level_(level) {}
  LogPath PredictLog(int h) const override {
    EtsForecast f = ForecastEts(fit_, h, level_);
    return {std::move(f.mean), std::move(f.lower), std::move(f.upper)};
  }
  std::string Describe() const override {
    std::string s = fmt::format("{} on log y, alpha={:.4g}", fit_.name(), fit_.alpha);
    if (fit_.trend != EtsTrend::kNone) s += fmt::format(" beta={:.4g}", fit_.beta);
    if (fit_.trend == EtsTrend::kDamped) s += fmt::format(" phi={:.4g}", fit_.phi);
    s += fmt::format(", AICc {:.2f}", fit_.aicc);
    return s;
  }

 private:
  EtsFit fit_;
  double level_;
};

class EtsModel : public LogScaleModel {
 public:
  std::string name() const override { return "ets"; }
  int complexity() const override { return 2; }
  int min_history() const override { return 7; }
  StatusOr<std::unique_ptr<FittedModel>> FitLog(const std::vector<double>& logy,
                                                const FitOptions& options) const override {
    auto fit = AutoEts(logy);
    if (!fit.ok()) return InvalidArgument("ets: {}", fit.status().message());
    return std::unique_ptr<FittedModel>(
        std::make_unique<EtsFitted>(*std::move(fit), options.interval_width));
  }
};

}  // namespace

std::unique_ptr<Model> MakeEtsModel() { return std::make_unique<EtsModel>(); }

}  // namespace cryptolake::forecast
