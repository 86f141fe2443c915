// Import and batch-refresh benchmark (issue 2, "Must show" 5).
//
// Builds a >= 10M-row 1m data set by replicating the real 2025 1m window of both symbols with
// shifted timestamps (values kept), then measures, in the same run:
//   baseline  DuckDB's own path: COPY (SELECT * FROM read_csv([...])) TO one Parquet file
//   baseline 2  DuckDB read_csv writing what the import writes: the lake's 13 columns, Hive
//             partitions per symbol/year/month (without validation, dedup or a manifest)
//   import    cryptolake import of the same files (parse, validate, dedup, partition, commit)
//   batch     full view build, then an incremental refresh after one more day of 1m data
// Each figure is the median of --runs runs; the import/baseline ratio is of the medians.
// Usage: import_bench [--rows N] [--runs K] [--keep DIR]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "batch/views.h"
#include "core/time.h"
#include "ingest/importer.h"
#include "lake/duck.h"
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

[[noreturn]] void Die(const Status& s) {
  std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

struct Source {
  std::string symbol;
  std::string header;
  std::vector<std::pair<int64_t, std::string>> rows;  // open_time ms, rest of the line
};

Source Load(const fs::path& p, const std::string& symbol) {
  Source s{symbol, {}, {}};
  std::ifstream in(p);
  std::string line;
  std::getline(in, s.header);
  while (std::getline(in, line)) {
    auto c = line.find(',');
    s.rows.emplace_back(std::stoll(line.substr(0, c)), line.substr(c));
  }
  return s;
}

// Writes copy k of `src` shifted back by k * 91 days; returns the path.
fs::path WriteCopy(const fs::path& dir, const Source& src, int k, int64_t shift_ms,
                   size_t max_rows) {
  fs::path p = dir / fmt::format("{}-1m-copy{:03}.csv", src.symbol, k);
  std::ofstream out(p);
  out << src.header << '\n';
  size_t n = 0;
  for (const auto& [t, rest] : src.rows) {
    if (n++ >= max_rows) break;
    out << (t - shift_ms) << rest << '\n';
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t target_rows = 10'000'000;
  int runs = 3;
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc)
      target_rows = std::atoll(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (a == "--keep" && i + 1 < argc)
      keep = argv[++i];
    else {
      std::fprintf(stderr, "usage: import_bench [--rows N] [--runs K] [--keep DIR]\n");
      return 64;
    }
  }
  if (const char* lv = std::getenv("CL_LOG")) spdlog::set_level(spdlog::level::from_str(lv));
  fs::path shared = CL_SHARED_DATA;
  fs::path m1 = shared / "binance-spot/klines/1m";
  std::vector<Source> srcs = {
      Load(m1 / "BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv", "BTCUSDT"),
      Load(m1 / "ETHUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv", "ETHUSDT")};

  fs::path work =
      keep.empty() ? fs::temp_directory_path() / fmt::format("cl-bench-{}", ::getpid()) : keep;
  fs::remove_all(work);
  fs::create_directories(work / "csv");
  // Copy 1.. are shifted back by 91 days each; copy 0 (the real window) is kept for the
  // incremental step: its first day is the "new day" appended after the full build.
  const int64_t kShiftMs = 91LL * 86'400'000;
  std::vector<std::string> files;
  int64_t rows = 0;
  for (int k = 1; rows < target_rows; ++k) {
    for (const auto& s : srcs) {
      files.push_back(WriteCopy(work / "csv", s, k, k * kShiftMs, SIZE_MAX).string());
      rows += static_cast<int64_t>(s.rows.size());
    }
  }
  fs::path newday = work / "newday";
  fs::create_directories(newday);
  std::vector<std::string> newday_files;
  for (const auto& s : srcs) newday_files.push_back(WriteCopy(newday, s, 0, 0, 1440).string());
  std::printf(
      "data: %zu CSV files, %lld rows (1m, both symbols, real values, shifted timestamps)\n",
      files.size(), static_cast<long long>(rows));

  std::vector<double> t_base, t_base2, t_import, t_full, t_incr;
  int64_t recomputed = 0, partitions = 0;
  for (int r = 0; r < runs; ++r) {
    // Baseline: DuckDB read_csv -> COPY TO Parquet, same files, same machine, same run.
    {
      auto db = lake::Database::Open();
      if (!db.ok()) Die(db.status());
      auto con = lake::Connection::Open(*db);
      if (!con.ok()) Die(con.status());
      std::vector<fs::path> paths(files.begin(), files.end());
      fs::path out = work / "baseline.parquet";
      auto t0 = std::chrono::steady_clock::now();
      Status s = con->Exec(fmt::format("COPY (SELECT * FROM read_csv({})) TO {} (FORMAT parquet)",
                                       lake::SqlPathList(paths), lake::SqlQuote(out.string())));
      if (!s.ok()) Die(s);
      t_base.push_back(Seconds(t0));
      fs::remove(out);
    }
    // Baseline 2: DuckDB producing what the import produces: the lake's schema and partitioned
    // layout (no validation, no dedup, no manifest).
    {
      auto db = lake::Database::Open();
      auto con = lake::Connection::Open(*db);
      if (!con.ok()) Die(con.status());
      std::vector<fs::path> paths(files.begin(), files.end());
      fs::path out = work / "baseline-lake";
      fs::remove_all(out);
      auto t0 = std::chrono::steady_clock::now();
      Status s = con->Exec(fmt::format(
          "COPY (SELECT regexp_extract(filename, '([A-Z0-9]+)-1m-', 1) AS symbol, "
          "CAST(year(make_timestamp(open_time * 1000)) AS VARCHAR) AS year, "
          "lpad(CAST(month(make_timestamp(open_time * 1000)) AS VARCHAR), 2, '0') AS month, "
          "CAST(make_timestamp(open_time * 1000) AS TIMESTAMPTZ) AS open_time, open, high, low, "
          "close, volume, "
          "NULL::TIMESTAMPTZ AS close_time, NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, "
          "NULL::DOUBLE AS taker_buy_base, NULL::DOUBLE AS taker_buy_quote, 'import' AS source, "
          "now() AS ingested_at FROM read_csv({}, filename = true)) TO {} "
          "(FORMAT parquet, PARTITION_BY (symbol, year, month), COMPRESSION snappy)",
          lake::SqlPathList(paths), lake::SqlQuote(out.string())));
      if (!s.ok()) Die(s);
      t_base2.push_back(Seconds(t0));
      fs::remove_all(out);
    }
    // cryptolake import into a fresh lake, then the batch views.
    fs::path root = work / "lake";
    fs::remove_all(root);
    auto lk = lake::Lake::Open(root, SystemClock::Instance());
    if (!lk.ok()) Die(lk.status());
    auto db = lake::Database::Open();
    auto con = lake::Connection::Open(*db);
    ingest::ImportOptions o;
    o.inputs = files;
    o.progress = false;
    auto t0 = std::chrono::steady_clock::now();
    auto st = ingest::Import(*lk, *con, o);
    if (!st.ok()) Die(st.status());
    t_import.push_back(Seconds(t0));
    if (st->rows_added != rows) {
      std::fprintf(stderr, "bench: imported %lld rows, expected %lld\n",
                   static_cast<long long>(st->rows_added), static_cast<long long>(rows));
      return 1;
    }
    t0 = std::chrono::steady_clock::now();
    auto full = batch::RefreshViews(*lk, *con, {});
    if (!full.ok()) Die(full.status());
    t_full.push_back(Seconds(t0));
    o.inputs = newday_files;
    auto st2 = ingest::Import(*lk, *con, o);
    if (!st2.ok()) Die(st2.status());
    t0 = std::chrono::steady_clock::now();
    auto incr = batch::RefreshViews(*lk, *con, {});
    if (!incr.ok()) Die(incr.status());
    t_incr.push_back(Seconds(t0));
    recomputed = incr->partitions_recomputed;
    partitions = incr->partitions_recomputed + incr->partitions_unchanged;
  }
  const double base = Median(t_base), imp = Median(t_import);
  std::printf("\n%-44s %12s %14s\n", "step (median of runs)", "seconds", "rows/s");
  std::printf("%-44s %12.3f %14.0f\n", "baseline: DuckDB read_csv -> COPY TO parquet", base,
              rows / base);
  const double base2 = Median(t_base2);
  std::printf("%-44s %12.3f %14.0f\n", "baseline 2: DuckDB, same schema + partitions", base2,
              rows / base2);
  std::printf("%-44s %12.3f %14.0f\n", "cryptolake import", imp, rows / imp);
  std::printf("%-44s %12.3f\n", "batch views, full build", Median(t_full));
  std::printf("%-44s %12.3f   (%lld of %lld partitions recomputed)\n",
              "batch views, incremental (+1 day of 1m)", Median(t_incr),
              static_cast<long long>(recomputed), static_cast<long long>(partitions));
  std::printf("\nimport speed vs DuckDB read_csv -> COPY TO parquet: %.2fx (goal >= 2x)\n",
              base / imp);
  std::printf("import speed vs DuckDB writing the same schema and partitions: %.2fx\n",
              base2 / imp);
  std::printf("runs: %d, figures are medians\n", runs);
  if (keep.empty()) fs::remove_all(work);
  return 0;
}
