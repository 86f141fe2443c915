// Binance market-stream messages -> events, with simdjson On Demand.
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
#include <string_view>

#include "core/status.h"
#include "speed/event.h"

namespace cryptolake::speed {

class StreamParser {
 public:
  StreamParser();
  ~StreamParser();

  // true: *out holds an event; false: an ignored message.
  StatusOr<bool> Parse(std::string_view text, Event* out);

  int64_t events() const { return events_; }
  int64_t ignored() const { return ignored_; }
  int64_t malformed() const { return malformed_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t events_ = 0, ignored_ = 0, malformed_ = 0;
};

}  // namespace cryptolake::speed
