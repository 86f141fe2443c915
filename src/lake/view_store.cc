#include "lake/view_store.h"

#include <fmt/format.h>

#include "lake/duck.h"
#include "lake/klines.h"

namespace cryptolake::lake {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

constexpr const char* kCreate =
    "CREATE TABLE IF NOT EXISTS closed(symbol VARCHAR, open_time BIGINT, close_time BIGINT, "
    "open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, quote_volume DOUBLE, "
    "trades BIGINT, taker_buy_base DOUBLE, taker_buy_quote DOUBLE, late BOOLEAN, in_lake BOOLEAN, "
    "PRIMARY KEY (symbol, open_time)); "
    "CREATE TABLE IF NOT EXISTS watermark(symbol VARCHAR PRIMARY KEY, t BIGINT); "
    "CREATE TEMP TABLE pending_closed AS SELECT * FROM closed LIMIT 0";

// The columns of `closed`, in its order, as the appender fills them.
const std::vector<duckdb_type>& ClosedTypes() {
  static const std::vector<duckdb_type> types = {
      DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_DOUBLE,  DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_DOUBLE,  DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_BOOLEAN, DUCKDB_TYPE_BOOLEAN};
  return types;
}

// Row j of `chunk` from `r` (in_lake false).
void SetClosedRow(DataChunk& chunk, size_t j, const ViewRow& r) {
  const model::Kline& c = r.candle;
  chunk.SetString(0, j, c.symbol);
  const int64_t ints[] = {c.open_time, c.close_time};
  for (size_t k = 0; k < 2; ++k) chunk.Column<int64_t>(1 + k)[j] = ints[k];
  const double prices[] = {c.open, c.high, c.low, c.close, c.volume, c.quote_volume};
  for (size_t k = 0; k < 6; ++k) chunk.Column<double>(3 + k)[j] = prices[k];
  chunk.Column<int64_t>(9)[j] = c.trades;
  chunk.Column<double>(10)[j] = c.taker_buy_base;
  chunk.Column<double>(11)[j] = c.taker_buy_quote;
  chunk.Column<bool>(12)[j] = r.late;
  chunk.Column<bool>(13)[j] = false;
}

}  // namespace

struct ViewStore::Handles {
  Database db;
  Connection con;
};

ViewStore::ViewStore(std::unique_ptr<Handles> h) : h_(std::move(h)) {}
ViewStore::~ViewStore() = default;

StatusOr<std::unique_ptr<ViewStore>> ViewStore::Open(const std::filesystem::path& file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  ASSIGN_OR_RETURN(Database db, Database::Open(file.string(), 1));
  ASSIGN_OR_RETURN(Connection con, Connection::Open(db));
  auto h = std::unique_ptr<Handles>(new Handles{std::move(db), std::move(con)});
  RETURN_IF_ERROR(h->con.Exec(kCreate));
  return std::unique_ptr<ViewStore>(new ViewStore(std::move(h)));
}

StatusOr<std::vector<ViewRow>> ViewStore::LoadClosed() {
  ASSIGN_OR_RETURN(Result r, h_->con.Query(fmt::format("SELECT {}, late, in_lake FROM closed",
                                                       kKlineRowColumns)));
  std::vector<ViewRow> out;
  out.reserve(r.rows());
  for (size_t i = 0; i < r.rows(); ++i) {
    out.push_back({KlineRowAt(r, i), r.GetBool(12, i), r.GetBool(13, i)});
  }
  return out;
}

StatusOr<std::map<std::string, Micros>> ViewStore::Watermarks() {
  ASSIGN_OR_RETURN(Result r, h_->con.Query("SELECT symbol, t FROM watermark"));
  std::map<std::string, Micros> out;
  for (size_t i = 0; i < r.rows(); ++i) out[r.GetString(0, i)] = r.GetInt64(1, i);
  return out;
}

Status ViewStore::Transact(const std::string& sql) {
  Status s = h_->con.Exec(sql);
  if (!s.ok()) {
    IgnoreError(h_->con.Exec("ROLLBACK"), "the failed transaction's error is returned");
  }
  return s;
}

Status ViewStore::CommitClosed(const std::vector<const ViewRow*>& rows) {
  if (rows.empty()) return Status::Ok();
  // The rows go in through DuckDB's appender (a temp table), then one transaction moves them
  // into `closed`.
  auto append = [&]() -> Status {
    ASSIGN_OR_RETURN(Appender app, Appender::Open(h_->con, "pending_closed"));
    const size_t cap = DataChunk::Capacity();
    for (size_t base = 0; base < rows.size(); base += cap) {
      DataChunk chunk(ClosedTypes());
      const size_t n = std::min(cap, rows.size() - base);
      for (size_t j = 0; j < n; ++j) SetClosedRow(chunk, j, *rows[base + j]);
      chunk.SetSize(n);
      RETURN_IF_ERROR(app.Append(chunk));
    }
    return app.Close();
  };
  Status s = append();
  if (s.ok()) {
    s = Transact(
        "BEGIN TRANSACTION; INSERT INTO closed SELECT * FROM pending_closed ON CONFLICT DO "
        "NOTHING; DELETE FROM pending_closed; COMMIT;");
  }
  if (!s.ok()) {
    IgnoreError(h_->con.Exec("DELETE FROM pending_closed"),
                "the first error is returned; the next commit deletes what is left");
  }
  return s;
}

