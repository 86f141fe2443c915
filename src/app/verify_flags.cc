// `cryptolake verify`: its flags and help; RunVerify (commands.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntAtLeast;

Command RegisterVerify(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<VerifyArgs>();
  auto* c = app.add_subcommand("verify",
                               "Check completeness, duplicates, schema, OHLC and view consistency");
  c->add_flag("--json", a->json, "Print the report as JSON");
  c->add_option("--max-ranges", a->max_ranges, "Gap ranges listed per dataset and symbol")
      ->default_val(20)
      ->check(IntAtLeast(1));
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {}}, [&](Env& env) { return RunVerify(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
