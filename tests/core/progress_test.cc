// core/progress.h: drawn on stderr only when it is a terminal. The bar is read from a real
// pseudo-terminal (openpty) put in place of stderr for the test; a pipe stands for a log.
#include "core/progress.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace cryptolake {
namespace {

// While it lives, stderr is the replica side of a pseudo-terminal (or a pipe's write end with
// `tty` false); Output() returns what was written to it.
class StderrCapture {
 public:
  explicit StderrCapture(bool tty) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int write_fd = -1;
    if (tty) {
      termios raw{};
      cfmakeraw(&raw);  // no "\n" -> "\r\n" translation: the bytes as written
      EXPECT_EQ(::openpty(&read_fd_, &write_fd, nullptr, &raw, nullptr), 0);
    } else {
      int p[2];
      EXPECT_EQ(::pipe(p), 0);
      read_fd_ = p[0];
      write_fd = p[1];
    }
    ::dup2(write_fd, STDERR_FILENO);
    ::close(write_fd);
  }
  ~StderrCapture() {
    Restore();
    ::close(read_fd_);
  }
  // Everything written so far (stderr is restored first, so the write side is closed).
  std::string Output() {
    Restore();
    std::string out;
    char buf[4096];
    ::fcntl(read_fd_, F_SETFL, O_NONBLOCK);
    for (;;) {
      ssize_t n = ::read(read_fd_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  int saved_ = -1;
  int read_fd_ = -1;
};

const std::string kQuarter = "\rimport [#######                       ]  25.0%";
const std::string kFull = "\rimport [##############################] 100.0%";

TEST(ProgressTest, DrawsABarWithAKnownTotal) {
  StderrCapture cap(true);
  {
    Progress p("import", 200);
    EXPECT_TRUE(p.tty());
    p.Add(50);   // the first update is drawn at once
    p.Finish();  // drawn again, whatever the time since, then a newline
    p.Finish();  // once only
  }
  EXPECT_EQ(cap.Output(), kQuarter + kQuarter + "\n");
}

TEST(ProgressTest, DoneOverTheTotalShowsAFullBar) {
  StderrCapture cap(true);
  {
    Progress p("import", 200);
    p.Set(250);
  }  // the destructor finishes
  EXPECT_EQ(cap.Output(), kFull + kFull + "\n");
}

TEST(ProgressTest, UnknownTotalCountsUnits) {
  StderrCapture cap(true);
  {
    Progress p("rows", 0);
    p.Set(12);
    p.Finish();
  }
  EXPECT_EQ(cap.Output(), "\rrows 12\rrows 12\n");
}

TEST(ProgressTest, NothingWhenStderrIsNotATerminal) {
  StderrCapture cap(false);
  {
    Progress p("import", 200);
    EXPECT_FALSE(p.tty());
    p.Add(50);
    p.Set(200);
    p.Finish();
  }
  EXPECT_EQ(cap.Output(), "");
}

}  // namespace
}  // namespace cryptolake
