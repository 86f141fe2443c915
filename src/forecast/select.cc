#include "forecast/select.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "forecast/parallel.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* const kMembers[] = {"naive", "drift", "ets", "theta", "arima"};

class EnsembleFit : public FittedModel {
 public:
  EnsembleFit(std::vector<std::unique_ptr<FittedModel>> fits, std::vector<std::string> names)
      : fits_(std::move(fits)), names_(std::move(names)) {}
  PathForecast Predict(int h) const override {
    std::vector<PathForecast> paths;
    for (const auto& f : fits_) paths.push_back(f->Predict(h));
    return MedianPath(paths, h);
  }
  std::string Describe() const override {
    return fmt::format("median of {}", fmt::join(names_, ", "));
  }

 private:
  std::vector<std::unique_ptr<FittedModel>> fits_;
  std::vector<std::string> names_;
};

class EnsembleModel : public Model {
 public:
  std::string name() const override { return "ensemble"; }
  int complexity() const override { return 5; }
  int min_history() const override {
    int m = 1;
    for (const auto& name : EnsembleMembers()) {
      auto model = MakeModel(name);
      if (model.ok()) m = std::max(m, (*model)->min_history());
    }
    return m;
  }
  StatusOr<std::unique_ptr<FittedModel>> Fit(const Frame& history,
                                             const FitOptions& options) const override {
    RETURN_IF_ERROR(CheckHistory(history, name(), min_history()));
    std::vector<std::unique_ptr<FittedModel>> fits;
    std::vector<std::string> names = EnsembleMembers();
    for (const auto& n : names) {
      ASSIGN_OR_RETURN(auto model, MakeModel(n));
      auto fit = model->Fit(history, options);
      if (!fit.ok()) return fit.status().WithContext("ensemble");
      fits.push_back(std::move(*fit));
    }
    return std::unique_ptr<FittedModel>(
        std::make_unique<EnsembleFit>(std::move(fits), std::move(names)));
  }
};

// Rows [0, end) of the series (ds, y).
Frame Head(const Frame& f, size_t end) {
  Frame h;
  h.ds.assign(f.ds.begin(), f.ds.begin() + static_cast<ptrdiff_t>(end));
  h.y.assign(f.y.begin(), f.y.begin() + static_cast<ptrdiff_t>(end));
  return h;
}

std::string Mase3(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "-"; }

// The inner grid cutoffs of origin_end at horizon h: the last `k` with end + h <= origin_end.
std::vector<size_t> InnerCutoffs(const SuiteCv& cv, size_t origin_end, int h, int k) {
  std::vector<size_t> out;
  for (size_t j = cv.grid.size(); j-- > 0 && static_cast<int>(out.size()) < k;) {
    if (cv.end[j] + static_cast<size_t>(h) <= origin_end) out.push_back(j);
  }
  return out;
}

}  // namespace

std::unique_ptr<Model> MakeEnsembleModel() { return std::make_unique<EnsembleModel>(); }

std::vector<std::string> EnsembleMembers() {
  std::vector<std::string> out;
  const auto& names = ModelNames();
  for (const char* m : kMembers) {
    if (std::find(names.begin(), names.end(), m) != names.end()) out.emplace_back(m);
  }
  return out;
}

PathForecast MedianPath(const std::vector<PathForecast>& members, int h) {
  PathForecast p;
  for (int i = 0; i < h; ++i) {
    std::vector<double> v;
    for (const auto& m : members) {
      if (static_cast<int>(m.yhat.size()) > i && std::isfinite(m.yhat[i])) v.push_back(m.yhat[i]);
    }
    p.yhat.push_back(Median(std::move(v)));
    p.lower.push_back(kNaN);
    p.upper.push_back(kNaN);
  }
  return p;
}

