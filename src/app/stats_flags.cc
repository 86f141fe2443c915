// `cryptolake stats`: its flags and help; RunStats (commands.cc) runs it.
#include <memory>

#include "app/cli.h"

namespace cryptolake::app {

Command RegisterStats(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<bool>();
  auto* c = app.add_subcommand("stats", "Show files, rows and time range per dataset and symbol");
  c->add_flag("--digest", *a, "Also print an order-independent content hash per dataset");
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunStats(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
