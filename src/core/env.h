// The file-system operations under the lake's writes, behind one interface (as leveldb's Env), so
// that tests can make any one of them fail (ENOSPC, EIO, a failed fsync, a failed rename) and
// check what the lake does then (tests/testing/fault_env.h).
//
// Contract:
//  * Every operation returns OK or an IOError whose message names the operation, the file(s) and
//    the errno text, e.g. "rename <a> -> <b>: No space left on device"; the errno itself is
//    Status-free, so callers that must tell cases apart (EEXIST, EINVAL) use the `err` out
//    parameter where offered.
//  * An operation that fails has not happened (the real file system may of course fail half way,
//    e.g. a rename done but its directory fsync failed: that is two operations here).
//  * Env::Default() is the real POSIX file system; it lives for the whole process. An Env must be
//    safe to call from several threads.
//  * Parquet bytes that DuckDB writes (COPY ... TO) do not go through an Env: DuckDB opens and
//    writes those files itself. The lake fsyncs and moves them through its Env.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace cryptolake {

namespace fs = std::filesystem;

class Env {
 public:
  virtual ~Env() = default;
  // The real file system.
  static Env* Default();

  // Creates or truncates `path` and writes `contents` into it (not fsynced).
  virtual Status WriteFile(const fs::path& path, std::string_view contents) = 0;
  // fsync() of a regular file or a directory.
  virtual Status Sync(const fs::path& path) = 0;
  // rename(2): replaces `to` if it exists.
  virtual Status Rename(const fs::path& from, const fs::path& to) = 0;
  // renameat2(RENAME_NOREPLACE). On failure *err (if given) is the errno: EEXIST when `to`
  // exists, EINVAL/ENOSYS when the file system cannot do it.
  virtual Status RenameNoReplace(const fs::path& from, const fs::path& to, int* err) = 0;
  // link(2); *err as above (EEXIST when `to` exists).
  virtual Status Link(const fs::path& from, const fs::path& to, int* err) = 0;
  // unlink(2) of a file.
  virtual Status Unlink(const fs::path& path) = 0;
  // mkdir(2) of one directory (its parent must exist); OK if it is a directory already.
  virtual Status CreateDir(const fs::path& path) = 0;
  // Removes `path` and everything below it; OK if it does not exist.
  virtual Status RemoveAll(const fs::path& path) = 0;
};

}  // namespace cryptolake