Choice Choose(const std::vector<Candidate>& candidates, double margin, double min_win_share) {
  // The simplest: least complexity with a finite MASE, else least complexity.
  const Candidate* simplest = nullptr;
  for (const auto& c : candidates) {
    bool better = !simplest || (std::isfinite(c.mase) && !std::isfinite(simplest->mase)) ||
                  (std::isfinite(c.mase) == std::isfinite(simplest->mase) &&
                   c.complexity < simplest->complexity);
    if (better) simplest = &c;
  }
  Choice out;
  if (!std::isfinite(simplest->mase)) {
    out.model = simplest->model;
    out.mase = kNaN;
    out.runner_up_mase = kNaN;
    out.why = fmt::format("{}: no inner-CV point yet, the simplest model is kept", out.model);
    return out;
  }
  // The best by MASE, ties to the simpler.
  auto less = [](const Candidate* a, const Candidate* b) {
    return a->mase < b->mase || (a->mase == b->mase && a->complexity < b->complexity);
  };
  const Candidate* best = nullptr;
  for (const auto& c : candidates) {
    if (!std::isfinite(c.mase)) continue;
    if (!best || less(&c, best)) best = &c;
  }
  const double bar = simplest->mase * (1 - margin);
  // The share of inner cutoffs on which `c` beats the simplest.
  auto win_share = [&](const Candidate& c) {
    const size_t k = std::min(c.by_cutoff.size(), simplest->by_cutoff.size());
    if (k == 0) return 1.0;
    int wins = 0;
    for (size_t i = 0; i < k; ++i) wins += c.by_cutoff[i] < simplest->by_cutoff[i];
    return static_cast<double>(wins) / static_cast<double>(k);
  };
  const Candidate* chosen = simplest;
  for (const auto& c : candidates) {
    if (&c == simplest || !std::isfinite(c.mase) || !(c.mase < bar)) continue;
    if (!(win_share(c) > min_win_share)) continue;
    if (chosen == simplest || less(&c, chosen)) chosen = &c;
  }
  const Candidate* runner = nullptr;
  for (const auto& c : candidates) {
    if (&c == chosen || !std::isfinite(c.mase)) continue;
    if (!runner || less(&c, runner)) runner = &c;
  }
  out.model = chosen->model;
  out.mase = chosen->mase;
  out.runner_up = runner ? runner->model : "";
  out.runner_up_mase = runner ? runner->mase : kNaN;
  const double pct = margin * 100;
  if (chosen != simplest) {
    out.why = fmt::format("{}: MASE {}, {:.1f}% below {}'s {} (margin {:g}%)", chosen->model,
                          Mase3(chosen->mase), (1 - chosen->mase / simplest->mase) * 100,
                          simplest->model, Mase3(simplest->mase), pct);
    if (!chosen->by_cutoff.empty()) {
      out.why += fmt::format(", better on {:.0f}% of the cutoffs", win_share(*chosen) * 100);
    }
  } else if (best == simplest || !runner) {
    out.why = fmt::format("{}: the lowest MASE, {}", chosen->model, Mase3(chosen->mase));
  } else if (best->mase < bar) {
    out.why = fmt::format(
        "{} kept: {}'s MASE {} is {:.1f}% below {}'s {} but better on only "
        "{:.0f}% of the cutoffs",
        chosen->model, best->model, Mase3(best->mase), (1 - best->mase / simplest->mase) * 100,
        chosen->model, Mase3(chosen->mase), win_share(*best) * 100);
  } else {
    out.why = fmt::format("{} kept: {}'s MASE {} is not {:g}% below {}'s {}", chosen->model,
                          best->model, Mase3(best->mase), pct, chosen->model, Mase3(chosen->mase));
  }
  return out;
}

double ConformalQuantile(std::vector<double> scores, double width) {
  const size_t n = scores.size();
  // ceil((n + 1) width), robust to (n + 1) * width landing a hair above an integer.
  const double r = std::ceil(static_cast<double>(n + 1) * width - 1e-9);
  if (n == 0 || r > static_cast<double>(n)) return kNaN;
  const size_t k = static_cast<size_t>(std::max(1.0, r));
  std::nth_element(scores.begin(), scores.begin() + static_cast<ptrdiff_t>(k - 1), scores.end());
  return scores[k - 1];
}

std::vector<int> HorizonWindow(int h, int horizon_days) {
  const int w = std::max(2, h / 4);
  std::vector<int> out;
  for (int x = std::max(1, h - w); x <= std::min(horizon_days, h + w); ++x) out.push_back(x);
  return out;
}

std::vector<double> EwmaVolatility(const std::vector<double>& y, double lambda) {
  const size_t n = y.size();
  std::vector<double> v(n, kNaN);
  if (n < 2) return v;
  const size_t warm = std::min<size_t>(30, n - 1);
  double var = 0;
  for (size_t t = 1; t <= warm; ++t) {
    double r = std::log(y[t] / y[t - 1]);
    var += r * r;
  }
  var /= static_cast<double>(warm);
  // Before the warm-up ends, the running mean square of the returns so far.
  double ss = 0;
  for (size_t t = 1; t < n; ++t) {
    double r = std::log(y[t] / y[t - 1]);
    if (t <= warm) {
      ss += r * r;
      v[t] = std::sqrt(ss / static_cast<double>(t));
      if (t == warm) v[t] = std::sqrt(var);
    } else {
      var = lambda * var + (1 - lambda) * r * r;
      v[t] = std::sqrt(var);
    }
  }
  return v;
}

