#include "forecast/suite_forecast.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "forecast/models.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Every model on the whole history (the ensemble from its members, as in the CV): their paths
// (in cv.models' order) and forecasts.
Status FitEveryModel(const SuiteCv& cv, const Frame& history, const std::vector<Micros>& future,
                     const SuiteForecastOptions& options, std::vector<PathForecast>& paths,
                     std::vector<ModelForecast>& own) {
  const FitOptions fo{options.interval_width, options.seed};
  for (const auto& name : cv.models) {
    PathForecast p;
    std::string desc;
    if (name == "ensemble") {
      std::vector<PathForecast> ms;
      for (const auto& m : EnsembleMembers()) {
        auto it = std::find(cv.models.begin(), cv.models.end(), m);
        if (it != cv.models.end()) ms.push_back(paths[static_cast<size_t>(it - cv.models.begin())]);
      }
      p = MedianPath(ms, options.periods);
      desc = fmt::format("median of {}", fmt::join(EnsembleMembers(), ", "));
    } else {
      ASSIGN_OR_RETURN(auto model, MakeModel(name));
      ASSIGN_OR_RETURN(auto fit, model->Fit(history, fo));
      p = fit->Predict(options.periods);
      desc = fit->Describe();
    }
    paths.push_back(p);
    own.push_back({name, false, {future, p.yhat, p.lower, p.upper, {}, {}, {}}, desc});
  }
  return Status::Ok();
}

// The rows: per day, the selected model and its conformal band (or, if a day has none, every
// day with the selected models' own bands); sel.row_models and sel.interval.
Prediction SelectedRows(const SuiteCv& cv, const std::vector<Choice>& choices,
                        const std::vector<PathForecast>& paths, const std::vector<Micros>& future,
                        int periods, SuiteSelection& sel) {
  const size_t n = cv.series.y.size();
  const int H = cv.options.horizon_days;
  Prediction rows;
  rows.ds = future;
  Prediction fallback = rows;  // the selected models' own bands
  const double v = cv.vol[n - 1];
  for (int i = 1; i <= periods; ++i) {
    const Choice& c = choices.empty() ? Choice{"naive", 0, "", 0, ""} : choices[std::min(i, H) - 1];
    size_t m = static_cast<size_t>(std::find(cv.models.begin(), cv.models.end(), c.model) -
                                   cv.models.begin());
    const double f = paths[m].yhat[i - 1];
    const double q = ConformalQAt(cv, m, n, std::min(i, H));
    const double half = q * v * std::sqrt(static_cast<double>(i));
    rows.yhat.push_back(f);
    rows.yhat_lower.push_back(f * std::exp(-half));
    rows.yhat_upper.push_back(f * std::exp(half));
    fallback.yhat.push_back(f);
    fallback.yhat_lower.push_back(paths[m].lower[i - 1]);
    fallback.yhat_upper.push_back(paths[m].upper[i - 1]);
    sel.row_models.push_back(c.model);
    if (std::isnan(half)) sel.interval = "model";
  }
  if (sel.interval == "model") rows = fallback;
  return rows;
}

// The choices at 1, 7 and 30 days and the `why` line.
void Explain(const std::vector<Choice>& choices, int periods, int H, SuiteSelection& sel) {
  for (int h : {1, 7, 30}) {
    if (h <= periods && h <= H && !choices.empty()) sel.by_horizon.emplace_back(h, choices[h - 1]);
  }
  if (sel.by_horizon.empty()) {
    sel.by_horizon.emplace_back(
        1, Choice{sel.row_models.front(), kNaN, "", kNaN, "no inner-CV point yet"});
  }
  std::set<std::string> picked(sel.row_models.begin(), sel.row_models.end());
  if (picked.size() == 1) {
    sel.why = fmt::format("{} at every horizon. At 1 day: {}.", *picked.begin(),
                          sel.by_horizon.front().second.why);
  } else {
    std::vector<std::string> parts;
    for (const auto& [h, c] : sel.by_horizon) parts.push_back(fmt::format("{} d: {}", h, c.why));
    sel.why = fmt::format("{}.", fmt::join(parts, "; "));
  }
}

// The nested CV's evaluation and its leaderboard (metrics at 1, 7, 30 days), if the grid has
// outer cutoffs.
Evaluation Leaderboard(const SuiteCv& cv, SuiteSelection& sel) {
  Evaluation ev;
  if (cv.first_outer >= cv.grid.size()) return ev;
  ev = NestedEvaluation(cv);
  sel.cutoffs = static_cast<int>(ev.cutoffs.size());
  for (const auto& m : ev.models) {
    LeaderboardEntry e{m.name, m.name == sel.by_horizon.front().second.model, {}};
    for (int h : {1, 7, 30}) {
      for (const Metrics& x : m.metrics) {
        if (x.horizon_days == h) e.horizons.push_back(x);
      }
    }
    sel.leaderboard.push_back(std::move(e));
  }
  return ev;
}

}  // namespace

StatusOr<SuiteForecast> ForecastSuite(const SuiteCv& cv, const Frame& history,
                                      const std::vector<Micros>& future,
                                      const SuiteForecastOptions& options) {
  const size_t n = history.y.size();
  const int H = cv.options.horizon_days;
  std::vector<Choice> choices = SelectAt(cv, n);
  SuiteForecast out;
  Forecast& fc = out.forecast;
  fc.symbol = cv.symbol;
  fc.history = history;
  fc.interval_width = options.interval_width;
  std::vector<ModelForecast> own;
  std::vector<PathForecast> paths;
  RETURN_IF_ERROR(FitEveryModel(cv, history, future, options, paths, own));
  SuiteSelection sel;
  sel.rule = SelectionRule(cv.options.margin, cv.options.min_win_share);
  sel.margin = cv.options.margin;
  Prediction rows = SelectedRows(cv, choices, paths, future, options.periods, sel);
  Explain(choices, options.periods, H, sel);
  sel.initial_days = cv.options.initial_days;
  sel.period_days = cv.options.period_days;
  sel.horizon_days = H;
  out.evaluation = Leaderboard(cv, sel);
  // Models shown beside the suite but not in its CV (up: prophet, one click away on the page).
  const FitOptions fo{options.interval_width, options.seed};
  for (const auto& name : options.also_fit) {
    if (std::find(cv.models.begin(), cv.models.end(), name) != cv.models.end()) continue;
    ASSIGN_OR_RETURN(auto model, MakeModel(name));
    auto fit = model->Fit(history, fo);
    if (!fit.ok()) return fit.status().WithContext(name);
    PathForecast p = (*fit)->Predict(options.periods);
    own.push_back({name,
                   false,
                   {future, p.yhat, p.lower, p.upper, {}, {}, {}},
                   (*fit)->Describe() + " (not in the CV)"});
  }
  fc.models.push_back({"selected", false, rows, sel.why});
  for (auto& m : own) fc.models.push_back(std::move(m));
  fc.selection = std::move(sel);
  return out;
}

}  // namespace cryptolake::forecast
