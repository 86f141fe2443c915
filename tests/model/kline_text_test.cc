#include "model/kline_text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <random>

#include "core/bounds.h"
#include "model/kline.h"

namespace cryptolake::model {
namespace {

constexpr Micros kJan1 = 1735689600LL * kMicrosPerSecond;  // 2025-01-01T00:00:00Z

TEST(KlineTextTest, ParseIntCountsDigitsAndRefusesTheRest) {
  int64_t v = 0;
  int d = 0;
  ASSERT_TRUE(ParseInt("1735689600000", &v, &d));
  EXPECT_EQ(v, 1735689600000);
  EXPECT_EQ(d, 13);
  ASSERT_TRUE(ParseInt("-42", &v, &d));
  EXPECT_EQ(v, -42);
  EXPECT_EQ(d, 2);
  EXPECT_FALSE(ParseInt("", &v, &d));
  EXPECT_FALSE(ParseInt("1.5", &v, &d));
  EXPECT_FALSE(ParseInt("12 ", &v, &d));
  EXPECT_FALSE(ParseInt("99999999999999999999", &v, &d));  // overflows int64
}

TEST(KlineTextTest, ParseDecimalRefusesNonFiniteValues) {
  double v = 0;
  ASSERT_TRUE(ParseDecimal("93576.00000000", &v));
  EXPECT_EQ(v, 93576.0);
  ASSERT_TRUE(ParseDecimal("1e-8", &v));
  EXPECT_EQ(v, 1e-8);
  EXPECT_FALSE(ParseDecimal("nan", &v));
  EXPECT_FALSE(ParseDecimal("inf", &v));
  EXPECT_FALSE(ParseDecimal("1e400", &v));
  EXPECT_FALSE(ParseDecimal("12abc", &v));
}

// The fast scanners read exactly what the checked readers read, for every plain decimal.
TEST(KlineTextTest, ScanDecimalAgreesWithParseDecimalOnSeededValues) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 20000; ++i) {
    const int frac = static_cast<int>(rng() % 12);
    char text[64];
    const double x = static_cast<double>(rng() % 100000000000ULL) / 1000.0;
    std::snprintf(text, sizeof text, "%.*f,", frac, x);
    std::string_view s(text);
    const char* p = s.data();
    double fast = 0, slow = 0;
    ASSERT_TRUE(ScanDecimal(p, s.data() + s.size(), &fast, false)) << text;
    ASSERT_TRUE(ParseDecimal(s.substr(0, s.size() - 1), &slow)) << text;
    EXPECT_EQ(fast, slow) << text;
    EXPECT_EQ(p, s.data() + s.size());
  }
}

TEST(KlineTextTest, ScanIntTakesOnlyPlainDigitsBeforeAComma) {
  int64_t v = 0;
  int d = 0;
  std::string_view ok = "1735690499999,rest";
  const char* p = ok.data();
  ASSERT_TRUE(ScanInt(p, ok.data() + ok.size(), &v, &d));
  EXPECT_EQ(v, 1735690499999);
  EXPECT_EQ(d, 13);
  EXPECT_EQ(std::string_view(p), "rest");
  for (std::string_view bad : {"-1,", " 1,", "12", "1234567890123456789,", ",", "1.0,"}) {
    const char* q = bad.data();
    EXPECT_FALSE(ScanInt(q, bad.data() + bad.size(), &v, &d)) << bad;
  }
}

TEST(KlineTextTest, CheckFieldNamesTheFieldAndColumn) {
  const FieldSpec high{"high", FieldKind::kDecimal};
  const FieldSpec trades{"trades", FieldKind::kInt};
  EXPECT_EQ(CheckField("10.5", high, 3), "");
  EXPECT_EQ(CheckField("", high, 3), "empty field high (column 3)");
  EXPECT_EQ(CheckField("abc", high, 3), "non-numeric high 'abc' (column 3)");
  EXPECT_EQ(CheckField("1.5", trades, 9), "non-integer trades '1.5' (column 9)");
  EXPECT_EQ(CheckField(std::string(70, 'x'), high, 3),
            "non-numeric high '" + std::string(60, 'x') + "...' (column 3)");
  EXPECT_EQ(CheckField("", FieldSpec{"ignore", FieldKind::kIgnore}, 12), "");
}

TEST(KlineTextTest, TimeUnitForDigits) {
  EXPECT_EQ(TimeUnitForDigits(13).micros, 1000);
  EXPECT_STREQ(TimeUnitForDigits(13).name, "ms");
  EXPECT_EQ(TimeUnitForDigits(16).micros, 1);
  EXPECT_EQ(TimeUnitForDigits(10).micros, kMicrosPerSecond);
  EXPECT_EQ(TimeUnitForDigits(12).digits, 0);
  EXPECT_EQ(UndecidableTimeUnit("123", 3),
            "open_time 123 has 3 digits; cannot tell the time unit (expected 13 for ms, 16 for us "
            "or 10 for s)");
}

