// KafkaBus against a real single-node Kafka broker (KRaft), started by the CTest fixture
// (tests/speed/CMakeLists.txt: scripts/kafka.sh start CL_KAFKA_DIR) around these tests. Without a
// broker they fail, never skip. Each test uses its own topic and groups.
#include "speed/kafka_bus.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cryptolake::speed {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 4;
// Two symbols on different partitions (asserted below), so ordering is checked across two logs.
const std::string kKeyA = "BTCUSDT";
const std::string kKeyB = "SOLUSDT";
// Waits on the real broker (produce, flush, consume, a group's rebalance) cannot take an injected
// clock: they end on the awaited messages, with this deadline only so that a broker that never
// delivers fails the test with the count it got instead of hanging it. 120 s is more than ten
// times what any of them takes here (a few seconds), so a slow machine never reaches it.
constexpr std::chrono::seconds kBrokerDeadline = 120s;

// "127.0.0.1:<port>" of the fixture's broker, or "" (a failure) when there is none.
std::string BrokerAddress() {
  std::ifstream in(std::string(CL_KAFKA_DIR) + "/kafka.port");
  int port = 0;
  in >> port;
  if (port <= 0) {
    ADD_FAILURE() << "no broker: " << CL_KAFKA_DIR << "/kafka.port is missing; the CTest fixture "
                  << "kafka_broker_start (scripts/kafka.sh start) did not run or failed";
    return "";
  }
  return "127.0.0.1:" + std::to_string(port);
}

// A topic (and group prefix) unique to this test and run.
std::string Unique(const std::string& what) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fmt::format("cl.{}.{}.{}.{}", info->name(), what, getpid(),
                     Clock::now().time_since_epoch().count());
}

std::unique_ptr<KafkaBus> OpenBus() {
  KafkaOptions o;
  o.brokers = BrokerAddress();
  if (o.brokers.empty()) return nullptr;
  o.topic = Unique("topic");
  o.partitions = kPartitions;
  o.timeout = kBrokerDeadline;
  auto bus = KafkaBus::Open(o);
  EXPECT_TRUE(bus.ok()) << bus.status().ToString();
  return bus.ok() ? std::move(bus).value() : nullptr;
}

std::string Value(const std::string& key, int i) { return fmt::format("{}#{:04}", key, i); }

// Publishes n messages per key, interleaved (A0 B0 A1 B1 ...), and flushes.
void PublishInterleaved(Producer& p, int from, int to) {
  for (int i = from; i < to; ++i) {
    ASSERT_TRUE(p.Publish(kKeyA, Value(kKeyA, i)).ok());
    ASSERT_TRUE(p.Publish(kKeyB, Value(kKeyB, i)).ok());
  }
  Status s = p.Flush(kBrokerDeadline);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Polls until `n` messages arrived (or the deadline), then makes sure no more come.
std::vector<BusMessage> PollExactly(Consumer& c, size_t n,
                                    std::chrono::seconds within = kBrokerDeadline) {
  std::vector<BusMessage> got;
  const auto deadline = Clock::now() + within;
  while (got.size() < n && Clock::now() < deadline) {
    auto batch = c.Poll(50, 500ms);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return got;
    got.insert(got.end(), batch->begin(), batch->end());
  }
  auto extra = c.Poll(50, 1s);
  EXPECT_TRUE(extra.ok()) << extra.status().ToString();
  if (extra.ok()) got.insert(got.end(), extra->begin(), extra->end());
  EXPECT_EQ(got.size(), n);
  return got;
}

std::map<std::string, std::vector<std::string>> ByKey(const std::vector<BusMessage>& ms) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& m : ms) out[m.key].push_back(m.value);
  return out;
}

std::vector<std::string> Values(const std::string& key, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(Value(key, i));
  return v;
}

TEST(KafkaBus, KeysOnDifferentPartitions) {
  ASSERT_NE(PartitionOf(kKeyA, kPartitions), PartitionOf(kKeyB, kPartitions));
}

