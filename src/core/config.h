// Run-time configuration: built-in defaults, overridden by cryptolake.toml, overridden by flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace cryptolake {

// The allowed ranges of the numeric settings, shared by the config file and the flags that
// override them (app/main.cc).
// [lake] gc_grace_seconds: at most 10 years, so that the grace in microseconds cannot overflow.
inline constexpr int64_t kMaxGcGraceSeconds = 10LL * 365 * 24 * 3600;  // 315360000
// [backfill] concurrency / --concurrency: more requests than this only queue on the governor.
inline constexpr int kMaxBackfillConcurrency = 256;

struct Config {
  std::filesystem::path data_root = "data";                   // [lake] data
  std::vector<std::string> symbols = {"BTCUSDT", "ETHUSDT"};  // symbols
  // [lake] gc_grace_seconds: retired files live this long; in [0, kMaxGcGraceSeconds].
  int64_t gc_grace_seconds = 600;
  std::vector<std::string> intervals = {"1m"};       // intervals: what backfill keeps complete
  std::string exchange = "https://api.binance.com";  // exchange: REST base URL
  std::string stream_url = "wss://stream.binance.com:9443";  // stream_url: WebSocket base URL
  std::string backfill_start;    // [backfill] start: first day when the lake has none ("": none)
  int backfill_concurrency = 4;  // [backfill] concurrency: parallel REST requests, 1..256
  double backfill_weight_budget = 0.8;  // [backfill] weight_budget: share of 6000 weight/min
  // The file read, empty when none was. Its [[alerts]] and [[webhooks]] tables are read and
  // checked by alerts::LoadAlertConfig (alerts/rules.h), not here.
  std::filesystem::path file;

  // Reads `path` if it exists (a missing file is not an error unless `required`).
  // Every key is checked, and any problem is an InvalidArgument "<file>: <key> must be <what>,
  // got <value>" naming the allowed values:
  //  * unknown keys (so typos do not pass silently);
  //  * a value of the wrong type; an integer is accepted where a number is expected
  //    (`weight_budget = 1`);
  //  * numbers outside their range: lake.gc_grace_seconds an integer in [0, 315360000] (10
  //    years), backfill.concurrency an integer in [1, 256], backfill.weight_budget in (0, 1];
  //  * empty strings and lists: lake.data, exchange, stream_url, backfill.start, symbols (at
  //    least one, none empty), intervals (at least one, each one Interval::Parse accepts);
  //    backfill.start must be a time ParseTime accepts;
  //  * symbols must match Binance's pattern and are normalized to upper case (core/symbol.h).
  // lake.data is relative to the file's directory unless absolute.
  static StatusOr<Config> Load(const std::filesystem::path& path, bool required);
};

}  // namespace cryptolake
