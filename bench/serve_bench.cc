// Serving benchmark (issue 5, "Must show" 4): requests/s and p99 latency of /api/v1/daily over
// the full history, measured with wrk against a real HttpServer on 127.0.0.1.
//
// The lake is built in a temp dir from the real data, read in place: the Binance BTCUSDT and
// ETHUSDT 1d files and the Bitstamp BTC/USD daily file (symbol BTCUSD, imported strict; left out,
// with a note, if it does not import cleanly), then a full batch refresh. The server is what
// `cryptolake serve` runs: serve::Api over serve::Merged (no real-time view), 2 io threads,
// request metrics on. On the same router, in the same run:
//   baseline  /naive/daily: DuckDB's naive path per request, no cache: a lake snapshot, a query
//             of the daily_raw watermark and of the daily_filled rows (batch::ViewSql, Parquet),
//             the rows rendered as the API renders them. Its body is checked to be byte-equal to
//             the API's before anything is measured.
//   alone     /api/v1/daily
//   refresh   /api/v1/daily while another thread runs batch::RefreshViews {.full = true} in a
//             loop on its own DuckDB and calls Merged::Invalidate() after each one; it runs as
//             `cryptolake up` runs its refreshes: at SCHED_IDLE (core/priority.h), paced at
//             duty kBackgroundDuty (core/pacer.h: it sleeps between its queries). Also unpaced
//             (duty 1, still SCHED_IDLE), to show what the pacing buys.
//   gzip      both again with "Accept-Encoding: gzip", as a browser asks (wrk sends none); the
//             gzip body is checked to inflate to the same bytes
// Each scenario runs `wrk -t<T> -c<C> -d<S>s --latency` (a child process) --runs times,
// interleaved; the figures are medians over runs. Beside wrk's p50/p99, the slowest handler of
// the run (the server's request-duration histogram, bucket bound): a handler that waits holds
// its io thread and every request queued behind it. Also printed: what a state swap costs after
// a refresh, uncontended. A run with a non-2xx response or a socket error fails the benchmark
// (exit 1). wrk, the server and the refresh share this machine's cores (and other users').
// Usage: serve_bench [--runs K] [--duration S] [--naive-duration S] [--connections C]
//                    [--threads T] [--symbol SYM] [--keep DIR]
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "batch/views.h"
#include "core/pacer.h"
#include "core/priority.h"
#include "core/time.h"
#include "ingest/importer.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "serve/api.h"
#include "serve/gzip.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "serve/metrics.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}
[[noreturn]] void Die(const Status& s) { Die(s.ToString()); }

// ---------------------------------------------------------------------------------------------
// The naive baseline: DuckDB per request.

