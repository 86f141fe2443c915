#include "testing/fault_env.h"

#include <cerrno>
#include <cstring>

namespace cryptolake::testing {

void FaultEnv::Arm(int64_t k, int err) {
  std::lock_guard lock(mu_);
  calls_.clear();
  fail_at_ = k;
  err_ = err;
  fired_ = false;
}

std::vector<FaultEnv::Call> FaultEnv::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

bool FaultEnv::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

int FaultEnv::Enter(Op op, const fs::path& path) {
  std::lock_guard lock(mu_);
  calls_.push_back({op, path.string()});
  if (static_cast<int64_t>(calls_.size()) != fail_at_) return 0;
  fired_ = true;
  return err_;
}

static Status Fail(std::string_view what, const fs::path& p, int e) {
  return IOError("{} {}: {}", what, p.string(), std::strerror(e));
}

static Status Fail2(std::string_view what, const fs::path& a, const fs::path& b, int e) {
  return IOError("{} {} -> {}: {}", what, a.string(), b.string(), std::strerror(e));
}

Status FaultEnv::WriteFile(const fs::path& path, std::string_view contents) {
  if (int e = Enter(Op::kWrite, path)) return Fail("write", path, e);
  return base_->WriteFile(path, contents);
}

Status FaultEnv::Sync(const fs::path& path) {
  if (int e = Enter(Op::kSync, path)) return Fail("fsync", path, e);
  return base_->Sync(path);
}

Status FaultEnv::Rename(const fs::path& from, const fs::path& to) {
  if (int e = Enter(Op::kRename, from)) return Fail2("rename", from, to, e);
  return base_->Rename(from, to);
}

Status FaultEnv::RenameNoReplace(const fs::path& from, const fs::path& to, int* err) {
  if (int e = Enter(Op::kRename, from)) {
    if (err) *err = e;
    return Fail2("rename", from, to, e);
  }
  return base_->RenameNoReplace(from, to, err);
}

Status FaultEnv::Link(const fs::path& from, const fs::path& to, int* err) {
  if (int e = Enter(Op::kLink, from)) {
    if (err) *err = e;
    return Fail2("link", from, to, e);
  }
  return base_->Link(from, to, err);
}

Status FaultEnv::Unlink(const fs::path& path) {
  if (int e = Enter(Op::kUnlink, path)) return Fail("unlink", path, e);
  return base_->Unlink(path);
}

Status FaultEnv::CreateDir(const fs::path& path) {
  if (int e = Enter(Op::kMkdir, path)) return Fail("mkdir", path, e);
  return base_->CreateDir(path);
}

Status FaultEnv::RemoveAll(const fs::path& path) {
  if (int e = Enter(Op::kRemoveAll, path)) return Fail("remove", path, e);
  return base_->RemoveAll(path);
}

const char* OpName(FaultEnv::Op op) {
  switch (op) {
    case FaultEnv::Op::kWrite:
      return "write";
    case FaultEnv::Op::kSync:
      return "fsync";
    case FaultEnv::Op::kRename:
      return "rename";
    case FaultEnv::Op::kLink:
      return "link";
    case FaultEnv::Op::kUnlink:
      return "unlink";
    case FaultEnv::Op::kMkdir:
      return "mkdir";
    case FaultEnv::Op::kRemoveAll:
      return "remove";
  }
  return "?";
}

std::vector<int> FaultsFor(FaultEnv::Op op) {
  switch (op) {
    case FaultEnv::Op::kWrite:
    case FaultEnv::Op::kMkdir:
      return {ENOSPC, EIO};
    case FaultEnv::Op::kSync:
      return {EIO};
    case FaultEnv::Op::kRename:
    case FaultEnv::Op::kLink:
      return {EXDEV, ENOSPC};
    case FaultEnv::Op::kUnlink:
    case FaultEnv::Op::kRemoveAll:
      return {EIO};
  }
  return {};
}

}  // namespace cryptolake::testing