StatusOr<SuiteCv> RunSuiteCv(const std::string& symbol, const Frame& series,
                             const SuiteOptions& options, bool outer_required) {
  if (options.initial_days <= 0 || options.period_days <= 0 || options.horizon_days <= 0 ||
      options.inner_cutoffs <= 0 || options.calibration_cutoffs <= 0) {
    return InvalidArgument("initial, period, horizon and the inner cutoffs must be positive");
  }
  if (!(options.interval_width > 0 && options.interval_width < 1)) {
    return InvalidArgument("interval width must be in (0, 1), not {}", options.interval_width);
  }
  RETURN_IF_ERROR(CheckHistory(series, "series", 1));
  SuiteCv cv;
  cv.symbol = symbol;
  cv.series.ds = series.ds;
  cv.series.y = series.y;
  cv.options = options;
  cv.models = options.models.empty() ? ModelNames() : options.models;
  std::vector<std::unique_ptr<Model>> models;
  int min_days = 2;
  for (const auto& name : cv.models) {
    ASSIGN_OR_RETURN(auto m, MakeModel(name));
    cv.complexity.push_back(m->complexity());
    min_days = std::max(min_days, m->min_history());
    models.push_back(std::move(m));
  }
  // The ensemble from its members' paths when they are all in the suite.
  std::vector<size_t> members;
  bool ensemble_from_members = true;
  for (const auto& name : EnsembleMembers()) {
    auto it = std::find(cv.models.begin(), cv.models.end(), name);
    if (it == cv.models.end())
      ensemble_from_members = false;
    else
      members.push_back(static_cast<size_t>(it - cv.models.begin()));
  }

  const auto& ds = series.ds;
  const size_t n = ds.size();
  const int H = options.horizon_days;
  const Micros first_outer_min =
      ds.front() + static_cast<Micros>(options.initial_days) * kMicrosPerDay;
  const int extra = std::max(options.inner_cutoffs, options.calibration_cutoffs);
  // Grid, built backwards: index of the cutoff day = n - 1 - H - k period.
  std::vector<size_t> ends;  // descending
  int inner_only = 0;
  for (long long idx = static_cast<long long>(n) - 1 - H; idx >= 0; idx -= options.period_days) {
    const size_t end = static_cast<size_t>(idx) + 1;
    if (end < static_cast<size_t>(min_days)) break;
    if (ds[end - 1] < first_outer_min) {
      if (inner_only == extra) break;
      ++inner_only;
    }
    ends.push_back(end);
  }
  std::reverse(ends.begin(), ends.end());
  cv.end = ends;
  for (size_t e : ends) cv.grid.push_back(ds[e - 1]);
  cv.first_outer = static_cast<size_t>(inner_only);
  if (cv.first_outer >= cv.grid.size() && outer_required) {
    auto st = GenerateCutoffs(ds, options.initial_days, options.period_days, H);
    return st.ok() ? InvalidArgument("no cutoff leaves {} days of history for the models", min_days)
                   : st.status();
  }
  cv.vol = EwmaVolatility(series.y);
  const size_t n_grid = cv.grid.size();
  cv.paths.assign(cv.models.size(), std::vector<PathForecast>(n_grid));

  const auto t0 = std::chrono::steady_clock::now();
  const FitOptions fit_options{options.interval_width, options.seed};
  auto task = [&](size_t i) {
    Frame hist = Head(series, cv.end[i]);
    Status st;
    for (size_t m = 0; m < models.size() && st.ok(); ++m) {
      if (cv.models[m] == "ensemble" && ensemble_from_members) continue;
      auto fit = models[m]->Fit(hist, fit_options);
      if (!fit.ok()) {
        st = fit.status().WithContext(
            fmt::format("{} at cutoff {}", cv.models[m], FormatDate(cv.grid[i])));
        break;
      }
      cv.paths[m][i] = (*fit)->Predict(H);
    }
    if (st.ok() && ensemble_from_members) {
      for (size_t m = 0; m < models.size(); ++m) {
        if (cv.models[m] != "ensemble") continue;
        std::vector<PathForecast> ps;
        for (size_t k : members) ps.push_back(cv.paths[k][i]);
        cv.paths[m][i] = MedianPath(ps, H);
      }
    }
    return st;
  };
  RETURN_IF_ERROR(RunIndexed(n_grid, options.threads, task, options.progress, &cv.threads));
  cv.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return cv;
}

