// The replay exchange's fault part (internal to cl_replay): the REST rate-limit emulation and the
// REST fault injection of replay.h ("Rate limit emulation", "Faults"), as one state machine that
// decides, per request and in arrival order, whether it is refused (429, 418, an injected 5xx)
// and how its response is delivered (normally, slow, truncated, dropped, corrupted). The parsers
// of FaultSpec and WsFaultSpec (replay.h) live here too; the WebSocket faults are applied by the
// WebSocket part (replay_ws.h).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "core/time.h"
#include "exchange/replay.h"
#include "exchange/replay_rest.h"

namespace cryptolake::exchange::replay {

// How a response is delivered (replay.h, "Faults"): kSlow held back FaultSpec::slow_delay of
// real time; kTruncate the headers with the full Content-Length and half the body, then the
// connection closes; kDrop closed without a response; kCorrupt the body cut in half.
enum class Action { kNormal, kSlow, kTruncate, kDrop, kCorrupt };

// The gate's decision on one request.
struct Admission {
  std::optional<Response> refusal;  // set: answer this (429, 418 or an injected 5xx)
  std::string fault;                // "" or the injected fault's name ("429", "slow", ...)
  Action action = Action::kNormal;
  int64_t used_weight = 0;  // X-MBX-USED-WEIGHT-1M after this request
};

// The weight limit, Retry-After windows, bans and fault draws of one exchange (all of 127.0.0.1
// is one client). Thread-safe: one lock around each decision, so concurrent requests are
// decided one at a time; the fault RNG (seeded with FaultSpec::seed) is drawn once per
// /api/v3/klines request that passed the limits, in the order they are decided.
class RestGate {
 public:
  // Reads weight_limit, ban_threshold, ban_seconds and faults of `opt` (must outlive the gate).
  explicit RestGate(const ReplayOptions& opt) : opt_(opt), rng_(opt.faults.seed) {}

  // Decides a request arriving at clock time `now` that costs `weight`; `klines` says it is an
  // /api/v3/klines request (the only ones faults are drawn for).
  Admission Admit(Micros now, int64_t weight, bool klines);

  // Adds status_429, status_418, earned_bans and faults to `c`.
  void AddCounters(ReplayCounters* c) const;

 private:
  // The fault drawn for a request that passed the limits, or "".
  std::string DrawFault();
  Response TooMuch(Micros now, Micros until);
  Response Banned(Micros now);

  const ReplayOptions& opt_;
  mutable std::mutex mu_;
  Micros window_ = INT64_MIN;  // start of the current clock minute
  int64_t used_ = 0;
  Micros retry_until_ = INT64_MIN;  // end of the current Retry-After window
  int ignored_ = 0;                 // requests inside that window after the 429
  Micros ban_until_ = INT64_MIN;
  std::mt19937_64 rng_;
  int64_t status_429_ = 0, status_418_ = 0, earned_bans_ = 0;
  std::map<std::string, int64_t> faults_;
};

}  // namespace cryptolake::exchange::replay
