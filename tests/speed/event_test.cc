#include "speed/event.h"

#include <gtest/gtest.h>

#include "speed/bus.h"

namespace cryptolake::speed {
namespace {

KlineEvent SampleKline() {
  KlineEvent k;
  k.symbol = "BTCUSDT";
  k.event_time = 1653818762502000;
  k.open_time = 1653818760000000;
  k.close_time = 1653818819999000;
  k.open = 29038.46;
  k.high = 29038.47;
  k.low = 29038.46;
  k.close = 29038.47;
  k.volume = 0.20926;
  k.quote_volume = 6076.5891832;
  k.taker_buy_base = 0.10436;
  k.taker_buy_quote = 3030.4547292;
  k.trades = 31;
  k.closed = true;
  return k;
}

TEST(EventCodecTest, RoundTripsBitForBit) {
  Event k = SampleKline();
  auto back = Decode(Encode(k));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::get<KlineEvent>(*back), std::get<KlineEvent>(k));
  TradeEvent t{"ETHUSDT", 1639351062244000, 705291099, 4149.74, 0.4387, 1639351062243000, true};
  auto tb = Decode(Encode(t));
  ASSERT_TRUE(tb.ok());
  EXPECT_EQ(std::get<TradeEvent>(*tb), t);
  EXPECT_EQ(SymbolOf(*tb), "ETHUSDT");
}

TEST(EventCodecTest, BrokenPayloadsAreErrorsNotCrashes) {
  std::string good = Encode(Event(SampleKline()));
  EXPECT_EQ(Decode("").status().message(), "event payload: 0 bytes, too short for a header");
  EXPECT_EQ(Decode(std::string("\x02\x01", 2)).status().message(),
            "event payload: format version 2, expected 1");
  EXPECT_EQ(Decode(std::string("\x01\x09", 2)).status().message(),
            "event payload: unknown event type 9");
  for (size_t n = 2; n < good.size(); ++n) {
    auto r = Decode(good.substr(0, n));
    EXPECT_FALSE(r.ok()) << n;
  }
  EXPECT_EQ(Decode(good + "x").status().message(), "event payload: 1 trailing bytes");
}

TEST(EmbeddedBusTest, KeyedOrderGroupsAndCommittedOffsets) {
  EmbeddedBus bus(4);
  auto prod = bus.NewProducer();
  ASSERT_TRUE(prod.ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*prod)->Publish(i % 2 ? "BTCUSDT" : "ETHUSDT", std::to_string(i)).ok());
  }
  auto c1 = bus.NewConsumer("view");
  ASSERT_TRUE(c1.ok());
  auto first = (*c1)->Poll(30, std::chrono::milliseconds(0));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 30u);
  ASSERT_TRUE((*c1)->Commit(*first).ok());
  // Per key, in publish order; each key in its PartitionOf partition.
  std::map<std::string, int> last;
  for (const auto& m : *first) {
    EXPECT_EQ(m.partition, PartitionOf(m.key, 4));
    int v = std::stoi(m.value);
    if (last.count(m.key)) {
      EXPECT_GT(v, last[m.key]);
    }
    last[m.key] = v;
  }
  // A new consumer of the same group starts after the committed offsets; another group sees all.
  auto c2 = bus.NewConsumer("view");
  auto rest = (*c2)->Poll(1000, std::chrono::milliseconds(0));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 70u);
  auto other = bus.NewConsumer("audit");
  auto all = (*other)->Poll(1000, std::chrono::milliseconds(0));
  EXPECT_EQ(all->size(), 100u);
  auto none = (*other)->Poll(10, std::chrono::milliseconds(1));
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(bus.Describe(), "embedded (4 partitions)");
}

TEST(EmbeddedBusTest, PartitionOfIsStable) {
  // FNV-1a: fixed values, so Kafka and the embedded bus place a symbol alike forever.
  EXPECT_EQ(PartitionOf("BTCUSDT", 4), PartitionOf("BTCUSDT", 4));
  EXPECT_EQ(PartitionOf("", 4), static_cast<int32_t>(2166136261u % 4));
  EXPECT_EQ(PartitionOf("a", 1000), static_cast<int32_t>(0xe40c292cu % 1000));
}

}  // namespace
}  // namespace cryptolake::speed