Status ViewStore::SetWatermarks(const std::map<std::string, Micros>& watermarks) {
  if (watermarks.empty()) return Status::Ok();
  std::string sql = "BEGIN TRANSACTION;";
  for (const auto& [symbol, w] : watermarks) {
    sql += fmt::format(
        "INSERT OR REPLACE INTO watermark VALUES ({0}, {1}); DELETE FROM closed WHERE symbol = {0} "
        "AND open_time < {1} AND in_lake;",
        SqlQuote(symbol), w);
  }
  sql += "COMMIT;";
  return Transact(sql);
}

StatusOr<int64_t> ViewStore::LateCount() {
  return h_->con.QueryInt64("SELECT count(*) FROM closed WHERE late");
}

StatusOr<std::vector<ViewSpan>> ViewStore::NotInLakeSpans() {
  ASSIGN_OR_RETURN(Result r, h_->con.Query("SELECT symbol, min(open_time), max(open_time) FROM "
                                           "closed WHERE NOT in_lake GROUP BY 1 ORDER BY 1"));
  std::vector<ViewSpan> out;
  for (size_t i = 0; i < r.rows(); ++i) {
    out.push_back({r.GetString(0, i), r.GetInt64(1, i), r.GetInt64(2, i)});
  }
  return out;
}

Status ViewStore::MarkAllInLake() {
  return h_->con.Exec("UPDATE closed SET in_lake = true WHERE NOT in_lake");
}

StatusOr<std::map<std::string, Micros>> ViewStore::DailyWatermarks(const Snapshot& snap) {
  std::map<std::string, Micros> out;
  auto files = snap.Files("daily_raw");
  if (files.empty()) return out;
  ASSIGN_OR_RETURN(
      Result r,
      h_->con.Query(fmt::format(
          "SELECT symbol, max(epoch_us(day)) + {} FROM {} WHERE minutes_present = 1440 GROUP BY "
          "symbol",
          kMicrosPerDay,
          snap.ScanSql(files,
                       "SELECT NULL::VARCHAR AS symbol, NULL::DATE AS day, "
                       "NULL::BIGINT AS minutes_present LIMIT 0"))));
  for (size_t i = 0; i < r.rows(); ++i) out[r.GetString(0, i)] = r.GetInt64(1, i);
  return out;
}

StatusOr<int64_t> ViewStore::StageNotInLake(const Snapshot& snap, Transaction& txn,
                                            const std::vector<ViewSpan>& spans,
                                            Micros ingested_at) {
  // The keys the lake holds in each span (only the files overlapping it are read).
  std::string existing;
  for (const ViewSpan& sp : spans) {
    KlineFilter f;
    f.symbol = sp.symbol;
    f.from = sp.from;
    f.to = sp.to + 1;
    txn.DependsOn(snap, KlinesDataset(k1m), sp.symbol, sp.from, sp.to);
    bool overlaps = false;
    for (auto* file : snap.Files(KlinesDataset(k1m), sp.symbol)) {
      overlaps = overlaps || (file->max_time >= *f.from && file->min_time < *f.to);
    }
    if (!overlaps) continue;
    existing += fmt::format("{}SELECT symbol, epoch_us(open_time) AS t FROM {}",
                            existing.empty() ? "" : " UNION ALL ",
                            KlinesSql(snap, k1m, f, /*dedup=*/false));
  }
  std::string rows = fmt::format(
      "(SELECT c.symbol, make_timestamp(c.open_time)::TIMESTAMPTZ AS open_time, c.open, c.high, "
      "c.low, c.close, c.volume, make_timestamp(c.close_time)::TIMESTAMPTZ AS close_time, "
      "c.quote_volume, c.trades, c.taker_buy_base, c.taker_buy_quote, 'stream' AS source, "
      "make_timestamp({}::BIGINT)::TIMESTAMPTZ AS ingested_at FROM closed c WHERE NOT "
      "c.in_lake{})",
      ingested_at,
      existing.empty() ? ""
                       : fmt::format(" AND NOT EXISTS (SELECT 1 FROM ({}) k WHERE k.symbol = "
                                     "c.symbol AND k.t = c.open_time)",
                                     existing));
  ASSIGN_OR_RETURN(std::vector<FileEntry> staged,
                   StagePartitioned(h_->con, txn, WithKlinePartitions(k1m, rows),
                                    KlinesStageSpec(k1m, Source::kStream)));
  int64_t n = 0;
  for (const auto& f : staged) n += f.rows;
  return n;
}

}  // namespace cryptolake::lake
