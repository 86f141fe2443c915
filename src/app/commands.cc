#include "app/commands.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "batch/views.h"
#include "core/fsutil.h"
#include "ingest/importer.h"
#include "lake/compact.h"
#include "lake/inspect.h"
#include "lake/klines.h"
#include "verify/repair.h"
#include "verify/verify.h"

namespace cryptolake::app {

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 3;
}

std::vector<std::string> SplitList(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      if (comma == std::string::npos) comma = item.size();
      if (comma > start) out.push_back(item.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

int ExitCode(const Status& s) { return s.ok() ? 0 : Fail(s); }

int UsageFail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 64;
}

StatusOr<Config> ResolveConfig(const GlobalOptions& g) {
  std::filesystem::path file = g.config.empty() ? "cryptolake.toml" : g.config;
  ASSIGN_OR_RETURN(Config c, Config::Load(file, !g.config.empty()));
  if (!g.data.empty()) c.data_root = g.data;
  return c;
}

StatusOr<std::unique_ptr<Env>> OpenEnv(Config config, bool require_lake) {
  if (require_lake) {
    std::error_code ec;
    const std::filesystem::path root = std::filesystem::absolute(config.data_root, ec);
    bool data_folders = false;  // a lake that lost its manifest: the lake says so (DataLoss)
    for (auto& e : std::filesystem::directory_iterator(root, ec)) {
      const std::string name = e.path().filename().string();
      if (e.is_directory(ec) && (name == "views" || name.rfind("klines_", 0) == 0)) {
        data_folders = true;
      }
    }
    if (!data_folders && !std::filesystem::exists(root / "_manifest.json", ec)) {
      return NotFound("no lake at {}: {}; run `cryptolake import` or `cryptolake backfill` first",
                      root.lexically_normal().string(),
                      std::filesystem::is_directory(root, ec) ? "it has no _manifest.json"
                                                              : "no such directory");
    }
  }
  auto env = std::make_unique<Env>();
  env->config = std::move(config);
  lake::Lake::Options lo;
  lo.gc_grace = env->config.gc_grace_seconds * kMicrosPerSecond;
  ASSIGN_OR_RETURN(lake::Lake lk,
                   lake::Lake::Open(env->config.data_root, SystemClock::Instance(), lo));
  env->lake = std::make_unique<lake::Lake>(std::move(lk));
  ASSIGN_OR_RETURN(env->db, lake::OpenDatabase());
  ASSIGN_OR_RETURN(env->con, lake::OpenConnection(*env->db));
  return env;
}

namespace {

namespace fs = std::filesystem;

// Absolute, with symlinks and ".." resolved as far as the path exists.
fs::path Resolved(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) return p.lexically_normal();
  fs::path r = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal() : r;
}

}  // namespace

Status CheckOutputPath(std::string_view flag, const fs::path& out, const fs::path& data_root) {
  const fs::path p = Resolved(out);
  std::vector<fs::path> lakes;
  if (!data_root.empty()) lakes.push_back(Resolved(data_root));
  std::error_code ec;
  for (fs::path a = p;; a = a.parent_path()) {
    if (fs::exists(a / "_manifest.json", ec)) lakes.push_back(a);
    if (a == a.parent_path()) break;
  }
  const std::string shown = p == fs::absolute(out, ec).lexically_normal()
                                ? out.string()
                                : fmt::format("{} (= {})", out.string(), p.string());
  for (const fs::path& root : lakes) {
    const fs::path rel = p.lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") continue;  // not under this lake
    if (*rel.begin() == "forecasts") continue;          // the lake's place for outputs
    return InvalidArgument(
        "{} {}: {} the lake at {}, whose folder holds only what the lake writes (and outputs "
        "under forecasts/); write outside the lake, or under {}",
        flag, shown, rel == "." ? "is" : "is inside", root.string(), (root / "forecasts").string());
  }
  return Status::Ok();
}

Status ImportFiles(Env& env, const ImportArgs& a) {
  ingest::ImportOptions o;
  o.inputs = a.paths;
  o.strict = a.strict;
  o.threads = a.threads;
  ASSIGN_OR_RETURN(o.parse.format, ingest::ParseFormat(a.format));
  o.parse.symbol = a.symbol;
  if (a.interval) {
    ASSIGN_OR_RETURN(o.parse.interval, Interval::Parse(*a.interval));
  }
  ASSIGN_OR_RETURN(ingest::ImportStats st, ingest::Import(*env.lake, *env.con, o));
  std::printf("%s\n", ingest::FormatImportSummary(st).c_str());
  // The other files are committed; a file left out still makes the import fail.
  if (st.failed.empty()) return Status::Ok();
  std::string message = st.failed[0].message();
  for (size_t i = 1; i < st.failed.size(); ++i) message += "\nerror: " + st.failed[i].message();
  return Status(st.failed[0].code(), std::move(message));
}

int RunImport(Env& env, const ImportArgs& a) { return ExitCode(ImportFiles(env, a)); }

