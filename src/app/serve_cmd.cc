// `cryptolake serve` and `cryptolake up`: the serving layer alone, and the whole Lambda in one
// process (replay exchange optional, import, backfill, batch views, stream, serve, periodic
// batch refresh).
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "alerts/live.h"
#include "app/commands.h"
#include "backfill/healer.h"
#include "batch/views.h"
#include "core/fsutil.h"
#include "core/priority.h"
#include "exchange/governor.h"
#include "exchange/replay.h"
#include "forecast/models.h"
#include "serve/api.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "serve/refresh_health.h"
#include "speed/stream.h"
#include "venues/binance/rest.h"
#include "venues/binance/stream_parser.h"

namespace cryptolake::app {

namespace {

namespace fs = std::filesystem;

// The dashboard's files: --web-root, else <dir of the binary>/web (the build assembles it
// there), else none.
fs::path WebRoot(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::is_directory(exe.parent_path() / "web")) return exe.parent_path() / "web";
  return {};
}

// Stop signals: a thread waits for them with sigwait() (blocked everywhere else).
struct Signals {
  sigset_t set;
  Signals() {
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
};

StatusOr<std::unique_ptr<serve::HttpServer>> StartServer(const ServeArgs& a, serve::Api& api,
                                                         serve::Metrics& metrics) {
  serve::ServerOptions so;
  so.bind = a.bind;
  so.port = a.port;
  so.threads = a.threads;
  if (!a.token.empty()) so.bearer_token = a.token;
  so.web_root = WebRoot(a.web_root);
  so.max_streams = a.max_streams;
  so.metrics = &metrics;
  return serve::HttpServer::Start(so, api.MakeRouter());
}

// "Now" as the exchange sees it: the replay exchange's clock runs at --speed from --start, and
// the stream's lag is measured against it.
class ExchangeClock final : public Clock {
 public:
  explicit ExchangeClock(const exchange::ReplayExchange* ex) : ex_(ex) {}
  Micros Now() const override { return ex_ ? ex_->ExchangeNow() : SystemClock::Instance().Now(); }
  void SleepUntil(Micros t) const override {
    while (Now() < t) SystemClock::Instance().SleepFor(1000);
  }

