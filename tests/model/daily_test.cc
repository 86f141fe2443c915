#include "model/daily.h"

#include <gtest/gtest.h>

#include <cstring>

#include "model/kline.h"

namespace cryptolake::model {
namespace {

constexpr Micros kDay0 = 1747699200LL * kMicrosPerSecond;  // 2025-05-20 00:00 UTC

Kline K(Micros t, double o, double h, double l, double c, double v) {
  return {
      .symbol = "BTCUSDT", .open_time = t, .open = o, .high = h, .low = l, .close = c, .volume = v};
}

TEST(DecimalSumTest, RoundsEachValueToTenDecimalsThenAddsExactly) {
  DecimalSum s;
  s.Add(0.1);
  s.Add(0.2);
  EXPECT_EQ(s.Value(), 0.3);  // a double sum gives 0.30000000000000004
  EXPECT_NE(0.1 + 0.2, 0.3);
  DecimalSum t;
  t.Add(1e-11);  // below the 10th decimal: rounds to 0
  t.Add(4e-11);
  EXPECT_EQ(t.Value(), 0.0);
  t.Add(5e-11);  // a half rounds away from zero: 1e-10
  EXPECT_EQ(t.Value(), 1e-10);
  t.Sub(5e-11);
  EXPECT_EQ(t.Value(), 0.0);
}

TEST(DecimalSumTest, LargeSumsConvertIntegerAndFractionApart) {
  // 30 closes of 123456.78 sum to 3703703.4 (above 2^53 units of 1e-10).
  DecimalSum s;
  for (int i = 0; i < 30; ++i) s.Add(123456.78);
  EXPECT_EQ(s.Value(), 3703703.4);
}

TEST(DailyBarsOfTest, FoldsMinutesIntoUtcDays) {
  std::vector<Kline> m1 = {K(kDay0, 10, 12, 9, 11, 0.1),
                           K(kDay0 + kMicrosPerMinute, 11, 15, 10, 14, 0.2),
                           K(kDay0 + kMicrosPerDay, 14, 14, 13, 13.5, 1)};
  auto bars = DailyBarsOf(m1);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[0], (DailyBar{.day = kDay0,
                               .open = 10,
                               .high = 15,
                               .low = 9,
                               .close = 14,
                               .volume = 0.3,
                               .minutes = 2}));
  EXPECT_EQ(bars[1], (DailyBar{.day = kDay0 + kMicrosPerDay,
                               .open = 14,
                               .high = 14,
                               .low = 13,
                               .close = 13.5,
                               .volume = 1,
                               .minutes = 1}));
  // The open candle counts in OHLCV, not in minutes.
  auto open = DailyBarsOf(m1, /*open_last=*/true);
  EXPECT_EQ(open[1].minutes, 0);
  EXPECT_EQ(open[1].close, 13.5);
  EXPECT_TRUE(DailyBarsOf({}).empty());
}

TEST(ForwardFillTest, MissingDaysTakeThePreviousClose) {
  std::vector<DailyBar> bars = {
      {.day = kDay0, .open = 1, .high = 3, .low = 1, .close = 2, .volume = 5, .minutes = 4},
      {.day = kDay0 + 3 * kMicrosPerDay,
       .open = 7,
       .high = 8,
       .low = 6,
       .close = 7,
       .volume = 1,
       .minutes = 1}};
  auto f = ForwardFill(bars);
  ASSERT_EQ(f.size(), 4u);
  for (int i : {1, 2}) {
    EXPECT_EQ(f[i], (DailyBar{.day = kDay0 + i * kMicrosPerDay,
                              .open = 2,
                              .high = 2,
                              .low = 2,
                              .close = 2,
                              .filled = true}));
  }
  EXPECT_EQ(f[3], bars[1]);
}

TEST(MovingAveragesTest, MeanOfTheLastRowsIncludingTheDay) {
  std::vector<DailyBar> bars;
  for (int i = 0; i < 35; ++i) bars.push_back({.day = kDay0 + i * kMicrosPerDay, .close = i + 1.0});
  MovingAverages(bars);
  EXPECT_EQ(*bars[0].ma7, 1.0);
  EXPECT_EQ(*bars[2].ma7, 2.0);     // (1+2+3)/3
  EXPECT_EQ(*bars[6].ma7, 4.0);     // 1..7
  EXPECT_EQ(*bars[9].ma7, 7.0);     // 4..10
  EXPECT_EQ(*bars[29].ma30, 15.5);  // 1..30
  EXPECT_EQ(*bars[34].ma30, 20.5);  // 6..35
  std::vector<DailyBar> tail = bars;
  tail[34].ma7.reset();
  MovingAverages(tail, 34);  // only from index 34 on
  EXPECT_EQ(*tail[34].ma7, 32.0);
  EXPECT_EQ(tail[33].ma7, bars[33].ma7);
}

TEST(KlineBatchTest, AddAndAtRoundTrip) {
  KlineBatch full;
  full.symbol = "ETHUSDT";
  Kline k = K(kDay0, 1, 2, 0.5, 1.5, 3);
  k.symbol = "ETHUSDT";
  k.close_time = kDay0 + kMicrosPerMinute - 1;
  k.quote_volume = 4.5;
  k.trades = 7;
  k.taker_buy_base = 1;
  k.taker_buy_quote = 1.5;
  full.Add(k);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full.At(0), k);
  KlineBatch ohlcv;
  ohlcv.symbol = "ETHUSDT";
  ohlcv.full = false;
  ohlcv.Add(k);
  EXPECT_TRUE(ohlcv.trades.empty());
  Kline want = K(kDay0, 1, 2, 0.5, 1.5, 3);
  want.symbol = "ETHUSDT";
  EXPECT_EQ(ohlcv.At(0), want);
}

}  // namespace
}  // namespace cryptolake::model
