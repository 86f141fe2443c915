// `cryptolake gc`: its help; RunGc (commands.cc) runs it.
#include "app/cli.h"

namespace cryptolake::app {

Command RegisterGc(CLI::App& app, const GlobalOptions& g) {
  auto* c = app.add_subcommand(
      "gc", "Delete retired files past the grace period and leftovers of crashed writers");
  auto run = [&g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [](Env& env) { return RunGc(env); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