 private:
  const exchange::ReplayExchange* ex_;
};

}  // namespace

int RunServe(Env& env, const ServeArgs& a) {
  Signals signals;
  serve::MergedOptions mo;
  mo.symbols = env.config.symbols;
  serve::Merged merged(*env.lake, nullptr, mo);
  if (auto st = merged.Current(); !st.ok()) return Fail(st.status());
  serve::Metrics metrics;
  serve::ApiOptions ao;
  ao.forecast_dir = env.config.data_root / "forecasts";
  serve::Api api(merged, env.lake->clock(), metrics, ao);
  auto server = StartServer(a, api, metrics);
  if (!server.ok()) return Fail(server.status());
  std::printf("serve: %s (dashboard %s, API %s/api/v1/, lake %s)\n", (*server)->url().c_str(),
              WebRoot(a.web_root).empty() ? "not found: pass --web-root" : "at /",
              (*server)->url().c_str(), env.config.data_root.string().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals.set, &sig);
  (*server)->Stop();
  std::printf("serve: stopped by %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

int RunMerge(Env& env, const MergeArgs& a) {
  if (a.format != "parquet" && a.format != "csv") {
    return Fail(InvalidArgument("--format must be parquet or csv, got '{}'", a.format));
  }
  serve::MergedOptions mo;
  mo.symbols = env.config.symbols;
  serve::Merged merged(*env.lake, nullptr, mo);
  auto st = merged.Fresh();
  if (!st.ok()) return Fail(st.status());
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) return Fail(IOError("cannot create {}: {}", a.out, ec.message()));
  std::string csv = "symbol,day,open,high,low,close,volume,ma7,ma30,source,partial,filled\n";
  int64_t rows = 0;
  for (const auto& [symbol, s] : (*st)->symbols) {
    for (const auto& r : s->daily) {
      csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", symbol, FormatDate(r.day), r.open,
                         r.high, r.low, r.close, r.volume, r.ma7 ? fmt::format("{}", *r.ma7) : "",
                         r.ma30 ? fmt::format("{}", *r.ma30) : "", r.speed ? "speed" : "batch",
                         r.partial, r.filled);
      ++rows;
    }
  }
  fs::path out = fs::path(a.out) / (a.format == "parquet" ? "daily.parquet" : "daily.csv");
  if (a.format == "csv") {
    if (Status s = WriteFileAtomic(out, csv); !s.ok()) return Fail(s);
  } else {
    // The rows go through a CSV file of our own (created exclusively, so no file of the user's
    // is ever taken for it or removed), then into a temp Parquet file renamed over the output.
    std::string tmpl = (fs::path(a.out) / ".merge-XXXXXX.csv").string();
    int fd = ::mkstemps(tmpl.data(), 4);
    if (fd < 0) return Fail(IOError("cannot create a temp file in {}: {}", a.out, strerror(errno)));
    ::close(fd);
    const fs::path csv_path = tmpl;
    const fs::path tmp_out = fs::path(tmpl).replace_extension(".parquet");
    Status s = WriteFileAtomic(csv_path, csv);
    if (s.ok()) {
      s = lake::DailyCsvToParquet(*env.con, csv_path, tmp_out);
    }
    if (s.ok()) s = FsyncPath(tmp_out);
    if (s.ok()) s = RenameDurable(tmp_out, out);
    fs::remove(csv_path, ec);
    if (!s.ok()) {
      fs::remove(tmp_out, ec);
      return Fail(s);
    }
  }
  std::printf("merge: %lld rows of %zu symbols (lake version %lld) -> %s\n",
              static_cast<long long>(rows), (*st)->symbols.size(),
              static_cast<long long>((*st)->lake_version), out.string().c_str());
  return 0;
}

namespace {

// `up`'s stop: set by SIGINT or SIGTERM (a signal thread takes them with sigwait() and says so),
// or by the run itself once the stream has ended; waiters wake at once.
class UpStop {
 public:
  UpStop() {
    sigaddset(&signals_.set, SIGUSR1);  // wakes the signal thread at the end
    pthread_sigmask(SIG_BLOCK, &signals_.set, nullptr);
    thread_ = std::thread([this] { TakeSignal(); });
  }
  ~UpStop() {
    Set();
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  void Set() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  const std::atomic<bool>& flag() const { return stop_; }
  // Waits `seconds`, less once stopped; true if stopped.
  bool WaitFor(double seconds) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stop_.load(); });
  }

