#include "lake/lake.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>

#include "core/fsutil.h"
#include "lake/delta_log.h"
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
void Transaction::DependsOn(const Snapshot& snap, std::string dataset, std::string symbol,
                            Micros lo, Micros hi) {
  depends_.push_back({snap.version(), std::move(dataset), std::move(symbol), lo, hi});
}
std::string Transaction::NextFileName() {
  return fmt::format("part-{}-{}.parquet", id_, next_file_++);
}

// ---------------------------------------------------------------------------------------------
// Lake

static fs::path ManifestPath(const fs::path& root) { return root / "_manifest.json"; }
static constexpr const char* kIntentFile = "_intent.json";
// Beyond this many entries Open() stops looking for a lake nested below the root.
static constexpr int kNestedLakeScanLimit = 200'000;

static std::string NewTxnId(const Clock& clock) {
  static std::atomic<int> counter{0};
  return fmt::format("{}-{}-{}", clock.Now(), ::getpid(), counter++);
}

// "<micros>-<pid>-<counter>": the names the lake gives its staging directories.
static bool IsTxnId(std::string_view name) {
  int fields = 0;
  size_t digits = 0;
  for (char c : name) {
    if (c == '-') {
      if (digits == 0) return false;
      ++fields;
      digits = 0;
    } else if (c >= '0' && c <= '9') {
      ++digits;
    } else {
      return false;
    }
  }
  return fields == 2 && digits > 0;
}

static bool ProcessAlive(const std::string& txn_id) {
  auto a = txn_id.find('-');
  auto b = txn_id.find('-', a + 1);
  if (a == std::string::npos || b == std::string::npos) return false;
  pid_t pid = static_cast<pid_t>(std::strtol(txn_id.substr(a + 1, b - a - 1).c_str(), nullptr, 10));
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// The destinations a transaction's commit recorded before moving its files into place.
static std::vector<std::string> IntentPaths(const fs::path& staging_dir) {
  std::vector<std::string> out;
  auto text = ReadFile(staging_dir / kIntentFile);
  if (!text.ok()) return out;
  try {
    json j = json::parse(*text);
    for (const auto& p : j.at("files")) {
      std::string path = p.get<std::string>();
      if (IsLakeDataPath(path)) out.push_back(std::move(path));
    }
  } catch (const std::exception&) {
    // A torn intent: written before any file moved (it is fsynced first), so nothing to undo.
  }
  return out;
}

// Every path that some transaction's intent names (live or dead).
static std::set<std::string> AllIntentPaths(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root / "_staging", ec)) {
    if (!IsTxnId(e.path().filename().string())) continue;
    for (auto& p : IntentPaths(e.path())) out.insert(std::move(p));
  }
  return out;
}

