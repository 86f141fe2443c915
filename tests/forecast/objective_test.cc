// Prophet's MAP objective (forecast/objective.h) on a three-day series computed by hand, on each
// of its paths: the Gram path (additive columns only), the explicit residual (a multiplicative
// column) and the logistic trend (its gradient against finite differences); and the
// preconditioner's change of variables.
#include "forecast/objective.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cryptolake::forecast {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// t = 0, 0.5, 1; y = 0, 1, 3; one changepoint at 0.5 (ramp 0, 0, 0.5); one additive column
// (1, 0, -1) with prior variance 100.
const std::vector<double> kChangepoints = {0.5};
VectorXd T() { return VectorXd{{0.0, 0.5, 1.0}}; }
VectorXd Y() { return VectorXd{{0.0, 1.0, 3.0}}; }
MatrixXd B() { return MatrixXd{{0.0}, {0.0}, {0.5}}; }
MatrixXd Xa() { return MatrixXd{{1.0}, {0.0}, {-1.0}}; }
VectorXd InvVarA() { return VectorXd{{0.01}}; }

TEST(ObjectiveTest, AdditiveModelByHand) {
  Objective o(T(), Y(), kChangepoints, B(), Xa(), MatrixXd(3, 0), InvVarA(), VectorXd(0));
  ASSERT_EQ(o.size(), 5);  // k, m, delta, u, beta_a
  EXPECT_EQ(o.delta_begin(), 2);
  EXPECT_EQ(o.delta_end(), 3);
  // x = (k 1, m 0.5, delta 2, u 0, beta 0.5): trend (0.5, 1, 2.5), mu (1, 1, 2), residuals
  // (-1, 0, 1), rss 2, sigma 1.
  const std::vector<double> x = {1, 0.5, 2, 0, 0.5};
  std::vector<double> g(5);
  const double f = o.Evaluate(x.data(), g.data());
  // n u + rss / 2 + 2 sigma^2 + (k^2 + m^2) / 50 + beta^2 / (2 * 100)
  EXPECT_NEAR(f, 0 + 1 + 2 + 1.25 / 50 + 0.25 * 0.01 / 2, 1e-12);
  EXPECT_NEAR(g[0], -1 + 1.0 / 25, 1e-12);   // -t.r + k / 25
  EXPECT_NEAR(g[1], 0 + 0.5 / 25, 1e-12);    // -sum r + m / 25
  EXPECT_NEAR(g[2], -0.5, 1e-12);            // -ramp.r
  EXPECT_NEAR(g[3], 3 - 2 + 4, 1e-12);       // n - rss / sigma^2 + 4 sigma^2
  EXPECT_NEAR(g[4], 2 + 0.5 * 0.01, 1e-12);  // -xa.r + beta / 100
}

TEST(ObjectiveTest, MultiplicativeModelByHand) {
  // Plus a multiplicative column (0, 1, 0), prior variance 25: mu = trend (1 + xm bm) + xa ba.
  Objective o(T(), Y(), kChangepoints, B(), Xa(), MatrixXd{{0.0}, {1.0}, {0.0}}, InvVarA(),
              VectorXd{{0.04}});
  ASSERT_EQ(o.size(), 6);
  // bm = 1: mu (1, 2, 2), residuals (-1, -1, 1), rss 3.
  const std::vector<double> x = {1, 0.5, 2, 0, 0.5, 1};
  std::vector<double> g(6);
  const double f = o.Evaluate(x.data(), g.data());
  EXPECT_NEAR(f, 1.5 + 2 + 1.25 / 50 + 0.25 * 0.01 / 2 + 1 * 0.04 / 2, 1e-12);
  // d/dtrend = -(r + r xm bm) = (1, 2, -1)
  EXPECT_NEAR(g[0], 0 * 1 + 0.5 * 2 + 1 * -1 + 1.0 / 25, 1e-12);
  EXPECT_NEAR(g[1], 2 + 0.5 / 25, 1e-12);
  EXPECT_NEAR(g[2], 0.5 * -1, 1e-12);  // the ramp's rows: (1 - 0.5) * -1
  EXPECT_EQ(g[3], 3 - 3 + 4);
  EXPECT_NEAR(g[4], 2 + 0.5 * 0.01, 1e-12);
  EXPECT_NEAR(g[5], 1 + 0.04, 1e-12);  // -xm.(r trend) + bm / 25
}

