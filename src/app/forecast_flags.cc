// `cryptolake forecast fit|predict|cv`: their flags and help; RunForecast (forecast_cmd.cc) runs
// them.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntAtLeast;
using flags::IntIn;
using flags::NonEmpty;
using flags::NonEmptyList;
using flags::Number;
using flags::OneOf;
using flags::Positive;
using flags::Seed;

namespace {

// The flags of every forecast command: the symbol, the model and Prophet's options.
void AddModelFlags(CLI::App* c, ForecastArgs& a) {
  c->add_option("--symbol", a.symbol, "Symbol, e.g. BTCUSDT")
      ->required()
      ->transform(flags::Symbol());
  c->add_option("--model", a.model,
                "auto: the model selected per horizon by nested CV, with a conformal band; or "
                "one model: prophet | naive | seasonal_naive | drift | ets | theta | arima | "
                "ensemble (those built in)")
      ->default_val("auto")
      ->check(NonEmpty());
  c->add_option("--interval-width", a.interval_width, "Width of the uncertainty interval")
      ->default_val(0.8)
      ->check(Number(0, true, 1, true));
  c->add_option("--samples", a.samples, "Prophet: simulated paths for the interval")
      ->default_val(1000)
      ->check(IntIn(1, 100000));
  c->add_option("--seed", a.seed, "Prophet: seed of the simulated paths")
      ->default_val(0)
      ->check(Seed());
  c->add_option("--changepoint-prior-scale", a.changepoint_prior_scale,
                "Prophet: scale of the Laplace prior on trend changes")
      ->default_val(0.05)
      ->check(Positive());
  c->add_option("--seasonality-mode", a.seasonality_mode, "Prophet: additive | multiplicative")
      ->default_val("additive")
      ->check(NonEmpty());
  c->add_flag("--log-transform", a.log_transform, "Prophet: fit log(close), forecast exp()");
  c->add_option("--growth", a.growth, "Prophet: linear | logistic (needs --cap) | flat")
      ->default_val("linear")
      ->check(OneOf({"linear", "logistic", "flat"}));
  c->add_option("--cap", a.cap, "Prophet, logistic growth: the capacity (a constant)")
      ->check(Number(-1e15, false, 1e15, false));
  c->add_option("--floor", a.floor, "Prophet, logistic growth: the saturating minimum")
      ->check(Number(-1e15, false, 1e15, false));
  c->add_option("--changepoints", a.changepoints,
                "Prophet: explicit changepoint dates inside the history (YYYY-MM-DD, "
                "comma-separated); they replace the 25 evenly placed ones")
      ->delimiter(',')
      ->check(NonEmptyList());
  c->add_option("--changepoint-range", a.changepoint_range,
                "Prophet: the share of the history the changepoints are placed in")
      ->default_val(0.8)
      ->check(Number(0, false, 1, false));
  c->add_option("--seasonality", a.seasonalities,
                "Prophet: an extra seasonality name:period_days:order[:prior_scale[:mode]], "
                "repeatable (a seasonality conditional on a column is library-only: "
                "forecast::Seasonality::condition_name)")
      ->check(NonEmpty());
  // Hidden (empty group): the reference comparison (bench/prophet_reference.py) feeds the
  // same prophet_input CSV to Prophet and to cryptolake.
  c->add_option("--csv-in", a.csv_in, "Read the series from a prophet_input CSV (ds,y)")
      ->group("")
      ->check(NonEmpty());
}

// auto: the selection's margin (forecast/select.h).
void AddSelectionFlags(CLI::App* c, ForecastArgs& a) {
  c->add_option("--margin", a.margin,
                "auto: another model replaces naive only if its inner-CV MASE is lower by more "
                "than this fraction")
      ->default_val(0.02)
      ->check(Number(0, false, 1, true));
  c->add_option("--min-win-share", a.min_win_share,
                "auto: ... and beats naive on more than this share of the inner cutoffs")
      ->default_val(0.7)
      ->check(Number(0, false, 1, true));
  c->add_option("--models", a.suite,
                "auto: the models to select among, repeatable or comma-separated (default: "
                "every built-in model)")
      ->check(NonEmptyList());
}

// fit and predict: the leaderboard's CV (auto), the days ahead, the hidden --json-out.
void AddFitFlags(CLI::App* c, ForecastArgs& a) {
  AddModelFlags(c, a);
  AddSelectionFlags(c, a);
  c->add_option("--initial", a.initial, "auto: the leaderboard's CV, least history")
      ->default_val("730d")
      ->check(NonEmpty());
  c->add_option("--period", a.period, "auto: days between the CV's cutoffs")
      ->default_val("30d")
      ->check(NonEmpty());
  c->add_option("--horizon", a.horizon, "auto: days ahead the CV scores and selects for")
      ->default_val("30d")
      ->check(NonEmpty());
  c->add_option("--threads", a.threads, "auto: cutoffs fitted in parallel (0: all cores)")
      ->default_val(0)
      ->check(IntAtLeast(0));
  c->add_option("--periods", a.periods, "Days to forecast after the last complete day")
      ->default_val(30)
      ->check(IntIn(1, 3650));
  c->add_option("--json-out", a.json_out,
                "Write only a JSON of the fit: timings, yhat and bounds over history + periods")
      ->group("")
      ->check(NonEmpty());
  c->footer(
      "Reads prophet_input (ds, y = daily close) of the lake's snapshot, complete days only (a\n"
      "last day with fewer than 1440 minutes is left out). Writes "
      "<data>/forecasts/<SYMBOL>.json\n"
      "(what /api/v1/forecast serves and the dashboard draws), <SYMBOL>.parquet and\n"
      "<SYMBOL>.html (a self-contained chart).\n"
      "--model auto (the default): every suite model is cross-validated on the history\n"
      "(--initial, --period, --horizon: the leaderboard), the model for each horizon is\n"
      "selected by the inner CV of the last 12 cutoffs (naive unless another's MASE is lower\n"
      "by more than --margin and it wins on more than --min-win-share of them), and each day\n"
      "gets the selected model's point with a split-conformal band from the log errors of\n"
      "earlier cutoffs. The JSON holds the selection and why, the leaderboard and every\n"
      "model's own forecast. --model NAME: that model alone (prophet with the Prophet flags)\n"
      "beside the naive, seasonal naive and drift baselines.");
}

// cv: the protocol and its grid, the regressors, the output directory.
void AddCvFlags(CLI::App* c, ForecastArgs& a) {
  AddModelFlags(c, a);
  AddSelectionFlags(c, a);
  c->add_option("--protocol", a.protocol,
                "rolling: Prophet's cross_validation; seed: the prototype's 80/20 split with "
                "ma7/ma30 regressors")
      ->default_val("rolling")
      ->check(NonEmpty());
  c->add_option("--initial", a.initial, "rolling: least history before the first cutoff")
      ->default_val("730d")
      ->check(NonEmpty());
  c->add_option("--period", a.period, "rolling: days between cutoffs")
      ->default_val("30d")
      ->check(NonEmpty());
  c->add_option("--horizon", a.horizon, "rolling: days forecast after each cutoff")
      ->default_val("30d")
      ->check(NonEmpty());
  c->add_option("--regressor", a.regressors,
                "Extra regressors from daily_filled: ma7, ma30, repeatable or comma-separated "
                "(seed default: both)")
      ->check(NonEmptyList());
  c->add_flag("--allow-leakage", a.allow_leakage,
              "Run even if a regressor uses the close of a day being forecast (the "
              "output is labelled leaky)");
  c->add_option("--threads", a.threads, "rolling: cutoffs fitted in parallel (0: all cores)")
      ->default_val(0)
      ->check(IntAtLeast(0));
  c->add_option("--out", a.out,
                "Output directory (default: <data>/forecasts/<SYMBOL>-cv, or -seed; not "
                "inside the lake but under <data>/forecasts)")
      ->check(NonEmpty());
  c->footer(
      "rolling: cutoffs from the last day minus --horizon backwards every --period, the first\n"
      "leaving --initial of history; each cutoff fits on the days up to it and forecasts the\n"
      "next --horizon days. Metrics per horizon day: mse, rmse, mae, mape, mdape, smape,\n"
      "coverage, and MASE against the naive forecast; the summary shows horizons 1, 7, 30.\n"
      "seed: the first 80% of days train, the last 20% test, with the same day's ma7/ma30 as\n"
      "regressors. Those contain the close being forecast: the run is refused as leakage\n"
      "unless --allow-leakage. The naive, seasonal naive (7 days) and drift baselines are\n"
      "always evaluated beside the model. Writes metrics.json, metrics.csv,\n"
      "actual_vs_predicted.csv, forecasts.parquet and report.html into --out.\n"
      "--model auto (the default, rolling): every suite model on one cutoff grid, each with\n"
      "its split-conformal band, and the selected procedure scored by nested CV (at each\n"
      "cutoff the model is chosen by the 12 cutoffs before it); prints the leaderboard (MAPE,\n"
      "MASE and coverage at 1, 7, 30 days) and the model each horizon selects today, and why.\n"
      "--protocol seed evaluates the Prophet model.");
}

}  // namespace

