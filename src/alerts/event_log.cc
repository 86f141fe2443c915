#include "alerts/event_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_set>

namespace cryptolake::alerts {

namespace fs = std::filesystem;

namespace {

std::string ErrnoText() { return std::strerror(errno); }

// Writes all of `data` at the end of `fd` (O_APPEND), across short writes and EINTR.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Status CheckKey(const std::string& key) {
  if (key.empty()) return InvalidArgument("alert event key '' is empty");
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument("alert event key '{}' holds a control character", key);
    }
  }
  return Status::Ok();
}

}  // namespace

EventLog::EventLog(fs::path dir, int fd, FileLock lock)
    : dir_(std::move(dir)), fd_(fd), lock_(std::move(lock)) {}

EventLog::~EventLog() { ::close(fd_); }

StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const fs::path& dir) {
  RETURN_IF_ERROR(CreateDirsDurable(dir));
  ASSIGN_OR_RETURN(FileLock lock, FileLock::TryAcquire(dir / "events.lock"));
  const fs::path file = dir / "events.jsonl";
  std::error_code ec;
  const bool existed = fs::exists(file, ec);
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return IOError("open {}: {}", file.string(), ErrnoText());
  std::unique_ptr<EventLog> log(new EventLog(dir, fd, std::move(lock)));
  if (!existed) RETURN_IF_ERROR(FsyncPath(dir));
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  RETURN_IF_ERROR(log->Load(text));
  return log;
}

Status EventLog::Load(const std::string& text) {
  const std::string name = file().string();
  size_t pos = 0;
  size_t line = 0;
  for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    ++line;
    const std::string_view s(text.data() + pos, nl - pos);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      return DataLoss("{}:{}: not JSON: {}", name, line, e.what());
    }
    StatusOr<AlertEvent> e = FromJson(j);
    if (!e.ok()) return DataLoss("{}:{}: {}", name, line, e.status().message());
    if (index_.contains(e->key)) {
      spdlog::warn("alerts: {}:{}: key '{}' is on line {} already; both lines are kept", name, line,
                   e->key, index_[e->key] + 1);
    } else {
      index_.emplace(e->key, events_.size());
    }
    events_.push_back(std::move(e).value());
  }
  bytes_ = pos;
  if (pos < text.size()) {
    // A torn last line: an append that a crash interrupted before it returned.
    if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0) {
      return IOError("truncate {}: {}", name, ErrnoText());
    }
    if (::fsync(fd_) != 0) return IOError("fsync {}: {}", name, ErrnoText());
    spdlog::warn(
        "alerts: {}: dropped a torn last line ({} bytes without a newline, left by a crash "
        "during an append)",
        name, text.size() - pos);
  }
  return Status::Ok();
}

StatusOr<std::vector<AlertEvent>> EventLog::Append(const std::vector<AlertEvent>& events) {
  std::vector<AlertEvent> fresh;
  std::string lines;
  std::lock_guard lock(mu_);
  if (broken_) return *broken_;
  std::unordered_set<std::string> batch;
  for (const AlertEvent& e : events) {
    RETURN_IF_ERROR(CheckKey(e.key));
    if (index_.contains(e.key) || !batch.insert(e.key).second) continue;
    lines += ToJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    lines += '\n';
    fresh.push_back(e);
  }
  if (fresh.empty()) return fresh;
  const std::string name = file().string();
  Status failed;
  if (!WriteAll(fd_, lines)) {
    failed = IOError("append to {}: {}", name, ErrnoText());
  } else if (::fsync(fd_) != 0) {
    failed = IOError("append to {}: fsync: {}", name, ErrnoText());
  }
  if (!failed.ok()) {
    if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0 || ::fsync(fd_) != 0) {
      broken_ =
          IOError("{} (and cutting the file back failed: {}; the log accepts no more appends)",
                  failed.message(), ErrnoText());
      return *broken_;
    }
    return failed;
  }
  bytes_ += lines.size();
  for (const AlertEvent& e : fresh) {
    index_.emplace(e.key, events_.size());
    events_.push_back(e);
  }
  cv_.notify_all();
  return fresh;
}

size_t EventLog::size() const {
  std::lock_guard lock(mu_);
  return events_.size();
}

std::vector<AlertEvent> EventLog::Read(size_t from, size_t max) const {
  std::lock_guard lock(mu_);
  if (from >= events_.size()) return {};
  const size_t to = from + std::min(max, events_.size() - from);
  return {events_.begin() + static_cast<ptrdiff_t>(from),
          events_.begin() + static_cast<ptrdiff_t>(to)};
}

bool EventLog::Contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  return index_.contains(key);
}

std::vector<AlertEvent> EventLog::Recent(size_t n) const {
  std::lock_guard lock(mu_);
  const size_t from = events_.size() - std::min(n, events_.size());
  return {events_.begin() + static_cast<ptrdiff_t>(from), events_.end()};
}

bool EventLog::WaitBeyond(size_t have, const std::atomic<bool>& stop) const {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return events_.size() > have || stop.load(); });
  return events_.size() > have;
}

void EventLog::Wake() const {
  std::lock_guard lock(mu_);  // a waiter is either before its check or waiting: never missed
  cv_.notify_all();
}

}  // namespace cryptolake::alerts
