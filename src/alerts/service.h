// The alert service of a running `up` or `stream`: the engine (engine.h) fed with the stream's
// closed candles and ticked by a timer, its state changes made durable in the event log
// (event_log.h) and delivered: the process log, the API (Active/Recent/version, SSE) and every
// configured webhook (webhook.h).
//
// Contract:
//  * Files, all under `dir` (<data>/alerts): events.jsonl (the event log), state.json (the
//    engine's rule states and evaluated-through times, rewritten atomically after each change),
//    and the webhooks' cursor and delivery logs.
//  * Order of effects per batch of state changes: the event log append (fsync; events whose key
//    is already there are dropped) -> the process log line and metrics -> state.json. A crash
//    anywhere re-evaluates, after the restart, what state.json had not recorded: the same state
//    changes come out with the same keys and the log drops them, so nothing is raised twice and
//    nothing is lost.
//  * Warm(candles): history before going live (lake + real-time view). On the first start
//    over this dir (no state.json yet) nothing is raised for it: each symbol's evaluated-through
//    time becomes its newest candle. Later starts evaluate, as live, every candle after the
//    saved evaluated-through time (a restart catches up on what it had not evaluated).
//  * OnCandles / Tick / Warm are serialized by one mutex; Active, Recent and version are
//    thread-safe readers (the API's threads).
//  * Metrics (optional registry): cryptolake_alerts_active{rule,severity,symbol} (1 while
//    firing), cryptolake_alerts_fired_total{rule,severity}, and per webhook
//    cryptolake_alert_webhook_pending{sink} (at the scrape) and
//    cryptolake_alert_webhook_delivered_total / _failures_total{sink} (brought up to date at
//    every tick).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "alerts/engine.h"
#include "alerts/rules.h"
#include "core/status.h"
#include "core/time.h"
#include "model/kline.h"
#include "net/metrics.h"

namespace cryptolake::alerts {

class EventLog;
class WebhookSink;

struct ServiceOptions {
  std::filesystem::path dir;         // <data>/alerts
  std::vector<std::string> symbols;  // the configured symbols
  net::Metrics* metrics = nullptr;   // optional; must outlive the service
  // The webhooks' backoff clock (null: the system's): retries wait wall time even when the
  // rules run on the replay exchange's faster clock.
  const Clock* delivery_clock = nullptr;
};

class AlertService {
 public:
  // Opens the event log and the saved state, and starts the webhooks' delivery threads.
  static StatusOr<std::unique_ptr<AlertService>> Open(AlertConfig config, ServiceOptions options,
                                                      const Clock& clock);
  ~AlertService();  // stops delivery (an in-flight POST finishes or times out)

  Status Warm(std::vector<model::Kline> candles);
  Status OnCandles(const std::vector<model::Kline>& closed);
  Status Tick(const Health& health, const ConfirmedFn& confirmed);

  std::vector<AlertEvent> Active() const;
  std::vector<AlertEvent> Recent(size_t n) const;  // newest last
  uint64_t version() const { return version_.load(); }
  size_t rules() const;
  // The newest candle's open_time the price rules have evaluated for `symbol` (0: none).
  Micros EvaluatedThrough(const std::string& symbol) const;
  // The webhooks' delivery at shutdown: waits until every event is delivered or `wait` of
  // wall time passes (undelivered events stay queued on disk for the next start).
  void Drain(std::chrono::milliseconds wait);

 private:
  AlertService(AlertConfig config, ServiceOptions options, const Clock& clock);
  Status Emit(std::vector<AlertEvent> events);  // mu_ held
  Status SaveState();                           // mu_ held
  void SyncSinkMetrics();                       // mu_ held: the webhooks' counters, at a tick

  AlertConfig config_;
  ServiceOptions opt_;
  const Clock& clock_;
  mutable std::mutex mu_;
  Engine engine_;
  std::unique_ptr<EventLog> log_;
  std::vector<std::unique_ptr<WebhookSink>> sinks_;
  std::vector<std::pair<int64_t, int64_t>> sink_counts_;  // delivered, failures last synced
  std::vector<AlertEvent> active_;  // guarded by mu_: the engine's, after each change
  std::atomic<uint64_t> version_{0};
  bool fresh_ = false;  // no state.json at Open: the first start over this dir
};

}  // namespace cryptolake::alerts
