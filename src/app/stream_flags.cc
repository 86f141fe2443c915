// `cryptolake stream`: its flags and help; RunStream (stream_cmd.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::FileNamePart;
using flags::IntIn;
using flags::NonEmpty;
using flags::OneOf;
using flags::Seconds;

Command RegisterStream(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<StreamArgs>();
  auto* c = app.add_subcommand(
      "stream", "Run the speed layer: live klines over WebSocket -> bus -> real-time view + lake");
  c->add_option("--ws", a->ws_url,
                "WebSocket base URL (default: stream_url in the config, "
                "wss://stream.binance.com:9443)")
      ->check(NonEmpty());
  c->add_option("--exchange", a->exchange,
                "REST base URL for healing gaps after reconnects (default: config)")
      ->check(NonEmpty());
  c->add_option("--symbol", a->symbols, "Symbols, repeatable or comma-separated (default: config)")
      ->transform(flags::SymbolList());
  c->add_option("--bus", a->bus, "embedded | kafka")->default_val("embedded")->check(NonEmpty());
  c->add_option("--kafka-brokers", a->kafka_brokers, "Kafka bootstrap servers")
      ->default_val("127.0.0.1:9092")
      ->check(NonEmpty());
  c->add_option("--kafka-topic", a->kafka_topic, "Kafka topic")
      ->default_val("cryptolake.events")
      ->check(NonEmpty());
  c->add_option("--kafka-partitions", a->kafka_partitions,
                "Partitions of the Kafka topic when it is created (the most consumers of a "
                "group that get work)")
      ->default_val(4)
      ->check(IntIn(1, 1024));
  c->add_option("--until", a->until,
                "Stop once every symbol has a closed candle at this open time (exchange time)")
      ->check(NonEmpty());
  c->add_option("--duration", a->duration_seconds, "Stop after this many seconds")
      ->check(Seconds());
  c->add_option("--append-every", a->append_every_seconds,
                "Seconds between appends of closed candles to the master dataset")
      ->default_val(60)
      ->check(Seconds());
  c->add_option("--alert-tick", a->alert_tick_seconds,
                "Seconds (wall time) between evaluations of the [[alerts]] health rules "
                "(silence, lag, gaps...); price rules run on every closed candle")
      ->default_val(1)
      ->check(Seconds());
  c->add_option("--stall-timeout", a->stall_timeout_seconds,
                "Reconnect after this many seconds without any frame")
      ->default_val(60)
      ->check(Seconds());
  c->add_option("--rotate-after", a->rotate_after_seconds,
                "Open a fresh connection after this many seconds (Binance closes at 24 h)")
      ->default_val(23 * 3600)
      ->check(Seconds());
  c->add_flag("--no-heal", a->no_heal, "Do not backfill gaps from REST after reconnects");
  c->add_flag("--no-trades", a->no_trades, "Do not subscribe to the trade streams");
  c->add_option("--role", a->role,
                "both (WebSocket -> bus -> view + lake in one process), producer (WebSocket "
                "-> bus only) or consumer (bus -> view + lake only, a consumer group member)")
      ->default_val("both")
      ->check(OneOf({"both", "producer", "consumer"}));
  c->add_option("--group", a->group, "Kafka consumer group of the consumers")
      ->default_val("cryptolake-view")
      ->check(NonEmpty());
  c->add_option("--member", a->member,
                "A consumer's name in its group: its view is <data>/speed/view-<member>.duckdb "
                "(give each consumer process its own; reuse it on restart)")
      ->check(FileNamePart());
  c->footer(
      "Subscribes to <symbol>@kline_1m and <symbol>@trade of every symbol, publishes normalized\n"
      "events to the bus (embedded by default, or Kafka), and consumes them into the real-time\n"
      "view (<data>/speed/view.duckdb: closed candles after the batch watermark, the open\n"
      "candle, daily bars). Closed candles are appended to the master dataset (source stream).\n"
      "Offsets are committed after the view is durable; after a kill, rerun it. Stops on\n"
      "SIGINT/SIGTERM, --until or --duration.\n"
      "Scale out with Kafka: one --role producer, and several --role consumer --member NAME in\n"
      "one --group; the group splits the partitions (symbols), a dead member's partitions move\n"
      "to the others, a restarted one rejoins. A consumer commits offsets only after its lake\n"
      "append, which never stores a key twice; with --until it stops once the lake holds that\n"
      "minute for every --symbol.");
  auto run = [a, &g] { return RunWithEnv(g, {}, [&](Env& env) { return RunStream(env, *a); }); };
  return {c, run};
}

}  // namespace cryptolake::app
