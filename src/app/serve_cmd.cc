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

#include "app/commands.h"
#include "batch/views.h"
#include "core/fsutil.h"
#include "core/priority.h"
#include "exchange/binance_rest.h"
#include "exchange/governor.h"
#include "exchange/replay.h"
#include "forecast/models.h"
#include "serve/api.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "speed/stream.h"

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
      s = env.con->Exec(fmt::format(
          "COPY (SELECT * FROM read_csv({}, header = true, types = {{'day': 'DATE', 'ma7': "
          "'DOUBLE', 'ma30': 'DOUBLE'}}) ORDER BY symbol, day) TO {} (FORMAT parquet)",
          lake::SqlQuote(csv_path.string()), lake::SqlQuote(tmp_out.string())));
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

int RunUp(Env& env, const UpArgs& a) {
  Signals signals;
  sigaddset(&signals.set, SIGUSR1);  // wakes the signal thread at the end
  pthread_sigmask(SIG_BLOCK, &signals.set, nullptr);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  // A signal thread turns SIGINT/SIGTERM into `stop`.
  std::thread sig_thread([&] {
    int sig = 0;
    sigwait(&signals.set, &sig);
    if (sig == SIGUSR1) return;
    std::printf("up: %s, shutting down (finishing the stream and its last append)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  });
  auto finish = [&](int rc) {
    {
      std::lock_guard lock(mu);
      stop = true;
      cv.notify_all();
    }
    pthread_kill(sig_thread.native_handle(), SIGUSR1);
    sig_thread.join();
    return rc;
  };

  // 1. The exchange: Binance, or the replay exchange in process.
  std::unique_ptr<exchange::ReplayExchange> replay;
  std::string rest_url = env.config.exchange, ws_url = env.config.stream_url;
  if (!a.replay.empty()) {
    exchange::ReplayOptions ro;
    ro.speed = a.speed;
    ro.weight_limit = 1'000'000'000;  // the replay is ours: no need to emulate Binance's cap
    if (a.start) {
      auto t = ParseTime(*a.start);
      if (!t.ok()) return finish(Fail(t.status().WithContext("--start")));
      ro.start = *t;
    }
    auto ex = exchange::ReplayExchange::Create(SplitList(a.replay), SystemClock::Instance(), ro);
    if (!ex.ok()) return finish(Fail(ex.status()));
    if (Status s = (*ex)->Start(); !s.ok()) return finish(Fail(s));
    replay = std::move(*ex);
    rest_url = replay->url();
    ws_url = replay->ws_url();
    std::printf("up: replay exchange %s (exchange time %s, speed %sx)\n", rest_url.c_str(),
                FormatIso(replay->ExchangeNow() / kMicrosPerSecond * kMicrosPerSecond).c_str(),
                fmt::format("{}", a.speed).c_str());
  }
  std::fflush(stdout);

  // 2. Import, 3. backfill (then batch views), as `import` and `backfill` do.
  if (!a.import_paths.empty()) {
    ImportArgs ia;
    ia.paths = a.import_paths;
    if (int rc = RunImport(env, ia); rc != 0 && rc != 1) return finish(rc);
  }
  if (!a.no_backfill) {
    BackfillArgs ba;
    ba.exchange = rest_url;
    ba.intervals = a.intervals;
    ba.from = a.from;
    if (!ba.from && env.config.backfill_start.empty()) ba.from = "2017-08-17";
    if (replay) ba.weight_limit = 1'000'000'000;
    if (int rc = RunBackfill(env, ba); rc != 0) return finish(rc);
  }
  if (int rc = RunBatch(env, {}); rc != 0) return finish(rc);
  // Forecasts of every symbol (the API's /api/v1/forecast and the dashboard read them): the
  // suite's selection by nested CV with conformal bands (forecast --model auto), Prophet left
  // out of the CV: it would be refitted at every cutoff, costs the most per fit, and its honest
  // CV MAPE is 6-12 times naive's (README), so it is never selected; it is fitted once on the
  // whole history and written beside the others (the dashboard's model switcher). A refresh
  // recomputes a symbol's forecast only when its last complete day or close changed. A symbol
  // that cannot be forecast yet is skipped with a warning.
  std::vector<std::string> suite = SplitList(a.forecast_models);
  if (suite.empty()) {
    for (const auto& name : forecast::ModelNames()) {
      if (name != "prophet") suite.push_back(name);
    }
  }
  auto forecast_all = [&] {
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
  };

  // 4. The real-time view, read by the server while the stream writes it.
  speed::ViewOptions vo;
  auto view = speed::RealtimeView::Open(*env.lake, env.config.data_root / "speed/view.duckdb", vo);
  if (!view.ok()) return finish(Fail(view.status()));
  serve::MergedOptions mo;
  mo.symbols = env.config.symbols;
  serve::Merged merged(*env.lake, view->get(), mo);
  serve::Metrics metrics;
  serve::StreamGauges gauges;
  serve::RefreshHealth refresh_health(metrics);
  serve::ApiOptions ao;
  ao.forecast_dir = env.config.data_root / "forecasts";
  ao.gauges = &gauges;
  ao.refresh = &refresh_health;
  ExchangeClock exchange_clock(replay.get());
  serve::Api api(merged, exchange_clock, metrics, ao);
  std::unique_ptr<serve::HttpServer> server;
  if (!a.no_serve) {
    auto srv = StartServer(a.serve, api, metrics);
    if (!srv.ok()) return finish(Fail(srv.status()));
    server = std::move(*srv);
    std::printf("up: serving %s (dashboard at /, API at /api/v1/)\n", server->url().c_str());
    if (!a.port_file.empty()) {
      if (Status s = WriteFileAtomic(a.port_file, fmt::format("{}\n", server->port())); !s.ok()) {
        return finish(Fail(s));
      }
    }
    std::fflush(stdout);
  }

  // 5. Periodic batch refresh, beside the stream. Paced too: it sleeps between its queries
  // (core/pacer.h, --batch-duty), until shutdown releases the pacer. Every outcome goes to
  // refresh_health: a failure shows in /healthz, /metrics and the log.
  Pacer pacer(env.lake->clock(), a.batch_duty);
  auto record = [&](const Status& outcome) {
    refresh_health.Record(outcome, env.lake->clock().Now());
  };
  std::thread refresher([&] {
    // Background work: CPU time serving and streaming do not want (SCHED_IDLE; DuckDB's worker
    // threads, created by this thread, inherit it).
    if (Status s = SetThreadPriority(Priority::kIdle); !s.ok()) {
      spdlog::warn("up: batch refresh at normal priority: {}", s.message());
    }
    auto db = lake::Database::Open();
    if (!db.ok()) return record(db.status().WithContext("batch refresh: opening DuckDB"));
    auto con = lake::Connection::Open(*db);
    if (!con.ok()) return record(con.status().WithContext("batch refresh: connecting to DuckDB"));
    con->SetPacer(&pacer);
    // The first forecasts, here rather than before serving: the suite's CV takes a while, and
    // the API answers 404 for a symbol until its forecast exists.
    forecast_all();  // env.con is this thread's while the stream runs
    std::unique_lock lock(mu);
    while (!stop) {
      cv.wait_for(lock, std::chrono::duration<double>(a.batch_every_seconds),
                  [&] { return stop.load(); });
      if (stop) break;
      lock.unlock();
      auto rs = batch::RefreshViews(*env.lake, *con, {});
      record(rs.status());  // logs a failure; the loop retries at the next period
      if (rs.ok()) {
        merged.Invalidate();
        spdlog::info("up: batch views refreshed");
        forecast_all();  // env.con is this thread's while the stream runs
      }
      lock.lock();
    }
  });

  // 6. The stream, on this thread, until a signal, --until or --duration.
  speed::StreamOptions so;
  so.ws.url = ws_url;
  so.symbols = env.config.symbols;
  so.shared_view = view->get();
  so.append_every = static_cast<Micros>(a.append_every_seconds * kMicrosPerSecond);
  so.trades = false;
  if (a.until) {
    auto t = ParseTime(*a.until);
    if (!t.ok()) return finish(Fail(t.status()));
    so.until = *t;
  }
  if (a.duration_seconds > 0) {
    so.duration = static_cast<Micros>(a.duration_seconds * kMicrosPerSecond);
  }
  so.on_applied = [&](const std::vector<speed::Event>& events, const speed::ApplyStats&) {
    gauges.events += static_cast<int64_t>(events.size());
  };
  const Clock& clock = env.lake->clock();
  exchange::RateGovernor governor(clock, {});
  exchange::RestOptions rop;
  rop.base_url = rest_url;
  exchange::BinanceRest rest(rop, governor, clock);
  gauges.running = true;
  speed::EmbeddedBus bus;
  auto st = speed::RunStream(*env.lake, bus, &rest, so, stop);
  gauges.running = false;
  {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  }
  pacer.Release();  // a refresh under way finishes at full speed
  refresher.join();
  if (!st.ok()) {
    if (server) server->Stop();
    return finish(Fail(st.status()));
  }
  std::printf("%s\n", speed::FormatStreamSummary(*st).c_str());
  // A last refresh takes what the stream appended into the batch views.
  int rc = RunBatch(env, {});
  if (server) server->Stop();
  if (replay) replay->Stop();
  std::printf("up: stopped cleanly\n");
  return finish(rc);
}

}  // namespace cryptolake::app
