// Run-time configuration: built-in defaults, overridden by cryptolake.toml, overridden by flags.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace cryptolake {

struct Config {
  std::filesystem::path data_root = "data";                   // [lake] data
  std::vector<std::string> symbols = {"BTCUSDT", "ETHUSDT"};  // symbols
  int64_t gc_grace_seconds = 600;  // [lake] gc_grace_seconds: retired files live this long
  std::vector<std::string> intervals = {"1m"};       // intervals: what backfill keeps complete
  std::string exchange = "https://api.binance.com";  // exchange: REST base URL
  std::string stream_url = "wss://stream.binance.com:9443";  // stream_url: WebSocket base URL
  std::string backfill_start;           // [backfill] start: first day when the lake has none
  int backfill_concurrency = 4;         // [backfill] concurrency: parallel REST requests
  double backfill_weight_budget = 0.8;  // [backfill] weight_budget: share of 6000 weight/min

  // Reads `path` if it exists (a missing file is not an error unless `required`).
  // Unknown keys are an InvalidArgument naming the key, so typos do not pass silently.
  static StatusOr<Config> Load(const std::filesystem::path& path, bool required);
};

}  // namespace cryptolake
