#include "forecast/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/fsutil.h"
#include "forecast/report_assets.h"

namespace cryptolake::forecast {

namespace {

using nlohmann::json;

// Shortest round-trip form; NaN/inf as an empty field.
std::string CsvNum(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

json JsonNum(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json MetricsRowJson(const Metrics& m) {
  return {{"horizon_days", m.horizon_days ? json(m.horizon_days) : json(nullptr)},
          {"n", m.n},
          {"mse", JsonNum(m.mse)},
          {"rmse", JsonNum(m.rmse)},
          {"mae", JsonNum(m.mae)},
          {"mape", JsonNum(m.mape)},
          {"mdape", JsonNum(m.mdape)},
          {"smape", JsonNum(m.smape)},
          {"coverage", JsonNum(m.coverage)},
          {"mase", JsonNum(m.mase)},
          {"rel_mae", JsonNum(m.rel_mae)}};
}

std::string Esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

int64_t DayNumber(Micros t) { return t / kMicrosPerDay; }

using ForecastRow = batch::ForecastParquetRow;

Status MakeDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError("cannot create {}: {}", dir.string(), ec.message());
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The HTML report: one chart spec, rendered by an inline script on a canvas.

struct Segment {
  Micros cutoff = 0;
  bool one_step = false;  // each day forecast from the day before (cutoff: the first's)
  std::vector<Micros> ds;
  std::vector<double> yhat, lo, hi;
};

struct ChartModel {
  std::string name;
  bool baseline = false;
  std::vector<Segment> segments;
};

struct Chart {
  std::string title, subtitle;
  std::vector<std::string> warnings, notes;
  std::string primary;
  const Frame* history = nullptr;
  Micros shade_from = 0, shade_to = 0;
  std::string shade_label, focus_label;
  bool start_focused = false;  // open on the focus range (the forecast) rather than everything
  std::vector<Micros> cutoffs;
  std::vector<ChartModel> models;
  std::string tables_html;
};

// Six significant digits are plenty for drawing; keeps the page small.
std::string ChartNum(double v) {
  return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string("null");
}

std::string ChartData(const Chart& c) {
  std::string o = "{";
  auto nums = [&](const std::vector<double>& v) {
    o += '[';
    for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + ChartNum(v[i]);
    o += ']';
  };
  auto days = [&](const std::vector<Micros>& v) {
    o += '[';
    for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + std::to_string(DayNumber(v[i]));
    o += ']';
  };
  o += "\"primary\":" + json(c.primary).dump();
  o += ",\"shade\":[" + std::to_string(DayNumber(c.shade_from)) + "," +
       std::to_string(DayNumber(c.shade_to)) + "," + json(c.shade_label).dump() + "]";
  o += ",\"focusLabel\":" + json(c.focus_label).dump();
  o += std::string(",\"start\":") + (c.start_focused ? "\"focus\"" : "\"all\"");
  o += ",\"cutoffs\":";
  days(c.cutoffs);
  o += ",\"history\":{\"d\":";
  days(c.history->ds);
  o += ",\"y\":";
  nums(c.history->y);
  o += "},\"models\":[";
  for (size_t m = 0; m < c.models.size(); ++m) {
    const ChartModel& cm = c.models[m];
    o += (m ? "," : "") + std::string("{\"name\":") + json(cm.name).dump() +
         ",\"baseline\":" + (cm.baseline ? "true" : "false") + ",\"segs\":[";
    for (size_t s = 0; s < cm.segments.size(); ++s) {
      const Segment& sg = cm.segments[s];
      o += (s ? "," : "") + std::string("{\"c\":") + std::to_string(DayNumber(sg.cutoff)) +
           (sg.one_step ? ",\"o\":1" : "") + ",\"d\":";
      days(sg.ds);
      o += ",\"yhat\":";
      nums(sg.yhat);
      o += ",\"lo\":";
      nums(sg.lo);
      o += ",\"hi\":";
      nums(sg.hi);
      o += "}";
    }
    o += "]}";
  }
  o += "]}";
  // Nothing in the data may close the script element.
  std::string safe;
  for (char ch : o) safe += ch == '<' ? std::string("\\u003c") : std::string(1, ch);
  return safe;
}

// The page: the stylesheet and the chart script (web/report.css, web/report.js) inline.
std::string RenderHtml(const Chart& c) {
  std::string h = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h +=
      "<title>" + Esc(c.title) + "</title>\n<style>\n" + kReportCss + "</style>\n</head>\n<body>\n";
  h += "<h1>" + Esc(c.title) + "</h1>\n<p class=\"sub\">" + Esc(c.subtitle) + "</p>\n";
  for (const auto& w : c.warnings) h += "<div class=\"warn\">" + Esc(w) + "</div>\n";
  h += "<div class=\"controls\"><button id=\"all\">All</button><button id=\"focus\"></button>"
       "<button id=\"year\">Last 365 days</button><label><input type=\"checkbox\" id=\"log\"> "
       "log scale</label><span id=\"models\" class=\"controls\"></span></div>\n";
  h += "<div id=\"wrap\"><canvas id=\"chart\"></canvas><div id=\"tip\"></div></div>\n";
  h += "<p class=\"note\">Black: the actual daily close. Drag across the chart to zoom, "
       "double-click to see everything; hover for the values. Ticks on the time axis mark the "
       "cutoffs (the last day each forecast knew).</p>\n";
  for (const auto& n : c.notes) h += "<p class=\"note\">" + Esc(n) + "</p>\n";
  h += c.tables_html;
  h += "<script>\nconst DATA = " + ChartData(c) + ";\n\n" + kReportScript +
       "</script>\n</body>\n</html>\n";
  return h;
}

std::string Pct(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", v * 100) : "-"; }
std::string Fix(double v, int digits) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "-";
}

std::string MetricsTable(const Evaluation& ev, const std::vector<int>& horizons) {
  std::string t =
      "<table>\n<tr><th>model</th><th>horizon</th><th>n</th><th>MAPE</th><th>MdAPE</th>"
      "<th>sMAPE</th><th>RMSE</th><th>MAE</th><th>coverage</th><th>MASE</th><th>MAE / naive</th>"
      "</tr>\n";
  for (int h : horizons) {
    for (const ModelResult& m : ev.models) {
      const Metrics* row = nullptr;
      for (const Metrics& x : m.metrics) {
        if (x.horizon_days == h) row = &x;
      }
      if (!row) continue;
      std::string cls = m.name == ev.primary ? "primary" : (m.baseline ? "base" : "");
      t += fmt::format(
          "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
          cls, Esc(m.name) + (m.baseline ? " (baseline)" : ""),
          h ? fmt::format("{} d", h) : std::string("all"), row->n, Pct(row->mape), Pct(row->mdape),
          Pct(row->smape), Fix(row->rmse, 2), Fix(row->mae, 2), Pct(row->coverage),
          Fix(row->mase, 3), Fix(row->rel_mae, 3));
    }
  }
  return t + "</table>\n";
}

Chart EvaluationChart(const Evaluation& ev) {
  Chart c;
  c.primary = ev.primary;
  c.history = &ev.series;
  c.cutoffs = ev.cutoffs;
  const std::string iw = fmt::format("{:g}%", ev.interval_width * 100);
  const std::string regs =
      ev.regressors.empty() ? "none" : fmt::format("{}", fmt::join(ev.regressors, ", "));
  if (ev.protocol == "seed") {
    c.title = ev.symbol + ": the prototype's evaluation (seed protocol)";
    c.subtitle = fmt::format(
        "Train {} days {}..{}, test {} days {}..{}; regressors: {}; interval {}.", ev.train_days,
        FormatDate(ev.series.ds.front()), FormatDate(ev.series.ds[ev.train_days - 1]), ev.test_days,
        FormatDate(ev.series.ds[ev.train_days]), FormatDate(ev.series.ds.back()), regs, iw);
    c.shade_from = ev.series.ds[ev.train_days];
    c.focus_label = "Test period";
    c.notes.push_back(
        "Baselines: naive, seasonal_naive (7 days) and drift forecast the whole test period "
        "from the last training day, as the model does; naive_1step, seasonal_naive_1step and "
        "drift_1step forecast each test day from the days before it (naive_1step is 'tomorrow "
        "= today').");
  } else {
    c.title = ev.symbol + ": rolling-origin cross-validation";
    c.subtitle = fmt::format(
        "{} cutoffs {}..{}, every {} days; each forecasts the next {} days from the days up to "
        "it (at least {} days of history); regressors: {}; interval {}.",
        ev.cutoffs.size(), FormatDate(ev.cutoffs.front()), FormatDate(ev.cutoffs.back()),
        ev.period_days, ev.horizon_days, ev.initial_days, regs, iw);
    c.shade_from = ev.cutoffs.front() + kMicrosPerDay;
    c.focus_label = "Forecast period";
    if (ev.selection.empty()) {
      c.notes.push_back(
          "Baselines from each cutoff: naive (the cutoff's close), seasonal_naive (the same "
          "weekday of the cutoff's last week) and drift (the line from the first to the last "
          "close). Metrics per horizon (days after the cutoff) as Prophet's performance_metrics; "
          "MASE against the in-sample naive one-step error of each cutoff's history.");
    } else {
      c.notes.push_back(
          "The model suite, each with its split-conformal interval calibrated on the cutoffs "
          "before each cutoff, and the selected procedure (nested CV): at each cutoff and "
          "horizon, the model chosen by the inner CV of the cutoffs before it, with its band. "
          "MASE against the in-sample naive one-step error of each cutoff's history.");
    }
  }
  c.shade_to = ev.series.ds.back();
  c.shade_label = ev.protocol == "seed" ? "test" : "forecasts";
  if (ev.leaky()) {
    std::vector<std::string> msgs;
    for (const auto& l : ev.leakage) msgs.push_back(l.message);
    c.warnings.push_back(fmt::format(
        "Leaky run (--allow-leakage): {}. The model saw, for every day it forecast, a value "
        "computed from that day's close: these metrics are inflated and do not measure a "
        "forecast.",
        fmt::join(msgs, "; ")));
  }
  for (const ModelResult& m : ev.models) {
    ChartModel cm{m.name, m.baseline, {}};
    for (const Point& p : m.points) {
      if (cm.segments.empty() || cm.segments.back().cutoff != p.cutoff ||
          (!cm.segments.back().ds.empty() &&
           cm.segments.back().ds.back() + kMicrosPerDay != p.ds)) {
        cm.segments.push_back({p.cutoff, false, {}, {}, {}, {}});
      }
      Segment& s = cm.segments.back();
      s.ds.push_back(p.ds);
      s.yhat.push_back(p.yhat);
      s.lo.push_back(p.yhat_lower);
      s.hi.push_back(p.yhat_upper);
    }
    // One-step forecasts each have their own cutoff: draw them as one line.
    if (m.name.size() > 6 && m.name.substr(m.name.size() - 6) == "_1step") {
      Segment all{ev.cutoffs.front(), true, {}, {}, {}, {}};
      for (const Segment& s : cm.segments) {
        all.ds.insert(all.ds.end(), s.ds.begin(), s.ds.end());
        all.yhat.insert(all.yhat.end(), s.yhat.begin(), s.yhat.end());
        all.lo.insert(all.lo.end(), s.lo.begin(), s.lo.end());
        all.hi.insert(all.hi.end(), s.hi.begin(), s.hi.end());
      }
      cm.segments = {std::move(all)};
    }
    c.models.push_back(std::move(cm));
  }
  std::vector<int> main_h;
  if (ev.protocol == "rolling") {
    for (int h : {1, 7, 30}) {
      if (h <= ev.horizon_days) main_h.push_back(h);
    }
  }
  main_h.push_back(0);
  if (!ev.selection.empty()) {
    c.tables_html += "<h2>Selected today</h2>\n<ul class=\"selection\">\n";
    for (const auto& line : ev.selection) c.tables_html += "<li>" + Esc(line) + "</li>\n";
    c.tables_html += "</ul>\n";
  }
  c.tables_html +=
      "<h2>Metrics</h2>\n<p class=\"note\">Ratios in percent of the actual close; "
      "coverage: share of actual closes inside the interval (nominal " +
      iw +
      "); MASE &lt; 1 beats the in-sample naive one-step error; MAE / naive &lt; 1 beats "
      "the naive baseline on the same forecasts.</p>\n" +
      MetricsTable(ev, main_h);
  if (ev.protocol == "rolling") {
    std::vector<int> every;
    for (int h = 1; h <= ev.horizon_days; ++h) every.push_back(h);
    c.tables_html +=
        "<details><summary>Every horizon</summary>\n" + MetricsTable(ev, every) + "</details>\n";
  }
  c.tables_html +=
      "<p class=\"note\">Files beside this report: metrics.json, metrics.csv, "
      "actual_vs_predicted.csv, forecasts.parquet.</p>\n";
  return c;
}

// --model auto: why the forecast is what it is, and the leaderboard of the nested CV.
std::string SelectionHtml(const Forecast& fc) {
  const SuiteSelection& sel = *fc.selection;
  std::string t =
      "<h2>Selected model</h2>\n<p>" + Esc(sel.why) + "</p>\n<ul class=\"selection\">\n";
  for (const auto& [h, c] : sel.by_horizon) {
    t += fmt::format("<li>{} d: {}</li>\n", h, Esc(c.why));
  }
  t += "</ul>\n<p class=\"note\">Rule: " + Esc(sel.rule) + ". Band: " +
       (sel.interval == "conformal"
            ? fmt::format("split-conformal {:g}% interval of the selected model (log errors of "
                          "the earlier cutoffs, scaled by the volatility known at each cutoff)",
                          fc.interval_width * 100)
            : std::string("the model's own interval (too little history to calibrate)")) +
       ".</p>\n";
  if (sel.leaderboard.empty()) {
    return t +
           "<p class=\"note\">No leaderboard: the history is too short for the "
           "cross-validation.</p>\n";
  }
  t += fmt::format(
      "<h2>Leaderboard</h2>\n<p class=\"note\">Honest CV of the history: {} cutoffs every {} "
      "days after {} days, {} days ahead; each model with its conformal band; the selected "
      "procedure chose its model at each cutoff from the cutoffs before it (nested CV).</p>\n",
      sel.cutoffs, sel.period_days, sel.initial_days, sel.horizon_days);
  t += "<table class=\"leaderboard\">\n<tr><th>model</th>";
  const auto& first = sel.leaderboard.front().horizons;
  for (const char* what : {"MAPE", "MASE", "coverage"}) {
    for (const Metrics& m : first) t += fmt::format("<th>{} {} d</th>", what, m.horizon_days);
  }
  t += "</tr>\n";
  for (const LeaderboardEntry& e : sel.leaderboard) {
    t += std::string("<tr") + (e.selected ? " class=\"primary\"" : "") + "><td>" + Esc(e.model) +
         (e.selected ? " (selected)" : "") + "</td>";
    for (const Metrics& m : e.horizons) t += "<td>" + Pct(m.mape) + "</td>";
    for (const Metrics& m : e.horizons) t += "<td>" + Fix(m.mase, 3) + "</td>";
    for (const Metrics& m : e.horizons) t += "<td>" + Pct(m.coverage) + "</td>";
    t += "</tr>\n";
  }
  return t + "</table>\n";
}

std::vector<ForecastRow> EvaluationRows(const Evaluation& ev) {
  std::vector<ForecastRow> rows;
  for (const ModelResult& m : ev.models) {
    for (const Point& p : m.points) {
      rows.push_back({&m.name, p.cutoff, p.ds, p.y, p.yhat, p.yhat_lower, p.yhat_upper});
    }
  }
  return rows;
}

std::vector<ForecastRow> ForecastRows(const Forecast& fc) {
  std::vector<ForecastRow> rows;
  Micros cutoff = fc.history.ds.back();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const ModelForecast& m : fc.models) {
    const Prediction& p = m.prediction;
    for (size_t i = 0; i < p.ds.size(); ++i) {
      rows.push_back({&m.name, cutoff, p.ds[i], nan, p.yhat[i], p.yhat_lower[i], p.yhat_upper[i]});
    }
  }
  return rows;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// cv / seed

std::string MetricsJson(const Evaluation& ev) {
  json j;
  j["symbol"] = ev.symbol;
  j["protocol"] = ev.protocol;
  j["primary"] = ev.primary;
  j["leaky"] = ev.leaky();
  json leaks = json::array();
  for (const auto& l : ev.leakage) leaks.push_back(l.message);
  j["leakage"] = leaks;
  j["regressors"] = ev.regressors;
  json cutoffs = json::array();
  for (Micros c : ev.cutoffs) cutoffs.push_back(FormatDate(c));
  j["cutoffs"] = cutoffs;
  auto opt = [](bool on, int64_t v) { return on ? json(v) : json(nullptr); };
  const bool rolling = ev.protocol == "rolling";
  j["initial_days"] = opt(rolling, ev.initial_days);
  j["period_days"] = opt(rolling, ev.period_days);
  j["horizon_days"] = opt(rolling, ev.horizon_days);
  j["train_days"] = opt(!rolling, static_cast<int64_t>(ev.train_days));
  j["test_days"] = opt(!rolling, static_cast<int64_t>(ev.test_days));
  j["interval_width"] = ev.interval_width;
  json models = json::array();
  for (const ModelResult& m : ev.models) {
    json rows = json::array();
    for (const Metrics& x : m.metrics) rows.push_back(MetricsRowJson(x));
    models.push_back({{"name", m.name}, {"baseline", m.baseline}, {"metrics", rows}});
  }
  j["models"] = models;
  if (!ev.selection.empty()) j["selection"] = ev.selection;
  return j.dump(2) + "\n";
}

std::string MetricsCsv(const Evaluation& ev) {
  std::string out = std::string(kMetricsCsvHeader) + "\n";
  for (const ModelResult& m : ev.models) {
    for (const Metrics& x : m.metrics) {
      out +=
          fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", m.name, m.baseline,
                      x.horizon_days ? std::to_string(x.horizon_days) : "all", x.n, CsvNum(x.mse),
                      CsvNum(x.rmse), CsvNum(x.mae), CsvNum(x.mape), CsvNum(x.mdape),
                      CsvNum(x.smape), CsvNum(x.coverage), CsvNum(x.mase), CsvNum(x.rel_mae));
    }
  }
  return out;
}

std::string ActualVsPredictedCsv(const Evaluation& ev) {
  std::string out = std::string(kActualVsPredictedHeader) + "\n";
  for (const ModelResult& m : ev.models) {
    for (const Point& p : m.points) {
      out += fmt::format("{},{},{},{},{},{},{},{}\n", m.name, FormatDate(p.cutoff),
                         FormatDate(p.ds), p.horizon_days(), CsvNum(p.y), CsvNum(p.yhat),
                         CsvNum(p.yhat_lower), CsvNum(p.yhat_upper));
    }
  }
  return out;
}

std::string EvaluationHtml(const Evaluation& ev) { return RenderHtml(EvaluationChart(ev)); }

StatusOr<EvaluationFiles> WriteEvaluation(const Evaluation& ev, const fs::path& dir,
                                          lake::Connection& con) {
  RETURN_IF_ERROR(MakeDir(dir));
  EvaluationFiles f{dir / "metrics.json", dir / "metrics.csv", dir / "actual_vs_predicted.csv",
                    dir / "forecasts.parquet", dir / "report.html"};
  RETURN_IF_ERROR(WriteFileAtomic(f.metrics_json, MetricsJson(ev)));
  RETURN_IF_ERROR(WriteFileAtomic(f.metrics_csv, MetricsCsv(ev)));
  RETURN_IF_ERROR(WriteFileAtomic(f.actual_vs_predicted_csv, ActualVsPredictedCsv(ev)));
  RETURN_IF_ERROR(
      batch::WriteForecastParquet(con, ev.symbol, EvaluationRows(ev), f.forecasts_parquet));
  RETURN_IF_ERROR(WriteFileAtomic(f.report_html, EvaluationHtml(ev)));
  return f;
}

// ---------------------------------------------------------------------------------------------
// fit / predict

std::string ApiForecastJson(const Forecast& fc) {
  json rows = json::array();
  if (!fc.models.empty()) {
    const Prediction& p = fc.models.front().prediction;
    for (size_t i = 0; i < p.ds.size(); ++i) {
      rows.push_back({{"ds", FormatDate(p.ds[i])},
                      {"yhat", JsonNum(p.yhat[i])},
                      {"yhat_lower", JsonNum(p.yhat_lower[i])},
                      {"yhat_upper", JsonNum(p.yhat_upper[i])}});
    }
  }
  json j = {{"symbol", fc.symbol},
            {"model", fc.models.empty() ? "" : fc.models.front().name},
            {"history_end", fc.history.ds.empty() ? "" : FormatDate(fc.history.ds.back())},
            {"interval_width", fc.interval_width},
            {"rows", rows}};
  if (!fc.selection) return j.dump() + "\n";
  const SuiteSelection& sel = *fc.selection;
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i]["model"] = i < sel.row_models.size() ? sel.row_models[i] : "";
    rows[i]["horizon_days"] = i + 1;
  }
  j["rows"] = rows;
  if (!sel.by_horizon.empty()) j["model"] = sel.by_horizon.front().second.model;
  j["last_close"] = JsonNum(fc.history.y.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                 : fc.history.y.back());
  j["interval"] = sel.interval;
  json by_h = json::array();
  for (const auto& [h, c] : sel.by_horizon) {
    by_h.push_back({{"horizon_days", h},
                    {"model", c.model},
                    {"mase", JsonNum(c.mase)},
                    {"runner_up", c.runner_up.empty() ? json(nullptr) : json(c.runner_up)},
                    {"runner_up_mase", JsonNum(c.runner_up_mase)},
                    {"why", c.why}});
  }
  j["selection"] = {
      {"rule", sel.rule}, {"margin", sel.margin}, {"why", sel.why}, {"by_horizon", by_h}};
  json board = json::array();
  for (const LeaderboardEntry& e : sel.leaderboard) {
    json hs = json::array();
    for (const Metrics& m : e.horizons) {
      hs.push_back({{"horizon_days", m.horizon_days},
                    {"n", m.n},
                    {"mape", JsonNum(m.mape)},
                    {"mase", JsonNum(m.mase)},
                    {"coverage", JsonNum(m.coverage)}});
    }
    board.push_back({{"model", e.model}, {"selected", e.selected}, {"horizons", hs}});
  }
  j["leaderboard"] = board;
  j["cv"] = {{"initial_days", sel.initial_days},
             {"period_days", sel.period_days},
             {"horizon_days", sel.horizon_days},
             {"cutoffs", sel.cutoffs}};
  json models = json::array();
  for (size_t k = 1; k < fc.models.size(); ++k) {
    const ModelForecast& m = fc.models[k];
    json mr = json::array();
    const Prediction& p = m.prediction;
    for (size_t i = 0; i < p.ds.size(); ++i) {
      mr.push_back({{"ds", FormatDate(p.ds[i])},
                    {"yhat", JsonNum(p.yhat[i])},
                    {"yhat_lower", JsonNum(p.yhat_lower[i])},
                    {"yhat_upper", JsonNum(p.yhat_upper[i])}});
    }
    models.push_back({{"name", m.name}, {"description", m.description}, {"rows", mr}});
  }
  j["models"] = models;
  return j.dump() + "\n";
}

std::string ForecastHtml(const Forecast& fc) {
  Chart c;
  c.history = &fc.history;
  c.primary = fc.models.empty() ? "" : fc.models.front().name;
  c.title = fc.symbol + ": forecast";
  Micros last = fc.history.ds.back();
  size_t days = fc.models.empty() ? 0 : fc.models.front().prediction.ds.size();
  c.subtitle = fmt::format("{} from {} days of history {}..{}, {} days ahead; interval {:g}%.",
                           c.primary, fc.history.ds.size(), FormatDate(fc.history.ds.front()),
                           FormatDate(last), days, fc.interval_width * 100);
  c.notes = fc.notes;
  c.cutoffs = {last};
  c.shade_from = last + kMicrosPerDay;
  c.shade_to = days ? fc.models.front().prediction.ds.back() : last;
  c.shade_label = "forecast";
  c.focus_label = "Forecast";
  c.start_focused = true;
  for (const ModelForecast& m : fc.models) {
    const Prediction& p = m.prediction;
    c.models.push_back(
        {m.name, m.baseline, {{last, false, p.ds, p.yhat, p.yhat_lower, p.yhat_upper}}});
  }
  if (fc.selection) c.tables_html = SelectionHtml(fc);
  return RenderHtml(c);
}

StatusOr<ForecastFiles> WriteForecast(const Forecast& fc, const fs::path& dir,
                                      lake::Connection& con) {
  if (fc.history.ds.empty()) return InvalidArgument("no history to forecast from");
  RETURN_IF_ERROR(MakeDir(dir));
  ForecastFiles f{dir / (fc.symbol + ".json"), dir / (fc.symbol + ".parquet"),
                  dir / (fc.symbol + ".html")};
  RETURN_IF_ERROR(batch::WriteForecastParquet(con, fc.symbol, ForecastRows(fc), f.parquet));
  RETURN_IF_ERROR(WriteFileAtomic(f.html, ForecastHtml(fc)));
  RETURN_IF_ERROR(WriteFileAtomic(f.json, ApiForecastJson(fc)));
  return f;
}

}  // namespace cryptolake::forecast