Command RegisterForecast(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ForecastArgs>();
  auto* fc = app.add_subcommand(
      "forecast",
      "Forecast daily closes: the model suite, selected per horizon by nested CV, with "
      "conformal bands; evaluate it");
  fc->require_subcommand(1);
  auto* fc_fit = fc->add_subcommand(
      "fit", "Fit on the symbol's complete days, report the fit, write the forecast");
  auto* fc_pred =
      fc->add_subcommand("predict", "Fit on the symbol's complete days and write the forecast");
  AddFitFlags(fc_fit, *a);
  AddFitFlags(fc_pred, *a);
  auto* c = fc->add_subcommand(
      "cv", "Evaluate: rolling-origin cross-validation, or the prototype's protocol");
  AddCvFlags(c, *a);
  auto run = [a, &g, fc_fit, fc_pred] {
    a->action = *fc_fit ? "fit" : *fc_pred ? "predict" : "cv";
    EnvNeeds needs;
    // --csv-in reads no lake.
    needs.lake = a->csv_in.empty();
    needs.outputs = {{"--out", a->action == "cv" ? a->out : ""}, {"--json-out", a->json_out}};
    return RunWithEnv(g, needs, [&](Env& env) { return RunForecast(env, *a); });
  };
  return {fc, run};
}

}  // namespace cryptolake::app
