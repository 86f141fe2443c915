// The view checks of `cryptolake verify` (verify.h "views", "speed view"; Checker in checker.h):
// the stored batch views against their recomputation from the master dataset, exactly, and the
// speed layer's real-time view against klines_1m.
#include <fmt/format.h>

#include <set>

#include "batch/views.h"
#include "lake/klines.h"
#include "verify/checker.h"

namespace cryptolake::verify::detail {

Status Checker::Compare(const std::string& view, const std::string& stored,
                        const std::string& expected, const std::string& what,
                        const std::string& where) {
  std::string tc = batch::ViewTimeColumn(view);
  std::string diff;
  for (const auto& c : batch::ParseColumns(batch::ViewColumns(view))) {
    if (c.name == tc) continue;
    if (!diff.empty()) diff += " OR ";
    diff += fmt::format("s.{0} IS DISTINCT FROM e.{0}", c.name);
  }
  ASSIGN_OR_RETURN(
      Result r,
      con_.Query(fmt::format(
          "WITH s AS (SELECT * FROM {0} WHERE {3}), e AS (SELECT * FROM {1} WHERE {3}) "
          "SELECT coalesce(s.symbol, e.symbol) AS sym, "
          "count(*) FILTER (WHERE s.symbol IS NULL) AS missing, "
          "count(*) FILTER (WHERE e.symbol IS NULL) AS extra, "
          "count(*) FILTER (WHERE s.symbol IS NOT NULL AND e.symbol IS NOT NULL AND ({2})) AS "
          "different, epoch_us(min(coalesce(s.{4}, e.{4})) FILTER (WHERE s.symbol IS NULL OR "
          "e.symbol IS NULL OR ({2}))) AS first_bad "
          "FROM s FULL OUTER JOIN e ON s.symbol = e.symbol AND s.{4} = e.{4} "
          "GROUP BY sym HAVING missing + extra + different > 0 ORDER BY sym",
          stored, expected, diff, where, tc)));
  for (size_t i = 0; i < r.rows(); ++i) {
    int64_t missing = r.GetInt64(1, i), extra = r.GetInt64(2, i), different = r.GetInt64(3, i);
    Micros first = NullableMicros(r, 4, i);
    Add(Finding::kViewMismatch, true, view, r.GetString(0, i),
        fmt::format("stored {} differs from {}: {} missing, {} extra, {} different {}; first at {}",
                    view, what, missing, extra, different,
                    missing + extra + different == 1 ? "row" : "rows", FormatDate(first)),
        missing + extra + different, first);
  }
  return Status::Ok();
}

Status Checker::CheckViews() {
  bool any_view_file = false;
  for (const auto& v : batch::ViewNames()) any_view_file |= !snap_.Files(v).empty();
  bool has_state = snap_.manifest().meta.contains(batch::kRefreshMetaKey);
  bool any_master = false;
  for (const Interval& iv : lake::KlineIntervals(snap_)) {
    any_master |= !snap_.Files(lake::KlinesDataset(iv), opt_.symbol.value_or("")).empty();
  }
  if (!any_view_file && !has_state) {
    if (any_master) {
      Add(Finding::kStaleView, false, batch::kDailyRaw, "",
          "the batch views were never built (run `cryptolake batch`)");
    }
    return Status::Ok();
  }
  std::set<std::string> skip = bad_symbols_;
  for (const auto& [sym, year] : batch::StalePartitions(snap_)) {
    if (opt_.symbol && sym != *opt_.symbol) continue;
    skip.insert(sym);
    Add(Finding::kStaleView, false, batch::kDailyRaw, sym,
        fmt::format("year {}: the master dataset changed since the last refresh (run "
                    "`cryptolake batch`); views of {} not compared",
                    year, sym));
  }
  std::string where = SymbolWhere();
  if (!skip.empty()) where += " AND symbol NOT IN (" + lake::SqlQuoteList(skip) + ")";

  // Rows read and days stored twice.
  for (const auto& v : batch::ViewNames()) {
    std::string tc = batch::ViewTimeColumn(v);
    ASSIGN_OR_RETURN(
        Result r,
        con_.Query(fmt::format(
            "SELECT symbol, count(*), count(DISTINCT {0}), epoch_us(min({0}) FILTER (WHERE "
            "dup)) FROM (SELECT symbol, {0}, count(*) OVER (PARTITION BY symbol, {0}) > 1 AS "
            "dup FROM {1} WHERE {2}) GROUP BY symbol ORDER BY symbol",
            tc, batch::ViewSql(*fsnap_, v), SymbolWhere())));
    for (size_t i = 0; i < r.rows(); ++i) {
      rep_.rows_checked += r.GetInt64(1, i);
      if (int64_t extra = r.GetInt64(1, i) - r.GetInt64(2, i); extra > 0) {
        Micros first = NullableMicros(r, 3, i);
        Add(Finding::kDuplicate, true, v, r.GetString(0, i),
            fmt::format("{} stored more than once; first {}",
                        Plural(extra, "extra row", "extra rows"), FormatDate(first)),
            extra, first);
      }
    }
  }

  // daily_raw recomputed once from the master dataset, for both comparisons.
  const std::string raw = "_cl_verify_daily_raw";
  RETURN_IF_ERROR(con_.Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} AS SELECT * FROM {}", raw,
                                        batch::DailyRawSql(*fsnap_, opt_.symbol))));
  RETURN_IF_ERROR(Compare(batch::kDailyRaw, batch::ViewSql(*fsnap_, batch::kDailyRaw), raw,
                          "the master dataset", where));
  RETURN_IF_ERROR(Compare(batch::kDailyFilled, batch::ViewSql(*fsnap_, batch::kDailyFilled),
                          batch::DailyFilledSql(raw),
                          "daily_filled computed from the master dataset", where));
  RETURN_IF_ERROR(con_.Exec("DROP TABLE " + raw));
  RETURN_IF_ERROR(Compare(batch::kProphetInput, batch::ViewSql(*fsnap_, batch::kProphetInput),
                          batch::ProphetInputSql(batch::ViewSql(*fsnap_, batch::kDailyFilled)),
                          "(day, close) of the stored daily_filled", where));

  return Gaps(batch::kDailyRaw,
              fmt::format("(SELECT DISTINCT symbol, epoch_us(day) AS t FROM {} WHERE {})",
                          batch::ViewSql(*fsnap_, batch::kDailyRaw), SymbolWhere()),
              kMicrosPerDay, true, FilledDays());
}

