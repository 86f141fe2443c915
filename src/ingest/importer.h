// `cryptolake import`: bulk import of historical kline files into the master dataset.
//
// Contract:
//  * Every input is parsed and validated (ingest/parser.h). Bad rows go to a quarantine CSV under
//    <data>/quarantine/ with file, line, reason and the raw text, and are counted.
//  * With `strict`, any bad row fails the whole import with InvalidArgument and nothing is
//    committed (no data file, no quarantine file).
//  * Rows whose (symbol, interval, open_time) already exist in the lake from an equal or higher
//    priority source (import, rest), or that repeat an earlier row of the same import, are not
//    written; they are counted as duplicates. Re-importing the same files therefore adds 0 rows.
//  * All new rows of one import are published by ONE atomic lake commit: after a crash at any
//    instant either all of them are visible or none.
//  * An input that fails as a whole is left out and named in ImportStats::failed; the others are
//    committed. Such failures: I/O errors, a checksum mismatch, a corrupt or bomb-like archive
//    (ingest/source.h), an undetectable format, a file with most rows off the interval grid,
//    and a file whose name gives no symbol or interval without --symbol/--interval ("skipped
//    '<file>': cannot tell symbol and interval from its name; use --symbol/--interval"). If
//    every input failed, or with `strict`, Import returns the error (the one failure's own, or
//    "<n> of <m> input(s) failed, nothing imported:" and one line per file) and the lake is
//    unchanged.
//  * Rows open between the first Binance kline (2017-07-14; other sources 2009-01-03) and the
//    lake's clock plus one interval; prices and volumes within core/bounds.h. Others are bad rows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ingest/parser.h"
#include "lake/lake.h"
#include "lake/typed.h"

namespace cryptolake::ingest {

struct ImportOptions {
  std::vector<std::string> inputs;  // files, directories, globs
  ParseOptions parse;
  bool strict = false;
  int threads = 0;       // parser threads; 0 = hardware concurrency
  bool progress = true;  // progress bar on a TTY
};

struct ImportStats {
  int64_t files = 0;        // CSV files parsed (a zip may hold several)
  int64_t bytes = 0;        // uncompressed bytes parsed
  int64_t rows_read = 0;    // valid rows parsed
  int64_t rows_added = 0;   // rows committed
  int64_t duplicates = 0;   // valid rows not written because the key already existed
  int64_t quarantined = 0;  // bad rows
  int64_t version = 0;      // manifest version after the commit
  double seconds = 0;
  std::string quarantine_file;  // relative to the data root; empty if no bad rows
  std::vector<Status> failed;   // inputs left out as a whole, in input order (see above)
};

StatusOr<ImportStats> Import(lake::Lake& lake, lake::Connection& con, const ImportOptions& opt);

// "files 4, rows 261416 (412345 rows/s), added 261416, duplicates 0, quarantined 0"
std::string FormatImportSummary(const ImportStats& s);

}  // namespace cryptolake::ingest
