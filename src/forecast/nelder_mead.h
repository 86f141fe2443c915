// The bounded Nelder-Mead minimizer of statsforecast 2.1.1 (include/statsforecast/nelder_mead.h,
// Apache-2.0), which its ETS and Theta fits use; reimplemented step for step so that the native
// AutoETS and AutoTheta (forecast/ets.h, forecast/theta.h) reach the same optima.
//
// The simplex starts at x0 clamped to [lower, upper], plus n points that each move one coordinate
// to x0_i * (1 + init_step) (or zero_pert if x0_i is 0), clamped. Coefficients are the adaptive
// ones (Gao and Han, 2012) with the reflection kept at 1: expansion 1 + 2/n, contraction
// 0.75 - 1/(2n), shrink 1 - 1/n. Each step orders the values, stops when their population
// standard deviation is below tol_std, then tries reflection, expansion, outside contraction (if
// the reflected value lies between the second worst and the worst) or inside contraction (if it
// is no better than the worst), and shrinks towards the best point if those fail. Every trial
// point is clamped to the bounds (which may be infinite). At most max_iter iterations.
// Thread-safety: stateless; the objective is called on the caller's thread only.
#pragma once

#include <functional>
#include <span>
#include <vector>

namespace cryptolake::forecast {

struct NelderMeadOptions {
  double init_step = 0.05;
  double zero_pert = 1e-4;
  double tol_std = 1e-4;
  int max_iter = 1000;
};

struct NelderMeadResult {
  std::vector<double> x;  // the best vertex
  double value = 0;       // the objective there
  int iterations = 0;     // as statsforecast counts them (the last loop index + 1)
};

using Objective = std::function<double(std::span<const double>)>;
// The objective at several points at once: values[k] = f(points[k]). With it, each step evaluates
// its candidate points (reflection, expansion and both contractions) in one call, before it knows
// which it needs: the path is the same as one point at a time (as with an Objective, which is
// called only for the points a step needs), and an objective whose cost is a serial recursion
// runs the independent points side by side.
using BatchObjective = std::function<void(std::span<const std::vector<double>* const> points,
                                          std::span<double> values)>;

// Minimizes f from x0 within [lower, upper] (all three of one size n >= 1).
NelderMeadResult NelderMead(const Objective& f, std::span<const double> x0,
                            std::span<const double> lower, std::span<const double> upper,
                            const NelderMeadOptions& options = {});
NelderMeadResult NelderMead(const BatchObjective& f, std::span<const double> x0,
                            std::span<const double> lower, std::span<const double> upper,
                            const NelderMeadOptions& options = {});

}  // namespace cryptolake::forecast
