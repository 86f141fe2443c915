// A progress bar on stderr, drawn only when stderr is a TTY (never in logs or CI output).
#pragma once

#include <cstdint>
#include <string>

namespace cryptolake {

class Progress {
 public:
  // `total` in units of work (bytes, rows); 0 means unknown.
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Add(uint64_t n);
  void Set(uint64_t done);
  bool tty() const { return tty_; }
  void Finish();

 private:
  void Draw(bool force);
  std::string label_;
  uint64_t total_, done_ = 0;
  int64_t last_draw_us_ = 0;
  bool tty_, finished_ = false;
};

}  // namespace cryptolake
