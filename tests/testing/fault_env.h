// An Env (core/env.h) over the real file system that makes one chosen call fail, for the I/O
// fault tests: it counts every call, remembers each one's kind and file, and fails the k-th call
// (1-based, over all kinds) with a chosen errno without performing it. The message is the one
// the real file system would give ("rename <a> -> <b>: No space left on device").
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/env.h"

namespace cryptolake::testing {

class FaultEnv final : public Env {
 public:
  enum class Op { kWrite, kSync, kRename, kLink, kUnlink, kMkdir, kRemoveAll };
  struct Call {
    Op op;
    std::string path;  // the file the call is about (the source of a rename or link)
  };

  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // From now on, counts calls from 1 and fails call `k` with `err` (0: fail none).
  void Arm(int64_t k, int err);
  // Counts from 1 again and fails none.
  void Disarm() { Arm(0, 0); }
  // The calls since the last Arm/Disarm, in order.
  std::vector<Call> calls() const;
  // Whether the armed call has happened (and failed).
  bool fired() const;

  Status WriteFile(const fs::path& path, std::string_view contents) override;
  Status Sync(const fs::path& path) override;
  Status Rename(const fs::path& from, const fs::path& to) override;
  Status RenameNoReplace(const fs::path& from, const fs::path& to, int* err) override;
  Status Link(const fs::path& from, const fs::path& to, int* err) override;
  Status Unlink(const fs::path& path) override;
  Status CreateDir(const fs::path& path) override;
  Status RemoveAll(const fs::path& path) override;

 private:
  // Records the call; returns the errno to fail it with, or 0 to run it.
  int Enter(Op op, const fs::path& path);

  Env* base_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
  int64_t fail_at_ = 0;
  int err_ = 0;
  bool fired_ = false;
};

// "write", "fsync", "rename", "link", "unlink", "mkdir", "remove".
const char* OpName(FaultEnv::Op op);
// The errnos worth injecting into a call of kind `op`: writes and mkdir ENOSPC and EIO, fsync
// EIO, renames and links EXDEV and ENOSPC, deletions EIO.
std::vector<int> FaultsFor(FaultEnv::Op op);

}  // namespace cryptolake::testing
