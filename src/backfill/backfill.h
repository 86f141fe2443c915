// `cryptolake backfill`: brings the master dataset up to the exchange's now from the REST API
// and heals every gap it can, whatever its size, in one pass.
//
// Contract:
//  * Scope, per symbol and interval: open_times from `from` (default: the first stored candle)
//    to the last candle closed at the exchange's time (GET /api/v3/time; `to` may end it
//    earlier). Symbols are checked against /api/v3/exchangeInfo first: an unknown symbol is
//    InvalidArgument "unknown symbol 'FOOUSDT': not listed by <url>/api/v3/exchangeInfo" and
//    nothing is fetched.
//  * Missing = no stored row (any source) and not confirmed empty (lake/klines.h). Missing
//    ranges are split into segments and fetched by `concurrency` workers, each paging
//    GET /api/v3/klines (limit `page_limit`) from the segment's start: a page holds the oldest
//    klines at or after its start, so a long outage costs one request.
//  * Confirmed empty: the open_times a page proves absent -- between its start and its last row,
//    and, when the page is short, up to the segment's end -- are recorded in manifest meta. They
//    are never fetched again and verify reports them as such.
//  * Never committed: a kline whose close_time is not before the exchange's time (still open),
//    and anything from a page that failed validation (the source retries those, then reports).
//  * Resumable: fetched pages are committed in chunks (`chunk_rows` rows, or `chunk_interval`
//    of clock time since the last commit, and at the end), each page's rows together with its
//    confirmed-empty ranges in one atomic lake commit. After a crash at any instant a rerun
//    finds exactly what is still missing: nothing committed is fetched again and no key is
//    written twice.
//  * One backfill per lake at a time (flock on <data>/_backfill.lock); a second one fails with
//    Unavailable "another backfill holds <data>/_backfill.lock".
//  * A segment whose request fails for good (after the source's retries) is reported in
//    BackfillStats::failures; the rest goes on and is committed; the caller decides the exit
//    code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "lake/typed.h"
#include "venue/venue.h"

namespace cryptolake::backfill {

struct BackfillOptions {
  std::vector<std::string> symbols;  // required, non-empty
  std::vector<Interval> intervals;   // required, non-empty
  std::optional<Micros> from;        // first open_time to complete (aligned up to the interval)
  std::optional<Micros> to;          // open_times before this only
  int concurrency = 4;
  int page_limit = 1000;  // klines per request (Binance max 1000)
  int64_t chunk_rows = 200000;
  Micros chunk_interval = 30 * kMicrosPerSecond;
  bool progress = true;  // progress bar on a TTY
};

// One missing range before the run, and what the run made of it.
struct RangeFailure {
  std::string symbol;
  std::string interval;
  Micros from = 0, to = 0;  // [from, to): still missing
  std::string error;
};

struct SeriesStats {
  std::string symbol;
  std::string interval;
  Micros from = 0, to = 0;  // the scope [from, to)
  int64_t missing = 0;      // candles missing before the run (not confirmed empty)
  int64_t missing_ranges = 0;
  int64_t fetched = 0;          // klines committed
  int64_t confirmed_empty = 0;  // candles newly confirmed empty
  int64_t already_empty = 0;    // candles skipped because confirmed empty earlier
};

struct BackfillStats {
  Micros exchange_time = 0;
  std::vector<SeriesStats> series;
  std::vector<RangeFailure> failures;
  int64_t requests = 0;  // klines requests (attempts included)
  int64_t commits = 0;
  int64_t version = 0;  // manifest version after the last commit
  double seconds = 0;
  int64_t fetched() const;
};

StatusOr<BackfillStats> Backfill(lake::Lake& lake, lake::Connection& con, venue::KlineSource& rest,
                                 const BackfillOptions& options);

// One line per series, then totals:
//   backfill BTCUSDT 1m 2021-04-02 00:00..2021-05-15 00:00: missing 1234 in 5 ranges, fetched
//   1000, confirmed empty 234 (earlier 150)
//   backfill: 2 series, fetched 2000 klines in 12 requests, 1 commit, 0 failed ranges, 0.8 s
std::string FormatBackfillSummary(const BackfillStats& stats);

}  // namespace cryptolake::backfill
