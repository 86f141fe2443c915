// The stream's gap healer over the batch layer's REST backfill: what `cryptolake stream` and `up`
// wire into speed::RunStream (speed/gap_healer.h).
//
// Contract (beyond speed::GapHealer's):
//  * Heal runs backfill::Backfill for the one symbol and the 1m interval over [from, to) -- the
//    same code as `cryptolake backfill`, so the healed candles are committed to the master
//    dataset (source rest) and gaps the exchange confirms empty are recorded -- then reads back
//    the lake's 1m candles of [from, min(to, the exchange's time)).
//  * An error of the backfill or of the read is returned with context naming the stage
//    ("backfill: ...", "reading the healed candles: ..."); the stream's log line names the
//    symbol and `from`. Segments that failed for good inside the backfill are not an error here:
//    what was committed is returned, and the next heal tries the rest again.
//  * The lake and the kline source must outlive the healer; one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lake/lake.h"
#include "speed/gap_healer.h"
#include "venue/venue.h"

namespace cryptolake::backfill {

class BackfillHealer final : public speed::GapHealer {
 public:
  BackfillHealer(lake::Lake& lake, venue::KlineSource& rest);
  ~BackfillHealer() override;
  StatusOr<std::vector<model::Kline>> Heal(const std::string& symbol, Micros from,
                                           std::optional<Micros> to) override;

 private:
  struct Duck;  // the DuckDB database and connection, opened on the first heal
  lake::Lake& lake_;
  venue::KlineSource& rest_;
  std::unique_ptr<Duck> duck_;
};

}  // namespace cryptolake::backfill
