#include "speed/bus.h"

#include <fmt/format.h>

namespace cryptolake::speed {

int32_t PartitionOf(const std::string& key, int partitions) {
  uint32_t h = 2166136261u;  // FNV-1a, 32 bit
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int32_t>(h % static_cast<uint32_t>(partitions < 1 ? 1 : partitions));
}

struct EmbeddedBus::State {
  explicit State(int n) : logs(static_cast<size_t>(n)) {}
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<BusMessage>> logs;              // per partition, offset = index
  std::map<std::string, std::vector<int64_t>> committed;  // group -> next offset per partition
};

namespace {

class EmbeddedProducer final : public Producer {
 public:
  explicit EmbeddedProducer(std::shared_ptr<EmbeddedBus::State> s) : s_(std::move(s)) {}
  Status Publish(const std::string& key, const std::string& value) override {
    int32_t p = PartitionOf(key, static_cast<int>(s_->logs.size()));
    {
      std::lock_guard<std::mutex> l(s_->mu);
      auto& log = s_->logs[static_cast<size_t>(p)];
      log.push_back({key, value, p, static_cast<int64_t>(log.size())});
    }
    s_->cv.notify_all();
    return Status::Ok();
  }
  Status Flush(std::chrono::milliseconds) override { return Status::Ok(); }

 private:
  std::shared_ptr<EmbeddedBus::State> s_;
};

class EmbeddedConsumer final : public Consumer {
 public:
  EmbeddedConsumer(std::shared_ptr<EmbeddedBus::State> s, std::string group)
      : s_(std::move(s)), group_(std::move(group)) {
    std::lock_guard<std::mutex> l(s_->mu);
    auto& c = s_->committed[group_];
    c.resize(s_->logs.size(), 0);
    next_ = c;
  }

  StatusOr<std::vector<BusMessage>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    std::vector<BusMessage> out;
    std::unique_lock<std::mutex> l(s_->mu);
    auto collect = [&] {
      // Round-robin over partitions so one busy symbol does not starve the others.
      bool any = true;
      while (out.size() < max && any) {
        any = false;
        for (size_t p = 0; p < s_->logs.size() && out.size() < max; ++p) {
          auto& log = s_->logs[p];
          if (next_[p] < static_cast<int64_t>(log.size())) {
            out.push_back(log[static_cast<size_t>(next_[p]++)]);
            any = true;
          }
        }
      }
      return !out.empty();
    };
    if (!collect() && timeout.count() > 0) {
      s_->cv.wait_for(l, timeout, [&] { return collect(); });
    }
    return out;
  }

  Status Commit(const std::vector<BusMessage>& messages) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto& c = s_->committed[group_];
    for (const auto& m : messages) {
      auto p = static_cast<size_t>(m.partition);
      if (p >= c.size()) return InvalidArgument("commit: no partition {}", m.partition);
      c[p] = std::max(c[p], m.offset + 1);
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<EmbeddedBus::State> s_;
  std::string group_;
  std::vector<int64_t> next_;
};

}  // namespace

EmbeddedBus::EmbeddedBus(int partitions)
    : state_(std::make_shared<State>(partitions < 1 ? 1 : partitions)) {}

StatusOr<std::unique_ptr<Producer>> EmbeddedBus::NewProducer() {
  return std::unique_ptr<Producer>(std::make_unique<EmbeddedProducer>(state_));
}

StatusOr<std::unique_ptr<Consumer>> EmbeddedBus::NewConsumer(const std::string& group) {
  return std::unique_ptr<Consumer>(std::make_unique<EmbeddedConsumer>(state_, group));
}

std::string EmbeddedBus::Describe() const {
  return fmt::format("embedded ({} partitions)", state_->logs.size());
}

}  // namespace cryptolake::speed
