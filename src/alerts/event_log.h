// The durable, append-only log of alert events: <dir>/events.jsonl, one event per line as
// ToJson (alerts/event.h) writes it, compact, each line ended by '\n'. Every consumer reads it by
// position: an event's index in the log (0, 1, ...) is its sequence number, which never changes
// (the webhook sinks keep their cursors as such indices, webhook.h).
//
// Contract:
//  * Open creates `dir` (durably) and events.jsonl if absent, and takes an exclusive lock on
//    <dir>/events.lock for the EventLog's life: a second EventLog over the same dir, in this
//    process or another, fails with kUnavailable "another process holds <dir>/events.lock".
//  * Open loads every line. A last line without its '\n' is what a crash in the middle of an
//    append leaves (that append had not returned, so none of its events was acknowledged): it
//    is truncated away (and the file fsynced), with a warning naming the file and the bytes
//    dropped. A complete line that is not an event is kDataLoss "<file>:<line>: <reason>" (line
//    1-based; reason "not JSON: <parser's message>" or FromJson's message), and the file is left
//    as it is. Nothing else is ever deleted or rewritten. A key found on two lines (a file
//    edited by hand) keeps both lines, each at its own index; Contains() is true for it.
//  * Append(events): events whose key is in the log already, or repeated earlier in the batch,
//    are skipped; the rest are appended in their order with ONE write() and one fsync, and
//    returned (so callers log and publish only the new ones). Only after the fsync are they
//    visible to Read/size/Contains/Recent and the waiters woken. A key must be non-empty and
//    free of control characters (it travels as an HTTP header): else kInvalidArgument "alert
//    event key '<key>' ..." and nothing of the batch is written. A failed write or fsync is
//    kIOError "append to <file>: <reason>": the file is cut back to its previous length and the
//    log is unchanged; if even that fails, every later Append returns that error.
//  * All methods are thread-safe (one mutex). Events are kept in memory (alerts are few: a
//    state change per rule per firing).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/event.h"
#include "core/fsutil.h"
#include "core/status.h"

namespace cryptolake::alerts {

class EventLog {
 public:
  static StatusOr<std::unique_ptr<EventLog>> Open(const std::filesystem::path& dir);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path file() const { return dir_ / "events.jsonl"; }

  // See the contract. Returns the events appended (those not in the log yet), in order.
  StatusOr<std::vector<AlertEvent>> Append(const std::vector<AlertEvent>& events);

  size_t size() const;
  // The events at indices [from, from + max), fewer at the end of the log; none past it.
  std::vector<AlertEvent> Read(size_t from, size_t max) const;
  bool Contains(const std::string& key) const;
  // The newest n events (all if fewer), oldest first.
  std::vector<AlertEvent> Recent(size_t n) const;

  // Blocks until size() > have or `stop` is true (stop is checked whenever the log is woken:
  // set it, then call Wake()). Returns size() > have. No timeout, no polling.
  bool WaitBeyond(size_t have, const std::atomic<bool>& stop) const;
  // Wakes every WaitBeyond, to re-check its stop flag.
  void Wake() const;

 private:
  EventLog(std::filesystem::path dir, int fd, FileLock lock);
  Status Load(const std::string& text);

  const std::filesystem::path dir_;
  const int fd_;  // events.jsonl, O_APPEND
  FileLock lock_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<AlertEvent> events_;
  std::unordered_map<std::string, size_t> index_;  // key -> its first index
  size_t bytes_ = 0;                               // the file's length
  std::optional<Status> broken_;                   // set when a failed append could not be undone
};

}  // namespace cryptolake::alerts
