// The forecast module's worker pool (forecast/parallel.h): every index once, the thread count it
// uses, progress after each index, and the failure of the lowest failing index.
#include "forecast/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cryptolake::forecast {
namespace {

TEST(ParallelTest, RunsEveryIndexOnceAndReportsProgress) {
  for (int threads : {1, 3}) {
    std::vector<std::atomic<int>> runs(50);
    std::vector<std::pair<int, int>> progress;
    int used = -1;
    Status st = RunIndexed(
        runs.size(), threads,
        [&](size_t i) {
          ++runs[i];
          return Status::Ok();
        },
        [&](int done, int total) { progress.emplace_back(done, total); }, &used);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(used, threads);
    for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
    ASSERT_EQ(progress.size(), 50u);  // serialized: done counts 1..50 in order
    for (int k = 0; k < 50; ++k) EXPECT_EQ(progress[k], std::make_pair(k + 1, 50));
  }
}

TEST(ParallelTest, ClampsTheThreadCount) {
  int used = -1;
  auto ok = [](size_t) { return Status::Ok(); };
  ASSERT_TRUE(RunIndexed(2, 8, ok, {}, &used).ok());
  EXPECT_EQ(used, 2);  // no more threads than indexes
  ASSERT_TRUE(RunIndexed(0, 8, ok, {}, &used).ok());
  EXPECT_EQ(used, 1);  // at least one, even with nothing to do
  ASSERT_TRUE(RunIndexed(5, -2, ok, {}, &used).ok());
  EXPECT_GE(used, 1);  // <= 0: the hardware's concurrency
  EXPECT_LE(used, 5);
}

TEST(ParallelTest, ReturnsTheLowestFailingIndexAndStopsStartingNewOnes) {
  // One thread: indexes in order, so 3 fails first and nothing after it starts.
  std::vector<size_t> ran;
  Status st = RunIndexed(10, 1,
                         [&](size_t i) {
                           ran.push_back(i);
                           return i == 3 || i == 5 ? Internal("index {} failed", i) : Status::Ok();
                         },
                         {});
  EXPECT_EQ(st.ToString(), Internal("index 3 failed").ToString());
  EXPECT_EQ(ran, (std::vector<size_t>{0, 1, 2, 3}));

  // Two threads: index 1 fails first (index 0 waits for it), yet index 0's failure is returned.
  std::atomic<bool> one_failed{false};
  st = RunIndexed(2, 2,
                  [&](size_t i) {
                    if (i == 1) {
                      one_failed = true;
                      return Internal("index 1 failed");
                    }
                    while (!one_failed.load()) std::this_thread::yield();
                    return Internal("index 0 failed");
                  },
                  {});
  EXPECT_EQ(st.ToString(), Internal("index 0 failed").ToString());
}

}  // namespace
}  // namespace cryptolake::forecast
