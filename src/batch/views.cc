#include "batch/views.h"

#include <fmt/format.h>

#include <map>

namespace cryptolake::batch {

namespace {

// Exact, order-independent sum of a DOUBLE column, rounded once to DOUBLE (see views.h).
std::string ExactSum(std::string_view col) {
  return fmt::format("CAST(sum(CAST({} AS DECIMAL(38,10))) AS DOUBLE)", col);
}

std::string Names(std::string_view columns) {
  std::string out;
  for (const auto& c : ParseColumns(columns)) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

std::string EmptySql(std::string_view columns) {
  std::string sel = "NULL::VARCHAR AS symbol";
  for (const auto& c : ParseColumns(columns))
    sel += fmt::format(", NULL::{} AS {}", c.type, c.name);
  return fmt::format("SELECT {} WHERE false", sel);
}

// Daily aggregate of one interval's deduplicated klines (`klines`: symbol + kline columns), with
// the helper column _iv (interval minutes) used to break ties.
std::string DailyOfInterval(const Interval& iv, std::string_view klines) {
  return fmt::format(
      "SELECT symbol, CAST(make_timestamp(epoch_us(open_time)) AS DATE) AS day, "
      "arg_min(open, open_time) AS open, max(high) AS high, min(low) AS low, "
      "arg_max(close, open_time) AS close, {0} AS volume, "
      "CASE WHEN count(quote_volume) = count(*) THEN {1} END AS quote_volume, "
      "CASE WHEN count(trades) = count(*) THEN CAST(sum(trades) AS BIGINT) END AS trades, "
      "CAST(count(*) * {2} AS BIGINT) AS minutes_present, '{3}' AS source_interval, "
      "{2} AS _iv FROM {4} GROUP BY 1, 2",
      ExactSum("volume"), ExactSum("quote_volume"), iv.minutes(), iv.name, klines);
}

// Picks, per (symbol, day), the most complete interval, ties to the finest.
std::string PickBest(const std::vector<std::string>& dailies) {
  if (dailies.empty()) return "(" + EmptySql(kDailyRawColumns) + ")";
  std::string all;
  for (const auto& d : dailies) {
    if (!all.empty()) all += " UNION ALL ";
    all += "(" + d + ")";
  }
  return fmt::format(
      "(SELECT symbol, {0} FROM ({1}) QUALIFY row_number() OVER (PARTITION BY symbol, day "
      "ORDER BY minutes_present DESC, _iv ASC) = 1)",
      Names(kDailyRawColumns), all);
}

}  // namespace

const std::vector<std::string>& ViewNames() {
  static const std::vector<std::string> kNames = {kDailyRaw, kDailyFilled, kProphetInput};
  return kNames;
}

bool IsView(std::string_view view) {
  for (const auto& v : ViewNames()) {
    if (v == view) return true;
  }
  return false;
}

std::vector<Column> ParseColumns(std::string_view columns) {
  std::vector<Column> out;
  size_t pos = 0;
  while (pos < columns.size()) {
    size_t end = columns.find(',', pos);
    if (end == std::string_view::npos) end = columns.size();
    std::string_view item = columns.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    size_t sp = item.find(' ');
    if (!item.empty()) {
      out.push_back({std::string(item.substr(0, sp)),
                     sp == std::string_view::npos ? "" : std::string(item.substr(sp + 1))});
    }
    pos = end + 1;
  }
  return out;
}

std::string ViewColumns(std::string_view view) {
  if (view == kDailyRaw) return kDailyRawColumns;
  if (view == kDailyFilled) return kDailyFilledColumns;
  if (view == kProphetInput) return kProphetInputColumns;
  return "";
}

std::string ViewTimeColumn(std::string_view view) { return view == kProphetInput ? "ds" : "day"; }

lake::StageSpec ViewStageSpec(std::string_view view) {
  lake::StageSpec s;
  s.dataset = std::string(view);
  s.dir = "views/" + std::string(view);
  s.partitions = {"year"};
  s.time_column = ViewTimeColumn(view);
  s.source = "view";
  s.order_by = ViewTimeColumn(view);
  return s;
}

std::string DailyRawSql(const lake::Snapshot& snap, std::optional<std::string> symbol) {
  std::vector<std::string> dailies;
  for (const Interval& iv : lake::KlineIntervals(snap)) {
    lake::KlineFilter f;
    f.symbol = symbol;
    dailies.push_back(DailyOfInterval(iv, lake::KlinesSql(snap, iv, f)));
  }
  return PickBest(dailies);
}

std::string DailyRawOfSql(const Interval& interval, std::string_view klines) {
  return PickBest({DailyOfInterval(interval, klines)});
}

std::string DailyRawRangesSql(const lake::Snapshot& snap, const std::vector<DailyRange>& ranges) {
  std::vector<std::string> dailies;
  for (const Interval& iv : lake::KlineIntervals(snap)) {
    std::string klines;
    for (const auto& r : ranges) {
      lake::KlineFilter f;
      f.symbol = r.symbol;
      f.from = r.from;
      f.to = r.to;
      if (!klines.empty()) klines += " UNION ALL ";
      klines += "SELECT * FROM " + lake::KlinesSql(snap, iv, f);
    }
    if (klines.empty()) continue;
    dailies.push_back(DailyOfInterval(iv, "(" + klines + ")"));
  }
  return PickBest(dailies);
}

std::string DailyFilledSql(std::string_view daily_raw) {
  // _c: the close of the day, or of the last day before it that has one (forward fill).
  return fmt::format(
      "(WITH r AS (SELECT symbol, {0} FROM {1}), "
      "b AS (SELECT symbol, min(day) AS lo, max(day) AS hi FROM r GROUP BY symbol), "
      "d AS (SELECT symbol, CAST(lo + CAST(i AS INTEGER) AS DATE) AS day "
      "      FROM (SELECT symbol, lo, unnest(range(0, hi - lo + 1)) AS i FROM b)), "
      "j AS (SELECT d.symbol, d.day, {2}, r.day IS NULL AS filled, "
      "      last_value(r.close IGNORE NULLS) OVER (PARTITION BY d.symbol ORDER BY d.day "
      "        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _c "
      "      FROM d LEFT JOIN r ON d.symbol = r.symbol AND d.day = r.day), "
      "f AS (SELECT symbol, day, "
      "      CASE WHEN filled THEN _c ELSE open END AS open, "
      "      CASE WHEN filled THEN _c ELSE high END AS high, "
      "      CASE WHEN filled THEN _c ELSE low END AS low, "
      "      CASE WHEN filled THEN _c ELSE close END AS close, "
      "      CASE WHEN filled THEN CAST(0 AS DOUBLE) ELSE volume END AS volume, "
      "      CASE WHEN filled THEN CAST(0 AS DOUBLE) ELSE quote_volume END AS quote_volume, "
      "      CASE WHEN filled THEN CAST(0 AS BIGINT) ELSE trades END AS trades, "
      "      CASE WHEN filled THEN CAST(0 AS BIGINT) ELSE minutes_present END AS minutes_present, "
      "      CASE WHEN filled THEN NULL ELSE source_interval END AS source_interval, "
      "      filled FROM j) "
      "SELECT symbol, day, open, high, low, close, volume, quote_volume, trades, minutes_present, "
      "  source_interval, filled, "
      "  CAST(sum(CAST(close AS DECIMAL(38,10))) OVER w7 AS DOUBLE) / count(close) OVER w7 AS ma7, "
      "  CAST(sum(CAST(close AS DECIMAL(38,10))) OVER w30 AS DOUBLE) / count(close) OVER w30 "
      "    AS ma30 "
      "FROM f WINDOW w7 AS (PARTITION BY symbol ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT "
      "ROW), w30 AS (PARTITION BY symbol ORDER BY day ROWS BETWEEN 29 PRECEDING AND CURRENT ROW))",
      Names(kDailyRawColumns), daily_raw,
      "r.open, r.high, r.low, r.close, r.volume, r.quote_volume, r.trades, r.minutes_present, "
      "r.source_interval");
}

std::string ProphetInputSql(std::string_view daily_filled) {
  return fmt::format("(SELECT symbol, day AS ds, close AS y FROM {})", daily_filled);
}

std::string ViewSql(const lake::Snapshot& snap, std::string_view view,
                    std::optional<std::string> symbol) {
  if (!IsView(view)) {
    return fmt::format("(SELECT error({}) AS error)",
                       lake::SqlQuote(fmt::format("unknown view '{}'", view)));
  }
  std::string cols = ViewColumns(view);
  std::string scan = snap.ScanSql(snap.Files(view, symbol.value_or("")), EmptySql(cols));
  std::string where = symbol ? " WHERE symbol = " + lake::SqlQuote(*symbol) : "";
  return fmt::format("(SELECT CAST(symbol AS VARCHAR) AS symbol, {} FROM {}{})", Names(cols), scan,
                     where);
}

}  // namespace cryptolake::batch
