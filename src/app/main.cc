// The `cryptolake` binary: one CLI with a subcommand per job. Each subcommand parses its flags,
// opens the lake and calls one library function; all logic lives in the layer modules.
#include <fmt/ranges.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/commands.h"
#include "app/flags.h"

using namespace cryptolake;
using app::flags::FileNamePart;
using app::flags::IntAtLeast;
using app::flags::IntIn;
using app::flags::NonEmpty;
using app::flags::NonEmptyList;
using app::flags::Number;
using app::flags::OneOf;
using app::flags::Positive;
using app::flags::Seconds;
using app::flags::Seed;

namespace {

// "'<word>' (commands: ...)" for the word that stands where a command is expected and names
// none (the first remaining argument that is not an option, after the commands parsed so far);
// "" if there is none.
std::string UnknownCommand(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  while (!chain.back()->get_subcommands().empty())
    chain.push_back(chain.back()->get_subcommands().front());
  const CLI::App* cur = chain.back();
  const auto subs = cur->get_subcommands([](const CLI::App*) { return true; });
  if (subs.empty()) return "";  // a command that takes no command
  // What a command does not know falls through to its parents (app.fallthrough()).
  std::vector<std::string> rest;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const std::string& arg : (*it)->remaining()) rest.push_back(arg);
  }
  for (const std::string& arg : rest) {
    if (arg.empty() || arg[0] == '-') continue;
    std::vector<std::string> names;
    for (const CLI::App* c : subs) names.push_back(c->get_name());
    const std::string parent = cur == &app ? "" : cur->get_name() + " ";
    return fmt::format("'{}{}' ({}commands: {})", parent, arg, parent, fmt::join(names, ", "));
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cryptolake: a Lambda-architecture lake for crypto market data (Binance spot klines)"};
  app.set_version_flag("--version", std::string("cryptolake ") + app::kVersion);
  app.require_subcommand(1);
  // The global flags work before or after the command (`import --data DIR FILE`): an option a
  // command does not know falls through to its parent. Subcommands inherit this when created.
  app.fallthrough();
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("error: {}\nRun with --help for more information.\n", e.what());
  });
  app.footer(
      "Exit codes: 0 success; 1 verify found only gaps; 2 verify found integrity errors;\n"
      "            3 runtime error (bad input, I/O); 64 usage error.\n"
      "Run 'cryptolake <command> --help' for a command's options. --data, --config and -v go\n"
      "before or after the command.");

  app::GlobalOptions g;
  app.add_option("--data", g.data, "Data root (default: ./data, or [lake] data in the config)")
      ->check(NonEmpty());
  app.add_option("--config", g.config, "Config file (default: ./cryptolake.toml if present)")
      ->check(NonEmpty());
  app.add_flag("-v,--verbose", g.verbose, "Log debug details");

  // import
  app::ImportArgs ia;
  auto* imp = app.add_subcommand("import", "Import historical kline files into the master dataset");
  imp->add_option("paths", ia.paths, "Files, directories or globs (.csv, .csv.gz, .zip)")
      ->required()
      ->check(NonEmpty());
  imp->add_option("--symbol", ia.symbol, "Symbol for every file (default: from the file name)")
      ->transform(app::flags::Symbol());
  imp->add_option("--interval", ia.interval,
                  "Interval for every file, e.g. 1m, 1h, 1d (default: from the file name)")
      ->check(NonEmpty());
  imp->add_option("--format", ia.format, "auto | vision | ohlcv | bitstamp")
      ->default_val("auto")
      ->check(NonEmpty());
  imp->add_flag("--strict", ia.strict, "Fail the whole import, committing nothing, on any bad row");
  imp->add_option("--threads", ia.threads, "Parser threads (0: all cores)")
      ->default_val(0)
      ->check(IntAtLeast(0));
  imp->footer(
      "Formats: data.binance.vision kline CSV (12 columns, header optional, ms or us timestamps\n"
      "detected per file); OHLCV CSV with header open_time,open,high,low,close,volume; the "
      "BTC/USD\n"
      "daily layout timestamp,open,close,volume,unix_timestamp,high,low. Zips are checked against "
      "a\n"
      "sibling .CHECKSUM file when present. Bad rows go to <data>/quarantine/. Re-importing the "
      "same\n"
      "files adds nothing.");

  // backfill
  app::BackfillArgs bfa;
  auto* bf = app.add_subcommand(
      "backfill", "Fetch missing and new klines from the exchange's REST API into the lake");
  bf->add_option("--exchange", bfa.exchange,
                 "REST base URL (default: exchange in the config, https://api.binance.com)")
      ->check(NonEmpty());
  bf->add_option("--symbol", bfa.symbols,
                 "Symbols, repeatable or comma-separated (default: config)")
      ->transform(app::flags::SymbolList());
  bf->add_option("--interval", bfa.intervals,
                 "Intervals, repeatable or comma-separated, e.g. 1m,1d (default: config, 1m)")
      ->check(NonEmptyList());
  bf->add_option("--from", bfa.from,
                 "First open time to complete, e.g. 2025-01-01 (default: the first stored "
                 "candle, or [backfill] start)")
      ->check(NonEmpty());
  bf->add_option("--to", bfa.to, "Stop before this open time (default: the exchange's now)")
      ->check(NonEmpty());
  bf->add_option("--concurrency", bfa.concurrency, "Parallel requests (default: config, 4)")
      ->check(IntIn(1, kMaxBackfillConcurrency));
  bf->add_option("--budget", bfa.budget, "Share of the weight limit to use (default: config, 0.8)")
      ->check(Number(0, true, 1, false));
  bf->add_option("--weight-limit", bfa.weight_limit, "The exchange's REQUEST_WEIGHT per minute")
      ->default_val(6000)
      ->check(IntAtLeast(1));
  bf->add_option("--page-limit", bfa.page_limit, "Klines per request (Binance's maximum: 1000)")
      ->default_val(1000)
      ->check(IntIn(1, 1000));
  bf->add_option("--chunk-rows", bfa.chunk_rows, "Commit after this many fetched klines")
      ->default_val(200000)
      ->check(IntAtLeast(1));
  bf->add_option("--timeout", bfa.timeout_seconds, "Per-request timeout in seconds")
      ->default_val(30)
      ->check(Seconds());
  bf->add_option("--max-attempts", bfa.max_attempts,
                 "Attempts per request on 5xx, timeouts, broken or malformed responses")
      ->default_val(8)
      ->check(IntAtLeast(1));
  bf->add_option("--backoff-ms", bfa.backoff_ms,
                 "First retry delay in milliseconds; doubles, with full jitter")
      ->default_val(500)
      ->check(Number(0, true, 3'600'000, false));
  bf->add_flag("--no-batch", bfa.no_batch, "Do not refresh the batch views afterwards");
  bf->footer(
      "Finds, per symbol and interval, every candle missing between the first stored one (or\n"
      "--from) and the last one closed at the exchange's time, and fetches them (GET\n"
      "/api/v3/klines, 1000 per request) under one rate governor: at most --budget of the\n"
      "weight limit per minute, Retry-After honoured on 429, every call stopped during a 418\n"
      "ban, 5xx/timeouts retried with backoff. Ranges the exchange has no data for (outages)\n"
      "are recorded as confirmed empty and never fetched again. Progress is committed in\n"
      "chunks: after a crash, rerun it; nothing committed is fetched twice.");

  // stream
  app::StreamArgs sa;
  auto* str = app.add_subcommand(
      "stream", "Run the speed layer: live klines over WebSocket -> bus -> real-time view + lake");
  str->add_option("--ws", sa.ws_url,
                  "WebSocket base URL (default: stream_url in the config, "
                  "wss://stream.binance.com:9443)")
      ->check(NonEmpty());
  str->add_option("--exchange", sa.exchange,
                  "REST base URL for healing gaps after reconnects (default: config)")
      ->check(NonEmpty());
  str->add_option("--symbol", sa.symbols,
                  "Symbols, repeatable or comma-separated (default: config)")
      ->transform(app::flags::SymbolList());
  str->add_option("--bus", sa.bus, "embedded | kafka")->default_val("embedded")->check(NonEmpty());
  str->add_option("--kafka-brokers", sa.kafka_brokers, "Kafka bootstrap servers")
      ->default_val("127.0.0.1:9092")
      ->check(NonEmpty());
  str->add_option("--kafka-topic", sa.kafka_topic, "Kafka topic")
      ->default_val("cryptolake.events")
      ->check(NonEmpty());
  str->add_option("--kafka-partitions", sa.kafka_partitions,
                  "Partitions of the Kafka topic when it is created (the most consumers of a "
                  "group that get work)")
      ->default_val(4)
      ->check(IntIn(1, 1024));
  str->add_option("--until", sa.until,
                  "Stop once every symbol has a closed candle at this open time (exchange time)")
      ->check(NonEmpty());
  str->add_option("--duration", sa.duration_seconds, "Stop after this many seconds")
      ->check(Seconds());
  str->add_option("--append-every", sa.append_every_seconds,
                  "Seconds between appends of closed candles to the master dataset")
      ->default_val(60)
      ->check(Seconds());
  str->add_option("--stall-timeout", sa.stall_timeout_seconds,
                  "Reconnect after this many seconds without any frame")
      ->default_val(60)
      ->check(Seconds());
  str->add_option("--rotate-after", sa.rotate_after_seconds,
                  "Open a fresh connection after this many seconds (Binance closes at 24 h)")
      ->default_val(23 * 3600)
      ->check(Seconds());
  str->add_flag("--no-heal", sa.no_heal, "Do not backfill gaps from REST after reconnects");
  str->add_flag("--no-trades", sa.no_trades, "Do not subscribe to the trade streams");
  str->add_option("--role", sa.role,
                  "both (WebSocket -> bus -> view + lake in one process), producer (WebSocket "
                  "-> bus only) or consumer (bus -> view + lake only, a consumer group member)")
      ->default_val("both")
      ->check(OneOf({"both", "producer", "consumer"}));
  str->add_option("--group", sa.group, "Kafka consumer group of the consumers")
      ->default_val("cryptolake-view")
      ->check(NonEmpty());
  str->add_option("--member", sa.member,
                  "A consumer's name in its group: its view is <data>/speed/view-<member>.duckdb "
                  "(give each consumer process its own; reuse it on restart)")
      ->check(FileNamePart());
  str->footer(
      "Subscribes to <symbol>@kline_1m and <symbol>@trade of every symbol, publishes normalized\n"
      "events to the bus (embedded by default, or Kafka), and consumes them into the real-time\n"
      "view (<data>/speed/view.duckdb: closed candles after the batch watermark, the open\n"
      "candle, daily bars). Closed candles are appended to the master dataset (source stream).\n"
      "Offsets are committed after the view is durable; after a kill, rerun it. Stops on\n"
      "SIGINT/SIGTERM, --until or --duration.\n"
      "Scale out with Kafka: one --role producer, and several --role consumer --member NAME in\n"
      "one --group; the group splits the partitions (symbols), a dead member's partitions move\n"
      "to the others, a restarted one rejoins. A consumer commits offsets only after its lake\n"
      "append, which never stores a key twice; with --until it stops once the lake holds that\n"
      "minute for every --symbol.");

  // batch
  app::BatchArgs ba;
  auto* bat = app.add_subcommand(
      "batch", "Build or refresh the batch views (daily_raw, daily_filled, prophet_input)");
  bat->add_flag("--full", ba.full, "Rebuild every view partition instead of only the changed ones");
  // A share of wall time, for the pacing of batch refreshes (core/pacer.h).
  const CLI::Validator duty_check = Number(0.01, false, 1, false, "a share of wall time");
  bat->add_option("--duty", ba.duty,
                  "Share of wall time the refresh may run: it sleeps between its queries for the "
                  "rest, leaving the CPU to a server or stream beside it")
      ->default_val(1.0)
      ->check(duty_check);

  // verify
  app::VerifyArgs va;
  auto* ver = app.add_subcommand(
      "verify", "Check completeness, duplicates, schema, OHLC and view consistency");
  ver->add_flag("--json", va.json, "Print the report as JSON");
  ver->add_option("--max-ranges", va.max_ranges, "Gap ranges listed per dataset and symbol")
      ->default_val(20)
      ->check(IntAtLeast(1));

  // compact
  auto* cmp = app.add_subcommand(
      "compact", "Rewrite partitions with several files or shadowed duplicates into one file each");
  std::string compact_dataset;
  cmp->add_option("--dataset", compact_dataset, "Only this dataset, e.g. klines_1m")
      ->check(NonEmpty());

  // repair
  std::vector<std::string> repair_drop;
  auto* rpr = app.add_subcommand(
      "repair", "Rebuild a missing manifest from the files, or retire damaged files (--drop)");
  rpr->add_option("--drop", repair_drop,
                  "Retire these live files (paths as verify prints them); their klines are "
                  "fetched again by the next backfill")
      ->delimiter(',');
  rpr->footer(
      "Without --drop, on a data root whose _manifest.json is missing: checks every Parquet file\n"
      "under klines_*/ (readable, every row group decodes, the schema) and makes those that pass\n"
      "live again; view files are retired (`cryptolake batch` rebuilds the views); files that\n"
      "fail are listed and left untouched. Exit 0 when every file was accounted for, 2 when\n"
      "some were not. With --drop: the files are retired in one commit and their key ranges\n"
      "recorded, so `cryptolake backfill` fetches those klines again and verify shows them as\n"
      "gaps until then. The lake never deletes a file it did not write.");

  // stats
  bool digest = false;
  auto* sts = app.add_subcommand("stats", "Show files, rows and time range per dataset and symbol");
  sts->add_flag("--digest", digest, "Also print an order-independent content hash per dataset");

  // cat
  app::CatArgs ca;
  auto* cat = app.add_subcommand("cat", "Print a dataset (read-time deduplicated) as CSV");
  cat->add_option("dataset", ca.dataset,
                  "klines_1m, klines_1d, daily_raw, daily_filled, prophet_input, ...")
      ->required()
      ->check(NonEmpty());
  cat->add_option("--symbol", ca.symbol, "Only this symbol")->transform(app::flags::Symbol());
  cat->add_option("--out", ca.out,
                  "Write to this file instead of stdout (not inside the lake: see below)")
      ->check(NonEmpty());

  // gc
  auto* gc = app.add_subcommand(
      "gc", "Delete retired files past the grace period and leftovers of crashed writers");

  // serve
  app::ServeArgs sva;
  auto add_serve_flags = [](CLI::App* c, app::ServeArgs& a) {
    c->add_option("--bind", a.bind, "Address to listen on (beyond loopback only with --token)")
        ->default_val("127.0.0.1")
        ->check(NonEmpty());
    c->add_option("--port", a.port, "HTTP port (0: an ephemeral one)")
        ->default_val(8080)
        ->check(IntIn(0, 65535));
    c->add_option("--threads", a.threads, "HTTP io threads")->default_val(2)->check(IntIn(1, 256));
    c->add_option("--token", a.token,
                  "Bearer token required on every request but /healthz (needed for a "
                  "non-loopback --bind)")
        ->check(NonEmpty());
    c->add_option("--web-root", a.web_root,
                  "Dashboard files (default: the web/ directory beside the binary)")
        ->check(NonEmpty());
    c->add_option("--max-streams", a.max_streams,
                  "Server-Sent Event streams open at once; one more is answered 503 with "
                  "Retry-After")
        ->default_val(1024)
        ->check(IntIn(1, 1000000));
  };
  auto* srv = app.add_subcommand(
      "serve", "Serve the merged series (batch + speed) over HTTP with a live dashboard");
  add_serve_flags(srv, sva);
  srv->footer(
      "Endpoints: /api/v1/symbols, /api/v1/daily?symbol=&from=&to=, /api/v1/klines?symbol=&\n"
      "interval=&from=&to=&limit=, /api/v1/forecast?symbol=, /api/v1/status, /api/v1/stream?\n"
      "symbol= (Server-Sent Events), /healthz, /metrics (Prometheus). JSON, or CSV with\n"
      "?format=csv or Accept: text/csv. The dashboard is at /. See docs/API.md.\n"
      "The merge is computed at read time; nothing is written. Stops on SIGINT/SIGTERM.");

  // merge
  app::MergeArgs ma;
  auto* mrg = app.add_subcommand(
      "merge", "Materialize the merged daily series (batch + speed) as Parquet or CSV files");
  mrg->add_option("--out", ma.out,
                  "Output directory (daily.parquet or daily.csv; not inside the lake: see below)")
      ->required()
      ->check(NonEmpty());
  mrg->add_option("--format", ma.format, "parquet | csv")
      ->default_val("parquet")
      ->check(NonEmpty());
  mrg->footer(
      "The series /api/v1/daily serves: batch days before the watermark, speed days (from the\n"
      "stream's appended 1m candles) after it, ma7/ma30 across the seam. The lake is only read.");

  // up
  app::UpArgs ua;
  auto* up = app.add_subcommand(
      "up", "Run the whole Lambda: import, backfill, batch views, stream, serve, refresh");
  up->add_option("--replay", ua.replay,
                 "Run against the replay exchange serving these kline files/dirs, repeatable or "
                 "comma-separated (offline); default: Binance")
      ->check(NonEmptyList());
  up->add_option("--start", ua.start, "Replay: exchange time at start (default: end of data)")
      ->check(NonEmpty());
  up->add_option("--speed", ua.speed, "Replay: exchange seconds per real second")
      ->default_val(1.0)
      ->check(Number(0, true, 1e6, false));
  up->add_option("--import", ua.import_paths, "Import these files first (repeatable)")
      ->check(NonEmpty());
  up->add_option("--interval", ua.intervals,
                 "Backfill intervals, repeatable or comma-separated (default: config, 1m)")
      ->check(NonEmptyList());
  up->add_option("--from", ua.from,
                 "Backfill from this day (default: [backfill] start in the config, else "
                 "2017-08-17, Binance spot's first day)")
      ->check(NonEmpty());
  up->add_flag("--no-backfill", ua.no_backfill, "Skip the backfill");
  up->add_flag("--no-serve", ua.no_serve, "Do not start the HTTP server");
  add_serve_flags(up, ua.serve);
  up->add_option("--port-file", ua.port_file,
                 "Write the HTTP port here once listening (not inside the lake)")
      ->check(NonEmpty());
  up->add_option("--batch-every", ua.batch_every_seconds, "Seconds between batch refreshes")
      ->default_val(300)
      ->check(Seconds());
  up->add_option("--forecast-models", ua.forecast_models,
                 "The models the forecasts select among, repeatable or comma-separated (default: "
                 "every suite model but prophet, whose own forecast is still written beside)")
      ->check(NonEmpty());
  up->add_option("--batch-duty", ua.batch_duty,
                 "Share of wall time a periodic batch refresh may run: it sleeps between its "
                 "queries for the rest, so that serving keeps its latency")
      ->default_val(kBackgroundDuty)
      ->check(duty_check);
  up->add_option("--append-every", ua.append_every_seconds,
                 "Seconds between appends of streamed candles to the master dataset")
      ->default_val(60)
      ->check(Seconds());
  up->add_option("--until", ua.until,
                 "Stop once every symbol has a closed candle at this open time (exchange time)")
      ->check(NonEmpty());
  up->add_option("--duration", ua.duration_seconds, "Stop after this many seconds")
      ->check(Seconds());
  up->footer(
      "In order: the replay exchange (with --replay), import (with --import), backfill of the\n"
      "configured symbols and intervals from [backfill] start, the batch views, then the\n"
      "stream (embedded bus) and the HTTP server together, with a batch refresh every\n"
      "--batch-every seconds. The forecasts (forecast predict --model auto) are computed in the\n"
      "background once serving has started (the API answers 404 for a symbol until its first\n"
      "one is written), then after a refresh that brings a new complete day.\n"
      "SIGINT/SIGTERM stop it cleanly: the stream drains the bus and\n"
      "appends its last candles, a last batch refresh runs, and nothing is lost.");

  // forecast
  app::ForecastArgs fa;
  auto* fc = app.add_subcommand(
      "forecast",
      "Forecast daily closes: the model suite, selected per horizon by nested CV, with "
      "conformal bands; evaluate it");
  fc->require_subcommand(1);
  auto add_forecast_flags = [&fa](CLI::App* c) {
    c->add_option("--symbol", fa.symbol, "Symbol, e.g. BTCUSDT")
        ->required()
        ->transform(app::flags::Symbol());
    c->add_option("--model", fa.model,
                  "auto: the model selected per horizon by nested CV, with a conformal band; or "
                  "one model: prophet | naive | seasonal_naive | drift | ets | theta | arima | "
                  "ensemble (those built in)")
        ->default_val("auto")
        ->check(NonEmpty());
    c->add_option("--interval-width", fa.interval_width, "Width of the uncertainty interval")
        ->default_val(0.8)
        ->check(Number(0, true, 1, true));
    c->add_option("--samples", fa.samples, "Prophet: simulated paths for the interval")
        ->default_val(1000)
        ->check(IntIn(1, 100000));
    c->add_option("--seed", fa.seed, "Prophet: seed of the simulated paths")
        ->default_val(0)
        ->check(Seed());
    c->add_option("--changepoint-prior-scale", fa.changepoint_prior_scale,
                  "Prophet: scale of the Laplace prior on trend changes")
        ->default_val(0.05)
        ->check(Positive());
    c->add_option("--seasonality-mode", fa.seasonality_mode, "Prophet: additive | multiplicative")
        ->default_val("additive")
        ->check(NonEmpty());
    c->add_flag("--log-transform", fa.log_transform, "Prophet: fit log(close), forecast exp()");
    c->add_option("--growth", fa.growth, "Prophet: linear | logistic (needs --cap) | flat")
        ->default_val("linear")
        ->check(OneOf({"linear", "logistic", "flat"}));
    c->add_option("--cap", fa.cap, "Prophet, logistic growth: the capacity (a constant)")
        ->check(Number(-1e15, false, 1e15, false));
    c->add_option("--floor", fa.floor, "Prophet, logistic growth: the saturating minimum")
        ->check(Number(-1e15, false, 1e15, false));
    c->add_option("--changepoints", fa.changepoints,
                  "Prophet: explicit changepoint dates inside the history (YYYY-MM-DD, "
                  "comma-separated); they replace the 25 evenly placed ones")
        ->delimiter(',')
        ->check(NonEmptyList());
    c->add_option("--changepoint-range", fa.changepoint_range,
                  "Prophet: the share of the history the changepoints are placed in")
        ->default_val(0.8)
        ->check(Number(0, false, 1, false));
    c->add_option("--seasonality", fa.seasonalities,
                  "Prophet: an extra seasonality name:period_days:order[:prior_scale[:mode]], "
                  "repeatable (a seasonality conditional on a column is library-only: "
                  "forecast::Seasonality::condition_name)")
        ->check(NonEmpty());
    // Hidden (empty group): the reference comparison (bench/prophet_reference.py) feeds the
    // same prophet_input CSV to Prophet and to cryptolake.
    c->add_option("--csv-in", fa.csv_in, "Read the series from a prophet_input CSV (ds,y)")
        ->group("")
        ->check(NonEmpty());
  };
  auto* fc_fit = fc->add_subcommand(
      "fit", "Fit on the symbol's complete days, report the fit, write the forecast");
  auto* fc_pred =
      fc->add_subcommand("predict", "Fit on the symbol's complete days and write the forecast");
  // auto: the selection's margin (forecast/select.h).
  auto add_margin = [&fa](CLI::App* c) {
    c->add_option("--margin", fa.margin,
                  "auto: another model replaces naive only if its inner-CV MASE is lower by more "
                  "than this fraction")
        ->default_val(0.02)
        ->check(Number(0, false, 1, true));
    c->add_option("--min-win-share", fa.min_win_share,
                  "auto: ... and beats naive on more than this share of the inner cutoffs")
        ->default_val(0.7)
        ->check(Number(0, false, 1, true));
    c->add_option("--models", fa.suite,
                  "auto: the models to select among, repeatable or comma-separated (default: "
                  "every built-in model)")
        ->check(NonEmptyList());
  };
  for (auto* c : {fc_fit, fc_pred}) {
    add_forecast_flags(c);
    add_margin(c);
    c->add_option("--initial", fa.initial, "auto: the leaderboard's CV, least history")
        ->default_val("730d")
        ->check(NonEmpty());
    c->add_option("--period", fa.period, "auto: days between the CV's cutoffs")
        ->default_val("30d")
        ->check(NonEmpty());
    c->add_option("--horizon", fa.horizon, "auto: days ahead the CV scores and selects for")
        ->default_val("30d")
        ->check(NonEmpty());
    c->add_option("--threads", fa.threads, "auto: cutoffs fitted in parallel (0: all cores)")
        ->default_val(0)
        ->check(IntAtLeast(0));
    c->add_option("--periods", fa.periods, "Days to forecast after the last complete day")
        ->default_val(30)
        ->check(IntIn(1, 3650));
    c->add_option("--json-out", fa.json_out,
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
  auto* fc_cv = fc->add_subcommand(
      "cv", "Evaluate: rolling-origin cross-validation, or the prototype's protocol");
  add_forecast_flags(fc_cv);
  add_margin(fc_cv);
  fc_cv
      ->add_option("--protocol", fa.protocol,
                   "rolling: Prophet's cross_validation; seed: the prototype's 80/20 split with "
                   "ma7/ma30 regressors")
      ->default_val("rolling")
      ->check(NonEmpty());
  fc_cv->add_option("--initial", fa.initial, "rolling: least history before the first cutoff")
      ->default_val("730d")
      ->check(NonEmpty());
  fc_cv->add_option("--period", fa.period, "rolling: days between cutoffs")
      ->default_val("30d")
      ->check(NonEmpty());
  fc_cv->add_option("--horizon", fa.horizon, "rolling: days forecast after each cutoff")
      ->default_val("30d")
      ->check(NonEmpty());
  fc_cv
      ->add_option("--regressor", fa.regressors,
                   "Extra regressors from daily_filled: ma7, ma30, repeatable or comma-separated "
                   "(seed default: both)")
      ->check(NonEmptyList());
  fc_cv->add_flag("--allow-leakage", fa.allow_leakage,
                  "Run even if a regressor uses the close of a day being forecast (the "
                  "output is labelled leaky)");
  fc_cv->add_option("--threads", fa.threads, "rolling: cutoffs fitted in parallel (0: all cores)")
      ->default_val(0)
      ->check(IntAtLeast(0));
  fc_cv
      ->add_option("--out", fa.out,
                   "Output directory (default: <data>/forecasts/<SYMBOL>-cv, or -seed; not "
                   "inside the lake but under <data>/forecasts)")
      ->check(NonEmpty());
  fc_cv->footer(
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

  // replay-exchange
  app::ReplayArgs ra;
  auto* rep = app.add_subcommand(
      "replay-exchange",
      "Serve recorded klines as a Binance-compatible REST API and WebSocket streams on a local "
      "port (tests, demo)");
  rep->add_option("--data", ra.data,
                  "A lake root, or kline files, directories or globs as for import (repeatable)")
      ->required()
      ->check(NonEmpty());
  rep->add_option("--host", ra.host, "Address to listen on")
      ->default_val("127.0.0.1")
      ->check(NonEmpty());
  rep->add_option("--port", ra.port, "Port (0: an ephemeral one)")
      ->default_val(0)
      ->check(IntIn(0, 65535));
  rep->add_option("--port-file", ra.port_file,
                  "Write the bound port to this file (atomically; not inside a lake)")
      ->check(NonEmpty());
  rep->add_option("--speed", ra.speed, "Exchange seconds per real second")
      ->default_val(1.0)
      ->check(Number(0, true, 1e6, false));
  rep->add_option("--start", ra.start,
                  "Exchange time at start, e.g. 2021-05-01T12:00:00Z (default: the end of the "
                  "data)")
      ->check(NonEmpty());
  rep->add_option("--faults", ra.faults, "Fault spec (see below)")
      ->default_val("none")
      ->check(NonEmpty());
  rep->add_option("--ws-faults", ra.ws_faults, "WebSocket fault spec (see below)")
      ->default_val("none")
      ->check(NonEmpty());
  rep->add_option("--fault-seed", ra.fault_seed, "Seed of the fault draws")
      ->default_val(1)
      ->check(Seed());
  rep->add_option("--weight-limit", ra.weight_limit, "REQUEST_WEIGHT per minute")
      ->default_val(6000)
      ->check(IntAtLeast(1));
  rep->add_option("--ban-threshold", ra.ban_threshold,
                  "Requests inside a Retry-After window before an IP ban (418)")
      ->default_val(10)
      ->check(IntAtLeast(1));
  rep->add_flag("--log-requests", ra.log_requests, "Print each request to stderr");
  rep->add_option("--synthetic", ra.synthetic,
                  "Also serve this many synthetic symbols SYN000USDT..., each a recorded "
                  "symbol's klines at its own price scale")
      ->default_val(0)
      ->check(IntIn(0, 100000));
  rep->add_option("--synthetic-seed", ra.synthetic_seed, "Seed of the synthetic price scales")
      ->default_val(1)
      ->check(Seed());
  rep->footer(
      "Endpoints: GET /api/v3/ping, /api/v3/time, /api/v3/exchangeInfo, /api/v3/klines, in\n"
      "Binance's formats, weights and error codes. Klines are served up to the exchange time\n"
      "(the still-open candle included), which runs from --start at --speed.\n"
      "Faults (only on /api/v3/klines), e.g. --faults 429=0.02,5xx=0.05,drop=0.01:\n"
      "  429       a rate-limit burst: 429 with Retry-After for 2 s\n"
      "  418       an IP ban of 120 s\n"
      "  5xx       HTTP 500, 502 or 503\n"
      "  slow      the response is held back 3 s\n"
      "  truncate  half the body after a full Content-Length, then the connection closes\n"
      "  drop      the connection closes without a response\n"
      "  corrupt   a complete 200 whose JSON is cut in half\n"
      "Probabilities per request in [0, 1], summing to at most 1; 'none' for no faults.\n"
      "WebSocket streams on the same port: /ws/<stream> and /stream?streams=<a>/<b>, with\n"
      "<symbol>@kline_<interval> (the loaded klines, live at exchange time) and <symbol>@trade.\n"
      "WebSocket faults, e.g. --ws-faults disconnect_every=5s,stall_after=10s,malformed=0.01:\n"
      "  disconnect_every=<d>  each connection is cut <d> (real time) after it opened\n"
      "  stall_after=<d>       a connection sends nothing more after <d>, but stays open\n"
      "  malformed=<p>         a message is sent as broken JSON (probability per message)\n"
      "  duplicate=<p>         a message is sent twice\n"
      "Durations as 500ms, 5s, 2m, 1h.\n"
      "--synthetic N: SYN<k>USDT copies BTCUSDT (even k) or ETHUSDT (odd k) with prices times\n"
      "10^(k mod 7) x a seeded factor in [1.00, 9.99] and volumes times 1 + k mod 4.\n"
      "Stops on SIGINT or SIGTERM and prints its counters.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 says only that a subcommand is required, or that an argument was not expected.
    if (std::string word = UnknownCommand(app); !word.empty()) {
      std::fprintf(stderr, "error: unknown command %s\nRun with --help for more information.\n",
                   word.c_str());
      return 64;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : 64;
  }
  spdlog::set_level(g.verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_pattern("%^%l%$: %v");

  if (*rep) {  // no lake at the global --data root
    if (!ra.port_file.empty()) {
      if (Status s = app::CheckOutputPath("--port-file", ra.port_file, {}); !s.ok()) {
        return app::UsageFail(s);
      }
    }
    return app::RunReplayExchange(ra);
  }

  if (*srv || *up) {
    // Stop signals are taken with sigwait(): block them before any thread exists (DuckDB's
    // included), so that every thread inherits the mask.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  }
  auto config = app::ResolveConfig(g);
  if (!config.ok()) return app::Fail(config.status());
  // Outputs never go inside the lake's folder, but under forecasts/.
  std::vector<std::pair<const char*, std::string>> outputs;
  if (*cat && !ca.out.empty()) outputs.emplace_back("--out", ca.out);
  if (*mrg) outputs.emplace_back("--out", ma.out);
  if (*up && !ua.port_file.empty()) outputs.emplace_back("--port-file", ua.port_file);
  if (*fc_cv && !fa.out.empty()) outputs.emplace_back("--out", fa.out);
  if (*fc && !fa.json_out.empty()) outputs.emplace_back("--json-out", fa.json_out);
  for (const auto& [flag, path] : outputs) {
    if (Status s = app::CheckOutputPath(flag, path, config->data_root); !s.ok()) {
      return app::UsageFail(s);
    }
  }
  // Commands that read or maintain a lake need one, and never create it (the data root or
  // anything in it); forecast --csv-in reads no lake.
  const bool needs_lake =
      *sts || *ver || *cat || *srv || *mrg || *bat || *cmp || *gc || (*fc && fa.csv_in.empty());
  auto env = app::OpenEnv(*std::move(config), needs_lake);
  if (!env.ok()) return app::Fail(env.status());
  if (*imp) return app::RunImport(**env, ia);
  if (*bf) return app::RunBackfill(**env, bfa);
  if (*str) return app::RunStream(**env, sa);
  if (*bat) return app::RunBatch(**env, ba);
  if (*ver) return app::RunVerify(**env, va);
  if (*cmp) return app::RunCompact(**env, compact_dataset);
  if (*rpr) return app::RunRepair(**env, repair_drop);
  if (*sts) return app::RunStats(**env, digest);
  if (*gc) return app::RunGc(**env);
  if (*cat) return app::RunCat(**env, ca);
  if (*srv) return app::RunServe(**env, sva);
  if (*mrg) return app::RunMerge(**env, ma);
  if (*up) return app::RunUp(**env, ua);
  if (*fc) {
    fa.action = *fc_fit ? "fit" : *fc_pred ? "predict" : "cv";
    return app::RunForecast(**env, fa);
  }
  return 64;
}
