#include "core/config.h"

#include <set>
#include <toml.hpp>

namespace cryptolake {

StatusOr<Config> Config::Load(const std::filesystem::path& path, bool required) {
  Config c;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) return NotFound("config file {} does not exist", path.string());
    return c;
  }
  try {
    const auto t = toml::parse(path.string());
    static const std::set<std::string> kTop = {"symbols",    "intervals", "exchange",
                                               "stream_url", "lake",      "backfill"};
    static const std::set<std::string> kLake = {"data", "gc_grace_seconds"};
    for (const auto& [k, v] : t.as_table()) {
      if (!kTop.count(k)) return InvalidArgument("{}: unknown key '{}'", path.string(), k);
    }
    if (t.contains("symbols")) c.symbols = toml::find<std::vector<std::string>>(t, "symbols");
    if (t.contains("intervals")) c.intervals = toml::find<std::vector<std::string>>(t, "intervals");
    if (t.contains("exchange")) c.exchange = toml::find<std::string>(t, "exchange");
    if (t.contains("stream_url")) c.stream_url = toml::find<std::string>(t, "stream_url");
    if (t.contains("lake")) {
      const auto& lake = toml::find(t, "lake");
      for (const auto& [k, v] : lake.as_table()) {
        if (!kLake.count(k)) return InvalidArgument("{}: unknown key 'lake.{}'", path.string(), k);
      }
      if (lake.contains("data")) {
        std::filesystem::path p = toml::find<std::string>(lake, "data");
        c.data_root = p.is_absolute() ? p : path.parent_path() / p;
      }
      if (lake.contains("gc_grace_seconds")) {
        c.gc_grace_seconds = toml::find<int64_t>(lake, "gc_grace_seconds");
      }
    }
    if (t.contains("backfill")) {
      static const std::set<std::string> kBackfill = {"start", "concurrency", "weight_budget"};
      const auto& b = toml::find(t, "backfill");
      for (const auto& [k, v] : b.as_table()) {
        if (!kBackfill.count(k)) {
          return InvalidArgument("{}: unknown key 'backfill.{}'", path.string(), k);
        }
      }
      if (b.contains("start")) c.backfill_start = toml::find<std::string>(b, "start");
      if (b.contains("concurrency")) c.backfill_concurrency = toml::find<int>(b, "concurrency");
      if (b.contains("weight_budget")) {
        c.backfill_weight_budget = toml::find<double>(b, "weight_budget");
      }
    }
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", path.string(), e.what());
  }
  return c;
}

}  // namespace cryptolake
