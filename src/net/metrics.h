// A small Prometheus registry: counters, gauges and histograms, each in a family with a fixed
// set of label names, rendered in the text exposition format 0.0.4.
//
// Contract:
//  * Metrics owns its families; a family owns its series. References returned by AddCounter /
//    AddGauge / AddHistogram and by Family::WithLabels stay valid for the registry's lifetime,
//    so hot paths look a series up once and keep the reference.
//  * Every method of every class here is thread-safe. Updating a series (Inc, Set, Observe) is
//    lock-free (atomics); WithLabels and Render take the family's mutex.
//  * Registering a name again with the same type, label names (and buckets) returns the existing
//    family; with anything different it is a programmer error and throws std::invalid_argument,
//    as do an invalid metric or label name, "le" as a histogram label, unsorted buckets and a
//    WithLabels call with the wrong number of values.
//  * Render(): families in registration order, each "# HELP", "# TYPE" then its series sorted by
//    label values; a family with labels and no series yet is omitted. Label values are escaped
//    (\\, \", \n), HELP text too (\\, \n). Numbers print in the shortest form that reads back
//    exactly ("1", "0.0005", "2.25"), infinities as "+Inf"/"-Inf". A histogram prints cumulative
//    _bucket{...,le="<bound>"} lines, le="+Inf", then _sum and _count (_count equals the +Inf
//    bucket, even while observations race with the scrape).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cryptolake::net {

// The Content-Type of Metrics::Render()'s output.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
 public:
  // Adds v; negative or NaN increments are ignored (a counter only goes up).
  void Inc(double v = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1);
  void Dec(double v = 1) { Inc(-v); }
  // From now on Value() (and so every scrape) returns fn(), evaluated at the scrape on the
  // scraping thread; an empty fn goes back to the stored value. fn must be thread-safe and must
  // not call into the registry that owns this gauge.
  void SetCallback(std::function<double()> fn);
  double Value() const;

 private:
  std::atomic<double> value_{0};
  std::atomic<bool> has_callback_{false};
  mutable std::mutex mu_;
  std::function<double()> callback_;  // guarded by mu_
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing and finite (+Inf is implicit).
  explicit Histogram(std::vector<double> bounds);
  // Counts v in the first bucket whose bound is >= v (Prometheus's "le"); NaN is ignored.
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, bounds().size() + 1 of them (the last is +Inf).
  std::vector<uint64_t> BucketCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t Count() const;

  // 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 (seconds).
  static std::vector<double> LatencyBuckets();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// The families' common part, for the registry's rendering.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  friend class Metrics;
  virtual const char* type() const = 0;
  virtual void Render(std::string& out) const = 0;
  std::string name_, help_;
  std::vector<std::string> label_names_;
};

// All series of one metric name. M is Counter, Gauge or Histogram.
template <typename M>
class Family final : public FamilyBase {
 public:
  // The series with these label values (in the order of the family's label names), created at
  // zero on first use. Throws std::invalid_argument if values.size() != label_names().size().
  M& WithLabels(const std::vector<std::string>& values);

 private:
  friend class Metrics;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds);
  const char* type() const override;
  void Render(std::string& out) const override;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;  // guarded by mu_
};

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A family without labels has its one series ({} label values) from the start, so it renders
  // 0 before any update.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});

  // The whole registry in the text exposition format 0.0.4 (see the top of this file).
  std::string Render() const;

 private:
  template <typename M>
  Family<M>& Add(const std::string& name, const std::string& help,
                 std::vector<std::string> label_names, std::vector<double> bounds);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;  // guarded by mu_, registration order
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace cryptolake::net
