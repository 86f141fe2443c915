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
    static const std::set<std::string> kTop = {"symbols", "exchange", "lake"};
    static const std::set<std::string> kLake = {"data", "gc_grace_seconds"};
    for (const auto& [k, v] : t.as_table()) {
      if (!kTop.count(k)) return InvalidArgument("{}: unknown key '{}'", path.string(), k);
    }
    if (t.contains("symbols")) c.symbols = toml::find<std::vector<std::string>>(t, "symbols");
    if (t.contains("exchange")) c.exchange = toml::find<std::string>(t, "exchange");
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
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", path.string(), e.what());
  }
  return c;
}

}  // namespace cryptolake
