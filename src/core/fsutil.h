// File-system primitives for crash-safe publication. All paths are std::filesystem paths.
// None of these throw; errors come back as IOError with the path and errno text.
// The writers go through an Env (core/env.h; the real file system unless a test passes another).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"

namespace cryptolake {

namespace fs = std::filesystem;

// fsync() the file at `path` (a regular file or a directory).
Status FsyncPath(const fs::path& path, Env* env = Env::Default());

// Writes `contents` to `path` so that a crash at any instant leaves either the old file or the
// complete new one: write to "<path>.tmp-<pid>", fsync it, rename over `path`, fsync the directory.
Status WriteFileAtomic(const fs::path& path, std::string_view contents, Env* env = Env::Default());

// Like WriteFileAtomic, but the temp file is `tmp` (on the same file system as `path`): for a
// caller that owns a private directory for its temp files.
Status WriteFileAtomicVia(const fs::path& tmp, const fs::path& path, std::string_view contents,
                          Env* env = Env::Default());

// Creates `dir` and any missing parents, fsyncing each parent whose entries changed.
Status CreateDirsDurable(const fs::path& dir, Env* env = Env::Default());

// rename(from, to) followed by fsync of `to`'s directory. Both must be on one file system.
Status RenameDurable(const fs::path& from, const fs::path& to, Env* env = Env::Default());

// Moves `from` to `to` only if `to` does not exist (renameat2 RENAME_NOREPLACE, or link + unlink
// on file systems without it). kAlreadyExists "refusing to replace existing file <to>" if it
// does: an existing file is never overwritten. Does not fsync.
Status RenameNoReplace(const fs::path& from, const fs::path& to, Env* env = Env::Default());

StatusOr<std::string> ReadFile(const fs::path& path);

// Lower-case hex SHA-256 of a file's bytes / of a buffer.
StatusOr<std::string> Sha256File(const fs::path& path);
std::string Sha256Hex(std::string_view bytes);

// An exclusive advisory lock (flock) on `path`, created if absent; released on destruction.
// Acquire() blocks until the lock is free. Safe across processes; a crashed holder releases it.
class FileLock {
 public:
  static StatusOr<FileLock> Acquire(const fs::path& path);
  // Like Acquire, but fails at once with kUnavailable "another process holds <path>" when the
  // lock is taken.
  static StatusOr<FileLock> TryAcquire(const fs::path& path);
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace cryptolake