// A 15m row of BTCUSDT-15m-2025-01.csv (../shared/data), in milliseconds as the file has it.
RawKline Row15m() {
  RawKline k;
  k.open_time = 1735689600000;
  k.close_time = 1735690499999;
  k.ot_digits = k.ct_digits = 13;
  k.open = 93576, k.high = 93702.15, k.low = 93489.03, k.close = 93656.18, k.volume = 175.85673;
  return k;
}

TEST(KlineTextTest, CheckRawTimesConvertsToMicros) {
  const Interval iv = *Interval::Parse("15m");
  const TimeRule rule{.unit = TimeUnitForDigits(13),
                      .interval = &iv,
                      .first = kFirstBinanceKline,
                      .now_bound = std::numeric_limits<Micros>::max() / 2};
  RawKline k = Row15m();
  bool off = false;
  EXPECT_EQ(CheckRawTimes(&k, true, rule, &off), "");
  EXPECT_EQ(k.open_time, kJan1);
  EXPECT_EQ(k.close_time, kJan1 + 15 * 60 * kMicrosPerSecond - 1000);
  EXPECT_FALSE(off);
}

TEST(KlineTextTest, CheckRawTimesReasonsInOrder) {
  const Interval iv = *Interval::Parse("15m");
  const TimeRule rule{.unit = TimeUnitForDigits(13),
                      .interval = &iv,
                      .first = kFirstBinanceKline,
                      .now_bound = kJan1 + 3600LL * kMicrosPerSecond,
                      .whose = "the response"};
  struct Case {
    void (*mutate)(RawKline&);
    const char* want;
    bool off_grid;
  };
  const Case cases[] = {
      {[](RawKline& k) { k.open_time *= 1000, k.ot_digits = 16; },
       "open_time 1735689600000000 has 16 digits; the response uses ms (13)", false},
      {[](RawKline& k) { k.close_time = 1735690499999999, k.ct_digits = 16; },
       "close_time 1735690499999999 has 16 digits; the response uses ms (13)", false},
      {[](RawKline& k) { k.open_time = -1735689600000; }, "negative open_time -1735689600000",
       false},
      {[](RawKline& k) { k.open_time += 60000; },
       "open_time 1735689660000 (2025-01-01T00:01:00Z) is not aligned to the 15m interval", true},
      {[](RawKline& k) { k.open_time += 86400000, k.close_time += 86400000; },
       "open_time 2025-01-02T00:00:00Z is after now + 15m (2025-01-01T01:15:00Z)", false},
      {[](RawKline& k) { k.close_time += 1; },
       "close_time 1735690500000 inconsistent with open_time 1735689600000: expected "
       "1735690499999 (open_time + 15m - 1 ms)",
       false},
  };
  for (const Case& c : cases) {
    RawKline k = Row15m();
    c.mutate(k);
    bool off = false;
    EXPECT_EQ(CheckRawTimes(&k, true, rule, &off), c.want);
    EXPECT_EQ(off, c.off_grid) << c.want;
  }
  // A close cut short by an exchange halt is kept; without `full` close_time is not looked at.
  RawKline halted = Row15m();
  halted.close_time = 1735689600000 + 28 * 60000;
  bool off = false;
  EXPECT_EQ(CheckRawTimes(&halted, true, rule, &off),
            "close_time 1735691280000 inconsistent with open_time 1735689600000: expected "
            "1735690499999 (open_time + 15m - 1 ms)");
  halted.close_time = 1735689600000 + 5 * 60000;
  EXPECT_EQ(CheckRawTimes(&halted, true, rule, &off), "");
  EXPECT_EQ(halted.close_time, kJan1 + 5 * 60 * kMicrosPerSecond);
  RawKline ohlcv = Row15m();
  ohlcv.close_time = 7, ohlcv.ct_digits = 1;
  EXPECT_EQ(CheckRawTimes(&ohlcv, false, rule, &off), "");
  EXPECT_EQ(ohlcv.close_time, 7);
}

TEST(KlineBatchTest, ReserveAndTruncateTouchTheCarriedColumns) {
  KlineBatch full;
  full.Reserve(100);
  EXPECT_GE(full.trades.capacity(), 100u);
  for (int i = 0; i < 5; ++i) {
    Kline k = Row15m();
    k.open_time = kJan1 + i * 60 * kMicrosPerSecond;
    k.trades = i;
    full.Add(k);
  }
  full.Truncate(2);
  EXPECT_EQ(full.size(), 2u);
  EXPECT_EQ(full.trades, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(full.close_time.size(), 2u);
  EXPECT_EQ(full.At(1).open_time, kJan1 + 60 * kMicrosPerSecond);

  KlineBatch ohlcv;
  ohlcv.full = false;
  ohlcv.Reserve(100);
  EXPECT_EQ(ohlcv.trades.capacity(), 0u);
  ohlcv.Add(Row15m());
  ohlcv.Add(Row15m());
  ohlcv.Truncate(1);
  EXPECT_EQ(ohlcv.size(), 1u);
  EXPECT_TRUE(ohlcv.close_time.empty());
  EXPECT_EQ(ohlcv.close, (std::vector<double>{93656.18}));
}

}  // namespace
}  // namespace cryptolake::model
