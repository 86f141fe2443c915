#include "forecast/theta.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <random>

#include "forecast/nelder_mead.h"

namespace cryptolake::forecast {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kNA = -99999.0;
constexpr double kTol = 1e-10;

using Row = std::array<double, 5>;  // level, mean, A, B, mu

bool Dynamic(ThetaType t) { return t == ThetaType::kDSTM || t == ThetaType::kDOTM; }
bool OptimizesTheta(ThetaType t) { return t == ThetaType::kOTM || t == ThetaType::kDOTM; }

// statsforecast's init_state.
Row InitState(std::span<const double> y, ThetaType type, double ell0, double alpha, double theta) {
  double a, b, mu;
  if (Dynamic(type)) {
    a = y[0];
    b = 0.0;
    mu = y[0];
  } else {
    const size_t n = y.size();
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < n; ++i) {
      sum += y[i];
      wsum += y[i] * static_cast<double>(i + 1);
    }
    const double y_mean = sum / static_cast<double>(n);
    const double weighted_avg = wsum / static_cast<double>(n);
    b = (6 * (2 * weighted_avg - static_cast<double>(n + 1) * y_mean)) /
        static_cast<double>(n * n - 1);
    a = y_mean - static_cast<double>(n + 1) * b / 2;
    mu = ell0 + (1 - 1 / theta) * (a + b);
  }
  return {alpha * y[0] + (1 - alpha) * ell0, y[0], a, b, mu};
}

// statsforecast's update: row i from row i - 1 (`prev`); y_i = mu_i if use_mu.
Row Update(const Row& prev, size_t i, ThetaType type, double alpha, double theta, double y,
           bool use_mu) {
  const double level = prev[0], meany = prev[1], an = prev[2], bn = prev[3];
  const double di = static_cast<double>(i);
  Row r;
  r[4] = level + (1 - 1 / theta) * (an * std::pow(1 - alpha, di) +
                                    bn * (1 - std::pow(1 - alpha, di + 1)) / alpha);
  if (use_mu) y = r[4];
  r[0] = alpha * y + (1 - alpha) * level;
  r[1] = (di * meany + y) / (di + 1);
  if (Dynamic(type)) {
    r[3] = ((di - 1) * bn + 6 * (y - meany) / (di + 1)) / (di + 2);
    r[2] = r[1] - r[3] * (di + 2) / 2;
  } else {
    r[2] = an;
    r[3] = bn;
  }
  return r;
}

// statsforecast's calc: the residuals, the last row, and sum_{i>=3} e_i^2 / mean|y| (kNA if a
// forecast is the NA marker).
double Calc(std::span<const double> y, ThetaType type, double ell0, double alpha, double theta,
            std::vector<double>* e, Row* last) {
  Row row = InitState(y, type, ell0, alpha, theta);
  double err = y[0] - row[4];
  if (e != nullptr) (*e)[0] = err;
  double sse = 0;
  const size_t n = y.size();
  for (size_t i = 1; i < n; ++i) {
    Row next = Update(row, i, type, alpha, theta, y[i], false);
    if (std::abs(next[4] - kNA) < kTol) return kNA;
    err = y[i] - next[4];
    if (e != nullptr) (*e)[i] = err;
    if (i >= 3) sse += err * err;
    row = next;
  }
  if (last != nullptr) *last = row;
  double mean_abs = 0;
  for (double v : y) mean_abs += std::abs(v);
  mean_abs /= static_cast<double>(n);
  if (mean_abs < kTol) mean_abs = kTol;
  return sse / mean_abs;
}

Status CheckValues(std::span<const double> y) {
  if (y.size() < 4) return InvalidArgument("Theta: {} values, at least 4 are needed", y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      return InvalidArgument("Theta: y is not finite at index {}: {}", i, y[i]);
    }
  }
  return Status::Ok();
}

double Quantile(std::vector<double>& v, double q) {  // numpy's linear method; sorts v
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

}  // namespace

std::string ThetaTypeName(ThetaType t) {
  switch (t) {
    case ThetaType::kSTM:
      return "STM";
    case ThetaType::kOTM:
      return "OTM";
    case ThetaType::kDSTM:
      return "DSTM";
    case ThetaType::kDOTM:
      return "DOTM";
  }
  return "?";
}

StatusOr<ThetaFit> EvaluateTheta(std::span<const double> y, ThetaType type, double initial_smoothed,
                                 double alpha, double theta) {
  RETURN_IF_ERROR(CheckValues(y));
  ThetaFit fit;
  fit.type = type;
  fit.initial_smoothed = initial_smoothed;
  fit.alpha = alpha;
  fit.theta = theta;
  fit.n = static_cast<int>(y.size());
  fit.residuals.assign(y.size(), 0.0);
  double mse = Calc(y, type, initial_smoothed, alpha, theta, &fit.residuals, &fit.last);
  if (std::abs(mse - kNA) < 1e-7) mse = kNaN;
  fit.mse = mse;
  return fit;
}

