#include "core/fsutil.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cryptolake {

static Status Errno(std::string_view what, const fs::path& p) {
  return IOError("{} {}: {}", what, p.string(), std::strerror(errno));
}

Status FsyncPath(const fs::path& path, Env* env) { return env->Sync(path); }

Status CreateDirsDurable(const fs::path& dir, Env* env) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return Status::Ok();
  RETURN_IF_ERROR(CreateDirsDurable(dir.parent_path(), env));
  RETURN_IF_ERROR(env->CreateDir(dir));
  return FsyncPath(dir.parent_path(), env);
}

Status WriteFileAtomic(const fs::path& path, std::string_view contents, Env* env) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  return WriteFileAtomicVia(tmp, path, contents, env);
}

Status WriteFileAtomicVia(const fs::path& tmp, const fs::path& path, std::string_view contents,
                          Env* env) {
  RETURN_IF_ERROR(env->WriteFile(tmp, contents));
  RETURN_IF_ERROR(env->Sync(tmp));
  return RenameDurable(tmp, path, env);
}

Status RenameDurable(const fs::path& from, const fs::path& to, Env* env) {
  RETURN_IF_ERROR(env->Rename(from, to));
  return env->Sync(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

Status RenameNoReplace(const fs::path& from, const fs::path& to, Env* env) {
  int err = 0;
  Status s = env->RenameNoReplace(from, to, &err);
  if (s.ok()) return s;
  if (err == EEXIST) {
    return AlreadyExists("refusing to replace existing file {}", to.string());
  }
  if (err != EINVAL && err != ENOSYS) return s;
  // No RENAME_NOREPLACE on this file system: link() fails on an existing target too.
  err = 0;
  s = env->Link(from, to, &err);
  if (!s.ok()) {
    if (err == EEXIST) return AlreadyExists("refusing to replace existing file {}", to.string());
    return s;
  }
  return env->Unlink(from);
}

StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Errno("read", path);
  return ss.str();
}

static std::string Hex(const unsigned char* d, unsigned n) {
  static const char* k = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = k[d[i] >> 4];
    out[2 * i + 1] = k[d[i] & 15];
  }
  return out;
}

StatusOr<std::string> Sha256File(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("read", path);
      ::close(fd);
      EVP_MD_CTX_free(ctx);
      return s;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return Hex(md, len);
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

StatusOr<FileLock> FileLock::Acquire(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open lock", path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    Status s = Errno("flock", path);
    ::close(fd);
    return s;
  }
  return FileLock(fd);
}

StatusOr<FileLock> FileLock::TryAcquire(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open lock", path);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    Status s = errno == EWOULDBLOCK
                   ? Status(StatusCode::kUnavailable, "another process holds " + path.string())
                   : Errno("flock", path);
    ::close(fd);
    return s;
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace cryptolake
