// `cryptolake verify`: checks one snapshot of the lake and reports what is wrong with it.
//
// Checks (all set-based SQL over the snapshot's files, so they scale to millions of rows):
//  * files: every file the manifest lists exists, is a readable Parquet file, holds the number of
//    rows the manifest says, and has the dataset's schema (klines_*: lake::kKlineColumns; views:
//    batch::k*Columns; same column names and DuckDB types, order ignored); its bytes still match
//    the SHA-256 the commit recorded (files of older manifests have none), and every value of
//    every row group decodes. A missing or damaged file's finding names it and the key range it
//    held ("it held klines_1m BTCUSDT 2025-05-20 00:00..2025-05-31 23:59, 44640 rows"). Files
//    failing these checks are left out of every later check, and the view checks of their
//    symbol are skipped.
//  * refetch: key ranges `cryptolake repair --drop` recorded as missing (lake::RefetchRanges) are
//    gaps until backfill fetches them again, even at the ends of a series.
//  * gaps: per kline dataset and symbol, the candles missing between its first and last
//    open_time, with their count. Below 1d a range is the time span without data, from the
//    first missing open_time to the next present one (end exclusive, the end's date omitted when
//    it is the same day): "2021-04-20 02:00..04:30" is 150 missing 1m candles, 02:00 to 04:29.
//    For 1d and for the days missing in daily_raw a range is inclusive dates,
//    "2021-04-20..2021-04-21". Finding::first/last are the first and last missing open_times.
//    Day ranges tell how many of their days daily_filled forward-filled. The parts of a gap that
//    backfill recorded as confirmed empty (lake::ConfirmedEmpty: the exchange has no klines
//    there, e.g. an outage) are not gaps but "confirmed_empty" notes:
//    "2021-04-20 02:00..04:30 (150 missing, confirmed empty by the exchange)".
//  * duplicates: the same (symbol, open_time) stored more than once by the same source is an
//    error; the same key from different sources is "shadowed" (resolved at read time by source
//    priority, removed by compaction) and only counted.
//  * values: high < max(open, close), low > min(open, close), negative volume or a NULL price are
//    OHLC errors; an open_time not aligned to the interval is "misaligned"; a NULL open_time or a
//    source other than rest/import/stream is an "invalid_value" error.
//  * views: daily_raw partitions whose master data changed since the last refresh are reported as
//    stale (not an error; run `cryptolake batch`) and their symbols' views are not compared.
//    Otherwise the stored daily_raw must equal batch::DailyRawSql over the master dataset and the
//    stored daily_filled must equal batch::DailyFilledSql over that, row for row, with doubles
//    compared EXACTLY (the view SQL is deterministic to the bit: decimal sums), and prophet_input
//    must be (ds, y) = (day, close) of the stored daily_filled, exactly. A view holding a day
//    twice is a duplicate error.
//  * speed view (with VerifyOptions::speed_view): the real-time view's closed candles at or
//    after its watermark (late ones excluded) hold no minute twice ("duplicate"), no missing
//    minute between each symbol's first and last ("gap", dataset speed_view), and those already
//    appended to the master dataset equal its klines_1m rows exactly ("view_mismatch"). A view
//    file in use by a running stream cannot be opened: a "skipped" note.
//
// Exit codes (Report::ExitCode): 0 clean (informational findings allowed); 1 only gaps; 2 any
// integrity error (duplicates, schema, OHLC, misaligned, invalid values, view mismatch,
// missing/unreadable files, row counts).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/duck.h"
#include "lake/lake.h"

