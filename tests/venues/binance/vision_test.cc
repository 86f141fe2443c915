// Binance's kline row (vision.h) on the real data.binance.vision files of ../shared/data, read in
// place: every row of a month read by the fast and by the checked reader gives the same kline,
// and the row checks keep the real rows (a 1d kline cut short by the 2018-02-08 halt among them).
#include "venues/binance/vision.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <vector>

#include "core/bounds.h"
#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake::venues::binance {
namespace {

std::vector<std::string> Lines(const std::string& rel) {
  auto text = ReadFile(testing::SharedData() / "binance-spot/klines" / rel);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  std::vector<std::string> out;
  std::istringstream in(text.ok() ? *text : "");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  for (size_t start = 0;;) {
    size_t c = line.find(',', start);
    f.push_back(line.substr(start, c == line.npos ? line.npos : c - start));
    if (c == line.npos) return f;
    start = c + 1;
  }
}

model::TimeRule Rule(const Interval& iv, int digits) {
  return {.unit = model::TimeUnitForDigits(digits),
          .interval = &iv,
          .now_bound = std::numeric_limits<Micros>::max() / 2};
}

TEST(VisionRowTest, FastAndCheckedReadersAgreeOnARealMonth) {
  const Interval iv = *Interval::Parse("15m");
  for (const char* rel :
       {"15m/BTCUSDT-15m-2025-01.csv", "15m-microseconds/BTCUSDT-15m-2025-01.csv"}) {
    const std::vector<std::string> lines = Lines(rel);
    ASSERT_EQ(lines.size(), 31u * 96) << rel;
    for (const std::string& line : lines) {
      model::RawKline fast, checked;
      ASSERT_TRUE(ScanVisionRow(line, &fast)) << line;
      std::vector<std::string_view> f = Fields(line);
      ASSERT_EQ(f.size(), kVisionColumnCount);
      ASSERT_EQ(VisionRowFromFields(f.data(), &checked), "") << line;
      ASSERT_EQ(static_cast<const model::Kline&>(fast), static_cast<const model::Kline&>(checked));
      ASSERT_EQ(fast.ot_digits, checked.ot_digits);
      bool off = false;
      ASSERT_EQ(CheckVisionRow(&fast, Rule(iv, fast.ot_digits), &off), "") << line;
    }
  }
}

TEST(VisionRowTest, TheFirstRowOfJanuaryInBothUnits) {
  const Interval iv = *Interval::Parse("15m");
  for (const char* rel :
       {"15m/BTCUSDT-15m-2025-01.csv", "15m-microseconds/BTCUSDT-15m-2025-01.csv"}) {
    const std::string line = Lines(rel).front();
    model::RawKline k;
    ASSERT_TRUE(ScanVisionRow(line, &k));
    bool off = false;
    ASSERT_EQ(CheckVisionRow(&k, Rule(iv, k.ot_digits), &off), "");
    EXPECT_EQ(k.open_time, MicrosFromCivil(2025, 1, 1, 0, 0));
    EXPECT_EQ(k.close_time, MicrosFromCivil(2025, 1, 1, 0, 15) - (k.ot_digits == 13 ? 1000 : 1));
    EXPECT_EQ(k.open, 93576.0);
    EXPECT_EQ(k.high, 93702.15);
    EXPECT_EQ(k.low, 93489.03);
    EXPECT_EQ(k.close, 93656.18);
    EXPECT_EQ(k.volume, 175.85673);
    EXPECT_EQ(k.quote_volume, 16461794.000356);
    EXPECT_EQ(k.trades, 19788);
    EXPECT_EQ(k.taker_buy_base, 63.20664);
    EXPECT_EQ(k.taker_buy_quote, 5915901.6266611);
  }
}

// BTCUSDT 1d 2018-02-08 closed at 00:28:14.788 (an exchange halt): a real kline, kept.
TEST(VisionRowTest, AHaltedDayIsKept) {
  const Interval iv = *Interval::Parse("1d");
  std::string halted;
  for (const std::string& line : Lines("1d/BTCUSDT-1d-2017-08_2026-04.csv")) {
    if (line.starts_with("1518048000000,")) halted = line;
  }
  ASSERT_FALSE(halted.empty());
  model::RawKline k;
  ASSERT_TRUE(ScanVisionRow(halted, &k));
  bool off = false;
  ASSERT_EQ(CheckVisionRow(&k, Rule(iv, 13), &off), "");
  EXPECT_EQ(k.close_time, MicrosFromCivil(2018, 2, 8, 0, 28) + 14'788'000);
  EXPECT_EQ(k.close, 7784.02);
}

TEST(VisionRowTest, ReasonsForDamagedRows) {
  const Interval iv = *Interval::Parse("15m");
  const std::string good = Lines("15m/BTCUSDT-15m-2025-01.csv").front();
  struct Case {
    size_t column;  // 0-based
    const char* value;
    const char* want;
  };
  const Case cases[] = {
      {2, "abc", "non-numeric high 'abc' (column 3)"},
      {8, "1.5", "non-integer trades '1.5' (column 9)"},
      {4, "", "empty field close (column 5)"},
      {2, "93000", "high 93000 below max(open, close) 93656.18"},
      {0, "1735689660000",
       "open_time 1735689660000 (2025-01-01T00:01:00Z) is not aligned to the 15m interval"},
      {0, "1400000400000",
       "open_time 2014-05-13T17:00:00Z is before the first Binance kline (2017-07-14T00:00:00Z)"},
      {5, "-1", "negative volume -1"},
  };
  for (const Case& c : cases) {
    std::vector<std::string_view> f = Fields(good);
    f[c.column] = c.value;
    model::RawKline k;
    std::string reason = VisionRowFromFields(f.data(), &k);
    bool off = false;
    if (reason.empty()) reason = CheckVisionRow(&k, Rule(iv, 13), &off);
    EXPECT_EQ(reason, c.want);
  }
}

}  // namespace
}  // namespace cryptolake::venues::binance
