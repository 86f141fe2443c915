// The stream parser on real Binance messages captured from the live API (../shared/data,
// read in place) and on broken ones.
#include "venues/binance/stream_parser.h"

#include <gtest/gtest.h>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake::venues::binance {
namespace {

using model::Event;
using model::KlineEvent;
using model::TradeEvent;

using testing::SharedData;

std::string Capture(const std::string& rel) {
  auto text = ReadFile(SharedData() / "binance-api/real-captures" / rel);
  EXPECT_TRUE(text.ok()) << rel;
  return text.ok() ? *text : "";
}

TEST(StreamParserTest, CombinedKlineCapturedFromBinance) {
  StreamParser p;
  Event e;
  auto r = p.Parse(Capture("crypto-msg-parser/candlestick__btcusdt_at_kline_1m.json"), &e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(*r);
  const auto& k = std::get<KlineEvent>(e);
  EXPECT_EQ(k.symbol, "BTCUSDT");
  EXPECT_EQ(k.interval, "1m");
  EXPECT_EQ(k.event_time, 1653818762502000);
  EXPECT_EQ(k.open_time, 1653818760000000);
  EXPECT_EQ(k.close_time, 1653818819999000);
  EXPECT_EQ(k.open, 29038.46);
  EXPECT_EQ(k.close, 29038.47);
  EXPECT_EQ(k.high, 29038.47);
  EXPECT_EQ(k.low, 29038.46);
  EXPECT_EQ(k.volume, 0.20926);
  EXPECT_EQ(k.trades, 31);
  EXPECT_EQ(k.quote_volume, 6076.58918320);
  EXPECT_EQ(k.taker_buy_base, 0.10436);
  EXPECT_EQ(k.taker_buy_quote, 3030.45472920);
  EXPECT_FALSE(k.closed);
  EXPECT_EQ(p.events(), 1);
}

TEST(StreamParserTest, RawAndCombinedCapturesFromPublicRepos) {
  auto lines = Capture("other/ws_captures_from_public_repos.jsonl");
  StreamParser p;
  std::vector<KlineEvent> got;
  for (size_t pos = 0; pos < lines.size();) {
    size_t nl = lines.find('\n', pos);
    std::string line = lines.substr(pos, nl - pos);
    pos = nl == std::string::npos ? lines.size() : nl + 1;
    if (line.empty()) continue;
    // {"_source": ..., "payload": <the message>}: cut the payload out as text.
    size_t at = line.find("\"payload\":");
    ASSERT_NE(at, std::string::npos);
    std::string msg = line.substr(at + 10, line.size() - (at + 10) - 1);
    Event e;
    auto r = p.Parse(msg, &e);
    ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << msg;
    got.push_back(std::get<KlineEvent>(e));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].close, 10441.80);
  EXPECT_EQ(got[0].open_time, 1601630220000000);
  EXPECT_EQ(got[1].interval, "5m");  // the raw stream, no wrapper
  EXPECT_EQ(got[1].close, 46673.53);
  EXPECT_EQ(got[1].trades, 582);
}

TEST(StreamParserTest, TradesCapturedFromBinance) {
  // A pretty-printed combined trade message (nautilus_trader's capture).
  StreamParser p;
  Event e;
  auto r = p.Parse(Capture("nautilus_trader/ws_spot_trade.json"), &e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& t = std::get<TradeEvent>(e);
  EXPECT_EQ(t.symbol, "ETHUSDT");
  EXPECT_EQ(t.event_time, 1639351062244000);
  EXPECT_EQ(t.trade_id, 705291099);
  EXPECT_EQ(t.price, 4149.74);
  EXPECT_EQ(t.quantity, 0.4387);
  EXPECT_EQ(t.trade_time, 1639351062243000);
  EXPECT_TRUE(t.buyer_is_maker);
}

TEST(StreamParserTest, UnknownFieldsAndMicrosecondsAreFine) {
  StreamParser p;
  Event e;
  auto r = p.Parse(
      R"({"stream":"btcusdt@kline_1m","extra":[1,{"a":2}],"data":{"e":"kline","E":1601630228469123,)"
      R"("new":"x","s":"BTCUSDT","k":{"t":1601630220000000,"T":1601630279999999,"s":"BTCUSDT",)"
      R"("i":"1m","o":"1","c":"2","h":"3","l":"0.5","v":"4","n":5,"x":true,"q":"6","V":"7",)"
      R"("Q":"8","B":"0","future":{"nested":true}}}})",
      &e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& k = std::get<KlineEvent>(e);
  EXPECT_EQ(k.event_time, 1601630228469123);
  EXPECT_EQ(k.close_time, 1601630279999999);
  EXPECT_TRUE(k.closed);
  EXPECT_EQ(k.taker_buy_quote, 8);
}

TEST(StreamParserTest, ControlRepliesAndOtherEventsAreIgnored) {
  StreamParser p;
  Event e;
  for (const char* m :
       {R"({"result":null,"id":1})",
        R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}})",
        R"({"e":"aggTrade","E":1,"s":"BTCUSDT"})"}) {
    auto r = p.Parse(m, &e);
    ASSERT_TRUE(r.ok()) << m;
    EXPECT_FALSE(*r) << m;
  }
  EXPECT_EQ(p.ignored(), 3);
  EXPECT_EQ(p.events(), 0);
}

