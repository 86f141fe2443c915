#include "lake/typed.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>

#include "lake/batch_source.h"
#include "lake/duck.h"
#include "lake/klines.h"

namespace cryptolake::lake {

void DatabaseDeleter::operator()(Database* db) const { delete db; }
void ConnectionDeleter::operator()(Connection* con) const { delete con; }

StatusOr<DatabasePtr> OpenDatabase(const std::string& path, int threads) {
  ASSIGN_OR_RETURN(Database db, Database::Open(path, threads));
  return DatabasePtr(new Database(std::move(db)));
}

StatusOr<ConnectionPtr> OpenConnection(const Database& db) {
  ASSIGN_OR_RETURN(Connection con, Connection::Open(db));
  return ConnectionPtr(new Connection(std::move(con)));
}

void SetPacer(Connection& con, Pacer* pacer) { con.SetPacer(pacer); }

StatusOr<std::vector<model::Kline>> ReadKlines(Connection& con, const Snapshot& snap,
                                               const Interval& interval, const KlineFilter& filter,
                                               const KlineRead& read) {
  const char* columns = read.ohlcv_only
                            ? "symbol, epoch_us(open_time), open, high, low, close, volume"
                            : "symbol, epoch_us(open_time), open, high, low, close, volume, "
                              "epoch_us(close_time), quote_volume, trades, taker_buy_base, "
                              "taker_buy_quote";
  const char* dir = read.newest ? "DESC" : "ASC";
  std::string sql = fmt::format("SELECT {} FROM {} k ORDER BY symbol {}, open_time {}", columns,
                                KlinesSql(snap, interval, filter), dir, dir);
  if (read.limit) sql += fmt::format(" LIMIT {}", *read.limit);
  ASSIGN_OR_RETURN(Result r, con.Query(sql));
  std::vector<model::Kline> out;
  out.reserve(r.rows());
  for (size_t i = 0; i < r.rows(); ++i) {
    out.push_back(KlineRowAt(r, i, read.ohlcv_only));
    if (read.derive_close_time && !read.ohlcv_only && r.IsNull(7, i)) {
      out.back().close_time = out.back().open_time + interval.micros - 1000;
    }
  }
  if (read.newest) std::reverse(out.begin(), out.end());
  return out;
}

std::map<std::string, Micros> LastOpenTimes(const Snapshot& snap, const Interval& interval) {
  std::map<std::string, Micros> out;
  for (const FileEntry* f : snap.Files(KlinesDataset(interval))) {
    auto [it, added] = out.emplace(f->symbol, f->max_time);
    if (!added) it->second = std::max(it->second, f->max_time);
  }
  return out;
}

Status WriteDatasetCsv(Connection& con, const Snapshot& snap, const std::string& dataset,
                       const std::optional<std::string>& symbol, const std::filesystem::path& out) {
  std::string rows;
  if (dataset.rfind("klines_", 0) == 0) {
    ASSIGN_OR_RETURN(Interval iv, Interval::Parse(dataset.substr(7)));
    KlineFilter f;
    f.symbol = symbol;
    rows = fmt::format("(SELECT * FROM {} ORDER BY symbol, open_time)", KlinesSql(snap, iv, f));
  } else {
    auto files = snap.Files(dataset, symbol.value_or(""));
    if (files.empty()) {
      auto all = snap.Datasets();
      return NotFound("dataset '{}' has no files{} (datasets: {})", dataset,
                      symbol ? " for symbol " + *symbol : "", fmt::join(all, ", "));
    }
    // Hive columns come last from read_parquet; symbol goes first, as for klines.
    rows = fmt::format("(SELECT symbol, * EXCLUDE (symbol, year) FROM {} ORDER BY ALL)",
                       snap.ScanSql(files, ""));
  }
  return con.Exec(
      fmt::format("COPY {} TO {} (FORMAT csv, HEADER true)", rows, SqlQuote(out.string())));
}

Status DailyCsvToParquet(Connection& con, const std::filesystem::path& csv,
                         const std::filesystem::path& parquet) {
  return con.Exec(
      fmt::format("COPY (SELECT * FROM read_csv({}, header = true, types = {{'day': 'DATE', 'ma7': "
                  "'DOUBLE', 'ma30': 'DOUBLE'}}) ORDER BY symbol, day) TO {} (FORMAT parquet)",
                  SqlQuote(csv.string()), SqlQuote(parquet.string())));
}

StatusOr<std::vector<FileEntry>> AppendKlines(Connection& con, Transaction& txn,
                                              const Interval& interval,
                                              const std::vector<const model::KlineBatch*>& batches,
                                              const KlineAppend& append) {
  static std::atomic<int> scan_counter{0};
  BatchSource source(batches);
  const std::string scan = fmt::format("_cl_append_scan_{}", scan_counter++);
  RETURN_IF_ERROR(RegisterTableSource(con, scan, &source));
  std::string rows = fmt::format(
      "(SELECT * EXCLUDE (ord), '{}' AS source, CAST(make_timestamp({}::BIGINT) AS "
      "TIMESTAMPTZ) AS ingested_at FROM {}(){})",
      SourceName(append.source), append.ingested_at, scan,
      append.dedup_batches
          ? " QUALIFY row_number() OVER (PARTITION BY symbol, open_time ORDER BY ord) = 1"
          : "");
  if (append.skip_existing) {
    const Snapshot& snap = *append.skip_existing;
    std::map<std::string, std::pair<Micros, Micros>> span;  // per symbol: [lo, hi]
    for (const model::KlineBatch* b : batches) {
      if (b->size() == 0) continue;
      auto [lo, hi] = std::minmax_element(b->open_time.begin(), b->open_time.end());
      auto [it, fresh] = span.try_emplace(b->symbol, *lo, *hi);
      it->second.first = std::min(it->second.first, *lo);
      it->second.second = std::max(it->second.second, *hi);
    }
    // Only files whose time range overlaps the batches', per symbol, can hold the keys.
    std::string existing;
    for (const auto& [sym, sp] : span) {
      bool overlaps = false;
      for (auto* f : snap.Files(KlinesDataset(interval), sym)) {
        if (f->max_time >= sp.first && f->min_time <= sp.second) overlaps = true;
      }
      if (!overlaps) continue;
      KlineFilter f;
      f.symbol = sym;
      f.from = sp.first;
      f.to = sp.second + 1;
      existing +=
          fmt::format("{}SELECT symbol, open_time FROM {} WHERE source IN ('import', 'rest')",
                      existing.empty() ? "" : " UNION ALL ", KlinesSql(snap, interval, f, false));
    }
    if (!existing.empty()) {
      rows = fmt::format(
          "(SELECT n.* FROM {} n ANTI JOIN ({}) e ON n.symbol = e.symbol AND n.open_time = "
          "e.open_time)",
          rows, existing);
    }
  }
  std::vector<FileEntry> added;
  auto write = [&]() -> Status {
    ASSIGN_OR_RETURN(added, StagePartitioned(con, txn, WithKlinePartitions(interval, rows),
                                             KlinesStageSpec(interval, append.source)));
    return Status::Ok();
  };
  RETURN_IF_ERROR(append.run ? append.run([&] { return source.rows_scanned(); }, write) : write());
  return added;
}

StatusOr<std::vector<std::pair<Micros, Micros>>> StoredKlineGaps(Connection& con,
                                                                 const Snapshot& snap,
                                                                 const Interval& interval,
                                                                 const std::string& symbol,
                                                                 Micros from, Micros to) {
  const Micros step = interval.micros;
  KlineFilter f;
  f.symbol = symbol;
  f.from = from;
  f.to = to;
  // Sentinels just before the scope and at its end turn the head and the tail into gaps too.
  ASSIGN_OR_RETURN(
      Result r,
      con.Query(fmt::format(
          "SELECT p + {0} AS gap_from, t AS gap_to FROM (SELECT t, lag(t) OVER (ORDER BY t) AS p "
          "FROM (SELECT DISTINCT epoch_us(open_time) AS t FROM {1} WHERE open_time IS NOT NULL "
          "UNION ALL SELECT {2}::BIGINT UNION ALL SELECT {3}::BIGINT)) "
          "WHERE p IS NOT NULL AND t - p > {0} ORDER BY 1",
          step, KlinesSql(snap, interval, f, /*dedup=*/false), from - step, to)));
  std::vector<std::pair<Micros, Micros>> out;
  for (size_t i = 0; i < r.rows(); ++i) out.emplace_back(r.GetInt64(0, i), r.GetInt64(1, i));
  return out;
}

}  // namespace cryptolake::lake
