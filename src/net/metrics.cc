#include "net/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>
#include <type_traits>

namespace cryptolake::net {

namespace {

void AtomicAdd(std::atomic<double>& a, double v) { a.fetch_add(v, std::memory_order_relaxed); }

bool ValidName(const std::string& s, bool colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace (histograms append le), or "" without labels.
std::string LabelPrefix(const std::vector<std::string>& names,
                        const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? '{' : ',';
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], true);
    out += '"';
  }
  return out;
}

void AppendSample(std::string& out, const std::string& name, std::string_view suffix,
                  const std::string& labels, double v) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += labels;
    out += '}';
  }
  out += ' ';
  AppendNumber(out, v);
  out += '\n';
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Series

void Counter::Inc(double v) {
  if (!(v >= 0)) return;
  AtomicAdd(value_, v);
}

void Gauge::Inc(double v) { AtomicAdd(value_, v); }

void Gauge::SetCallback(std::function<double()> fn) {
  std::lock_guard<std::mutex> l(mu_);
  has_callback_.store(static_cast<bool>(fn));
  callback_ = std::move(fn);
}

double Gauge::Value() const {
  if (has_callback_.load()) {
    std::lock_guard<std::mutex> l(mu_);
    if (callback_) return callback_();
  }
  return value_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i] > bounds_[i - 1]))) {
      throw std::invalid_argument("histogram buckets must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t Histogram::Count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

std::vector<double> Histogram::LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---------------------------------------------------------------------------------------------
// Families

template <typename M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename M>
M& Family<M>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label values for {} label names", name_,
                                            values.size(), label_names_.size()));
  }
  std::lock_guard<std::mutex> l(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<M> m;
  if constexpr (std::is_same_v<M, Histogram>) {
    m = std::make_unique<Histogram>(bounds_);
  } else {
    m = std::make_unique<M>();
  }
  return *series_.emplace(values, std::move(m)).first->second;
}

template <typename M>
const char* Family<M>::type() const {
  if constexpr (std::is_same_v<M, Counter>) return "counter";
  if constexpr (std::is_same_v<M, Gauge>) return "gauge";
  return "histogram";
}

template <typename M>
void Family<M>::Render(std::string& out) const {
  std::lock_guard<std::mutex> l(mu_);
  if (series_.empty()) return;
  out += "# HELP ";
  out += name_;
  out += ' ';
  AppendEscaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type();
  out += '\n';
  for (const auto& [values, m] : series_) {
    std::string labels = LabelPrefix(label_names_, values);
    if constexpr (std::is_same_v<M, Histogram>) {
      std::vector<uint64_t> counts = m->BucketCounts();
      double sum = m->Sum();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        std::string le = labels.empty() ? "{le=\"" : labels + ",le=\"";
        if (i < bounds_.size()) {
          AppendNumber(le, bounds_[i]);
        } else {
          le += "+Inf";
        }
        le += '"';
        AppendSample(out, name_, "_bucket", le, static_cast<double>(cumulative));
      }
      AppendSample(out, name_, "_sum", labels, sum);
      AppendSample(out, name_, "_count", labels, static_cast<double>(cumulative));
    } else {
      AppendSample(out, name_, "", labels, m->Value());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// Registry

template <typename M>
Family<M>& Metrics::Add(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!ValidName(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : label_names) {
    if (!ValidName(l, false) || l.rfind("__", 0) == 0 ||
        (std::is_same_v<M, Histogram> && l == "le")) {
      throw std::invalid_argument("metric " + name + ": invalid label name '" + l + "'");
    }
  }
  if constexpr (std::is_same_v<M, Histogram>) {
    Histogram check(bounds);  // validates the buckets (throws)
  }
  std::lock_guard<std::mutex> l(mu_);
  for (auto& f : families_) {
    if (f->name() != name) continue;
    auto* same = dynamic_cast<Family<M>*>(f.get());
    if (!same || same->label_names() != label_names || same->bounds_ != bounds) {
      throw std::invalid_argument("metric " + name + " registered twice with different shapes");
    }
    return *same;
  }
  auto* f = new Family<M>(name, help, std::move(label_names), std::move(bounds));
  families_.emplace_back(f);
  if (f->label_names().empty()) f->WithLabels({});
  return *f;
}

Family<Counter>& Metrics::AddCounter(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names) {
  return Add<Counter>(name, help, std::move(label_names), {});
}

Family<Gauge>& Metrics::AddGauge(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, std::move(label_names), {});
}

Family<Histogram>& Metrics::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bounds,
                                         std::vector<std::string> label_names) {
  return Add<Histogram>(name, help, std::move(label_names), std::move(bounds));
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& f : families_) f->Render(out);
  return out;
}

}  // namespace cryptolake::net
