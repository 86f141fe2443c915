// Kline CSV parsing: turns the text of one CSV file into a validated, columnar KlineBatch.
//
// Formats:
//   vision    data.binance.vision / REST layout, 12 columns, header optional:
//             open_time,open,high,low,close,volume,close_time,quote_volume,trades,
//             taker_buy_base,taker_buy_quote,ignore
//   ohlcv     header "open_time,open,high,low,close,volume" (header optional with --format ohlcv)
//   bitstamp  header "timestamp,open,close,volume,unix_timestamp,high,low"; `timestamp` is
//             "YYYY-MM-DD HH:MM:SS" UTC and `unix_timestamp` is in seconds; both must agree.
//
// Contract:
//  * Format detection (kAuto) looks at the first non-empty line only: a known header names its
//    format; no header and 12 columns with an integer first field is vision; anything else is
//    InvalidArgument "<name>: cannot detect the CSV format (first line: '...'); pass --format".
//    An explicit format is checked against the header when the file has one (a first line
//    starting with a letter is a header).
//  * Time unit (vision, ohlcv): the digit count of the first data row's open_time decides, per
//    file: 13 -> ms, 16 -> us, 10 -> s; any other count fails the file. A later row whose
//    open_time (or close_time) has another digit count is a bad row. Bitstamp is always seconds.
//    Every timestamp in a KlineBatch is UTC microseconds.
//  * A row that fails validation goes to ParsedFile::bad with a one-line reason and is left out
//    of the batch; it does not fail the call. Reasons (one per row, first failure wins, checked
//    in this order):
//      "expected 12 columns, got 7"
//      "empty field high (column 3)"
//      "non-numeric high 'abc' (column 3)"        (doubles; NaN and infinities are non-numeric)
//      "non-integer trades '1.5' (column 9)"      (open_time, close_time, trades, unix_timestamp)
//      "invalid timestamp 'x' (column 1)"         (bitstamp)
//      "unix_timestamp 1313625600000 out of range for seconds"  (bitstamp)
//      "timestamp '2011-08-18 00:00:00' disagrees with unix_timestamp 1313712000
//       (2011-08-19T00:00:00Z)"                   (bitstamp)
//      "open_time 1735689600000000 has 16 digits; this file uses ms (13)"
//      "close_time 1735690499999999 has 16 digits; this file uses ms (13)"
//      "negative open_time -1735689600000"
//      "open_time 1735689660000 (2025-01-01T00:01:00Z) is not aligned to the 15m interval"
//      "close_time 1735690500000 inconsistent with open_time 1735689600000: expected 1735690499999
//       (open_time + 15m - 1 ms)"
//      "open_time 2100-01-01T00:00:00Z is after now + 1d (2026-12-04T14:00:00Z)"   (with opt.now)
//      "open_time 2001-09-09T01:46:40Z is before the first Binance kline (2017-07-14T00:00:00Z)"
//                                                 (vision; ohlcv and bitstamp: 2009-01-03, "the
//                                                 first bitcoin block"; core/bounds.h)
//      "negative volume -1.5"                     (any price, volume or count)
//      "open 0 out of range (0, 1e15]"            (prices; core/bounds.h)
//      "volume 1e+29 out of range [0, 1e18]"      (volumes; core/bounds.h)
//      "high 10.5 below max(open, close) 11"
//      "low 12 above min(open, close) 11"
//  * A file where more than half of the data rows are off the interval grid fails as a whole
//    (InvalidArgument "'<name>': 1440 of 1440 rows are not on the 1d grid; is --interval
//    right?"): the interval is wrong, not the rows.
//  * Symbols (from opt or the file name) are normalized by NormalizeSymbol (core/symbol.h); one
//    that does not match Binance's pattern fails the file.
//  * close_time (vision) must lie in [open_time, open_time + interval - 1 unit]. The upper end is
//    the normal case; an earlier close_time is a real Binance kline cut short by an exchange halt
//    (e.g. BTCUSDT 1d 2018-02-08 closed at 00:28:14.788, 1h 2023-03-24 12:00 closed at 12:39:41)
//    and is kept. close_time is stored as in the file, converted to micros (ms * 1000).
//  * Line numbers are 1-based physical lines (a header is line 1; blank lines count but are
//    skipped). CRLF line ends, a UTF-8 BOM and a last line without '\n' are handled.
//  * Pure function of its arguments: thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::ingest {

// ParseFormat, FormatName, SplitFileName and ResolveSymbolInterval are implemented in
// parse_options.cc; ParseCsv (the row parsing, the import's hot path) in parser.cc.

enum class Format { kAuto, kVision, kOhlcv, kBitstamp };

// "auto" | "vision" | "ohlcv" | "bitstamp"; anything else is InvalidArgument listing them.
StatusOr<Format> ParseFormat(std::string_view s);
const char* FormatName(Format f);