// Lake data files on disk (klines_*/ and views/ below the root), relative to the root.
static std::vector<std::string> DataFilesOnDisk(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& top : fs::directory_iterator(root, ec)) {
    const std::string name = top.path().filename().string();
    if (!top.is_directory(ec) || (name != "views" && name.rfind("klines_", 0) != 0)) continue;
    for (auto it = fs::recursive_directory_iterator(top.path(), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->path().extension() != ".parquet") continue;
      std::string rel = it->path().lexically_relative(root).string();
      if (IsLakeDataPath(rel)) out.push_back(std::move(rel));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

static StatusOr<Manifest> ReadManifest(const fs::path& root) {
  std::error_code ec;
  if (!fs::exists(ManifestPath(root), ec)) {
    // No manifest: an empty lake, unless data files are there that no crashed commit's intent
    // explains. Then the manifest was lost, and treating the lake as empty would hide (and let
    // a later write orphan) every committed row.
    std::vector<std::string> files = DataFilesOnDisk(root);
    std::set<std::string> intents = AllIntentPaths(root);
    std::vector<std::string> unexplained;
    for (auto& f : files) {
      if (!intents.count(f)) unexplained.push_back(std::move(f));
    }
    if (!unexplained.empty()) {
      return DataLoss(
          "{} holds {} lake data file{} (first: {}) but no _manifest.json: the manifest is "
          "missing, so which files hold committed rows is unknown. Nothing was read or written; "
          "run `cryptolake repair` to rebuild the manifest from the files",
          root.string(), unexplained.size(), unexplained.size() == 1 ? "" : "s",
          unexplained.front());
    }
    return Manifest{};
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(ManifestPath(root)));
  auto m = Manifest::FromJson(text);
  if (!m.ok()) return m.status().WithContext(ManifestPath(root).string());
  return m;
}

StatusOr<Lake> Lake::Open(const fs::path& root, const Clock& clock, Options options) {
  if (root.empty()) return InvalidArgument("the data root is an empty path");
  fs::path abs = fs::absolute(root).lexically_normal();
  if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) {
    abs = abs.parent_path();  // "data/" -> "data"
  }
  std::error_code ec;
  if (fs::exists(abs, ec) && !fs::is_directory(abs, ec)) {
    return InvalidArgument("data root {} is not a directory", abs.string());
  }
  fs::path canon = fs::weakly_canonical(abs, ec);
  if (ec) canon = abs;
  for (fs::path p = canon.parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / "_manifest.json", ec)) {
      return InvalidArgument(
          "data root {} is inside the lake at {}: a lake cannot hold another (its garbage "
          "collector owns the folders below it); choose a data root outside {}",
          abs.string(), p.string(), p.string());
    }
    if (p == p.parent_path()) break;
  }
  if (fs::is_directory(canon, ec)) {
    int seen = 0;
    for (auto it = fs::recursive_directory_iterator(
             canon, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator() && seen < kNestedLakeScanLimit;
         it.increment(ec), ++seen) {
      if (it.depth() == 0 && it->path().filename() == "_staging") {
        it.disable_recursion_pending();
        continue;
      }
      if (it.depth() >= 1 && it->path().filename() == "_manifest.json") {
        fs::path nested = it->path().parent_path();
        if (fs::exists(canon / "_manifest.json", ec)) {
          // An existing lake that someone copied another one into keeps working: it never
          // touches files it did not write.
          spdlog::warn("{} holds another lake at {}; its files are left alone", abs.string(),
                       nested.string());
          break;
        }
        return InvalidArgument(
            "data root {} holds another lake at {}: lakes cannot be nested (each one's garbage "
            "collector owns the folders below it); use --data {} for that lake, or move it out",
            abs.string(), nested.string(), nested.string());
      }
    }
  }
  return Lake(abs, clock, options);
}