TEST(KafkaBus, PublishedMessagesComeBackPerKeyInOrderOnTheirPartition) {
  auto bus = OpenBus();
  ASSERT_TRUE(bus);
  EXPECT_EQ(bus->Describe().rfind(fmt::format("kafka {} topic cl.", BrokerAddress()), 0), 0u)
      << bus->Describe();
  constexpr int kN = 200;
  auto producer = bus->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  PublishInterleaved(**producer, 0, kN);

  auto consumer = bus->NewConsumer(Unique("group"));
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto got = PollExactly(**consumer, 2 * kN);
  std::map<int32_t, int64_t> next_offset;
  for (const auto& m : got) {
    EXPECT_EQ(m.partition, PartitionOf(m.key, kPartitions)) << m.key;
    EXPECT_EQ(m.offset, next_offset[m.partition]++) << m.key << " " << m.value;
  }
  auto by_key = ByKey(got);
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key[kKeyA], Values(kKeyA, 0, kN));
  EXPECT_EQ(by_key[kKeyB], Values(kKeyB, 0, kN));
}

TEST(KafkaBus, ConsumersOfDifferentGroupsEachGetEverything) {
  auto bus = OpenBus();
  ASSERT_TRUE(bus);
  constexpr int kN = 50;
  auto producer = bus->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  PublishInterleaved(**producer, 0, kN);

  auto c1 = bus->NewConsumer(Unique("group1"));
  auto c2 = bus->NewConsumer(Unique("group2"));
  ASSERT_TRUE(c1.ok() && c2.ok());
  for (auto* c : {c1->get(), c2->get()}) {
    auto by_key = ByKey(PollExactly(*c, 2 * kN));
    EXPECT_EQ(by_key[kKeyA], Values(kKeyA, 0, kN));
    EXPECT_EQ(by_key[kKeyB], Values(kKeyB, 0, kN));
  }
}