void Num(std::string& out, double v) {  // as api.cc renders a JSON number
  if (!std::isfinite(v)) {
    out += "null";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

StatusOr<serve::Response> NaiveDaily(lake::Lake& lk, const lake::Database& db,
                                     const std::string& symbol) {
  ASSIGN_OR_RETURN(lake::Snapshot snap, lk.GetSnapshot());
  ASSIGN_OR_RETURN(lake::Connection con, lake::Connection::Open(db));
  ASSIGN_OR_RETURN(
      lake::Result w,
      con.Query(fmt::format("SELECT max(epoch_us(day)) + {} FROM {} WHERE minutes_present = 1440",
                            kMicrosPerDay, batch::ViewSql(snap, batch::kDailyRaw, symbol))));
  const Micros watermark = w.rows() == 0 || w.IsNull(0, 0) ? 0 : w.GetInt64(0, 0);
  ASSIGN_OR_RETURN(lake::Result r,
                   con.Query(fmt::format("SELECT epoch_us(day), open, high, low, close, volume, "
                                         "ma7, ma30, filled FROM {} ORDER BY day",
                                         batch::ViewSql(snap, batch::kDailyFilled, symbol))));
  if (r.rows() == 0) return serve::JsonError(404, "symbol", "unknown symbol");
  serve::Response resp;
  std::string& out = resp.body;
  out.reserve(64 + r.rows() * 200);
  out += "{\"symbol\":\"" + symbol + "\",\"batch_watermark\":";
  out += watermark > 0 ? "\"" + FormatDate(watermark) + "\"" : std::string("null");
  out += ",\"rows\":[";
  bool first = true;
  for (size_t i = 0; i < r.rows(); ++i) {
    // As serve::MergeDaily with no speed candles: days before the watermark as stored, stored
    // days after it (not forward-filled ones) partial.
    const Micros day = r.GetInt64(0, i);
    const bool filled = r.GetBool(8, i);
    if (day >= watermark && filled) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"day\":\"";
    out += FormatDate(day);
    out += "\",\"open\":";
    Num(out, r.GetDouble(1, i));
    out += ",\"high\":";
    Num(out, r.GetDouble(2, i));
    out += ",\"low\":";
    Num(out, r.GetDouble(3, i));
    out += ",\"close\":";
    Num(out, r.GetDouble(4, i));
    out += ",\"volume\":";
    Num(out, r.GetDouble(5, i));
    out += ",\"ma7\":";
    r.IsNull(6, i) ? void(out += "null") : Num(out, r.GetDouble(6, i));
    out += ",\"ma30\":";
    r.IsNull(7, i) ? void(out += "null") : Num(out, r.GetDouble(7, i));
    out += ",\"source\":\"batch\"";
    out += day >= watermark ? ",\"partial\":true" : ",\"partial\":false";
    out += filled ? ",\"filled\":true}" : ",\"filled\":false}";
  }
  out += "]}";
  return resp;
}

// ---------------------------------------------------------------------------------------------
// One plain HTTP/1.0 GET (for the checks): status, head and body.

struct Fetched {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

Fetched Get(int port, const std::string& target, const std::string& headers = "") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    Die(fmt::format("cannot connect to 127.0.0.1:{}", port));
  }
  std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
  if (::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) Die("send");
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, n);
  ::close(fd);
  Fetched f;
  size_t sp = all.find(' '), end = all.find("\r\n\r\n");
  if (sp == std::string::npos || end == std::string::npos) Die("bad response to " + target);
  f.status = std::atoi(all.c_str() + sp + 1);
  f.head = all.substr(0, end + 2);
  f.body = all.substr(end + 4);
  return f;
}

// ---------------------------------------------------------------------------------------------
// wrk

struct WrkRun {
  bool ok = false;  // wrk ran and its output parsed
  double rps = 0;
  double p50_ms = 0, p99_ms = 0;
  long long requests = 0;
  long long non2xx = 0;         // "Non-2xx or 3xx responses: N" (absent: 0)
  long long socket_errors = 0;  // connect + read + write + timeout (absent: 0)
  std::string output;
  // Server side, from the route's request-duration histogram: the slowest handler's bucket
  // bound (ms). A handler that waits (a lock, a state rebuild) holds its io thread, and so every
  // request queued behind it on that thread, for that long.
  double handler_max_ms = 0;
};

// The upper bound (ms) of the highest non-empty bucket of `after - before` (per-bucket counts of
// a histogram with `bounds` in seconds); infinity for the +Inf bucket.
double BucketMaxMs(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                   const std::vector<uint64_t>& after) {
  for (size_t i = after.size(); i-- > 0;) {
    if (after[i] > before[i]) {
      return i < bounds.size() ? bounds[i] * 1000 : std::numeric_limits<double>::infinity();
    }
  }
  return 0;
}

// "1.23ms", "850.00us", "1.02s" -> milliseconds; negative if not a duration.
double ParseMs(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit(end);
  if (unit == "us") return v / 1000;
  if (unit == "ms") return v;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60'000;
  return -1;
}

