// `cryptolake compact`: its flags and help; RunCompact (commands.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::NonEmpty;

Command RegisterCompact(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::string>();
  auto* c = app.add_subcommand(
      "compact", "Rewrite partitions with several files or shadowed duplicates into one file each");
  c->add_option("--dataset", *a, "Only this dataset, e.g. klines_1m")->check(NonEmpty());
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunCompact(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
