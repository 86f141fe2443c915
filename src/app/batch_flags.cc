// `cryptolake batch`: its flags and help; RunBatch (commands.cc) runs it.
#include <memory>

#include "app/cli.h"

namespace cryptolake::app {

Command RegisterBatch(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<BatchArgs>();
  auto* c = app.add_subcommand(
      "batch", "Build or refresh the batch views (daily_raw, daily_filled, prophet_input)");
  c->add_flag("--full", a->full, "Rebuild every view partition instead of only the changed ones");
  c->add_option("--duty", a->duty,
                "Share of wall time the refresh may run: it sleeps between its queries for the "
                "rest, leaving the CPU to a server or stream beside it")
      ->default_val(1.0)
      ->check(DutyCheck());
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunBatch(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