// Columnar klines of one symbol and interval (model/kline.h).
using KlineBatch = model::KlineBatch;

struct BadRow {
  std::string file;    // display name of the file (path as given; zip member "a.zip:m.csv")
  int64_t line = 0;    // 1-based physical line number (a header is line 1)
  std::string reason;  // e.g. "high 10.5 below max(open, close) 11"
  std::string text;    // the raw line without its line end, truncated to 200 chars
};

struct ParsedFile {
  std::string name;               // display name as in BadRow::file
  Format format = Format::kAuto;  // the detected or given format; never kAuto after parsing
  std::string time_unit;          // "ms", "us" or "s"; empty when the file has no data row
  KlineBatch batch;               // good rows only, in file order
  std::vector<BadRow> bad;
  int64_t data_lines = 0;  // non-header, non-empty lines seen (= batch.size() + bad.size())
  int64_t bytes = 0;       // uncompressed bytes parsed
  int64_t off_grid = 0;    // bad rows whose open_time is not on the interval grid
};

struct ParseOptions {
  Format format = Format::kAuto;
  std::optional<std::string> symbol;  // overrides the file name
  std::optional<Interval> interval;   // overrides the file name
  // The clock's time: rows opening more than one interval after it are bad rows. Unset: no upper
  // bound (only for callers that do not store the rows; the importer always sets it).
  std::optional<Micros> now;
};

// Symbol and interval spelled in a file name (the part after the last '/' or ':'), matched as
// ^([A-Z0-9]{3,})[-_](\d+[mhd])[-_.] -- "BTCUSDT-1m-2025-01.csv", "ETHUSDT-15m-2025-01.zip",
// "BTCUSD_1d_candles_full.csv". Both are empty when the name does not match.
struct NameParts {
  std::string symbol;
  std::string interval;  // as spelled, e.g. "15m"; not validated
};
NameParts SplitFileName(std::string_view name);

// Fills symbol and interval from `opt`, else from `name` (see SplitFileName). Errors:
// "cannot infer symbol from file name '<name>'; pass --symbol", likewise "interval" /
// "--interval", and "cannot infer interval from file name '<name>': unsupported interval ..."
// for a spelled interval that Interval::Parse rejects.
Status ResolveSymbolInterval(std::string_view name, const ParseOptions& opt, std::string* symbol,
                             Interval* interval);

// Expands files, directories (recursively) and glob patterns into a sorted, de-duplicated list of
// input files (*.csv, *.csv.gz, *.zip, case-insensitive; .CHECKSUM files are not inputs).
// A directory walk never enters a lake: a folder holding _manifest.json or _staging (the lake's
// root, with its datasets and quarantine files), or named _staging, is skipped with all below it.
// A file named explicitly is taken whatever its extension, except that "*.CHECKSUM" is skipped
// (so a shell-expanded "dir/*" works). Errors (NotFound):
//   "no such file or directory: '<arg>'"
//   "no input files (*.csv, *.csv.gz, *.zip) under '<dir>'"
//   "no input files match '<pattern>'"
//   "no input files given" (no argument, or only .CHECKSUM files)
// Implemented in source.cc.
StatusOr<std::vector<std::filesystem::path>> ExpandInputs(const std::vector<std::string>& args);

// Reads one input: plain .csv, .csv.gz (zlib; multi-member streams too), or .zip (libzip; every
// *.csv member is parsed, in archive order, one ParsedFile each, named "<archive>:<member>").
// The display name of a file is the path as given. If a sibling "<path>.CHECKSUM" exists
// ("<sha256-hex>  <filename>", data.binance.vision style), the SHA-256 of the input's bytes must
// match or the whole input is rejected: DataLoss "checksum mismatch for <path>: expected <x>,
// got <y>". Symbol and interval come from `opt`, else the file name (for a zip member: the member
// name, else the archive name). Bad rows do not fail the call; I/O errors (IOError, NotFound),
// corrupt archives (DataLoss), an undetectable format and a checksum mismatch do.
// Thread-safe: the importer calls it from several threads for different files.
// Implemented in source.cc.
StatusOr<std::vector<ParsedFile>> ParseInput(const std::filesystem::path& path,
                                             const ParseOptions& opt);

// Parses CSV text already in memory. `name` is the display name used in messages and BadRows,
// and the source of symbol/interval unless `opt` gives them. Fails (InvalidArgument) only for a
// missing symbol/interval, an undetectable format, a header that contradicts an explicit format,
// or an undecidable time unit; bad rows never fail it.
StatusOr<ParsedFile> ParseCsv(std::string_view name, std::string_view text,
                              const ParseOptions& opt);

}  // namespace cryptolake::ingest