bool Lake::Exists() const {
  std::error_code ec;
  return fs::is_directory(root_, ec);
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

// Creates `dir` and any missing parents through `env` (no fsync: nothing durable names them yet).
static Status CreateDirs(Env* env, const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return Status::Ok();
  RETURN_IF_ERROR(CreateDirs(env, dir.parent_path()));
  return env->CreateDir(dir);
}

StatusOr<Transaction> Lake::Begin() {
  Transaction t;
  t.id_ = NewTxnId(*clock_);
  t.staging_ = root_ / "_staging" / t.id_;
  RETURN_IF_ERROR(CreateDirs(opt_.env, t.staging_));
  return t;
}

void Lake::Abandon(Transaction txn) {
  std::error_code ec;
  fs::remove_all(txn.staging_, ec);
}

static bool Overlaps(Micros a_lo, Micros a_hi, Micros b_lo, Micros b_hi) {
  return a_lo <= b_hi && b_lo <= a_hi;
}

// Makes every staged file durable before anything can name it, and records its checksum (verify
// compares it, so a file damaged after its commit is found even where Parquet cannot tell).
static Status PrepareStaged(Env* env, std::vector<std::pair<fs::path, FileEntry>>& added) {
  for (auto& [staged, entry] : added) {
    RETURN_IF_ERROR(FsyncPath(staged, env));
    ASSIGN_OR_RETURN(entry.sha256, Sha256File(staged));
  }
  return Status::Ok();
}

StatusOr<int64_t> Lake::Commit(Transaction txn) {
  if (txn.empty()) {
    Abandon(std::move(txn));
    ASSIGN_OR_RETURN(Manifest m, ReadManifest(root_));
    return m.version;
  }
  // 1. Durable staged files with their checksums (outside the lock: it is the slow part).
  if (Status s = PrepareStaged(opt_.env, txn.added_); !s.ok()) {
    Abandon(std::move(txn));
    return s;
  }
  auto lock = FileLock::Acquire(root_ / "_lock");
  if (!lock.ok()) {
    Abandon(std::move(txn));
    return lock.status();
  }
  return CommitLocked(txn);
}

// The conditions of `txn` (ExpectMeta, DependsOn) that commits after its snapshot may have broken.
Status Lake::CheckConflicts(const Transaction& txn, const Manifest& next) {
  for (const auto& [key, expected] : txn.expect_meta_) {
    auto it = next.meta.find(key);
    const json cur_value = it == next.meta.end() ? json() : *it;
    if (cur_value != expected) {
      return Aborted("commit aborted: meta '{}' was changed by a concurrent commit", key);
    }
  }
  for (const auto& d : txn.depends_) {
    for (const auto& f : next.files) {
      if (f.added_version > d.version && f.dataset == d.dataset && f.symbol == d.symbol &&
          Overlaps(f.min_time, f.max_time, d.lo, d.hi)) {
        return Aborted(
            "commit aborted (conflict): a concurrent commit (version {}) added {}, which "
            "overlaps the {} {} rows this transaction read at version {}",
            f.added_version, f.path, d.dataset, d.symbol, d.version);
      }
    }
    for (const auto& r : next.retired) {
      if (r.retired_version > d.version && r.dataset == d.dataset && r.symbol == d.symbol &&
          Overlaps(r.min_time, r.max_time, d.lo, d.hi)) {
        return Aborted(
            "commit aborted (conflict): a concurrent commit (version {}) retired {}, which "
            "overlaps the {} {} rows this transaction read at version {}",
            r.retired_version, r.path, d.dataset, d.symbol, d.version);
      }
    }
  }
  return Status::Ok();
}

StatusOr<int64_t> Lake::CommitLocked(Transaction& txn) {
  std::vector<fs::path> moved;  // files this commit moved into place, removed again on failure
  auto clean_up = [&] {
    std::error_code ec;
    for (const auto& p : moved) fs::remove(p, ec);
    fs::remove_all(txn.staging_, ec);
  };
  auto fail = [&](Status s) {
    clean_up();
    return s;
  };
  if (txn.empty()) {
    auto cur = ReadManifest(root_);
    if (!cur.ok()) return fail(cur.status());
    clean_up();
    return cur->version;
  }
  auto cur = ReadManifest(root_);
  if (!cur.ok()) return fail(cur.status());
  // Delta versions an earlier commit recorded but did not put in place (it crashed) go first;
  // if they still cannot, this commit records them again and reports it below.
  if (Status ds = PublishDelta(*cur, txn.staging_); !ds.ok())
    spdlog::warn("lake: {}", ds.ToString());
  const Manifest before = *cur;
  Manifest next = std::move(cur).value();
  const int64_t version = next.version + 1;
  const Micros now = clock_->Now();
  // 2. The conditions a concurrent commit may have broken.
  if (Status c = CheckConflicts(txn, next); !c.ok()) return fail(c);
  // Retirements must name live files; otherwise another writer changed them first.
  for (const auto& path : txn.retired_) {
    auto it =
        std::find_if(next.files.begin(), next.files.end(), [&](auto& f) { return f.path == path; });
    if (it == next.files.end()) {
      return fail(
          Aborted("commit aborted: {} is no longer live (a concurrent commit retired it)", path));
    }
    RetiredFile r;
    r.path = path;
    r.retired_at = now;
    r.retired_version = version;
    r.dataset = it->dataset;
    r.symbol = it->symbol;
    r.min_time = it->min_time;
    r.max_time = it->max_time;
    next.retired.push_back(std::move(r));
    next.files.erase(it);
  }
  // 3. Record where the files go, so that a crash from here on leaves files that gc knows are
  //    this transaction's own; then move them into place (still invisible: the manifest does not
  //    name them yet), never over an existing file.
  json intent = {{"version", version}, {"files", json::array()}};
  for (const auto& [staged, entry] : txn.added_) {
    if (!IsLakeDataPath(entry.path)) {
      return fail(Internal("refusing to publish {}: not a lake data file path", entry.path));
    }
    intent["files"].push_back(entry.path);
  }
  Status s = WriteFileAtomicVia(txn.staging_ / (std::string(kIntentFile) + ".tmp"),
                                txn.staging_ / kIntentFile, intent.dump(), opt_.env);
  if (!s.ok()) return fail(s);
  std::set<fs::path> dirs;
  for (auto& [staged, entry] : txn.added_) {
    fs::path dst = root_ / entry.path;
    s = CreateDirsDurable(dst.parent_path(), opt_.env);
    if (s.ok()) s = RenameNoReplace(staged, dst, opt_.env);
    if (!s.ok()) return fail(s);
    moved.push_back(dst);
    std::error_code ec;
    entry.bytes = static_cast<int64_t>(fs::file_size(dst, ec));
    entry.added_version = version;
    dirs.insert(dst.parent_path());
    next.files.push_back(entry);
  }
  for (const auto& d : dirs) {
    s = FsyncPath(d, opt_.env);
    if (!s.ok()) return fail(s);
  }
  for (auto& [k, v] : txn.meta_) next.meta[k] = std::move(v);
  next.version = version;
  next.committed_at = now;
  // The Delta versions this commit makes, recorded in the manifest (delta_log.h).
  if (opt_.delta_log) {
    s = delta::Plan(root_, before, &next, now, delta::ParquetSchema);
    if (!s.ok()) return fail(s);
  }
  // 4. The commit point: one atomic rename of the manifest.
  s = WriteFileAtomicVia(txn.staging_ / "_manifest.json", ManifestPath(root_), next.ToJson(),
                         opt_.env);
  if (!s.ok()) {
    // The rename may have happened with only the directory fsync failing: then the files are
    // named and must stay.
    auto now_on_disk = ReadManifest(root_);
    if (now_on_disk.ok() && now_on_disk->version == version) moved.clear();
    return fail(s);
  }
  moved.clear();
  Status delta_status = PublishDelta(next, txn.staging_);
  std::error_code ec;
  fs::remove_all(txn.staging_, ec);
  IgnoreError(CollectGarbageLocked(next),
              "the commit is durable; files it retired are collected by a later commit or gc");
  if (!delta_status.ok()) return delta_status;
  return version;
}

StatusOr<int64_t> Lake::CommitWithRetry(const Attempt& attempt, int optimistic_tries,
                                        RetryStats* stats) {
  RetryStats local;
  RetryStats& st = stats ? *stats : local;
  st = {};
  for (int i = 0; i < optimistic_tries; ++i) {
    ASSIGN_OR_RETURN(Snapshot snap, GetSnapshot());
    ++st.tries;
    auto txn = attempt(snap);
    if (!txn.ok()) return txn.status();
    auto v = Commit(std::move(txn).value());
    if (v.ok() || v.status().code() != StatusCode::kAborted) return v;
    spdlog::debug("commit try {} aborted: {}", st.tries, v.status().message());
  }
  // Pessimistic: hold the writer lock from the snapshot to the commit.
  st.locked = true;
  std::error_code ec;
  fs::create_directories(root_, ec);
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(root_ / "_lock"));
  ASSIGN_OR_RETURN(Snapshot snap, GetSnapshot());
  ++st.tries;
  ASSIGN_OR_RETURN(Transaction txn, attempt(snap));
  if (Status s = PrepareStaged(opt_.env, txn.added_); !s.ok()) {
    Abandon(std::move(txn));
    return s;
  }
  return CommitLocked(txn);
}