Status RefreshBatch(Env& env, const BatchArgs& a) {
  batch::RefreshOptions o;
  o.full = a.full;
  Pacer pacer(env.lake->clock(), a.duty);
  lake::SetPacer(*env.con, &pacer);  // duty 1 never sleeps
  auto st = batch::RefreshViews(*env.lake, *env.con, o);
  lake::SetPacer(*env.con, nullptr);
  if (!st.ok()) return st.status();
  std::fputs(batch::FormatRefreshSummary(*st).c_str(), stdout);
  return Status::Ok();
}

int RunBatch(Env& env, const BatchArgs& a) { return ExitCode(RefreshBatch(env, a)); }

int RunVerify(Env& env, const VerifyArgs& a) {
  auto snap = env.lake->GetSnapshot();
  if (!snap.ok()) {
    if (snap.status().code() != StatusCode::kDataLoss) return Fail(snap.status());
    // No readable manifest: an integrity error of the lake, not of the command.
    auto rep = verify::ManifestReport(snap.status());
    std::printf("%s\n",
                a.json ? verify::FormatReportJson(rep).c_str() : verify::FormatReport(rep).c_str());
    return rep.ExitCode();
  }
  verify::VerifyOptions o;
  o.max_ranges = a.max_ranges;
  if (auto v = env.config.data_root / "speed" / "view.duckdb"; std::filesystem::exists(v)) {
    o.speed_view = v.string();
  }
  auto rep = verify::Verify(*snap, *env.con, o);
  if (!rep.ok()) return Fail(rep.status());
  // For the verify_errors alert rule of a running `up` or `stream` (alerts/rules.h): only where
  // alerts are in use (their folder exists), so that verify writes nothing into other lakes.
  if (auto dir = env.config.data_root / "alerts"; std::filesystem::is_directory(dir)) {
    const std::string j =
        fmt::format("{{\"errors\":{},\"version\":{},\"at\":\"{}\"}}\n", rep->errors(), rep->version,
                    FormatIso(env.lake->clock().Now()));
    if (Status s = WriteFileAtomic(dir / "verify.json", j); !s.ok()) {
      spdlog::warn("verify: could not record the result for alerts: {}", s.message());
    }
  }
  std::printf("%s\n",
              a.json ? verify::FormatReportJson(*rep).c_str() : verify::FormatReport(*rep).c_str());
  return rep->ExitCode();
}

int RunCompact(Env& env, const std::string& dataset) {
  if (!dataset.empty()) {
    auto snap = env.lake->GetSnapshot();
    if (!snap.ok()) return Fail(snap.status());
    const auto all = snap->Datasets();
    if (std::find(all.begin(), all.end(), dataset) == all.end()) {
      return Fail(
          NotFound("compact --dataset '{}': the lake at {} has no such dataset (datasets: {})",
                   dataset, env.lake->root().string(),
                   all.empty() ? "none" : fmt::format("{}", fmt::join(all, ", "))));
    }
  }
  auto st = lake::Compact(*env.lake, *env.con, dataset);
  if (!st.ok()) return Fail(st.status());
  std::printf(
      "compact: %lld partitions rewritten, %lld files retired, %lld written, %lld rows kept, %lld "
      "duplicates dropped\n",
      static_cast<long long>(st->partitions_rewritten), static_cast<long long>(st->files_retired),
      static_cast<long long>(st->files_written), static_cast<long long>(st->rows_written),
      static_cast<long long>(st->rows_dropped));
  return 0;
}

int RunRepair(Env& env, const std::vector<std::string>& drop) {
  auto rep = drop.empty() ? verify::RebuildManifest(*env.lake, *env.con)
                          : verify::DropFiles(*env.lake, drop);
  if (!rep.ok()) return Fail(rep.status());
  std::fputs(verify::FormatRepairReport(*rep).c_str(), stdout);
  return rep->ExitCode();
}

int RunStats(Env& env, bool digest) {
  auto snap = env.lake->GetSnapshot();
  if (!snap.ok()) return Fail(snap.status());
  auto st = lake::Inspect(*snap, *env.con, digest);
  if (!st.ok()) return Fail(st.status());
  std::printf("manifest version %lld\n%s", static_cast<long long>(snap->version()),
              lake::FormatStats(*st, digest).c_str());
  return 0;
}

int RunGc(Env& env) {
  Status s = env.lake->CollectGarbage();
  if (!s.ok()) return Fail(s);
  std::printf("gc: done\n");
  return 0;
}

int RunCat(Env& env, const CatArgs& a) {
  auto snap = env.lake->GetSnapshot();
  if (!snap.ok()) return Fail(snap.status());
  std::fflush(stdout);
  Status s = lake::WriteDatasetCsv(*env.con, *snap, a.dataset, a.symbol,
                                   a.out.empty() ? "/dev/stdout" : a.out);
  if (!s.ok()) return Fail(s);
  return 0;
}

}  // namespace cryptolake::app
