// The command line: each command adds its subcommand, flags and help text to the app in its own
// file (<command>_flags.cc) and returns how to run it; main() parses, then runs the command given.
// The global flags (--data, --config, -v) are the app's and work before or after the command.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "app/commands.h"

namespace cryptolake::app {

// A registered command: its subcommand, and what main() calls after a successful parse when it
// was given. `run` returns the process exit code (app/commands.h).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// The commands, in the order `cryptolake --help` lists them. Each adds its subcommand to `app`;
// `g` holds the global flags once parsed (read by `run`, never before).
Command RegisterImport(CLI::App& app, const GlobalOptions& g);
Command RegisterBackfill(CLI::App& app, const GlobalOptions& g);
Command RegisterStream(CLI::App& app, const GlobalOptions& g);
Command RegisterBatch(CLI::App& app, const GlobalOptions& g);
Command RegisterVerify(CLI::App& app, const GlobalOptions& g);
Command RegisterCompact(CLI::App& app, const GlobalOptions& g);
Command RegisterRepair(CLI::App& app, const GlobalOptions& g);
Command RegisterStats(CLI::App& app, const GlobalOptions& g);
Command RegisterCat(CLI::App& app, const GlobalOptions& g);
Command RegisterGc(CLI::App& app, const GlobalOptions& g);
Command RegisterServe(CLI::App& app, const GlobalOptions& g);
Command RegisterMerge(CLI::App& app, const GlobalOptions& g);
Command RegisterUp(CLI::App& app, const GlobalOptions& g);
Command RegisterForecast(CLI::App& app, const GlobalOptions& g);
Command RegisterAlerts(CLI::App& app, const GlobalOptions& g);
Command RegisterReplayExchange(CLI::App& app, const GlobalOptions& g);

// What a command needs before it runs (RunWithEnv).
struct EnvNeeds {
  // A lake at the data root, which the command never creates (OpenEnv's `require_lake`).
  bool lake = false;
  // Outputs the flags name (flag, path), checked in order by CheckOutputPath against the data
  // root; empty paths are skipped.
  std::vector<std::pair<const char*, std::string>> outputs;
};

// The steps every command that uses the lake takes, in order: the config (ResolveConfig; error:
// exit 3), the outputs (CheckOutputPath; error: exit 64), the Env (OpenEnv; error: exit 3), then
// `run` on it, whose exit code is returned.
int RunWithEnv(const GlobalOptions& g, const EnvNeeds& needs, const std::function<int(Env&)>& run);

// Blocks SIGINT, SIGTERM and SIGUSR1 in this thread, before any other thread exists (DuckDB's
// included), so that every thread inherits the mask and the commands that stop on a signal
// (serve, up) take them with sigwait().
void BlockStopSignals();

// The flags `serve` and `up` share (serve_flags.cc).
void AddServeFlags(CLI::App* c, ServeArgs& a);
// A share of wall time, for the pacing of batch refreshes (core/pacer.h): `batch --duty`,
// `up --batch-duty`.
CLI::Validator DutyCheck();

}  // namespace cryptolake::app
