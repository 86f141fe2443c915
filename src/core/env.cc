#include "core/env.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cryptolake {
namespace {

Status Errno(std::string_view what, const fs::path& p, int e) {
  return IOError("{} {}: {}", what, p.string(), std::strerror(e));
}

Status Errno2(std::string_view what, const fs::path& a, const fs::path& b, int e) {
  return IOError("{} {} -> {}: {}", what, a.string(), b.string(), std::strerror(e));
}

class PosixEnv final : public Env {
 public:
  Status WriteFile(const fs::path& path, std::string_view contents) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create", path, errno);
    const char* p = contents.data();
    size_t left = contents.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int e = errno;
        ::close(fd);
        return Errno("write", path, e);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::close(fd) != 0) return Errno("close", path, errno);
    return Status::Ok();
  }

  Status Sync(const fs::path& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    int rc = ::fsync(fd);
    const int e = errno;
    ::close(fd);
    if (rc != 0) return Errno("fsync", path, e);
    return Status::Ok();
  }

  Status Rename(const fs::path& from, const fs::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno2("rename", from, to, errno);
    return Status::Ok();
  }

  Status RenameNoReplace(const fs::path& from, const fs::path& to, int* err) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      return Status::Ok();
    }
    if (err) *err = errno;
    return Errno2("rename", from, to, errno);
  }

  Status Link(const fs::path& from, const fs::path& to, int* err) override {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
    if (err) *err = errno;
    return Errno2("link", from, to, errno);
  }

  Status Unlink(const fs::path& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("unlink", path, errno);
    return Status::Ok();
  }

  Status CreateDir(const fs::path& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::Ok();
    const int e = errno;
    struct stat st;
    if (e == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return Errno("mkdir", path, e);
  }

  Status RemoveAll(const fs::path& path) override {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return IOError("remove {}: {}", path.string(), ec.message());
    return Status::Ok();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never destroyed: usable until the process ends
  return env;
}

}  // namespace cryptolake
