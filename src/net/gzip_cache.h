// The HTTP server core's gzip copies of cached bodies (internal to cl_net; see
// "Compression" in http_server.h): made on a thread of the cache's own so that no io thread ever
// waits for a compression. Find() answers with what is ready and queues the rest; a new body equal
// to one already compressed (a handler that re-renders the same bytes) takes that copy at once.
// The kEntries most recently used bodies and their copies are kept alive. Thread-safe.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/gzip.h"

namespace cryptolake::net::internal {

class GzipCache {
 public:
  static constexpr size_t kEntries = 8;

  GzipCache() : worker_([this] { Run(); }) {}
  ~GzipCache() { Stop(); }

  // The gzip copy of `body` when it is ready, else null (queued once for compression; a body
  // whose compression failed, or is no smaller, stays null).
  std::shared_ptr<const std::string> Find(const std::shared_ptr<const std::string>& body) {
    std::lock_guard lock(mu_);
    ++tick_;
    for (Entry& e : entries_) {
      if (e.body != body) continue;
      e.used = tick_;
      return e.gz;
    }
    std::shared_ptr<const std::string> same;  // the copy of an equal body, if any
    for (const Entry& e : entries_) {
      if (e.gz && *e.body == *body) same = e.gz;  // sizes first, then bytes
    }
    if (entries_.size() == kEntries) {
      entries_.erase(
          std::min_element(entries_.begin(), entries_.end(),
                           [](const Entry& a, const Entry& b) { return a.used < b.used; }));
    }
    entries_.push_back(Entry{body, same, tick_});
    if (!same && !stop_) {
      queue_.push_back(body);
      cv_.notify_one();
    }
    return same;
  }

  // Returns once every copy queued so far is made (or failed), or the cache stopped.
  void Drain() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    idle_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Entry {
    std::shared_ptr<const std::string> body;  // kept alive: its address is its key
    std::shared_ptr<const std::string> gz;    // null until ready
    uint64_t used;
  };

  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      std::shared_ptr<const std::string> body = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::optional<std::string> gz = Gzip(*body);
      lock.lock();
      busy_ = false;
      if (gz && gz->size() < body->size()) {
        for (Entry& e : entries_) {
          if (e.body == body) e.gz = std::make_shared<const std::string>(std::move(*gz));
        }
      }
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;  // the queue ran empty (Drain)
  bool busy_ = false;                // the worker is compressing a body
  std::vector<Entry> entries_;       // at most kEntries
  std::deque<std::shared_ptr<const std::string>> queue_;
  uint64_t tick_ = 0;
  bool stop_ = false;
  std::thread worker_;  // last: starts once the members above exist
};

}  // namespace cryptolake::net::internal
