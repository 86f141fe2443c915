#include "model/validate.h"

#include <gtest/gtest.h>

namespace cryptolake::model {
namespace {

Kline Good() {
  return {.symbol = "BTCUSDT",
          .open_time = 1747699200LL * kMicrosPerSecond,
          .open = 10,
          .high = 12,
          .low = 9,
          .close = 11,
          .volume = 3,
          .quote_volume = 33,
          .taker_buy_base = 1,
          .taker_buy_quote = 11,
          .trades = 4};
}

TEST(ValidateKlineTest, AGoodKlinePasses) {
  EXPECT_EQ(ValidateKline(Good(), true), "");
  EXPECT_EQ(ValidateKline(Good(), false), "");
}

TEST(ValidateKlineTest, EachRuleNamesTheField) {
  struct Case {
    void (*mutate)(Kline&);
    bool full;
    const char* want;
  };
  const Case cases[] = {
      {[](Kline& k) { k.volume = -1; }, true, "negative volume -1"},
      {[](Kline& k) { k.trades = -2; }, true, "negative trades -2"},
      {[](Kline& k) { k.trades = -2; }, false, ""},  // not carried by OHLCV-only sources
      {[](Kline& k) { k.taker_buy_quote = -0.5; }, true, "negative taker_buy_quote -0.5"},
      {[](Kline& k) { k.open = 0; }, true, "open 0 out of range (0, 1e15]"},
      {[](Kline& k) { k.quote_volume = 1e19; }, true, "quote_volume 1e+19 out of range [0, 1e18]"},
      {[](Kline& k) { k.quote_volume = 1e19; }, false, ""},
      {[](Kline& k) { k.high = 10.5; }, true, "high 10.5 below max(open, close) 11"},
      {[](Kline& k) { k.low = 10.5; }, true, "low 10.5 above min(open, close) 10"},
  };
  for (const auto& c : cases) {
    Kline k = Good();
    c.mutate(k);
    EXPECT_EQ(ValidateKline(k, c.full), c.want);
  }
}

TEST(ValidateKlineTest, WebSocketNamesAreThePayloadKeys) {
  Kline k = Good();
  k.high = 10.5;
  EXPECT_EQ(ValidateKline(k, true, kWsKlineFields), "k.h 10.5 below max(open, close) 11");
  k = Good();
  k.trades = -1;
  EXPECT_EQ(ValidateKline(k, true, kWsKlineFields), "negative k.n -1");
}

}  // namespace
}  // namespace cryptolake::model
