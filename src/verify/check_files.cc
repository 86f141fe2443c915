// The file checks of `cryptolake verify` (verify.h "files"; Checker in checker.h): every file the
// manifest lists exists, is readable Parquet with the dataset's schema and row count, matches its
// commit's checksum and decodes. The files that fail are marked bad for the later checks.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "batch/views.h"
#include "core/fsutil.h"
#include "verify/checker.h"

namespace cryptolake::verify::detail {

StatusOr<std::map<std::string, std::string>> Checker::CanonicalSchema(const std::string& columns) {
  auto it = schemas_.find(columns);
  if (it != schemas_.end()) return it->second;
  std::string sel;
  for (const auto& c : batch::ParseColumns(columns)) {
    if (!sel.empty()) sel += ", ";
    sel += fmt::format("NULL::{} AS {}", c.type, c.name);
  }
  ASSIGN_OR_RETURN(Result r, con_.Query("DESCRIBE SELECT " + sel));
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < r.rows(); ++i) out[r.GetString(0, i)] = r.GetString(1, i);
  schemas_[columns] = out;
  return out;
}

void Checker::ReadFooters(const std::vector<std::string>& paths,
                          std::map<std::string, FileInfo>* info,
                          std::map<std::string, std::string>* unreadable) {
  auto query = [&](const std::string& list) -> Status {
    ASSIGN_OR_RETURN(Result s,
                     con_.Query(fmt::format("SELECT file_name, name, duckdb_type FROM "
                                            "parquet_schema({}) WHERE num_children IS NULL",
                                            list)));
    ASSIGN_OR_RETURN(
        Result m,
        con_.Query(fmt::format("SELECT file_name, num_rows FROM parquet_file_metadata({})", list)));
    for (size_t i = 0; i < s.rows(); ++i) {
      (*info)[s.GetString(0, i)].columns[s.GetString(1, i)] = s.GetString(2, i);
    }
    for (size_t i = 0; i < m.rows(); ++i) (*info)[m.GetString(0, i)].rows = m.GetInt64(1, i);
    return Status::Ok();
  };
  std::vector<fs::path> all(paths.begin(), paths.end());
  if (query(lake::SqlPathList(all)).ok()) return;
  info->clear();
  for (const auto& p : paths) {
    Status s = query(SqlQuote(p));
    if (!s.ok()) {
      info->erase(p);
      std::string msg = s.message();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      (*unreadable)[p] = msg;
    }
  }
}

void Checker::MarkBad(const FileEntry& f) {
  bad_paths_.insert(f.path);
  if (!f.symbol.empty()) bad_symbols_.insert(f.symbol);
}

std::string Checker::SkipNote(const FileEntry& f) const {
  if (!opt_.views || f.symbol.empty()) return "";
  return fmt::format(" (view checks of {} skipped)", f.symbol);
}

std::string Checker::Held(const FileEntry& f) {
  const bool days = f.dataset.rfind("klines_", 0) != 0 || f.dataset == "klines_1d";
  auto when = [&](Micros t) { return days ? FormatDate(t) : FormatMinute(t); };
  std::string how = f.dataset.rfind("klines_", 0) == 0
                        ? "then `cryptolake backfill` fetches them again"
                        : "then `cryptolake batch` rebuilds it";
  return fmt::format("it held {} {} {}..{}, {} rows; `cryptolake repair --drop {}` retires it, {}",
                     f.dataset, f.symbol, when(f.min_time), when(f.max_time), f.rows, f.path, how);
}

void Checker::CheckChecksums(const std::vector<const FileEntry*>& files) {
  for (const FileEntry* f : files) {
    if (f->sha256.empty() || bad_paths_.count(f->path)) continue;
    auto sum = Sha256File(snap_.Abs(*f));
    if (sum.ok() && *sum == f->sha256) continue;
    MarkBad(*f);
    Add(Finding::kDamagedFile, true, f->dataset, f->symbol,
        fmt::format("{}: {}; {}{}", f->path,
                    sum.ok() ? "its bytes no longer match the checksum taken at its commit"
                             : sum.status().message(),
                    Held(*f), SkipNote(*f)),
        f->rows, f->min_time, f->max_time);
  }
}

