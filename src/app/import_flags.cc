// `cryptolake import`: its flags and help; RunImport (commands.cc) runs it.
#include <memory>

#include "app/cli.h"
#include "app/flags.h"

namespace cryptolake::app {

using flags::IntAtLeast;
using flags::NonEmpty;

Command RegisterImport(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ImportArgs>();
  auto* c = app.add_subcommand("import", "Import historical kline files into the master dataset");
  c->add_option("paths", a->paths, "Files, directories or globs (.csv, .csv.gz, .zip)")
      ->required()
      ->check(NonEmpty());
  c->add_option("--symbol", a->symbol, "Symbol for every file (default: from the file name)")
      ->transform(flags::Symbol());
  c->add_option("--interval", a->interval,
                "Interval for every file, e.g. 1m, 1h, 1d (default: from the file name)")
      ->check(NonEmpty());
  c->add_option("--format", a->format, "auto | vision | ohlcv | bitstamp")
      ->default_val("auto")
      ->check(NonEmpty());
  c->add_flag("--strict", a->strict, "Fail the whole import, committing nothing, on any bad row");
  c->add_option("--threads", a->threads, "Parser threads (0: all cores)")
      ->default_val(0)
      ->check(IntAtLeast(0));
  c->footer(
      "Formats: data.binance.vision kline CSV (12 columns, header optional, ms or us timestamps\n"
      "detected per file); OHLCV CSV with header open_time,open,high,low,close,volume; the "
      "BTC/USD\n"
      "daily layout timestamp,open,close,volume,unix_timestamp,high,low. Zips are checked against "
      "a\n"
      "sibling .CHECKSUM file when present. Bad rows go to <data>/quarantine/. Re-importing the "
      "same\n"
      "files adds nothing.");
  auto run = [a, &g] { return RunWithEnv(g, {}, [&](Env& env) { return RunImport(env, *a); }); };
  return {c, run};
}

}  // namespace cryptolake::app
