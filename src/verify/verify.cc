#include "verify/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "batch/views.h"
#include "core/fsutil.h"
#include "lake/klines.h"

namespace cryptolake::verify {

namespace {

namespace fs = std::filesystem;
using lake::FileEntry;
using lake::Result;
using lake::SqlQuote;

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// The expected file columns of a dataset ("" if the dataset has no fixed schema).
std::string ExpectedColumns(const std::string& dataset) {
  if (dataset.rfind("klines_", 0) == 0 && Interval::Parse(dataset.substr(7)).ok()) {
    return lake::kKlineColumns;
  }
  return batch::ViewColumns(dataset);
}

Micros NullableMicros(const Result& r, size_t col, size_t row) {
  return r.IsNull(col, row) ? 0 : r.GetInt64(col, row);
}

// What a file's footer says.
struct FileInfo {
  std::map<std::string, std::string> columns;  // leaf column -> DuckDB type
  int64_t rows = 0;
};

class Checker {
 public:
  Checker(const lake::Snapshot& snap, lake::Connection& con, const VerifyOptions& opt, Report& rep)
      : snap_(snap), con_(con), opt_(opt), rep_(rep) {}

  Status Run() {
    rep_.version = snap_.version();
    RETURN_IF_ERROR(CheckFiles());
    // Everything below reads only the files that passed.
    auto m = std::make_shared<lake::Manifest>(snap_.manifest());
    m->files.erase(std::remove_if(m->files.begin(), m->files.end(),
                                  [&](const FileEntry& f) { return bad_paths_.count(f.path) > 0; }),
                   m->files.end());
    fsnap_ = std::make_unique<lake::Snapshot>(snap_.root(), m);
    for (const Interval& iv : lake::KlineIntervals(*fsnap_)) RETURN_IF_ERROR(CheckKlines(iv));
    RETURN_IF_ERROR(CheckRefetch());
    if (opt_.views) RETURN_IF_ERROR(CheckViews());
    if (opt_.speed_view) RETURN_IF_ERROR(CheckSpeedView(*opt_.speed_view));
    return Status::Ok();
  }

 private:
  void Add(Finding::Kind kind, bool error, std::string dataset, std::string symbol,
           std::string detail, int64_t count = 0, Micros first = 0, Micros last = 0,
           int64_t filled = 0) {
    Finding f;
    f.kind = kind;
    f.error = error;
    f.dataset = std::move(dataset);
    f.symbol = std::move(symbol);
    f.detail = std::move(detail);
    f.count = count;
    f.first = first;
    f.last = last;
    f.filled = filled;
    rep_.findings.push_back(std::move(f));
  }

  std::string SymbolWhere() const {
    return opt_.symbol ? "symbol = " + SqlQuote(*opt_.symbol) : "true";
  }

  // ------------------------------------------------------------------------------------------
  // Files

  // Canonical DuckDB type names of a "name TYPE, ..." list (as parquet_schema spells them).
  StatusOr<std::map<std::string, std::string>> CanonicalSchema(const std::string& columns) {
    auto it = schemas_.find(columns);
    if (it != schemas_.end()) return it->second;
    std::string sel;
    for (const auto& c : batch::ParseColumns(columns)) {
      if (!sel.empty()) sel += ", ";
      sel += fmt::format("NULL::{} AS {}", c.type, c.name);
    }
    ASSIGN_OR_RETURN(Result r, con_.Query("DESCRIBE SELECT " + sel));
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < r.rows(); ++i) out[r.GetString(0, i)] = r.GetString(1, i);
    schemas_[columns] = out;
    return out;
  }