std::set<std::string> Lake::PendingIntentPaths() const { return AllIntentPaths(root_); }

Status Lake::InstallManifest(const Manifest& m) {
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(root_ / "_lock"));
  std::error_code ec;
  if (fs::exists(ManifestPath(root_), ec)) {
    return FailedPrecondition("{} exists: repair rebuilds only a missing manifest",
                              ManifestPath(root_).string());
  }
  for (const auto& f : m.files) {
    if (!IsLakeDataPath(f.path) || !fs::is_regular_file(root_ / f.path, ec)) {
      return Internal("refusing to install a manifest naming {}", f.path);
    }
  }
  const fs::path tmp_dir = root_ / "_staging" / NewTxnId(*clock_);
  fs::create_directories(tmp_dir, ec);
  Status s = WriteFileAtomicVia(tmp_dir / "_manifest.json", ManifestPath(root_), m.ToJson());
  fs::remove_all(tmp_dir, ec);
  return s;
}

Status Lake::CollectGarbage() {
  if (!Exists()) return NotFound("no lake at {}: nothing to collect", root_.string());
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(root_ / "_lock"));
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(root_));
  if (m.meta.contains(delta::kPendingKey)) {
    const fs::path tmp_dir = root_ / "_staging" / NewTxnId(*clock_);
    Status s = CreateDirs(opt_.env, tmp_dir);
    if (s.ok()) s = PublishDelta(m, tmp_dir);
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);
    RETURN_IF_ERROR(s);
  }
  return CollectGarbageLocked(m);
}

