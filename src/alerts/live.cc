#include "alerts/live.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "alerts/history.h"
#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::alerts {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

// The errors of the last `cryptolake verify` (<data>/alerts/verify.json), -1 when unknown.
int64_t LastVerifyErrors(const std::filesystem::path& data_root) {
  std::ifstream in(data_root / "alerts" / "verify.json", std::ios::binary);
  if (!in) return -1;
  std::stringstream buf;
  buf << in.rdbuf();
  auto j = nlohmann::json::parse(buf.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("errors") || !j["errors"].is_number_integer()) return -1;
  return j["errors"].get<int64_t>();
}

}  // namespace

StatusOr<std::unique_ptr<LiveAlerts>> LiveAlerts::Start(lake::Lake& lake, lake::Connection& con,
                                                        const Clock& clock, LiveOptions o) {
  ASSIGN_OR_RETURN(AlertConfig cfg, LoadAlertConfig(o.config_file));
  if (cfg.rules.empty()) return std::unique_ptr<LiveAlerts>();
  std::unique_ptr<LiveAlerts> a(new LiveAlerts(lake, clock, std::move(o)));
  const LiveOptions& opt = a->opt_;
  const Micros lookback = LookbackOf(cfg.rules);
  const size_t n_rules = cfg.rules.size(), n_hooks = cfg.webhooks.size();
  ServiceOptions so;
  so.dir = opt.data_root / opt.dir_name;
  so.symbols = opt.symbols;
  so.metrics = opt.metrics;
  ASSIGN_OR_RETURN(a->service_, AlertService::Open(std::move(cfg), so, clock));
  if (opt.health) {
    a->health_ = opt.health;
  } else {
    a->own_health_ = std::make_unique<speed::StreamHealth>(clock);
    a->health_ = a->own_health_.get();
  }
  // Warm-up: the lake's newest `lookback` of 1m candles per symbol, and the view's.
  std::vector<model::Kline> warm;
  ASSIGN_OR_RETURN(auto snap, lake.GetSnapshot());
  const auto last = lake::LastOpenTimes(snap, k1m);
  for (const auto& s : opt.symbols) {
    if (auto it = last.find(s); it != last.end()) {
      lake::KlineFilter f;
      f.symbol = s;
      f.from = it->second - lookback;
      lake::KlineRead r;
      r.ohlcv_only = true;
      ASSIGN_OR_RETURN(auto ks, lake::ReadKlines(con, snap, k1m, f, r));
      warm.insert(warm.end(), ks.begin(), ks.end());
    }
    if (opt.view) {
      for (const auto& c : opt.view->Read(s).closed) warm.push_back(c);
    }
  }
  RETURN_IF_ERROR(a->service_->Warm(std::move(warm)));
  spdlog::info("alerts: {} rules, {} webhooks; events in {}", n_rules, n_hooks,
               (so.dir / "events.jsonl").string());
  if (opt.tick > 0) a->thread_ = std::thread([p = a.get(), t = opt.tick] { p->Run(t); });
  return a;
}

LiveAlerts::~LiveAlerts() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (service_) service_->Drain(std::chrono::seconds(5));
}

void LiveAlerts::Hook(speed::StreamOptions& so) {
  so.health = health_;
  auto prev = std::move(so.on_applied);
  const bool consumer_only = so.role == speed::StreamRole::kConsumer;
  so.on_applied = [this, prev = std::move(prev), consumer_only](
                      const std::vector<speed::Event>& events, const speed::ApplyStats& stats) {
    if (prev) prev(events, stats);
    // A consumer-only process has no WebSocket: its silence and lag are those of what it
    // consumes.
    if (consumer_only && !events.empty()) {
      std::visit([&](const auto& ev) { health_->OnMessage(ev.event_time); }, events.back());
    }
    std::vector<model::Kline> closed;
    for (const auto& e : events) {
      const auto* k = std::get_if<speed::KlineEvent>(&e);
      if (k && k->closed && k->interval == "1m") closed.push_back(*k);
    }
    if (Status s = service_->OnCandles(closed); !s.ok()) {
      spdlog::error("alerts: evaluating {} candles failed (retried with the next): {}",
                    closed.size(), s.message());
    }
  };
}

Health LiveAlerts::Sample() const {
  Health h;
  h.last_message_at = health_->last_message_at();
  h.last_event_time = health_->last_event_time();
  h.reconnect_times = health_->ReconnectTimes();
  if (const auto* g = governor_.load()) {
    const auto u = g->Usage();
    h.weight_share = u.limit > 0 ? static_cast<double>(u.used) / u.limit : 0;
    h.banned = u.banned_until != 0;
  }
  h.verify_errors = LastVerifyErrors(opt_.data_root);
  return h;
}

Ranges LiveAlerts::Confirmed(const std::string& symbol) {
  const std::string stamp = lake_.ManifestStamp();
  if (stamp != manifest_stamp_) {
    auto snap = lake_.GetSnapshot();
    if (!snap.ok()) return confirmed_[symbol];  // the last known; retried at the next tick
    manifest_stamp_ = stamp;
    confirmed_.clear();
    for (const auto& s : opt_.symbols) {
      for (const auto& r : lake::ConfirmedEmpty(snap->manifest(), lake::KlinesDataset(k1m), s)) {
        confirmed_[s].push_back(r);
      }
    }
  }
  return confirmed_[symbol];
}

void LiveAlerts::TickNow() {
  std::lock_guard lock(tick_mu_);
  Status s = service_->Tick(Sample(), [this](const std::string& sym) { return Confirmed(sym); });
  if (!s.ok()) spdlog::error("alerts: tick failed (retried at the next): {}", s.message());
}

void LiveAlerts::Run(double tick) {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::duration<double>(tick), [&] { return stop_; })) {
    lock.unlock();
    TickNow();
    lock.lock();
  }
}

}  // namespace cryptolake::alerts
