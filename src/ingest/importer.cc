#include "ingest/importer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "core/fsutil.h"
#include "core/progress.h"
#include "lake/klines.h"

namespace cryptolake::ingest {

using lake::Connection;
using lake::DataChunk;

namespace {

// Parses all inputs on `threads` threads. Results keep the input order.
StatusOr<std::vector<ParsedFile>> ParseAll(const std::vector<fs::path>& inputs,
                                           const ImportOptions& opt) {
  std::vector<StatusOr<std::vector<ParsedFile>>> results(inputs.size(), Status::Ok());
  uint64_t total_bytes = 0;
  for (const auto& p : inputs) {
    std::error_code ec;
    total_bytes += fs::file_size(p, ec);
  }
  Progress progress("import: parsing", opt.progress ? total_bytes : 0);
  std::mutex mu;
  std::atomic<size_t> next{0};
  int n = opt.threads > 0 ? opt.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n = std::min<int>(n, static_cast<int>(inputs.size()));
  auto work = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      auto r = ParseInput(inputs[i], opt.parse);
      std::error_code ec;
      uint64_t sz = fs::file_size(inputs[i], ec);
      std::lock_guard<std::mutex> l(mu);
      results[i] = std::move(r);
      if (opt.progress) progress.Add(sz);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  progress.Finish();
  std::vector<ParsedFile> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!results[i].ok()) return results[i].status();
    for (auto& f : results[i].value()) out.push_back(std::move(f));
  }
  return out;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Column layout of the staging table the parsed batches are appended to.
constexpr const char* kInTable =
    "CREATE TEMP TABLE _cl_in (file_idx INTEGER, ord BIGINT, open_time TIMESTAMPTZ, open DOUBLE, "
    "high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, close_time TIMESTAMPTZ, quote_volume "
    "DOUBLE, "
    "trades BIGINT, taker_buy_base DOUBLE, taker_buy_quote DOUBLE)";

Status AppendBatch(lake::Appender& app, const KlineBatch& b, int32_t file_idx, int64_t* ord) {
  static const std::vector<duckdb_type> kTypes = {
      DUCKDB_TYPE_INTEGER,      DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_TIMESTAMP_TZ, DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_DOUBLE,       DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE,       DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_TIMESTAMP_TZ, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_BIGINT,       DUCKDB_TYPE_DOUBLE,
      DUCKDB_TYPE_DOUBLE};
  DataChunk chunk(kTypes);
  const size_t cap = DataChunk::Capacity();
  for (size_t start = 0; start < b.size(); start += cap) {
    const size_t n = std::min(cap, b.size() - start);
    chunk.Reset();
    auto* fi = chunk.Column<int32_t>(0);
    auto* od = chunk.Column<int64_t>(1);
    for (size_t i = 0; i < n; ++i) {
      fi[i] = file_idx;
      od[i] = (*ord)++;
    }
    auto copy = [&](size_t col, const auto& v) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      std::copy_n(v.data() + start, n, chunk.Column<T>(col));
    };
    copy(2, b.open_time);
    copy(3, b.open);
    copy(4, b.high);
    copy(5, b.low);
    copy(6, b.close);
    copy(7, b.volume);
    if (b.full) {
      copy(8, b.close_time);
      copy(9, b.quote_volume);
      copy(10, b.trades);
      copy(11, b.taker_buy_base);
      copy(12, b.taker_buy_quote);
    } else {
      for (size_t c = 8; c <= 12; ++c) {
        for (size_t i = 0; i < n; ++i) chunk.SetNull(c, i);
      }
    }
    chunk.SetSize(n);
    RETURN_IF_ERROR(app.Append(chunk));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ImportStats> Import(lake::Lake& lake, Connection& con, const ImportOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  ImportStats st;
  ASSIGN_OR_RETURN(std::vector<fs::path> inputs, ExpandInputs(opt.inputs));
  ASSIGN_OR_RETURN(std::vector<ParsedFile> parsed, ParseAll(inputs, opt));
  st.files = static_cast<int64_t>(parsed.size());
  std::vector<const BadRow*> bad;
  for (const auto& f : parsed) {
    st.bytes += f.bytes;
    st.rows_read += static_cast<int64_t>(f.batch.size());
    for (const auto& b : f.bad) bad.push_back(&b);
  }
  st.quarantined = static_cast<int64_t>(bad.size());
  if (opt.strict && !bad.empty()) {
    return InvalidArgument("--strict: {} bad row(s), nothing imported; first: {}:{}: {}",
                           bad.size(), bad[0]->file, bad[0]->line, bad[0]->reason);
  }

  // Group files by interval: each interval is its own dataset.
  std::map<int64_t, std::vector<size_t>> by_interval;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (parsed[i].batch.size() > 0) by_interval[parsed[i].batch.interval.micros].push_back(i);
  }

  ASSIGN_OR_RETURN(lake::Snapshot snap, lake.GetSnapshot());
  ASSIGN_OR_RETURN(lake::Transaction txn, lake.Begin());
  auto fail = [&](Status s) {
    lake.Abandon(std::move(txn));
    return s;
  };
  const Micros ingested_at = lake.clock().Now();
  for (const auto& [micros, idxs] : by_interval) {
    const Interval& iv = parsed[idxs[0]].batch.interval;
    Status s = con.Exec("DROP TABLE IF EXISTS _cl_in; DROP TABLE IF EXISTS _cl_files;");
    if (s.ok()) s = con.Exec(kInTable);
    if (s.ok()) s = con.Exec("CREATE TEMP TABLE _cl_files (file_idx INTEGER, symbol VARCHAR)");
    if (!s.ok()) return fail(s);
    Micros lo = INT64_MAX, hi = INT64_MIN;
    {
      auto app = lake::Appender::Open(con, "_cl_in");
      if (!app.ok()) return fail(app.status());
      int64_t ord = 0;
      for (size_t i : idxs) {
        const KlineBatch& b = parsed[i].batch;
        s = AppendBatch(*app, b, static_cast<int32_t>(i), &ord);
        if (!s.ok()) return fail(s);
        for (Micros t : b.open_time) {
          lo = std::min(lo, t);
          hi = std::max(hi, t);
        }
      }
      s = app->Close();
      if (!s.ok()) return fail(s);
    }
    std::string files_sql = "INSERT INTO _cl_files VALUES ";
    for (size_t k = 0; k < idxs.size(); ++k) {
      files_sql += fmt::format("{}({}, {})", k ? ", " : "", idxs[k],
                               lake::SqlQuote(parsed[idxs[k]].batch.symbol));
    }
    s = con.Exec(files_sql);
    if (!s.ok()) return fail(s);
    lake::KlineFilter range;
    range.from = lo;
    range.to = hi + 1;
    // New rows: first occurrence of each key in this import, not already in the lake from a
    // source of equal or higher priority.
    std::string rows = fmt::format(
        "(SELECT f.symbol, i.open_time, i.open, i.high, i.low, i.close, i.volume, i.close_time, "
        "i.quote_volume, i.trades, i.taker_buy_base, i.taker_buy_quote, 'import' AS source, "
        "CAST(make_timestamp({0}::BIGINT) AS TIMESTAMPTZ) AS ingested_at FROM _cl_in i JOIN "
        "_cl_files f USING (file_idx) "
        "QUALIFY row_number() OVER (PARTITION BY f.symbol, i.open_time ORDER BY i.ord) = 1)",
        ingested_at);
    std::string fresh = fmt::format(
        "(SELECT n.* FROM {0} n ANTI JOIN (SELECT symbol, open_time FROM {1} WHERE source IN "
        "('import', "
        "'rest')) e ON n.symbol = e.symbol AND n.open_time = e.open_time)",
        rows, lake::KlinesSql(snap, iv, range, /*dedup=*/false));
    auto added = lake::StageQuery(con, txn, lake::WithKlinePartitions(iv, fresh),
                                  lake::KlinesStageSpec(iv, lake::Source::kImport));
    if (!added.ok()) return fail(added.status());
    int64_t n_in = 0;
    for (size_t i : idxs) n_in += static_cast<int64_t>(parsed[i].batch.size());
    int64_t n_added = 0;
    for (const auto& e : *added) n_added += e.rows;
    st.rows_added += n_added;
    st.duplicates += n_in - n_added;
  }
  (void)con.Exec("DROP TABLE IF EXISTS _cl_in; DROP TABLE IF EXISTS _cl_files;");

  if (!bad.empty()) {
    std::string q = "file,line,reason,text\n";
    for (const BadRow* b : bad) {
      q += fmt::format("{},{},{},{}\n", CsvField(b->file), b->line, CsvField(b->reason),
                       CsvField(b->text));
    }
    fs::path qdir = lake.root() / "quarantine";
    std::error_code ec;
    fs::create_directories(qdir, ec);
    st.quarantine_file = "quarantine/import-" + txn.id() + ".csv";
    Status s = WriteFileAtomic(lake.root() / st.quarantine_file, q);
    if (!s.ok()) return fail(s);
  }
  ASSIGN_OR_RETURN(st.version, lake.Commit(std::move(txn)));
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

std::string FormatImportSummary(const ImportStats& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.rows_read + s.quarantined) / s.seconds : 0;
  std::string out = fmt::format(
      "import: files {}, rows {} ({:.0f} rows/s), added {}, duplicates {}, quarantined {}", s.files,
      s.rows_read + s.quarantined, rate, s.rows_added, s.duplicates, s.quarantined);
  if (!s.quarantine_file.empty()) out += fmt::format(" (see {})", s.quarantine_file);
  return out;
}

}  // namespace cryptolake::ingest
