// The rate governor: one per process (or per IP), shared by every concurrent REST request.
//
// Binance counts REQUEST_WEIGHT per IP in one-minute windows (6000 by default) and reports the
// weight used so far in X-MBX-USED-WEIGHT-1M on every response. 429 means "over the limit": wait
// Retry-After seconds. Sending more after a 429 earns a 418 IP ban (2 minutes up to 3 days,
// Retry-After = seconds until it ends); during a ban every REST call must stop.
//
// Contract (all times from the injected Clock, so tests run on a FakeClock without waiting):
//  * Acquire(w) blocks until a request of weight w may be sent, then records it as sent:
//      - the weight sent in the last 60 s plus w stays <= budget (a sliding window, which bounds
//        every fixed one-minute window of the exchange too);
//      - the exchange's own count (the latest X-MBX-USED-WEIGHT-1M seen in this minute) plus the
//        weight sent since that response plus w stays <= budget; otherwise wait for the next
//        minute boundary (other clients on the same IP spend weight too);
//      - never before the end of a Retry-After (429) or ban (418) that has been reported.
//    Waiting is done with Clock::SleepUntil and re-checked after every wake-up, so a 429 reported
//    by another thread while this one waits is honoured.
//  * OnResponse(...) feeds back what a response said. A 429 blocks all Acquire() until
//    now + Retry-After (or the next minute boundary when the header is absent); a 418 blocks
//    until the later of now + Retry-After and the "banned until <ms>" time in the body (two
//    minutes, the shortest Binance ban, when it names neither). A block never gets shorter. Of the
//    used-weight counts reported within one minute the largest wins (a smaller one is an older
//    response that arrived late).
//  * Thread-safe. Every send and every 429/418 is appended to an in-memory event log (Events(), the
//    newest 2^19..2^20 events), which tests use to prove that no request went out inside a
//    Retry-After or ban. Events are logged under the lock, so their order is the order in which the
//    governor decided: a send logged after a 429/418 event never lies before its `until`.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace cryptolake::exchange {

struct GovernorOptions {
  int64_t weight_limit = 6000;   // the exchange's REQUEST_WEIGHT per minute
  double budget_fraction = 0.8;  // we use at most this share of it
  int64_t budget() const { return static_cast<int64_t>(weight_limit * budget_fraction); }
};

struct GovernorEvent {
  enum Kind { kSend, kRateLimited, kBanned };
  Kind kind = kSend;
  Micros at = 0;       // clock time of the send, or of receiving the 429/418
  Micros until = 0;    // 429/418: when sending may resume
  int64_t weight = 0;  // kSend: the request's weight
};

// What the governor knows now (RateGovernor::Usage): the weight used in the last minute (the
// larger of its own sliding count and the exchange's latest count of this minute plus what was
// sent since), the limit, and the end of a 418 ban still in force (0: none).
struct GovernorUsage {
  int64_t used = 0;
  int64_t limit = 0;
  Micros banned_until = 0;
};

class RateGovernor {
 public:
  RateGovernor(const Clock& clock, GovernorOptions options);

  // Blocks until a request of `weight` may go out (see the contract), records it, and returns
  // the clock time it was granted at.
  Micros Acquire(int64_t weight);

  // What a response said. `used_weight_1m`: X-MBX-USED-WEIGHT-1M if present. `retry_after`:
  // Retry-After in seconds if present. `banned_until`: from a 418 body, if it names one.
  void OnResponse(int status, std::optional<int64_t> used_weight_1m,
                  std::optional<int64_t> retry_after_seconds,
                  std::optional<Micros> banned_until = std::nullopt);

  const GovernorOptions& options() const { return opt_; }
  std::vector<GovernorEvent> Events() const;
  int64_t rate_limited() const;  // 429s seen
  int64_t banned() const;        // 418s seen
  GovernorUsage Usage() const;

 private:
  Micros EarliestSendLocked(Micros now, int64_t weight) const;
  void LogLocked(GovernorEvent e);

  const Clock& clock_;
  GovernorOptions opt_;
  mutable std::mutex mu_;
  std::deque<std::pair<Micros, int64_t>> sent_;  // (time, weight) in the last 60 s
  Micros blocked_until_ = 0;
  Micros ban_until_ = 0;  // the latest 418's end
  // The exchange's count: value, the clock minute it belongs to, and weight sent after it.
  int64_t server_used_ = 0;
  Micros server_minute_ = -1;
  int64_t sent_since_server_ = 0;
  std::vector<GovernorEvent> events_;
  int64_t n429_ = 0, n418_ = 0;
};

}  // namespace cryptolake::exchange
