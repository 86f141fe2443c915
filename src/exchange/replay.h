// The replay exchange: a Binance-compatible REST server on 127.0.0.1 that serves recorded klines
// as if they were live, with faults on demand. Tests, benchmarks and the offline demo run against
// it; users get `cryptolake replay-exchange`. WebSocket market streams on the same port (below).
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
// WebSocket streams (an HTTP/1.1 upgrade on the same port; formats as in
// ../shared/data/binance-api/official-docs/web-socket-streams__general_combined_trade_kline.md):
//   /ws/<stream>                  raw: each message is the event itself
//   /stream?streams=<a>/<b>/...   combined: {"stream":"<a>","data":<event>}
//   timeUnit=MICROSECOND (query, any case) switches timestamps to us.
// Streams (symbols lower-case): <symbol>@kline_<interval> for any Binance interval (it sends the
// loaded klines of that symbol and interval; nothing if none is loaded) and <symbol>@trade
// (accepted; no trades are ever recorded in kline data, so it sends nothing). An unknown symbol is
// refused with HTTP 400 and {"code":-1121,"msg":"Invalid symbol."}; any other bad stream name, a
// missing stream list or more than 1024 streams with HTTP 400 and {"code":2,"msg":"Invalid
// request: ..."}. Upgrades carry no request weight; they are logged (status 101 or 400).
// Kline events follow exchange time. A connection opened at exchange time T gets, for every loaded
// candle with open_time >= T floored to its interval, in time order (merged across its streams):
//   * while the candle is open (open_time <= now < open_time + interval), an update with
//     "x":false when it opens and then at most every `ws_update_interval` of exchange time,
//     E = exchange now. Intermediate states were never recorded: every update carries the
//     candle's final recorded values (o, h, l, c, v, ...), only "x" and "E" tell them apart.
//   * exactly one final update "x":true once now >= open_time + interval, E = that instant.
// A candle whose close has already passed when it is reached gets only its final update, so at
// a huge speed a connection streams the backlog as fast as the socket takes it. "f" and "L"
// (trade ids) are 0 and "B" is "0"; "n", "q", "V", "Q" are 0 for OHLCV-only sources.
// Each connection polls exchange time every millisecond of real time (and writes back to back
// while messages are due). Real-time timers per connection (on `ws_clock`, the SystemClock unless
// a test injects a FakeClock to move them by hand): a ping every `ws_ping_interval`;
// no pong within `ws_pong_timeout` of an unanswered ping closes the connection (its TCP
// socket, without a close frame); after `ws_max_age` a serverShutdown event
// ({"e":"serverShutdown","E":ms}; combined under "stream":"!serverShutdown") then a close
// frame (1001 going away). Client messages (SUBSCRIBE, ...) are read and ignored.
// WebSocket faults (WsFaultSpec; real time on `ws_clock`, per connection; draws from an RNG seeded
// with seed + connection number, so they do not depend on other connections):
//   disconnect_every=<d>  the TCP connection is shut down <d> after the upgrade (no close frame)
//   stall_after=<d>       after <d> the connection sends nothing more, no data and no pings
//                         (and so never times out a pong), but stays open and keeps reading
//   malformed=<p>         a message (each with probability p) is sent as broken JSON: its
//                         first half
//   duplicate=<p>         a message is sent twice in a row
//
// Synthetic symbols (ReplayOptions::synthetic = N > 0), for load tests: N more symbols
// SyntheticSymbol(0..N-1) = SYN000USDT, SYN001USDT, ..., served by REST (klines, exchangeInfo)
// and WebSocket streams exactly like recorded ones. The k-th copies every loaded interval of a
// recorded symbol: BTCUSDT for even k and ETHUSDT for odd k when both are loaded (otherwise the
// loaded symbols in name order, round-robin), with its own scale (SyntheticScaleOf(k, seed)):
// open, high, low and close times `price`, volume and taker_buy_base times `volume`, quote
// volumes times both; times and trade counts unchanged. Each product is rounded to 8 decimals
// (fewer where a double cannot hold them: ScaleExact), so a synthetic price is the exact decimal
// product of the recorded one and the scale. Deterministic: the same data, N and seed give the
// same series. The copies are held in memory (N times the recorded rows). Creating with
// synthetic < 0, or with a recorded symbol of a synthetic one's name, is InvalidArgument.
//
// Serving: through the HTTP server core that `serve` uses too (net/http_server.h): keep-alive
// HTTP/1.1 on a few io threads (every REST request to one fallback handler, whatever its path and
// method; any method but GET is answered 405 after the limits), each WebSocket upgrade handed to
// a session on the same io threads. Responses carry, besides the headers above, the core's
// X-Request-Id and "Connection: keep-alive" or "close". A malformed request (or headers over 16
// KiB, a body over 64 KiB) gets the core's 400/431/413 and is neither logged nor counted. Stop()
// closes the listener and every open connection (WebSockets included, without a close frame)
// and returns once no handler runs; a held-back `slow` response is abandoned. All public methods
// are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// WebSocket faults. Spec: "disconnect_every=5s,stall_after=10s,malformed=0.01,duplicate=0.01"
// (any subset; durations as <n>ms, <n>s, <n>m or <n>h, > 0; probabilities in [0, 1]);
// "none" or "" is no faults.
struct WsFaultSpec {
  Micros disconnect_every = 0;  // 0: never
  Micros stall_after = 0;       // 0: never
  double malformed = 0, duplicate = 0;
  uint64_t seed = 1;
  // Errors (InvalidArgument) as FaultSpec's: "ws fault spec: unknown fault 'x' (known:
  // disconnect_every, stall_after, malformed, duplicate)", "ws fault spec: duration of
  // 'stall_after' must be a positive number with a unit ms, s, m or h, got 'x'", ...
  static StatusOr<WsFaultSpec> Parse(std::string_view spec);
  bool any() const {
    return disconnect_every > 0 || stall_after > 0 || malformed > 0 || duplicate > 0;
  }
};

