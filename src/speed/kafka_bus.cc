// KafkaBus through librdkafka's C API. See kafka_bus.h for the contract.
#include "speed/kafka_bus.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace cryptolake::speed {
namespace {

using Clock = std::chrono::steady_clock;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

int TimeoutMs(std::chrono::milliseconds t) {
  return static_cast<int>(std::clamp<int64_t>(t.count(), 0, 24LL * 3600 * 1000));
}

// librdkafka's own log lines (connection refused during a broker restart, ...) go to spdlog:
// they describe conditions librdkafka recovers from, so they are warnings at most.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const char* name = rk ? rd_kafka_name(rk) : "rdkafka";
  if (level <= 4) {
    spdlog::warn("kafka {} {}: {}", name, fac, buf);
  } else {
    spdlog::debug("kafka {} {}: {}", name, fac, buf);
  }
}

// A configuration with bootstrap.servers and the settings every handle shares.
StatusOr<Conf> BaseConf(const KafkaOptions& o,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  Conf conf(rd_kafka_conf_new());
  std::vector<std::pair<std::string, std::string>> kv = {
      {"bootstrap.servers", o.brokers},
      {"client.id", "cryptolake"},
      {"socket.connection.setup.timeout.ms", std::to_string(std::max(1000, TimeoutMs(o.timeout)))},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
      {"topic.metadata.refresh.interval.ms", "10000"},
  };
  kv.insert(kv.end(), extra.begin(), extra.end());
  char err[512];
  for (const auto& [k, v] : kv) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return InvalidArgument("kafka {}: config {}={}: {}", o.brokers, k, v, err);
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), LogToSpdlog);
  return conf;
}

// Takes ownership of `conf` (librdkafka does on success; we do on failure).
StatusOr<Handle> NewHandle(const KafkaOptions& o, rd_kafka_type_t type, Conf conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) return Internal("kafka {}: creating a client: {}", o.brokers, err);
  conf.release();
  return Handle(rk);
}

struct TopicState {
  int partitions = 0;  // in the metadata
  int led = 0;         // of which have a leader
};

// The topic's metadata: kUnavailable when no broker answers, kNotFound when the topic does not
// exist.
StatusOr<TopicState> DescribeTopic(rd_kafka_t* rk, const KafkaOptions& o, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &raw, std::max(1, timeout_ms));
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("kafka {}: {}", o.brokers, rd_kafka_err2str(e));
  }
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (o.topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return NotFound("kafka {}: topic {} does not exist", o.brokers, o.topic);
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: topic {}: {}", o.brokers, o.topic, rd_kafka_err2str(t.err));
    }
    TopicState st;
    st.partitions = t.partition_cnt;
    for (int p = 0; p < t.partition_cnt; ++p) {
      if (t.partitions[p].err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partitions[p].leader >= 0) {
        ++st.led;
      }
    }
    return st;
  }
  return NotFound("kafka {}: topic {} does not exist", o.brokers, o.topic);
}

// CreateTopics through the Admin API; "already exists" is success.
Status CreateTopic(rd_kafka_t* rk, const KafkaOptions& o, int timeout_ms) {
  char err[512];
  std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter> nt(
      rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, err, sizeof err));
  if (!nt) return InvalidArgument("kafka {}: topic {}: {}", o.brokers, o.topic, err);
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> ao(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(ao.get(), std::max(1, timeout_ms), err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(ao.get(), std::max(1, timeout_ms), err, sizeof err);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> q(rd_kafka_queue_new(rk));
  rd_kafka_NewTopic_t* topics[] = {nt.get()};
  rd_kafka_CreateTopics(rk, topics, 1, ao.get(), q.get());
  std::unique_ptr<rd_kafka_event_t, EventDeleter> ev(
      rd_kafka_queue_poll(q.get(), std::max(1, timeout_ms) + 1000));
  if (!ev) return Unavailable("kafka {}: creating topic {}: timed out", o.brokers, o.topic);
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("kafka {}: creating topic {}: {}", o.brokers, o.topic,
                       rd_kafka_event_error_string(ev.get()));
  }
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    const char* why = rd_kafka_topic_result_error_string(results[i]);
    return Unavailable("kafka {}: creating topic {}: {}", o.brokers, o.topic,
                       why ? why : rd_kafka_err2str(e));
  }
  return Status::Ok();
}

