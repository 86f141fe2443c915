// `cryptolake alerts`: its subcommands' flags and help; RunAlertsTest (alerts_cmd.cc) runs
// `alerts test`.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

Command RegisterAlerts(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<AlertsTestArgs>();
  auto* c = app.add_subcommand("alerts", "Alert rules: try them on the lake's history");
  c->require_subcommand(1);
  auto* t = c->add_subcommand(
      "test",
      "Replay the lake's 1m history through the [[alerts]] rules and print what would have fired "
      "and resolved, and when (nothing is delivered)");
  t->add_option("--rules", a->rules,
                "A TOML file with [[alerts]] rules (default: the config file's)");
  t->add_option("--from", a->from, "First minute evaluated (default: 7 days before --to)");
  t->add_option("--to", a->to, "Last minute evaluated (default: the lake's newest 1m candle)");
  t->add_option("--symbols", a->symbols, "Symbols (comma-separated; default: the config's)");
  t->add_flag("--json", a->json, "One JSON event per line instead of text");
  t->footer(
      "Rules see the history as if it had been streamed: each candle arrives at its close, the\n"
      "timer ticks every minute, a confirmed-empty range (an exchange outage) counts once the\n"
      "stream resumes after it. Reconnects, lag, REST weight, bans and verify are not in the\n"
      "history: those rules stay quiet here.");
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunAlertsTest(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
