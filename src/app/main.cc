// The `cryptolake` binary: one CLI with a subcommand per job. main() holds the global flags; each
// command adds its own flags in its own file (app/cli.h), opens the lake and calls one library
// function; all logic lives in the layer modules.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/commands.h"
#include "app/flags.h"

using namespace cryptolake;
using app::flags::NonEmpty;

namespace {

// "'<word>' (commands: ...)" for the word that stands where a command is expected and names
// none (the first remaining argument that is not an option, after the commands parsed so far);
// "" if there is none.
std::string UnknownCommand(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  while (!chain.back()->get_subcommands().empty())
    chain.push_back(chain.back()->get_subcommands().front());
  const CLI::App* cur = chain.back();
  const auto subs = cur->get_subcommands([](const CLI::App*) { return true; });
  if (subs.empty()) return "";  // a command that takes no command
  // What a command does not know falls through to its parents (app.fallthrough()).
  std::vector<std::string> rest;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const std::string& arg : (*it)->remaining()) rest.push_back(arg);
  }
  for (const std::string& arg : rest) {
    if (arg.empty() || arg[0] == '-') continue;
    std::vector<std::string> names;
    for (const CLI::App* c : subs) names.push_back(c->get_name());
    const std::string parent = cur == &app ? "" : cur->get_name() + " ";
    return fmt::format("'{}{}' ({}commands: {})", parent, arg, parent, fmt::join(names, ", "));
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cryptolake: a Lambda-architecture lake for crypto market data (Binance spot klines)"};
  app.set_version_flag("--version", std::string("cryptolake ") + app::kVersion);
  app.require_subcommand(1);
  // The global flags work before or after the command (`import --data DIR FILE`): an option a
  // command does not know falls through to its parent. Subcommands inherit this when created.
  app.fallthrough();
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("error: {}\nRun with --help for more information.\n", e.what());
  });
  app.footer(
      "Exit codes: 0 success; 1 verify found only gaps; 2 verify found integrity errors;\n"
      "            3 runtime error (bad input, I/O); 64 usage error.\n"
      "Run 'cryptolake <command> --help' for a command's options. --data, --config and -v go\n"
      "before or after the command.");

  app::GlobalOptions g;
  app.add_option("--data", g.data, "Data root (default: ./data, or [lake] data in the config)")
      ->check(NonEmpty());
  app.add_option("--config", g.config, "Config file (default: ./cryptolake.toml if present)")
      ->check(NonEmpty());
  app.add_flag("-v,--verbose", g.verbose, "Log debug details");

  // The commands, each in its own file (app/cli.h), in the order --help lists them.
  const std::vector<app::Command> commands = {
      app::RegisterImport(app, g), app::RegisterBackfill(app, g),
      app::RegisterStream(app, g), app::RegisterBatch(app, g),
      app::RegisterVerify(app, g), app::RegisterCompact(app, g),
      app::RegisterRepair(app, g), app::RegisterStats(app, g),
      app::RegisterCat(app, g),    app::RegisterGc(app, g),
      app::RegisterServe(app, g),  app::RegisterMerge(app, g),
      app::RegisterUp(app, g),     app::RegisterForecast(app, g),
      app::RegisterAlerts(app, g), app::RegisterReplayExchange(app, g)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 says only that a subcommand is required, or that an argument was not expected.
    if (std::string word = UnknownCommand(app); !word.empty()) {
      std::fprintf(stderr, "error: unknown command %s\nRun with --help for more information.\n",
                   word.c_str());
      return 64;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : 64;
  }
  spdlog::set_level(g.verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_pattern("%^%l%$: %v");

  for (const app::Command& c : commands) {
    if (*c.app) return c.run();
  }
  return 64;
}