namespace cryptolake::verify {

struct Finding {
  enum Kind {
    kGap,             // missing candles / days (exit code 1)
    kDuplicate,       // a key stored twice by the same source, or a view day stored twice
    kShadowed,        // a key stored by several sources (informational)
    kSchema,          // a file's columns or types differ from the dataset's schema
    kOhlc,            // rows violating OHLC or with negative volume
    kMisaligned,      // open_time not a multiple of the interval
    kInvalidValue,    // a NULL open_time, or a source other than rest/import/stream
    kViewMismatch,    // a stored view differs from its recomputation
    kStaleView,       // views older than the master dataset (informational)
    kMissingFile,     // a file the manifest lists does not exist
    kUnreadableFile,  // a listed file is not readable Parquet
    kRowCount,        // a file's row count differs from the manifest's
    kConfirmedEmpty,  // missing candles the exchange confirmed it has none of (informational)
    kSkipped,         // a check that could not run, e.g. the speed view in use (informational)
    kDamagedFile,     // a listed file whose bytes no longer match its checksum, or whose rows
                      // cannot all be read back
    kManifest,        // the manifest is missing (with data files there) or not readable
    kDeltaLog,        // a dataset's Delta log does not name the manifest's files (error), or is
                      // behind it by the versions of an interrupted commit (informational)
  };
  Kind kind = kGap;
  bool error = false;
  std::string dataset;  // "klines_1m", "daily_raw", ...
  std::string symbol;   // empty if not about one symbol
  std::string detail;   // human-readable, e.g. "2021-04-20 02:00..04:30 (150 missing)"
  int64_t count = 0;    // gap: missing candles/days; duplicate: extra rows; ohlc etc.: rows
  Micros first = 0;     // gap: first and last missing open_time (inclusive); else the first
  Micros last = 0;      //   offending time when there is one (0 otherwise)
  int64_t filled = 0;   // day gaps: how many of the missing days daily_filled forward-filled
};

// "gap", "duplicate", "shadowed", "schema", "ohlc", "misaligned", "invalid_value",
// "view_mismatch", "stale_view", "missing_file", "unreadable_file", "row_count",
// "confirmed_empty", "skipped", "damaged_file", "manifest".
const char* KindName(Finding::Kind kind);

struct VerifyOptions {
  std::optional<std::string> symbol;  // check only this symbol's files and rows
  bool views = true;                  // compare the batch views with the master dataset
  // Gap ranges listed per dataset and symbol; the remaining ranges are folded into one finding
  // ("N more ranges first..last (M missing)"). At least 1.
  int max_ranges = 1000;
  // The speed layer's real-time view file (speed/view.h), if any: see "speed view" above.
  std::optional<std::string> speed_view;
};

struct Report {
  int64_t version = 0;          // manifest version checked
  int64_t files_checked = 0;    // files listed by the manifest (for the symbol, if given)
  int64_t rows_checked = 0;     // master rows plus stored view rows read
  int64_t speed_view_rows = 0;  // closed candles of the real-time view checked
  std::vector<Finding> findings;

  int64_t errors() const;
  int64_t gap_ranges() const;
  // 0 clean; 1 only gaps; 2 any integrity error.
  int ExitCode() const;
};

// Runs every check on `snap`. Problems in the data are findings; the Status is an error only if
// the checks themselves could not run (e.g. a DuckDB failure not caused by a bad file).
// (A lake whose manifest cannot be read has no snapshot: see ManifestReport.)
StatusOr<Report> Verify(const lake::Snapshot& snap, lake::Connection& con,
                        const VerifyOptions& options = {});

// The report of a lake without a readable manifest (Lake::GetSnapshot failed with `error`): one
// kManifest error finding, exit code 2.
Report ManifestReport(const Status& error);

// Human-readable: a header line, one line per finding ("ERROR", "GAP" or "note"), a summary line:
//   verify: manifest version 3, 4 files, 122545 rows checked
//   GAP    klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)
//   summary: 0 errors, 1 gap range, 0 notes -> exit code 1
std::string FormatReport(const Report& report);
// The same as JSON: {"version", "files_checked", "rows_checked", "exit_code", "errors",
// "gap_ranges", "findings": [{"kind", "error", "dataset", "symbol", "detail", "count",
// "first", "last" (ISO-8601 UTC or null), "filled"}]}.
nlohmann::json ReportToJson(const Report& report);
std::string FormatReportJson(const Report& report);

}  // namespace cryptolake::verify
