// `cryptolake up`: its flags and help; RunUp (serve_cmd.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::NonEmpty;
using flags::NonEmptyList;
using flags::Number;
using flags::Seconds;

Command RegisterUp(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<UpArgs>();
  auto* c = app.add_subcommand(
      "up", "Run the whole Lambda: import, backfill, batch views, stream, serve, refresh");
  c->add_option("--replay", a->replay,
                "Run against the replay exchange serving these kline files/dirs, repeatable or "
                "comma-separated (offline); default: Binance")
      ->check(NonEmptyList());
  c->add_option("--start", a->start, "Replay: exchange time at start (default: end of data)")
      ->check(NonEmpty());
  c->add_option("--speed", a->speed, "Replay: exchange seconds per real second")
      ->default_val(1.0)
      ->check(Number(0, true, 1e6, false));
  c->add_option("--import", a->import_paths, "Import these files first (repeatable)")
      ->check(NonEmpty());
  c->add_option("--interval", a->intervals,
                "Backfill intervals, repeatable or comma-separated (default: config, 1m)")
      ->check(NonEmptyList());
  c->add_option("--from", a->from,
                "Backfill from this day (default: [backfill] start in the config, else "
                "2017-08-17, Binance spot's first day)")
      ->check(NonEmpty());
  c->add_flag("--no-backfill", a->no_backfill, "Skip the backfill");
  c->add_flag("--no-serve", a->no_serve, "Do not start the HTTP server");
  AddServeFlags(c, a->serve);
  c->add_option("--port-file", a->port_file,
                "Write the HTTP port here once listening (not inside the lake)")
      ->check(NonEmpty());
  c->add_option("--batch-every", a->batch_every_seconds, "Seconds between batch refreshes")
      ->default_val(300)
      ->check(Seconds());
  c->add_option("--forecast-models", a->forecast_models,
                "The models the forecasts select among, repeatable or comma-separated (default: "
                "every suite model but prophet, whose own forecast is still written beside)")
      ->check(NonEmpty());
  c->add_option("--batch-duty", a->batch_duty,
                "Share of wall time a periodic batch refresh may run: it sleeps between its "
                "queries for the rest, so that serving keeps its latency")
      ->default_val(kBackgroundDuty)
      ->check(DutyCheck());
  c->add_option("--append-every", a->append_every_seconds,
                "Seconds between appends of streamed candles to the master dataset")
      ->default_val(60)
      ->check(Seconds());
  c->add_option("--alert-tick", a->alert_tick_seconds,
                "Seconds (wall time) between evaluations of the [[alerts]] health rules "
                "(silence, lag, gaps...); price rules run on every closed candle")
      ->default_val(1)
      ->check(Seconds());
  c->add_option("--until", a->until,
                "Stop once every symbol has a closed candle at this open time (exchange time)")
      ->check(NonEmpty());
  c->add_option("--duration", a->duration_seconds, "Stop after this many seconds")
      ->check(Seconds());
  c->footer(
      "In order: the replay exchange (with --replay), import (with --import), backfill of the\n"
      "configured symbols and intervals from [backfill] start, the batch views, then the\n"
      "stream (embedded bus) and the HTTP server together, with a batch refresh every\n"
      "--batch-every seconds. The forecasts (forecast predict --model auto) are computed in the\n"
      "background once serving has started (the API answers 404 for a symbol until its first\n"
      "one is written), then after a refresh that brings a new complete day.\n"
      "SIGINT/SIGTERM stop it cleanly: the stream drains the bus and\n"
      "appends its last candles, a last batch refresh runs, and nothing is lost.");
  auto run = [a, &g] {
    BlockStopSignals();
    return RunWithEnv(g, {/*lake=*/false, {{"--port-file", a->port_file}}},
                      [&](Env& env) { return RunUp(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
