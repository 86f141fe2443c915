// The lake: the master dataset and the batch views, as Parquet files named by one manifest.
//
// Layout under the data root:
//   _manifest.json                      the live file list (replaced atomically on every commit)
//   _lock                               writers' flock; readers never take it
//   _staging/<txn>/                     files being written by an open transaction (invisible),
//                                       with _intent.json once its commit starts moving them
//   klines_<interval>/symbol=S/year=Y/month=MM/part-<txn>-<n>.parquet   master dataset
//   views/<view>/symbol=S/year=Y/part-<txn>-<n>.parquet                 batch views
//   klines_<interval>/_delta_log/, views/<view>/_delta_log/            each dataset's Delta Lake
//                                       transaction log, naming the same files (delta_log.h)
//   forecasts/                          `cryptolake forecast` outputs (not lake data)
//
// Contract:
//  * Immutable, append-only: a published file is never modified. A change adds new files and may
//    retire old ones (compaction, view refresh) in one atomic commit.
//  * Commit = fsync staged files, record their destinations in the transaction's intent, move
//    them into place (never over an existing file), fsync directories, then atomically replace
//    _manifest.json (write temp, fsync, rename, fsync dir), which also records the Delta versions
//    the commit makes; then put those in place (delta_log.h: a crash before they are leaves the
//    Delta tables one version behind until the next commit or gc puts them). A crash at any instant
//    leaves either the old manifest or the new one; files not named by the manifest are invisible.
//    Nothing committed is ever lost and no partial commit is visible.
//  * Ownership: the lake deletes only files it wrote and recorded: files an earlier manifest
//    named and a later one retired (after gc_grace), its own staging directories, and the files a
//    crashed commit's intent names that no manifest names. Everything else under the data root
//    (a user's Parquet files, another lake, outputs) is never touched.
//  * Readers take a Snapshot (one manifest read) and use only the files it names. A retired file
//    stays on disk for `gc_grace` after it is retired, so a reader's snapshot stays readable while
//    concurrent commits go on.
//  * Writers serialize their commits on _lock (flock), so commits from several processes are
//    safe. A transaction that read the lake declares what it read (DependsOn); its commit aborts
//    with kAborted if a commit after that snapshot added or retired a file overlapping it, so that
//    read-check-write writers (import's duplicate check, the stream's append) are serializable:
//    CommitWithRetry re-runs them on a fresh snapshot.
//  * A data root with lake files but no manifest is damaged, not empty: every read and write
//    fails with kDataLoss naming it (`cryptolake repair` rebuilds the manifest).
//  * Open() creates nothing: a read never creates the data root or any folder in it.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "core/time.h"

namespace cryptolake::lake {

namespace fs = std::filesystem;

// Where a kline came from. For the same (symbol, interval, open_time) the higher one wins:
// rest > import > stream.
enum class Source { kStream = 1, kImport = 2, kRest = 3 };
const char* SourceName(Source s);
StatusOr<Source> ParseSource(std::string_view s);

struct FileEntry {
  std::string path;     // relative to the data root
  std::string dataset;  // "klines_1m", "daily_raw", ...
  std::string symbol;
  std::string partition;  // "year=2025/month=05"
  std::string source;     // "import" | "rest" | "stream" | "view" | "compact"
  int64_t rows = 0;
  Micros min_time = 0;  // smallest / largest value of the dataset's time column
  Micros max_time = 0;
  int64_t bytes = 0;
  int64_t added_version = 0;  // the manifest version that published it (0: before versions)
  std::string sha256;         // of the file's bytes, taken at commit ("" in older manifests)
  std::string time_column;    // the column min_time/max_time describe ("" in older manifests)
};

struct RetiredFile {
  std::string path;
  Micros retired_at = 0;
  int64_t retired_version = 0;  // the manifest version that retired it (0: unknown)
  // What it held, for conflict checks (empty/0 in manifests written before they were kept).
  std::string dataset, symbol;
  Micros min_time = 0, max_time = 0;
};

struct Manifest {
  int64_t version = 0;
  Micros committed_at = 0;
  std::vector<FileEntry> files;  // live files
  std::vector<RetiredFile> retired;
  nlohmann::json meta = nlohmann::json::object();  // per-module state, e.g. view fingerprints