// --- Producer --------------------------------------------------------------------------------

class KafkaProducer final : public Producer {
 public:
  explicit KafkaProducer(KafkaOptions o) : opt_(std::move(o)) {}
  ~KafkaProducer() override {
    if (!rk_) return;
    if (rd_kafka_flush(rk_.get(), TimeoutMs(opt_.timeout)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka {}: producer closed with {} message(s) not acknowledged", opt_.brokers,
                   rd_kafka_outq_len(rk_.get()));
    }
  }

  Status Init() {
    ASSIGN_OR_RETURN(Conf conf, BaseConf(opt_, {{"enable.idempotence", "true"},
                                                {"acks", "all"},
                                                {"linger.ms", "1"},
                                                {"compression.type", "lz4"}}));
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::OnDelivery);
    rd_kafka_conf_set_opaque(conf.get(), this);
    ASSIGN_OR_RETURN(rk_, NewHandle(opt_, RD_KAFKA_PRODUCER, std::move(conf)));
    return Status::Ok();
  }

  Status Publish(const std::string& key, const std::string& value) override {
    rd_kafka_poll(rk_.get(), 0);  // serve delivery reports
    RETURN_IF_ERROR(TakeError());
    const int32_t partition = PartitionOf(key, opt_.partitions);
    const auto deadline = Clock::now() + opt_.timeout;
    for (;;) {
      rd_kafka_resp_err_t e =
          rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(opt_.topic.c_str()),
                            RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return Unavailable("kafka {}: publishing to {} [{}]: {}", opt_.brokers, opt_.topic,
                           partition, rd_kafka_err2str(e));
      }
      if (Clock::now() >= deadline) {
        return Unavailable("kafka {}: publishing to {}: local queue full for {} ms", opt_.brokers,
                           opt_.topic, opt_.timeout.count());
      }
      rd_kafka_poll(rk_.get(), 100);  // the queue drains as deliveries are acknowledged
      RETURN_IF_ERROR(TakeError());
    }
  }

  Status Flush(std::chrono::milliseconds timeout) override {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_.get(), TimeoutMs(timeout));
    RETURN_IF_ERROR(TakeError());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: flush: {} message(s) not acknowledged within {} ms",
                         opt_.brokers, rd_kafka_outq_len(rk_.get()), timeout.count());
    }
    return Status::Ok();
  }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<KafkaProducer*>(opaque);
    std::lock_guard lock(self->mu_);
    if (self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(m->err);
  }

  // Delivery failures reported since the last call, once; a fatal producer error, always.
  Status TakeError() {
    char buf[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
    if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: producer failed: {}", opt_.brokers, buf);
    }
    std::lock_guard lock(mu_);
    if (failed_ == 0) return Status::Ok();
    Status s = Unavailable("kafka {}: {} message(s) to {} not delivered: {}", opt_.brokers, failed_,
                           opt_.topic, first_error_);
    failed_ = 0;
    first_error_.clear();
    return s;
  }

  KafkaOptions opt_;
  std::mutex mu_;  // delivery reports (OnDelivery) against TakeError
  int64_t failed_ = 0;
  std::string first_error_;
  Handle rk_;  // last: destroyed first, while what its callbacks touch still exists
};

// --- Consumer --------------------------------------------------------------------------------

// Conditions librdkafka reports to the application but recovers from by itself. The group
// coordinator ones come after a broker restart, while the coordinator moves or loads (e.g.
// "Failed to fetch committed offsets for 0 partition(s) ...: Not coordinator"): the group's
// offsets are fetched again once it is back, and nothing was consumed meanwhile.
bool Transient(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
      return true;
    default:
      return false;
  }
}

