// `cryptolake repair`: its flags and help; RunRepair (commands.cc) runs it.
#include <memory>

#include "app/cli.h"

namespace cryptolake::app {

Command RegisterRepair(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<std::vector<std::string>>();
  auto* c = app.add_subcommand(
      "repair", "Rebuild a missing manifest from the files, or retire damaged files (--drop)");
  c->add_option("--drop", *a,
                "Retire these live files (paths as verify prints them); their klines are "
                "fetched again by the next backfill")
      ->delimiter(',');
  c->footer(
      "Without --drop, on a data root whose _manifest.json is missing: checks every Parquet file\n"
      "under klines_*/ (readable, every row group decodes, the schema) and makes those that pass\n"
      "live again; view files are retired (`cryptolake batch` rebuilds the views); files that\n"
      "fail are listed and left untouched. Exit 0 when every file was accounted for, 2 when\n"
      "some were not. With --drop: the files are retired in one commit and their key ranges\n"
      "recorded, so `cryptolake backfill` fetches those klines again and verify shows them as\n"
      "gaps until then. The lake never deletes a file it did not write.");
  auto run = [a, &g] { return RunWithEnv(g, {}, [&](Env& env) { return RunRepair(env, *a); }); };
  return {c, run};
}

}  // namespace cryptolake::app
