// The alert service of `up` and `stream` (alerts/service.h) wired to what it watches: the
// stream's closed candles and health (speed/stream.h), the lake's history (warm-up) and
// confirmed-empty ranges, the REST governor's weight and bans, the last verify's errors, and a
// timer that ticks the health rules.
//
// Contract:
//  * Start returns null (no error) when the config file has no [[alerts]] rule. Otherwise it
//    opens the service at <data>/alerts, warms it with the lake's 1m history the rules need
//    (alerts::LookbackOf) plus the real-time view's closed candles when given, and starts the
//    timer thread: TickNow() every `tick` seconds of wall time (0: no thread; the caller calls
//    TickNow, as tests do on a fake clock), at `clock`'s time (the exchange's under the replay
//    exchange).
//  * Hook(options) makes the stream report to it: StreamOptions::health, and on_applied (chained
//    after an existing one) feeds the closed 1m candles once durable in the view. In a
//    consumer-only stream (no WebSocket) the consumed events stand for the messages.
//  * An alert failure (the event log cannot be written) is logged and retried at the next
//    candle or tick; it never stops the stream.
//  * ~LiveAlerts stops the timer and gives the webhooks up to 5 s to deliver what is queued
//    (the rest stays on disk for the next start).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/service.h"
#include "exchange/governor.h"
#include "lake/lake.h"
#include "lake/typed.h"
#include "speed/stream.h"
#include "speed/view.h"

namespace cryptolake::alerts {

struct LiveOptions {
  std::filesystem::path config_file;  // its [[alerts]] and [[webhooks]]; empty: none
  std::filesystem::path data_root;    // the service's files go to <data_root>/<dir_name>
  std::string dir_name = "alerts";    // a consumer-group member: alerts-<member> (one log each)
  std::vector<std::string> symbols;
  net::Metrics* metrics = nullptr;        // optional
  speed::RealtimeView* view = nullptr;    // optional: its closed candles warm the rules too
  speed::StreamHealth* health = nullptr;  // optional: the stream's (else one of its own)
  double tick = 1;                        // seconds of wall time between ticks; 0: no thread
};

class LiveAlerts {
 public:
  // `lake` and `con` (used during Start only for the warm-up) and `clock` must outlive it.
  static StatusOr<std::unique_ptr<LiveAlerts>> Start(lake::Lake& lake, lake::Connection& con,
                                                     const Clock& clock, LiveOptions options);
  ~LiveAlerts();
  // One evaluation of the health rules now (what the timer thread does).
  void TickNow();

  void Hook(speed::StreamOptions& options);
  // The governor whose weight and bans the weight and ban rules watch (may change per run).
  void SetGovernor(const exchange::RateGovernor* governor) { governor_ = governor; }
  AlertService& service() { return *service_; }
  speed::StreamHealth& health() { return *health_; }

 private:
  LiveAlerts(lake::Lake& lake, const Clock& clock, LiveOptions o)
      : lake_(lake), clock_(clock), opt_(std::move(o)) {}
  void Run(double tick);
  Health Sample() const;
  Ranges Confirmed(const std::string& symbol);

  lake::Lake& lake_;
  const Clock& clock_;
  LiveOptions opt_;
  std::unique_ptr<AlertService> service_;
  std::unique_ptr<speed::StreamHealth> own_health_;
  speed::StreamHealth* health_ = nullptr;
  std::atomic<const exchange::RateGovernor*> governor_{nullptr};
  std::mutex tick_mu_;  // one TickNow at a time; guards the two below
  std::string manifest_stamp_;
  std::map<std::string, Ranges> confirmed_;  // timer thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cryptolake::alerts
