#include "alerts/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "alerts/event_log.h"
#include "alerts/webhook.h"
#include "core/fsutil.h"

namespace cryptolake::alerts {

namespace {

void LogEvent(const AlertEvent& e) {
  const std::string line =
      fmt::format("alert {} {} {}: {}", StateName(e.state), e.severity, e.rule, e.message);
  if (e.state == AlertState::kResolved || e.severity == "info") {
    spdlog::info("{}", line);
  } else if (e.severity == "warning") {
    spdlog::warn("{}", line);
  } else {
    spdlog::error("{}", line);
  }
}

}  // namespace

AlertService::AlertService(AlertConfig config, ServiceOptions options, const Clock& clock)
    : config_(std::move(config)),
      opt_(std::move(options)),
      clock_(clock),
      engine_(config_.rules, opt_.symbols, clock.Now()) {}

AlertService::~AlertService() {
  for (auto& s : sinks_) s->Stop();
}

StatusOr<std::unique_ptr<AlertService>> AlertService::Open(AlertConfig config,
                                                           ServiceOptions options,
                                                           const Clock& clock) {
  std::unique_ptr<AlertService> s(new AlertService(std::move(config), std::move(options), clock));
  ASSIGN_OR_RETURN(s->log_, EventLog::Open(s->opt_.dir));
  const auto state_file = s->opt_.dir / "state.json";
  std::error_code ec;
  s->fresh_ = !std::filesystem::exists(state_file, ec);
  if (!s->fresh_) {
    std::ifstream in(state_file, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    auto j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return DataLoss("{}: not JSON (the alert state; move it away to start afresh)",
                      state_file.string());
    }
    RETURN_IF_ERROR(s->engine_.RestoreState(j).WithContext(state_file.string()));
  }
  s->active_ = s->engine_.Active();
  if (s->opt_.metrics) {
    auto& active = s->opt_.metrics->AddGauge("cryptolake_alerts_active",
                                             "1 while the alert rule fires for the symbol",
                                             {"rule", "severity", "symbol"});
    for (const auto& e : s->active_) active.WithLabels({e.rule, e.severity, e.symbol}).Set(1);
    s->opt_.metrics->AddCounter("cryptolake_alerts_fired_total", "Alert firings since start",
                                {"rule", "severity"});
  }
  for (const auto& w : s->config_.webhooks) {
    WebhookOptions wo;
    wo.name = w.name;
    wo.url = w.url;
    wo.min_severity = SeverityRank(w.min_severity);
    wo.backoff_max = static_cast<Micros>(w.backoff_max_seconds) * kMicrosPerSecond;
    const Clock& dc = s->opt_.delivery_clock ? *s->opt_.delivery_clock : SystemClock::Instance();
    ASSIGN_OR_RETURN(auto sink, WebhookSink::Create(*s->log_, wo, dc));
    if (auto* m = s->opt_.metrics) {
      m->AddGauge("cryptolake_alert_webhook_pending",
                  "Alert events queued on disk for the webhook, not yet delivered", {"sink"})
          .WithLabels({w.name})
          .SetCallback([p = sink.get()] { return static_cast<double>(p->pending()); });
      // Created at 0, so that the first delivery or failure shows in increase().
      m->AddCounter("cryptolake_alert_webhook_delivered_total",
                    "Alert events the webhook accepted (2xx)", {"sink"})
          .WithLabels({w.name});
      m->AddCounter("cryptolake_alert_webhook_failures_total",
                    "Failed webhook attempts (retried), since start", {"sink"})
          .WithLabels({w.name});
    }
    sink->Start();
    s->sinks_.push_back(std::move(sink));
    s->sink_counts_.emplace_back(0, 0);
  }
  return s;
}

Status AlertService::Emit(std::vector<AlertEvent> events) {
  if (events.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto added, log_->Append(events));
  for (const auto& e : added) {
    LogEvent(e);
    if (opt_.metrics) {
      opt_.metrics
          ->AddGauge("cryptolake_alerts_active", "1 while the alert rule fires for the symbol",
                     {"rule", "severity", "symbol"})
          .WithLabels({e.rule, e.severity, e.symbol})
          .Set(e.state == AlertState::kFiring ? 1 : 0);
      if (e.state == AlertState::kFiring) {
        opt_.metrics
            ->AddCounter("cryptolake_alerts_fired_total", "Alert firings since start",
                         {"rule", "severity"})
            .WithLabels({e.rule, e.severity})
            .Inc();
      }
    }
  }
  active_ = engine_.Active();
  if (!added.empty()) ++version_;
  return Status::Ok();
}

Status AlertService::SaveState() {
  return WriteFileAtomic(opt_.dir / "state.json", engine_.SaveState().dump() + "\n");
}

Status AlertService::Warm(std::vector<model::Kline> candles) {
  std::lock_guard lock(mu_);
  std::sort(candles.begin(), candles.end(), [](const model::Kline& a, const model::Kline& b) {
    return std::tie(a.open_time, a.symbol) < std::tie(b.open_time, b.symbol);
  });
  std::map<std::string, Micros> newest;
  for (const auto& k : candles) newest[k.symbol] = std::max(newest[k.symbol], k.open_time);
  if (fresh_) {
    for (const auto& [sym, t] : newest) engine_.SetEvaluatedThrough(sym, t);
  }
  std::vector<AlertEvent> events;
  for (const auto& k : candles) {
    for (auto& e : engine_.Feed(k)) events.push_back(std::move(e));
  }
  RETURN_IF_ERROR(Emit(std::move(events)));
  return SaveState();
}

Status AlertService::OnCandles(const std::vector<model::Kline>& closed) {
  if (closed.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  std::vector<AlertEvent> events;
  for (const auto& k : closed) {
    for (auto& e : engine_.Feed(k)) events.push_back(std::move(e));
  }
  RETURN_IF_ERROR(Emit(std::move(events)));
  return SaveState();
}

void AlertService::SyncSinkMetrics() {
  if (!opt_.metrics) return;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    auto& [delivered, failures] = sink_counts_[i];
    const int64_t d = sinks_[i]->delivered(), f = sinks_[i]->failures();
    const std::string& name = sinks_[i]->name();
    opt_.metrics
        ->AddCounter("cryptolake_alert_webhook_delivered_total",
                     "Alert events the webhook accepted (2xx)", {"sink"})
        .WithLabels({name})
        .Inc(static_cast<double>(d - delivered));
    opt_.metrics
        ->AddCounter("cryptolake_alert_webhook_failures_total",
                     "Failed webhook attempts (retried), since start", {"sink"})
        .WithLabels({name})
        .Inc(static_cast<double>(f - failures));
    delivered = d;
    failures = f;
  }
}

Status AlertService::Tick(const Health& health, const ConfirmedFn& confirmed) {
  std::lock_guard lock(mu_);
  SyncSinkMetrics();
  auto events = engine_.Tick(clock_.Now(), health, confirmed);
  if (events.empty()) return Status::Ok();
  RETURN_IF_ERROR(Emit(std::move(events)));
  return SaveState();
}

std::vector<AlertEvent> AlertService::Active() const {
  std::lock_guard lock(mu_);
  return active_;
}

std::vector<AlertEvent> AlertService::Recent(size_t n) const { return log_->Recent(n); }

size_t AlertService::rules() const { return config_.rules.size(); }

Micros AlertService::EvaluatedThrough(const std::string& symbol) const {
  std::lock_guard lock(mu_);
  return engine_.EvaluatedThrough(symbol);
}

void AlertService::Drain(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (auto& s : sinks_) s->Drain(deadline);
}

}  // namespace cryptolake::alerts
