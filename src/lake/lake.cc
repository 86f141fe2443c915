#include "lake/lake.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>

#include "core/fsutil.h"
#include "lake/duck.h"

namespace cryptolake::lake {

using nlohmann::json;

const char* SourceName(Source s) {
  switch (s) {
    case Source::kStream:
      return "stream";
    case Source::kImport:
      return "import";
    case Source::kRest:
      return "rest";
  }
  return "?";
}

StatusOr<Source> ParseSource(std::string_view s) {
  if (s == "stream") return Source::kStream;
  if (s == "import") return Source::kImport;
  if (s == "rest") return Source::kRest;
  return InvalidArgument("unknown source '{}' (expected import, rest or stream)", s);
}

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
                      {"bytes", f.bytes}});
  }
  j["files"] = std::move(jfiles);
  json retired = json::array();
  for (const auto& r : this->retired)
    retired.push_back({{"path", r.path}, {"retired_at_us", r.retired_at}});
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
      m.files.push_back(std::move(e));
    }
    for (const auto& r : j.at("retired")) {
      m.retired.push_back({r.at("path").get<std::string>(), r.at("retired_at_us").get<int64_t>()});
    }
    m.meta = j.value("meta", json::object());
    return m;
  } catch (const std::exception& e) {
    return DataLoss("manifest is not valid: {}", e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshot

std::vector<const FileEntry*> Snapshot::Files(std::string_view dataset,
                                              std::string_view symbol) const {
  std::vector<const FileEntry*> out;
  for (const auto& f : m_->files) {
    if (f.dataset == dataset && (symbol.empty() || f.symbol == symbol)) out.push_back(&f);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->path < b->path; });
  return out;
}

std::vector<std::string> Snapshot::Symbols(std::string_view dataset) const {
  std::set<std::string> s;
  for (const auto& f : m_->files) {
    if (f.dataset == dataset) s.insert(f.symbol);
  }
  return {s.begin(), s.end()};
}

std::vector<std::string> Snapshot::Datasets() const {
  std::set<std::string> s;
  for (const auto& f : m_->files) s.insert(f.dataset);
  return {s.begin(), s.end()};
}

std::string Snapshot::ScanSql(const std::vector<const FileEntry*>& files,
                              std::string_view empty_sql) const {
  if (files.empty()) return fmt::format("({})", empty_sql);
  std::vector<fs::path> paths;
  paths.reserve(files.size());
  for (auto* f : files) paths.push_back(root_ / f->path);
  return fmt::format("read_parquet({}, hive_partitioning = true)", SqlPathList(paths));
}

// ---------------------------------------------------------------------------------------------
// Transaction

void Transaction::AddFile(fs::path staged, FileEntry entry) {
  added_.emplace_back(std::move(staged), std::move(entry));
}
void Transaction::RetireFile(std::string path) { retired_.push_back(std::move(path)); }
void Transaction::SetMeta(std::string key, json value) { meta_[std::move(key)] = std::move(value); }
void Transaction::ExpectMeta(std::string key, json expected) {
  expect_meta_[std::move(key)] = std::move(expected);
}
std::string Transaction::NextFileName() {
  return fmt::format("part-{}-{}.parquet", id_, next_file_++);
}

// ---------------------------------------------------------------------------------------------
// Lake

static fs::path ManifestPath(const fs::path& root) { return root / "_manifest.json"; }

StatusOr<Lake> Lake::Open(const fs::path& root, const Clock& clock, Options options) {
  std::error_code ec;
  fs::create_directories(root / "_staging", ec);
  if (ec) return IOError("cannot create data root {}: {}", root.string(), ec.message());
  return Lake(fs::absolute(root).lexically_normal(), clock, options);
}

static StatusOr<Manifest> ReadManifest(const fs::path& root) {
  std::error_code ec;
  if (!fs::exists(ManifestPath(root), ec)) return Manifest{};
  ASSIGN_OR_RETURN(std::string text, ReadFile(ManifestPath(root)));
  auto m = Manifest::FromJson(text);
  if (!m.ok()) return m.status().WithContext(ManifestPath(root).string());
  return m;
}

std::string Lake::ManifestStamp() const {
  struct stat st;
  if (::stat(ManifestPath(root_).c_str(), &st) != 0) return "";
  return fmt::format("{}:{}:{}.{}", static_cast<unsigned long long>(st.st_ino),
                     static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
                     static_cast<long long>(st.st_mtim.tv_nsec));
}

StatusOr<Snapshot> Lake::GetSnapshot() const {
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(root_));
  return Snapshot(root_, std::make_shared<const Manifest>(std::move(m)));
}

StatusOr<Transaction> Lake::Begin() {
  static std::atomic<int> counter{0};
  Transaction t;
  t.id_ = fmt::format("{}-{}-{}", clock_->Now(), ::getpid(), counter++);
  t.staging_ = root_ / "_staging" / t.id_;
  std::error_code ec;
  fs::create_directories(t.staging_, ec);
  if (ec) return IOError("cannot create {}: {}", t.staging_.string(), ec.message());
  return t;
}

void Lake::Abandon(Transaction txn) {
  std::error_code ec;
  fs::remove_all(txn.staging_, ec);
}

// Creates `dir` and any missing parents, fsyncing each parent whose entries changed.
static Status CreateDirsDurable(const fs::path& root, const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::Ok();
  RETURN_IF_ERROR(CreateDirsDurable(root, dir.parent_path()));
  fs::create_directory(dir, ec);
  if (ec) return IOError("mkdir {}: {}", dir.string(), ec.message());
  return FsyncPath(dir.parent_path());
}

