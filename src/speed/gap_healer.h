// How the stream heals a gap in what it received: an interface, so that the speed layer does not
// depend on where the missing candles come from. `cryptolake stream` and `up` wire the batch
// layer's REST backfill (backfill/healer.h); a stream without one does not heal.
//
// Contract:
//  * Heal(symbol, from, to) brings the closed 1m candles of `symbol` with open_time in
//    [from, end) into the master dataset and returns them, oldest first, one per open_time, where
//    end = min(to, the exchange's now) (no `to`: the exchange's now). Candles the exchange does
//    not have are absent, not invented. close_time is set (open_time + 1 min - 1 ms when the
//    source lacks it).
//  * An error means nothing could be healed this time; the stream logs it and goes on (a later
//    reconnect or gap heals again from the last candle it has).
//  * Called from one thread at a time (the stream's producer thread).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::speed {

class GapHealer {
 public:
  virtual ~GapHealer() = default;
  virtual StatusOr<std::vector<model::Kline>> Heal(const std::string& symbol, Micros from,
                                                   std::optional<Micros> to) = 0;
};

}  // namespace cryptolake::speed
