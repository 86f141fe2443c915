// The bounded Nelder-Mead of statsforecast (forecast/nelder_mead.h): minima it must find, the
// bounds it must keep, the iteration counts of its path (pinned: a change to a coefficient or a
// step's order changes them), and the batch objective following the same path.
#include "forecast/nelder_mead.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cryptolake::forecast {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double Quadratic(std::span<const double> x) {
  return (x[0] - 1) * (x[0] - 1) + 4 * (x[1] + 2) * (x[1] + 2) + 3;
}

double Rosenbrock(std::span<const double> x) {
  return 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]) + (1 - x[0]) * (1 - x[0]);
}

// The single-point objective as a batch one (each point in its order).
BatchObjective AsBatch(Objective f, int* calls) {
  return [f, calls](std::span<const std::vector<double>* const> points, std::span<double> values) {
    ++*calls;
    for (size_t k = 0; k < points.size(); ++k) values[k] = f(*points[k]);
  };
}

TEST(NelderMeadTest, FindsTheQuadraticsMinimum) {
  const std::vector<double> x0 = {0, 0}, lo = {-kInf, -kInf}, hi = {kInf, kInf};
  NelderMeadOptions o;
  o.tol_std = 1e-12;
  NelderMeadResult r = NelderMead(Objective(Quadratic), x0, lo, hi, o);
  ASSERT_EQ(r.x.size(), 2u);
  EXPECT_NEAR(r.x[0], 1, 1e-5);
  EXPECT_NEAR(r.x[1], -2, 1e-5);
  EXPECT_NEAR(r.value, 3, 1e-11);
  EXPECT_EQ(r.value, Quadratic(r.x));
  EXPECT_EQ(r.iterations, 86);
}

TEST(NelderMeadTest, FindsRosenbrocksMinimumFromTheClassicStart) {
  const std::vector<double> x0 = {-1.2, 1}, lo = {-kInf, -kInf}, hi = {kInf, kInf};
  NelderMeadOptions o;
  o.tol_std = 1e-14;
  o.max_iter = 5000;
  NelderMeadResult r = NelderMead(Objective(Rosenbrock), x0, lo, hi, o);
  EXPECT_NEAR(r.x[0], 1, 1e-4);
  EXPECT_NEAR(r.x[1], 1, 1e-4);
  EXPECT_LT(r.value, 1e-8);
  EXPECT_EQ(r.iterations, 103);
}

TEST(NelderMeadTest, StopsAtTheIterationLimit) {
  const std::vector<double> x0 = {-1.2, 1}, lo = {-kInf, -kInf}, hi = {kInf, kInf};
  NelderMeadOptions o;
  o.tol_std = 0;
  o.max_iter = 25;
  NelderMeadResult r = NelderMead(Objective(Rosenbrock), x0, lo, hi, o);
  // statsforecast's count, the last loop index + 1: max_iter + 1 when the limit stops it.
  EXPECT_EQ(r.iterations, 26);
  EXPECT_GT(r.value, 1e-3);  // far from the minimum after 25 steps
  EXPECT_LT(r.value, Rosenbrock(x0));
}

TEST(NelderMeadTest, KeepsEveryPointInsideTheBounds) {
  // The unconstrained minimum (1, -2) is outside: x0 <= 0.5, x1 >= -1. The constrained one is the
  // corner (0.5, -1).
  std::vector<std::vector<double>> asked;
  Objective f = [&](std::span<const double> x) {
    asked.emplace_back(x.begin(), x.end());
    return Quadratic(x);
  };
  const std::vector<double> x0 = {0, 0}, lo = {-1, -1}, hi = {0.5, 1};
  NelderMeadOptions o;
  o.tol_std = 1e-12;
  NelderMeadResult r = NelderMead(f, x0, lo, hi, o);
  EXPECT_EQ(r.x, (std::vector<double>{0.5, -1}));
  EXPECT_EQ(r.value, 0.25 + 4 + 3);
  ASSERT_FALSE(asked.empty());
  for (const auto& x : asked) {
    EXPECT_GE(x[0], -1);
    EXPECT_LE(x[0], 0.5);
    EXPECT_GE(x[1], -1);
    EXPECT_LE(x[1], 1);
  }
}

TEST(NelderMeadTest, StartsFromTheClampedStartAndItsSteps) {
  // The first points: x0 clamped with coordinate i moved by init_step (x0_i * 1.05, clamped) or
  // by zero_pert (1e-4) where x0_i is 0, for each i, then x0 clamped itself.
  std::vector<std::vector<double>> asked;
  Objective f = [&](std::span<const double> x) {
    asked.emplace_back(x.begin(), x.end());
    return Quadratic(x);
  };
  const std::vector<double> x0 = {3, 0}, lo = {-10, -10}, hi = {2, 10};
  NelderMeadOptions o;
  o.max_iter = 1;
  NelderMead(f, x0, lo, hi, o);
  ASSERT_GE(asked.size(), 3u);
  EXPECT_EQ(asked[0], (std::vector<double>{2, 0}));  // 2 * 1.05 clamped to 2
  EXPECT_EQ(asked[1], (std::vector<double>{2, 1e-4}));
  EXPECT_EQ(asked[2], (std::vector<double>{2, 0}));
}

TEST(NelderMeadTest, TheBatchObjectiveFollowsTheSamePath) {
  const std::vector<double> x0 = {-1.2, 1}, lo = {-2, -2}, hi = {2, 2};
  NelderMeadOptions o;
  o.tol_std = 1e-10;
  NelderMeadResult one = NelderMead(Objective(Rosenbrock), x0, lo, hi, o);
  int calls = 0;
  NelderMeadResult batch = NelderMead(AsBatch(Rosenbrock, &calls), x0, lo, hi, o);
  EXPECT_EQ(batch.x, one.x);
  EXPECT_EQ(batch.value, one.value);
  EXPECT_EQ(batch.iterations, one.iterations);
  EXPECT_GT(calls, 0);
  // One call for the start, then per step one for its four candidates (and one to shrink), not
  // one per point.
  EXPECT_LE(calls, 2 * batch.iterations + 1);
}

}  // namespace
}  // namespace cryptolake::forecast
