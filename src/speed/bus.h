// The speed layer's bus: one interface, two implementations.
//   EmbeddedBus (this header)  in-process, the single-machine default: `cryptolake stream` runs
//                              producer and consumer in one process.
//   KafkaBus (kafka_bus.h)     Apache Kafka through librdkafka: idempotent producer, acks=all,
//                              keyed by symbol; consumer groups with manually committed offsets.
//
// Contract (both implementations):
//  * Publish(key, value) appends a message to the topic's partition for `key` (the same key
//    always maps to the same partition, so one symbol's messages stay in order). It may buffer;
//    Flush() returns once everything published so far is acknowledged (durable for Kafka) or
//    fails.
//  * A Consumer of group G receives every message published to the topic, per partition in
//    publish order, starting after the last offset committed by G (or from the beginning when G
//    has committed nothing). Poll returns up to `max` messages, waiting at most `timeout` for
//    the first one (0: don't wait); an empty vector means none arrived.
//  * Commit(messages) records, per partition, the offset after the last of `messages` for the
//    group. Consumers commit only after what they did with the messages is durable, so a
//    consumer that dies re-reads at most the uncommitted tail: delivery is at-least-once and the
//    view must be idempotent.
//  * Thread-safety: a Bus may be shared; each Producer and Consumer is used by one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace cryptolake::speed {

struct BusMessage {
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
};

class Producer {
 public:
  virtual ~Producer() = default;
  virtual Status Publish(const std::string& key, const std::string& value) = 0;
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual StatusOr<std::vector<BusMessage>> Poll(size_t max, std::chrono::milliseconds timeout) = 0;
  virtual Status Commit(const std::vector<BusMessage>& messages) = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  virtual StatusOr<std::unique_ptr<Producer>> NewProducer() = 0;
  virtual StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) = 0;
  virtual std::string Describe()
      const = 0;  // "embedded (4 partitions)", "kafka 127.0.0.1:9092 topic t"
};

// In memory: `partitions` append-only logs (key -> partition by a stable hash), committed
// offsets per group. Lost with the process; a restart resumes from what the consumer made
// durable (the view, the lake) and the producer heals the gap from REST.
class EmbeddedBus final : public Bus {
 public:
  explicit EmbeddedBus(int partitions = 4);
  StatusOr<std::unique_ptr<Producer>> NewProducer() override;
  StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override;
  std::string Describe() const override;

  // For the implementation's Producer/Consumer.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

// The partition of `key` among `partitions` (FNV-1a): the same in every implementation.
int32_t PartitionOf(const std::string& key, int partitions);

}  // namespace cryptolake::speed