  std::string ToJson() const;
  // Parses and checks a manifest: every path must be a relative path below a dataset folder
  // (klines_*/ or views/) ending in .parquet, with no "..", so that nothing it names can lead the
  // lake outside its own files. kDataLoss otherwise.
  static StatusOr<Manifest> FromJson(std::string_view text);
};

// Whether `rel` (relative to a data root) is a place the lake writes data files: a .parquet file
// below klines_<interval>/ or views/, without "." or ".." components and without components
// starting with "_" (a Delta log's checkpoints, _delta_log/*.parquet, are not data files).
bool IsLakeDataPath(std::string_view rel);

// An immutable view of the lake at one manifest version. Cheap to copy.
class Snapshot {
 public:
  Snapshot(fs::path root, std::shared_ptr<const Manifest> m)
      : root_(std::move(root)), m_(std::move(m)) {}
  const fs::path& root() const { return root_; }
  const Manifest& manifest() const { return *m_; }
  int64_t version() const { return m_->version; }
  // Live files of `dataset`, optionally of one symbol, ordered by path.
  std::vector<const FileEntry*> Files(std::string_view dataset, std::string_view symbol = {}) const;
  std::vector<std::string> Symbols(std::string_view dataset) const;
  std::vector<std::string> Datasets() const;
  fs::path Abs(const FileEntry& f) const { return root_ / f.path; }
  // A SQL table expression over `files` with Hive partition columns (symbol, year[, month]) added;
  // `empty_sql` (a SELECT with the right columns and no rows) when `files` is empty.
  std::string ScanSql(const std::vector<const FileEntry*>& files, std::string_view empty_sql) const;

 private:
  fs::path root_;
  std::shared_ptr<const Manifest> m_;
};

// A set of changes published together by Lake::Commit. Not thread-safe.
class Transaction {
 public:
  const std::string& id() const { return id_; }
  // Directory for files being written; it exists. Files there are invisible until Commit.
  const fs::path& staging_dir() const { return staging_; }
  // Publishes `staged` (a complete file under staging_dir()) at `entry.path` on commit.
  void AddFile(fs::path staged, FileEntry entry);
  // Retires a live file on commit. The commit aborts if it is no longer live.
  void RetireFile(std::string path);
  void SetMeta(std::string key, nlohmann::json value);
  // Compare-and-swap on meta: the commit aborts (kAborted) unless meta[key] still equals
  // `expected` (null = absent) at commit time. Guards read-modify-write state such as the
  // batch views' fingerprints against a concurrent writer of the same key.
  void ExpectMeta(std::string key, nlohmann::json expected);
  // Declares that this transaction was computed from `snap`'s rows of dataset/symbol with the
  // time column in [lo, hi] (e.g. import's duplicate check). The commit aborts (kAborted,
  // "conflict: ...") if a commit after snap's version added or retired a file of that dataset and
  // symbol whose time range overlaps [lo, hi].
  void DependsOn(const Snapshot& snap, std::string dataset, std::string symbol, Micros lo,
                 Micros hi);
  // A fresh name for the n-th file this transaction publishes: "part-<txn>-<n>.parquet".
  std::string NextFileName();
  bool empty() const { return added_.empty() && retired_.empty() && meta_.empty(); }
  const std::vector<std::pair<fs::path, FileEntry>>& added() const { return added_; }

 private:
  friend class Lake;
  std::string id_;
  fs::path staging_;
  std::vector<std::pair<fs::path, FileEntry>> added_;
  std::vector<std::string> retired_;
  std::map<std::string, nlohmann::json> meta_;
  std::map<std::string, nlohmann::json> expect_meta_;
  struct Dependency {
    int64_t version;
    std::string dataset, symbol;
    Micros lo, hi;
  };
  std::vector<Dependency> depends_;
  int next_file_ = 0;
};

class Lake {
 public:
  struct Options {
    Micros gc_grace = 600 * kMicrosPerSecond;
    // The file system under the lake's writes: staging and data directories, fsyncs, renames,
    // the intent and manifest writes, gc's deletions (core/env.h). Must outlive the Lake.
    // The Parquet bytes of staged files are written by DuckDB, not through it; best-effort
    // clean-up (a failed commit's undo, a finished one's staging directory) does not use it.
    Env* env = Env::Default();
    // Writes each dataset's Delta log (delta_log.h). Off only for a benchmark's baseline: a lake
    // written without it gets its logs at the next commit that has it on.
    bool delta_log = true;
  };
  // Opens the lake at `root` without creating anything (the root and its folders are created by
  // the first commit). Refuses (kInvalidArgument) a root inside another lake (an ancestor holds
  // _manifest.json), and a root that is not a lake yet but holds one below it (`--data .` beside
  // ./data), since one lake's files would then be inside the other's folders. A lake that holds
  // another (copied into it) opens with a warning: it never touches the other's files. The
  // search below the root stops after 200,000 entries. `clock` must outlive the Lake.
  static StatusOr<Lake> Open(const fs::path& root, const Clock& clock, Options options);
  static StatusOr<Lake> Open(const fs::path& root, const Clock& clock) {
    return Open(root, clock, Options{});
  }

