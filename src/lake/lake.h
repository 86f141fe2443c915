// The lake: the master dataset and the batch views, as Parquet files named by one manifest.
//
// Layout under the data root:
//   _manifest.json                      the live file list (replaced atomically on every commit)
//   _lock                               writers' flock; readers never take it
//   _staging/<txn>/                     files being written by an open transaction (invisible)
//   klines_<interval>/symbol=S/year=Y/month=MM/part-<txn>-<n>.parquet   master dataset
//   views/<view>/symbol=S/year=Y/part-<txn>-<n>.parquet                 batch views
//   forecasts/                          `cryptolake forecast` outputs (not lake data; gc skips it)
//
// Contract:
//  * Immutable, append-only: a published file is never modified. A change adds new files and may
//    retire old ones (compaction, view refresh) in one atomic commit.
//  * Commit = fsync staged files, rename them into place, fsync directories, then atomically
//    replace _manifest.json (write temp, fsync, rename, fsync dir). A crash at any instant leaves
//    either the old manifest or the new one; files not named by the manifest are invisible and
//    are garbage-collected later. Nothing committed is ever lost and no partial commit is visible.
//  * Readers take a Snapshot (one manifest read) and use only the files it names. A retired file
//    stays on disk for `gc_grace` after it is retired, so a reader's snapshot stays readable while
//    concurrent commits go on.
//  * Writers serialize on _lock (flock), so commits from several processes are safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
};

struct RetiredFile {
  std::string path;
  Micros retired_at = 0;
};

struct Manifest {
  int64_t version = 0;
  Micros committed_at = 0;
  std::vector<FileEntry> files;  // live files
  std::vector<RetiredFile> retired;
  nlohmann::json meta = nlohmann::json::object();  // per-module state, e.g. view fingerprints

  std::string ToJson() const;
  static StatusOr<Manifest> FromJson(std::string_view text);
};

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
  int next_file_ = 0;
};

class Lake {
 public:
  struct Options {
    Micros gc_grace = 600 * kMicrosPerSecond;
  };
  // Opens (creating if absent) the lake at `root`. `clock` must outlive the Lake.
  static StatusOr<Lake> Open(const fs::path& root, const Clock& clock, Options options);
  static StatusOr<Lake> Open(const fs::path& root, const Clock& clock) {
    return Open(root, clock, Options{});
  }

  const fs::path& root() const { return root_; }
  const Clock& clock() const { return *clock_; }
  // Reads the current manifest. An absent manifest is an empty lake (version 0).
  // A cheap fingerprint of the current manifest file (inode, size, mtime; "" if none): it
  // changes whenever a commit (or gc's bookkeeping) replaces the manifest, so a reader can
  // skip GetSnapshot() while it is unchanged.
  std::string ManifestStamp() const;
  StatusOr<Snapshot> GetSnapshot() const;
  // Starts a transaction with its own staging directory.
  StatusOr<Transaction> Begin();
  // Publishes `txn` atomically and returns the new manifest version. An empty transaction
  // commits nothing and returns the current version. On error nothing is published and the
  // staged files are removed.
  StatusOr<int64_t> Commit(Transaction txn);
  // Drops a transaction without publishing: removes its staging directory.
  void Abandon(Transaction txn);
  // Deletes retired files older than gc_grace, files not named by the manifest (left by crashed
  // commits), and staging directories of dead processes. Takes the writer lock.
  Status CollectGarbage();

 private:
  Lake(fs::path root, const Clock& clock, Options o)
      : root_(std::move(root)), clock_(&clock), opt_(o) {}
  Status CollectGarbageLocked(const Manifest& m);
  fs::path root_;
  const Clock* clock_;
  Options opt_;
};

}  // namespace cryptolake::lake
