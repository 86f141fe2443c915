// The venue-neutral interfaces: what the backfill, the stream's healer and the speed layer need
// from an exchange, without naming one. Each venue implements them in its own folder
// (src/venues/<venue>/, e.g. venues/binance/); the CLI (src/app) picks the venue and wires it in.
//
// Contract:
//  * KlineSource: an exchange's market-data REST side. Its errors are the source's final word
//    after its own retries (Unavailable for what may pass, InvalidArgument for a request the
//    exchange refuses). Thread-safe: the backfill's workers call Klines() concurrently.
//  * StreamFormat: an exchange's market-stream wire format. Not thread-safe (one per producer
//    thread); its counters are monotonic.
//  * Every time is UTC microseconds; every kline a source returns has passed model::ValidateKline
//    (the rules import, REST and WebSocket klines share).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/event.h"
#include "model/kline.h"

namespace cryptolake::venue {

struct SymbolInfo {
  std::string symbol;
  std::string status;  // "TRADING", "BREAK", ...
};

// A source's request counters, for summaries and tests. Monotonic; read at any time.
struct RequestStats {
  std::atomic<int64_t> requests{0};       // requests sent (every attempt)
  std::atomic<int64_t> retries{0};        // attempts after the first, all causes
  std::atomic<int64_t> rate_limited{0};   // rate-limit answers (HTTP 429)
  std::atomic<int64_t> banned{0};         // ban answers (HTTP 418)
  std::atomic<int64_t> server_errors{0};  // 5xx responses
  std::atomic<int64_t> transport_errors{0};
  std::atomic<int64_t> malformed{0};
};

class KlineSource {
 public:
  virtual ~KlineSource() = default;

  // The exchange's clock now.
  virtual StatusOr<Micros> ServerTime() = 0;
  // Every symbol the exchange lists, with its status.
  virtual StatusOr<std::vector<SymbolInfo>> ExchangeInfo() = 0;
  // At most `limit` klines of `symbol` with open_time in [start, end] (both inclusive), the
  // oldest first, strictly increasing, validated. The last one may still be open: callers compare
  // close_time with ServerTime(). A limit the venue does not serve or end < start is
  // InvalidArgument without a request.
  virtual StatusOr<model::KlineBatch> Klines(const std::string& symbol, const Interval& interval,
                                             Micros start, Micros end, int limit) = 0;

  virtual const RequestStats& stats() const = 0;
  // Where the source is (for messages): e.g. "https://api.binance.com".
  virtual const std::string& base_url() const = 0;
};

class StreamFormat {
 public:
  virtual ~StreamFormat() = default;

  // The WebSocket request path (after the URL's own path) that subscribes to the 1m klines of
  // `symbols` and, with `trades`, to their trades; e.g. Binance's
  // "/stream?streams=btcusdt@kline_1m/btcusdt@trade". InvalidArgument for a symbol the venue
  // cannot name.
  virtual StatusOr<std::string> Path(const std::vector<std::string>& symbols,
                                     bool trades) const = 0;
  // One text message -> true: *out holds an event; false: a message that carries none (a control
  // reply, an event type the speed layer does not use). A malformed message is InvalidArgument
  // naming the reason; the format stays usable for the next one.
  virtual StatusOr<bool> Parse(std::string_view text, model::Event* out) = 0;

  virtual int64_t events() const = 0;
  virtual int64_t ignored() const = 0;
  virtual int64_t malformed() const = 0;
};

}  // namespace cryptolake::venue
