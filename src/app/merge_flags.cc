// `cryptolake merge`: its flags and help; RunMerge (serve_cmd.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::NonEmpty;

Command RegisterMerge(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<MergeArgs>();
  auto* c = app.add_subcommand(
      "merge", "Materialize the merged daily series (batch + speed) as Parquet or CSV files");
  c->add_option("--out", a->out,
                "Output directory (daily.parquet or daily.csv; not inside the lake: see below)")
      ->required()
      ->check(NonEmpty());
  c->add_option("--format", a->format, "parquet | csv")->default_val("parquet")->check(NonEmpty());
  c->footer(
      "The series /api/v1/daily serves: batch days before the watermark, speed days (from the\n"
      "stream's appended 1m candles) after it, ma7/ma30 across the seam. The lake is only read.");
  auto run = [a, &g] {
    return RunWithEnv(g, {/*lake=*/true, {{"--out", a->out}}},
                      [&](Env& env) { return RunMerge(env, *a); });
  };
  return {c, run};
}

}  // namespace cryptolake::app