StatusOr<int64_t> Lake::Commit(Transaction txn) {
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove_all(txn.staging_, ec);
  };
  if (txn.empty()) {
    cleanup();
    ASSIGN_OR_RETURN(Manifest m, ReadManifest(root_));
    return m.version;
  }
  // 1. Make every staged file durable before anything can name it.
  for (const auto& [staged, entry] : txn.added_) {
    Status s = FsyncPath(staged);
    if (!s.ok()) {
      cleanup();
      return s;
    }
  }
  auto lock = FileLock::Acquire(root_ / "_lock");
  if (!lock.ok()) {
    cleanup();
    return lock.status();
  }
  auto cur = ReadManifest(root_);
  if (!cur.ok()) {
    cleanup();
    return cur.status();
  }
  Manifest next = std::move(cur).value();
  const Micros now = clock_->Now();
  // 2. Compare-and-swap conditions on meta.
  for (const auto& [key, expected] : txn.expect_meta_) {
    auto it = next.meta.find(key);
    const json cur_value = it == next.meta.end() ? json() : *it;
    if (cur_value != expected) {
      cleanup();
      return Aborted("commit aborted: meta '{}' was changed by a concurrent commit", key);
    }
  }
  // Retirements must name live files; otherwise another writer changed them first.
  for (const auto& path : txn.retired_) {
    auto it =
        std::find_if(next.files.begin(), next.files.end(), [&](auto& f) { return f.path == path; });
    if (it == next.files.end()) {
      cleanup();
      return Aborted("commit aborted: {} is no longer live (a concurrent commit retired it)", path);
    }
    next.retired.push_back({path, now});
    next.files.erase(it);
  }
  // 3. Move staged files into place (still invisible: the manifest does not name them yet).
  std::set<fs::path> dirs;
  for (auto& [staged, entry] : txn.added_) {
    fs::path dst = root_ / entry.path;
    Status s = CreateDirsDurable(root_, dst.parent_path());
    if (s.ok() && ::rename(staged.c_str(), dst.c_str()) != 0) {
      s = IOError("rename {} -> {}: {}", staged.string(), dst.string(), std::strerror(errno));
    }
    if (!s.ok()) {
      cleanup();
      return s;
    }
    std::error_code ec;
    entry.bytes = static_cast<int64_t>(fs::file_size(dst, ec));
    dirs.insert(dst.parent_path());
    next.files.push_back(entry);
  }
  for (const auto& d : dirs) {
    Status s = FsyncPath(d);
    if (!s.ok()) {
      cleanup();
      return s;
    }
  }
  for (auto& [k, v] : txn.meta_) next.meta[k] = std::move(v);
  next.version += 1;
  next.committed_at = now;
  // 4. The commit point: one atomic rename of the manifest.
  Status s = WriteFileAtomic(ManifestPath(root_), next.ToJson());
  cleanup();
  if (!s.ok()) return s;
  (void)CollectGarbageLocked(next);
  return next.version;
}

Status Lake::CollectGarbage() {
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(root_ / "_lock"));
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(root_));
  return CollectGarbageLocked(m);
}

static bool ProcessAlive(const std::string& txn_id) {
  // txn id: <micros>-<pid>-<counter>
  auto a = txn_id.find('-');
  auto b = txn_id.find('-', a + 1);
  if (a == std::string::npos || b == std::string::npos) return false;
  pid_t pid = static_cast<pid_t>(std::strtol(txn_id.substr(a + 1, b - a - 1).c_str(), nullptr, 10));
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

Status Lake::CollectGarbageLocked(const Manifest& m) {
  const Micros now = clock_->Now();
  std::set<std::string> keep;
  for (const auto& f : m.files) keep.insert(f.path);
  bool changed = false;
  Manifest next = m;
  next.retired.clear();
  for (const auto& r : m.retired) {
    if (now - r.retired_at >= opt_.gc_grace) {
      std::error_code ec;
      fs::remove(root_ / r.path, ec);
      changed = true;
    } else {
      keep.insert(r.path);
      next.retired.push_back(r);
    }
  }
  // Orphans: parquet files under data directories that no manifest names (crashed commits).
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    std::string rel = p.lexically_relative(root_).string();
    if (it.depth() == 0 && it->is_directory() &&
        (rel == "_staging" || rel.rfind("_", 0) == 0 || rel == "quarantine" || rel == "reports" ||
         rel == "forecasts")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && p.extension() == ".parquet" && !keep.count(rel)) {
      fs::remove(p, ec);
      ec.clear();
    }
  }
  // Manifest temp files of crashed writers (we hold the lock, so none is in flight).
  for (auto& e : fs::directory_iterator(root_, ec)) {
    if (e.path().filename().string().rfind("_manifest.json.tmp-", 0) == 0) fs::remove(e.path(), ec);
  }
  for (auto& e : fs::directory_iterator(root_ / "_staging", ec)) {
    if (!ProcessAlive(e.path().filename().string())) fs::remove_all(e.path(), ec);
  }
  if (changed) {
    // Retirement list shrank; this is bookkeeping only (same live files, same version).
    RETURN_IF_ERROR(WriteFileAtomic(ManifestPath(root_), next.ToJson()));
  }
  return Status::Ok();
}

}  // namespace cryptolake::lake
