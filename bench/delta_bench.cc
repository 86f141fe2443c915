// Delta log benchmark (issue 14, "Must show" 4), the C++ half; scripts/bench.sh delta runs it and
// then times delta-rs and polars on the same lake (bench/delta_read.py), so that all figures come
// from one run on one lake.
//
// 1. A lake of the four real 1m windows of both symbols (../shared/data), imported.
// 2. Reading the full klines_1m of both symbols through the manifest with DuckDB, materialized
//    in memory (CREATE TABLE AS): every stored row (what a Delta reader gets) and read-time
//    deduplicated (KlinesSql, what cryptolake serves). Median of --runs.
// 3. Commit latency: --commits commits of one hour of 1m rows each (StageQuery + Commit), into a
//    fresh lake with the Delta log on and one with it off (Lake::Options::delta_log), alternating;
//    the median commit over all runs, and the difference = the latency the log adds.
// Usage: delta_bench [--runs K] [--commits N] --keep DIR   (DIR: where the lake is left)
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/time.h"
#include "ingest/importer.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "lake/lake.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

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

// Commits `n` commits of 60 1m rows each into a fresh lake at `dir`; the seconds of each commit.
std::vector<double> CommitLatencies(const fs::path& dir, bool delta_log, int n,
                                    lake::Connection& con) {
  fs::remove_all(dir);
  SystemClock clock;
  lake::Lake::Options o;
  o.delta_log = delta_log;
  lake::Lake lk = Must(lake::Lake::Open(dir, clock, o));
  const Interval iv = *Interval::Parse("1m");
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const int64_t t0 = 1747699200 + int64_t{i} * 3600;  // 2025-05-20 + i hours
    const std::string rows = fmt::format(
        "(SELECT 'BTCUSDT' AS symbol, to_timestamp({0} + k * 60) AS open_time, 100.0 AS open, "
        "101.0 AS high, 99.0 AS low, 100.5 AS close, 1.5 AS volume, to_timestamp({0} + k * 60 + "
        "59.999) AS close_time, 10.0 AS quote_volume, 3::BIGINT AS trades, 0.5 AS "
        "taker_buy_base, 5.0 AS taker_buy_quote, 'stream' AS source, now() AS ingested_at FROM "
        "range(60) t(k))",
        t0);
    lake::Transaction txn = Must(lk.Begin());
    Must(lake::StageQuery(con, txn, lake::WithKlinePartitions(iv, rows),
                          lake::KlinesStageSpec(iv, lake::Source::kStream)));
    const auto t = std::chrono::steady_clock::now();
    Must(lk.Commit(std::move(txn)));
    out.push_back(Seconds(t));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, commits = 30;
  fs::path keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--commits") commits = std::atoi(argv[i + 1]);
    if (a == "--keep") keep = argv[i + 1];
  }
  if (keep.empty()) {
    std::fprintf(stderr, "usage: delta_bench [--runs K] [--commits N] --keep DIR\n");
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
  const auto ti = std::chrono::steady_clock::now();
  ingest::ImportStats st = Must(ingest::Import(lk, con, io));
  fmt::print("lake: {} rows of klines_1m (both symbols, four 1m windows) imported in {:.1f} s\n",
             st.rows_added, Seconds(ti));

  lake::Snapshot snap = Must(lk.GetSnapshot());
  const Interval iv = *Interval::Parse("1m");
  std::vector<double> raw, dedup;
  for (int r = 0; r < runs; ++r) {
    auto t = std::chrono::steady_clock::now();
    Must(con.Exec("CREATE OR REPLACE TABLE r AS SELECT * FROM " +
                  snap.ScanSql(snap.Files("klines_1m"), "SELECT 1")));
    raw.push_back(Seconds(t));
    t = std::chrono::steady_clock::now();
    Must(con.Exec("CREATE OR REPLACE TABLE d AS SELECT * FROM " + lake::KlinesSql(snap, iv)));
    dedup.push_back(Seconds(t));
  }
  const int64_t rows = Must(con.QueryInt64("SELECT count(*) FROM r"));
  Must(con.Exec("DROP TABLE r; DROP TABLE d"));
  fmt::print("read klines_1m, manifest + DuckDB, every stored row: {} rows, median {:.3f} s\n",
             rows, Median(raw));
  fmt::print("read klines_1m, manifest + DuckDB, deduplicated:     median {:.3f} s\n",
             Median(dedup));

  std::vector<double> on, off;
  for (int r = 0; r < runs; ++r) {
    for (double s : CommitLatencies(keep / "commit-on", true, commits, con)) on.push_back(s);
    for (double s : CommitLatencies(keep / "commit-off", false, commits, con)) off.push_back(s);
  }
  fmt::print(
      "commit, {} commits x {} runs: with the Delta log median {:.2f} ms, without {:.2f} "
      "ms: the log adds {:.2f} ms ({:.0f}%)\n",
      commits, runs, Median(on) * 1e3, Median(off) * 1e3, (Median(on) - Median(off)) * 1e3,
      (Median(on) / Median(off) - 1) * 100);
  fs::remove_all(keep / "commit-on");
  fs::remove_all(keep / "commit-off");
  fmt::print("lake left at {} for the delta-rs and polars reads\n", (keep / "lake").string());
  return 0;
}