std::vector<Choice> SelectAt(const SuiteCv& cv, size_t origin_end) {
  const int H = cv.options.horizon_days;
  const auto& y = cv.series.y;
  std::vector<double> scale(cv.grid.size());
  for (size_t j = 0; j < cv.grid.size(); ++j) scale[j] = NaiveScale(y, cv.end[j]);
  std::vector<Choice> out;
  for (int h = 1; h <= H; ++h) {
    std::vector<size_t> inner = InnerCutoffs(cv, origin_end, h, cv.options.inner_cutoffs);
    std::vector<int> window = HorizonWindow(h, H);
    std::vector<Candidate> cands;
    for (size_t m = 0; m < cv.models.size(); ++m) {
      double sum = 0;
      int count = 0;
      std::vector<double> by_cutoff;
      for (size_t j : inner) {
        if (!(scale[j] > 0)) continue;
        double cs = 0;
        int cn = 0;
        for (int hh : window) {
          size_t day = cv.end[j] + static_cast<size_t>(hh) - 1;
          if (day + 1 > origin_end) continue;  // not known at the origin
          double f = cv.paths[m][j].yhat[static_cast<size_t>(hh) - 1];
          cs += std::abs(f - y[day]) / scale[j];
          ++cn;
        }
        sum += cs;
        count += cn;
        if (cn) by_cutoff.push_back(cs / cn);
      }
      cands.push_back({cv.models[m], cv.complexity[m], count ? sum / count : kNaN, by_cutoff});
    }
    out.push_back(Choose(cands, cv.options.margin, cv.options.min_win_share));
  }
  return out;
}

double ConformalQAt(const SuiteCv& cv, size_t m, size_t origin_end, int h) {
  const int H = cv.options.horizon_days;
  const auto& y = cv.series.y;
  std::vector<size_t> cal =
      InnerCutoffs(cv, origin_end, std::min(h, H), cv.options.calibration_cutoffs);
  std::vector<double> scores;
  for (size_t j : cal) {
    const double v = cv.vol[cv.end[j] - 1];
    if (!(v > 0)) continue;
    const int hh = std::min(h, H);
    const size_t day = cv.end[j] + static_cast<size_t>(hh) - 1;
    if (day + 1 > origin_end) continue;
    const double f = cv.paths[m][j].yhat[static_cast<size_t>(hh) - 1];
    if (!(f > 0)) continue;
    scores.push_back(std::abs(std::log(y[day] / f)) / (v * std::sqrt(static_cast<double>(hh))));
  }
  return ConformalQuantile(std::move(scores), cv.options.interval_width);
}

std::string SelectionRule(double margin, double min_win_share) {
  return fmt::format(
      "per horizon, the lowest MASE over the last 12 inner-CV cutoffs (horizons pooled around "
      "it); the simplest model (naive) is kept unless another's MASE is lower by more than {:g}% "
      "and it is better on more than {:g}% of those cutoffs; ties to the simpler",
      margin * 100, min_win_share * 100);
}

Evaluation NestedEvaluation(const SuiteCv& cv) {
  const int H = cv.options.horizon_days;
  const auto& y = cv.series.y;
  const auto& ds = cv.series.ds;
  Evaluation ev;
  ev.symbol = cv.symbol;
  ev.protocol = "rolling";
  ev.primary = kProcedureName;
  ev.series = cv.series;
  ev.initial_days = cv.options.initial_days;
  ev.period_days = cv.options.period_days;
  ev.horizon_days = H;
  ev.interval_width = cv.options.interval_width;
  ev.threads = cv.threads;
  for (size_t i = cv.first_outer; i < cv.grid.size(); ++i) ev.cutoffs.push_back(cv.grid[i]);
  for (const auto& name : cv.models) ev.models.push_back({name, false, {}, {}});
  ModelResult proc{kProcedureName, false, {}, {}};
  for (size_t i = cv.first_outer; i < cv.grid.size(); ++i) {
    const size_t e = cv.end[i];
    const double scale = NaiveScale(y, e);
    const double v = cv.vol[e - 1];
    std::vector<Choice> choices = SelectAt(cv, e);
    std::vector<std::vector<Point>> pts(cv.models.size());
    for (size_t m = 0; m < cv.models.size(); ++m) {
      for (int h = 1; h <= H; ++h) {
        const size_t day = e + static_cast<size_t>(h) - 1;
        const double f = cv.paths[m][i].yhat[static_cast<size_t>(h) - 1];
        const double q = ConformalQAt(cv, m, e, h);
        const double half = q * v * std::sqrt(static_cast<double>(h));
        pts[m].push_back(
            {cv.grid[i], ds[day], y[day], f, f * std::exp(-half), f * std::exp(half), scale});
      }
      ev.models[m].points.insert(ev.models[m].points.end(), pts[m].begin(), pts[m].end());
    }
    for (int h = 1; h <= H; ++h) {
      auto it = std::find(cv.models.begin(), cv.models.end(), choices[h - 1].model);
      proc.points.push_back(pts[static_cast<size_t>(it - cv.models.begin())][h - 1]);
    }
  }
  ev.models.push_back(std::move(proc));
  for (auto& m : ev.models) m.metrics = PerformanceMetrics(m.points);
  SetRelativeMae(ev.models, "naive");
  std::vector<Choice> today = SelectAt(cv, ds.size());
  for (int h : {1, 7, 30}) {
    if (h > H) continue;
    ev.selection.push_back(fmt::format("{}d: {}", h, today[h - 1].why));
  }
  return ev;
}

}  // namespace cryptolake::forecast
