#include "forecast/nelder_mead.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cryptolake::forecast {

namespace {

void Clamp(std::vector<double>& x, std::span<const double> lower, std::span<const double> upper) {
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::min(std::max(x[i], lower[i]), upper[i]);
}

double PopulationStd(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size()));
}

}  // namespace

namespace {

// One implementation for both: `f` evaluates batches; a step's trial points go to it together
// if `eager`, else one at a time as the step needs them (a scalar objective: no wasted work).
NelderMeadResult Minimize(const BatchObjective& f, bool eager, std::span<const double> x0,
                          std::span<const double> lower, std::span<const double> upper,
                          const NelderMeadOptions& options) {
  const size_t n = x0.size();
  const double nd = static_cast<double>(n);
  const double alpha = 1.0;                  // reflection
  const double gamma = 1.0 + 2.0 / nd;       // expansion
  const double rho = 0.75 - 1.0 / (2 * nd);  // contraction
  const double sigma = 1.0 - 1.0 / nd;       // shrink

  std::vector<double> start(x0.begin(), x0.end());
  Clamp(start, lower, upper);
  std::vector<std::vector<double>> simplex(n + 1, start);
  for (size_t i = 0; i < n; ++i) {
    double v = simplex[i][i];
    v = v == 0 ? options.zero_pert : v * (1.0 + options.init_step);
    simplex[i][i] = std::clamp(v, lower[i], upper[i]);
  }
  std::vector<double> fs(n + 1);
  std::vector<const std::vector<double>*> batch;
  for (size_t i = 0; i <= n; ++i) batch.push_back(&simplex[i]);
  f(batch, fs);

  std::vector<size_t> order(n + 1);
  std::vector<double> xo(n), xr(n), xe(n), xoc(n), xic(n);
  const std::vector<const std::vector<double>*> trials = {&xr, &xe, &xoc, &xic};
  double ft[4];
  size_t best = 0;
  int it = 0;
  for (; it < options.max_iter; ++it) {
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return fs[a] < fs[b]; });
    best = order[0];
    const size_t worst = order[n];
    const size_t second_worst = order[n - 1];
    if (PopulationStd(fs) < options.tol_std) break;

    // Centroid of all vertices but the worst, then every point this step may try.
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t i = 0; i <= n; ++i) s += simplex[i][j];
      xo[j] = (s - simplex[worst][j]) / nd;
    }
    for (size_t j = 0; j < n; ++j) xr[j] = xo[j] + alpha * (xo[j] - simplex[worst][j]);
    Clamp(xr, lower, upper);
    for (size_t j = 0; j < n; ++j) {
      xe[j] = xo[j] + gamma * (xr[j] - xo[j]);
      xoc[j] = xo[j] + rho * (xr[j] - xo[j]);
      xic[j] = xo[j] - rho * (xr[j] - xo[j]);
    }
    Clamp(xe, lower, upper);
    Clamp(xoc, lower, upper);
    Clamp(xic, lower, upper);
    if (eager) {
      f(trials, ft);
    } else {
      f(std::span(trials).first(1), std::span(ft, 1));
    }
    // The value of trial k (1 expansion, 2 outside, 3 inside contraction), evaluated if lazy.
    auto value = [&](size_t k) {
      if (!eager) f(std::span(trials).subspan(k, 1), std::span(ft + k, 1));
      return ft[k];
    };
    const double fr = ft[0];
    if (fs[best] <= fr && fr < fs[second_worst]) {  // reflection
      simplex[worst] = xr;
      fs[worst] = fr;
      continue;
    }
    if (fr < fs[best]) {  // expansion
      const double fe = value(1);
      if (fe < fr) {
        simplex[worst] = xe;
        fs[worst] = fe;
      } else {
        simplex[worst] = xr;
        fs[worst] = fr;
      }
      continue;
    }
    if (fs[second_worst] <= fr && fr < fs[worst]) {  // outside contraction
      const double foc = value(2);
      if (foc <= fr) {
        simplex[worst] = xoc;
        fs[worst] = foc;
        continue;
      }
    } else {  // inside contraction
      const double fic = value(3);
      if (fic < fs[worst]) {
        simplex[worst] = xic;
        fs[worst] = fic;
        continue;
      }
    }
    // Shrink towards the best vertex.
    batch.clear();
    std::vector<size_t> moved;
    for (size_t i = 0; i <= n; ++i) {
      if (i == best) continue;
      for (size_t j = 0; j < n; ++j) {
        simplex[i][j] = simplex[best][j] + sigma * (simplex[i][j] - simplex[best][j]);
      }
      Clamp(simplex[i], lower, upper);
      batch.push_back(&simplex[i]);
      moved.push_back(i);
    }
    std::vector<double> values(moved.size());
    f(batch, values);
    for (size_t k = 0; k < moved.size(); ++k) fs[moved[k]] = values[k];
  }
  return {simplex[best], fs[best], it + 1};
}

}  // namespace

NelderMeadResult NelderMead(const Objective& f, std::span<const double> x0,
                            std::span<const double> lower, std::span<const double> upper,
                            const NelderMeadOptions& options) {
  BatchObjective batch = [&](std::span<const std::vector<double>* const> points,
                             std::span<double> values) {
    for (size_t k = 0; k < points.size(); ++k) values[k] = f(*points[k]);
  };
  return Minimize(batch, /*eager=*/false, x0, lower, upper, options);
}

NelderMeadResult NelderMead(const BatchObjective& f, std::span<const double> x0,
                            std::span<const double> lower, std::span<const double> upper,
                            const NelderMeadOptions& options) {
  return Minimize(f, /*eager=*/true, x0, lower, upper, options);
}

}  // namespace cryptolake::forecast