  // Footer information of `paths` (absolute), one query for all; on failure, file by file, and
  // the files that cannot be read are left out of the result with their error in `unreadable`.
  void ReadFooters(const std::vector<std::string>& paths, std::map<std::string, FileInfo>* info,
                   std::map<std::string, std::string>* unreadable) {
    auto query = [&](const std::string& list) -> Status {
      ASSIGN_OR_RETURN(Result s,
                       con_.Query(fmt::format("SELECT file_name, name, duckdb_type FROM "
                                              "parquet_schema({}) WHERE num_children IS NULL",
                                              list)));
      ASSIGN_OR_RETURN(Result m,
                       con_.Query(fmt::format(
                           "SELECT file_name, num_rows FROM parquet_file_metadata({})", list)));
      for (size_t i = 0; i < s.rows(); ++i) {
        (*info)[s.GetString(0, i)].columns[s.GetString(1, i)] = s.GetString(2, i);
      }
      for (size_t i = 0; i < m.rows(); ++i) (*info)[m.GetString(0, i)].rows = m.GetInt64(1, i);
      return Status::Ok();
    };
    std::vector<fs::path> all(paths.begin(), paths.end());
    if (query(lake::SqlPathList(all)).ok()) return;
    info->clear();
    for (const auto& p : paths) {
      Status s = query(SqlQuote(p));
      if (!s.ok()) {
        info->erase(p);
        std::string msg = s.message();
        if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
        (*unreadable)[p] = msg;
      }
    }
  }

  void MarkBad(const FileEntry& f) {
    bad_paths_.insert(f.path);
    if (!f.symbol.empty()) bad_symbols_.insert(f.symbol);
  }

  std::string SkipNote(const FileEntry& f) const {
    if (!opt_.views || f.symbol.empty()) return "";
    return fmt::format(" (view checks of {} skipped)", f.symbol);
  }

  // "it held klines_1m BTCUSDT 2025-05-20 00:00..2025-05-31 23:59, 44640 rows; `cryptolake
  // repair --drop <path>` ..." : what a lost file takes with it, and how to get it back.
  static std::string Held(const FileEntry& f) {
    const bool days = f.dataset.rfind("klines_", 0) != 0 || f.dataset == "klines_1d";
    auto when = [&](Micros t) { return days ? FormatDate(t) : FormatMinute(t); };
    std::string how = f.dataset.rfind("klines_", 0) == 0
                          ? "then `cryptolake backfill` fetches them again"
                          : "then `cryptolake batch` rebuilds it";
    return fmt::format(
        "it held {} {} {}..{}, {} rows; `cryptolake repair --drop {}` retires it, {}", f.dataset,
        f.symbol, when(f.min_time), when(f.max_time), f.rows, f.path, how);
  }

  // Files whose bytes differ from the checksum taken at their commit.
  void CheckChecksums(const std::vector<const FileEntry*>& files) {
    for (const FileEntry* f : files) {
      if (f->sha256.empty() || bad_paths_.count(f->path)) continue;
      auto sum = Sha256File(snap_.Abs(*f));
      if (sum.ok() && *sum == f->sha256) continue;
      MarkBad(*f);
      Add(Finding::kDamagedFile, true, f->dataset, f->symbol,
          fmt::format("{}: {}; {}{}", f->path,
                      sum.ok() ? "its bytes no longer match the checksum taken at its commit"
                               : sum.status().message(),
                      Held(*f), SkipNote(*f)),
          f->rows, f->min_time, f->max_time);
    }
  }

  // Decodes every value of every row group of the good files, a dataset at a time; where a
  // dataset fails, file by file to name the damaged ones.
  Status CheckDecodes(const std::vector<const FileEntry*>& files) {
    std::map<std::string, std::vector<const FileEntry*>> by_dataset;
    for (const FileEntry* f : files) {
      if (!bad_paths_.count(f->path)) by_dataset[f->dataset].push_back(f);
    }
    for (const auto& [dataset, list] : by_dataset) {
      std::string expected = ExpectedColumns(dataset);
      if (expected.empty()) continue;
      std::string cols;
      for (const auto& c : batch::ParseColumns(expected))
        cols += (cols.empty() ? "" : ", ") + c.name;
      auto read_all = [&](const std::vector<const FileEntry*>& fs_) -> Status {
        std::vector<fs::path> paths;
        for (auto* f : fs_) paths.push_back(snap_.Abs(*f));
        return con_
            .Query(fmt::format("SELECT count(*), bit_xor(hash({})) FROM read_parquet({}, "
                               "hive_partitioning = false)",
                               cols, lake::SqlPathList(paths)))
            .status();
      };
      if (read_all(list).ok()) continue;
      for (const FileEntry* f : list) {
        Status s = read_all({f});
        if (s.ok()) continue;
        std::string msg = s.message();
        if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
        MarkBad(*f);
        Add(Finding::kDamagedFile, true, f->dataset, f->symbol,
            fmt::format("{}: its rows cannot be read back ({}); {}{}", f->path, msg, Held(*f),
                        SkipNote(*f)),
            f->rows, f->min_time, f->max_time);
      }
    }
    return Status::Ok();
  }

