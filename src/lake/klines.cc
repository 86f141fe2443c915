#include "lake/klines.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace cryptolake::lake {

std::string KlinesDataset(const Interval& interval) { return "klines_" + interval.name; }

std::vector<Interval> KlineIntervals(const Snapshot& snap) {
  std::vector<Interval> out;
  for (const auto& ds : snap.Datasets()) {
    if (ds.rfind("klines_", 0) != 0) continue;
    auto iv = Interval::Parse(ds.substr(7));
    if (iv.ok()) out.push_back(*iv);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.micros < b.micros; });
  return out;
}

StageSpec KlinesStageSpec(const Interval& interval, Source source) {
  StageSpec s;
  s.dataset = KlinesDataset(interval);
  s.dir = s.dataset;
  s.partitions = interval.micros < kMicrosPerDay ? std::vector<std::string>{"year", "month"}
                                                 : std::vector<std::string>{"year"};
  s.time_column = "open_time";
  s.source = SourceName(source);
  s.order_by = "open_time, source";
  return s;
}

std::string WithKlinePartitions(const Interval& interval, std::string_view rows) {
  // Computed on epoch micros so that no time-zone setting can move a row to another partition.
  const char* month =
      interval.micros < kMicrosPerDay
          ? ", lpad(CAST(month(make_timestamp(epoch_us(open_time))) AS VARCHAR), 2, '0') AS month"
          : "";
  // Every column is cast to its schema type, so no query can stage a file with a drifted type
  // (a DECIMAL literal, an INTEGER count) that verify would then reject.
  static const std::string kCasts = [] {
    std::string out;
    std::string cols = kKlineColumns;
    size_t pos = 0;
    while (pos < cols.size()) {
      size_t end = cols.find(", ", pos);
      if (end == std::string::npos) end = cols.size();
      std::string def = cols.substr(pos, end - pos);
      size_t sp = def.find(' ');
      std::string name = def.substr(0, sp), type = def.substr(sp + 1);
      if (!out.empty()) out += ", ";
      out += "CAST(" + name + " AS " + type + ") AS " + name;
      pos = end + 2;
    }
    return out;
  }();
  return fmt::format(
      "SELECT CAST(symbol AS VARCHAR) AS symbol, CAST(year(make_timestamp(epoch_us(open_time))) AS "
      "VARCHAR) "
      "AS year{}, {} FROM {}",
      month, kCasts, rows);
}

