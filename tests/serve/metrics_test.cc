// The Prometheus registry: exact exposition text, labels, escaping, callbacks, concurrency.
#include "serve/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace cryptolake::serve {
namespace {

TEST(MetricsTest, RendersCounterGaugeAndHistogramExactly) {
  Metrics m;
  auto& requests = m.AddCounter("app_requests_total", "Requests served.", {"route", "code"});
  m.AddGauge("app_up", "1 when up.").WithLabels({}).Set(1);
  auto& latency = m.AddHistogram("app_latency_seconds", "Latency.", {0.1, 0.5, 1}, {"route"});
  requests.WithLabels({"/b", "200"}).Inc();
  requests.WithLabels({"/a", "404"}).Inc(2);
  requests.WithLabels({"/b", "200"}).Inc();
  latency.WithLabels({"/a"}).Observe(0.25);
  latency.WithLabels({"/a"}).Observe(2);

  EXPECT_EQ(m.Render(),
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{route=\"/a\",code=\"404\"} 2\n"
            "app_requests_total{route=\"/b\",code=\"200\"} 2\n"
            "# HELP app_up 1 when up.\n"
            "# TYPE app_up gauge\n"
            "app_up 1\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 0\n"
            "app_latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 1\n"
            "app_latency_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"
            "app_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"
            "app_latency_seconds_sum{route=\"/a\"} 2.25\n"
            "app_latency_seconds_count{route=\"/a\"} 2\n");
}

TEST(MetricsTest, UnlabeledFamiliesRenderZeroAndLabeledEmptyOnesNothing) {
  Metrics m;
  m.AddCounter("c_total", "C.");
  m.AddCounter("labeled_total", "L.", {"x"});
  m.AddHistogram("h_seconds", "H.", {1});
  EXPECT_EQ(m.Render(),
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total 0\n"
            "# HELP h_seconds H.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 0\n"
            "h_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\n"
            "h_seconds_count 0\n");
}

TEST(MetricsTest, HistogramBoundIsInclusiveAndLatencyBucketsAreSorted) {
  Histogram h({0.5, 1});
  h.Observe(0.5);  // le="0.5" includes 0.5
  h.Observe(1.5);
  EXPECT_EQ(h.BucketCounts(), (std::vector<uint64_t>{1, 0, 1}));
  EXPECT_EQ(h.Count(), 2u);
  EXPECT_EQ(h.Sum(), 2.0);
  std::vector<double> b = Histogram::LatencyBuckets();
  EXPECT_EQ(b.front(), 0.0005);
  EXPECT_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.AddGauge("g", "line1\nback\\slash", {"path"}).WithLabels({"a\"b\\c\nd"}).Set(-1.5);
  EXPECT_EQ(m.Render(),
            "# HELP g line1\\nback\\\\slash\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\"b\\\\c\\nd\"} -1.5\n");
}

TEST(MetricsTest, GaugeCallbackIsEvaluatedAtScrape) {
  Metrics m;
  double v = 3;
  Gauge& g = m.AddGauge("queue_depth", "Depth.").WithLabels({});
  g.Set(7);
  g.SetCallback([&v] { return v; });
  EXPECT_EQ(m.Render(), "# HELP queue_depth Depth.\n# TYPE queue_depth gauge\nqueue_depth 3\n");
  v = 4;
  EXPECT_EQ(g.Value(), 4);
  g.SetCallback(nullptr);
  EXPECT_EQ(g.Value(), 7);
}

TEST(MetricsTest, ReRegistrationReturnsTheSameFamilyAndStableReferences) {
  Metrics m;
  auto& a = m.AddCounter("x_total", "X.", {"k"});
  Counter& c1 = a.WithLabels({"v"});
  for (int i = 0; i < 100; ++i) a.WithLabels({std::to_string(i)});  // grows the map
  EXPECT_EQ(&m.AddCounter("x_total", "X.", {"k"}), &a);
  EXPECT_EQ(&a.WithLabels({"v"}), &c1);
  EXPECT_THROW(m.AddGauge("x_total", "X.", {"k"}), std::invalid_argument);
  EXPECT_THROW(m.AddCounter("x_total", "X.", {"other"}), std::invalid_argument);
  EXPECT_THROW(a.WithLabels({"v", "w"}), std::invalid_argument);
  EXPECT_THROW(m.AddCounter("bad-name", "B."), std::invalid_argument);
  EXPECT_THROW(m.AddHistogram("h", "H.", {1}, {"le"}), std::invalid_argument);
  EXPECT_THROW(m.AddHistogram("h2", "H.", {2, 1}), std::invalid_argument);
}

TEST(MetricsTest, CounterIgnoresNegativeIncrements) {
  Counter c;
  c.Inc(2);
  c.Inc(-1);
  EXPECT_EQ(c.Value(), 2);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  auto& f = m.AddCounter("n_total", "N.", {"t"});
  auto& h = m.AddHistogram("d_seconds", "D.", {1}).WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        f.WithLabels({std::to_string(t % 2)}).Inc();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.WithLabels({"0"}).Value(), 20000);
  EXPECT_EQ(f.WithLabels({"1"}).Value(), 20000);
  EXPECT_EQ(h.Count(), 40000u);
  EXPECT_EQ(h.Sum(), 20000);
}

}  // namespace
}  // namespace cryptolake::serve
