// libFuzzer target for the kline CSV parser (ingest::ParseCsv).
//
// Input: byte 0 picks the format and interval, the rest is the CSV text. Besides "no crash, no
// sanitizer report", it checks the parser's contract on every input, trapping on a violation:
//  * every line is either a good row or a bad row: data_lines == batch.size() + bad.size();
//  * all columns of the batch have the same length (or are empty when !full);
//  * every accepted row satisfies the validation rules (grid, OHLC order, non-negative volume,
//    close_time within the candle).
// Build and run: scripts/fuzz.sh [seconds]
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/parser.h"

using namespace cryptolake;
using namespace cryptolake::ingest;

static void Check(bool ok) {
  if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const Format kFormats[] = {Format::kAuto, Format::kVision, Format::kOhlcv,
                                    Format::kBitstamp};
  static const char* kIntervals[] = {"1m", "15m", "1h", "1d"};
  ParseOptions opt;
  opt.format = kFormats[data[0] & 3];
  opt.symbol = "BTCUSDT";
  opt.interval = *Interval::Parse(kIntervals[(data[0] >> 2) & 3]);
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = ParseCsv("fuzz.csv", text, opt);
  if (!r.ok()) return 0;
  const ParsedFile& f = *r;
  const KlineBatch& b = f.batch;
  const size_t n = b.size();
  Check(f.data_lines == static_cast<int64_t>(n + f.bad.size()));
  Check(b.open.size() == n && b.high.size() == n && b.low.size() == n && b.close.size() == n &&
        b.volume.size() == n);
  const size_t full_n = b.full ? n : 0;
  Check(b.close_time.size() == full_n && b.quote_volume.size() == full_n &&
        b.trades.size() == full_n && b.taker_buy_base.size() == full_n &&
        b.taker_buy_quote.size() == full_n);
  for (size_t i = 0; i < n; ++i) {
    Check(b.open_time[i] % b.interval.micros == 0);
    Check(b.high[i] >= std::max(b.open[i], b.close[i]));
    Check(b.low[i] <= std::min(b.open[i], b.close[i]));
    Check(b.volume[i] >= 0);
    if (b.full)
      Check(b.close_time[i] >= b.open_time[i] &&
            b.close_time[i] < b.open_time[i] + b.interval.micros);
  }
  for (const auto& bad : f.bad)
    Check(bad.line >= 1 && !bad.reason.empty() && bad.text.size() <= 200);
  return 0;
}
