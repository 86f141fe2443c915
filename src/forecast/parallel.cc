#include "forecast/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace cryptolake::forecast {

Status RunIndexed(size_t count, int threads, const std::function<Status(size_t)>& task,
                  const std::function<void(int, int)>& progress, int* used) {
  std::vector<Status> errors(count);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mu;
  int done = 0;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count && !failed.load();) {
      Status st = task(i);
      if (!st.ok()) {
        errors[i] = st;
        failed = true;
      }
      std::lock_guard lock(progress_mu);
      ++done;
      if (progress) progress(done, static_cast<int>(count));
    }
  };
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, std::max<int>(1, static_cast<int>(count)));
  if (used) *used = threads;
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  for (const Status& st : errors) {
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace cryptolake::forecast
