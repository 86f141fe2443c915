#include "verify/repair.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "batch/views.h"
#include "core/fsutil.h"
#include "lake/klines.h"

namespace cryptolake::verify {

namespace fs = std::filesystem;
using lake::FileEntry;
using lake::SqlQuote;

namespace {

// "name TYPE" pairs of a SELECT, as DuckDB describes it.
StatusOr<std::set<std::pair<std::string, std::string>>> Describe(lake::Connection& con,
                                                                 const std::string& select) {
  ASSIGN_OR_RETURN(lake::Result r, con.Query("DESCRIBE " + select));
  std::set<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < r.rows(); ++i) out.emplace(r.GetString(0, i), r.GetString(1, i));
  return out;
}

std::string FirstLine(std::string s) {
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

// Checks one kline file at `rel` (klines_<iv>/symbol=S/year=Y[/month=M]/<name>.parquet) and
// describes it as a live file; the error says why it cannot be adopted.
StatusOr<FileEntry> CheckKlineFile(lake::Connection& con, const fs::path& root,
                                   const std::string& rel,
                                   const std::set<std::pair<std::string, std::string>>& schema) {
  std::vector<std::string> parts;
  for (const auto& c : fs::path(rel)) parts.push_back(c.string());
  FileEntry e;
  e.path = rel;
  e.dataset = parts[0];
  auto iv = Interval::Parse(e.dataset.substr(7));
  if (!iv.ok()) return InvalidArgument("{} is not a kline dataset", e.dataset);
  const size_t want = iv->micros < kMicrosPerDay ? 5 : 4;  // dataset/symbol/year[/month]/file
  if (parts.size() != want || parts[1].rfind("symbol=", 0) != 0 ||
      parts[2].rfind("year=", 0) != 0 || (want == 5 && parts[3].rfind("month=", 0) != 0)) {
    return InvalidArgument("not at a partition path the lake writes (symbol=/year=/{})",
                           want == 5 ? "month=" : "");
  }
  e.symbol = parts[1].substr(7);
  e.partition = parts[2] + (want == 5 ? "/" + parts[3] : "");
  const std::string scan =
      fmt::format("read_parquet({}, hive_partitioning = false)", SqlQuote((root / rel).string()));
  auto got = Describe(con, "SELECT * FROM " + scan);
  if (!got.ok()) return DataLoss("not readable as Parquet: {}", FirstLine(got.status().message()));
  if (*got != schema) return DataLoss("its columns are not the master dataset's schema");
  auto stats = con.Query(fmt::format(
      "SELECT count(*), epoch_us(min(open_time)), epoch_us(max(open_time)), count(DISTINCT "
      "source), min(source), bit_xor(hash({})) FROM {}",
      lake::kKlineColumnNames, scan));
  if (!stats.ok()) {
    return DataLoss("its rows cannot be read back: {}", FirstLine(stats.status().message()));
  }
  e.rows = stats->GetInt64(0, 0);
  if (e.rows == 0) return DataLoss("it holds no rows");
  e.min_time = stats->GetInt64(1, 0);
  e.max_time = stats->GetInt64(2, 0);
  e.time_column = "open_time";
  e.source = stats->GetInt64(3, 0) == 1 ? stats->GetString(4, 0) : "compact";
  std::error_code ec;
  e.bytes = static_cast<int64_t>(fs::file_size(root / rel, ec));
  ASSIGN_OR_RETURN(e.sha256, Sha256File(root / rel));
  e.added_version = 1;
  return e;
}

}  // namespace

StatusOr<RepairReport> RebuildManifest(lake::Lake& lake, lake::Connection& con) {
  const fs::path& root = lake.root();
  std::error_code ec;
  if (fs::exists(root / "_manifest.json", ec)) {
    return FailedPrecondition(
        "{} exists: there is no manifest to rebuild. `cryptolake verify` names damaged files; "
        "`cryptolake repair --drop FILE` retires one",
        (root / "_manifest.json").string());
  }
  // Every Parquet file under the lake's data folders, whether it is where the lake puts files.
  std::vector<std::string> on_disk;
  for (auto& top : fs::directory_iterator(root, ec)) {
    const std::string name = top.path().filename().string();
    if (!top.is_directory(ec) || (name != "views" && name.rfind("klines_", 0) != 0)) continue;
    for (auto it = fs::recursive_directory_iterator(top.path(), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().extension() == ".parquet") {
        on_disk.push_back(it->path().lexically_relative(root).string());
      }
    }
  }
  std::sort(on_disk.begin(), on_disk.end());
  if (on_disk.empty()) {
    return NotFound("{} holds no lake data files: nothing to repair", root.string());
  }
  ASSIGN_OR_RETURN(auto schema,
                   Describe(con, fmt::format("SELECT {}", [] {
                              std::string sel;
                              for (const auto& c : batch::ParseColumns(lake::kKlineColumns)) {
                                sel += (sel.empty() ? "" : ", ") +
                                       fmt::format("NULL::{} AS {}", c.type, c.name);
                              }
                              return sel;
                            }())));
  const std::set<std::string> pending = lake.PendingIntentPaths();
  const Micros now = lake.clock().Now();
  RepairReport rep;
  lake::Manifest m;
  m.version = 1;
  m.committed_at = now;
  for (const auto& rel : on_disk) {
    if (!lake::IsLakeDataPath(rel)) {
      rep.unaccounted.emplace_back(rel, "not a path the lake writes");
      continue;
    }
    if (rel.rfind("views/", 0) == 0) {
      lake::RetiredFile r;
      r.path = rel;
      r.retired_at = now;
      r.retired_version = 1;
      m.retired.push_back(std::move(r));
      rep.retired_views.push_back(rel);
      continue;
    }
    auto e = CheckKlineFile(con, root, rel, schema);
    if (!e.ok()) {
      rep.unaccounted.emplace_back(rel, e.status().message());
      continue;
    }
    rep.rows += e->rows;
    rep.adopted.push_back(rel);
    if (pending.count(rel)) rep.uncommitted.push_back(rel);
    m.files.push_back(std::move(e).value());
  }
  nlohmann::json unaccounted = nlohmann::json::array();
  for (const auto& [path, why] : rep.unaccounted) unaccounted.push_back({path, why});
  m.meta["repaired"] = {{"at", FormatIso(now)},
                        {"adopted", rep.adopted.size()},
                        {"retired_views", rep.retired_views.size()},
                        {"unaccounted", std::move(unaccounted)}};
  RETURN_IF_ERROR(lake.InstallManifest(m));
  rep.rebuilt = true;
  rep.version = m.version;
  return rep;
}

StatusOr<RepairReport> DropFiles(lake::Lake& lake, const std::vector<std::string>& paths) {
  if (paths.empty()) return InvalidArgument("repair --drop: no files given");
  std::vector<std::string> rels;
  for (const auto& p : paths) {
    fs::path given(p);
    fs::path abs = fs::absolute(given).lexically_normal();
    fs::path rel =
        given.is_absolute() ? abs.lexically_relative(lake.root()) : given.lexically_normal();
    std::string r = rel.string();
    // A path relative to the current folder that lands inside the root is accepted too.
    if (!lake::IsLakeDataPath(r)) r = abs.lexically_relative(lake.root()).string();
    rels.push_back(r);
  }
  RepairReport rep;
  auto attempt = [&](const lake::Snapshot& snap) -> StatusOr<lake::Transaction> {
    const nlohmann::json& meta = snap.manifest().meta;
    nlohmann::json refetch =
        meta.contains(lake::kRefetchKey) ? meta[lake::kRefetchKey] : nlohmann::json();
    const nlohmann::json before = refetch;
    bool views = false;
    std::vector<const FileEntry*> drop;
    for (size_t i = 0; i < rels.size(); ++i) {
      auto it = std::find_if(snap.manifest().files.begin(), snap.manifest().files.end(),
                             [&](const FileEntry& f) { return f.path == rels[i]; });
      if (it == snap.manifest().files.end()) {
        return NotFound(
            "{} is not a live file of the lake at {} (`cryptolake verify` names damaged files "
            "by their path relative to the data root)",
            paths[i], lake.root().string());
      }
      drop.push_back(&*it);
    }
    ASSIGN_OR_RETURN(lake::Transaction txn, lake.Begin());
    for (const FileEntry* f : drop) {
      txn.RetireFile(f->path);
      if (f->dataset.rfind("klines_", 0) == 0) {
        refetch =
            lake::WithRefetch(refetch, f->dataset, f->symbol, {{f->min_time, f->max_time + 1}});
      } else {
        views = true;
      }
    }
    if (refetch != before) {
      txn.ExpectMeta(lake::kRefetchKey, before);
      txn.SetMeta(lake::kRefetchKey, refetch);
    }
    if (views && meta.contains(batch::kRefreshMetaKey)) {
      txn.ExpectMeta(batch::kRefreshMetaKey, meta[batch::kRefreshMetaKey]);
      txn.SetMeta(batch::kRefreshMetaKey, nullptr);
    }
    return txn;
  };
  ASSIGN_OR_RETURN(rep.version, lake.CommitWithRetry(attempt));
  rep.dropped = rels;
  return rep;
}

std::string FormatRepairReport(const RepairReport& r) {
  std::string out;
  std::set<std::string> uncommitted(r.uncommitted.begin(), r.uncommitted.end());
  for (const auto& p : r.adopted) {
    out += fmt::format("adopted    {}{}\n", p,
                       uncommitted.count(p) ? " (from a commit that crashed; its rows may repeat "
                                              "committed ones: `cryptolake compact` resolves them)"
                                            : "");
  }
  for (const auto& p : r.retired_views)
    out += fmt::format("retired    {} (a view: `cryptolake batch` rebuilds it)\n", p);
  for (const auto& [p, why] : r.unaccounted) {
    out += fmt::format("NOT ADOPTED {}: {} (left on disk, untouched)\n", p, why);
  }
  for (const auto& p : r.dropped) out += fmt::format("dropped    {}\n", p);
  if (r.rebuilt) {
    out += fmt::format(
        "repair: manifest rebuilt (version {}): {} kline files adopted ({} rows), {} view files "
        "retired, {} files not accounted for -> exit code {}\n",
        r.version, r.adopted.size(), r.rows, r.retired_views.size(), r.unaccounted.size(),
        r.ExitCode());
  } else {
    out += fmt::format(
        "repair: {} file{} retired (manifest version {}); `cryptolake backfill` fetches their "
        "klines again, `cryptolake batch` rebuilds views\n",
        r.dropped.size(), r.dropped.size() == 1 ? "" : "s", r.version);
  }
  return out;
}

}  // namespace cryptolake::verify