TEST(StreamParserTest, MalformedMessagesAreErrorsAndTheParserGoesOn) {
  StreamParser p;
  Event e;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTC)", "broken JSON"},
      {R"([1,2])", "not a JSON object"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"abc","c":"2","h":"3","l":"1","v":"4","n":5,"x":true,"q":"6","V":"7","Q":"8"}})",
       "field k.o: not a number 'abc'"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"1","c":"2","h":"3","l":"1","v":"4","n":5,"q":"6","V":"7","Q":"8"}})",
       "kline: field k.x missing"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("s":"ETHUSDT","i":"1m","o":"1","c":"2","h":"3","l":"1","v":"4","n":5,"x":true,"q":"6",)"
       R"("V":"7","Q":"8"}})",
       "kline: k.s ETHUSDT differs from s BTCUSDT"},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"nan","T":1,"m":true})",
       "field q: not a number 'nan'"},
      {R"({"data":{"E":1}})", "field e missing"},
      // Values and times the lake cannot hold (core/bounds.h), and symbols Binance never has.
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"1","c":"2","h":"3","l":"1","v":"1e29","n":5,"x":true,"q":"6","V":"7",)"
       R"("Q":"8"}})",
       "kline: k.v 1e+29 out of range [0, 1e18]"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"0","c":"2","h":"3","l":"1","v":"4","n":5,"x":true,"q":"6","V":"7",)"
       R"("Q":"8"}})",
       "kline: k.o 0 out of range (0, 1e15]"},
      // The kline rules every source shares (model::ValidateKline), named as the payload does.
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"1","c":"5","h":"3","l":"1","v":"4","n":5,"x":true,"q":"6","V":"7",)"
       R"("Q":"8"}})",
       "kline: k.h 3 below max(open, close) 5"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":1601630220000,"T":1601630279999,)"
       R"("i":"1m","o":"1","c":"2","h":"3","l":"1","v":"-4","n":5,"x":true,"q":"6","V":"7",)"
       R"("Q":"8"}})",
       "kline: negative k.v -4"},
      {R"({"e":"kline","E":1601630228469,"s":"BTCUSDT","k":{"t":4102444800000,"T":4102444859999,)"
       R"("i":"1m","o":"1","c":"2","h":"3","l":"1","v":"4","n":5,"x":true,"q":"6","V":"7",)"
       R"("Q":"8"}})",
       "kline: open_time 2100-01-01T00:00:00Z is after now + 1m (2020-10-02T09:18:08.469000Z)"},
      {R"({"e":"trade","E":1,"s":"BTC/USDT","t":1,"p":"1","q":"1","T":1,"m":true})",
       "field s: symbol 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)"},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"2e18","T":1,"m":true})",
       "trade: q 2e+18 out of range [0, 1e18]"},
  };
  for (const auto& [msg, reason] : cases) {
    auto r = p.Parse(msg, &e);
    ASSERT_FALSE(r.ok()) << msg;
    EXPECT_NE(r.status().message().find(reason), std::string::npos)
        << r.status().message() << " / expected " << reason;
  }
  EXPECT_EQ(p.malformed(), static_cast<int64_t>(cases.size()));
  auto ok =
      p.Parse(R"({"e":"trade","E":1,"s":"BTCUSDT","t":9,"p":"1.5","q":"2","T":1,"m":false})", &e);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(std::get<TradeEvent>(e).trade_id, 9);
  // A lower-case symbol is the same series.
  ASSERT_TRUE(
      p.Parse(R"({"e":"trade","E":1,"s":"btcusdt","t":9,"p":"1.5","q":"2","T":1,"m":false})", &e)
          .ok());
  EXPECT_EQ(std::get<TradeEvent>(e).symbol, "BTCUSDT");
}

// The combined-stream path of the contract: kline_1m (and trade) per symbol, lower case.
TEST(StreamParserTest, PathNamesTheCombinedStreams) {
  StreamParser p;
  auto both = p.Path({"BTCUSDT", "ETHUSDT"}, /*trades=*/true);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(*both, "/stream?streams=btcusdt@kline_1m/btcusdt@trade/ethusdt@kline_1m/ethusdt@trade");
  auto klines = p.Path({"BTCUSDT"}, /*trades=*/false);
  ASSERT_TRUE(klines.ok()) << klines.status().ToString();
  EXPECT_EQ(*klines, "/stream?streams=btcusdt@kline_1m");
  auto bad = p.Path({"BTC USDT"}, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "websocket url: bad stream name 'btc usdt@kline_1m'");
  EXPECT_EQ(p.Path({}, true).status().message(), "websocket url: no streams to subscribe to");
}

}  // namespace
}  // namespace cryptolake::venues::binance