class KafkaConsumer final : public Consumer {
 public:
  KafkaConsumer(KafkaOptions o, std::string group) : opt_(std::move(o)), group_(std::move(group)) {}
  ~KafkaConsumer() override {
    if (!rk_) return;
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk_.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka {}: closing consumer of group {}: {}", opt_.brokers, group_,
                   rd_kafka_err2str(e));
    }
  }

  Status Init() {
    ASSIGN_OR_RETURN(
        Conf conf,
        BaseConf(opt_, {{"group.id", group_},
                        {"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        {"auto.offset.reset", "earliest"},
                        {"enable.partition.eof", "false"},
                        {"fetch.wait.max.ms", "10"},
                        {"session.timeout.ms", std::to_string(TimeoutMs(opt_.session_timeout))},
                        {"heartbeat.interval.ms",
                         std::to_string(std::max(100, TimeoutMs(opt_.session_timeout) / 3))}}));
    ASSIGN_OR_RETURN(rk_, NewHandle(opt_, RD_KAFKA_CONSUMER, std::move(conf)));
    rd_kafka_poll_set_consumer(rk_.get());
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> topics(
        rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(topics.get(), opt_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), topics.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: subscribing group {} to {}: {}", opt_.brokers, group_,
                         opt_.topic, rd_kafka_err2str(e));
    }
    return Status::Ok();
  }

  StatusOr<std::vector<BusMessage>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    std::vector<BusMessage> out;
    if (!pending_.ok()) return std::exchange(pending_, Status::Ok());
    const auto deadline = Clock::now() + timeout;
    while (out.size() < max) {
      // Wait (up to the deadline) only for the first message; then take what is already here.
      int wait = 0;
      if (out.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        wait = TimeoutMs(left);
      }
      Message m(rd_kafka_consumer_poll(rk_.get(), wait));
      if (!m) {
        if (!out.empty() || Clock::now() >= deadline) break;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (Transient(m->err)) {
          spdlog::debug("kafka {}: consumer of group {}: {}", opt_.brokers, group_,
                        rd_kafka_message_errstr(m.get()));
          continue;
        }
        Status s = Unavailable("kafka {}: consuming {} for group {}: {}", opt_.brokers, opt_.topic,
                               group_, rd_kafka_message_errstr(m.get()));
        if (out.empty()) return s;
        pending_ = s;  // the messages first, the error on the next Poll
        break;
      }
      BusMessage bm;
      if (m->key) bm.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) bm.value.assign(static_cast<const char*>(m->payload), m->len);
      bm.partition = m->partition;
      bm.offset = m->offset;
      out.push_back(std::move(bm));
    }
    return out;
  }

  Status Commit(const std::vector<BusMessage>& messages) override {
    if (messages.empty()) return Status::Ok();
    std::map<int32_t, int64_t> next;  // partition -> offset after its last message
    for (const auto& m : messages) {
      auto [it, fresh] = next.emplace(m.partition, m.offset + 1);
      if (!fresh) it->second = std::max(it->second, m.offset + 1);
    }
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
        rd_kafka_topic_partition_list_new(static_cast<int>(next.size())));
    for (const auto& [p, off] : next) {
      rd_kafka_topic_partition_list_add(list.get(), opt_.topic.c_str(), p)->offset = off;
    }
    // Synchronous, but bounded by the bus's timeout (rd_kafka_commit would wait for a missing
    // group coordinator for as long as the session lasts).
    std::unique_ptr<rd_kafka_queue_t, QueueDeleter> q(rd_kafka_queue_new(rk_.get()));
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(rk_.get(), list.get(), q.get(), nullptr, nullptr);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: committing offsets of group {} on {}: {}", opt_.brokers, group_,
                         opt_.topic, rd_kafka_err2str(e));
    }
    std::unique_ptr<rd_kafka_event_t, EventDeleter> ev(
        rd_kafka_queue_poll(q.get(), TimeoutMs(opt_.timeout)));
    if (!ev) {
      return Unavailable("kafka {}: committing offsets of group {} on {}: no answer within {} ms",
                         opt_.brokers, group_, opt_.topic, opt_.timeout.count());
    }
    if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable("kafka {}: committing offsets of group {} on {}: {}", opt_.brokers, group_,
                         opt_.topic, rd_kafka_event_error_string(ev.get()));
    }
    if (const rd_kafka_topic_partition_list_t* done =
            rd_kafka_event_topic_partition_list(ev.get())) {
      for (int i = 0; i < done->cnt; ++i) {
        const auto& tp = done->elems[i];
        if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          return Unavailable("kafka {}: committing offset {} of {} [{}] for group {}: {}",
                             opt_.brokers, tp.offset, opt_.topic, tp.partition, group_,
                             rd_kafka_err2str(tp.err));
        }
      }
    }
    return Status::Ok();
  }

 private:
  KafkaOptions opt_;
  std::string group_;
  Handle rk_;
  Status pending_;
};

}  // namespace

