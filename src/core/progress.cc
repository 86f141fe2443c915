#include "core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace cryptolake {

static int64_t MonoMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { Finish(); }

void Progress::Add(uint64_t n) {
  done_ += n;
  Draw(false);
}

void Progress::Set(uint64_t done) {
  done_ = done;
  Draw(false);
}

void Progress::Draw(bool force) {
  if (!tty_) return;
  int64_t now = MonoMicros();
  if (!force && now - last_draw_us_ < 100'000) return;
  last_draw_us_ = now;
  if (total_ > 0) {
    double f = done_ >= total_ ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
    int filled = static_cast<int>(f * 30);
    std::fprintf(stderr, "\r%s [%.*s%*s] %5.1f%%", label_.c_str(), filled,
                 "##############################", 30 - filled, "", f * 100);
  } else {
    std::fprintf(stderr, "\r%s %llu", label_.c_str(), static_cast<unsigned long long>(done_));
  }
  std::fflush(stderr);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!tty_) return;
  Draw(true);
  std::fprintf(stderr, "\n");
}

}  // namespace cryptolake
