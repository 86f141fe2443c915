// The replay exchange: a Binance-compatible REST server on 127.0.0.1 that serves recorded klines
// as if they were live, with faults on demand. Tests, benchmarks and the offline demo run against
// it; users get `cryptolake replay-exchange`. (WebSocket streams join it with the speed layer.)
//
// Data: a lake root (a directory holding _manifest.json; its klines read back deduplicated) or
// kline files as `import` takes them (files, directories, globs; the same parser and validation;
// for a key given twice the first occurrence in input order wins, as in one import).
//
// Clock: exchange time = start + speed * (clock.Now() - clock time at Create). `start` defaults
// to the end of the data (the latest close of any kline). A kline is served once its open_time
// <= exchange time; the one containing exchange time is the still-open candle (its close_time
// is in the future). Rate limits run on the real (injected) clock, not on exchange time.
//
// REST endpoints (formats as in ../shared/data/binance-api: field order, decimals as strings,
// {"code":..,"msg":..} errors with HTTP 400):
//   GET /api/v3/ping          weight 1   {}
//   GET /api/v3/time          weight 1   {"serverTime": ms}
//   GET /api/v3/exchangeInfo  weight 20  timezone, serverTime, rateLimits, symbols (TRADING)
//   GET /api/v3/klines        weight 2   symbol, interval, startTime, endTime, limit (default 500,
//                                        max 1000), as documented: with startTime the oldest
//                                        klines from startTime, with only endTime the newest up
//                                        to it, with neither the newest. Header
//                                        X-MBX-TIME-UNIT: MICROSECOND switches timestamps to us.
//                                        startTime/endTime in ms, or us with 16+ digits; both
//                                        inclusive on open_time. A Binance interval with no data
//                                        loaded for the symbol gives [].
//   Errors: -1121 "Invalid symbol.", -1120 "Invalid interval.", -1102 mandatory parameter
//   missing, -1100 illegal characters, -1130 invalid limit, -1101 duplicate parameter, -1023
//   startTime > endTime; 404 for unknown paths (weight 1).
//   Every response carries X-MBX-USED-WEIGHT-1M (weight used in the current clock minute).
//
// Rate limit emulation (one client: all of 127.0.0.1; every endpoint, errors included, uses its
// weight): weight per fixed one-minute window of the clock; a request that would
// exceed `weight_limit` gets 429 with Retry-After (seconds to the window's end) and the -1003
// "Too much request weight used; ..." body, and uses no weight; so does every request until
// Retry-After has passed. A client that sends more than `ban_threshold` requests inside a
// Retry-After window (after the 429 that opened it) is banned: 418 with Retry-After and
// "Way too much request weight used; IP banned until <ms>. ..." for `ban_seconds`; every request
// during a ban gets 418.
//
// Faults (only on /api/v3/klines requests that passed the limits), drawn per request from a
// seeded RNG (one draw per request, in arrival order, so a sequential client sees a
// reproducible sequence); all but 429/418 use the request's weight:
//   429       a rate-limit burst: this request and every one until Retry-After gets 429
//   418       a ban of fault_ban_seconds, exactly as above
//   5xx       500, 502 or 503 with a body
//   slow      the response is held back `slow_delay` of real time (to trip client timeouts)
//   truncate  headers with the full Content-Length, half the body, then the connection closes
//   drop      the connection is closed without any response
//   corrupt   a complete 200 response whose JSON is cut in half
// Spec: "429=0.02,418=0.01,5xx=0.05,slow=0.01,truncate=0.02,drop=0.02,corrupt=0.01" (any
// subset, probabilities in [0,1], their sum <= 1); "none" or "" is no faults.
//
// Threads: an acceptor thread and one thread per connection (synchronous keep-alive HTTP/1.1).
// Stop() closes the listener and every open connection and joins all threads; a held-back
// `slow` response is abandoned. All public methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::exchange {

struct FaultSpec {
  double p429 = 0, p418 = 0, p5xx = 0, slow = 0, truncate = 0, drop = 0, corrupt = 0;
  uint64_t seed = 1;
  int64_t retry_after_seconds = 2;           // of an injected 429 burst
  int64_t ban_seconds = 120;                 // of an injected 418
  Micros slow_delay = 3 * kMicrosPerSecond;  // real time
  // Parses the spec above; errors (InvalidArgument) name the bad key or value:
  //   "fault spec: expected <fault>=<probability>, got 'x'"
  //   "fault spec: unknown fault 'x' (known: 429, 418, 5xx, slow, truncate, drop, corrupt)"
  //   "fault spec: probability of 'drop' must be a number in [0, 1], got 'x'"
  //   "fault spec: 'drop' given twice", "fault spec: probabilities sum to 1.2 (at most 1)"
  static StatusOr<FaultSpec> Parse(std::string_view spec);
  bool any() const { return p429 + p418 + p5xx + slow + truncate + drop + corrupt > 0; }
};

struct RequestRecord;

struct ReplayOptions {
  std::string host = "127.0.0.1";
  int port = 0;                 // 0: an ephemeral port
  std::optional<Micros> start;  // exchange time at creation; default: end of the data
  double speed = 1.0;
  int64_t weight_limit = 6000;
  int ban_threshold = 10;     // requests inside a Retry-After window before a 418
  int64_t ban_seconds = 120;  // of an earned ban
  FaultSpec faults;
  // Called on a connection thread after each request is answered (or dropped), concurrently
  // from several connections; must be thread-safe and must not call back into the exchange.
  std::function<void(const RequestRecord&)> on_request;
};

// One request as the server saw it.
struct RequestRecord {
  Micros at = 0;            // clock time of arrival
  std::string target;       // path and query
  int status = 0;           // 0 when the connection was dropped without a response
  std::string fault;        // "" or the injected fault's name
  int64_t used_weight = 0;  // X-MBX-USED-WEIGHT-1M sent back
};

struct ReplayCounters {
  int64_t requests = 0;
  std::map<std::string, int64_t> faults;  // injected, by name ("429", "418", "5xx", ...)
  int64_t status_429 = 0;                 // all 429s: limit breaches and injected bursts
  int64_t status_418 = 0;                 // all 418s: earned bans and injected ones
  int64_t earned_bans = 0;                // bans caused by ignoring a Retry-After
  int64_t klines_served = 0;              // rows
};

class ReplayExchange {
 public:
  // Loads the data (see above) and binds nothing yet. `clock` must outlive the exchange.
  // Errors: those of ingest::ExpandInputs/ParseInput or of reading the lake; InvalidArgument
  // for no klines at all, speed <= 0 or weight_limit < 1. Bad rows are skipped with a warning.
  static StatusOr<std::unique_ptr<ReplayExchange>> Create(const std::vector<std::string>& data,
                                                          const Clock& clock,
                                                          ReplayOptions options);
  ~ReplayExchange();  // stops

  // Binds host:port and serves on background threads until Stop(). IOError if it cannot bind.
  Status Start();
  void Stop();
  int port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"

  Micros ExchangeNow() const;
  // What is loaded: "BTCUSDT 1m: 60480 klines 2021-04-02T00:00:00Z..2021-05-14T23:59:00Z", ...
  std::vector<std::string> Describe() const;
  int64_t klines_loaded() const;

  // The newest requests (at most 100,000), oldest first.
  std::vector<RequestRecord> Log() const;
  ReplayCounters Counters() const;

 private:
  struct Impl;
  explicit ReplayExchange(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::exchange