StatusOr<std::unique_ptr<KafkaBus>> KafkaBus::Open(KafkaOptions options) {
  if (options.brokers.empty()) return InvalidArgument("kafka: no brokers given");
  if (options.topic.empty()) return InvalidArgument("kafka {}: no topic given", options.brokers);
  if (options.partitions <= 0) {
    return InvalidArgument("kafka {}: partitions must be positive, not {}", options.brokers,
                           options.partitions);
  }
  const auto deadline = Clock::now() + options.timeout;
  auto left = [&] {
    return TimeoutMs(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  // The admin client: a producer handle that never produces.
  ASSIGN_OR_RETURN(Conf conf, BaseConf(options, {}));
  ASSIGN_OR_RETURN(Handle admin, NewHandle(options, RD_KAFKA_PRODUCER, std::move(conf)));

  StatusOr<TopicState> st = DescribeTopic(admin.get(), options, left());
  if (!st.ok() && st.status().code() == StatusCode::kNotFound) {
    RETURN_IF_ERROR(CreateTopic(admin.get(), options, left()));
    st = DescribeTopic(admin.get(), options, left());
  }
  // A new topic shows in the metadata, and its partitions get leaders, shortly after creation.
  for (;;) {
    if (st.ok() && st->partitions > 0 && st->partitions < options.partitions) {
      return FailedPrecondition("kafka {}: topic {} has {} partition(s), {} needed",
                                options.brokers, options.topic, st->partitions, options.partitions);
    }
    if (st.ok() && st->led >= options.partitions) break;
    if (!st.ok() && st.status().code() != StatusCode::kNotFound) return st.status();
    if (left() <= 0) {
      return Unavailable(
          "kafka {}: topic {} not ready (partitions with a leader: {} of {}) after {} ms",
          options.brokers, options.topic, st.ok() ? st->led : 0, options.partitions,
          options.timeout.count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = DescribeTopic(admin.get(), options, left());
  }
  return std::unique_ptr<KafkaBus>(new KafkaBus(std::move(options)));
}

StatusOr<std::unique_ptr<Producer>> KafkaBus::NewProducer() {
  auto p = std::make_unique<KafkaProducer>(opt_);
  RETURN_IF_ERROR(p->Init());
  return std::unique_ptr<Producer>(std::move(p));
}

StatusOr<std::unique_ptr<Consumer>> KafkaBus::NewConsumer(const std::string& group) {
  if (group.empty()) return InvalidArgument("kafka {}: empty consumer group", opt_.brokers);
  auto c = std::make_unique<KafkaConsumer>(opt_, group);
  RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<Consumer>(std::move(c));
}

std::string KafkaBus::Describe() const {
  return fmt::format("kafka {} topic {}", opt_.brokers, opt_.topic);
}

}  // namespace cryptolake::speed