StatusOr<ThetaFit> FitTheta(std::span<const double> y, ThetaType type) {
  RETURN_IF_ERROR(CheckValues(y));
  const bool opt_theta = OptimizesTheta(type);
  std::vector<double> x0 = {y[0] / 2, 0.5}, lo = {-1e10, 0.1}, hi = {1e10, 0.99};
  if (opt_theta) {
    x0.push_back(2.0);
    lo.push_back(1.0);
    hi.push_back(1e10);
  }
  auto objective = [&](std::span<const double> p) {
    double v = Calc(y, type, p[0], p[1], opt_theta ? p[2] : 2.0, nullptr, nullptr);
    v = std::max(v, -1e10);
    if (std::isnan(v) || std::abs(v + 99999) < 1e-7) v = -kInf;
    return v;
  };
  NelderMeadResult r = NelderMead(objective, x0, lo, hi);
  ASSIGN_OR_RETURN(ThetaFit fit, EvaluateTheta(y, type, r.x[0], r.x[1], opt_theta ? r.x[2] : 2.0));
  fit.iterations = r.iterations;
  return fit;
}

StatusOr<ThetaFit> AutoTheta(std::span<const double> y) {
  RETURN_IF_ERROR(CheckValues(y));
  std::optional<ThetaFit> best;
  double best_ic = kInf;
  for (ThetaType t : {ThetaType::kSTM, ThetaType::kOTM, ThetaType::kDSTM, ThetaType::kDOTM}) {
    ASSIGN_OR_RETURN(ThetaFit fit, FitTheta(y, t));
    if (!std::isnan(fit.mse) && fit.mse < best_ic) {
      best_ic = fit.mse;
      best = std::move(fit);
    }
  }
  if (!best) return InvalidArgument("Theta: no model could be fitted to {} values", y.size());
  return *std::move(best);
}

std::vector<double> ForecastTheta(const ThetaFit& fit, int h) {
  std::vector<double> f;
  Row row = fit.last;
  for (int j = 0; j < h; ++j) {
    row = Update(row, static_cast<size_t>(fit.n + j), fit.type, fit.alpha, fit.theta, 0.0, true);
    f.push_back(row[4]);
  }
  return f;
}

ThetaInterval ThetaSampleInterval(const ThetaFit& fit, int h, double level, uint64_t seed,
                                  int samples) {
  // s: the sample standard deviation of the residuals after the first 3 (all if too few).
  std::span<const double> res(fit.residuals);
  if (res.size() >= 5) res = res.subspan(3);
  double mean = 0;
  for (double r : res) mean += r;
  mean /= static_cast<double>(res.size());
  double ss = 0;
  for (double r : res) ss += (r - mean) * (r - mean);
  const double sigma = std::sqrt(ss / static_cast<double>(res.size() - 1));

  std::mt19937_64 rng(seed);
  auto normal = [&] {  // Box-Muller on 53-bit uniforms in (0, 1]
    double u1 = (static_cast<double>(rng() >> 11) + 1) * 0x1.0p-53;
    double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
  };
  const size_t m = static_cast<size_t>(samples);
  std::vector<double> smoothed(m, fit.last[0]), a(m, fit.last[2]), b(m, fit.last[3]);
  std::vector<double> mean_y(m, fit.last[1]);
  ThetaInterval out;
  std::vector<double> column(m);
  const double alpha = fit.alpha, theta = fit.theta;
  for (int j = 0; j < h; ++j) {
    const double i = static_cast<double>(fit.n + j);
    for (size_t k = 0; k < m; ++k) {
      double s = smoothed[k] + (1 - 1 / theta) * (a[k] * std::pow(1 - alpha, i) +
                                                  b[k] * (1 - std::pow(1 - alpha, i + 1)) / alpha);
      s += sigma * normal();
      column[k] = s;
      smoothed[k] = alpha * s + (1 - alpha) * smoothed[k];
      mean_y[k] = (i * mean_y[k] + s) / (i + 1);
      b[k] = ((i - 1) * b[k] + 6 * (s - mean_y[k]) / (i + 1)) / (i + 2);
      a[k] = mean_y[k] - b[k] * (i + 2) / 2;
    }
    const double q = (1 - level) / 2;
    out.lower.push_back(Quantile(column, q));
    out.upper.push_back(Quantile(column, 1 - q));
  }
  return out;
}

namespace {

class ThetaFitted : public LogScaleFitted {
 public:
  ThetaFitted(ThetaFit fit, double level, uint64_t seed)
      : fit_(std::move(fit)), level_(level), seed_(seed) {}
  LogPath PredictLog(int h) const override {
    ThetaInterval band = ThetaSampleInterval(fit_, h, level_, seed_);
    return {ForecastTheta(fit_, h), std::move(band.lower), std::move(band.upper)};
  }
  std::string Describe() const override {
    return fmt::format("Theta {} on log y, alpha={:.4g} theta={:.4g}, in-sample MSE/mean {:.4g}",
                       fit_.name(), fit_.alpha, fit_.theta, fit_.mse);
  }

 private:
  ThetaFit fit_;
  double level_;
  uint64_t seed_;
};

class ThetaModel : public LogScaleModel {
 public:
  std::string name() const override { return "theta"; }
  int complexity() const override { return 3; }
  int min_history() const override { return 4; }
  StatusOr<std::unique_ptr<FittedModel>> FitLog(const std::vector<double>& logy,
                                                const FitOptions& options) const override {
    auto fit = AutoTheta(logy);
    if (!fit.ok()) return InvalidArgument("theta: {}", fit.status().message());
    return std::unique_ptr<FittedModel>(
        std::make_unique<ThetaFitted>(*std::move(fit), options.interval_width, options.seed));
  }
};

}  // namespace

std::unique_ptr<Model> MakeThetaModel() { return std::make_unique<ThetaModel>(); }

}  // namespace cryptolake::forecast
