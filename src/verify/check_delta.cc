// The Delta logs against the manifest (lake/delta_log.h): at the snapshot's version, each
// dataset's Delta table must name exactly the manifest's live files of the dataset.
#include <fmt/format.h>

#include "lake/delta_log.h"
#include "verify/checker.h"

namespace cryptolake::verify::detail {

namespace delta = lake::delta;
using json = nlohmann::json;

namespace {

// "2 only in the log (first: symbol=X/...)" or "".
std::string OnlyIn(const std::set<std::string>& a, const std::set<std::string>& b,
                   const char* where) {
  int64_t n = 0;
  std::string first;
  for (const auto& p : a) {
    if (b.count(p)) continue;
    if (n++ == 0) first = p;
  }
  return n == 0 ? "" : fmt::format("{} only in the {} (first: {})", n, where, first);
}

}  // namespace

void Checker::CheckDelta() {
  const lake::Manifest& m = snap_.manifest();
  const json tables = m.meta.contains(delta::kMetaKey) ? m.meta[delta::kMetaKey] : json::object();
  std::map<std::string, int64_t> pending;  // dataset -> recorded versions not in place
  if (m.meta.contains(delta::kPendingKey)) {
    for (const auto& p : m.meta[delta::kPendingKey]) {
      std::error_code ec;
      if (!fs::exists(snap_.root() / delta::CommitPath(p.at("dir").get<std::string>(),
                                                       p.at("version").get<int64_t>()),
                      ec)) {
        ++pending[p.at("dataset").get<std::string>()];
      }
    }
  }
  std::set<std::string> datasets;
  for (const auto& f : m.files) datasets.insert(f.dataset);
  for (const auto& [ds, info] : tables.items()) datasets.insert(ds);
  for (const auto& ds : datasets) {
    if (opt_.symbol) break;  // a table holds every symbol: checked only for the whole lake
    if (!tables.contains(ds)) {
      Add(Finding::kDeltaLog, false, ds, "",
          "no Delta log yet (a lake written before the logs): the next commit writes it");
      continue;
    }
    const json& info = tables[ds];
    const int64_t want = info.at("version").get<int64_t>();
    const std::string dir = info.at("dir").get<std::string>();
    auto st = delta::Replay(snap_.root(), dir, want);
    if (!st.ok()) {
      Add(Finding::kDeltaLog, true, ds, "", st.status().message());
      continue;
    }
    const std::set<std::string> live = delta::ManifestLive(m, ds);
    if (st->version == want && st->live == live) continue;
    if (pending.count(ds) && st->version + pending[ds] == want) {
      Add(Finding::kDeltaLog, false, ds, "",
          fmt::format("{}/_delta_log is at version {}, the manifest records {}: the versions of "
                      "an interrupted commit, put in place by the next commit or `cryptolake gc`",
                      dir, st->version, want));
      continue;
    }
    std::string diff = OnlyIn(st->live, live, "log");
    std::string other = OnlyIn(live, st->live, "manifest");
    if (!diff.empty() && !other.empty()) diff += ", ";
    if (diff.empty() && other.empty()) diff = "the same files, another version";
    Add(Finding::kDeltaLog, true, ds, "",
        fmt::format("{}/_delta_log (version {}, {} files) does not name the manifest's {} files "
                    "(version {} recorded): {}",
                    dir, st->version, st->live.size(), live.size(), want, diff + other));
  }
}

}  // namespace cryptolake::verify::detail