StatusOr<std::vector<FileEntry>> StageQuery(Connection& con, Transaction& txn,
                                            std::string_view query, const StageSpec& spec) {
  RETURN_IF_ERROR(con.Exec("DROP TABLE IF EXISTS _cl_stage"));
  auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(con.Exec(fmt::format("CREATE TEMP TABLE _cl_stage AS {}", query)));
  spdlog::debug("stage {}: materialize {:.3f} s", spec.dataset,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::string part_cols = "symbol";
  for (const auto& p : spec.partitions) part_cols += ", " + p;
  ASSIGN_OR_RETURN(
      Result parts,
      con.Query(fmt::format("SELECT DISTINCT {0} FROM _cl_stage ORDER BY {0}", part_cols)));
  std::vector<FileEntry> added;
  for (size_t r = 0; r < parts.rows(); ++r) {
    std::string where = "symbol = " + SqlQuote(parts.GetString(0, r));
    std::string partition;
    for (size_t i = 0; i < spec.partitions.size(); ++i) {
      std::string v = parts.GetString(i + 1, r);
      where += fmt::format(" AND {} = {}", spec.partitions[i], SqlQuote(v));
      if (!partition.empty()) partition += "/";
      partition += spec.partitions[i] + "=" + v;
    }
    FileEntry e;
    e.dataset = spec.dataset;
    e.symbol = parts.GetString(0, r);
    e.partition = partition;
    e.source = spec.source;
    e.time_column = spec.time_column;
    std::string name = txn.NextFileName();
    e.path = (fs::path(spec.dir) / ("symbol=" + e.symbol) / partition / name).string();
    fs::path staged = txn.staging_dir() / name;
    ASSIGN_OR_RETURN(Result stats, con.Query(fmt::format(
                                       "SELECT count(*), epoch_us(min({0})), epoch_us(max({0})) "
                                       "FROM _cl_stage WHERE {1}",
                                       spec.time_column, where)));
    e.rows = stats.GetInt64(0, 0);
    e.min_time = stats.GetInt64(1, 0);
    e.max_time = stats.GetInt64(2, 0);
    RETURN_IF_ERROR(con.Exec(
        fmt::format("COPY (SELECT * EXCLUDE ({}) FROM _cl_stage WHERE {} ORDER BY {}) TO {} "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
                    part_cols, where, spec.order_by, SqlQuote(staged.string()))));
    txn.AddFile(staged, e);
    added.push_back(std::move(e));
  }
  spdlog::debug("stage {}: {} files written in {:.3f} s", spec.dataset, added.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  RETURN_IF_ERROR(con.Exec("DROP TABLE IF EXISTS _cl_stage"));
  return added;
}

// Snappy, DuckDB's default: on the 1m import benchmark it writes about 25% faster than zstd
// (files about 25% larger). Bulk data is rewritten with zstd by compaction.
static constexpr const char* kBulkOptions = "COMPRESSION snappy";

StatusOr<std::vector<FileEntry>> StagePartitioned(Connection& con, Transaction& txn,
                                                  std::string_view query, const StageSpec& spec) {
  auto t0 = std::chrono::steady_clock::now();
  std::string part_cols = "symbol";
  for (const auto& p : spec.partitions) part_cols += ", " + p;
  fs::path out = txn.staging_dir() / ("bulk-" + txn.NextFileName());
  RETURN_IF_ERROR(con.Exec(
      fmt::format("COPY ({}) TO {} (FORMAT parquet, PARTITION_BY ({}), {}, ROW_GROUP_SIZE 122880, "
                  "FILENAME_PATTERN 'f{{i}}')",
                  query, SqlQuote(out.string()), part_cols, kBulkOptions)));
  spdlog::debug("stage {} (bulk): COPY took {:.3f} s", spec.dataset,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::vector<FileEntry> added;
  std::error_code ec;
  std::vector<fs::path> written;
  for (auto it = fs::recursive_directory_iterator(out, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".parquet")
      written.push_back(it->path());
  }
  if (written.empty()) return added;  // the query had no rows
  ASSIGN_OR_RETURN(
      Result stats,
      con.Query(fmt::format("SELECT filename, count(*), epoch_us(min({0})), epoch_us(max({0})) "
                            "FROM read_parquet({1}, filename = true, hive_partitioning = false) "
                            "GROUP BY filename ORDER BY filename",
                            spec.time_column, SqlPathList(written))));
  for (size_t r = 0; r < stats.rows(); ++r) {
    fs::path staged = stats.GetString(0, r);
    // <out>/symbol=S/year=Y[/month=M]/fN.parquet
    fs::path rel = staged.lexically_relative(out);
    std::vector<std::string> parts;
    for (const auto& c : rel.parent_path()) parts.push_back(c.string());
    if (parts.size() != spec.partitions.size() + 1 || parts[0].rfind("symbol=", 0) != 0) {
      return Internal("unexpected partitioned output file {}", staged.string());
    }
    FileEntry e;
    e.dataset = spec.dataset;
    e.symbol = parts[0].substr(7);
    for (size_t i = 1; i < parts.size(); ++i) e.partition += (i > 1 ? "/" : "") + parts[i];
    e.source = spec.source;
    e.time_column = spec.time_column;
    e.rows = stats.GetInt64(1, r);
    e.min_time = stats.GetInt64(2, r);
    e.max_time = stats.GetInt64(3, r);
    e.path = (fs::path(spec.dir) / parts[0] / e.partition / txn.NextFileName()).string();
    txn.AddFile(staged, e);
    added.push_back(std::move(e));
  }
  spdlog::debug("stage {} (bulk): {} files written in {:.3f} s", spec.dataset, added.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return added;
}

static std::string EmptyKlinesSql() {
  return "SELECT NULL::VARCHAR AS symbol, NULL::TIMESTAMPTZ AS open_time, NULL::DOUBLE AS open, "
         "NULL::DOUBLE AS high, NULL::DOUBLE AS low, NULL::DOUBLE AS close, NULL::DOUBLE AS "
         "volume, "
         "NULL::TIMESTAMPTZ AS close_time, NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, "
         "NULL::DOUBLE AS taker_buy_base, NULL::DOUBLE AS taker_buy_quote, NULL::VARCHAR AS "
         "source, "
         "NULL::TIMESTAMPTZ AS ingested_at, NULL::VARCHAR AS filename WHERE false";
}

model::Kline KlineRowAt(const Result& r, size_t row, bool ohlcv_only) {
  model::Kline k;
  k.symbol = r.GetString(0, row);
  k.open_time = r.GetInt64(1, row);
  k.open = r.GetDouble(2, row);
  k.high = r.GetDouble(3, row);
  k.low = r.GetDouble(4, row);
  k.close = r.GetDouble(5, row);
  k.volume = r.GetDouble(6, row);
  if (!ohlcv_only) {
    k.close_time = r.IsNull(7, row) ? 0 : r.GetInt64(7, row);
    k.quote_volume = r.IsNull(8, row) ? 0 : r.GetDouble(8, row);
    k.trades = r.IsNull(9, row) ? 0 : r.GetInt64(9, row);
    k.taker_buy_base = r.IsNull(10, row) ? 0 : r.GetDouble(10, row);
    k.taker_buy_quote = r.IsNull(11, row) ? 0 : r.GetDouble(11, row);
  }
  return k;
}

std::string KlinesSql(const Snapshot& snap, const Interval& interval, const KlineFilter& filter,
                      bool dedup) {
  std::vector<const FileEntry*> files;
  for (auto* f : snap.Files(KlinesDataset(interval), filter.symbol.value_or(""))) {
    if (filter.from && f->max_time < *filter.from) continue;
    if (filter.to && f->min_time >= *filter.to) continue;
    files.push_back(f);
  }
  std::string scan;
  if (files.empty()) {
    scan = "(" + EmptyKlinesSql() + ")";
  } else {
    std::vector<fs::path> paths;
    for (auto* f : files) paths.push_back(snap.Abs(*f));
    scan = fmt::format("read_parquet({}, hive_partitioning = true, filename = true)",
                       SqlPathList(paths));
  }
  std::string where = "WHERE true";
  if (filter.symbol) where += " AND symbol = " + SqlQuote(*filter.symbol);
  if (filter.from) where += fmt::format(" AND epoch_us(open_time) >= {}", *filter.from);
  if (filter.to) where += fmt::format(" AND epoch_us(open_time) < {}", *filter.to);
  std::string base =
      fmt::format("SELECT CAST(symbol AS VARCHAR) AS symbol, {}, filename FROM {} {}",
                  kKlineColumnNames, scan, where);
  if (!dedup) return fmt::format("(SELECT * EXCLUDE (filename) FROM ({}))", base);
  return fmt::format(
      "(SELECT * EXCLUDE (filename, _rn) FROM (SELECT *, row_number() OVER (PARTITION BY symbol, "
      "open_time ORDER BY {} DESC, ingested_at DESC, filename DESC) AS _rn FROM ({})) WHERE _rn = "
      "1)",
      kSourcePrioritySql, base);
}

TimeRanges MergeRanges(TimeRanges r) {
  std::sort(r.begin(), r.end());
  TimeRanges out;
  for (const auto& x : r) {
    if (x.first >= x.second) continue;
    if (!out.empty() && x.first <= out.back().second) {
      out.back().second = std::max(out.back().second, x.second);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

TimeRanges SubtractRanges(const TimeRanges& a, const TimeRanges& b) {
  TimeRanges bm = MergeRanges(b), out;
  for (auto [lo, hi] : MergeRanges(a)) {
    for (const auto& [blo, bhi] : bm) {
      if (bhi <= lo || blo >= hi) continue;
      if (blo > lo) out.emplace_back(lo, blo);
      lo = std::max(lo, bhi);
      if (lo >= hi) break;
    }
    if (lo < hi) out.emplace_back(lo, hi);
  }
  return out;
}

static TimeRanges MetaRanges(const Manifest& m, const char* key, const std::string& dataset,
                             const std::string& symbol) {
  TimeRanges out;
  auto it = m.meta.find(key);
  if (it == m.meta.end() || !it->is_object()) return out;
  auto ds = it->find(dataset);
  if (ds == it->end() || !ds->is_object()) return out;
  auto sym = ds->find(symbol);
  if (sym == ds->end() || !sym->is_array()) return out;
  for (const auto& r : *sym) {
    if (r.is_array() && r.size() == 2 && r[0].is_number_integer() && r[1].is_number_integer()) {
      out.emplace_back(r[0].get<Micros>(), r[1].get<Micros>());
    }
  }
  return MergeRanges(std::move(out));
}

TimeRanges ConfirmedEmpty(const Manifest& m, const std::string& dataset,
                          const std::string& symbol) {
  return MetaRanges(m, kConfirmedEmptyKey, dataset, symbol);
}

TimeRanges RefetchRanges(const Manifest& m, const std::string& dataset, const std::string& symbol) {
  return MetaRanges(m, kRefetchKey, dataset, symbol);
}

static nlohmann::json SetMetaRanges(const nlohmann::json& current, const std::string& dataset,
                                    const std::string& symbol, const TimeRanges& ranges) {
  nlohmann::json out = current.is_object() ? current : nlohmann::json::object();
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [lo, hi] : MergeRanges(ranges)) arr.push_back({lo, hi});
  if (!arr.empty()) {
    out[dataset][symbol] = std::move(arr);
  } else if (out.contains(dataset) && out[dataset].is_object()) {
    out[dataset].erase(symbol);
    if (out[dataset].empty()) out.erase(dataset);
  }
  return out;
}

nlohmann::json WithRefetch(const nlohmann::json& current, const std::string& dataset,
                           const std::string& symbol, const TimeRanges& add) {
  Manifest m;
  m.meta[kRefetchKey] = current.is_object() ? current : nlohmann::json::object();
  TimeRanges all = RefetchRanges(m, dataset, symbol);
  all.insert(all.end(), add.begin(), add.end());
  return SetMetaRanges(current, dataset, symbol, all);
}

nlohmann::json WithoutRefetch(const nlohmann::json& current, const std::string& dataset,
                              const std::string& symbol, const TimeRanges& remove) {
  Manifest m;
  m.meta[kRefetchKey] = current.is_object() ? current : nlohmann::json::object();
  return SetMetaRanges(current, dataset, symbol,
                       SubtractRanges(RefetchRanges(m, dataset, symbol), remove));
}

nlohmann::json WithConfirmedEmpty(const nlohmann::json& current, const std::string& dataset,
                                  const std::string& symbol, const TimeRanges& add) {
  nlohmann::json out = current.is_object() ? current : nlohmann::json::object();
  Manifest m;
  m.meta[kConfirmedEmptyKey] = out;
  TimeRanges all = ConfirmedEmpty(m, dataset, symbol);
  all.insert(all.end(), add.begin(), add.end());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [lo, hi] : MergeRanges(std::move(all))) arr.push_back({lo, hi});
  out[dataset][symbol] = std::move(arr);
  return out;
}

}  // namespace cryptolake::lake
