// The Kafka implementation of the bus (bus.h) through librdkafka.
//
// Contract, beyond bus.h:
//  * Producer: enable.idempotence=true, acks=all; the partition of a message is
//    PartitionOf(key, partitions) (bus.h), so the embedded bus and Kafka place a symbol alike.
//    Publish errors that librdkafka reports asynchronously surface from the next Publish or from
//    Flush as kUnavailable with librdkafka's reason.
//  * Consumer: group.id = the group, enable.auto.commit=false, auto.offset.reset=earliest;
//    Commit() commits synchronously the offsets after the given messages. Members of one group
//    split the topic's partitions; a member that dies (SIGKILL) is dropped from the group after
//    `session_timeout` without heartbeats (session.timeout.ms; heartbeats every third of it),
//    and its partitions go to the others from their last committed offsets.
//  * Open() creates the topic with `partitions` partitions (replication factor 1) if it does not
//    exist, and fails with kUnavailable "kafka <brokers>: <reason>" when no broker answers
//    within `timeout`.
//  * A broker restart is survived: librdkafka reconnects; an idempotent producer does not
//    duplicate what it retries.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "speed/bus.h"

namespace cryptolake::speed {

struct KafkaOptions {
  std::string brokers = "127.0.0.1:9092";
  std::string topic = "cryptolake.events";
  int partitions = 4;
  std::chrono::milliseconds timeout{10000};
  // The broker's group.min.session.timeout.ms (default 6 s) is the least it accepts.
  std::chrono::milliseconds session_timeout{6000};
};

class KafkaBus final : public Bus {
 public:
  static StatusOr<std::unique_ptr<KafkaBus>> Open(KafkaOptions options);
  StatusOr<std::unique_ptr<Producer>> NewProducer() override;
  StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override;
  std::string Describe() const override;

 private:
  explicit KafkaBus(KafkaOptions o) : opt_(std::move(o)) {}
  KafkaOptions opt_;
};

}  // namespace cryptolake::speed