  const fs::path& root() const { return root_; }
  const Clock& clock() const { return *clock_; }
  // Whether the data root exists (a lake that was never written to does not).
  bool Exists() const;
  // A cheap fingerprint of the current manifest file (inode, size, mtime; "" if none): it
  // changes whenever a commit (or gc's bookkeeping) replaces the manifest, so a reader can
  // skip GetSnapshot() while it is unchanged.
  std::string ManifestStamp() const;
  // Reads the current manifest. A root without a manifest and without lake data files is an
  // empty lake (version 0); with data files it is kDataLoss: "<root> holds N lake data files
  // (first: <path>) but no _manifest.json; run `cryptolake repair` ...".
  StatusOr<Snapshot> GetSnapshot() const;
  // Starts a transaction with its own staging directory (creating the data root if needed).
  StatusOr<Transaction> Begin();
  // Publishes `txn` atomically and returns the new manifest version. An empty transaction
  // commits nothing and returns the current version. kAborted if a DependsOn, ExpectMeta or
  // RetireFile condition no longer holds (a concurrent commit came first); on any error nothing
  // is published and the transaction's files are removed.
  StatusOr<int64_t> Commit(Transaction txn);
  // Drops a transaction without publishing: removes its staging directory.
  void Abandon(Transaction txn);

  // A read-check-write commit made serializable: `attempt` computes a transaction from a
  // snapshot (declaring what it read with DependsOn); it is committed, and re-run on a fresh
  // snapshot when the commit aborts because a concurrent commit came first. After
  // `optimistic_tries` aborted tries, the last try holds the writer lock from its snapshot to its
  // commit, so it cannot conflict. An error of `attempt` other than kAborted ends the retries.
  struct RetryStats {
    int tries = 0;  // attempts run, the successful one included
    bool locked = false;
  };
  using Attempt = std::function<StatusOr<Transaction>(const Snapshot&)>;
  StatusOr<int64_t> CommitWithRetry(const Attempt& attempt, int optimistic_tries = 4,
                                    RetryStats* stats = nullptr);

  // Lake data files (relative paths) that the intents of unfinished commits name: files a commit
  // moved into place whose manifest may never have been written.
  std::set<std::string> PendingIntentPaths() const;
  // For `cryptolake repair` only: writes `m` as the manifest of a data root that has none (it
  // must name only files present on disk), under the writer lock. kFailedPrecondition if a
  // manifest exists by then.
  Status InstallManifest(const Manifest& m);

  // Deletes what the lake owns and no longer needs: retired files older than gc_grace, the
  // staging directories of dead processes, and the files that a dead transaction's intent names
  // but no manifest does (a commit that crashed before its manifest was written). Never deletes
  // anything else. Takes the writer lock. A missing data root is kNotFound.
  Status CollectGarbage();

 private:
  Lake(fs::path root, const Clock& clock, Options o)
      : root_(std::move(root)), clock_(&clock), opt_(o) {}
  StatusOr<int64_t> CommitLocked(Transaction& txn);
  static Status CheckConflicts(const Transaction& txn, const Manifest& next);
  // Puts the Delta versions `m` records in place (delta_log.h). On failure the manifest stays
  // committed (the error says so) and the next commit or gc tries again.
  Status PublishDelta(const Manifest& m, const fs::path& tmp_dir) const;
  Status CollectGarbageLocked(const Manifest& m);
  fs::path root_;
  const Clock* clock_;
  Options opt_;
};

}  // namespace cryptolake::lake
