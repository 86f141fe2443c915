// `cryptolake cat`: its flags and help; RunCat (commands.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::NonEmpty;

Command RegisterCat(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<CatArgs>();
  auto* c = app.add_subcommand("cat", "Print a dataset (read-time deduplicated) as CSV");
  c->add_option("dataset", a->dataset,
                "klines_1m, klines_1d, daily_raw, daily_filled, prophet_input, ...")
      ->required()
      ->check(NonEmpty());
  c->add_option("--symbol", a->symbol, "Only this symbol")->transform(flags::Symbol());
  c->add_option("--out", a->out,
                "Write to this file instead of stdout (not inside the lake: see below)")
      ->check(NonEmpty());
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {{"--out", a->out}}},
                      [&](Env& env) { return RunCat(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
