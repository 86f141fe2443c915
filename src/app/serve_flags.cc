// `cryptolake serve`: its flags and help, and the flags `up` shares; RunServe (serve_cmd.cc) runs
// it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntIn;
using flags::NonEmpty;

void AddServeFlags(CLI::App* c, ServeArgs& a) {
  c->add_option("--bind", a.bind, "Address to listen on (beyond loopback only with --token)")
      ->default_val("127.0.0.1")
      ->check(NonEmpty());
  c->add_option("--port", a.port, "HTTP port (0: an ephemeral one)")
      ->default_val(8080)
      ->check(IntIn(0, 65535));
  c->add_option("--threads", a.threads, "HTTP io threads")->default_val(2)->check(IntIn(1, 256));
  c->add_option("--token", a.token,
                "Bearer token required on every request but /healthz (needed for a "
                "non-loopback --bind)")
      ->check(NonEmpty());
  c->add_option("--web-root", a.web_root,
                "Dashboard files (default: the web/ directory beside the binary)")
      ->check(NonEmpty());
  c->add_option("--max-streams", a.max_streams,
                "Server-Sent Event streams open at once; one more is answered 503 with "
                "Retry-After")
      ->default_val(1024)
      ->check(IntIn(1, 1000000));
}

Command RegisterServe(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = app.add_subcommand(
      "serve", "Serve the merged series (batch + speed) over HTTP with a live dashboard");
  AddServeFlags(c, *a);
  c->footer(
      "Endpoints: /api/v1/symbols, /api/v1/daily?symbol=&from=&to=, /api/v1/klines?symbol=&\n"
      "interval=&from=&to=&limit=, /api/v1/forecast?symbol=, /api/v1/status, /api/v1/stream?\n"
      "symbol= (Server-Sent Events), /healthz, /metrics (Prometheus). JSON, or CSV with\n"
      "?format=csv or Accept: text/csv. The dashboard is at /. See docs/API.md.\n"
      "The merge is computed at read time; nothing is written. Stops on SIGINT/SIGTERM.");
  auto run = [a, &g] {
    BlockStopSignals();
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunServe(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
