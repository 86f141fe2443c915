// Comparing kline batches in tests (header only: the tests that use it link cl_ingest).
#pragma once

#include <gtest/gtest.h>

#include "ingest/parser.h"

namespace cryptolake::testing {

// Every field of `a` equals `b`'s, column by column.
inline void ExpectSameBatch(const ingest::KlineBatch& a, const ingest::KlineBatch& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.interval.name, b.interval.name);
  EXPECT_EQ(a.full, b.full);
  EXPECT_EQ(a.open_time, b.open_time);
  EXPECT_EQ(a.close_time, b.close_time);
  EXPECT_EQ(a.open, b.open);
  EXPECT_EQ(a.high, b.high);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.close, b.close);
  EXPECT_EQ(a.volume, b.volume);
  EXPECT_EQ(a.quote_volume, b.quote_volume);
  EXPECT_EQ(a.trades, b.trades);
  EXPECT_EQ(a.taker_buy_base, b.taker_buy_base);
  EXPECT_EQ(a.taker_buy_quote, b.taker_buy_quote);
}

}  // namespace cryptolake::testing
