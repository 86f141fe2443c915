// The embedded bus (speed/bus.h): FNV-1a partitioning, per-partition order, round-robin polls,
// per-group committed offsets and a consumer woken by a publish (no wall-clock wait: the poll's
// timeout is only a hang guard).
#include "speed/bus.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cryptolake::speed {
namespace {

// "key:value@partition/offset" of each message.
std::vector<std::string> Show(const std::vector<BusMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) {
    out.push_back(m.key + ":" + m.value + "@" + std::to_string(m.partition) + "/" +
                  std::to_string(m.offset));
  }
  return out;
}

std::vector<BusMessage> Poll(Consumer& c, size_t max) {
  auto r = c.Poll(max, std::chrono::milliseconds(0));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<BusMessage>{};
}

// 32-bit FNV-1a of the key modulo the partitions (hashes worked out by hand: BTCUSDT 3895251564,
// ETHUSDT 1617942128, SOLUSDT 1951001149, "" 2166136261).
TEST(BusTest, PartitionOfIsFnv1a) {
  EXPECT_EQ(PartitionOf("BTCUSDT", 4), 0);
  EXPECT_EQ(PartitionOf("ETHUSDT", 4), 0);
  EXPECT_EQ(PartitionOf("SOLUSDT", 4), 1);
  EXPECT_EQ(PartitionOf("ETHUSDT", 3), 2);
  EXPECT_EQ(PartitionOf("", 4), 1);
  EXPECT_EQ(PartitionOf("BTCUSDT", 0), 0);  // fewer than one partition counts as one
  EXPECT_EQ(PartitionOf("SOLUSDT", -2), 0);
}

TEST(BusTest, DescribeNamesThePartitions) {
  EXPECT_EQ(EmbeddedBus().Describe(), "embedded (4 partitions)");
  EXPECT_EQ(EmbeddedBus(3).Describe(), "embedded (3 partitions)");
  EXPECT_EQ(EmbeddedBus(0).Describe(), "embedded (1 partitions)");
}

TEST(BusTest, PollsRoundRobinInPublishOrderPerPartition) {
  EmbeddedBus bus(3);
  auto p = std::move(bus.NewProducer()).value();
  // BTCUSDT -> 0, ETHUSDT -> 2, SOLUSDT -> 1 of 3.
  for (const char* v : {"b1", "b2", "b3"}) ASSERT_TRUE(p->Publish("BTCUSDT", v).ok());
  ASSERT_TRUE(p->Publish("ETHUSDT", "e1").ok());
  ASSERT_TRUE(p->Publish("SOLUSDT", "s1").ok());
  ASSERT_TRUE(p->Flush(std::chrono::milliseconds(0)).ok());
  auto c = std::move(bus.NewConsumer("view")).value();
  EXPECT_EQ(Show(Poll(*c, 4)), (std::vector<std::string>{"BTCUSDT:b1@0/0", "SOLUSDT:s1@1/0",
                                                         "ETHUSDT:e1@2/0", "BTCUSDT:b2@0/1"}));
  EXPECT_EQ(Show(Poll(*c, 10)), (std::vector<std::string>{"BTCUSDT:b3@0/2"}));
  EXPECT_EQ(Show(Poll(*c, 10)), std::vector<std::string>{});
}

TEST(BusTest, AGroupResumesAfterItsLastCommitAndGroupsAreIndependent) {
  EmbeddedBus bus(2);
  auto p = std::move(bus.NewProducer()).value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(p->Publish("BTCUSDT", "m" + std::to_string(i)).ok());
  {
    auto c = std::move(bus.NewConsumer("g")).value();
    auto got = Poll(*c, 3);
    ASSERT_EQ(got.size(), 3u);
    // Committing m1 (offset 1) records offset 2 as the group's next; m2 read but not committed.
    ASSERT_TRUE(c->Commit({got[1]}).ok());
    ASSERT_TRUE(c->Commit({got[0]}).ok());  // an older offset never moves it back
  }
  auto again = std::move(bus.NewConsumer("g")).value();
  const int32_t part = PartitionOf("BTCUSDT", 2);
  const std::string at = "@" + std::to_string(part) + "/";
  EXPECT_EQ(Show(Poll(*again, 10)),
            (std::vector<std::string>{"BTCUSDT:m2" + at + "2", "BTCUSDT:m3" + at + "3"}));
  auto other = std::move(bus.NewConsumer("other")).value();
  EXPECT_EQ(Poll(*other, 10).size(), 4u);
  BusMessage bogus{"x", "y", 7, 0};
  EXPECT_EQ(again->Commit({bogus}).ToString(), "InvalidArgument: commit: no partition 7");
}

TEST(BusTest, AWaitingPollIsWokenByAPublish) {
  EmbeddedBus bus;
  auto c = std::move(bus.NewConsumer("g")).value();
  auto p = std::move(bus.NewProducer()).value();
  std::vector<BusMessage> got;
  std::thread consumer([&] {
    // Waits for the first message; 10 minutes is only a hang guard.
    auto r = c->Poll(10, std::chrono::minutes(10));
    if (r.ok()) got = *r;
  });
  ASSERT_TRUE(p->Publish("ETHUSDT", "hello").ok());
  consumer.join();
  EXPECT_EQ(Show(got), (std::vector<std::string>{"ETHUSDT:hello@0/0"}));
}

}  // namespace
}  // namespace cryptolake::speed
