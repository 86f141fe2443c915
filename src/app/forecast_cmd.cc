// `cryptolake forecast fit|predict|cv`: the model (forecast/prophet.h) and the baselines on a
// symbol's complete days, evaluated by forecast/evaluate.h and written by forecast/report.h.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "app/commands.h"
#include "core/fsutil.h"
#include "forecast/evaluate.h"
#include "forecast/models.h"
#include "forecast/prophet.h"
#include "forecast/report.h"
#include "forecast/select.h"
#include "forecast/suite_forecast.h"

namespace cryptolake::app {

namespace {

using forecast::Baseline;
using forecast::Evaluation;
using forecast::Frame;
using forecast::Metrics;
using forecast::NamedModel;
using forecast::Prediction;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool IsAuto(const ForecastArgs& a) { return a.model == "auto"; }

StatusOr<forecast::ProphetOptions> ModelOptions(const ForecastArgs& a) {
  forecast::ProphetOptions o;
  if (a.seasonality_mode != "additive" && a.seasonality_mode != "multiplicative") {
    return InvalidArgument("--seasonality-mode must be additive or multiplicative, not '{}'",
                           a.seasonality_mode);
  }
  if (!(a.interval_width > 0 && a.interval_width < 1)) {
    return InvalidArgument("--interval-width must be in (0, 1)");
  }
  o.seasonality_mode = a.seasonality_mode;
  o.changepoint_prior_scale = a.changepoint_prior_scale;
  o.log_transform = a.log_transform;
  o.interval_width = a.interval_width;
  o.uncertainty_samples = a.samples;
  o.seed = a.seed;
  if (a.growth != "linear" && a.growth != "logistic" && a.growth != "flat") {
    return InvalidArgument("--growth must be linear, logistic or flat, not '{}'", a.growth);
  }
  if (a.growth == "logistic" && !a.cap) return InvalidArgument("--growth logistic needs --cap");
  if (a.growth != "logistic" && (a.cap || a.floor)) {
    return InvalidArgument("--cap and --floor apply to --growth logistic only");
  }
  o.growth = a.growth;
  o.cap = a.cap;
  o.floor = a.floor;
  if (!a.changepoints.empty()) {
    o.changepoints.emplace();
    for (const std::string& d : a.changepoints) {
      auto t = ParseTime(d);
      if (!t.ok()) return InvalidArgument("--changepoints: '{}' is not a date (YYYY-MM-DD)", d);
      o.changepoints->push_back(*t);
    }
  }
  o.changepoint_range = a.changepoint_range;
  for (const std::string& spec : a.seasonalities) {
    std::vector<std::string> f;  // the spec's ':'-separated fields
    size_t start = 0;
    for (size_t colon; (colon = spec.find(':', start)) != std::string::npos; start = colon + 1) {
      f.push_back(spec.substr(start, colon - start));
    }
    f.push_back(spec.substr(start));
    auto bad = [&] {
      return InvalidArgument(
          "--seasonality '{}': expected name:period_days:order[:prior_scale[:mode]] (a name, a "
          "period > 0, an order >= 1, a prior scale > 0, additive or multiplicative)",
          spec);
    };
    if (f.size() < 3 || f.size() > 5 || f[0].empty()) return bad();
    forecast::Seasonality s;
    s.name = f[0];
    char* end = nullptr;
    s.period_days = std::strtod(f[1].c_str(), &end);
    if (f[1].empty() || *end != '\0' || !(s.period_days > 0)) return bad();
    const long order = std::strtol(f[2].c_str(), &end, 10);
    if (f[2].empty() || *end != '\0' || order < 1 || order > 1000) return bad();
    s.order = static_cast<int>(order);
    if (f.size() >= 4) {
      const double prior = std::strtod(f[3].c_str(), &end);
      if (f[3].empty() || *end != '\0' || !(prior > 0)) return bad();
      s.prior_scale = prior;
    }
    if (f.size() == 5) {
      if (f[4] != "additive" && f[4] != "multiplicative") return bad();
      s.mode = f[4];
    }
    o.extra_seasonalities.push_back(std::move(s));
  }
  return o;
}

// One model instead of the suite's selection: Prophet (fitted per call, with the Prophet
// flags), a baseline (evaluated by evaluate.h itself, so no fn), or another suite model
// (forecast/models.h; the baselines' names keep their evaluate.h meaning).
StatusOr<NamedModel> PrimaryModel(const ForecastArgs& a) {
  if (forecast::ParseBaseline(a.model)) return NamedModel{a.model, {}};
  const auto& names = forecast::ModelNames();
  if (a.model != "prophet" && std::find(names.begin(), names.end(), a.model) != names.end()) {
    ASSIGN_OR_RETURN(std::shared_ptr<forecast::Model> m, forecast::MakeModel(a.model));
    const forecast::FitOptions fo{a.interval_width, a.seed};
    forecast::ModelFn fn = [m, fo](const Frame& h, const Frame& f) -> StatusOr<Prediction> {
      ASSIGN_OR_RETURN(auto fit, m->Fit(Frame{h.ds, h.y, {}}, fo));
      forecast::PathForecast p = fit->Predict(static_cast<int>(f.ds.size()));
      Prediction out;
      out.ds = f.ds;
      out.yhat = p.yhat;
      out.yhat_lower = p.lower;
      out.yhat_upper = p.upper;
      return out;
    };
    return NamedModel{a.model, fn};
  }
  // auto reaches here only where the suite does not apply (--protocol seed, --json-out): the
  // Prophet model, as before the suite.
  if (a.model != "prophet" && !IsAuto(a)) {
    std::vector<std::string> known = {"auto", "prophet", "seasonal_naive"};
    for (const auto& n : names) {
      if (n != "prophet") known.push_back(n);
    }
    return InvalidArgument("unknown model '{}' ({})", a.model, fmt::join(known, ", "));
  }
  ASSIGN_OR_RETURN(forecast::ProphetOptions base, ModelOptions(a));
  forecast::ModelFn fn = [base](const Frame& h, const Frame& f) -> StatusOr<Prediction> {
    forecast::ProphetOptions o = base;
    for (const auto& [name, v] : h.regressors) {
      forecast::RegressorSpec spec;
      spec.name = name;
      o.regressors.push_back(spec);
    }
    ASSIGN_OR_RETURN(forecast::ProphetModel m, forecast::ProphetModel::Fit(h, o));
    return m.Predict(f);
  };
  return NamedModel{"prophet", fn};
}

// Cutoffs done / total on stderr: a line redrawn in place on a terminal, else a line per 10%.
class CutoffProgress {
 public:
  explicit CutoffProgress(std::string label)
      : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}
  void operator()(int done, int total) {
    if (tty_) {
      std::fprintf(stderr, "\r%s: %d/%d cutoffs", label_.c_str(), done, total);
      if (done == total) std::fprintf(stderr, "\n");
    } else if (done == total || done * 10 / total != (done - 1) * 10 / total) {
      std::fprintf(stderr, "%s: %d/%d cutoffs\n", label_.c_str(), done, total);
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool tty_;
};

std::string Pct(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", v * 100) : "-"; }
std::string Num(double v, int digits) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "-";
}

std::string MetricsLine(std::string_view label, std::string_view model, const Metrics& m) {
  return fmt::format("{:<8} {:<22} {:>6} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>7} {:>7}\n",
                     label, model, m.n, Pct(m.mape), Pct(m.mdape), Pct(m.smape), Num(m.rmse, 2),
                     Num(m.mae, 2), Pct(m.coverage), Num(m.mase, 3), Num(m.rel_mae, 3));
}

std::string Summary(const Evaluation& ev, double seconds) {
  std::string out;
  std::string leaky = ev.leaky() ? ", LEAKY" : "";
  std::string regs =
      ev.regressors.empty() ? "none" : fmt::format("{}", fmt::join(ev.regressors, ", "));
  if (ev.protocol == "seed") {
    out += fmt::format(
        "cv {} (seed protocol{}): train {} days {}..{}, test {} days {}..{}; regressors: {}; "
        "{:.1f} s\n",
        ev.symbol, leaky, ev.train_days, FormatDate(ev.series.ds.front()),
        FormatDate(ev.series.ds[ev.train_days - 1]), ev.test_days,
        FormatDate(ev.series.ds[ev.train_days]), FormatDate(ev.series.ds.back()), regs, seconds);
  } else {
    out += fmt::format(
        "cv {} (rolling origin{}): {} cutoffs {}..{} every {}d, horizon {}d, initial {}d; "
        "regressors: {}; {} threads, {:.1f} s\n",
        ev.symbol, leaky, ev.cutoffs.size(), FormatDate(ev.cutoffs.front()),
        FormatDate(ev.cutoffs.back()), ev.period_days, ev.horizon_days, ev.initial_days, regs,
        ev.threads, seconds);
  }
  for (const auto& l : ev.leakage) out += "leakage: " + l.message + "\n";
  out += fmt::format("{:<8} {:<22} {:>6} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>7} {:>7}\n",
                     "horizon", "model", "n", "mape", "mdape", "smape", "rmse", "mae", "coverage",
                     "mase", "rel_mae");
  std::vector<int> hs;
  if (ev.protocol == "rolling") {
    for (int h : {1, 7, 30}) {
      if (h <= ev.horizon_days) hs.push_back(h);
    }
  }
  hs.push_back(0);
  for (int h : hs) {
    for (const auto& m : ev.models) {
      for (const Metrics& x : m.metrics) {
        if (x.horizon_days != h) continue;
        std::string name = m.name + (m.name == ev.primary ? " *" : "");
        out += MetricsLine(h ? fmt::format("{}d", h) : "all", name, x);
      }
    }
  }
  return out;
}

Micros Elapsed(const Env& env, Micros start) { return env.lake->clock().Now() - start; }

StatusOr<forecast::SuiteOptions> SuiteOptionsOf(const ForecastArgs& a) {
  if (!(a.interval_width > 0 && a.interval_width < 1)) {
    return InvalidArgument("--interval-width must be in (0, 1)");
  }
  forecast::SuiteOptions o;
  ASSIGN_OR_RETURN(o.initial_days, forecast::ParseDays(a.initial));
  ASSIGN_OR_RETURN(o.period_days, forecast::ParseDays(a.period));
  ASSIGN_OR_RETURN(o.horizon_days, forecast::ParseDays(a.horizon));
  o.interval_width = a.interval_width;
  o.threads = a.threads;
  o.seed = a.seed;
  o.margin = a.margin;
  o.min_win_share = a.min_win_share;
  o.models = SplitList(a.suite);
  return o;
}

// The leaderboard of a nested CV: MAPE, MASE and coverage at 1, 7, 30 days per model, then the
// procedure, then what is selected today and why.
std::string Leaderboard(const Evaluation& ev, const forecast::SuiteCv& cv) {
  std::vector<int> hs;
  for (int h : {1, 7, 30}) {
    if (h <= ev.horizon_days) hs.push_back(h);
  }
  std::string out = fmt::format(
      "cv {} (suite, nested CV): {} cutoffs {}..{} every {}d, horizon {}d, initial {}d; {} grid "
      "fits of {} models, {} threads, {:.1f} s; conformal {:g}% bands\n",
      ev.symbol, ev.cutoffs.size(), FormatDate(ev.cutoffs.front()), FormatDate(ev.cutoffs.back()),
      ev.period_days, ev.horizon_days, ev.initial_days, cv.grid.size(), cv.models.size(),
      cv.threads, cv.seconds, ev.interval_width * 100);
  std::string head = fmt::format("{:<22}", "model");
  for (const char* what : {"mape", "mase", "coverage"}) {
    for (int h : hs) head += fmt::format(" {:>12}", fmt::format("{} {}d", what, h));
  }
  out += head + "\n";
  for (const auto& m : ev.models) {
    std::string line = fmt::format("{:<22}", m.name);
    auto row = [&](int h) -> const Metrics* {
      for (const Metrics& x : m.metrics) {
        if (x.horizon_days == h) return &x;
      }
      return nullptr;
    };
    for (int h : hs) line += fmt::format(" {:>12}", row(h) ? Pct(row(h)->mape) : "-");
    for (int h : hs) line += fmt::format(" {:>12}", row(h) ? Num(row(h)->mase, 3) : "-");
    for (int h : hs) line += fmt::format(" {:>12}", row(h) ? Pct(row(h)->coverage) : "-");
    out += line + "\n";
  }
  for (const auto& s : ev.selection) out += "selected today, " + s + "\n";
  return out;
}

// The note that the series' partial last day was left out, if it was: printed, or in the forecast.
void PrintDroppedDay(const forecast::DailySeries& series) {
  if (series.dropped_partial_day) {
    std::printf("note: dropped the partial day %s\n",
                FormatDate(*series.dropped_partial_day).c_str());
  }
}
void NoteDroppedDay(const forecast::DailySeries& series, forecast::Forecast& fc) {
  if (series.dropped_partial_day) {
    fc.notes.push_back("The partial day " + FormatDate(*series.dropped_partial_day) +
                       " was left out: only complete days are fitted.");
  }
}

// fit and predict write into <data>/forecasts/ and name what they wrote.
StatusOr<forecast::ForecastFiles> WriteForecastFiles(Env& env, const forecast::Forecast& fc) {
  return forecast::WriteForecast(fc, env.config.data_root / "forecasts", *env.con);
}
void PrintWrote(const forecast::ForecastFiles& files) {
  std::printf("wrote %s, %s, %s\n", files.json.string().c_str(), files.parquet.string().c_str(),
              files.html.string().c_str());
}

int RunSuiteCvCmd(Env& env, const ForecastArgs& a, const forecast::DailySeries& series) {
  if (!a.regressors.empty()) {
    return Fail(InvalidArgument("--model auto takes no regressors (the suite models the close)"));
  }
  auto o = SuiteOptionsOf(a);
  if (!o.ok()) return Fail(o.status());
  auto frame = forecast::ToFrame(series);
  if (!frame.ok()) return Fail(frame.status());
  CutoffProgress progress("cv " + a.symbol + " suite");
  o->progress = [&progress](int done, int total) { progress(done, total); };
  auto cv = forecast::RunSuiteCv(a.symbol, *frame, *o);
  if (!cv.ok()) return Fail(cv.status());
  Evaluation ev = forecast::NestedEvaluation(*cv);
  std::filesystem::path dir = a.out.empty()
                                  ? env.config.data_root / "forecasts" / (a.symbol + "-cv")
                                  : std::filesystem::path(a.out);
  auto files = forecast::WriteEvaluation(ev, dir, *env.con);
  if (!files.ok()) return Fail(files.status());
  PrintDroppedDay(series);
  std::printf("%s", Leaderboard(ev, *cv).c_str());
  std::printf(
      "wrote %s: metrics.json, metrics.csv, actual_vs_predicted.csv, forecasts.parquet, "
      "report.html\n",
      dir.string().c_str());
  return 0;
}

int RunCv(Env& env, const ForecastArgs& a, const forecast::DailySeries& series) {
  if (IsAuto(a) && a.protocol == "rolling") return RunSuiteCvCmd(env, a, series);
  auto model = PrimaryModel(a);
  if (!model.ok()) return Fail(model.status());
  const bool seed = a.protocol == "seed";
  std::vector<std::string> reg_names = SplitList(a.regressors);
  if (seed && reg_names.empty()) reg_names = {"ma7", "ma30"};
  std::vector<forecast::RegressorLineage> lineage;
  for (const auto& r : reg_names) {
    auto l = forecast::DailyFilledLineage(r);
    if (!l.ok()) return Fail(l.status());
    lineage.push_back(*l);
  }
  auto frame = forecast::ToFrame(series, reg_names);
  if (!frame.ok()) return Fail(frame.status());

  Micros start = env.lake->clock().Now();
  StatusOr<Evaluation> ev = Internal("no evaluation ran");  // every branch below sets it
  if (seed) {
    forecast::SeedOptions o;
    o.regressors = lineage;
    o.allow_leakage = a.allow_leakage;
    o.interval_width = a.interval_width;
    ev = forecast::SeedProtocol(a.symbol, *frame, *model, o);
  } else if (a.protocol == "rolling") {
    forecast::CvOptions o;
    auto initial = forecast::ParseDays(a.initial);
    auto period = forecast::ParseDays(a.period);
    auto horizon = forecast::ParseDays(a.horizon);
    for (const auto* d : {&initial, &period, &horizon}) {
      if (!d->ok()) return Fail(d->status());
    }
    o.initial_days = *initial;
    o.period_days = *period;
    o.horizon_days = *horizon;
    o.threads = a.threads;
    o.regressors = lineage;
    o.allow_leakage = a.allow_leakage;
    o.interval_width = a.interval_width;
    CutoffProgress progress("cv " + a.symbol);
    o.progress = [&progress](int done, int total) { progress(done, total); };
    ev = forecast::CrossValidate(a.symbol, *frame, *model, o);
  } else {
    return Fail(InvalidArgument("--protocol must be rolling or seed, not '{}'", a.protocol));
  }
  if (!ev.ok()) return Fail(ev.status());
  double seconds = static_cast<double>(Elapsed(env, start)) / kMicrosPerSecond;

  std::filesystem::path dir =
      a.out.empty() ? env.config.data_root / "forecasts" / (a.symbol + (seed ? "-seed" : "-cv"))
                    : std::filesystem::path(a.out);
  auto files = forecast::WriteEvaluation(*ev, dir, *env.con);
  if (!files.ok()) return Fail(files.status());
  PrintDroppedDay(series);
  std::printf("%s", Summary(*ev, seconds).c_str());
  std::printf(
      "wrote %s: metrics.json, metrics.csv, actual_vs_predicted.csv, forecasts.parquet, "
      "report.html\n",
      dir.string().c_str());
  return 0;
}

// --json-out (bench/prophet_reference.py): fits the model, predicts the history and the future
// days, and writes the fit and predict times (seconds, the lake's clock) and yhat/yhat_lower/
// yhat_upper as JSON. Nothing is written under <data>.
int RunJsonFit(Env& env, const ForecastArgs& a, const Frame& history, const Frame& future) {
  auto opts = ModelOptions(a);
  if (!opts.ok()) return Fail(opts.status());
  const Micros start = env.lake->clock().Now();
  auto m = forecast::ProphetModel::Fit(history, *opts);
  if (!m.ok()) return Fail(m.status().WithContext("prophet"));
  const Micros fitted = env.lake->clock().Now();
  Frame all;
  all.ds = history.ds;
  all.ds.insert(all.ds.end(), future.ds.begin(), future.ds.end());
  auto p = m->Predict(all);
  if (!p.ok()) return Fail(p.status().WithContext("prophet"));
  const Micros predicted = env.lake->clock().Now();
  const auto& params = m->params();
  int nonzero = 0;
  for (double d : params.delta) nonzero += d != 0;
  std::vector<std::string> days;
  for (Micros d : all.ds) days.push_back(FormatDate(d));
  nlohmann::json j = {
      {"symbol", a.symbol},
      {"history_days", history.ds.size()},
      {"periods", a.periods},
      {"fit_seconds", static_cast<double>(fitted - start) / kMicrosPerSecond},
      {"predict_seconds", static_cast<double>(predicted - fitted) / kMicrosPerSecond},
      {"iterations", params.iterations},
      {"objective", params.objective},
      {"changepoints_nonzero", nonzero},
      {"sigma_obs", params.sigma_obs},
      {"y_scale", params.y_scale},
      {"ds", days},
      {"yhat", p->yhat},
      {"yhat_lower", p->yhat_lower},
      {"yhat_upper", p->yhat_upper},
  };
  if (Status st = WriteFileAtomic(a.json_out, j.dump()); !st.ok()) return Fail(st);
  std::printf("%s %s: fitted %zu days in %.3f s, predicted %zu days in %.3f s; wrote %s\n",
              a.action.c_str(), a.symbol.c_str(), history.ds.size(),
              static_cast<double>(fitted - start) / kMicrosPerSecond, all.ds.size(),
              static_cast<double>(predicted - fitted) / kMicrosPerSecond, a.json_out.c_str());
  return 0;
}

// --model auto: the suite's CV on the history (the leaderboard, when it is long enough), the
// selection at the last day per horizon, every model fitted on the whole history, and the rows:
// the selected model's point with its conformal band (forecast/select.h). Days beyond the CV
// horizon use the selection and the calibration of its last day, the band widening as sqrt(h).
int RunSuiteFit(Env& env, const ForecastArgs& a, const forecast::DailySeries& series,
                const Frame& history, const Frame& future) {
  auto o = SuiteOptionsOf(a);
  if (!o.ok()) return Fail(o.status());
  CutoffProgress progress(a.action + " " + a.symbol + " suite");
  o->progress = [&progress](int done, int total) { progress(done, total); };
  auto cv = forecast::RunSuiteCv(a.symbol, history, *o, /*outer_required=*/false);
  if (!cv.ok()) return Fail(cv.status());
  const size_t n = history.y.size();
  forecast::SuiteForecastOptions so{a.periods, a.interval_width, a.seed, a.also_fit};
  auto suite = forecast::ForecastSuite(*cv, history, future.ds, so);
  if (!suite.ok()) return Fail(suite.status());
  forecast::Forecast& fc = suite->forecast;
  const Evaluation& ev = suite->evaluation;
  const Prediction& rows = fc.models.front().prediction;
  NoteDroppedDay(series, fc);
  auto files = WriteForecastFiles(env, fc);
  if (!files.ok()) return Fail(files.status());
  PrintDroppedDay(series);
  std::printf("%s %s: selected by nested CV on %zu days %s..%s, %d days ahead %s..%s\n",
              a.action.c_str(), a.symbol.c_str(), n, FormatDate(history.ds.front()).c_str(),
              FormatDate(history.ds.back()).c_str(), a.periods,
              FormatDate(future.ds.front()).c_str(), FormatDate(future.ds.back()).c_str());
  if (!ev.cutoffs.empty()) std::printf("%s", Leaderboard(ev, *cv).c_str());
  std::printf("why: %s\n", fc.selection->why.c_str());
  std::printf("%-12s %-10s %36s\n", "day", "model",
              fmt::format("{} band", fc.selection->interval).c_str());
  std::set<int> shown;
  for (int h : {1, 7, 30, a.periods}) {
    if (h <= a.periods) shown.insert(h);
  }
  for (int h : shown) {
    std::printf("%-12s %-10s %36s\n", FormatDate(future.ds[h - 1]).c_str(),
                fc.selection->row_models[h - 1].c_str(),
                fmt::format("{} [{}, {}]", Num(rows.yhat[h - 1], 2), Num(rows.yhat_lower[h - 1], 2),
                            Num(rows.yhat_upper[h - 1], 2))
                    .c_str());
  }
  PrintWrote(*files);
  return 0;
}

// True if <data>/forecasts/<SYMBOL>.json is a suite forecast from the same last day and close.
bool ForecastIsCurrent(Env& env, const std::string& symbol, const Frame& history) {
  std::ifstream in(env.config.data_root / "forecasts" / (symbol + ".json"), std::ios::binary);
  if (!in) return false;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("selection")) return false;
  auto end = j.find("history_end");
  auto close = j.find("last_close");
  return end != j.end() && end->is_string() && *end == FormatDate(history.ds.back()) &&
         close != j.end() && close->is_number() && close->get<double>() == history.y.back();
}

int RunFitPredict(Env& env, const ForecastArgs& a, const forecast::DailySeries& series) {
  if (a.periods < 1 || a.periods > 3650) return Fail(InvalidArgument("--periods must be 1..3650"));
  if (IsAuto(a) && a.json_out.empty()) {
    if (!a.regressors.empty()) {
      return Fail(InvalidArgument(
          "fit/predict take no regressors: a future day's ma7/ma30 needs its own close"));
    }
    auto history = forecast::ToFrame(series);
    if (!history.ok()) return Fail(history.status());
    if (a.skip_if_current && ForecastIsCurrent(env, a.symbol, *history)) {
      std::printf("%s %s: the forecast from %s is current\n", a.action.c_str(), a.symbol.c_str(),
                  FormatDate(history->ds.back()).c_str());
      return 0;
    }
    Frame future;
    future.ds = forecast::FutureDays(history->ds.back(), a.periods);
    return RunSuiteFit(env, a, series, *history, future);
  }
  auto model = PrimaryModel(a);
  if (!model.ok()) return Fail(model.status());
  if (!a.regressors.empty()) {
    return Fail(InvalidArgument(
        "fit/predict take no regressors: a future day's ma7/ma30 needs its own close"));
  }
  auto history = forecast::ToFrame(series);
  if (!history.ok()) return Fail(history.status());
  const Micros last = history->ds.back();
  Frame future;
  for (int i = 1; i <= a.periods; ++i) future.ds.push_back(last + i * kMicrosPerDay);
  if (!a.json_out.empty()) {
    if (!model->fn) return Fail(InvalidArgument("--json-out needs --model prophet"));
    return RunJsonFit(env, a, *history, future);
  }

  forecast::Forecast fc;
  fc.symbol = a.symbol;
  fc.history = *history;
  fc.interval_width = a.interval_width;
  NoteDroppedDay(series, fc);
  Micros start = env.lake->clock().Now();
  std::string fit_line;
  if (model->fn) {
    auto opts = ModelOptions(a);
    if (!opts.ok()) return Fail(opts.status());
    auto m = forecast::ProphetModel::Fit(*history, *opts);
    if (!m.ok()) return Fail(m.status().WithContext("prophet"));
    double fit_s = static_cast<double>(Elapsed(env, start)) / kMicrosPerSecond;
    auto p = m->Predict(future);
    if (!p.ok()) return Fail(p.status().WithContext("prophet"));
    fc.models.push_back({"prophet", false, *p});
    const auto& params = m->params();
    int nonzero = 0;
    for (double d : params.delta) nonzero += d != 0;
    fit_line = fmt::format(
        "prophet: fitted in {:.2f} s, {} iterations, objective {:.6g}, {} of {} changepoints "
        "non-zero, sigma_obs {:.4g} (scaled)",
        fit_s, params.iterations, params.objective, nonzero, params.delta.size(), params.sigma_obs);
    if (a.action == "fit") {
      auto in = m->Predict(Frame{history->ds, {}, {}});
      if (in.ok()) {
        std::vector<forecast::Point> pts;
        for (size_t i = 0; i < in->ds.size(); ++i) {
          pts.push_back({history->ds[i], history->ds[i], history->y[i], in->yhat[i],
                         in->yhat_lower[i], in->yhat_upper[i], 0});
        }
        auto im = forecast::ComputeMetrics(pts, 0);
        fit_line += fmt::format("; in-sample mape {}, rmse {}, coverage {}", Pct(im.mape),
                                Num(im.rmse, 2), Pct(im.coverage));
      }
    }
  }
  for (Baseline b : forecast::AllBaselines()) {
    auto p = forecast::BaselineForecast(b, *history, future.ds, a.interval_width);
    if (!p.ok()) return Fail(p.status());
    forecast::ModelForecast mf{forecast::BaselineName(b), true, *p};
    if (mf.name == model->name) {
      fc.models.insert(fc.models.begin(), std::move(mf));
    } else {
      fc.models.push_back(std::move(mf));
    }
  }
  auto files = WriteForecastFiles(env, fc);
  if (!files.ok()) return Fail(files.status());

  PrintDroppedDay(series);
  std::printf("%s %s: %s on %zu days %s..%s, %d days ahead %s..%s\n", a.action.c_str(),
              a.symbol.c_str(), model->name.c_str(), history->ds.size(),
              FormatDate(history->ds.front()).c_str(), FormatDate(last).c_str(), a.periods,
              FormatDate(future.ds.front()).c_str(), FormatDate(future.ds.back()).c_str());
  if (!fit_line.empty()) std::printf("%s\n", fit_line.c_str());
  std::string head = fmt::format("{:<12}", "day");
  for (const auto& m : fc.models) head += fmt::format(" {:>36}", m.name);
  std::printf("%s\n", head.c_str());
  std::set<int> shown;
  for (int h : {1, 7, 30, a.periods}) {
    if (h <= a.periods) shown.insert(h);
  }
  for (int h : shown) {
    std::string line = fmt::format("{:<12}", FormatDate(future.ds[h - 1]));
    for (const auto& m : fc.models) {
      const Prediction& p = m.prediction;
      line += fmt::format(
          " {:>36}", fmt::format("{} [{}, {}]", Num(p.yhat[h - 1], 2), Num(p.yhat_lower[h - 1], 2),
                                 Num(p.yhat_upper[h - 1], 2)));
    }
    std::printf("%s\n", line.c_str());
  }
  PrintWrote(*files);
  return 0;
}

// The symbol's series from the lake, or from --csv-in.
StatusOr<forecast::DailySeries> LoadSeries(Env& env, const ForecastArgs& a) {
  if (!a.csv_in.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(a.csv_in));
    return forecast::ParseProphetInputCsv(text, a.symbol);
  }
  ASSIGN_OR_RETURN(lake::Snapshot snap, env.lake->GetSnapshot());
  return forecast::LoadDailySeries(snap, *env.con, a.symbol);
}

}  // namespace

int RunForecast(Env& env, const ForecastArgs& a) {
  auto series = LoadSeries(env, a);
  if (!series.ok()) return Fail(series.status());
  if (a.action == "cv") return RunCv(env, a, *series);
  return RunFitPredict(env, a, *series);
}

}  // namespace cryptolake::app