TEST(KafkaBus, NewConsumerOfTheGroupStartsAfterTheCommittedOffsets) {
  auto bus = OpenBus();
  ASSERT_TRUE(bus);
  constexpr int kN = 30;
  auto producer = bus->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  PublishInterleaved(**producer, 0, kN);
  const std::string group = Unique("group");
  {
    auto c = bus->NewConsumer(group);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto got = PollExactly(**c, 2 * kN);
    // Commit A0..A9 and B0..B19: per partition, the offset after the last of them.
    std::vector<BusMessage> done;
    int a = 0, b = 0;
    for (const auto& m : got) {
      if (m.key == kKeyA && a < 10) done.push_back(m), ++a;
      if (m.key == kKeyB && b < 20) done.push_back(m), ++b;
    }
    ASSERT_EQ(done.size(), 30u);
    Status s = (*c)->Commit(done);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  auto c = bus->NewConsumer(group);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto got = PollExactly(**c, (kN - 10) + (kN - 20));
  ASSERT_FALSE(got.empty());
  std::map<std::string, BusMessage> first;
  for (const auto& m : got) first.emplace(m.key, m);
  EXPECT_EQ(first[kKeyA].value, Value(kKeyA, 10));
  EXPECT_EQ(first[kKeyA].offset, 10);
  EXPECT_EQ(first[kKeyB].value, Value(kKeyB, 20));
  EXPECT_EQ(first[kKeyB].offset, 20);
  auto by_key = ByKey(got);
  EXPECT_EQ(by_key[kKeyA], Values(kKeyA, 10, kN));
  EXPECT_EQ(by_key[kKeyB], Values(kKeyB, 20, kN));
}

TEST(KafkaBus, UncommittedMessagesAreRedeliveredToTheNextConsumerOfTheGroup) {
  auto bus = OpenBus();
  ASSERT_TRUE(bus);
  constexpr int kN = 25;
  auto producer = bus->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  PublishInterleaved(**producer, 0, kN);
  const std::string group = Unique("group");
  {
    auto c = bus->NewConsumer(group);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto got = PollExactly(**c, 2 * kN);  // read, never committed
    ASSERT_EQ(got.size(), 2u * kN);
  }
  auto c = bus->NewConsumer(group);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto got = PollExactly(**c, 2 * kN);
  auto by_key = ByKey(got);
  EXPECT_EQ(by_key[kKeyA], Values(kKeyA, 0, kN));
  EXPECT_EQ(by_key[kKeyB], Values(kKeyB, 0, kN));
  // Committing everything now leaves nothing for the next one.
  Status s = (*c)->Commit(got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  c->reset();
  auto c3 = bus->NewConsumer(group);
  ASSERT_TRUE(c3.ok()) << c3.status().ToString();
  auto rest = (*c3)->Poll(10, 3s);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_TRUE(rest->empty()) << rest->front().value;
}

int RunScript(const std::string& verb) {
  std::string cmd = fmt::format("bash '{}' {} '{}'", CL_KAFKA_SH, verb, CL_KAFKA_DIR);
  return std::system(cmd.c_str());
}

TEST(KafkaBus, BrokerRestartMidStreamLosesAndDuplicatesNothing) {
  auto bus = OpenBus();
  ASSERT_TRUE(bus);
  constexpr int kN = 300;  // per key
  const std::string group = Unique("group");
  auto consumer = bus->NewConsumer(group);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();

  // The producer publishes steadily in its own thread while the broker stops and starts again.
  std::atomic<int> published{0};
  Status produced;
  std::thread writer([&] {
    auto producer = bus->NewProducer();
    if (!producer.ok()) {
      produced = producer.status();
      return;
    }
    for (int i = 0; i < kN; ++i) {
      for (const auto& key : {kKeyA, kKeyB}) {
        Status s = (*producer)->Publish(key, Value(key, i));
        if (!s.ok()) {
          produced = s;
          return;
        }
      }
      published = i + 1;
      std::this_thread::sleep_for(20ms);
    }
    produced = (*producer)->Flush(kBrokerDeadline);
  });

  // The consumer reads as it goes, before, during and after the restart, and commits what it
  // read while the broker is up.
  std::vector<BusMessage> got;
  auto consume_for = [&](auto d, bool commit) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) {
      auto batch = (*consumer)->Poll(100, 200ms);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      if (batch->empty()) continue;
      got.insert(got.end(), batch->begin(), batch->end());
      if (commit) {
        Status s = (*consumer)->Commit(*batch);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    }
  };
  while (published < kN / 4) consume_for(100ms, true);
  ASSERT_EQ(RunScript("stop"), 0);
  const int at_stop = published;
  consume_for(1s, false);  // the producer keeps publishing into its buffer while the broker is down
  ASSERT_EQ(RunScript("start"), 0);
  writer.join();
  ASSERT_TRUE(produced.ok()) << produced.ToString();
  EXPECT_LT(at_stop, kN) << "the stream ended before the broker was down";

  // Everything from the restarted broker, through a fresh group: exactly once each, in order.
  auto fresh = bus->NewConsumer(Unique("fresh"));
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto all = PollExactly(**fresh, 2 * kN);
  auto by_key = ByKey(all);
  EXPECT_EQ(by_key[kKeyA], Values(kKeyA, 0, kN));
  EXPECT_EQ(by_key[kKeyB], Values(kKeyB, 0, kN));

  // The consumer that lived through the restart ends with every message at least once, in order
  // per key once repeats of an uncommitted tail are removed.
  const auto until = Clock::now() + kBrokerDeadline;
  auto distinct = [&] {
    std::set<std::pair<int32_t, int64_t>> seen;
    for (const auto& m : got) seen.emplace(m.partition, m.offset);
    return seen.size();
  };
  while (distinct() < 2u * kN && Clock::now() < until) consume_for(500ms, true);
  std::map<std::string, std::vector<std::string>> dedup;
  std::set<std::pair<int32_t, int64_t>> seen;
  for (const auto& m : got) {
    if (seen.emplace(m.partition, m.offset).second) dedup[m.key].push_back(m.value);
  }
  EXPECT_EQ(dedup[kKeyA], Values(kKeyA, 0, kN));
  EXPECT_EQ(dedup[kKeyB], Values(kKeyB, 0, kN));
}

TEST(KafkaBus, OpenWithoutABrokerFailsUnavailableWithinTheTimeout) {
  // A port nobody listens on: bind an ephemeral port, then close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string brokers = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));

  KafkaOptions o;
  o.brokers = brokers;
  o.topic = "cl.nobroker";
  o.timeout = 2s;
  const auto t0 = Clock::now();
  auto bus = KafkaBus::Open(o);
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kUnavailable) << bus.status().ToString();
  EXPECT_EQ(bus.status().message().rfind("kafka " + brokers + ": ", 0), 0u)
      << bus.status().message();
  EXPECT_LT(took, 30s);  // gave up at about its 2 s (30 s: room for a slow machine)
}

}  // namespace
}  // namespace cryptolake::speed
