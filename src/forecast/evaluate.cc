#include "forecast/evaluate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "batch/forecast_io.h"
#include "forecast/parallel.h"

namespace cryptolake::forecast {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Status CheckContiguous(const std::vector<Micros>& ds, std::string_view what) {
  for (size_t i = 1; i < ds.size(); ++i) {
    if (ds[i] - ds[i - 1] != kMicrosPerDay) {
      return InvalidArgument("{}: days not contiguous ({} follows {})", what, FormatDate(ds[i]),
                             FormatDate(ds[i - 1]));
    }
  }
  return Status::Ok();
}

// Baseline forecasts of y[0, n) at horizons `hs` (>= 1): yhat and the standard deviation of each.
struct BaselineCore {
  std::vector<double> yhat, sd;
};

StatusOr<BaselineCore> RunBaseline(Baseline b, const double* y, size_t n,
                                   const std::vector<int>& hs) {
  BaselineCore out;
  out.yhat.reserve(hs.size());
  out.sd.reserve(hs.size());
  const double last = n ? y[n - 1] : kNaN;
  switch (b) {
    case Baseline::kNaive: {
      if (n < 1) return InvalidArgument("naive needs at least 1 day of history");
      double ss = 0;
      for (size_t t = 1; t < n; ++t) ss += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
      double sigma = n >= 2 ? std::sqrt(ss / static_cast<double>(n - 1)) : kNaN;
      for (int h : hs) {
        out.yhat.push_back(last);
        out.sd.push_back(sigma * std::sqrt(static_cast<double>(h)));
      }
      break;
    }
    case Baseline::kSeasonalNaive: {
      const size_t m = kSeasonDays;
      if (n < m) return InvalidArgument("seasonal_naive needs at least {} days of history", m);
      double ss = 0;
      for (size_t t = m; t < n; ++t) ss += (y[t] - y[t - m]) * (y[t] - y[t - m]);
      double sigma = n > m ? std::sqrt(ss / static_cast<double>(n - m)) : kNaN;
      for (int h : hs) {
        size_t k = static_cast<size_t>(h - 1) / m;
        out.yhat.push_back(y[n - m + static_cast<size_t>(h - 1) % m]);
        out.sd.push_back(sigma * std::sqrt(static_cast<double>(k + 1)));
      }
      break;
    }
    case Baseline::kDrift: {
      if (n < 2) return InvalidArgument("drift needs at least 2 days of history");
      double c = (last - y[0]) / static_cast<double>(n - 1);
      double ss = 0;
      for (size_t t = 1; t < n; ++t) {
        double e = y[t] - y[t - 1] - c;
        ss += e * e;
      }
      double sigma = std::sqrt(ss / static_cast<double>(n - 1));
      double big_t = static_cast<double>(n);
      for (int h : hs) {
        double hd = h;
        out.yhat.push_back(last + hd * c);
        out.sd.push_back(sigma * std::sqrt(hd * (1 + hd / big_t)));
      }
      break;
    }
  }
  return out;
}

void AppendInterval(Prediction& p, Micros ds, double yhat, double sd, double z) {
  p.ds.push_back(ds);
  p.yhat.push_back(yhat);
  p.yhat_lower.push_back(yhat - z * sd);
  p.yhat_upper.push_back(yhat + z * sd);
}

// Rows [0, end) of `f` (ds, y, regressors).
Frame Head(const Frame& f, size_t end) {
  Frame h;
  h.ds.assign(f.ds.begin(), f.ds.begin() + end);
  h.y.assign(f.y.begin(), f.y.begin() + end);
  for (const auto& [name, v] : f.regressors) h.regressors[name].assign(v.begin(), v.begin() + end);
  return h;
}

// Rows [begin, end) of `f` without y: what a model may see of the days it forecasts.
Frame Future(const Frame& f, size_t begin, size_t end) {
  Frame x;
  x.ds.assign(f.ds.begin() + begin, f.ds.begin() + end);
  for (const auto& [name, v] : f.regressors) {
    x.regressors[name].assign(v.begin() + begin, v.begin() + end);
  }
  return x;
}

// `series` restricted to the regressors in `lineage` (each must be present, sized as ds).
StatusOr<Frame> WithRegressors(const Frame& series, const std::vector<RegressorLineage>& lineage) {
  if (series.y.size() != series.ds.size()) {
    return InvalidArgument("series has {} days but {} values", series.ds.size(), series.y.size());
  }
  RETURN_IF_ERROR(CheckContiguous(series.ds, "series"));
  Frame f;
  f.ds = series.ds;
  f.y = series.y;
  for (const auto& r : lineage) {
    auto it = series.regressors.find(r.name);
    if (it == series.regressors.end() || it->second.size() != series.ds.size()) {
      return InvalidArgument("regressor {} is missing from the series", r.name);
    }
    f.regressors[r.name] = it->second;
  }
  return f;
}

std::vector<std::string> Names(const std::vector<RegressorLineage>& lineage) {
  std::vector<std::string> out;
  for (const auto& r : lineage) out.push_back(r.name);
  return out;
}

Status CheckPrediction(const Prediction& p, const Frame& future) {
  if (p.yhat.size() != future.ds.size() || p.yhat_lower.size() != future.ds.size() ||
      p.yhat_upper.size() != future.ds.size()) {
    return Internal("the model returned {} forecasts for {} days", p.yhat.size(), future.ds.size());
  }
  return Status::Ok();
}

void AddPoints(std::vector<Point>& out, Micros cutoff, double scale, const Frame& future,
               const std::vector<double>& actual, const Prediction& p) {
  for (size_t i = 0; i < future.ds.size(); ++i) {
    out.push_back(
        {cutoff, future.ds[i], actual[i], p.yhat[i], p.yhat_lower[i], p.yhat_upper[i], scale});
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Input

StatusOr<DailySeries> LoadDailySeries(const lake::Snapshot& snap, lake::Connection& con,
                                      const std::string& symbol) {
  ASSIGN_OR_RETURN(std::vector<batch::ProphetDay> days, batch::ReadProphetInput(con, snap, symbol));
  if (days.empty()) {
    return NotFound("no prophet_input for {}: run cryptolake batch (symbols: {})", symbol,
                    fmt::join(batch::ProphetInputSymbols(snap), ", "));
  }
  DailySeries s;
  s.symbol = symbol;
  for (const batch::ProphetDay& d : days) {
    s.ds.push_back(d.ds);
    s.y.push_back(d.y);
    s.ma7.push_back(d.ma7.value_or(kNaN));
    s.ma30.push_back(d.ma30.value_or(kNaN));
    s.minutes_present.push_back(d.minutes_present);
  }
  if (Status st = CheckContiguous(s.ds, "prophet_input " + symbol); !st.ok()) {
    return DataLoss("{}", st.message());
  }
  if (s.minutes_present.back() < 1440) {
    s.dropped_partial_day = s.ds.back();
    s.ds.pop_back();
    s.y.pop_back();
    s.ma7.pop_back();
    s.ma30.pop_back();
    s.minutes_present.pop_back();
    if (s.ds.empty()) return NotFound("{} has no complete day yet", symbol);
  }
  return s;
}

StatusOr<DailySeries> ParseProphetInputCsv(std::string_view text, const std::string& symbol) {
  DailySeries s;
  s.symbol = symbol;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1) {
      if (line != "ds,y") {
        return InvalidArgument("prophet_input CSV: expected the header 'ds,y', got '{}'", line);
      }
      continue;
    }
    if (line.empty() && text.empty()) break;  // the trailing newline
    size_t comma = line.find(',');
    if (comma == std::string_view::npos || line.find(',', comma + 1) != std::string_view::npos) {
      return InvalidArgument("prophet_input CSV line {}: expected 2 fields 'ds,y', got '{}'",
                             line_no, line);
    }
    std::string_view ds_text = line.substr(0, comma), y_text = line.substr(comma + 1);
    StatusOr<Micros> ds = ParseTime(ds_text);
    if (ds_text.size() != 10 || !ds.ok() || DayFloor(*ds) != *ds) {
      return InvalidArgument("prophet_input CSV line {}: ds '{}' is not a UTC date", line_no,
                             ds_text);
    }
    double y = 0;
    auto [end, ec] = std::from_chars(y_text.data(), y_text.data() + y_text.size(), y);
    if (ec != std::errc() || end != y_text.data() + y_text.size() || !std::isfinite(y)) {
      return InvalidArgument("prophet_input CSV line {}: y '{}' is not a finite number", line_no,
                             y_text);
    }
    if (!s.ds.empty() && *ds - s.ds.back() != kMicrosPerDay) {
      return InvalidArgument("prophet_input CSV line {}: {} follows {}, days must be contiguous",
                             line_no, FormatDate(*ds), FormatDate(s.ds.back()));
    }
    s.ds.push_back(*ds);
    s.y.push_back(y);
    s.minutes_present.push_back(1440);
  }
  if (line_no == 0) return InvalidArgument("prophet_input CSV: expected the header 'ds,y', got ''");
  if (s.ds.empty()) return InvalidArgument("prophet_input CSV has no rows");
  return s;
}

StatusOr<Frame> ToFrame(const DailySeries& s, const std::vector<std::string>& regressors) {
  Frame f;
  f.ds = s.ds;
  f.y = s.y;
  for (const auto& name : regressors) {
    if ((name == "ma7" || name == "ma30") && s.ma7.size() != s.ds.size()) {
      return InvalidArgument("regressor '{}' is not in this series (a prophet_input CSV has none)",
                             name);
    }
    if (name == "ma7") {
      f.regressors[name] = s.ma7;
    } else if (name == "ma30") {
      f.regressors[name] = s.ma30;
    } else {
      return InvalidArgument("unknown regressor '{}' (known: ma7, ma30)", name);
    }
  }
  return f;
}

StatusOr<int> ParseDays(std::string_view s) {
  std::string_view num = s;
  for (std::string_view suffix : {" days", "days", " day", "day", "d"}) {
    if (num.size() > suffix.size() && num.substr(num.size() - suffix.size()) == suffix) {
      num.remove_suffix(suffix.size());
      break;
    }
  }
  int v = 0;
  bool ok = !num.empty() && num.size() <= 6;
  for (char c : num) {
    if (c < '0' || c > '9') ok = false;
    if (ok) v = v * 10 + (c - '0');
  }
  if (!ok || v <= 0) {
    return InvalidArgument("cannot parse '{}' as a number of days (e.g. 730d, 30d)", s);
  }
  return v;
}

double NormalQuantile(double p) {
  // Acklam's rational approximation (relative error < 1.2e-9), then one Halley step on erfc.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (!(p > 0 && p < 1)) return kNaN;
  const double lo = 0.02425;
  double x;
  if (p < lo) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lo) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// ---------------------------------------------------------------------------------------------
// Baselines

const char* BaselineName(Baseline b) {
  switch (b) {
    case Baseline::kNaive:
      return "naive";
    case Baseline::kSeasonalNaive:
      return "seasonal_naive";
    case Baseline::kDrift:
      return "drift";
  }
  return "?";
}

const std::vector<Baseline>& AllBaselines() {
  static const std::vector<Baseline> all = {Baseline::kNaive, Baseline::kSeasonalNaive,
                                            Baseline::kDrift};
  return all;
}

std::optional<Baseline> ParseBaseline(std::string_view name) {
  for (Baseline b : AllBaselines()) {
    if (name == BaselineName(b)) return b;
  }
  return std::nullopt;
}

StatusOr<Prediction> BaselineForecast(Baseline b, const Frame& history,
                                      const std::vector<Micros>& future, double interval_width) {
  if (history.ds.empty() || history.y.size() != history.ds.size()) {
    return InvalidArgument("{}: empty history", BaselineName(b));
  }
  RETURN_IF_ERROR(CheckContiguous(history.ds, BaselineName(b)));
  std::vector<int> hs;
  for (Micros d : future) {
    Micros diff = d - history.ds.back();
    if (diff <= 0 || diff % kMicrosPerDay != 0) {
      return InvalidArgument("{}: {} is not a day after the history (last {})", BaselineName(b),
                             FormatIso(d), FormatDate(history.ds.back()));
    }
    hs.push_back(static_cast<int>(diff / kMicrosPerDay));
  }
  ASSIGN_OR_RETURN(BaselineCore core, RunBaseline(b, history.y.data(), history.y.size(), hs));
  double z = NormalQuantile((1 + interval_width) / 2);
  Prediction p;
  for (size_t i = 0; i < future.size(); ++i)
    AppendInterval(p, future[i], core.yhat[i], core.sd[i], z);
  return p;
}

StatusOr<Prediction> OneStepBaseline(Baseline b, const Frame& series, size_t begin,
                                     double interval_width) {
  if (series.y.size() != series.ds.size() || begin > series.ds.size()) {
    return InvalidArgument("{}: bad series or begin", BaselineName(b));
  }
  RETURN_IF_ERROR(CheckContiguous(series.ds, BaselineName(b)));
  double z = NormalQuantile((1 + interval_width) / 2);
  Prediction p;
  for (size_t i = begin; i < series.ds.size(); ++i) {
    ASSIGN_OR_RETURN(BaselineCore core, RunBaseline(b, series.y.data(), i, {1}));
    AppendInterval(p, series.ds[i], core.yhat[0], core.sd[0], z);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Leakage

StatusOr<RegressorLineage> DailyFilledLineage(std::string_view name) {
  // views.h: ma7 / ma30 = mean close over the last 7 / 30 rows of daily_filled including the day.
  if (name == "ma7") return RegressorLineage{"ma7", -6, 0};
  if (name == "ma30") return RegressorLineage{"ma30", -29, 0};
  return InvalidArgument("unknown regressor '{}' (known: ma7, ma30)", name);
}

std::vector<Leak> DetectLeakage(
    const std::vector<RegressorLineage>& regressors,
    const std::vector<std::pair<Micros, std::vector<Micros>>>& forecasts) {
  std::vector<Leak> out;
  for (const auto& r : regressors) {
    bool found = false;
    for (const auto& [cutoff, days] : forecasts) {
      for (Micros d : days) {
        Micros uses = d + static_cast<Micros>(r.last_offset) * kMicrosPerDay;
        if (uses <= cutoff) continue;
        Leak l{r.name, d, uses, cutoff, ""};
        l.message =
            uses == d
                ? fmt::format(
                      "regressor {} at {} uses close of {}, the day being forecast: leakage",
                      r.name, FormatDate(d), FormatDate(uses))
                : fmt::format("regressor {} at {} uses close of {}, after the cutoff {}: leakage",
                              r.name, FormatDate(d), FormatDate(uses), FormatDate(cutoff));
        out.push_back(std::move(l));
        found = true;
        break;
      }
      if (found) break;
    }
  }
  return out;
}

std::string LeakageRefusal(const std::vector<Leak>& leaks) {
  std::string out;
  for (const auto& l : leaks) {
    out += l.message;
    out += "; ";
  }
  return out + "pass --allow-leakage to compute the prototype's inflated metrics anyway";
}

// ---------------------------------------------------------------------------------------------
// Protocols

const ModelResult* Evaluation::Find(std::string_view name) const {
  for (const auto& m : models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

namespace {

// What every protocol's evaluation of `model` on f records (CvOptions or SeedOptions): the
// series, cutoffs, regressors and interval width, and the regressors' leakage into the days
// forecast at each cutoff; FailedPrecondition (LeakageRefusal) if one leaks and !allow_leakage.
template <typename Options>
StatusOr<Evaluation> NewEvaluation(
    const std::string& symbol, const char* protocol, const NamedModel& model, const Frame& f,
    std::vector<Micros> cutoffs,
    const std::vector<std::pair<Micros, std::vector<Micros>>>& forecasts, const Options& options) {
  Evaluation ev;
  ev.symbol = symbol;
  ev.protocol = protocol;
  ev.primary = model.name.empty() ? BaselineName(Baseline::kNaive) : model.name;
  ev.series.ds = f.ds;
  ev.series.y = f.y;
  ev.cutoffs = std::move(cutoffs);
  ev.regressors = Names(options.regressors);
  ev.interval_width = options.interval_width;
  ev.leakage = DetectLeakage(options.regressors, forecasts);
  if (ev.leaky() && !options.allow_leakage) {
    return FailedPrecondition("{}", LeakageRefusal(ev.leakage));
  }
  return ev;
}

}  // namespace

StatusOr<std::vector<Micros>> GenerateCutoffs(const std::vector<Micros>& ds, int initial_days,
                                              int period_days, int horizon_days) {
  if (ds.empty()) return InvalidArgument("no data to cross-validate");
  if (initial_days <= 0 || period_days <= 0 || horizon_days <= 0) {
    return InvalidArgument("initial, period and horizon must be positive");
  }
  const Micros horizon = static_cast<Micros>(horizon_days) * kMicrosPerDay;
  const Micros period = static_cast<Micros>(period_days) * kMicrosPerDay;
  const Micros initial = static_cast<Micros>(initial_days) * kMicrosPerDay;
  auto none = [&] {
    return InvalidArgument("initial {}d + horizon {}d leave no cutoff in {}..{} ({} days)",
                           initial_days, horizon_days, FormatDate(ds.front()),
                           FormatDate(ds.back()), ds.size());
  };
  Micros cutoff = ds.back() - horizon;
  if (cutoff < ds.front()) return none();
  std::vector<Micros> result = {cutoff};
  while (result.back() >= ds.front() + initial) {
    cutoff -= period;
    // No data in (cutoff, cutoff + horizon]: move to the last day before the cutoff - horizon.
    auto first_after = std::upper_bound(ds.begin(), ds.end(), cutoff);
    bool any = first_after != ds.end() && *first_after <= cutoff + horizon;
    if (!any && cutoff > ds.front()) cutoff = *(first_after - 1) - horizon;
    result.push_back(cutoff);
  }
  result.pop_back();
  if (result.empty()) return none();
  std::reverse(result.begin(), result.end());
  return result;
}

StatusOr<Evaluation> CrossValidate(const std::string& symbol, const Frame& series,
                                   const NamedModel& model, const CvOptions& options) {
  ASSIGN_OR_RETURN(Frame f, WithRegressors(series, options.regressors));
  ASSIGN_OR_RETURN(
      std::vector<Micros> cutoffs,
      GenerateCutoffs(f.ds, options.initial_days, options.period_days, options.horizon_days));
  const Micros horizon = static_cast<Micros>(options.horizon_days) * kMicrosPerDay;
  // Per cutoff: history rows [0, end), forecast rows [end, stop).
  struct Span {
    size_t end, stop;
  };
  std::vector<Span> spans;
  std::vector<std::pair<Micros, std::vector<Micros>>> forecasts;
  for (Micros c : cutoffs) {
    size_t end = std::upper_bound(f.ds.begin(), f.ds.end(), c) - f.ds.begin();
    size_t stop = std::upper_bound(f.ds.begin(), f.ds.end(), c + horizon) - f.ds.begin();
    spans.push_back({end, stop});
    forecasts.emplace_back(c, std::vector<Micros>(f.ds.begin() + end, f.ds.begin() + stop));
  }

  ASSIGN_OR_RETURN(Evaluation ev,
                   NewEvaluation(symbol, "rolling", model, f, cutoffs, forecasts, options));
  ev.initial_days = options.initial_days;
  ev.period_days = options.period_days;
  ev.horizon_days = options.horizon_days;

  // Models: the injected one (if it has a fn), then the baselines.
  const bool has_model = static_cast<bool>(model.fn);
  if (has_model) ev.models.push_back({model.name, false, {}, {}});
  for (Baseline b : AllBaselines()) ev.models.push_back({BaselineName(b), true, {}, {}});
  const size_t n_models = ev.models.size();

  // results[cutoff][model]: the points of that forecast.
  std::vector<std::vector<std::vector<Point>>> results(cutoffs.size(),
                                                       std::vector<std::vector<Point>>(n_models));
  auto task = [&](size_t i) {
    const Span sp = spans[i];
    Frame hist = Head(f, sp.end);
    Frame fut = Future(f, sp.end, sp.stop);
    std::vector<double> actual(f.y.begin() + sp.end, f.y.begin() + sp.stop);
    double scale = NaiveScale(hist.y, hist.y.size());
    Status st;
    size_t slot = 0;
    if (has_model) {
      auto p = model.fn(hist, fut);
      if (p.ok()) st = CheckPrediction(*p, fut);
      if (!p.ok() || !st.ok()) {
        st = (p.ok() ? st : p.status())
                 .WithContext(fmt::format("{} at cutoff {}", model.name, FormatDate(cutoffs[i])));
      } else {
        AddPoints(results[i][slot], cutoffs[i], scale, fut, actual, *p);
      }
      ++slot;
    }
    for (Baseline b : AllBaselines()) {
      if (!st.ok()) break;
      auto p = BaselineForecast(b, hist, fut.ds, options.interval_width);
      if (!p.ok()) {
        st = p.status().WithContext(
            fmt::format("{} at cutoff {}", BaselineName(b), FormatDate(cutoffs[i])));
        break;
      }
      AddPoints(results[i][slot++], cutoffs[i], scale, fut, actual, *p);
    }
    return st;
  };
  RETURN_IF_ERROR(RunIndexed(cutoffs.size(), options.threads, task, options.progress, &ev.threads));
  for (size_t m = 0; m < n_models; ++m) {
    for (auto& per_cutoff : results) {
      auto& pts = per_cutoff[m];
      ev.models[m].points.insert(ev.models[m].points.end(), pts.begin(), pts.end());
    }
    ev.models[m].metrics = PerformanceMetrics(ev.models[m].points);
  }
  SetRelativeMae(ev.models, BaselineName(Baseline::kNaive));
  return ev;
}

SeedSplit SplitSeed(size_t n, double train_fraction) {
  size_t train = static_cast<size_t>(std::floor(static_cast<double>(n) * train_fraction));
  train = std::min(train, n);
  return {train, n - train};
}

StatusOr<Evaluation> SeedProtocol(const std::string& symbol, const Frame& series,
                                  const NamedModel& model, const SeedOptions& options) {
  ASSIGN_OR_RETURN(Frame f, WithRegressors(series, options.regressors));
  SeedSplit split = SplitSeed(f.ds.size(), options.train_fraction);
  if (split.train < static_cast<size_t>(kSeasonDays) || split.test == 0) {
    return InvalidArgument("{} days split {}/{}: need at least {} training days and 1 test day",
                           f.ds.size(), split.train, split.test, kSeasonDays);
  }
  const Micros cutoff = f.ds[split.train - 1];
  Frame hist = Head(f, split.train);
  Frame fut = Future(f, split.train, f.ds.size());
  std::vector<double> actual(f.y.begin() + split.train, f.y.end());

  ASSIGN_OR_RETURN(Evaluation ev,
                   NewEvaluation(symbol, "seed", model, f, {cutoff}, {{cutoff, fut.ds}}, options));
  ev.train_days = split.train;
  ev.test_days = split.test;
  const double scale = NaiveScale(f.y, split.train);
  if (model.fn) {
    auto p = model.fn(hist, fut);
    if (!p.ok()) return p.status().WithContext(model.name);
    RETURN_IF_ERROR(CheckPrediction(*p, fut));
    ModelResult r{model.name, false, {}, {}};
    AddPoints(r.points, cutoff, scale, fut, actual, *p);
    ev.models.push_back(std::move(r));
  }
  for (Baseline b : AllBaselines()) {
    ASSIGN_OR_RETURN(Prediction p, BaselineForecast(b, hist, fut.ds, options.interval_width));
    ModelResult r{BaselineName(b), true, {}, {}};
    AddPoints(r.points, cutoff, scale, fut, actual, p);
    ev.models.push_back(std::move(r));
  }
  for (Baseline b : AllBaselines()) {
    ASSIGN_OR_RETURN(Prediction p, OneStepBaseline(b, f, split.train, options.interval_width));
    ModelResult r{std::string(BaselineName(b)) + "_1step", true, {}, {}};
    for (size_t i = 0; i < p.ds.size(); ++i) {
      r.points.push_back({p.ds[i] - kMicrosPerDay, p.ds[i], actual[i], p.yhat[i], p.yhat_lower[i],
                          p.yhat_upper[i], scale});
    }
    ev.models.push_back(std::move(r));
  }
  for (auto& m : ev.models) m.metrics = {ComputeMetrics(m.points, 0)};
  SetRelativeMae(ev.models, BaselineName(Baseline::kNaive));
  return ev;
}

}  // namespace cryptolake::forecast
