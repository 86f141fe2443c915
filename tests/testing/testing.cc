#include "testing/testing.h"

#include <fcntl.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

namespace cryptolake::testing {

namespace {
// Logging is set up on the main thread before any test starts a thread, as the program's main()
// does: otherwise the first log call of two threads at once builds spdlog's registry inside the
// uninstrumented libspdlog, and ThreadSanitizer reports the registry's first use as a race.
[[maybe_unused]] const bool kLoggingReady = (spdlog::default_logger_raw(), true);
}  // namespace

fs::path SharedData() {
  fs::path p = CL_SHARED_DATA;
  if (!fs::exists(p / "binance-spot")) {
    ADD_FAILURE() << "sample data not found at " << p << " (../shared/data beside the checkout)";
  }
  return p;
}

fs::path Binary() { return CL_BINARY; }

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::random_device rd;
  path_ = fs::path(base ? base : "/tmp") /
          ("cryptolake-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("CL_KEEP_TEMP")) fs::remove_all(path_, ec);
}

static std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

RunResult RunCli(const std::vector<std::string>& args) {
  TempDir tmp;
  fs::path out = tmp / "out", err = tmp / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    std::vector<char*> argv;
    std::string bin = Binary().string();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

LogCapture::LogCapture()
    : out_(std::make_shared<std::ostringstream>()),
      logger_(std::make_shared<spdlog::logger>(
          "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(*out_))),
      old_(spdlog::default_logger()) {
  spdlog::set_default_logger(logger_);
}

LogCapture::~LogCapture() { spdlog::set_default_logger(old_); }

std::string LogCapture::text() const {
  logger_->flush();
  return out_->str();
}

size_t ThreadCount() {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

}  // namespace cryptolake::testing
