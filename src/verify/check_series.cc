// The master dataset checks of `cryptolake verify` (verify.h "values", "duplicates", "gaps",
// "refetch"; Checker in checker.h): per kline dataset and symbol, OHLC and other invalid values,
// same-source duplicates and shadowed keys, the gap ranges with their confirmed-empty parts, and
// the ranges `repair --drop` recorded for refetching.
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "batch/views.h"
#include "lake/klines.h"
#include "verify/checker.h"

namespace cryptolake::verify::detail {

Status Checker::Gaps(const std::string& dataset, const std::string& keys, Micros step, bool days,
                     const std::string& filled_days) {
  std::string filled =
      filled_days.empty()
          ? "0"
          : "(SELECT count(*) FROM fd WHERE fd.symbol = r.symbol AND fd.t BETWEEN r.first AND "
            "r.last)";
  std::string fd =
      filled_days.empty() ? "" : fmt::format(", fd AS (SELECT symbol, t FROM {})", filled_days);
  ASSIGN_OR_RETURN(
      Result r,
      con_.Query(fmt::format(
          "WITH g AS (SELECT symbol, t, lag(t) OVER (PARTITION BY symbol ORDER BY t) AS prev "
          "FROM {0}), r AS (SELECT symbol, prev + {1} AS first, t - {1} AS last, "
          "(t - prev) // {1} - 1 AS missing FROM g WHERE t - prev >= 2 * {1}){2} "
          "SELECT symbol, first, last, missing, {3} AS filled FROM r ORDER BY symbol, first",
          keys, step, fd, filled)));
  // Day gaps are inclusive date ranges; intraday gaps are time spans [first missing open,
  // next present open), written "2021-04-20 02:00..04:30" (the end's date only if it differs).
  auto fmt_range = [&](Micros first, Micros last) {
    if (days) return FormatDate(first) + ".." + FormatDate(last);
    Micros end = last + step;
    std::string e = FormatMinute(end);
    if (FormatDate(end) == FormatDate(first)) e = e.substr(11);
    return FormatMinute(first) + ".." + e;
  };
  auto filled_note = [&](int64_t filled, int64_t missing) -> std::string {
    if (!days || filled == 0) return "";
    return filled == missing ? ", filled" : fmt::format(", {} filled", filled);
  };
  const char* unit = days ? " day" : "";
  const char* units = days ? " days" : "";
  // Listed ranges per kind, the rest folded into one "N more ranges" finding.
  struct Fold {
    int listed = 0;
    int64_t more = 0, missing = 0, filled = 0;
    Micros first = 0, last = 0;
  };
  auto emit = [&](Fold& fold, Finding::Kind kind, const std::string& symbol, Micros first,
                  Micros last, int64_t missing, int64_t filled) {
    const char* note = kind == Finding::kConfirmedEmpty ? ", confirmed empty by the exchange" : "";
    if (fold.listed < std::max(opt_.max_ranges, 1)) {
      ++fold.listed;
      Add(kind, false, dataset, symbol,
          fmt::format("{} ({} missing{}{}{})", fmt_range(first, last), missing,
                      missing == 1 ? unit : units, filled_note(filled, missing), note),
          missing, first, last, filled);
      return;
    }
    if (fold.more == 0) fold.first = first;
    fold.last = last;
    ++fold.more;
    fold.missing += missing;
    fold.filled += filled;
  };
  auto flush = [&](Fold& fold, Finding::Kind kind, const std::string& symbol) {
    if (fold.more == 0) return;
    const char* note = kind == Finding::kConfirmedEmpty ? ", confirmed empty by the exchange" : "";
    Add(kind, false, dataset, symbol,
        fmt::format("{} between {} ({} missing{}{}{})",
                    Plural(fold.more, "more range", "more ranges"),
                    fmt_range(fold.first, fold.last), fold.missing,
                    fold.missing == 1 ? unit : units, filled_note(fold.filled, fold.missing), note),
        fold.missing, fold.first, fold.last, fold.filled);
  };
  size_t i = 0;
  while (i < r.rows()) {
    std::string symbol = r.GetString(0, i);
    const lake::TimeRanges confirmed = lake::ConfirmedEmpty(snap_.manifest(), dataset, symbol);
    Fold gaps, empties;
    for (; i < r.rows() && r.GetString(0, i) == symbol; ++i) {
      Micros first = r.GetInt64(1, i), last = r.GetInt64(2, i);
      int64_t missing = r.GetInt64(3, i), filled = r.GetInt64(4, i);
      const lake::TimeRanges whole = {{first, last + step}};
      const lake::TimeRanges open = lake::SubtractRanges(whole, confirmed);
      if (open == whole) {
        emit(gaps, Finding::kGap, symbol, first, last, missing, filled);
        continue;
      }
      // Split the range into its confirmed-empty and its still-missing parts, in time order.
      std::vector<std::pair<lake::TimeRange, bool>> parts;
      for (const auto& p : open) parts.push_back({p, false});
      for (const auto& p : lake::SubtractRanges(whole, open)) parts.push_back({p, true});
      std::sort(parts.begin(), parts.end());
      for (const auto& [p, is_empty] : parts) {
        emit(is_empty ? empties : gaps, is_empty ? Finding::kConfirmedEmpty : Finding::kGap, symbol,
             p.first, p.second - step, (p.second - p.first) / step, 0);
      }
    }
    flush(gaps, Finding::kGap, symbol);
    flush(empties, Finding::kConfirmedEmpty, symbol);
  }
  return Status::Ok();
}

std::string Checker::FilledDays() const {
  if (!opt_.views || fsnap_->Files(batch::kDailyFilled).empty()) return "";
  return fmt::format("(SELECT symbol, epoch_us(day) AS t FROM {} WHERE filled)",
                     batch::ViewSql(*fsnap_, batch::kDailyFilled, opt_.symbol));
}

Status Checker::CheckKlines(const Interval& iv) {
  const std::string ds = lake::KlinesDataset(iv);
  lake::KlineFilter filter;
  filter.symbol = opt_.symbol;
  const std::string raw = lake::KlinesSql(*fsnap_, iv, filter, /*dedup=*/false);
  const char* bad_ohlc =
      "open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL OR "
      "high < greatest(open, close) OR low > least(open, close) OR volume < 0";
  // One pass over the rows: one row per (symbol, open_time) with its row count per source and
  // its OHLC violations. Every check below reads this table.
  const std::string keys = "_cl_verify_keys";
  RETURN_IF_ERROR(con_.Exec(
      fmt::format("CREATE OR REPLACE TEMP TABLE {0} AS SELECT symbol, epoch_us(open_time) AS t, "
                  "count(*) AS n, count(*) FILTER (WHERE source = 'rest') AS nr, "
                  "count(*) FILTER (WHERE source = 'import') AS ni, "
                  "count(*) FILTER (WHERE source = 'stream') AS ns, "
                  "count(*) FILTER (WHERE {1}) AS bad FROM {2} GROUP BY 1, 2",
                  keys, bad_ohlc, raw)));

  const std::string misaligned = fmt::format("t % {} <> 0", iv.micros);
  ASSIGN_OR_RETURN(Result st, con_.Query(fmt::format(
                                  "SELECT symbol, sum(n), sum(bad), min(t) FILTER (WHERE bad > 0), "
                                  "sum(n) FILTER (WHERE {0}), min(t) FILTER (WHERE {0}), "
                                  "sum(n) FILTER (WHERE t IS NULL), sum(n - nr - ni - ns) "
                                  "FROM {1} GROUP BY symbol ORDER BY symbol",
                                  misaligned, keys)));
  auto sum = [&](size_t col, size_t row) {
    return st.IsNull(col, row) ? 0 : st.GetInt64(col, row);
  };
  for (size_t i = 0; i < st.rows(); ++i) {
    std::string sym = st.GetString(0, i);
    rep_.rows_checked += sum(1, i);
    if (int64_t n = sum(2, i); n > 0) {
      Micros t = NullableMicros(st, 3, i);
      Add(Finding::kOhlc, true, ds, sym,
          fmt::format("{} violating OHLC (high < max(open, close), low > min(open, close), "
                      "negative volume or a NULL price); first at {}",
                      Plural(n, "row", "rows"), FormatMinute(t)),
          n, t);
    }
    if (int64_t n = sum(4, i); n > 0) {
      Micros t = NullableMicros(st, 5, i);
      Add(Finding::kMisaligned, true, ds, sym,
          fmt::format("{} with an open_time not aligned to {}; first at {}",
                      Plural(n, "row", "rows"), iv.name, FormatIso(t)),
          n, t);
    }
    if (int64_t nulls = sum(6, i), unknown = sum(7, i); nulls + unknown > 0) {
      Add(Finding::kInvalidValue, true, ds, sym,
          fmt::format("{} with a NULL open_time, {} with a source other than rest, import or "
                      "stream",
                      Plural(nulls, "row", "rows"), unknown),
          nulls + unknown);
    }
  }

  // Same-source duplicates and shadowed keys. Sources other than the three count as one.
  ASSIGN_OR_RETURN(
      Result dup,
      con_.Query(fmt::format(
          "WITH d AS (SELECT symbol, t, nr, ni, ns, n - nr - ni - ns AS no, "
          "  (nr > 0)::INT + (ni > 0)::INT + (ns > 0)::INT + (n - nr - ni - ns > 0)::INT AS "
          "nsrc, "
          "  n FROM {} WHERE n > 1 AND t IS NOT NULL) "
          "SELECT symbol, count(*) FILTER (WHERE n > nsrc), CAST(sum(n - nsrc) AS BIGINT), "
          "min(t) FILTER (WHERE n > nsrc), count(*) FILTER (WHERE nsrc > 1), "
          "bool_or(nr > 1), bool_or(ni > 1), bool_or(ns > 1), bool_or(no > 1) "
          "FROM d GROUP BY symbol ORDER BY symbol",
          keys)));
  for (size_t i = 0; i < dup.rows(); ++i) {
    std::string sym = dup.GetString(0, i);
    if (int64_t dup_keys = dup.GetInt64(1, i); dup_keys > 0) {
      int64_t extra = dup.GetInt64(2, i);
      Micros t = NullableMicros(dup, 3, i);
      std::string sources;
      const char* names[] = {"rest", "import", "stream", "other"};
      for (size_t c = 0; c < 4; ++c) {
        if (dup.GetBool(5 + c, i)) sources += std::string(sources.empty() ? "" : ", ") + names[c];
      }
      Add(Finding::kDuplicate, true, ds, sym,
          fmt::format("{} stored more than once by the same source ({}): {}; first at {}",
                      Plural(dup_keys, "key", "keys"), sources,
                      Plural(extra, "extra row", "extra rows"), FormatMinute(t)),
          extra, t);
    }
    if (int64_t n = dup.GetInt64(4, i); n > 0) {
      Add(Finding::kShadowed, false, ds, sym,
          fmt::format("{} stored by several sources (resolved at read time by source priority; "
                      "compaction removes them)",
                      Plural(n, "key", "keys")),
          n);
    }
  }

  bool days = iv.micros >= kMicrosPerDay;
  RETURN_IF_ERROR(Gaps(ds, fmt::format("(SELECT symbol, t FROM {} WHERE t IS NOT NULL)", keys),
                       iv.micros, days, days ? FilledDays() : ""));
  return con_.Exec("DROP TABLE " + keys);
}

Status Checker::CheckRefetch() {
  auto it = fsnap_->manifest().meta.find(lake::kRefetchKey);
  if (it == fsnap_->manifest().meta.end() || !it->is_object()) return Status::Ok();
  for (const auto& [dataset, symbols] : it->items()) {
    if (dataset.rfind("klines_", 0) != 0 || !symbols.is_object()) continue;
    auto iv = Interval::Parse(dataset.substr(7));
    if (!iv.ok()) continue;
    for (const auto& [symbol, ranges] : symbols.items()) {
      if (opt_.symbol && symbol != *opt_.symbol) continue;
      lake::KlineFilter filter;
      filter.symbol = symbol;
      ASSIGN_OR_RETURN(Result span,
                       con_.Query(fmt::format("SELECT epoch_us(min(open_time)), "
                                              "epoch_us(max(open_time)) FROM {}",
                                              lake::KlinesSql(*fsnap_, *iv, filter, false))));
      lake::TimeRanges stored;
      if (!span.IsNull(0, 0)) stored.emplace_back(span.GetInt64(0, 0), span.GetInt64(1, 0) + 1);
      lake::TimeRanges missing = lake::SubtractRanges(
          lake::SubtractRanges(lake::RefetchRanges(fsnap_->manifest(), dataset, symbol), stored),
          lake::ConfirmedEmpty(fsnap_->manifest(), dataset, symbol));
      for (const auto& [lo, hi] : missing) {
        Micros first = AlignUp(lo, iv->micros);
        Micros last = AlignUp(hi, iv->micros) - iv->micros;
        if (last < first) continue;
        int64_t n = (last - first) / iv->micros + 1;
        const bool days = iv->micros >= kMicrosPerDay;
        Add(Finding::kGap, false, dataset, symbol,
            fmt::format("{}..{} ({} missing: dropped by `cryptolake repair --drop`; "
                        "`cryptolake backfill` fetches them again)",
                        days ? FormatDate(first) : FormatMinute(first),
                        days ? FormatDate(last) : FormatMinute(last + iv->micros), n),
            n, first, last);
      }
    }
  }
  return Status::Ok();
}

}  // namespace cryptolake::verify::detail