Status Checker::CheckDecodes(const std::vector<const FileEntry*>& files) {
  std::map<std::string, std::vector<const FileEntry*>> by_dataset;
  for (const FileEntry* f : files) {
    if (!bad_paths_.count(f->path)) by_dataset[f->dataset].push_back(f);
  }
  for (const auto& [dataset, list] : by_dataset) {
    std::string expected = ExpectedColumns(dataset);
    if (expected.empty()) continue;
    std::string cols;
    for (const auto& c : batch::ParseColumns(expected)) cols += (cols.empty() ? "" : ", ") + c.name;
    auto read_all = [&](const std::vector<const FileEntry*>& fs_) -> Status {
      std::vector<fs::path> paths;
      for (auto* f : fs_) paths.push_back(snap_.Abs(*f));
      return con_
          .Query(fmt::format("SELECT count(*), bit_xor(hash({})) FROM read_parquet({}, "
                             "hive_partitioning = false)",
                             cols, lake::SqlPathList(paths)))
          .status();
    };
    if (read_all(list).ok()) continue;
    for (const FileEntry* f : list) {
      Status s = read_all({f});
      if (s.ok()) continue;
      std::string msg = s.message();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      MarkBad(*f);
      Add(Finding::kDamagedFile, true, f->dataset, f->symbol,
          fmt::format("{}: its rows cannot be read back ({}); {}{}", f->path, msg, Held(*f),
                      SkipNote(*f)),
          f->rows, f->min_time, f->max_time);
    }
  }
  return Status::Ok();
}

Status Checker::CheckFiles() {
  std::vector<const FileEntry*> files;
  for (const auto& f : snap_.manifest().files) {
    if (opt_.symbol && f.symbol != *opt_.symbol) continue;
    files.push_back(&f);
  }
  std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->path < b->path; });
  rep_.files_checked = static_cast<int64_t>(files.size());
  std::vector<std::string> present;
  for (const FileEntry* f : files) {
    std::error_code ec;
    if (fs::is_regular_file(snap_.Abs(*f), ec)) {
      present.push_back(snap_.Abs(*f).string());
    } else {
      MarkBad(*f);
      Add(Finding::kMissingFile, true, f->dataset, f->symbol,
          fmt::format("{}: listed in the manifest but missing; {}{}", f->path, Held(*f),
                      SkipNote(*f)),
          f->rows, f->min_time, f->max_time);
    }
  }
  if (present.empty()) return Status::Ok();
  std::map<std::string, FileInfo> info;
  std::map<std::string, std::string> unreadable;
  ReadFooters(present, &info, &unreadable);
  for (const FileEntry* f : files) {
    std::string abs = snap_.Abs(*f).string();
    if (bad_paths_.count(f->path)) continue;
    if (auto u = unreadable.find(abs); u != unreadable.end()) {
      MarkBad(*f);
      Add(Finding::kUnreadableFile, true, f->dataset, f->symbol,
          fmt::format("{}: not readable as Parquet: {}; {}{}", f->path, u->second, Held(*f),
                      SkipNote(*f)),
          f->rows, f->min_time, f->max_time);
      continue;
    }
    const FileInfo& fi = info[abs];
    std::string expected = ExpectedColumns(f->dataset);
    if (!expected.empty()) {
      ASSIGN_OR_RETURN(auto want, CanonicalSchema(expected));
      std::vector<std::string> problems;
      for (const auto& [name, type] : want) {
        auto it = fi.columns.find(name);
        if (it == fi.columns.end()) {
          problems.push_back(fmt::format("missing column {} {}", name, type));
        } else if (it->second != type) {
          problems.push_back(fmt::format("column {} is {}, expected {}", name, it->second, type));
        }
      }
      for (const auto& [name, type] : fi.columns) {
        if (!want.count(name))
          problems.push_back(fmt::format("unexpected column {} {}", name, type));
      }
      if (!problems.empty()) {
        std::string detail = f->path + ": ";
        for (size_t i = 0; i < problems.size(); ++i) detail += (i ? "; " : "") + problems[i];
        MarkBad(*f);
        Add(Finding::kSchema, true, f->dataset, f->symbol, detail + SkipNote(*f),
            static_cast<int64_t>(problems.size()));
        continue;
      }
    }
    if (fi.rows != f->rows) {
      MarkBad(*f);
      Add(Finding::kRowCount, true, f->dataset, f->symbol,
          fmt::format("{}: holds {} rows, the manifest says {}{}", f->path, fi.rows, f->rows,
                      SkipNote(*f)),
          fi.rows - f->rows);
    }
  }
  CheckChecksums(files);
  return CheckDecodes(files);
}

}  // namespace cryptolake::verify::detail
