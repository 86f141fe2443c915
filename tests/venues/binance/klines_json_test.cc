// Binance's klines JSON decoded straight into a KlineBatch, on a real GET /api/v3/klines response
// captured from the live API (../shared/data/binance-api, read in place; BTCUSDT 1m,
// 2021-10-22 23:03..23:12, timestamps in ms as sent without X-MBX-TIME-UNIT) and on damaged
// copies of it.
#include "venues/binance/klines_json.h"

#include <gtest/gtest.h>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake::venues::binance {
namespace {

const Interval k1m{"1m", kMicrosPerMinute};
const Micros kFirst = MicrosFromCivil(2021, 10, 22, 23, 3);
const Micros kLast = MicrosFromCivil(2021, 10, 22, 23, 12);

std::string Capture() {
  auto text = ReadFile(testing::SharedData() /
                       "binance-api/real-captures/nautilus_trader/http_spot_market_klines.json");
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : "";
}

KlinesRequest Request(Micros start = kFirst, Micros end = kLast, int limit = 1000) {
  return {"BTCUSDT", k1m, start, end, limit};
}

// The reason DecodeKlines gives for `body`.
std::string Reason(const std::string& body, const KlinesRequest& req,
                   TimeUnit unit = TimeUnit::kMillis) {
  auto b = DecodeKlines(body, req, unit);
  EXPECT_FALSE(b.ok());
  if (b.ok()) return "";
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  return b.status().message();
}

// `body` with the first occurrence of `from` replaced by `to`.
std::string Replace(std::string body, const std::string& from, const std::string& to) {
  size_t at = body.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) body.replace(at, from.size(), to);
  return body;
}

TEST(KlinesJsonTest, RealResponseDecodesToExactValues) {
  auto b = DecodeKlines(Capture(), Request(), TimeUnit::kMillis);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->symbol, "BTCUSDT");
  EXPECT_EQ(b->interval.name, "1m");
  EXPECT_TRUE(b->full);
  ASSERT_EQ(b->size(), 10u);
  for (size_t i = 0; i < b->size(); ++i) {
    EXPECT_EQ(b->open_time[i], kFirst + static_cast<Micros>(i) * kMicrosPerMinute) << i;
    EXPECT_EQ(b->close_time[i], b->open_time[i] + kMicrosPerMinute - 1000) << i;
  }
  // [1634943780000,"60685.22000000","60729.84000000","60670.90000000","60719.27000000",
  //  "21.63272000",1634943839999,"1313200.01340410",617,"12.28492000","745719.41022840","0"]
  EXPECT_EQ(b->open_time[0], 1634943780000000);
  EXPECT_EQ(b->close_time[0], 1634943839999000);
  EXPECT_EQ(b->open[0], 60685.22);
  EXPECT_EQ(b->high[0], 60729.84);
  EXPECT_EQ(b->low[0], 60670.90);
  EXPECT_EQ(b->close[0], 60719.27);
  EXPECT_EQ(b->volume[0], 21.63272);
  EXPECT_EQ(b->quote_volume[0], 1313200.01340410);
  EXPECT_EQ(b->trades[0], 617);
  EXPECT_EQ(b->taker_buy_base[0], 12.28492);
  EXPECT_EQ(b->taker_buy_quote[0], 745719.41022840);
  // The last row, a quiet minute: one price, 7 trades.
  EXPECT_EQ(b->open_time[9], kLast);
  EXPECT_EQ(b->open[9], 60739.85);
  EXPECT_EQ(b->high[9], 60739.85);
  EXPECT_EQ(b->low[9], 60739.85);
  EXPECT_EQ(b->close[9], 60739.85);
  EXPECT_EQ(b->volume[9], 0.04734);
  EXPECT_EQ(b->quote_volume[9], 2875.42449900);
  EXPECT_EQ(b->trades[9], 7);
  EXPECT_EQ(b->taker_buy_base[9], 0.04734);
  EXPECT_EQ(b->taker_buy_quote[9], 2875.42449900);
}

TEST(KlinesJsonTest, RealResponseAgainstTheRequestAndTheUnit) {
  const std::string body = Capture();
  // The client asks for microseconds: a millisecond answer is refused.
  EXPECT_EQ(Reason(body, Request(), TimeUnit::kMicros), "timestamps in ms, expected us");
  EXPECT_EQ(Reason(body, Request(kFirst, kLast, 9)), "10 rows for limit 9");
  EXPECT_EQ(Reason(body, Request(kFirst, kLast - kMicrosPerMinute)),
            "row 10: open_time 2021-10-22T23:12:00Z outside [2021-10-22T23:03:00Z, "
            "2021-10-22T23:11:00Z]");
  EXPECT_EQ(Reason(body, {"BTCUSDT", {"5m", 5 * kMicrosPerMinute}, kFirst, kLast, 1000}),
            "row 1: open_time 1634943780000 (2021-10-22T23:03:00Z) is not aligned to the 5m "
            "interval");
  auto empty = DecodeKlines("[]", Request());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_EQ(empty->symbol, "BTCUSDT");
}

TEST(KlinesJsonTest, DamagedRowsNameTheRowAndTheReason) {
  const std::string body = Capture();
  EXPECT_EQ(Reason(Replace(body, "\"60729.84000000\"", "\"60000\""), Request()),
            "row 1: high 60000 below max(open, close) 60719.27");
  EXPECT_EQ(Reason(Replace(body, "\"60729.84000000\"", "\"abc\""), Request()),
            "row 1: non-numeric high 'abc' (column 3)");
  EXPECT_EQ(Reason(Replace(body, "617", "6.5"), Request()),
            "row 1: non-integer trades '6.5' (column 9)");
  EXPECT_EQ(Reason(Replace(body, "\"21.63272000\"", "\"-1\""), Request()),
            "row 1: negative volume -1");
  EXPECT_EQ(Reason(Replace(body, "1634943839999", "1634943899999"), Request()),
            "row 1: close_time 1634943899999 inconsistent with open_time 1634943780000: "
            "expected 1634943839999 (open_time + 1m - 1 ms)");
  EXPECT_EQ(Reason(Replace(Replace(body, "1634943840000", "1634943780000"), "1634943899999",
                           "1634943839999"),
                   Request()),
            "row 2: open_time 2021-10-22T23:03:00Z not after 2021-10-22T23:03:00Z");
  EXPECT_EQ(Reason(Replace(body, "\"0\"\n  ]", "\"0\", 1\n  ]"), Request()),
            "row 1 has 13 fields, expected 12");
  EXPECT_EQ(Reason(Replace(body, "617", "null"), Request()),
            "row 1: field 9 is not a string or a number");
  EXPECT_EQ(Reason(body.substr(0, body.size() / 2), Request()).substr(0, 13), "invalid JSON ");
  EXPECT_EQ(Reason("{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", Request()), "not a JSON array");
}

}  // namespace
}  // namespace cryptolake::venues::binance
