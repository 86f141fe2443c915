// A webhook sink: delivers the events of an EventLog (alerts/event_log.h) to one JSON webhook,
// in log order, at least once, from a thread of its own.
//
// Contract:
//  * Each event is one POST to the URL: body ToJson(event), compact (invalid UTF-8 replaced);
//    headers "Content-Type: application/json", "Idempotency-Key: <event.key>",
//    "X-Cryptolake-Sequence: <the event's index in the log>", then the options' own headers.
//  * The answer decides:
//      2xx                               delivered: the cursor moves past the event;
//      408, 429, 5xx, 1xx, 3xx and every transport failure (refused, reset, timeout, ...)
//                                        retried: the same event again after a backoff of
//                                        backoff_initial * 2^k (k = 0, 1, ... for this event's
//                                        k-th failure) capped at backoff_max; event N+1 is never
//                                        sent before event N is delivered or rejected;
//      any other 4xx                     rejected for good: the event is appended to
//                                        webhook-<name>.rejected.jsonl (one ToJson a line),
//                                        logged at error level, and the cursor moves past it.
//    Nothing is dropped silently; a Retry-After header is not followed (the backoff is).
//  * State, in the log's dir: webhook-<name>.cursor holds the number of events delivered or
//    rejected ("<n>\n", replaced with WriteFileAtomic after each); webhook-<name>.log gets one
//    line per attempt, "<time ISO>\t<key>\t<attempt>\t<outcome>", outcome one of
//      "delivered (HTTP 200)"
//      "failed: HTTP 503, retrying in 4 s"
//      "failed: connection refused, retrying in 8 s"   (or "timeout after 10000 ms", "empty
//                                                       reply", or curl's text, redacted)
//      "rejected: HTTP 400 (kept in webhook-<name>.rejected.jsonl)"
//    The attempt number counts from 1 for each event in this sink's life (a restart counts
//    again). Times are the injected clock's.
//  * One sink per name over a log (the files are the name's). A new sink over the same dir
//    resumes at the cursor: an event whose POST was in flight when
//    the process died is sent again, with the same key and sequence (the receiver dedups on the
//    key); no other event is sent twice.
//  * Secrets: the URL and the header values are never written to the delivery log, the process
//    log (spdlog) or any Status this returns. The sink is named instead ("webhook 'ops'"), and
//    transport errors are reduced to their kind or redacted (every occurrence of the URL, its
//    part after the host, its user info, its host[:port], and each header value, of 4+
//    characters, becomes "<redacted>").
//  * Threads: Start() starts the thread (once; not again after Stop); Stop() (idempotent,
//    thread-safe; also the destructor) makes it end and returns when it has: a wait for events or a
//    backoff wait ends at once, a POST in flight is finished or times out (options.timeout) and its
//    outcome recorded. The accessors are thread-safe.
//  * Backoff waits run on the injected clock and Stop() interrupts them: on the system clock
//    (SystemClock::Instance()) the wait is a condition-variable wait; on any other clock (a
//    FakeClock in tests, the replay exchange's clock) it is that clock's SleepUntil in steps of
//    at most options.wait_step of the clock's time, Stop() checked between steps (a FakeClock
//    jumps, so tests wait for nothing).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alerts/event_log.h"
#include "core/status.h"
#include "core/time.h"

namespace cryptolake::exchange {
class HttpClient;
}

namespace cryptolake::alerts {

struct WebhookOptions {
  std::string name;                        // [A-Za-z0-9_-]+: in file names, logs and metrics
  std::string url;                         // http:// or https://; may carry a secret
  Micros timeout = 10 * kMicrosPerSecond;  // one POST, connecting included
  Micros backoff_initial = kMicrosPerSecond;
  Micros backoff_max = 60 * kMicrosPerSecond;
  // Extra request headers (e.g. {"Authorization", "Bearer ..."}); values may carry secrets.
  // Not Content-Type, Idempotency-Key nor X-Cryptolake-Sequence, which are the sink's.
  std::vector<std::pair<std::string, std::string>> headers;
  Micros wait_step = kMicrosPerSecond;  // see "Backoff waits" (clocks other than the system's)
  // Events of a lower severity (alerts::SeverityRank: 0 info, 1 warning, 2 critical) are passed
  // over: the cursor moves past them without a POST.
  int min_severity = 0;
};

class WebhookSink {
 public:
  // Checks the options (kInvalidArgument "webhook '<name>': <what is wrong>", never quoting the
  // URL or a header value) and reads the cursor: absent is 0; not a number, or beyond the log's
  // end, is kDataLoss "webhook '<name>': <cursor file>: ...". `log` and `clock` must outlive the
  // sink. Does not start the thread.
  static StatusOr<std::unique_ptr<WebhookSink>> Create(EventLog& log, WebhookOptions options,
                                                       const Clock& clock);
  ~WebhookSink();
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void Start();
  void Stop();

  const std::string& name() const { return opt_.name; }
  // Events delivered (2xx) / rejected (other 4xx) / failed attempts (retried) since Create.
  int64_t delivered() const { return delivered_.load(); }
  int64_t rejected() const { return rejected_.load(); }
  int64_t failures() const { return failures_.load(); }
  // The cursor: events delivered or rejected, over the sink's whole history.
  size_t cursor() const;
  // Events in the log not yet delivered or rejected.
  size_t pending() const;
  // The last failed attempt's outcome ("HTTP 503", "connection refused"; redacted), "" once an
  // event is delivered after it.
  std::string last_error() const;

  // Blocks until cursor() >= n; false if the thread ended (Stop) first. For tests and shutdown.
  bool WaitCursor(size_t n) const;
  // Blocks until nothing is pending or the wall-clock `deadline` passes (or the thread ended);
  // true when nothing is pending. For a shutdown that gives the receiver a last chance.
  bool Drain(std::chrono::steady_clock::time_point deadline) const;

 private:
  WebhookSink(EventLog& log, WebhookOptions options, const Clock& clock, size_t cursor);
  void Run();
  // Sends `e` (index `seq`) until it is delivered or rejected (true), or Stop() (false).
  bool Deliver(const AlertEvent& e, size_t seq);
  // Waits until the clock reaches `t`; false when stopped first.
  bool WaitUntil(Micros t);
  void Advance(size_t to);
  void Record(const AlertEvent& e, int attempt, const std::string& outcome);
  std::string Describe(const Status& failure) const;
  std::string Redact(std::string text) const;

  EventLog& log_;
  const WebhookOptions opt_;
  const Clock& clock_;
  std::unique_ptr<exchange::HttpClient> http_;  // used by the thread only
  std::vector<std::string> headers_;            // "Name: value", the options' headers
  std::vector<std::string> secrets_;            // what Redact() hides, longest first

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // cursor moves, Stop(), the end of the thread
  size_t cursor_;
  std::string last_error_;
  bool running_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> delivered_{0}, rejected_{0}, failures_{0};
  std::mutex join_mu_;  // one Stop() joins the thread
  std::thread thread_;
};

}  // namespace cryptolake::alerts