WrkRun RunWrk(const std::string& url, bool gzip, int threads, int connections, int seconds) {
  WrkRun w;
  std::string cmd = fmt::format("wrk -t{} -c{} -d{}s --latency {}'{}' 2>&1", threads, connections,
                                seconds, gzip ? "-H 'Accept-Encoding: gzip' " : "", url);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return w;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) w.output.append(buf, n);
  int rc = ::pclose(p);
  bool have_rps = false, have_p50 = false, have_p99 = false;
  size_t pos = 0;
  while (pos < w.output.size()) {
    size_t nl = w.output.find('\n', pos);
    std::string line = w.output.substr(pos, nl == std::string::npos ? nl : nl - pos);
    pos = nl == std::string::npos ? w.output.size() : nl + 1;
    char unit_val[64];
    long long c, r, wr, t;
    double d;
    if (std::sscanf(line.c_str(), " 50%% %63s", unit_val) == 1) {
      w.p50_ms = ParseMs(unit_val);
      have_p50 = w.p50_ms >= 0;
    } else if (std::sscanf(line.c_str(), " 99%% %63s", unit_val) == 1) {
      w.p99_ms = ParseMs(unit_val);
      have_p99 = w.p99_ms >= 0;
    } else if (std::sscanf(line.c_str(), "Requests/sec: %lf", &d) == 1) {
      w.rps = d;
      have_rps = true;
    } else if (std::sscanf(line.c_str(), " %lld requests in", &c) == 1) {
      w.requests = c;
    } else if (std::sscanf(line.c_str(), " Non-2xx or 3xx responses: %lld", &c) == 1) {
      w.non2xx = c;
    } else if (std::sscanf(line.c_str(),
                           " Socket errors: connect %lld, read %lld, write %lld, timeout %lld", &c,
                           &r, &wr, &t) == 4) {
      w.socket_errors = c + r + wr + t;
    }
  }
  w.ok = rc == 0 && have_rps && have_p50 && have_p99 && w.requests > 0;
  return w;
}

