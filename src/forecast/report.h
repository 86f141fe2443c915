// The outputs of `cryptolake forecast`: what the prototype wrote, plus the file the serving
// layer's /api/v1/forecast reads.
//
// cv (WriteEvaluation, into one directory):
//   metrics.json             {"symbol","protocol","primary","leaky","leakage":[messages],
//                             "regressors","cutoffs":["2024-07-04",...],"initial_days",
//                             "period_days","horizon_days","train_days","test_days",
//                             "interval_width","models":[{"name","baseline","metrics":[row...]}]}
//                             a row: {"horizon_days" (null: all points), "n", "mse", "rmse",
//                             "mae", "mape", "mdape", "smape", "coverage", "mase", "rel_mae"};
//                             NaN -> null
//   metrics.csv              kMetricsCsvHeader; horizon_days "all" for the all-points row
//   actual_vs_predicted.csv  kActualVsPredictedHeader; one row per model, cutoff and day
//   forecasts.parquet        kForecastParquetColumns, the same rows (y NULL beyond the data)
//   report.html              self-contained (inline CSS, inline script drawing on a <canvas>, no
//                            external reference): history, each model's forecasts, the primary
//                            model's interval band, the test period shaded, cutoffs marked;
//                            zoom, log scale and a hover read-out; the metrics table with the
//                            baselines (horizons 1, 7, 30 and all; every horizon folded below)
// fit / predict (WriteForecast, into <data>/forecasts/):
//   <SYMBOL>.json            the API's format: {"symbol","model","history_end","interval_width",
//                            "rows":[{"ds":"2026-04-30","yhat","yhat_lower","yhat_upper"}]}
//                            with the primary model's days after the history; with a
//                            selection (--model auto) also "last_close", "interval", each row's
//                            "model" and "horizon_days", "selection" {"rule","margin","why",
//                            "by_horizon":[{"horizon_days","model","mase","runner_up",
//                            "runner_up_mase"}]}, "leaderboard" [{"model","selected",
//                            "horizons":[{"horizon_days","n","mape","mase","coverage"}]}],
//                            "cv" {"initial_days","period_days","horizon_days","cutoffs"} and
//                            "models" [{"name","description","rows":[...]}] (every suite model's
//                            own forecast and interval); "model" is the model selected at 1 day
//   <SYMBOL>.parquet         every model's forecast (kForecastParquetColumns; cutoff = the last
//                            history day, y NULL)
//   <SYMBOL>.html            the same chart over the history and the forecast
// Every file is replaced atomically (temp file, fsync, rename): a reader (the API) sees the old
// file or the new one. Numbers are written in shortest round-trip form; missing values (NaN) are
// empty CSV fields, JSON null, Parquet NULL.
//
// The Parquet files go through `con` (batch/forecast_io.h: DuckDB, a scratch table, COPY ...
// (FORMAT parquet)); the connection must not be used by another thread meanwhile.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "batch/forecast_io.h"
#include "core/status.h"
#include "forecast/evaluate.h"
#include "forecast/prophet.h"
#include "forecast/select.h"

namespace cryptolake::forecast {

namespace fs = std::filesystem;

inline constexpr const char* kMetricsCsvHeader =
    "model,baseline,horizon_days,n,mse,rmse,mae,mape,mdape,smape,coverage,mase,rel_mae";
inline constexpr const char* kActualVsPredictedHeader =
    "model,cutoff,ds,horizon_days,y,yhat,yhat_lower,yhat_upper";
inline constexpr const char* kForecastParquetColumns = batch::kForecastParquetColumns;

// ---------------------------------------------------------------------------------------------
// cv / seed

std::string MetricsJson(const Evaluation& ev);
std::string MetricsCsv(const Evaluation& ev);
std::string ActualVsPredictedCsv(const Evaluation& ev);
std::string EvaluationHtml(const Evaluation& ev);

struct EvaluationFiles {
  fs::path metrics_json, metrics_csv, actual_vs_predicted_csv, forecasts_parquet, report_html;
};
// Writes the five files into `dir` (created if absent). IOError / Internal on failure.
StatusOr<EvaluationFiles> WriteEvaluation(const Evaluation& ev, const fs::path& dir,
                                          lake::Connection& con);

// ---------------------------------------------------------------------------------------------
// fit / predict

struct ModelForecast {
  std::string name;
  bool baseline = false;
  Prediction prediction;         // the days after the history
  std::string description = {};  // what was fitted (FittedModel::Describe); suite runs
};

// A leaderboard entry of the nested CV (forecast/select.h): metrics at horizons 1, 7, 30.
struct LeaderboardEntry {
  std::string model;
  bool selected = false;  // the model selected at horizon 1 today
  std::vector<Metrics> horizons;
};

// What --model auto adds to a forecast (forecast/select.h).
struct SuiteSelection {
  std::string interval = "conformal";   // how the primary's band was made: conformal | model
  std::vector<std::string> row_models;  // the model of each primary row
  std::string rule, why;
  double margin = 0.02;
  std::vector<std::pair<int, Choice>> by_horizon;  // horizons 1, 7, 30 (<= the rows)
  std::vector<LeaderboardEntry> leaderboard;       // empty: too little history for CV
  int initial_days = 0, period_days = 0, horizon_days = 0, cutoffs = 0;
};

struct Forecast {
  std::string symbol;
  Frame history;                      // ds, y
  std::vector<ModelForecast> models;  // the primary model first
  double interval_width = 0.8;
  std::vector<std::string> notes;  // shown in the HTML, e.g. the dropped partial day
  // --model auto: models[0] is the selected procedure ("selected"), then every suite model.
  std::optional<SuiteSelection> selection;
};

std::string ApiForecastJson(const Forecast& fc);
std::string ForecastHtml(const Forecast& fc);

struct ForecastFiles {
  fs::path json, parquet, html;
};
// Writes <dir>/<SYMBOL>.json, .parquet and .html (dir created if absent).
StatusOr<ForecastFiles> WriteForecast(const Forecast& fc, const fs::path& dir,
                                      lake::Connection& con);

}  // namespace cryptolake::forecast
