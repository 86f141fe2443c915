// Subcommand runners. Each returns the process exit code and prints its own summary
// (stdout) or error (stderr, "error: <message>"). The steps `up` composes (import, backfill,
// batch) are also library calls that print their summaries and return a Status.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/pacer.h"
#include "core/status.h"
#include "lake/lake.h"
#include "lake/typed.h"

namespace cryptolake::app {

inline constexpr const char* kVersion = "0.1.0";

// Prints "error: <message>" to stderr and returns exit code 3 (a runtime error: bad input, I/O).
int Fail(const Status& s);
// Prints "error: <message>" to stderr and returns exit code 64 (a usage error: a flag's value).
int UsageFail(const Status& s);
// 0 for OK, else Fail(s) (exit code 3).
int ExitCode(const Status& s);

// The items of comma-separated and repeated list flags ("1m,1h" and --interval 1m --interval 1h
// alike), in order, empty items dropped (the flags' checks refuse them, app/flags.h).
std::vector<std::string> SplitList(const std::vector<std::string>& items);

struct GlobalOptions {
  std::string data;    // empty: from config or default
  std::string config;  // empty: ./cryptolake.toml if present
  bool verbose = false;
};

// The config file's values (--config, else ./cryptolake.toml if present; Config::Load checks
// them) with --data over [lake] data.
StatusOr<Config> ResolveConfig(const GlobalOptions& g);

// What every subcommand needs: the resolved config, the lake, and a DuckDB connection.
struct Env {
  Config config;
  std::unique_ptr<lake::Lake> lake;
  lake::DatabasePtr db;
  lake::ConnectionPtr con;
};
// Opens the lake at config.data_root and an in-memory DuckDB connection. With `require_lake`
// (the commands that read or maintain a lake: stats, verify, cat, serve, merge, forecast, batch,
// compact, gc) a data root without a _manifest.json is NotFound "no lake at <dir>: ...; run
// `cryptolake import` or `cryptolake backfill` first", checked before the lake is opened, so
// that such a command never creates the data root or anything in it.
StatusOr<std::unique_ptr<Env>> OpenEnv(Config config, bool require_lake);

// An output a flag names (`flag`: "--out", "--json-out", "--port-file"; a file or a directory)
// must not be inside a lake: a lake's folder holds only what the lake writes, and outputs under
// its forecasts/ (a user's file there would sit among files the lake manages). InvalidArgument
// naming the flag, the path and the lake if `out`, once symlinks and ".." are resolved
// (weakly_canonical), is `data_root` or lies under it, or is or lies under any directory that
// holds a _manifest.json, anywhere but under that lake's forecasts/. `data_root` may be empty
// (no lake of our own: only the _manifest.json rule applies). Reads the file system, writes
// nothing.
Status CheckOutputPath(std::string_view flag, const std::filesystem::path& out,
                       const std::filesystem::path& data_root);

struct ImportArgs {
  std::vector<std::string> paths;
  std::optional<std::string> symbol, interval;
  std::string format = "auto";
  bool strict = false;
  int threads = 0;
};
// Imports the files and prints the summary. The files that fail as a whole are left out, the
// others committed (ingest/importer.h), and the Status is the failure's (several: their messages
// one per line, each after the first prefixed "error: ", as `import` prints them).
Status ImportFiles(Env& env, const ImportArgs& a);
int RunImport(Env& env, const ImportArgs& a);  // ExitCode(ImportFiles)

struct BatchArgs {
  bool full = false;
  double duty = 1.0;  // share of wall time the refresh runs (core/pacer.h); 1: unpaced
};
// Refreshes the batch views (batch/views.h) and prints the summary.
Status RefreshBatch(Env& env, const BatchArgs& a);
int RunBatch(Env& env, const BatchArgs& a);  // ExitCode(RefreshBatch)

struct AlertsTestArgs {
  std::string rules;  // empty: the config file
  std::optional<std::string> from, to;
  std::vector<std::string> symbols;  // empty: the config's
  bool json = false;
};
int RunAlertsTest(Env& env, const AlertsTestArgs& a);

struct VerifyArgs {
  bool json = false;
  int max_ranges = 20;
};
int RunVerify(Env& env, const VerifyArgs& a);

struct BackfillArgs {
  std::string exchange;                // empty: from the config
  std::vector<std::string> symbols;    // empty: from the config
  std::vector<std::string> intervals;  // empty: from the config
  std::optional<std::string> from, to;
  std::optional<int> concurrency;  // none: from the config
  std::optional<double> budget;    // share of the weight limit, in (0, 1]; none: from the config
  int64_t weight_limit = 6000;
  int page_limit = 1000;
  int64_t chunk_rows = 200000;
  double timeout_seconds = 30;
  int max_attempts = 8;
  double backoff_ms = 500;
  bool no_batch = false;
};
// Backfills (backfill/backfill.h) from the exchange's REST API and prints the summary; then,
// unless `no_batch`, refreshes the batch views if anything was fetched and prints that summary.
// Ranges that could not be fetched: Unavailable "<n> range(s) could not be fetched (listed
// above); ...", everything else committed.
Status BackfillLake(Env& env, const BackfillArgs& a);
int RunBackfill(Env& env, const BackfillArgs& a);  // ExitCode(BackfillLake)

struct StreamArgs {
  double alert_tick_seconds = 1;  // how often the alert rules' timer ticks (wall time)
  std::string ws_url;             // empty: stream_url from the config
  std::string exchange;           // REST, for healing gaps after reconnects; empty: from the config
  std::vector<std::string> symbols;  // comma-separated items allowed; empty: from the config
  std::string bus = "embedded";
  std::string kafka_brokers = "127.0.0.1:9092";
  std::string kafka_topic = "cryptolake.events";
  int kafka_partitions = 4;  // when the topic is created
  std::optional<std::string> until;
  double duration_seconds = 0;
  double append_every_seconds = 60;
  double stall_timeout_seconds = 60;
  double rotate_after_seconds = 23 * 3600;
  bool no_heal = false;
  bool no_trades = false;
  std::string role = "both";              // both | producer | consumer (speed/stream.h)
  std::string group = "cryptolake-view";  // the consumer group
  std::string
      member;  // consumer: its view is <data>/speed/view-<member>.duckdb; empty: view.duckdb
};
int RunStream(Env& env, const StreamArgs& a);

// `dataset` empty: every dataset; otherwise one the lake has (NotFound listing them if not).
int RunCompact(Env& env, const std::string& dataset);
// `repair`: rebuilds a missing manifest, or with `drop` retires those files (verify/repair.h).
int RunRepair(Env& env, const std::vector<std::string>& drop);
int RunStats(Env& env, bool digest);
int RunGc(Env& env);

struct CatArgs {
  std::string dataset;
  std::optional<std::string> symbol;
  std::string out;  // empty: stdout
};
int RunCat(Env& env, const CatArgs& a);

struct ServeArgs {
  std::string bind = "127.0.0.1";
  int port = 8080;
  int threads = 2;
  std::string token;       // bearer token; required for a non-loopback bind
  std::string web_root;    // empty: <binary dir>/web
  int max_streams = 1024;  // Server-Sent Event streams open at once
};
int RunServe(Env& env, const ServeArgs& a);

struct MergeArgs {
  std::string out;                 // directory
  std::string format = "parquet";  // parquet | csv
};
int RunMerge(Env& env, const MergeArgs& a);

struct UpArgs {
  // Replay exchange data (files, dirs, globs; comma-separated items allowed); empty: Binance.
  std::vector<std::string> replay;
  std::optional<std::string> start;  // replay: exchange time at start
  double speed = 1.0;                // replay: exchange seconds per real second
  std::vector<std::string> import_paths;
  std::vector<std::string>
      intervals;  // backfill intervals (comma-separated allowed); empty: config
  // Backfill start; default: [backfill] start in the config, else Binance spot's first day.
  std::optional<std::string> from;
  bool no_backfill = false;
  bool no_serve = false;
  ServeArgs serve;
  std::string port_file;  // the server's port is written here once it listens
  double batch_every_seconds = 300;
  std::vector<std::string> forecast_models;  // the suite for the forecasts (empty: all but prophet)
  double batch_duty = kBackgroundDuty;       // the periodic refresh's pacing (core/pacer.h)
  double append_every_seconds = 60;
  double alert_tick_seconds = 1;  // how often the alert rules' timer ticks (wall time)
  std::optional<std::string> until;
  double duration_seconds = 0;
};
int RunUp(Env& env, const UpArgs& a);

// `forecast fit|predict|cv` (forecast_cmd.cc): the model and the baselines on a symbol's
// complete days (forecast/evaluate.h, forecast/report.h).
struct ForecastArgs {
  std::string action;  // "fit" | "predict" | "cv"
  std::string symbol;
  // auto: the suite's selection by nested CV (forecast/select.h); or one model: prophet, a
  // baseline (naive | seasonal_naive | drift) or a suite model (forecast/models.h)
  std::string model = "auto";
  double margin = 0.02;            // auto: the selection's margin (forecast/select.h)
  double min_win_share = 0.7;      // auto: Choose()'s win share
  std::vector<std::string> suite;  // auto: the models selected among (empty: all; lists allowed)
  // auto: models fitted once on the whole history and written beside the suite's under "models"
  // (the dashboard's switcher), outside the CV and the selection (`up`: prophet)
  std::vector<std::string> also_fit;
  // fit / predict: leave the forecast file alone when it already starts after the same last
  // complete day and close (`up` refreshes every batch; a forecast changes only with a new day)
  bool skip_if_current = false;
  int periods = 30;                                               // fit / predict: days ahead
  std::string initial = "730d", period = "30d", horizon = "30d";  // cv, rolling
  std::string protocol = "rolling";                               // cv: rolling | seed
  std::vector<std::string> regressors;  // daily_filled columns (comma-separated allowed); seed
                                        // default: ma7, ma30
  bool allow_leakage = false;
  int threads = 0;  // cv: 0 = hardware_concurrency
  std::string out;  // cv: output directory; empty: <data>/forecasts/<SYMBOL>-cv (or -seed)
  double interval_width = 0.8;
  int samples = 1000;
  uint64_t seed = 0;
  double changepoint_prior_scale = 0.05;
  std::string seasonality_mode = "additive";
  bool log_transform = false;
  // Hidden, for bench/prophet_reference.py: read the series from a prophet_input CSV (ds,y)
  // instead of the lake; fit/predict with json_out write only a JSON of the model's fit and
  // predict times and yhat/yhat_lower/yhat_upper over the history and the --periods days after.
  std::string csv_in;
  std::string json_out;
  // Prophet's options beyond its defaults (forecast/prophet.h), mapped by ModelOptions.
  std::string growth = "linear";
  std::optional<double> cap, floor;       // logistic: constant cap and floor
  std::vector<std::string> changepoints;  // dates (YYYY-MM-DD)
  double changepoint_range = 0.8;
  std::vector<std::string> seasonalities;  // name:period:order[:prior_scale[:mode]]
};
int RunForecast(Env& env, const ForecastArgs& a);

// Runs without an Env: it never opens the lake at the global --data root.
struct ReplayArgs {
  std::vector<std::string> data;  // a lake root, or kline files, directories, globs
  std::string host = "127.0.0.1";
  int port = 0;
  std::string port_file;
  double speed = 1.0;
  std::optional<std::string> start;
  std::string faults = "none";
  std::string ws_faults = "none";
  uint64_t fault_seed = 1;
  int64_t weight_limit = 6000;
  int ban_threshold = 10;
  bool log_requests = false;
  int synthetic = 0;  // extra symbols SYN000USDT... (exchange/replay.h)
  uint64_t synthetic_seed = 1;
};
int RunReplayExchange(const ReplayArgs& a);

}  // namespace cryptolake::app
