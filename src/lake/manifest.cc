// The manifest's JSON form and the rule for the paths it may name (lake.h).
#include <nlohmann/json.hpp>

#include "lake/lake.h"

namespace cryptolake::lake {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Manifest

std::string Manifest::ToJson() const {
  json j;
  j["format"] = "cryptolake-manifest/1";
  j["version"] = version;
  j["committed_at"] = FormatIso(committed_at);
  j["committed_at_us"] = committed_at;
  json jfiles = json::array();
  for (const auto& f : files) {
    jfiles.push_back({{"path", f.path},
                      {"dataset", f.dataset},
                      {"symbol", f.symbol},
                      {"partition", f.partition},
                      {"source", f.source},
                      {"rows", f.rows},
                      {"min_time_us", f.min_time},
                      {"max_time_us", f.max_time},
                      {"bytes", f.bytes},
                      {"added_version", f.added_version},
                      {"sha256", f.sha256}});
    if (!f.time_column.empty()) jfiles.back()["time_column"] = f.time_column;
  }
  j["files"] = std::move(jfiles);
  json retired = json::array();
  for (const auto& r : this->retired) {
    retired.push_back({{"path", r.path},
                       {"retired_at_us", r.retired_at},
                       {"retired_version", r.retired_version},
                       {"dataset", r.dataset},
                       {"symbol", r.symbol},
                       {"min_time_us", r.min_time},
                       {"max_time_us", r.max_time}});
  }
  j["retired"] = std::move(retired);
  j["meta"] = meta;
  return j.dump(1);
}

StatusOr<Manifest> Manifest::FromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    if (j.value("format", "") != "cryptolake-manifest/1") {
      return DataLoss("manifest has unknown format '{}'", j.value("format", ""));
    }
    Manifest m;
    m.version = j.at("version").get<int64_t>();
    m.committed_at = j.at("committed_at_us").get<int64_t>();
    for (const auto& f : j.at("files")) {
      FileEntry e;
      e.path = f.at("path").get<std::string>();
      e.dataset = f.at("dataset").get<std::string>();
      e.symbol = f.at("symbol").get<std::string>();
      e.partition = f.at("partition").get<std::string>();
      e.source = f.at("source").get<std::string>();
      e.rows = f.at("rows").get<int64_t>();
      e.min_time = f.at("min_time_us").get<int64_t>();
      e.max_time = f.at("max_time_us").get<int64_t>();
      e.bytes = f.at("bytes").get<int64_t>();
      e.added_version = f.value("added_version", int64_t{0});
      e.sha256 = f.value("sha256", "");
      e.time_column = f.value("time_column", "");
      if (!IsLakeDataPath(e.path)) {
        return DataLoss("manifest names '{}', which is not a lake data file path", e.path);
      }
      m.files.push_back(std::move(e));
    }
    for (const auto& r : j.at("retired")) {
      RetiredFile rf;
      rf.path = r.at("path").get<std::string>();
      rf.retired_at = r.at("retired_at_us").get<int64_t>();
      rf.retired_version = r.value("retired_version", int64_t{0});
      rf.dataset = r.value("dataset", "");
      rf.symbol = r.value("symbol", "");
      rf.min_time = r.value("min_time_us", int64_t{0});
      rf.max_time = r.value("max_time_us", int64_t{0});
      if (!IsLakeDataPath(rf.path)) {
        return DataLoss("manifest retires '{}', which is not a lake data file path", rf.path);
      }
      m.retired.push_back(std::move(rf));
    }
    m.meta = j.value("meta", json::object());
    return m;
  } catch (const std::exception& e) {
    return DataLoss("manifest is not valid: {}", e.what());
  }
}

bool IsLakeDataPath(std::string_view rel) {
  fs::path p(rel);
  if (rel.empty() || p.is_absolute() || p.extension() != ".parquet") return false;
  bool first = true;
  for (const auto& c : p) {
    const std::string part = c.string();
    if (part.empty() || part == "." || part == ".." || part[0] == '_') return false;
    if (first && part != "views" && part.rfind("klines_", 0) != 0) return false;
    first = false;
  }
  return std::distance(p.begin(), p.end()) >= 3;
}

}  // namespace cryptolake::lake