Status Checker::CheckSpeedView(const std::string& path) {
  if (Status s = con_.Exec(fmt::format("ATTACH {} AS _cl_sv (READ_ONLY)", lake::SqlQuote(path)));
      !s.ok()) {
    Add(Finding::kSkipped, false, "speed_view", "",
        fmt::format("not checked ({}; is a stream running?)", s.message()));
    return Status::Ok();
  }
  Status s = CheckAttachedSpeedView();
  IgnoreError(con_.Exec("DETACH _cl_sv"), "the check's result stands; a read-only attachment");
  return s;
}

Status Checker::CheckAttachedSpeedView() {
  const std::string where =
      opt_.symbol ? fmt::format("AND c.symbol = {}", lake::SqlQuote(*opt_.symbol)) : "";
  RETURN_IF_ERROR(con_.Exec(fmt::format(
      "CREATE OR REPLACE TEMP TABLE _cl_sv_rows AS SELECT c.symbol, c.open_time AS t, c.open, "
      "c.high, c.low, c.close, c.volume, c.in_lake FROM _cl_sv.closed c LEFT JOIN "
      "_cl_sv.watermark w ON w.symbol = c.symbol WHERE NOT c.late AND c.open_time >= "
      "coalesce(w.t, 0) {}",
      where)));
  ASSIGN_OR_RETURN(Result n, con_.Query("SELECT symbol, count(*), count(DISTINCT t) FROM "
                                        "_cl_sv_rows GROUP BY 1 ORDER BY 1"));
  for (size_t i = 0; i < n.rows(); ++i) {
    rep_.rows_checked += n.GetInt64(1, i);
    rep_.speed_view_rows += n.GetInt64(1, i);
    if (int64_t extra = n.GetInt64(1, i) - n.GetInt64(2, i); extra > 0) {
      Add(Finding::kDuplicate, true, "speed_view", n.GetString(0, i),
          fmt::format("{} closed candles stored twice", extra), extra);
    }
  }
  // Closed candles already appended to the master dataset must equal its rows there.
  lake::KlineFilter filter;
  filter.symbol = opt_.symbol;
  const Interval k1m{"1m", kMicrosPerMinute};
  ASSIGN_OR_RETURN(
      Result m,
      con_.Query(fmt::format(
          "SELECT v.symbol, count(*), min(v.t) FROM _cl_sv_rows v LEFT JOIN (SELECT symbol, "
          "epoch_us(open_time) AS t, open, high, low, close, volume FROM {}) k ON k.symbol = "
          "v.symbol AND k.t = v.t WHERE v.in_lake AND (k.t IS NULL OR k.open IS DISTINCT FROM "
          "v.open OR k.high IS DISTINCT FROM v.high OR k.low IS DISTINCT FROM v.low OR k.close "
          "IS DISTINCT FROM v.close OR k.volume IS DISTINCT FROM v.volume) GROUP BY 1 ORDER BY 1",
          lake::KlinesSql(*fsnap_, k1m, filter))));
  for (size_t i = 0; i < m.rows(); ++i) {
    Micros first = m.GetInt64(2, i);
    Add(Finding::kViewMismatch, true, "speed_view", m.GetString(0, i),
        fmt::format("{} closed candles differ from (or are missing in) klines_1m, first {}",
                    m.GetInt64(1, i), FormatMinute(first)),
        m.GetInt64(1, i), first, first);
  }
  RETURN_IF_ERROR(Gaps("speed_view", "(SELECT DISTINCT symbol, t FROM _cl_sv_rows)",
                       kMicrosPerMinute, false, ""));
  return con_.Exec("DROP TABLE _cl_sv_rows");
}

}  // namespace cryptolake::verify::detail