struct RequestRecord;

// The name of the k-th synthetic symbol: "SYN" + k in at least three digits + "USDT".
std::string SyntheticSymbol(int k);
// The k-th synthetic symbol's scale: price = 10^(k mod 7) * f, f = (100 + h mod 900) / 100 in
// [1.00, 9.99] with h = SplitMix64(seed + k); volume = 1 + k mod 4.
struct SyntheticScale {
  double price = 1, volume = 1;
};
SyntheticScale SyntheticScaleOf(int k, uint64_t seed);
// x * factor rounded to 8 decimals, or to as many as a double holds exactly at that magnitude
// (|x * factor| * 10^d < 2^53); the nearest double to the exact decimal product whenever that
// product has no more decimals.
double ScaleExact(double x, double factor);

struct ReplayOptions {
  std::string host = "127.0.0.1";
  int port = 0;                 // 0: an ephemeral port
  std::optional<Micros> start;  // exchange time at creation; default: end of the data
  double speed = 1.0;
  int64_t weight_limit = 6000;
  int ban_threshold = 10;     // requests inside a Retry-After window before a 418
  int64_t ban_seconds = 120;  // of an earned ban
  FaultSpec faults;
  // WebSocket streams. The update interval is exchange time; the others are real time.
  Micros ws_update_interval = 2 * kMicrosPerSecond;
  Micros ws_ping_interval = 20 * kMicrosPerSecond;
  Micros ws_pong_timeout = 60 * kMicrosPerSecond;
  Micros ws_max_age = 24 * kMicrosPerHour;
  WsFaultSpec ws_faults;
  // The clock of the per-connection timers above and of the WebSocket faults (checked at every
  // poll); nullptr: the SystemClock. Must outlive the exchange.
  const Clock* ws_clock = nullptr;
  int synthetic = 0;  // synthetic symbols (above)
  uint64_t synthetic_seed = 1;
  // Called on an io thread for each request as it is answered (before its response is written
  // or held back) or dropped, concurrently from several connections; must be thread-safe, quick,
  // and must not call back into the exchange.
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
  // WebSocket streams.
  int64_t ws_connections = 0;     // upgrades accepted
  int64_t ws_rejected = 0;        // upgrades refused (400)
  int64_t ws_messages = 0;        // text messages sent (kline events, serverShutdown; copies and
                                  // broken ones included)
  int64_t ws_finals = 0;          // of which final kline updates ("x":true)
  int64_t ws_pings = 0;           // ping frames sent
  int64_t ws_pongs = 0;           // pong frames received
  int64_t ws_pong_timeouts = 0;   // connections closed for a missing pong
  int64_t ws_max_age_closes = 0;  // connections closed at ws_max_age
  int64_t ws_disconnects = 0;     // injected faults, by kind
  int64_t ws_stalls = 0;
  int64_t ws_malformed = 0;
  int64_t ws_duplicates = 0;
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
  std::string url() const;     // "http://127.0.0.1:<port>"
  std::string ws_url() const;  // "ws://127.0.0.1:<port>"

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