 private:
  void TakeSignal() {
    int sig = 0;
    sigwait(&signals_.set, &sig);
    if (sig == SIGUSR1) return;
    std::printf("up: %s, shutting down (finishing the stream and its last append)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    Set();
  }

  Signals signals_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

// 1. The exchange: Binance (the config's URLs), or the replay exchange in process.
struct UpExchange {
  std::unique_ptr<exchange::ReplayExchange> replay;  // null: Binance
  std::string rest_url, ws_url;
};

StatusOr<UpExchange> StartExchange(const Env& env, const UpArgs& a) {
  UpExchange ex{nullptr, env.config.exchange, env.config.stream_url};
  if (a.replay.empty()) return ex;
  exchange::ReplayOptions ro;
  ro.speed = a.speed;
  ro.weight_limit = 1'000'000'000;  // the replay is ours: no need to emulate Binance's cap
  if (a.start) {
    auto t = ParseTime(*a.start);
    if (!t.ok()) return t.status().WithContext("--start");
    ro.start = *t;
  }
  ASSIGN_OR_RETURN(ex.replay, exchange::ReplayExchange::Create(SplitList(a.replay),
                                                               SystemClock::Instance(), ro));
  RETURN_IF_ERROR(ex.replay->Start());
  ex.rest_url = ex.replay->url();
  ex.ws_url = ex.replay->ws_url();
  std::printf("up: replay exchange %s (exchange time %s, speed %sx)\n", ex.rest_url.c_str(),
              FormatIso(ex.replay->ExchangeNow() / kMicrosPerSecond * kMicrosPerSecond).c_str(),
              fmt::format("{}", a.speed).c_str());
  return ex;
}

// 2. Import (with --import), 3. backfill from [backfill] start (then the batch views), as
// `import` and `backfill` do.
Status LoadHistory(Env& env, const UpArgs& a, const UpExchange& ex) {
  if (!a.import_paths.empty()) {
    ImportArgs ia;
    ia.paths = a.import_paths;
    RETURN_IF_ERROR(ImportFiles(env, ia));
  }
  if (!a.no_backfill) {
    BackfillArgs ba;
    ba.exchange = ex.rest_url;
    ba.intervals = a.intervals;
    ba.from = a.from;
    if (!ba.from && env.config.backfill_start.empty()) ba.from = "2017-08-17";
    if (ex.replay) ba.weight_limit = 1'000'000'000;
    RETURN_IF_ERROR(BackfillLake(env, ba));
  }
  return RefreshBatch(env, {});
}

// Forecasts of every symbol (the API's /api/v1/forecast and the dashboard read them): the
// suite's selection by nested CV with conformal bands (forecast --model auto), Prophet left
// out of the CV: it would be refitted at every cutoff, costs the most per fit, and its honest
// CV MAPE is 6-12 times naive's (README), so it is never selected; it is fitted once on the
// whole history and written beside the others (the dashboard's model switcher). A refresh
// recomputes a symbol's forecast only when its last complete day or close changed. A symbol
// that cannot be forecast yet is skipped with a warning.
std::vector<std::string> ForecastSuite(const UpArgs& a) {
  std::vector<std::string> suite = SplitList(a.forecast_models);
  if (suite.empty()) {
    for (const auto& name : forecast::ModelNames()) {
      if (name != "prophet") suite.push_back(name);
    }
  }
  return suite;
}

void ForecastAll(Env& env, const std::vector<std::string>& suite, const std::atomic<bool>& stop) {
  for (const auto& symbol : env.config.symbols) {
    if (stop) return;  // shutting down: the next refresh of a later run writes it
    ForecastArgs fa;
    fa.action = "predict";
    fa.symbol = symbol;
    fa.suite = suite;
    fa.also_fit = {"prophet"};  // its own forecast, one click away on the dashboard
    fa.skip_if_current = true;
    if (RunForecast(env, fa) != 0) spdlog::warn("up: no forecast for {} this time", symbol);
  }
}

// 4. The real-time view, read by the server while the stream writes it; the merge over it and
// the lake; the API on the exchange's clock; the HTTP server (unless --no-serve), its port
// written to --port-file.
struct Serving {
  std::unique_ptr<speed::RealtimeView> view;
  std::unique_ptr<serve::Merged> merged;
  serve::Metrics metrics;
  serve::StreamGauges gauges;
  std::unique_ptr<serve::RefreshHealth> refresh_health;  // the batch refresh's outcomes
  std::unique_ptr<ExchangeClock> clock;
  std::unique_ptr<speed::StreamHealth> health;  // the stream's, on the exchange's clock
  std::atomic<const exchange::RateGovernor*> governor{nullptr};  // the stream's, while it runs
  std::unique_ptr<alerts::LiveAlerts> alerts;                    // null without [[alerts]] rules
  std::unique_ptr<serve::Api> api;
  std::unique_ptr<serve::HttpServer> server;  // null with --no-serve
};

// The stream's health on /metrics (deploy/prometheus/cryptolake.rules.yml alerts on them): the
// wall time of its last message, the REST governor's weight limit and 418 ban; and the
// reconnect and weight gauges of serve::StreamGauges, kept current from the same sources.
void AddStreamMetrics(Serving& s) {
  s.metrics
      .AddGauge("cryptolake_stream_last_message_timestamp_seconds",
                "Unix time (wall clock) of the stream's last WebSocket message; 0 before any")
      .WithLabels({})
      .SetCallback([h = s.health.get()] {
        return static_cast<double>(h->last_message_wall()) / kMicrosPerSecond;
      });
  auto usage = [g = &s.governor] {
    const auto* gov = g->load();
    return gov ? gov->Usage() : exchange::GovernorUsage{};
  };
  s.metrics.AddGauge("cryptolake_rest_weight_limit", "The exchange's REST weight limit per minute")
      .WithLabels({})
      .SetCallback([usage] { return static_cast<double>(usage().limit); });
  s.metrics.AddGauge("cryptolake_rest_ban_active", "1 while the exchange's 418 IP ban lasts")
      .WithLabels({})
      .SetCallback([usage] { return usage().banned_until != 0 ? 1.0 : 0.0; });
  s.gauges.reconnects_fn = [h = s.health.get()] { return h->reconnects(); };
  s.gauges.rest_weight_fn = [usage] { return usage().used; };
}

StatusOr<std::unique_ptr<Serving>> StartServing(Env& env, const UpArgs& a,
                                                const exchange::ReplayExchange* replay) {
  auto s = std::make_unique<Serving>();
  speed::ViewOptions vo;
  ASSIGN_OR_RETURN(s->view, speed::RealtimeView::Open(
                                *env.lake, env.config.data_root / "speed/view.duckdb", vo));
  serve::MergedOptions mo;
  mo.symbols = env.config.symbols;
  s->merged = std::make_unique<serve::Merged>(*env.lake, s->view.get(), mo);
  serve::ApiOptions ao;
  ao.forecast_dir = env.config.data_root / "forecasts";
  ao.gauges = &s->gauges;
  s->refresh_health = std::make_unique<serve::RefreshHealth>(s->metrics);
  ao.refresh = s->refresh_health.get();
  s->clock = std::make_unique<ExchangeClock>(replay);
  s->health = std::make_unique<speed::StreamHealth>(*s->clock);
  alerts::LiveOptions lo;
  lo.config_file = env.config.file;
  lo.data_root = env.config.data_root;
  lo.symbols = env.config.symbols;
  lo.metrics = &s->metrics;
  lo.view = s->view.get();
  lo.health = s->health.get();
  lo.tick = a.alert_tick_seconds;
  ASSIGN_OR_RETURN(s->alerts, alerts::LiveAlerts::Start(*env.lake, *env.con, *s->clock, lo));
  if (s->alerts) ao.alerts = &s->alerts->service();
  AddStreamMetrics(*s);
  s->api = std::make_unique<serve::Api>(*s->merged, *s->clock, s->metrics, ao);
  if (a.no_serve) return s;
  ASSIGN_OR_RETURN(s->server, StartServer(a.serve, *s->api, s->metrics));
  std::printf("up: serving %s (dashboard at /, API at /api/v1/)\n", s->server->url().c_str());
  if (!a.port_file.empty()) {
    RETURN_IF_ERROR(WriteFileAtomic(a.port_file, fmt::format("{}\n", s->server->port())));
  }
  std::fflush(stdout);
  return s;
}

// 5. Periodic batch refresh, beside the stream, every --batch-every seconds until the stop;
// the first forecasts before it. Paced too: it sleeps between its queries (core/pacer.h,
// --batch-duty), until Join() releases the pacer. Every outcome goes to the refresh health: a
// failure shows in /healthz, /metrics and the log.
class Refresher {
 public:
  Refresher(Env& env, UpStop& stop, serve::Merged& merged, serve::RefreshHealth& health,
            const UpArgs& a)
      : stop_(stop), health_(health), pacer_(env.lake->clock(), a.batch_duty) {
    thread_ = std::thread([this, &env, &merged, every = a.batch_every_seconds,
                           suite = ForecastSuite(a)] { Run(env, merged, every, suite); });
  }
  ~Refresher() { Join(); }
  // Stops it; a refresh under way finishes at full speed.
  void Join() {
    if (!thread_.joinable()) return;
    stop_.Set();
    pacer_.Release();
    thread_.join();
  }

 private:
  void Run(Env& env, serve::Merged& merged, double every, const std::vector<std::string>& suite) {
    // Background work: CPU time serving and streaming do not want (SCHED_IDLE; DuckDB's worker
    // threads, created by this thread, inherit it).
    if (Status s = SetThreadPriority(Priority::kIdle); !s.ok()) {
      spdlog::warn("up: batch refresh at normal priority: {}", s.message());
    }
    auto record = [&](const Status& outcome) { health_.Record(outcome, env.lake->clock().Now()); };
    auto db = lake::OpenDatabase();
    if (!db.ok()) return record(db.status().WithContext("batch refresh: opening DuckDB"));
    auto con = lake::OpenConnection(**db);
    if (!con.ok()) return record(con.status().WithContext("batch refresh: connecting to DuckDB"));
    lake::SetPacer(**con, &pacer_);
    // The first forecasts, here rather than before serving: the suite's CV takes a while, and
    // the API answers 404 for a symbol until its forecast exists.
    ForecastAll(env, suite, stop_.flag());  // env.con is this thread's while the stream runs
    while (!stop_.WaitFor(every)) {
      auto rs = batch::RefreshViews(*env.lake, **con, {});
      record(rs.status());  // logs a failure; the loop retries at the next period
      if (rs.ok()) {
        merged.Invalidate();
        spdlog::info("up: batch views refreshed");
        ForecastAll(env, suite, stop_.flag());  // env.con is this thread's while the stream runs
      }
    }
  }

  UpStop& stop_;
  serve::RefreshHealth& health_;
  Pacer pacer_;
  std::thread thread_;
};

// 6. The stream (embedded bus, no trades, gaps healed over REST), on this thread, until the
// stop, --until or --duration.
StatusOr<speed::StreamOptions> StreamOptionsOf(const Env& env, const UpArgs& a,
                                               const UpExchange& ex) {
  speed::StreamOptions so;
  so.ws.url = ex.ws_url;
  so.symbols = env.config.symbols;
  so.append_every = static_cast<Micros>(a.append_every_seconds * kMicrosPerSecond);
  so.trades = false;
  if (a.until) {
    ASSIGN_OR_RETURN(so.until, ParseTime(*a.until));
  }
  if (a.duration_seconds > 0) {
    so.duration = static_cast<Micros>(a.duration_seconds * kMicrosPerSecond);
  }
  return so;
}

StatusOr<speed::StreamStats> Stream(Env& env, speed::StreamOptions so, const UpExchange& ex,
                                    Serving& sv, const std::atomic<bool>& stop) {
  so.shared_view = sv.view.get();
  so.on_applied = [&sv](const std::vector<speed::Event>& events, const speed::ApplyStats&) {
    sv.gauges.events += static_cast<int64_t>(events.size());
  };
  const Clock& clock = env.lake->clock();
  exchange::RateGovernor governor(clock, {});
  venues::binance::RestOptions rop;
  rop.base_url = ex.rest_url;
  venues::binance::BinanceRest rest(rop, governor, clock);
  sv.gauges.running = true;
  speed::EmbeddedBus bus;
  backfill::BackfillHealer healer(*env.lake, rest);
  venues::binance::StreamParser format;
  so.format = &format;
  so.health = sv.health.get();
  if (sv.alerts) {
    sv.alerts->Hook(so);
    sv.alerts->SetGovernor(&governor);
  }
  sv.governor = &governor;
  auto st = speed::RunStream(*env.lake, bus, &healer, so, stop);
  sv.governor = nullptr;
  if (sv.alerts) sv.alerts->SetGovernor(nullptr);
  sv.gauges.running = false;
  return st;
}

}  // namespace

int RunUp(Env& env, const UpArgs& a) {
  UpStop stop;
  auto ex = StartExchange(env, a);
  if (!ex.ok()) return Fail(ex.status());
  std::fflush(stdout);
  if (Status s = LoadHistory(env, a, *ex); !s.ok()) return Fail(s);
  auto so = StreamOptionsOf(env, a, *ex);
  if (!so.ok()) return Fail(so.status());
  auto serving = StartServing(env, a, ex->replay.get());
  if (!serving.ok()) return Fail(serving.status());
  Serving& sv = **serving;
  Refresher refresher(env, stop, *sv.merged, *sv.refresh_health, a);
  auto st = Stream(env, *std::move(so), *ex, sv, stop.flag());
  refresher.Join();
  if (!st.ok()) {
    if (sv.server) sv.server->Stop();
    return Fail(st.status());
  }
  std::printf("%s\n", speed::FormatStreamSummary(*st).c_str());
  // A last refresh takes what the stream appended into the batch views.
  const int rc = ExitCode(RefreshBatch(env, {}));
  if (sv.server) sv.server->Stop();
  if (ex->replay) ex->replay->Stop();
  std::printf("up: stopped cleanly\n");
  return rc;
}

}  // namespace cryptolake::app