TEST(ObjectiveTest, TheGramPathEqualsTheExplicitResidual) {
  // A multiplicative column of zeros changes nothing but the path the residual takes.
  Objective gram(T(), Y(), kChangepoints, B(), Xa(), MatrixXd(3, 0), InvVarA(), VectorXd(0));
  Objective expl(T(), Y(), kChangepoints, B(), Xa(), MatrixXd::Zero(3, 1), InvVarA(),
                 VectorXd{{1.0}});
  const std::vector<double> x = {0.3, -0.2, 1.5, -0.7, 2.0}, xe = {0.3, -0.2, 1.5, -0.7, 2.0, 0};
  std::vector<double> g(5), ge(6);
  EXPECT_NEAR(gram.Evaluate(x.data(), g.data()), expl.Evaluate(xe.data(), ge.data()), 1e-10);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(g[i], ge[i], 1e-10) << i;
}

TEST(ObjectiveTest, LogisticGradientMatchesFiniteDifferences) {
  // Cap 4 on every row; y below it.
  Objective o(T(), Y(), kChangepoints, B(), Xa(), MatrixXd(3, 0), InvVarA(), VectorXd(0),
              VectorXd{{4.0, 4.0, 4.0}});
  const std::vector<double> x = {1.5, 0.2, -0.8, -0.3, 0.4};
  std::vector<double> g(5), scratch(5);
  const double f = o.Evaluate(x.data(), g.data());
  // trend_i = cap / (1 + exp(-k_j (t_i - m_j))): segment 0 (t 0) k 1.5, m 0.2; segment 1 from
  // t 0.5 on: k 0.7, m = 0.5 - (0.5 - 0.2) * 1.5 / 0.7.
  const double m1 = 0.5 - 0.3 * 1.5 / 0.7;
  const double tr[3] = {4 / (1 + std::exp(-1.5 * (0 - 0.2))), 4 / (1 + std::exp(-0.7 * (0.5 - m1))),
                        4 / (1 + std::exp(-0.7 * (1 - m1)))};
  const double mu[3] = {tr[0] + 0.4, tr[1], tr[2] - 0.4};
  double rss = 0;
  for (int i = 0; i < 3; ++i) rss += (Y()[i] - mu[i]) * (Y()[i] - mu[i]);
  const double s2 = std::exp(-0.6);
  EXPECT_NEAR(f, 3 * -0.3 + rss / (2 * s2) + 2 * s2 + (1.5 * 1.5 + 0.04) / 50 + 0.16 * 0.01 / 2,
              1e-12);
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> hi = x, lo = x;
    hi[i] += 1e-6;
    lo[i] -= 1e-6;
    const double fd =
        (o.Evaluate(hi.data(), scratch.data()) - o.Evaluate(lo.data(), scratch.data())) / 2e-6;
    EXPECT_NEAR(g[i], fd, 1e-6) << "variable " << i;
  }
}

TEST(ObjectiveTest, PreconditionedVariablesMapBackAndGiveTheSameObjective) {
  Objective o(T(), Y(), kChangepoints, B(), Xa(), MatrixXd(3, 0), InvVarA(), VectorXd(0));
  EXPECT_FALSE(o.preconditioned());
  EXPECT_EQ(o.delta_scale(), 1.0);
  o.Precondition(1, 0.5);
  ASSERT_TRUE(o.preconditioned());
  EXPECT_GT(o.delta_scale(), 0);
  const std::vector<double> x = {1, 0.5, 2, 0, 0.5};
  std::vector<double> z(5), back(5), g(5), gz(5);
  o.ToZ(x.data(), z.data());
  o.ToX(z.data(), back.data());
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(back[i], x[i], 1e-12) << i;
  EXPECT_EQ(z[2], x[2] / o.delta_scale());  // the delta block is only scaled
  EXPECT_NEAR(o.EvaluateZ(z.data(), gz.data()), o.Evaluate(x.data(), g.data()), 1e-12);
  // The gradient in z is P' g: its delta entry is d g_delta + C' g_o.
  std::vector<double> zh = z;
  zh[4] += 1e-6;
  std::vector<double> zl = z;
  zl[4] -= 1e-6;
  std::vector<double> scratch(5);
  EXPECT_NEAR(
      gz[4],
      (o.EvaluateZ(zh.data(), scratch.data()) - o.EvaluateZ(zl.data(), scratch.data())) / 2e-6,
      1e-6);
}

}  // namespace
}  // namespace cryptolake::forecast
