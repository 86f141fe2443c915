// The checks of `cryptolake verify` (verify.h), internal to src/verify: one Checker runs them
// over one snapshot and adds its findings to a Report. Its methods live in one file per group:
//   verify.cc        Run (the order of the checks), Add, the public functions of verify.h
//   check_files.cc   files: presence, Parquet footers, schema, row counts, checksums, decoding
//   check_series.cc  the master dataset: values, duplicates, gaps (and their confirmed-empty
//                    parts), the refetch ranges of `repair --drop`
//   check_views.cc   the batch views against their recomputation, and the speed view
//   check_delta.cc   the Delta logs against the manifest
// Every check reads `fsnap_` (the snapshot without the files CheckFiles found bad) once
// CheckFiles has run, and reports problems in the data as findings; a returned error means the
// check itself could not run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "verify/verify.h"

namespace cryptolake::verify::detail {

namespace fs = std::filesystem;
using lake::FileEntry;
using lake::Result;
using lake::SqlQuote;

// "1 row", "2 rows".
std::string Plural(int64_t n, const char* one, const char* many);
// The expected file columns of a dataset ("" if the dataset has no fixed schema).
std::string ExpectedColumns(const std::string& dataset);
// An epoch-micros column of `r`, 0 where NULL.
Micros NullableMicros(const Result& r, size_t col, size_t row);

// What a file's footer says.
struct FileInfo {
  std::map<std::string, std::string> columns;  // leaf column -> DuckDB type
  int64_t rows = 0;
};

class Checker {
 public:
  Checker(const lake::Snapshot& snap, lake::Connection& con, const VerifyOptions& opt, Report& rep)
      : snap_(snap), con_(con), opt_(opt), rep_(rep) {}

  // Runs every check in order: files, then per interval the master dataset, the refetch ranges,
  // the views (VerifyOptions::views) and the speed view (VerifyOptions::speed_view).
  Status Run();

 private:
  // Each dataset's Delta log at the snapshot's version against the manifest (check_delta.cc).
  void CheckDelta();
  // Appends a finding to the report.
  void Add(Finding::Kind kind, bool error, std::string dataset, std::string symbol,
           std::string detail, int64_t count = 0, Micros first = 0, Micros last = 0,
           int64_t filled = 0);
  // The SQL condition selecting VerifyOptions::symbol ("true" without one).
  std::string SymbolWhere() const;

  // ------------------------------------------------------------------------------------------
  // Files (check_files.cc)

  // Canonical DuckDB type names of a "name TYPE, ..." list (as parquet_schema spells them).
  StatusOr<std::map<std::string, std::string>> CanonicalSchema(const std::string& columns);
  // Footer information of `paths` (absolute), one query for all; on failure, file by file, and
  // the files that cannot be read are left out of the result with their error in `unreadable`.
  void ReadFooters(const std::vector<std::string>& paths, std::map<std::string, FileInfo>* info,
                   std::map<std::string, std::string>* unreadable);
  void MarkBad(const FileEntry& f);
  std::string SkipNote(const FileEntry& f) const;
  // "it held klines_1m BTCUSDT 2025-05-20 00:00..2025-05-31 23:59, 44640 rows; `cryptolake
  // repair --drop <path>` ..." : what a lost file takes with it, and how to get it back.
  static std::string Held(const FileEntry& f);
  // Files whose bytes differ from the checksum taken at their commit.
  void CheckChecksums(const std::vector<const FileEntry*>& files);
  // Decodes every value of every row group of the good files, a dataset at a time; where a
  // dataset fails, file by file to name the damaged ones.
  Status CheckDecodes(const std::vector<const FileEntry*>& files);
  // Every listed file: present, readable Parquet, the schema, the row count; then checksums and
  // decoding. The files that fail go to bad_paths_ (and their symbols to bad_symbols_).
  Status CheckFiles();

  // ------------------------------------------------------------------------------------------
  // Master dataset, gaps and refetch ranges (check_series.cc)

  // Gap ranges of `keys` (a table expression with symbol and t = epoch micros, distinct) at
  // `step`. With `filled_days` (symbol, t of days daily_filled forward-filled) each range counts
  // its filled days.
  Status Gaps(const std::string& dataset, const std::string& keys, Micros step, bool days,
              const std::string& filled_days);
  // The days daily_filled forward-filled (symbol, t), for Gaps; "" without views.
  std::string FilledDays() const;
  // Values, duplicates, shadowed keys and gaps of one kline dataset.
  Status CheckKlines(const Interval& iv);
  // The parts of the refetch ranges (lake::RefetchRanges) outside each series' stored span (the
  // parts inside it are gaps found by CheckKlines already), less what the exchange confirmed
  // empty.
  Status CheckRefetch();

  // ------------------------------------------------------------------------------------------
  // Views and speed view (check_views.cc)

  // Compares `stored` with `expected` (both symbol + `columns`), keyed by (symbol, time column).
  Status Compare(const std::string& view, const std::string& stored, const std::string& expected,
                 const std::string& what, const std::string& where);
  // Stale partitions, duplicate days, and each stored view against its recomputation; the
  // days missing in daily_raw as gaps.
  Status CheckViews();
  // The real-time view's file (speed/view.h): table closed(symbol, open_time BIGINT epoch us,
  // open, high, low, close, volume, ..., late, in_lake) and watermark(symbol, t).
  Status CheckSpeedView(const std::string& path);
  // The checks of the attached speed view (_cl_sv).
  Status CheckAttachedSpeedView();

  const lake::Snapshot& snap_;
  lake::Connection& con_;
  const VerifyOptions& opt_;
  Report& rep_;
  std::unique_ptr<lake::Snapshot> fsnap_;  // snap_ without the files that failed CheckFiles
  std::set<std::string> bad_paths_;
  std::set<std::string> bad_symbols_;
  std::map<std::string, std::map<std::string, std::string>> schemas_;
};

}  // namespace cryptolake::verify::detail
