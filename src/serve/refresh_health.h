// The health of `up`'s periodic batch refresh, for /healthz (api.h), /metrics and the log.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "core/status.h"
#include "core/time.h"
#include "serve/metrics.h"

namespace cryptolake::serve {

// The periodic batch refresh's health (`up` refreshes the views on a thread of its own), shown
// in /healthz, /metrics and the log. Thread-safe.
//  * /healthz: {"status":"ok"} (200) until a refresh fails; from then until the next success, 503
//    with {"status":"unhealthy","batch_refresh":{"error":"<Status::ToString()>","failures":<n>,
//    "last_success":"<ISO time>"|null}} (failures: all failures since start).
//  * /metrics: cryptolake_batch_refresh_failures_total (counter) and
//    cryptolake_batch_refresh_last_success_seconds (gauge, Unix seconds of the last success, 0
//    before the first), registered in the constructor.
//  * the log: each failure at error level, "batch refresh failed (will retry): <status>".
class RefreshHealth {
 public:
  explicit RefreshHealth(Metrics& metrics);
  // Records the outcome of one refresh finished at `at`: a success, or its error.
  void Record(const Status& outcome, Micros at);
  // The /healthz answer's status and body (see above).
  std::pair<int, std::string> Healthz() const;

 private:
  Counter& failures_total_;
  Gauge& last_success_seconds_;
  mutable std::mutex mu_;
  Status last_error_;  // guarded by mu_; OK while the last refresh succeeded
  int64_t failures_ = 0;
  Micros last_success_ = 0;
};

}  // namespace cryptolake::serve
