// `cryptolake stream`: flags and config -> speed::RunStream on the chosen bus over the Binance
// adapter (venues/binance: its stream format, and its REST API under the gap healer), gaps healed
// by the REST backfill (backfill/healer.h) unless --no-heal.
#include <csignal>
#include <cstdio>

#include "alerts/live.h"
#include "app/commands.h"
#include "backfill/healer.h"
#include "exchange/governor.h"
#include "speed/kafka_bus.h"
#include "speed/stream.h"
#include "venues/binance/rest.h"
#include "venues/binance/stream_parser.h"

namespace cryptolake::app {

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

}  // namespace

int RunStream(Env& env, const StreamArgs& a) {
  const Config& cfg = env.config;
  speed::StreamOptions o;
  auto role = speed::ParseStreamRole(a.role);
  if (!role.ok()) return Fail(role.status().WithContext("--role"));
  o.role = *role;
  o.group = a.group;
  if (!a.member.empty() && o.role != speed::StreamRole::kConsumer) {
    return UsageFail(InvalidArgument("--member is for --role consumer"));
  }
  if (a.bus == "embedded" && o.role != speed::StreamRole::kBoth) {
    return UsageFail(InvalidArgument(
        "--role {} needs --bus kafka (the embedded bus lives in one process)", a.role));
  }
  o.symbols = SplitList(a.symbols.empty() ? cfg.symbols : a.symbols);
  o.ws.url = a.ws_url.empty() ? cfg.stream_url : a.ws_url;
  o.ws.stall_timeout = static_cast<Micros>(a.stall_timeout_seconds * kMicrosPerSecond);
  o.ws.rotate_after = static_cast<Micros>(a.rotate_after_seconds * kMicrosPerSecond);
  o.view_file = env.config.data_root / "speed" /
                (a.member.empty() ? std::string("view.duckdb") : "view-" + a.member + ".duckdb");
  o.append_every = static_cast<Micros>(a.append_every_seconds * kMicrosPerSecond);
  o.trades = !a.no_trades;
  if (a.until) {
    auto t = ParseTime(*a.until);
    if (!t.ok()) return Fail(t.status());
    o.until = *t;
  }
  if (a.duration_seconds > 0) {
    o.duration = static_cast<Micros>(a.duration_seconds * kMicrosPerSecond);
  }

  std::unique_ptr<speed::Bus> bus;
  if (a.bus == "embedded") {
    bus = std::make_unique<speed::EmbeddedBus>();
  } else if (a.bus == "kafka") {
    speed::KafkaOptions ko;
    ko.brokers = a.kafka_brokers;
    ko.topic = a.kafka_topic;
    ko.partitions = a.kafka_partitions;
    auto kb = speed::KafkaBus::Open(ko);
    if (!kb.ok()) return Fail(kb.status());
    bus = std::move(*kb);
  } else {
    return Fail(InvalidArgument("--bus must be embedded or kafka, got '{}'", a.bus));
  }

  const Clock& clock = env.lake->clock();
  exchange::RateGovernor governor(clock, {});
  venues::binance::RestOptions ro;
  ro.base_url = a.exchange.empty() ? cfg.exchange : a.exchange;
  venues::binance::BinanceRest rest(ro, governor, clock);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (o.role == speed::StreamRole::kProducer) {
    std::printf("stream: producer %s -> %s\n", o.ws.url.c_str(), bus->Describe().c_str());
  } else if (o.role == speed::StreamRole::kConsumer) {
    std::printf("stream: consumer (group %s) %s -> real-time view %s -> lake\n", o.group.c_str(),
                bus->Describe().c_str(), o.view_file.string().c_str());
  } else {
    std::printf("stream: %s -> %s -> real-time view %s\n", o.ws.url.c_str(),
                bus->Describe().c_str(), o.view_file.string().c_str());
  }
  std::fflush(stdout);
  backfill::BackfillHealer healer(*env.lake, rest);
  venues::binance::StreamParser format;
  o.format = &format;
  // Alert rules ([[alerts]]) where this process sees the candles: not in a producer.
  std::unique_ptr<alerts::LiveAlerts> alerts;
  std::unique_ptr<speed::RealtimeView> view;  // opened here when the alerts need to read it
  if (o.role != speed::StreamRole::kProducer) {
    alerts::LiveOptions lo;
    // The rules warm up from the lake and from the view's closed candles (those not yet
    // appended to the lake): the stream then writes the same view.
    auto rules = alerts::LoadAlertConfig(env.config.file);
    if (!rules.ok()) return Fail(rules.status());
    if (!rules->rules.empty()) {
      auto v = speed::RealtimeView::Open(*env.lake, o.view_file, o.view);
      if (!v.ok()) return Fail(v.status());
      view = std::move(*v);
      o.shared_view = view.get();
      lo.view = view.get();
    }
    lo.config_file = env.config.file;
    lo.data_root = env.config.data_root;
    if (!a.member.empty()) lo.dir_name = "alerts-" + a.member;  // each member its own log
    lo.symbols = o.symbols;
    lo.tick = a.alert_tick_seconds;
    auto la = alerts::LiveAlerts::Start(*env.lake, *env.con, clock, lo);
    if (!la.ok()) return Fail(la.status());
    alerts = std::move(*la);
    if (alerts) {
      alerts->Hook(o);
      alerts->SetGovernor(&governor);
    }
  }
  auto st = speed::RunStream(*env.lake, *bus, a.no_heal ? nullptr : &healer, o, g_stop);
  if (alerts) alerts->SetGovernor(nullptr);
  if (!st.ok()) return Fail(st.status());
  std::printf("%s\n", speed::FormatStreamSummary(*st).c_str());
  return 0;
}

}  // namespace cryptolake::app
