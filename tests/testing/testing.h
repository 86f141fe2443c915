// Shared test helpers: temp directories, the real sample data, running the CLI binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.h"

namespace spdlog {
class logger;
}

namespace cryptolake::testing {

namespace fs = std::filesystem;

// ../shared/data beside the checkout. Fails the test (never skips) if it is missing.
fs::path SharedData();
// The built `cryptolake` binary.
fs::path Binary();

// A fresh directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the cryptolake binary with `args` (no shell) and captures its output.
RunResult RunCli(const std::vector<std::string>& args);

// A fake clock on which every reading takes `tick`: each Now() returns the time and then moves
// it on by `tick`; SleepUntil jumps like FakeClock. Work timed on it (a Pacer's units) lasts
// exactly one tick per reading, whatever it really took.
class TickingClock final : public Clock {
 public:
  explicit TickingClock(Micros tick, Micros start = 0) : tick_(tick), now_(start) {}
  Micros Now() const override { return now_.fetch_add(tick_); }
  void SleepUntil(Micros t) const override {
    Micros cur = now_.load();
    while (cur < t && !now_.compare_exchange_weak(cur, t)) {
    }
  }

 private:
  const Micros tick_;
  mutable std::atomic<Micros> now_;
};

// Writes `text` to `path`, creating parent directories.
void WriteText(const fs::path& path, const std::string& text);

// While it lives, spdlog's default logger writes into a string (what a server logs, for tests to
// read); the previous default logger is back afterwards. Create it while nothing logs.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // Everything logged so far.
  std::string text() const;

 private:
  std::shared_ptr<std::ostringstream> out_;
  std::shared_ptr<spdlog::logger> logger_, old_;
};

// The threads of this process now (the entries of /proc/self/task).
size_t ThreadCount();

}  // namespace cryptolake::testing
