// Binance's StreamFormat (venue/venue.h): the market-stream names (<symbol>@kline_1m,
// <symbol>@trade) and their messages -> model events, with simdjson On Demand.
//
// Contract:
//  * Accepts raw payloads ({"e":"kline",...}) and combined ones ({"stream":..,"data":{...}}).
//  * kline (k.t, k.T, k.o .. k.Q, k.n, k.x, s, E) and trade (s, E, t, p, q, T, m) become events.
//    Numbers that Binance sends as strings ("o":"29038.46000000") must be strings holding a
//    finite number; times are integers in ms (13 digits) or us (16 digits), stored as micros.
//    Fields the parser does not know are ignored, wherever they appear.
//  * Other event types ("serverShutdown", "aggTrade", ...) and control replies
//    ({"result":null,"id":1}) are ignored: Parse returns false and counts them.
//  * Anything else -- broken JSON, a missing or mistyped field, a kline whose symbol differs
//    from k.s -- is InvalidArgument with the reason ("kline: field k.o: not a number 'abc'"),
//    counted as malformed; the parser stays usable for the next message.
//  * Not thread-safe (it reuses its buffers); one parser per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/event.h"
#include "venue/venue.h"

namespace cryptolake::venues::binance {

class StreamParser final : public venue::StreamFormat {
 public:
  StreamParser();
  ~StreamParser() override;

  // The combined streams "/stream?streams=btcusdt@kline_1m/btcusdt@trade/..." (every message
  // then wrapped in {"stream":..,"data":..}): <symbol>@kline_1m, and with `trades`
  // <symbol>@trade, per symbol in the order given, symbols in lower case. No symbols, or one
  // empty or holding any of "/?&# ", is InvalidArgument ("websocket url: bad stream name 'a b'").
  StatusOr<std::string> Path(const std::vector<std::string>& symbols, bool trades) const override;
  // true: *out holds an event; false: an ignored message.
  StatusOr<bool> Parse(std::string_view text, model::Event* out) override;

  int64_t events() const override { return events_; }
  int64_t ignored() const override { return ignored_; }
  int64_t malformed() const override { return malformed_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t events_ = 0, ignored_ = 0, malformed_ = 0;
};

}  // namespace cryptolake::venues::binance
