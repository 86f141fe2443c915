// Alert rules benchmark: what evaluating the rules costs, beside DuckDB's naive path.
//
// 1. A lake of the four real 1m windows of both symbols (../shared/data), imported; its klines
//    read once (lake::ReadKlines).
// 2. The engine (alerts/engine.h) over all of them through the history replay of `alerts
//    test` (alerts/history.h): the example config's rules (deploy/cryptolake.example.toml: a 3%
//    move in 60 min, MA7 cross, 30-day high, silence, gap, ...), a tick every minute, every
//    state change kept. Median of --runs; candles/s.
// 3. Baseline, DuckDB's naive path: the same move rule's raw condition in SQL over the same
//    candles (|close / LAG(close, 60 min) - 1| >= 3%, a window function per symbol, the minutes
//    counted), no state machine, cool-down or hysteresis. Median of --runs.
// 4. The live path: AlertService::OnCandles on a real event log with state.json rewritten
//    atomically after each call (`up`'s per-minute cost), one closed minute (both symbols) per
//    call, --minutes of them; median and p99 per call.
// Usage: alerts_bench [--runs K] [--minutes N] --keep DIR   (DIR: where the lake is left)
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "alerts/history.h"
#include "alerts/rules.h"
#include "alerts/service.h"
#include "core/time.h"
#include "ingest/importer.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "lake/lake.h"
#include "lake/typed.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double Median(std::vector<double> v) { return Quantile(std::move(v), 0.5); }

template <typename T>
T Must(StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "bench: %s\n", v.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(v).value();
}

void Must(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, minutes = 2000;
  fs::path keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--minutes") minutes = std::atoi(argv[i + 1]);
    if (a == "--keep") keep = argv[i + 1];
  }
  if (keep.empty()) {
    std::fprintf(stderr, "usage: alerts_bench [--runs K] [--minutes N] --keep DIR\n");
    return 64;
  }
  spdlog::set_level(spdlog::level::warn);
  SystemClock clock;
  lake::Database db = Must(lake::Database::Open());
  lake::Connection con = Must(lake::Connection::Open(db));
  fs::remove_all(keep);
  lake::Lake lk = Must(lake::Lake::Open(keep / "lake", clock));
  ingest::ImportOptions io;
  io.inputs = {std::string(CL_SHARED_DATA) + "/binance-spot/klines/1m"};
  io.progress = false;
  Must(ingest::Import(lk, con, io));
  lake::Snapshot snap = Must(lk.GetSnapshot());
  const Interval iv = *Interval::Parse("1m");
  lake::KlineRead kr;
  kr.ohlcv_only = true;
  std::vector<model::Kline> candles = Must(lake::ReadKlines(con, snap, iv, {}, kr));
  Micros first = INT64_MAX, last = 0;
  for (const auto& k : candles) {
    first = std::min(first, k.open_time);
    last = std::max(last, k.open_time);
  }
  const fs::path example = fs::path(CL_SOURCE_DIR) / "deploy/cryptolake.example.toml";
  alerts::AlertConfig cfg = Must(alerts::LoadAlertConfig(example));
  fmt::print("lake: {} 1m candles of BTCUSDT and ETHUSDT ({} .. {}); rules: {} ({})\n",
             candles.size(), FormatMinute(first), FormatMinute(last), cfg.rules.size(),
             example.filename().string());

  // 2. The engine over the whole history, as `alerts test` runs it.
  const Micros from = first + alerts::LookbackOf(cfg.rules), to = last + kMicrosPerMinute;
  std::vector<double> engine;
  size_t events = 0;
  for (int r = 0; r < runs; ++r) {
    alerts::Engine e(cfg.rules, {"BTCUSDT", "ETHUSDT"}, from);
    const auto t = std::chrono::steady_clock::now();
    events = alerts::ReplayHistory(e, candles, {}, from, to).size();
    engine.push_back(Seconds(t));
  }
  const double n = static_cast<double>(candles.size());
  fmt::print(
      "engine, history replay of {} rules (a tick per minute, {} minutes): {} events, "
      "median {:.3f} s, {:.2f} M candles/s\n",
      cfg.rules.size(), (to - from) / kMicrosPerMinute, events, Median(engine),
      n / Median(engine) / 1e6);

  // 3. DuckDB's naive path: the move rule's condition only.
  Must(con.Exec("CREATE TABLE k AS SELECT symbol, open_time, close FROM " +
                lake::KlinesSql(snap, iv)));
  std::vector<double> duck;
  int64_t minutes_over = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t = std::chrono::steady_clock::now();
    minutes_over = Must(
        con.QueryInt64("SELECT count(*) FROM (SELECT k.close / p.close - 1 AS m FROM k JOIN k p ON "
                       "p.symbol = k.symbol AND p.open_time = k.open_time - INTERVAL 60 MINUTE) "
                       "WHERE abs(m) >= 0.03"));
    duck.push_back(Seconds(t));
  }
  fmt::print(
      "DuckDB, the move rule's condition in SQL (no state, cool-down or hysteresis): {} "
      "minutes over 3%, median {:.3f} s, {:.2f} M candles/s\n",
      minutes_over, Median(duck), n / Median(duck) / 1e6);
  fmt::print(
      "ratio: the engine (all {} rules, with their state) takes {:.2f}x DuckDB's time for "
      "one rule's condition\n",
      cfg.rules.size(), Median(engine) / Median(duck));

  // 4. The live path, per closed minute.
  alerts::ServiceOptions so;
  so.dir = keep / "alerts";
  so.symbols = {"BTCUSDT", "ETHUSDT"};
  fs::remove_all(so.dir);
  auto svc = Must(alerts::AlertService::Open(cfg, so, clock));
  std::map<Micros, std::vector<model::Kline>> by_minute;
  for (const auto& k : candles) by_minute[k.open_time].push_back(k);
  std::vector<model::Kline> warm;
  auto it = by_minute.begin();
  for (int i = 0; i < 31 * 1440 && it != by_minute.end(); ++i, ++it) {
    warm.insert(warm.end(), it->second.begin(), it->second.end());
  }
  Must(svc->Warm(std::move(warm)));
  std::vector<double> per_call;
  for (int i = 0; i < minutes && it != by_minute.end(); ++i, ++it) {
    const auto t = std::chrono::steady_clock::now();
    Must(svc->OnCandles(it->second));
    per_call.push_back(Seconds(t) * 1e3);
  }
  fmt::print(
      "live path, AlertService::OnCandles per closed minute (event log + state.json): "
      "{} calls, median {:.3f} ms, p99 {:.3f} ms\n",
      per_call.size(), Median(per_call), Quantile(per_call, 0.99));
  return 0;
}
