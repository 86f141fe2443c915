// The replay exchange's data part (internal to cl_replay; see replay.h for what users see): the
// recorded klines it serves, loaded once by ReplayExchange::Create and immutable afterwards (so
// read without locks from every connection thread), and the exchange clock they are served by.
//
// Loading: a lake root (a directory holding _manifest.json: every kline interval of its snapshot,
// read back deduplicated) or kline files as `import` takes them (files, directories, globs; the
// same parser and validation; bad rows are skipped with one warning; for a key given twice the
// first occurrence in input order wins). Either way every Series comes out sorted by open_time
// with no two rows of one open_time. Synthetic series (replay.h, "Synthetic symbols") are added
// to what was loaded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::exchange::replay {

// One kline as served: the kline model, symbol unset (the Series has it). Absent Binance fields
// (OHLCV sources) are 0; close_time is then open_time + interval - 1 us.
using Row = model::Kline;

struct Series {
  std::string symbol;
  Interval interval;
  std::vector<Row> rows;  // strictly increasing open_time
};

using SeriesMap = std::map<std::pair<std::string, std::string>, Series>;  // (symbol, interval)

// Loads `data` (above). Errors: those of ingest::ExpandInputs/ParseInput, or of opening and
// reading the lake.
StatusOr<SeriesMap> LoadSeries(const std::vector<std::string>& data, const Clock& clock);

// Adds `n` synthetic series (replay.h) to `m`. InvalidArgument for n < 0, for a recorded symbol
// with a synthetic one's name, and for n > 0 with no klines to copy.
Status AddSynthetic(int n, uint64_t seed, SeriesMap& m);

// "BTCUSDT 1m: 60480 klines 2021-04-02T00:00:00Z..2021-05-14T23:59:00Z" for every non-empty
// series, by symbol and then interval length.
std::vector<std::string> DescribeSeries(const SeriesMap& m);

// Appends `v` as Binance writes decimals: "%.8f" when that reads back as the same double, else
// the shortest round trip.
void AppendDecimal(std::string& out, double v);

// Exchange time = start + speed * (clock.Now() - clock0) (replay.h, "Clock").
struct ExchangeClock {
  const Clock* clock = nullptr;
  Micros start = 0, clock0 = 0;
  double speed = 1.0;
  Micros Now() const;
};

}  // namespace cryptolake::exchange::replay