Status Lake::PublishDelta(const Manifest& m, const fs::path& tmp_dir) const {
  if (!opt_.delta_log) return Status::Ok();
  Status s = delta::Publish(root_, tmp_dir, m, opt_.env, delta::NdjsonToCheckpoint);
  if (s.ok()) return s;
  return s.WithContext(fmt::format(
      "manifest version {} is committed, but a Delta log version it records is not in place (a "
      "later commit or `cryptolake gc` puts it there)",
      m.version));
}

// Removes `rel` (a lake data path) if it is a regular file.
static Status RemoveOwnedFile(Env* env, const fs::path& root, const std::string& rel) {
  if (!IsLakeDataPath(rel)) return Status::Ok();
  std::error_code ec;
  const fs::path p = root / rel;
  if (!fs::is_regular_file(fs::symlink_status(p, ec))) return Status::Ok();
  return env->Unlink(p);
}

Status Lake::CollectGarbageLocked(const Manifest& m) {
  const Micros now = clock_->Now();
  std::set<std::string> live, named;
  for (const auto& f : m.files) live.insert(f.path);
  named = live;
  for (const auto& r : m.retired) named.insert(r.path);
  bool changed = false;
  Status first_error;  // a file that could not be deleted stays listed, for the next gc
  auto note = [&](const Status& s) {
    if (first_error.ok()) first_error = s;
  };
  Manifest next = m;
  next.retired.clear();
  for (const auto& r : m.retired) {
    if (now - r.retired_at >= opt_.gc_grace) {
      Status s = live.count(r.path) ? Status::Ok() : RemoveOwnedFile(opt_.env, root_, r.path);
      if (s.ok()) {
        changed = true;
        continue;
      }
      note(s);
    }
    next.retired.push_back(r);
  }
  // Staging directories of dead processes, and the files their intents moved into place that no
  // manifest names (a commit that crashed before its manifest was written). A directory whose
  // files could not all be deleted keeps its intent, for the next gc.
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "_staging", ec)) {
    const std::string name = e.path().filename().string();
    if (!IsTxnId(name) || ProcessAlive(name)) continue;
    Status s;
    for (const auto& p : IntentPaths(e.path())) {
      if (s.ok() && !named.count(p)) s = RemoveOwnedFile(opt_.env, root_, p);
    }
    if (s.ok()) s = opt_.env->RemoveAll(e.path());
    if (!s.ok()) note(s);
  }
  if (changed) {
    // Retirement list shrank; this is bookkeeping only (same live files, same version).
    const fs::path tmp_dir = root_ / "_staging" / NewTxnId(*clock_);
    Status s = CreateDirs(opt_.env, tmp_dir);
    if (s.ok()) {
      s = WriteFileAtomicVia(tmp_dir / "_manifest.json", ManifestPath(root_), next.ToJson(),
                             opt_.env);
    }
    fs::remove_all(tmp_dir, ec);
    RETURN_IF_ERROR(s);
  }
  return first_error;
}

}  // namespace cryptolake::lake
