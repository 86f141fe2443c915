// Binance's KlineSource (venue/venue.h): a client for the public Binance spot REST API (the
// endpoints backfill needs), with retries, backoff and the shared rate governor, over the generic
// transport of src/exchange (HttpClient, RateGovernor). Works against https://api.binance.com and
// against the replay exchange (exchange/replay.h) alike.
//
// Contract:
//  * Every request first takes its weight from the RateGovernor (klines 2, time 1, ping 1,
//    exchangeInfo 20) and reports the response's X-MBX-USED-WEIGHT-1M, Retry-After and status
//    back to it.
//  * Retries, per call:
//      429 / 418          wait as the governor says (it blocks every thread), then send again;
//                         at most `max_limit_waits` times, then kUnavailable "GET <path>: gave
//                         up after 21 rate-limit responses: HTTP 429 (-1003 ...)".
//      5xx, transport errors (timeouts, refused, reset, truncated body), malformed bodies
//                         retried after an exponential backoff with full jitter:
//                         delay = uniform(0, min(backoff_max, backoff_base * 2^attempt)),
//                         up to `max_attempts` attempts in all, then
//                         kUnavailable "GET <path>: gave up after 8 attempts: <last reason>".
//      other 4xx          not retried: kInvalidArgument "GET <path>: HTTP 400 (-1121 Invalid
//                         symbol.)" -- the Binance error code and msg when the body has them.
//    <path> is the request target with its query ("/api/v3/klines?symbol=BTCUSDT&..."), and
//    <last reason> is "HTTP 503", the transport error ("timeout after 30000 ms (...)") or
//    "malformed response: <why>" (e.g. "row 3: high 10.5 below max(open, close) 11").
//    Backoff sleeps on the injected Clock (instant on a FakeClock); jitter comes from a
//    std::mt19937_64 seeded with `seed`. Each retry is logged at debug level.
//  * Every request carries X-MBX-TIME-UNIT: MICROSECOND (serverTime is then in micros too;
//    a millisecond one is understood as well). Klines() sends startTime/endTime in ms and decodes
//    the JSON straight into a KlineBatch (venues/binance/klines_json.h), every row checked as
//    `import` checks a vision file's rows (model::ValidateKline, the grid, the bounds). A response
//    is malformed (and retried) when it is not a JSON array of 12-element arrays, a row fails
//    validation, the timestamps are not microseconds, open_times are not strictly increasing, a
//    row lies outside [start, end], or there are more rows than `limit`.
//  * Thread-safe: each calling thread gets its own HttpClient (one keep-alive connection per
//    thread, kept until the BinanceRest is destroyed). The governor is shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "exchange/governor.h"
#include "model/kline.h"
#include "venue/venue.h"

namespace cryptolake::venues::binance {

using exchange::RateGovernor;

struct RestOptions {
  std::string base_url = "https://api.binance.com";  // no trailing slash needed
  Micros connect_timeout = 5 * kMicrosPerSecond;
  Micros timeout = 30 * kMicrosPerSecond;  // per request
  int max_attempts = 8;                    // 5xx / transport / malformed
  int max_limit_waits = 20;                // 429 / 418
  Micros backoff_base = 500 * 1000;        // 0.5 s
  Micros backoff_max = 30 * kMicrosPerSecond;
  uint64_t seed = 0;  // jitter RNG seed; 0 = from std::random_device
};

using SymbolInfo = venue::SymbolInfo;
using RestStats = venue::RequestStats;

class BinanceRest final : public venue::KlineSource {
 public:
  BinanceRest(RestOptions options, RateGovernor& governor, const Clock& clock);
  ~BinanceRest() override;

  // GET /api/v3/time -> serverTime in micros.
  StatusOr<Micros> ServerTime() override;
  // GET /api/v3/exchangeInfo -> every listed symbol with its status.
  StatusOr<std::vector<SymbolInfo>> ExchangeInfo() override;
  // GET /api/v3/klines?symbol=&interval=&startTime=&endTime=&limit= for open_times in
  // [start, end] (both inclusive, micros; sent as ms). Returns at most `limit` (1..1000) klines,
  // the oldest first, validated (see contract). The last one may still be open: callers compare
  // close_time with ServerTime(). A limit outside 1..1000 or end < start is InvalidArgument
  // without a request.
  StatusOr<model::KlineBatch> Klines(const std::string& symbol, const Interval& interval,
                                     Micros start, Micros end, int limit = 1000) override;

  const RestStats& stats() const override { return stats_; }
  const std::string& base_url() const override { return opt_.base_url; }

 private:
  struct Impl;
  RestOptions opt_;
  RestStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::venues::binance
