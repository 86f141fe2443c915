// Subcommand runners. Each returns the process exit code and prints its own summary
// (stdout) or error (stderr, "error: <message>").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "lake/duck.h"
#include "lake/lake.h"

namespace cryptolake::app {

inline constexpr const char* kVersion = "0.1.0";

struct GlobalOptions {
  std::string data;    // empty: from config or default
  std::string config;  // empty: ./cryptolake.toml if present
  bool verbose = false;
};

// What every subcommand needs: the resolved config, the lake, and a DuckDB connection.
struct Env {
  Config config;
  std::unique_ptr<lake::Lake> lake;
  std::unique_ptr<lake::Database> db;
  std::unique_ptr<lake::Connection> con;
};
StatusOr<std::unique_ptr<Env>> OpenEnv(const GlobalOptions& g);

struct ImportArgs {
  std::vector<std::string> paths;
  std::optional<std::string> symbol, interval;
  std::string format = "auto";
  bool strict = false;
  int threads = 0;
};
int RunImport(Env& env, const ImportArgs& a);

struct BatchArgs {
  bool full = false;
};
int RunBatch(Env& env, const BatchArgs& a);

struct VerifyArgs {
  bool json = false;
  int max_ranges = 20;
};
int RunVerify(Env& env, const VerifyArgs& a);

int RunCompact(Env& env, const std::string& dataset);
int RunStats(Env& env, bool digest);
int RunGc(Env& env);

struct CatArgs {
  std::string dataset;
  std::optional<std::string> symbol;
  std::string out;  // empty: stdout
};
int RunCat(Env& env, const CatArgs& a);

}  // namespace cryptolake::app
