// The optimizer of the native ARIMA fit (forecast/arima.h), internal to src/forecast: BFGS as
// scipy.optimize.minimize(method="BFGS", tol=1e-8, options={"maxiter": 100}) runs it when
// statsforecast fits an ARIMA, so that the fits follow the same path:
//   - forward-difference gradients with absolute step sqrt(eps), initial inverse Hessian I;
//   - the line search is scipy's line_search_wolfe1 (MINPACK-2's dcsrch, More and Thuente, as
//     scipy's _dcsrch.py, 100 iterations in all) and, if it does not converge, scipy's
//     scalar_search_wolfe2 with its zoom (strong Wolfe, c1 1e-4, c2 0.9).
// With a batch objective, a gradient's k points x + h e_i (preceded by x where f(x) is not yet
// known) are evaluated in one call, in the order they would be one at a time; the batch must
// return exactly what the single-point objective returns for each point. The path, and so the
// result, is then bit for bit that of the single-point objective; an objective whose cost is a
// serial recursion can run the independent points side by side.
// Thread-safety: a call owns its state; the objectives are called from the calling thread only.
#pragma once

#include <functional>
#include <limits>
#include <span>
#include <vector>

namespace cryptolake::forecast::arima_internal {

struct BfgsResult {
  std::vector<double> x;
  double fun = std::numeric_limits<double>::quiet_NaN();
  int status = 0;  // 0 converged, 1 iteration limit, 2 line search failed (precision loss)
};

using BfgsFn = std::function<double(const std::vector<double>&)>;
// values[k] = f(*points[k]), the points evaluated as if one at a time in their order.
using BfgsBatchFn = std::function<void(std::span<const std::vector<double>* const> points,
                                       std::span<double> values)>;

// Minimizes f from x0: stops when the gradient's largest component is <= gtol (status 0), after
// maxiter iterations (status 1), or when the line search fails or f is not finite (status 2).
// `batch` (may be empty) evaluates the gradients' points.
BfgsResult MinimizeBfgs(BfgsFn f, BfgsBatchFn batch, std::vector<double> x0, double gtol = 1e-8,
                        int maxiter = 100);

}  // namespace cryptolake::forecast::arima_internal