  Status CheckFiles() {
    std::vector<const FileEntry*> files;
    for (const auto& f : snap_.manifest().files) {
      if (opt_.symbol && f.symbol != *opt_.symbol) continue;
      files.push_back(&f);
    }
    std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->path < b->path; });
    rep_.files_checked = static_cast<int64_t>(files.size());
    std::vector<std::string> present;
    for (const FileEntry* f : files) {
      std::error_code ec;
      if (fs::is_regular_file(snap_.Abs(*f), ec)) {
        present.push_back(snap_.Abs(*f).string());
      } else {
        MarkBad(*f);
        Add(Finding::kMissingFile, true, f->dataset, f->symbol,
            fmt::format("{}: listed in the manifest but missing; {}{}", f->path, Held(*f),
                        SkipNote(*f)),
            f->rows, f->min_time, f->max_time);
      }
    }
    if (present.empty()) return Status::Ok();
    std::map<std::string, FileInfo> info;
    std::map<std::string, std::string> unreadable;
    ReadFooters(present, &info, &unreadable);
    for (const FileEntry* f : files) {
      std::string abs = snap_.Abs(*f).string();
      if (bad_paths_.count(f->path)) continue;
      if (auto u = unreadable.find(abs); u != unreadable.end()) {
        MarkBad(*f);
        Add(Finding::kUnreadableFile, true, f->dataset, f->symbol,
            fmt::format("{}: not readable as Parquet: {}; {}{}", f->path, u->second, Held(*f),
                        SkipNote(*f)),
            f->rows, f->min_time, f->max_time);
        continue;
      }
      const FileInfo& fi = info[abs];
      std::string expected = ExpectedColumns(f->dataset);
      if (!expected.empty()) {
        ASSIGN_OR_RETURN(auto want, CanonicalSchema(expected));
        std::vector<std::string> problems;
        for (const auto& [name, type] : want) {
          auto it = fi.columns.find(name);
          if (it == fi.columns.end()) {
            problems.push_back(fmt::format("missing column {} {}", name, type));
          } else if (it->second != type) {
            problems.push_back(fmt::format("column {} is {}, expected {}", name, it->second, type));
          }
        }
        for (const auto& [name, type] : fi.columns) {
          if (!want.count(name))
            problems.push_back(fmt::format("unexpected column {} {}", name, type));
        }
        if (!problems.empty()) {
          std::string detail = f->path + ": ";
          for (size_t i = 0; i < problems.size(); ++i) detail += (i ? "; " : "") + problems[i];
          MarkBad(*f);
          Add(Finding::kSchema, true, f->dataset, f->symbol, detail + SkipNote(*f),
              static_cast<int64_t>(problems.size()));
          continue;
        }
      }
      if (fi.rows != f->rows) {
        MarkBad(*f);
        Add(Finding::kRowCount, true, f->dataset, f->symbol,
            fmt::format("{}: holds {} rows, the manifest says {}{}", f->path, fi.rows, f->rows,
                        SkipNote(*f)),
            fi.rows - f->rows);
      }
    }
    CheckChecksums(files);
    return CheckDecodes(files);
  }

  // ------------------------------------------------------------------------------------------
  // Gaps

  // Gap ranges of `keys` (a table expression with symbol and t = epoch micros, distinct) at
  // `step`. With `filled_days` (symbol, t of days daily_filled forward-filled) each range counts
  // its filled days.
  Status Gaps(const std::string& dataset, const std::string& keys, Micros step, bool days,
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
      const char* note =
          kind == Finding::kConfirmedEmpty ? ", confirmed empty by the exchange" : "";
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
      const char* note =
          kind == Finding::kConfirmedEmpty ? ", confirmed empty by the exchange" : "";
      Add(kind, false, dataset, symbol,
          fmt::format(
              "{} between {} ({} missing{}{}{})", Plural(fold.more, "more range", "more ranges"),
              fmt_range(fold.first, fold.last), fold.missing, fold.missing == 1 ? unit : units,
              filled_note(fold.filled, fold.missing), note),
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
          emit(is_empty ? empties : gaps, is_empty ? Finding::kConfirmedEmpty : Finding::kGap,
               symbol, p.first, p.second - step, (p.second - p.first) / step, 0);
        }
      }
      flush(gaps, Finding::kGap, symbol);
      flush(empties, Finding::kConfirmedEmpty, symbol);
    }
    return Status::Ok();
  }

  std::string FilledDays() const {
    if (!opt_.views || fsnap_->Files(batch::kDailyFilled).empty()) return "";
    return fmt::format("(SELECT symbol, epoch_us(day) AS t FROM {} WHERE filled)",
                       batch::ViewSql(*fsnap_, batch::kDailyFilled, opt_.symbol));
  }

  // ------------------------------------------------------------------------------------------
  // Master dataset

  Status CheckKlines(const Interval& iv) {
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
    ASSIGN_OR_RETURN(
        Result st,
        con_.Query(fmt::format("SELECT symbol, sum(n), sum(bad), min(t) FILTER (WHERE bad > 0), "
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

  // ------------------------------------------------------------------------------------------
  // Views

  // Compares `stored` with `expected` (both symbol + `columns`), keyed by (symbol, time column).
  Status Compare(const std::string& view, const std::string& stored, const std::string& expected,
                 const std::string& what, const std::string& where) {
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
          fmt::format(
              "stored {} differs from {}: {} missing, {} extra, {} different {}; first at {}", view,
              what, missing, extra, different, missing + extra + different == 1 ? "row" : "rows",
              FormatDate(first)),
          missing + extra + different, first);
    }
    return Status::Ok();
  }

  // The parts of the refetch ranges (lake::RefetchRanges) outside each series' stored span (the
  // parts inside it are gaps found by CheckKlines already), less what the exchange confirmed
  // empty.
  Status CheckRefetch() {
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

  Status CheckViews() {
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
    RETURN_IF_ERROR(con_.Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} AS SELECT * FROM {}",
                                          raw, batch::DailyRawSql(*fsnap_, opt_.symbol))));
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

  // ------------------------------------------------------------------------------------------
  // Speed layer

  // The real-time view's file (speed/view.h): table closed(symbol, open_time BIGINT epoch us,
  // open, high, low, close, volume, ..., late, in_lake) and watermark(symbol, t).
  Status CheckSpeedView(const std::string& path) {
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

  Status CheckAttachedSpeedView() {
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

  const lake::Snapshot& snap_;
  lake::Connection& con_;
  const VerifyOptions& opt_;
  Report& rep_;
  std::unique_ptr<lake::Snapshot> fsnap_;  // snap_ without the files that failed CheckFiles
  std::set<std::string> bad_paths_;
  std::set<std::string> bad_symbols_;
  std::map<std::string, std::map<std::string, std::string>> schemas_;
};

}  // namespace

const char* KindName(Finding::Kind kind) {
  switch (kind) {
    case Finding::kGap:
      return "gap";
    case Finding::kDuplicate:
      return "duplicate";
    case Finding::kShadowed:
      return "shadowed";
    case Finding::kSchema:
      return "schema";
    case Finding::kOhlc:
      return "ohlc";
    case Finding::kMisaligned:
      return "misaligned";
    case Finding::kInvalidValue:
      return "invalid_value";
    case Finding::kViewMismatch:
      return "view_mismatch";
    case Finding::kStaleView:
      return "stale_view";
    case Finding::kMissingFile:
      return "missing_file";
    case Finding::kUnreadableFile:
      return "unreadable_file";
    case Finding::kConfirmedEmpty:
      return "confirmed_empty";
    case Finding::kRowCount:
      return "row_count";
    case Finding::kSkipped:
      return "skipped";
    case Finding::kDamagedFile:
      return "damaged_file";
    case Finding::kManifest:
      return "manifest";
  }
  return "?";
}

int64_t Report::errors() const {
  return std::count_if(findings.begin(), findings.end(), [](auto& f) { return f.error; });
}

int64_t Report::gap_ranges() const {
  return std::count_if(findings.begin(), findings.end(),
                       [](auto& f) { return f.kind == Finding::kGap; });
}

int Report::ExitCode() const {
  if (errors() > 0) return 2;
  if (gap_ranges() > 0) return 1;
  return 0;
}

Report ManifestReport(const Status& error) {
  Report rep;
  Finding f;
  f.kind = Finding::kManifest;
  f.error = true;
  f.dataset = "_manifest.json";
  f.detail = error.message();
  rep.findings.push_back(std::move(f));
  return rep;
}

StatusOr<Report> Verify(const lake::Snapshot& snap, lake::Connection& con,
                        const VerifyOptions& options) {
  Report rep;
  Checker c(snap, con, options, rep);
  Status s = c.Run();
  if (!s.ok()) return s.WithContext("verify");
  return rep;
}

std::string FormatReport(const Report& report) {
  const bool no_manifest =
      std::any_of(report.findings.begin(), report.findings.end(),
                  [](const Finding& f) { return f.kind == Finding::kManifest; });
  std::string out =
      no_manifest
          ? "verify: the manifest cannot be read\n"
          : fmt::format("verify: manifest version {}, {} checked, {} checked{}\n", report.version,
                        Plural(report.files_checked, "file", "files"),
                        Plural(report.rows_checked, "row", "rows"),
                        report.speed_view_rows > 0 ? fmt::format(" (speed view: {} closed candles)",
                                                                 report.speed_view_rows)
                                                   : "");
  int64_t notes = 0;
  for (const auto& f : report.findings) {
    std::string where = f.dataset + (f.symbol.empty() ? "" : " " + f.symbol);
    if (f.error) {
      out += fmt::format("ERROR {} {}: {}\n", KindName(f.kind), where, f.detail);
    } else if (f.kind == Finding::kGap) {
      out += fmt::format("GAP   {}: {}\n", where, f.detail);
    } else {
      ++notes;
      out += fmt::format("note  {} {}: {}\n", KindName(f.kind), where, f.detail);
    }
  }
  out += fmt::format("summary: {}, {}, {} -> exit code {}\n",
                     Plural(report.errors(), "error", "errors"),
                     Plural(report.gap_ranges(), "gap range", "gap ranges"),
                     Plural(notes, "note", "notes"), report.ExitCode());
  return out;
}

nlohmann::json ReportToJson(const Report& report) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : report.findings) {
    bool has_time = f.first != 0 || f.last != 0;
    findings.push_back({{"kind", KindName(f.kind)},
                        {"error", f.error},
                        {"dataset", f.dataset},
                        {"symbol", f.symbol},
                        {"detail", f.detail},
                        {"count", f.count},
                        {"first", has_time ? nlohmann::json(FormatIso(f.first)) : nullptr},
                        {"last", has_time ? nlohmann::json(FormatIso(f.last)) : nullptr},
                        {"filled", f.filled}});
  }
  return {{"version", report.version},           {"files_checked", report.files_checked},
          {"rows_checked", report.rows_checked}, {"speed_view_rows", report.speed_view_rows},
          {"exit_code", report.ExitCode()},      {"errors", report.errors()},
          {"gap_ranges", report.gap_ranges()},   {"findings", std::move(findings)}};
}

std::string FormatReportJson(const Report& report) { return ReportToJson(report).dump(2); }

}  // namespace cryptolake::verify
