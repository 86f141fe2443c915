// Candles rebuilt from trades: on the real trades Binance sent (../shared/data, read in place)
// and, for the completeness rules, on trades around them.
//
// What the shared data cannot show: it holds no recorded trade stream covering a whole minute
// for which a recorded kline exists, so agreement between trade candles and klines on real data
// is not tested here; Compare() is tested on candles with literal values.
#include "speed/trade_candles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "core/fsutil.h"
#include "testing/testing.h"
#include "venues/binance/stream_parser.h"

namespace cryptolake::speed {
namespace {

using venues::binance::StreamParser;

using testing::SharedData;

std::string Capture(const std::string& rel) {
  auto text = ReadFile(SharedData() / "binance-api/real-captures" / rel);
  EXPECT_TRUE(text.ok()) << rel;
  return text.ok() ? *text : "";
}

TradeEvent Trade(int64_t id, Micros t, double price, double qty, bool buyer_is_maker,
                 const std::string& symbol = "BTCUSDT") {
  TradeEvent e;
  e.symbol = symbol;
  e.event_time = t;
  e.trade_id = id;
  e.price = price;
  e.quantity = qty;
  e.trade_time = t;
  e.buyer_is_maker = buyer_is_maker;
  return e;
}

// nautilus_trader/http_spot_market_trades.json: GET /api/v3/trades, as TradeEvents. The file
// does not name the symbol; the price level is BTCUSDT's in October 2021.
std::vector<TradeEvent> RestTrades() {
  std::vector<TradeEvent> out;
  auto j = nlohmann::json::parse(Capture("nautilus_trader/http_spot_market_trades.json"));
  for (const auto& t : j) {
    out.push_back(Trade(t.at("id").get<int64_t>(), t.at("time").get<int64_t>() * 1000,
                        std::strtod(t.at("price").get<std::string>().c_str(), nullptr),
                        std::strtod(t.at("qty").get<std::string>().c_str(), nullptr),
                        t.at("isBuyerMaker").get<bool>()));
  }
  return out;
}

// Sums of doubles match the decimal sums to far better than Compare()'s 1e-9.
void ExpectSum(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-12 * expected) << "expected " << expected;
}

const Micros kRestMinute = 1634942940'000'000;  // 2021-10-22 22:49 UTC

TEST(TradeCandlesTest, RecordedWsTradeFoldsToItsMinute) {
  StreamParser parser;
  Event e;
  auto r = parser.Parse(Capture("nautilus_trader/ws_spot_trade.json"), &e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(*r);
  const auto& t = std::get<TradeEvent>(e);
  ASSERT_EQ(t.trade_time, 1639351062243'000);  // "T":1639351062243

  TradeCandles tc;
  tc.Add(t);
  const Micros minute = MicrosFromCivil(2021, 12, 12, 23, 17);
  ASSERT_EQ(minute, 1639351020'000'000);  // 1639351062243 ms floored to the minute
  EXPECT_FALSE(tc.Partial("ETHUSDT", minute - kMicrosPerMinute));
  auto c = tc.Partial("ETHUSDT", t.trade_time);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->symbol, "ETHUSDT");
  EXPECT_EQ(c->open_time, minute);
  EXPECT_EQ(c->close_time, 1639351079'999'000);  // Binance's kline "T": open + 59999 ms
  EXPECT_EQ(c->open, 4149.74);
  EXPECT_EQ(c->high, 4149.74);
  EXPECT_EQ(c->low, 4149.74);
  EXPECT_EQ(c->close, 4149.74);
  EXPECT_EQ(c->volume, 0.4387);
  ExpectSum(c->quote_volume, 1820.490938);  // 4149.74 * 0.4387
  EXPECT_EQ(c->trades, 1);
  // "m":true: the buyer was the maker, so the taker sold; nothing bought by a taker.
  EXPECT_EQ(c->taker_buy_base, 0);
  EXPECT_EQ(c->taker_buy_quote, 0);

  // One trade proves nothing about the rest of its minute.
  std::string why;
  EXPECT_FALSE(tc.Complete("ETHUSDT", minute, &why));
  EXPECT_EQ(why,
            "ETHUSDT 2021-12-12 23:17: trade 705291098 (before first id 705291099) not seen in "
            "an earlier minute");
}

TEST(TradeCandlesTest, AggregateTradesAreNotTrades) {
  // An aggTrade's "a" is an aggregate id, not a trade id: it must never reach TradeCandles. The
  // parser ignores it.
  StreamParser parser;
  Event e;
  auto r = parser.Parse(Capture("crypto-msg-parser/trade__btcusdt_at_aggTrade.json"), &e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
}

TEST(TradeCandlesTest, RecordedRestTradesFoldExactly) {
  // The ten trades, ids 1111468873..1111468882, all at 22:49:09.263-22:49:10.067 UTC:
  //   id   price     qty      m(buyer maker) quoteQty (file; = price*qty exactly)
  //   873  60650.00  0.02924  true           1773.40600000
  //   874  60650.01  0.00082  false          49.73300820
  //   875  60650.01  0.01100  false          667.15011000
  //   876  60650.00  0.00738  true           447.59700000
  //   877  60650.01  0.00025  false          15.16250250
  //   878  60650.02  0.00100  false          60.65002000
  //   879  60655.00  0.01100  false          667.20500000
  //   880  60654.99  0.00623  true           377.88058770
  //   881  60654.99  0.00445  true           269.91470550
  //   882  60654.99  0.00997  true           604.73025030
  // open = id 873's 60650.00, close = id 882's 60654.99, high = 60655.00 (879),
  // low = 60650.00 (873, 876), trades = 10.
  // volume = .02924+.00082+.011+.00738+.00025+.001+.011+.00623+.00445+.00997 = 0.08134
  // quote  = 1773.406+49.7330082+667.15011+447.597+15.1625025+60.65002+667.205+377.8805877
  //          +269.9147055+604.7302503 = 4933.4291842
  // taker buy (m false: 874, 875, 877, 878, 879):
  //   base  = .00082+.011+.00025+.001+.011 = 0.02407
  //   quote = 49.7330082+667.15011+15.1625025+60.65002+667.205 = 1459.9006407
  // (check: the maker side is 0.05727 and 3473.5285435; the sums are 0.08134 and 4933.4291842)
  TradeCandles tc;
  for (const auto& t : RestTrades()) tc.Add(t);
  ASSERT_EQ(tc.held(), 10);
  auto c = tc.Partial("BTCUSDT", kRestMinute);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->open_time, MicrosFromCivil(2021, 10, 22, 22, 49));
  EXPECT_EQ(c->open, 60650.00);
  EXPECT_EQ(c->high, 60655.00);
  EXPECT_EQ(c->low, 60650.00);
  EXPECT_EQ(c->close, 60654.99);
  EXPECT_EQ(c->trades, 10);
  ExpectSum(c->volume, 0.08134);
  ExpectSum(c->quote_volume, 4933.4291842);
  ExpectSum(c->taker_buy_base, 0.02407);
  ExpectSum(c->taker_buy_quote, 1459.9006407);

  // One second of a busy minute: not complete, so it may not fill a gap.
  std::string why;
  EXPECT_FALSE(tc.Complete("BTCUSDT", kRestMinute, &why));
  EXPECT_EQ(why,
            "BTCUSDT 2021-10-22 22:49: trade 1111468872 (before first id 1111468873) not seen in "
            "an earlier minute");
  EXPECT_TRUE(tc.CompleteBetween("BTCUSDT", kRestMinute, kRestMinute + kMicrosPerMinute).empty());

  // Were those ten the whole minute (trade 872 in 22:48, trade 883 in 22:50: made up), the
  // candle would be complete and the same.
  tc.Add(Trade(1111468872, kRestMinute - 1, 60650.00, 0.001, true));
  EXPECT_FALSE(tc.Complete("BTCUSDT", kRestMinute, &why));
  EXPECT_EQ(why,
            "BTCUSDT 2021-10-22 22:49: trade 1111468883 (after last id 1111468882) not seen in "
            "a later minute");
  tc.Add(Trade(1111468883, kRestMinute + kMicrosPerMinute, 60655.00, 0.001, false));
  auto complete = tc.Complete("BTCUSDT", kRestMinute, &why);
  ASSERT_TRUE(complete) << why;
  EXPECT_EQ(why, "");
  EXPECT_EQ(*complete, *c);
  auto between = tc.CompleteBetween("BTCUSDT", 0, INT64_MAX);
  ASSERT_EQ(between.size(), 1u);
  EXPECT_EQ(between[0], *c);
}

class CompletenessTest : public ::testing::Test {
 protected:
  // ETHUSDT, 2024-01-01: trade 100 at 00:00:59, 101..105 in 00:01, 106 at 00:02:01.
  static constexpr Micros kM0 = 1704067200'000'000;
  static constexpr Micros kM1 = kM0 + kMicrosPerMinute, kM2 = kM1 + kMicrosPerMinute;
  static TradeEvent T(int64_t id, Micros t) {
    // Prices 2300.00..2300.06 by id % 7 (an exact integer over 100: the nearest double).
    return Trade(id, t, static_cast<double>(230000 + id % 7) / 100,
                 static_cast<double>(id % 5 + 1) / 100, id % 2 == 1, "ETHUSDT");
  }
  void AddAll(std::initializer_list<int64_t> skip = {}) {
    auto add = [&](int64_t id, Micros t) {
      if (std::find(skip.begin(), skip.end(), id) == skip.end()) tc.Add(T(id, t));
    };
    add(100, kM1 - kMicrosPerSecond);
    for (int64_t id = 101; id <= 105; ++id) add(id, kM1 + (id - 100) * kMicrosPerSecond);
    add(106, kM2 + kMicrosPerSecond);
  }
  std::string Why(Micros minute) {
    std::string why;
    EXPECT_FALSE(tc.Complete("ETHUSDT", minute, &why));
    return why;
  }
  TradeCandles tc;
};

TEST_F(CompletenessTest, ContiguousAndBracketedIsComplete) {
  AddAll();
  auto c = tc.Complete("ETHUSDT", kM1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trades, 5);
  EXPECT_EQ(c->open, 2300.03);   // id 101: 101 % 7 = 3
  EXPECT_EQ(c->high, 2300.06);   // id 104
  EXPECT_EQ(c->low, 2300.00);    // id 105
  EXPECT_EQ(c->close, 2300.00);  // id 105: 105 % 7 = 0
  EXPECT_EQ(*c, *tc.Partial("ETHUSDT", kM1));
  // The bracketing minutes themselves are not complete: 99 and 107 were never seen.
  EXPECT_EQ(Why(kM0),
            "ETHUSDT 2024-01-01 00:00: trade 99 (before first id 100) not seen in an "
            "earlier minute");
  EXPECT_EQ(Why(kM2),
            "ETHUSDT 2024-01-01 00:02: trade 107 (after last id 106) not seen in a "
            "later minute");
  EXPECT_EQ(tc.CompleteBetween("ETHUSDT", kM0, kM2 + kMicrosPerMinute), std::vector{*c});
  EXPECT_TRUE(tc.CompleteBetween("ETHUSDT", kM0, kM1).empty());  // [from, to)
  EXPECT_TRUE(tc.CompleteBetween("BTCUSDT", kM0, kM2).empty());
}

TEST_F(CompletenessTest, MissingIdInTheMiddleIsNotComplete) {
  AddAll({103});
  EXPECT_EQ(Why(kM1), "ETHUSDT 2024-01-01 00:01: ids 101..105 held 4 of 5, first missing 103");
  tc.Add(T(103, kM1 + 3 * kMicrosPerSecond));
  EXPECT_TRUE(tc.Complete("ETHUSDT", kM1));
}

TEST_F(CompletenessTest, NotYetBracketedIsNotComplete) {
  AddAll({106});
  EXPECT_EQ(Why(kM1),
            "ETHUSDT 2024-01-01 00:01: trade 106 (after last id 105) not seen in a "
            "later minute");
  // 106 in the same minute extends it; then 107 is the one awaited.
  tc.Add(T(106, kM1 + 59 * kMicrosPerSecond));
  EXPECT_EQ(Why(kM1),
            "ETHUSDT 2024-01-01 00:01: trade 107 (after last id 106) not seen in a "
            "later minute");
  // A later minute after a quiet one brackets too; the quiet minute is no candle.
  tc.Add(T(107, kM2 + kMicrosPerMinute));
  EXPECT_TRUE(tc.Complete("ETHUSDT", kM1));
  EXPECT_EQ(Why(kM2), "ETHUSDT 2024-01-01 00:02: no trades held");
  EXPECT_EQ(Why(kM2 + kMicrosPerMinute),
            "ETHUSDT 2024-01-01 00:03: trade 108 (after last id 107) not seen in a later minute");
}

TEST_F(CompletenessTest, NotBracketedBeforeIsNotComplete) {
  AddAll({100});
  EXPECT_EQ(Why(kM1),
            "ETHUSDT 2024-01-01 00:01: trade 100 (before first id 101) not seen in an "
            "earlier minute");
  EXPECT_EQ(Why(kM1 + 30 * kMicrosPerSecond), Why(kM1));  // any time in the minute
  EXPECT_EQ(Why(kM0), "ETHUSDT 2024-01-01 00:00: no trades held");
  TradeCandles other;
  std::string why;
  EXPECT_FALSE(other.Complete("ETHUSDT", kM1, &why));
  EXPECT_EQ(why, "ETHUSDT 2024-01-01 00:01: no trades held");
}

TEST_F(CompletenessTest, DropBeforeKeepsTheBracketAndRejectsLateTrades) {
  AddAll();
  auto before = tc.Complete("ETHUSDT", kM1);
  ASSERT_TRUE(before);
  ASSERT_EQ(tc.held(), 7);
  tc.DropBefore("ETHUSDT", kM1);
  EXPECT_EQ(tc.held(), 6);
  EXPECT_FALSE(tc.Partial("ETHUSDT", kM0));
  EXPECT_EQ(tc.Complete("ETHUSDT", kM1), before);  // trade 100 remembered as dropped
  tc.Add(T(100, kM1 - kMicrosPerSecond));          // again, after the drop
  tc.Add(T(99, kM0));
  EXPECT_EQ(tc.held(), 6);
  EXPECT_EQ(tc.stats().late, 2);
  EXPECT_FALSE(tc.Partial("ETHUSDT", kM0));
  tc.DropBefore("ETHUSDT", kM0);  // never moves back
  tc.Add(T(99, kM0));
  EXPECT_EQ(tc.stats().late, 3);

  // The drop first, the bracketing trade late: the same answer.
  TradeCandles late_first;
  late_first.DropBefore("ETHUSDT", kM1);
  for (int64_t id = 106; id >= 100; --id) {
    late_first.Add(T(id, id == 100   ? kM1 - kMicrosPerSecond
                         : id == 106 ? kM2 + kMicrosPerSecond
                                     : kM1 + (id - 100) * kMicrosPerSecond));
  }
  EXPECT_EQ(late_first.Complete("ETHUSDT", kM1), before);
  EXPECT_EQ(late_first.stats().late, 1);

  tc.DropBefore("ETHUSDT", INT64_MAX);
  EXPECT_EQ(tc.held(), 0);
}

// Five minutes of made-up trades with prices and sizes whose double sums depend on the order.
std::vector<TradeEvent> FiveMinutes() {
  std::vector<TradeEvent> out;
  const Micros m0 = MicrosFromCivil(2025, 8, 18, 12, 0);
  for (int64_t i = 0; i < 300; ++i) {
    double price = 117000 + static_cast<double>((i * 37) % 101) / 100;
    double qty = static_cast<double>((i * 53) % 97 + 1) / 100000 + 0.1;
    out.push_back(Trade(9000000 + i, m0 + i * kMicrosPerMinute / 60, price, qty, (i * 7) % 3 == 0));
  }
  return out;
}

TEST(TradeCandlesTest, DuplicatesAndShuffledOrderGiveTheSameCandles) {
  std::vector<TradeEvent> trades = RestTrades();
  trades.push_back(Trade(1111468872, kRestMinute - 1, 60650.00, 0.001, true));
  trades.push_back(Trade(1111468883, kRestMinute + kMicrosPerMinute, 60655.00, 0.001, false));
  for (const auto& t : FiveMinutes()) trades.push_back(t);

  TradeCandles in_order;
  for (const auto& t : trades) in_order.Add(t);
  const auto rest = in_order.CompleteBetween("BTCUSDT", 0, INT64_MAX);
  ASSERT_EQ(rest.size(), 4u);  // 22:49 and the three inner minutes of the five
  ASSERT_EQ(rest[0].open_time, kRestMinute);
  for (const auto& c : rest) EXPECT_EQ(c.trades, c.open_time == kRestMinute ? 10 : 60);

  std::mt19937 rng(20260101);
  bool sums_differ_by_order = false;
  for (int round = 0; round < 20; ++round) {
    std::vector<TradeEvent> shuffled = trades;
    shuffled.insert(shuffled.end(), trades.begin(), trades.end());  // every trade twice
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    TradeCandles tc;
    for (const auto& t : shuffled) tc.Add(t);
    ASSERT_EQ(tc.CompleteBetween("BTCUSDT", 0, INT64_MAX), rest) << "round " << round;
    EXPECT_EQ(tc.held(), static_cast<int64_t>(trades.size()));
    EXPECT_EQ(tc.stats().added, static_cast<int64_t>(trades.size()));
    EXPECT_EQ(tc.stats().duplicates, static_cast<int64_t>(trades.size()));
    EXPECT_EQ(tc.stats().conflicts, 0);

    // The candles are summed in id order: summing in arrival order would differ.
    double arrival = 0, by_id = 0;
    std::vector<int64_t> seen;
    for (const auto& t : shuffled) {
      if (t.trade_time < rest[1].open_time ||
          t.trade_time >= rest[1].open_time + kMicrosPerMinute) {
        continue;
      }
      if (std::find(seen.begin(), seen.end(), t.trade_id) != seen.end()) continue;
      seen.push_back(t.trade_id);
      arrival += t.price * t.quantity;
    }
    for (const auto& t : trades) {
      if (t.trade_time >= rest[1].open_time &&
          t.trade_time < rest[1].open_time + kMicrosPerMinute) {
        by_id += t.price * t.quantity;
      }
    }
    ASSERT_EQ(by_id, rest[1].quote_volume);
    sums_differ_by_order |= arrival != by_id;
  }
  EXPECT_TRUE(sums_differ_by_order) << "the data does not exercise the summation order";
}

TEST(TradeCandlesTest, ConflictingResendKeepsTheFirst) {
  TradeCandles tc;
  for (const auto& t : RestTrades()) tc.Add(t);
  auto before = tc.Partial("BTCUSDT", kRestMinute);
  TradeEvent changed = RestTrades()[9];
  changed.price = 1;
  tc.Add(changed);
  changed = RestTrades()[9];
  changed.trade_time += kMicrosPerMinute;
  tc.Add(changed);
  tc.Add(RestTrades()[9]);
  EXPECT_EQ(tc.stats().duplicates, 3);
  EXPECT_EQ(tc.stats().conflicts, 2);
  EXPECT_EQ(tc.Partial("BTCUSDT", kRestMinute), before);
  EXPECT_FALSE(tc.Partial("BTCUSDT", kRestMinute + kMicrosPerMinute));
}

TEST(TradeCandlesTest, CompareNamesTheFieldsThatDiffer) {
  TradeCandles tc;
  for (const auto& t : RestTrades()) tc.Add(t);
  const TradeCandle from_trades = *tc.Partial("BTCUSDT", kRestMinute);
  // A kline for that minute as Binance would send it had these ten been its only trades (no
  // kline of that minute is recorded): the decimal values written out.
  TradeCandle kline;
  kline.symbol = "BTCUSDT";
  kline.open_time = kRestMinute;
  kline.close_time = kRestMinute + 59'999'999;  // a us dump's close time: not compared
  kline.open = 60650.00;
  kline.high = 60655.00;
  kline.low = 60650.00;
  kline.close = 60654.99;
  kline.volume = 0.08134;
  kline.quote_volume = 4933.4291842;
  kline.trades = 10;
  kline.taker_buy_base = 0.02407;
  kline.taker_buy_quote = 1459.9006407;

  auto a = TradeCandles::Compare(from_trades, kline);
  EXPECT_TRUE(a.agrees) << a.diff;
  EXPECT_EQ(a.diff, "");

  TradeCandle k = kline;
  k.volume *= 1 + 5e-10;  // within 1e-9 relative
  EXPECT_TRUE(TradeCandles::Compare(from_trades, k).agrees);
  k.volume = kline.volume * (1 + 2e-9);
  a = TradeCandles::Compare(from_trades, k);
  EXPECT_FALSE(a.agrees);
  EXPECT_EQ(a.diff, "volume 0.0813400000000 vs 0.0813400001627");

  k = kline;
  k.close = 60655.00;
  a = TradeCandles::Compare(from_trades, k);
  EXPECT_FALSE(a.agrees);
  EXPECT_EQ(a.diff, "close 60654.99 vs 60655.00");

  k.trades = 11;
  k.taker_buy_quote = 1500;
  k.open_time += kMicrosPerMinute;
  a = TradeCandles::Compare(from_trades, k);
  EXPECT_EQ(a.diff,
            "open_time 2021-10-22T22:49:00Z vs 2021-10-22T22:50:00Z, close 60654.99 vs 60655.00, "
            "trades 10 vs 11, taker_buy_quote 1459.9006407 vs 1500.0000000");
}

}  // namespace
}  // namespace cryptolake::speed
