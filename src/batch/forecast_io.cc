#include "batch/forecast_io.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "batch/views.h"
#include "core/fsutil.h"
#include "lake/duck.h"

namespace cryptolake::batch {

namespace {

int32_t DayNumber(Micros t) { return static_cast<int32_t>(t / kMicrosPerDay); }

}  // namespace

StatusOr<std::vector<ProphetDay>> ReadProphetInput(lake::Connection& con,
                                                   const lake::Snapshot& snap,
                                                   const std::string& symbol) {
  std::string sql = fmt::format(
      "SELECT date_diff('day', DATE '1970-01-01', p.ds) AS d, p.y, f.ma7, f.ma30, "
      "f.minutes_present FROM {} p JOIN {} f ON f.day = p.ds ORDER BY p.ds",
      ViewSql(snap, kProphetInput, symbol), ViewSql(snap, kDailyFilled, symbol));
  ASSIGN_OR_RETURN(lake::Result r, con.Query(sql));
  std::vector<ProphetDay> days;
  days.reserve(r.rows());
  for (size_t i = 0; i < r.rows(); ++i) {
    ProphetDay d;
    d.ds = r.GetInt64(0, i) * kMicrosPerDay;
    d.y = r.GetDouble(1, i);
    if (!r.IsNull(2, i)) d.ma7 = r.GetDouble(2, i);
    if (!r.IsNull(3, i)) d.ma30 = r.GetDouble(3, i);
    d.minutes_present = r.IsNull(4, i) ? 0 : r.GetInt64(4, i);
    days.push_back(d);
  }
  return days;
}

std::vector<std::string> ProphetInputSymbols(const lake::Snapshot& snap) {
  return snap.Symbols(kProphetInput);
}

Status WriteForecastParquet(lake::Connection& con, const std::string& symbol,
                            const std::vector<ForecastParquetRow>& rows,
                            const std::filesystem::path& path) {
  static std::atomic<int> counter{0};
  std::string table = fmt::format("cl_forecast_rows_{}", counter.fetch_add(1));
  RETURN_IF_ERROR(con.Exec(fmt::format("CREATE TABLE {} ({})", table, kForecastParquetColumns)));
  auto drop = [&] {
    IgnoreError(con.Exec("DROP TABLE IF EXISTS " + table), "a temp table of this connection");
  };
  Status st = [&]() -> Status {
    ASSIGN_OR_RETURN(lake::Appender app, lake::Appender::Open(con, table));
    lake::DataChunk chunk({DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_DATE,
                           DUCKDB_TYPE_DATE, DUCKDB_TYPE_INTEGER, DUCKDB_TYPE_DOUBLE,
                           DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE});
    const size_t cap = lake::DataChunk::Capacity();
    for (size_t begin = 0; begin < rows.size(); begin += cap) {
      size_t n = std::min(cap, rows.size() - begin);
      chunk.Reset();
      for (size_t i = 0; i < n; ++i) {
        const ForecastParquetRow& r = rows[begin + i];
        chunk.SetString(0, i, symbol);
        chunk.SetString(1, i, *r.model);
        chunk.Column<duckdb_date>(2)[i].days = DayNumber(r.cutoff);
        chunk.Column<duckdb_date>(3)[i].days = DayNumber(r.ds);
        chunk.Column<int32_t>(4)[i] = static_cast<int32_t>((r.ds - r.cutoff) / kMicrosPerDay);
        const double vals[] = {r.y, r.yhat, r.yhat_lower, r.yhat_upper};
        for (size_t c = 0; c < 4; ++c) {
          chunk.Column<double>(5 + c)[i] = vals[c];
          if (!std::isfinite(vals[c])) chunk.SetNull(5 + c, i);
        }
      }
      chunk.SetSize(n);
      RETURN_IF_ERROR(app.Append(chunk));
    }
    RETURN_IF_ERROR(app.Close());
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    RETURN_IF_ERROR(con.Exec(
        fmt::format("COPY (SELECT * FROM {} ORDER BY model, cutoff, ds) TO {} (FORMAT parquet)",
                    table, lake::SqlQuote(tmp.string()))));
    RETURN_IF_ERROR(FsyncPath(tmp));
    return RenameDurable(tmp, path);
  }();
  drop();
  return st;
}

}  // namespace cryptolake::batch
