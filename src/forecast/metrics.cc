// The accuracy metrics of forecast/evaluate.h ("Metrics"): Prophet's performance_metrics per
// horizon, MASE against the in-sample naive error, and the MAE relative to a reference model.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "forecast/evaluate.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  double hi = v[mid];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + mid);
  return (lo + hi) / 2;
}

double NaiveScale(const std::vector<double>& y, size_t n) {
  n = std::min(n, y.size());
  if (n < 2) return kNaN;
  double s = 0;
  for (size_t t = 1; t < n; ++t) s += std::abs(y[t] - y[t - 1]);
  return s / static_cast<double>(n - 1);
}

Metrics ComputeMetrics(const std::vector<Point>& points, int horizon_days) {
  Metrics m;
  m.horizon_days = horizon_days;
  m.n = static_cast<int64_t>(points.size());
  if (points.empty()) {
    m.mse = m.rmse = m.mae = m.mape = m.mdape = m.smape = m.coverage = m.mase = kNaN;
    m.rel_mae = kNaN;
    return m;
  }
  double se = 0, ae = 0, sm = 0, cov = 0, sc = 0;
  bool zero_y = false, no_bounds = false;
  std::vector<double> ape;
  ape.reserve(points.size());
  for (const Point& p : points) {
    double e = p.yhat - p.y;
    se += e * e;
    ae += std::abs(e);
    double den = std::abs(p.y) + std::abs(p.yhat);
    sm += den == 0 ? 0 : 2 * std::abs(e) / den;
    if (std::isnan(p.yhat_lower) || std::isnan(p.yhat_upper)) no_bounds = true;
    cov += (p.y >= p.yhat_lower && p.y <= p.yhat_upper) ? 1 : 0;
    sc += (p.scale > 0) ? std::abs(e) / p.scale : kNaN;
    if (std::abs(p.y) < 1e-8) zero_y = true;
    ape.push_back(std::abs(p.y) < 1e-8 ? kNaN : std::abs(e / p.y));
  }
  double n = static_cast<double>(points.size());
  m.mse = se / n;
  m.rmse = std::sqrt(m.mse);
  m.mae = ae / n;
  m.smape = sm / n;
  m.coverage = no_bounds ? kNaN : cov / n;
  m.mase = sc / n;
  m.rel_mae = kNaN;
  if (zero_y) {
    m.mape = m.mdape = kNaN;
  } else {
    double s = 0;
    for (double x : ape) s += x;
    m.mape = s / n;
    m.mdape = Median(std::move(ape));
  }
  return m;
}

std::vector<Metrics> PerformanceMetrics(const std::vector<Point>& points) {
  std::map<int, std::vector<Point>> by_h;
  for (const Point& p : points) by_h[p.horizon_days()].push_back(p);
  std::vector<Metrics> out;
  for (const auto& [h, pts] : by_h) out.push_back(ComputeMetrics(pts, h));
  out.push_back(ComputeMetrics(points, 0));
  return out;
}

void SetRelativeMae(std::vector<ModelResult>& models, std::string_view reference) {
  const ModelResult* ref = nullptr;
  for (const auto& m : models) {
    if (m.name == reference) ref = &m;
  }
  for (auto& m : models) {
    for (auto& row : m.metrics) {
      row.rel_mae = kNaN;
      if (!ref) continue;
      for (const auto& r : ref->metrics) {
        if (r.horizon_days == row.horizon_days && r.mae > 0) row.rel_mae = row.mae / r.mae;
      }
    }
  }
}

}  // namespace cryptolake::forecast
