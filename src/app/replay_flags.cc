// `cryptolake replay-exchange`: its flags and help; RunReplayExchange (replay_cmd.cc) runs it,
// without an Env: it never opens the lake at the global --data root.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntAtLeast;
using flags::IntIn;
using flags::NonEmpty;
using flags::Number;
using flags::Seed;

Command RegisterReplayExchange(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ReplayArgs>();
  auto* c = app.add_subcommand(
      "replay-exchange",
      "Serve recorded klines as a Binance-compatible REST API and WebSocket streams on a local "
      "port (tests, demo)");
  c->add_option("--data", a->data,
                "A lake root, or kline files, directories or globs as for import (repeatable)")
      ->required()
      ->check(NonEmpty());
  c->add_option("--host", a->host, "Address to listen on")
      ->default_val("127.0.0.1")
      ->check(NonEmpty());
  c->add_option("--port", a->port, "Port (0: an ephemeral one)")
      ->default_val(0)
      ->check(IntIn(0, 65535));
  c->add_option("--port-file", a->port_file,
                "Write the bound port to this file (atomically; not inside a lake)")
      ->check(NonEmpty());
  c->add_option("--speed", a->speed, "Exchange seconds per real second")
      ->default_val(1.0)
      ->check(Number(0, true, 1e6, false));
  c->add_option("--start", a->start,
                "Exchange time at start, e.g. 2021-05-01T12:00:00Z (default: the end of the "
                "data)")
      ->check(NonEmpty());
  c->add_option("--faults", a->faults, "Fault spec (see below)")
      ->default_val("none")
      ->check(NonEmpty());
  c->add_option("--ws-faults", a->ws_faults, "WebSocket fault spec (see below)")
      ->default_val("none")
      ->check(NonEmpty());
  c->add_option("--fault-seed", a->fault_seed, "Seed of the fault draws")
      ->default_val(1)
      ->check(Seed());
  c->add_option("--weight-limit", a->weight_limit, "REQUEST_WEIGHT per minute")
      ->default_val(6000)
      ->check(IntAtLeast(1));
  c->add_option("--ban-threshold", a->ban_threshold,
                "Requests inside a Retry-After window before an IP ban (418)")
      ->default_val(10)
      ->check(IntAtLeast(1));
  c->add_flag("--log-requests", a->log_requests, "Print each request to stderr");
  c->add_option("--synthetic", a->synthetic,
                "Also serve this many synthetic symbols SYN000USDT..., each a recorded "
                "symbol's klines at its own price scale")
      ->default_val(0)
      ->check(IntIn(0, 100000));
  c->add_option("--synthetic-seed", a->synthetic_seed, "Seed of the synthetic price scales")
      ->default_val(1)
      ->check(Seed());
  c->footer(
      "Endpoints: GET /api/v3/ping, /api/v3/time, /api/v3/exchangeInfo, /api/v3/klines, in\n"
      "Binance's formats, weights and error codes. Klines are served up to the exchange time\n"
      "(the still-open candle included), which runs from --start at --speed.\n"
      "Faults (only on /api/v3/klines), e.g. --faults 429=0.02,5xx=0.05,drop=0.01:\n"
      "  429       a rate-limit burst: 429 with Retry-After for 2 s\n"
      "  418       an IP ban of 120 s\n"
      "  5xx       HTTP 500, 502 or 503\n"
      "  slow      the response is held back 3 s\n"
      "  truncate  half the body after a full Content-Length, then the connection closes\n"
      "  drop      the connection closes without a response\n"
      "  corrupt   a complete 200 whose JSON is cut in half\n"
      "Probabilities per request in [0, 1], summing to at most 1; 'none' for no faults.\n"
      "WebSocket streams on the same port: /ws/<stream> and /stream?streams=<a>/<b>, with\n"
      "<symbol>@kline_<interval> (the loaded klines, live at exchange time) and <symbol>@trade.\n"
      "WebSocket faults, e.g. --ws-faults disconnect_every=5s,stall_after=10s,malformed=0.01:\n"
      "  disconnect_every=<d>  each connection is cut <d> (real time) after it opened\n"
      "  stall_after=<d>       a connection sends nothing more after <d>, but stays open\n"
      "  malformed=<p>         a message is sent as broken JSON (probability per message)\n"
      "  duplicate=<p>         a message is sent twice\n"
      "Durations as 500ms, 5s, 2m, 1h.\n"
      "--synthetic N: SYN<k>USDT copies BTCUSDT (even k) or ETHUSDT (odd k) with prices times\n"
      "10^(k mod 7) x a seeded factor in [1.00, 9.99] and volumes times 1 + k mod 4.\n"
      "Stops on SIGINT or SIGTERM and prints its counters.");
  auto run = [a] {
    if (!a->port_file.empty()) {
      if (Status s = CheckOutputPath("--port-file", a->port_file, {}); !s.ok()) {
        return UsageFail(s);
      }
    }
    return RunReplayExchange(*a);
  };
  return {c, run};
}

}  // namespace cryptolake::app
