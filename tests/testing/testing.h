// Shared test helpers: temp directories, the real sample data, running the CLI binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

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

// Writes `text` to `path`, creating parent directories.
void WriteText(const fs::path& path, const std::string& text);

}  // namespace cryptolake::testing
