#include "testing/recorded.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace cryptolake::testing {

std::filesystem::path FindKlineFile(const std::string& sub, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(SharedData() / "binance-spot/klines" / sub)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path();
  }
  ADD_FAILURE() << "no " << prefix << "* in binance-spot/klines/" << sub;
  return {};
}

const ingest::KlineBatch& RecordedBtcusdt1m() {
  static const ingest::KlineBatch batch = [] {
    auto parsed = ingest::ParseInput(FindKlineFile("1m", "BTCUSDT-1m-20250520_"), {});
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    return parsed.ok() && !parsed->empty() ? (*parsed)[0].batch : ingest::KlineBatch{};
  }();
  return batch;
}

std::vector<speed::KlineEvent> ClosedKlines(const ingest::KlineBatch& b, Micros from, Micros to) {
  std::vector<speed::KlineEvent> out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.open_time[i] < from || b.open_time[i] >= to) continue;
    speed::KlineEvent k;
    k.symbol = "BTCUSDT";
    k.open_time = b.open_time[i];
    k.close_time = b.open_time[i] + kMicrosPerMinute - 1000;
    k.event_time = k.close_time + 1000;
    k.open = b.open[i];
    k.high = b.high[i];
    k.low = b.low[i];
    k.close = b.close[i];
    k.volume = b.volume[i];
    k.closed = true;
    out.push_back(k);
  }
  return out;
}

std::vector<speed::Event> AsEvents(const std::vector<speed::KlineEvent>& klines) {
  return std::vector<speed::Event>(klines.begin(), klines.end());
}

}  // namespace cryptolake::testing
