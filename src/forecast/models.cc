#include "forecast/models.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>

#include "forecast/arima.h"
#include "forecast/ets.h"
#include "forecast/evaluate.h"
#include "forecast/theta.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// naive and drift on log y: the random walk, with drift c = mean daily log return (0 for naive).
// Interval: normal on log y with sigma the RMS of the one-step residuals (log return - c), times
// sqrt(h) (naive) or sqrt(h (1 + h / T)) (drift, for the estimated c); FPP3 5.5.
class RandomWalkFit : public FittedModel {
 public:
  RandomWalkFit(bool drift, double last, double c, double sigma, double n, double z)
      : drift_(drift), last_(last), c_(c), sigma_(sigma), n_(n), z_(z) {}

  PathForecast Predict(int h) const override {
    PathForecast p;
    for (int i = 1; i <= h; ++i) {
      double hd = i;
      double f = last_ + c_ * hd;
      double sd = sigma_ * std::sqrt(drift_ ? hd * (1 + hd / n_) : hd);
      p.yhat.push_back(std::exp(f));
      p.lower.push_back(std::isfinite(sd) ? std::exp(f - z_ * sd) : kNaN);
      p.upper.push_back(std::isfinite(sd) ? std::exp(f + z_ * sd) : kNaN);
    }
    return p;
  }

  std::string Describe() const override {
    return drift_ ? fmt::format("random walk with drift on log y, c={:.6g}/day", c_)
                  : std::string("naive (random walk) on log y");
  }

 private:
  bool drift_;
  double last_, c_, sigma_, n_, z_;
};

class RandomWalkModel : public Model {
 public:
  explicit RandomWalkModel(bool drift) : drift_(drift) {}
  std::string name() const override { return drift_ ? "drift" : "naive"; }
  int complexity() const override { return drift_ ? 1 : 0; }
  int min_history() const override { return drift_ ? 2 : 1; }

  StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                             const FitOptions& options) const override {
    RETURN_IF_ERROR(CheckHistory(history, name(), min_history()));
    const auto& y = history.y;
    const size_t n = y.size();
    double c = drift_ ? (std::log(y[n - 1]) - std::log(y[0])) / static_cast<double>(n - 1) : 0;
    double sigma = kNaN;
    if (n >= 2) {
      double ss = 0;
      for (size_t t = 1; t < n; ++t) {
        double e = std::log(y[t]) - std::log(y[t - 1]) - c;
        ss += e * e;
      }
      sigma = std::sqrt(ss / static_cast<double>(n - 1));
    }
    double z = NormalQuantile((1 + options.interval_width) / 2);
    return std::unique_ptr<FittedModel>(std::make_unique<RandomWalkFit>(
        drift_, std::log(y[n - 1]), c, sigma, static_cast<double>(n), z));
  }

 private:
  bool drift_;
};

// The native Prophet model with its defaults (forecast/prophet.h), on y itself.
class ProphetFit : public FittedModel {
 public:
  ProphetFit(ProphetModel m, Micros last) : m_(std::move(m)), last_(last) {}
  PathForecast Predict(int h) const override {
    Frame future;
    future.ds = FutureDays(last_, h);
    PathForecast p;
    auto pred = m_.Predict(future);
    if (!pred.ok()) {  // a fitted model predicts any future days; keep the contract total
      p.yhat.assign(h, kNaN);
      p.lower.assign(h, kNaN);
      p.upper.assign(h, kNaN);
      return p;
    }
    p.yhat = pred->yhat;
    p.lower = pred->yhat_lower;
    p.upper = pred->yhat_upper;
    return p;
  }
  std::string Describe() const override {
    return fmt::format("prophet (native, defaults), {} changepoints", m_.params().delta.size());
  }

 private:
  ProphetModel m_;
  Micros last_;
};

class ProphetSuiteModel : public Model {
 public:
  std::string name() const override { return "prophet"; }
  int complexity() const override { return 6; }
  int min_history() const override { return 2; }
  StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                             const FitOptions& options) const override {
    RETURN_IF_ERROR(CheckHistory(history, name(), min_history()));
    Frame h{history.ds, history.y, {}};
    ProphetOptions o;
    o.interval_width = options.interval_width;
    o.seed = options.seed;
    ASSIGN_OR_RETURN(ProphetModel m, ProphetModel::Fit(h, o));
    return std::unique_ptr<FittedModel>(std::make_unique<ProphetFit>(std::move(m), h.ds.back()));
  }
};

struct Entry {
  const char* name;
  std::unique_ptr<Model> (*make)();
};

// Simplest first. Each model family adds its line (ets, theta, arima, ensemble).
const std::vector<Entry>& Registry() {
  // One line per model family.
  // clang-format off
  static const std::vector<Entry> r = {
      {"naive", MakeNaiveModel},
      {"drift", MakeDriftModel},
      {"ets", MakeEtsModel},
      {"theta", MakeThetaModel},
      {"arima", MakeArimaModel},
      {"ensemble", MakeEnsembleModel},
      {"prophet", MakeProphetSuiteModel},
  };
  // clang-format on
  return r;
}

}  // namespace

std::unique_ptr<Model> MakeNaiveModel() { return std::make_unique<RandomWalkModel>(false); }
std::unique_ptr<Model> MakeDriftModel() { return std::make_unique<RandomWalkModel>(true); }
std::unique_ptr<Model> MakeProphetSuiteModel() { return std::make_unique<ProphetSuiteModel>(); }

const std::vector<std::string>& ModelNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Entry& e : Registry()) v.emplace_back(e.name);
    return v;
  }();
  return names;
}

StatusOr<std::unique_ptr<Model>> MakeModel(std::string_view name) {
  for (const Entry& e : Registry()) {
    if (name == e.name) return e.make();
  }
  return InvalidArgument("unknown model '{}': expected one of {}", name,
                         fmt::join(ModelNames(), ", "));
}

Status CheckHistory(const Frame& history, std::string_view model, int min_days) {
  const size_t n = history.ds.size();
  if (history.y.size() != n) {
    return InvalidArgument("{}: history has {} ds but {} y", model, n, history.y.size());
  }
  if (n < static_cast<size_t>(min_days)) {
    return InvalidArgument("{}: history has {} days, at least {} are needed", model, n, min_days);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!(std::isfinite(history.y[i]) && history.y[i] > 0)) {
      return InvalidArgument("{}: y is not a positive finite number at {}: {}", model,
                             FormatDate(history.ds[i]), history.y[i]);
    }
    if (i > 0 && history.ds[i] - history.ds[i - 1] != kMicrosPerDay) {
      return InvalidArgument("{}: days not contiguous ({} follows {})", model,
                             FormatDate(history.ds[i]), FormatDate(history.ds[i - 1]));
    }
  }
  return Status::Ok();
}

PathForecast LogScaleFitted::Predict(int h) const {
  LogPath f = PredictLog(h);
  PathForecast p;
  for (int i = 0; i < h; ++i) {
    p.yhat.push_back(std::exp(f.mean[i]));
    p.lower.push_back(std::exp(f.lower[i]));
    p.upper.push_back(std::exp(f.upper[i]));
  }
  return p;
}

StatusOr<std::unique_ptr<FittedModel>> LogScaleModel::Fit(const Frame& history,
                                                          const FitOptions& options) const {
  RETURN_IF_ERROR(CheckHistory(history, name(), min_history()));
  std::vector<double> logy(history.y.size());
  for (size_t i = 0; i < logy.size(); ++i) logy[i] = std::log(history.y[i]);
  return FitLog(logy, options);
}

}  // namespace cryptolake::forecast