struct Scenario {
  std::string name;
  std::string target;
  int seconds = 10;
  bool gzip = false;     // the request says "Accept-Encoding: gzip"
  bool refresh = false;  // during full refreshes
  double duty = 1;       // the refreshes' pacing (core/pacer.h)
  std::vector<WrkRun> runs = {};
  bool failed = false;
  // The median over the runs of one figure.
  double MedianOf(double WrkRun::*figure) const {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*figure);
    return Median(v);
  }
  double Rps() const { return MedianOf(&WrkRun::rps); }
  double P50() const { return MedianOf(&WrkRun::p50_ms); }
  double P99() const { return MedianOf(&WrkRun::p99_ms); }
  double HandlerMax() const { return MedianOf(&WrkRun::handler_max_ms); }
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, duration = 10, naive_duration = 5, connections = 16, threads = 2;
  std::string symbol = "BTCUSDT";
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--runs" && has) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--duration" && has) {
      duration = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--naive-duration" && has) {
      naive_duration = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--connections" && has) {
      connections = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--threads" && has) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--symbol" && has) {
      symbol = argv[++i];
    } else if (a == "--keep" && has) {
      keep = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: serve_bench [--runs K] [--duration S] [--naive-duration S] "
                   "[--connections C] [--threads T] [--symbol SYM] [--keep DIR]\n");
      return 64;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  if (const char* lv = std::getenv("CL_LOG")) spdlog::set_level(spdlog::level::from_str(lv));
  if (std::system("command -v wrk >/dev/null 2>&1") != 0) {
    Die("wrk not found (Debian package wrk; scripts/bench.sh serve installs it)");
  }

  // The lake, from the real data read in place.
  const fs::path shared = CL_SHARED_DATA;
  const fs::path work =
      keep.empty() ? fs::temp_directory_path() / fmt::format("cl-serve-bench-{}", ::getpid())
                   : keep;
  fs::remove_all(work);
  auto lk = lake::Lake::Open(work / "lake", SystemClock::Instance());
  if (!lk.ok()) Die(lk.status());
  {
    auto db = lake::Database::Open();
    if (!db.ok()) Die(db.status());
    auto con = lake::Connection::Open(*db);
    if (!con.ok()) Die(con.status());
    ingest::ImportOptions o;
    o.progress = false;
    o.strict = true;
    const fs::path d1 = shared / "binance-spot/klines/1d";
    o.inputs = {(d1 / "BTCUSDT-1d-2017-08_2026-04.csv").string(),
                (d1 / "ETHUSDT-1d-2017-08_2026-04.csv").string()};
    auto st = ingest::Import(*lk, *con, o);
    if (!st.ok()) Die(st.status());
    std::printf("lake: Binance 1d BTCUSDT + ETHUSDT, %lld rows\n",
                static_cast<long long>(st->rows_added));
    o.inputs = {(shared / "btcusd-daily/BTCUSD_1d_candles_full.csv").string()};
    auto st2 = ingest::Import(*lk, *con, o);
    if (st2.ok()) {
      std::printf("lake: Bitstamp BTC/USD daily (symbol BTCUSD), %lld rows\n",
                  static_cast<long long>(st2->rows_added));
    } else {
      std::printf("lake: Bitstamp BTC/USD daily left out: %s\n", st2.status().ToString().c_str());
    }
    auto t0 = std::chrono::steady_clock::now();
    auto rs = batch::RefreshViews(*lk, *con, {.full = true});
    if (!rs.ok()) Die(rs.status());
    std::printf("lake: batch views built in %.2f s (%lld rows written)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                static_cast<long long>(rs->rows_written));
  }

  // The server: the API as `cryptolake serve` runs it, plus the naive baseline route.
  // Destroyed (the builder stopped) before the lake's directory is removed.
  auto merged_owner = std::make_unique<serve::Merged>(*lk, nullptr);
  serve::Merged& merged = *merged_owner;
  if (auto st = merged.Current(); !st.ok()) Die(st.status());
  serve::Metrics metrics;
  auto api = std::make_unique<serve::Api>(merged, SystemClock::Instance(), metrics);
  serve::Router router = api->MakeRouter();
  auto naive_db = lake::Database::Open();
  if (!naive_db.ok()) Die(naive_db.status());
  router.Get("/naive/daily", [&](const serve::Request& req) {
    auto s = req.Param("symbol");
    if (!s) return serve::JsonError(400, "symbol", "symbol is required");
    auto r = NaiveDaily(*lk, *naive_db, *s);
    return r.ok() ? std::move(*r) : serve::JsonError(503, "", r.status().message());
  });
  serve::ServerOptions so;
  so.threads = 2;
  so.metrics = &metrics;
  auto server = serve::HttpServer::Start(so, std::move(router));
  if (!server.ok()) Die(server.status());
  const int port = (*server)->port();

  // Both paths give the same bytes, and the gzip variant inflates to them (the server makes it
  // off the io threads, so the first requests may get the body as is).
  const std::string query = "?symbol=" + symbol;
  Fetched api_body = Get(port, "/api/v1/daily" + query);
  Fetched naive_body = Get(port, "/naive/daily" + query);
  if (api_body.status != 200) Die(fmt::format("/api/v1/daily: HTTP {}", api_body.status));
  if (naive_body.status != 200) Die(fmt::format("/naive/daily: HTTP {}", naive_body.status));
  if (api_body.body != naive_body.body) {
    Die(fmt::format("/naive/daily differs from /api/v1/daily ({} vs {} bytes)",
                    naive_body.body.size(), api_body.body.size()));
  }
  const std::string kGzipped = "Content-Encoding: gzip\r\n";
  // The state's gzip copy is made with the state: the first request that asks gets it.
  Fetched gz = Get(port, "/api/v1/daily" + query, "Accept-Encoding: gzip\r\n");
  if (gz.head.find(kGzipped) == std::string::npos) Die("no gzip answer to Accept-Encoding: gzip");
  if (serve::Gunzip(gz.body) != api_body.body) Die("the gzip body differs from the body");
  size_t rows = 0;
  for (size_t at = 0; (at = api_body.body.find("{\"day\":", at)) != std::string::npos; ++at) {
    ++rows;
  }
  std::printf(
      "serve benchmark: GET /api/v1/daily%s, full history: %zu days, %zu bytes of JSON (%zu "
      "gzip); the naive path's body is byte-equal\n",
      query.c_str(), rows, api_body.body.size(), gz.body.size());

  // What a state swap costs, uncontended: after a refresh and Invalidate(), the builder's rebuild
  // (Merged::Fresh(): the lake read again, the merge, the Api's bodies rendered and compressed;
  // readers keep the old state meanwhile), then the first /daily of the new state.
  {
    auto db = lake::Database::Open();
    auto con = db.ok() ? lake::Connection::Open(*db) : StatusOr<lake::Connection>(db.status());
    if (!con.ok()) Die(con.status());
    std::vector<double> rebuild, first, next;
    auto ms = [](auto t0) {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
          .count();
    };
    for (int i = 0; i < 3; ++i) {
      if (auto rs = batch::RefreshViews(*lk, *con, {.full = true}); !rs.ok()) Die(rs.status());
      merged.Invalidate();
      auto t0 = std::chrono::steady_clock::now();
      if (auto st = merged.Fresh(); !st.ok()) Die(st.status());
      rebuild.push_back(ms(t0));
      t0 = std::chrono::steady_clock::now();
      Fetched f = Get(port, "/api/v1/daily" + query, "Accept-Encoding: gzip\r\n");
      first.push_back(ms(t0));
      if (f.head.find(kGzipped) == std::string::npos) Die("the new state's first GET: no gzip");
      t0 = std::chrono::steady_clock::now();
      Get(port, "/api/v1/daily" + query, "Accept-Encoding: gzip\r\n");
      next.push_back(ms(t0));
    }
    std::printf(
        "state swap after a refresh (uncontended, median of 3): the builder's rebuild %.1f ms "
        "(off the io threads); then the first GET (gzip) %.2f ms, the next %.2f ms\n",
        Median(rebuild), Median(first), Median(next));
  }
  std::printf(
      "server %s (2 io threads); wrk -t%d -c%d --latency, %d s per run (naive %d s), %d runs "
      "interleaved, %u cores\n",
      (*server)->url().c_str(), threads, connections, duration, naive_duration, runs,
      std::thread::hardware_concurrency());
  std::fflush(stdout);

  // The concurrent batch refresh: while `refreshing`, full refreshes back to back on a DuckDB of
  // its own, Invalidate() after each; `busy` while one is under way. The vector and the error
  // are the refresher's until it is joined.
  std::atomic<bool> refreshing{false}, busy{false}, quit{false}, refresh_failed{false};
  std::atomic<int64_t> refreshes{0};
  std::atomic<double> refresh_duty{1};
  std::map<double, std::vector<double>> refresh_seconds;  // by duty
  std::string refresh_error;
  std::thread refresher([&] {
    // Background work, as `cryptolake up` runs its refreshes: SCHED_IDLE, which DuckDB's worker
    // threads, created by this thread, inherit.
    if (Status s = SetThreadPriority(Priority::kIdle); !s.ok()) Die(s);
    auto db = lake::Database::Open();
    auto con = db.ok() ? lake::Connection::Open(*db) : StatusOr<lake::Connection>(db.status());
    if (!con.ok()) {
      refresh_error = con.status().ToString();
      refresh_failed = true;
      return;
    }
    while (!quit) {
      if (!refreshing) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      busy = true;
      const double duty = refresh_duty;
      Pacer pacer(SystemClock::Instance(), duty);
      con->SetPacer(&pacer);  // duty 1 never sleeps
      auto t0 = std::chrono::steady_clock::now();
      auto rs = batch::RefreshViews(*lk, *con, {.full = true});
      con->SetPacer(nullptr);
      if (!rs.ok()) {
        refresh_error = rs.status().ToString();
        refresh_failed = true;
        busy = false;
        return;
      }
      merged.Invalidate();
      refresh_seconds[duty].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      ++refreshes;
      busy = false;
    }
  });

  const std::string base = (*server)->url(), daily = "/api/v1/daily" + query;
  std::vector<Scenario> sc = {
      {"naive: DuckDB query per request", "/naive/daily" + query, naive_duration},
      {"/api/v1/daily alone", daily, duration},
      {"/api/v1/daily during full refreshes", daily, duration, false, true, kBackgroundDuty},
      {"/api/v1/daily alone, gzip", daily, duration, true},
      {"/api/v1/daily during refreshes, gzip", daily, duration, true, true, kBackgroundDuty},
      {"  same, refreshes unpaced", daily, duration, true, true, 1.0},
  };
  // The server's own request-duration histogram per route (HttpServer registers it at Start;
  // registering it again returns it): the time from a request read to its response ready,
  // i.e. the handler with its lock waits, without the transfer.
  auto& durations =
      metrics.AddHistogram("cryptolake_http_request_duration_seconds",
                           "Time from a request read to its response ready, by route.",
                           serve::Histogram::LatencyBuckets(), {"route"});
  std::map<double, std::vector<double>> refreshes_per_run;  // by duty
  bool failed = false;
  for (int r = 0; r < runs; ++r) {
    for (Scenario& s : sc) {
      const int64_t before = refreshes;
      if (s.refresh) {
        refresh_duty = s.duty;
        refreshing = true;
      }
      serve::Histogram& h = durations.WithLabels({s.target.substr(0, s.target.find('?'))});
      const std::vector<uint64_t> hist0 = h.BucketCounts();
      WrkRun w = RunWrk(base + s.target, s.gzip, threads, connections, s.seconds);
      w.handler_max_ms = BucketMaxMs(h.bounds(), hist0, h.BucketCounts());
      std::string note;
      if (s.refresh) {
        refreshing = false;
        // The refresh under way ends before the next scenario starts (it is counted).
        while (busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        refreshes_per_run[s.duty].push_back(static_cast<double>(refreshes - before));
        note = fmt::format(", {} refreshes", refreshes - before);
      }
      std::printf(
          "  run %d %-38s %7.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (slowest handler <= %g ms)  "
          "%lld "
          "requests, non-2xx %lld, socket errors %lld%s\n",
          r + 1, s.name.c_str(), w.rps, w.p50_ms, w.p99_ms, w.handler_max_ms, w.requests, w.non2xx,
          w.socket_errors, note.c_str());
      std::fflush(stdout);
      if (!w.ok || w.non2xx != 0 || w.socket_errors != 0) {
        std::printf("  FAILED: wrk output follows\n%s\n", w.output.c_str());
        s.failed = failed = true;
      }
      s.runs.push_back(std::move(w));
    }
  }
  quit = true;
  refresher.join();
  if (refresh_failed) {
    std::printf("refresh failed: %s\n", refresh_error.c_str());
    failed = true;
  }
  (*server)->Stop();
  if ((*server)->handler_exceptions() != 0) {
    std::printf("handlers threw %lld times\n",
                static_cast<long long>((*server)->handler_exceptions()));
    failed = true;
  }
  api.reset();
  merged_owner.reset();

  const double naive_rps = sc[0].Rps(), naive_p99 = sc[0].P99();
  std::printf("\n%-38s %7s %7s %7s %11s %12s %12s\n", "scenario (median of runs)", "req/s",
              "p50 ms", "p99 ms", "handler max", "req/s:naive", "p99 naive:x");
  for (const auto& s : sc) {
    std::printf("%-38s %7.0f %7.2f %7.2f %8s ms %11.1fx %11.1fx%s\n", s.name.c_str(), s.Rps(),
                s.P50(), s.P99(), fmt::format("<={:g}", s.HandlerMax()).c_str(),
                s.Rps() / std::max(naive_rps, 1e-9), naive_p99 / std::max(s.P99(), 1e-9),
                s.failed ? "  FAILED" : "");
  }
  std::printf("refreshes: %lld full refreshes during the runs\n",
              static_cast<long long>(refreshes.load()));
  for (const auto& [duty, secs] : refresh_seconds) {
    std::printf("  duty %g: median %.0f per %d s run, median %.2f s each\n", duty,
                Median(refreshes_per_run[duty]), duration, Median(secs));
  }
  std::printf("goal: >= 10000 req/s and p99 <= 5 ms\n");
  for (size_t i = 1; i < sc.size(); ++i) {
    std::printf("  %-38s req/s %s, p99 %s\n", sc[i].name.c_str(),
                sc[i].Rps() >= 10'000 ? "met" : "MISSED", sc[i].P99() <= 5.0 ? "met" : "MISSED");
  }
  if (keep.empty()) fs::remove_all(work);
  if (failed) {
    std::printf("FAILED: a run had errors (see above)\n");
    return 1;
  }
  return 0;
}
