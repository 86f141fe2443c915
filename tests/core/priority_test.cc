// core/priority.h on real threads: the calling thread gets nice 10 or SCHED_IDLE, the threads it
// creates afterwards inherit it, and other threads keep theirs.
#include "core/priority.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace cryptolake {
namespace {

struct Seen {
  int nice = -100;
  int policy = -1;
};

Seen Here() {
  Seen s;
  s.nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  s.policy = sched_getscheduler(0);
  return s;
}

// Runs `p` on a fresh thread; what that thread, and a thread it then creates, see.
std::pair<Seen, Seen> OnAThread(Priority p, Status* status) {
  std::pair<Seen, Seen> out;
  std::thread([&] {
    *status = SetThreadPriority(p);
    out.first = Here();
    std::thread([&] { out.second = Here(); }).join();
  }).join();
  return out;
}

TEST(PriorityTest, BackgroundIsNiceTenAndInherited) {
  const Seen before = Here();
  Status st;
  auto [self, child] = OnAThread(Priority::kBackground, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(self.nice, 10);
  EXPECT_EQ(self.policy, SCHED_OTHER);
  EXPECT_EQ(child.nice, 10);
  EXPECT_EQ(child.policy, SCHED_OTHER);
  // The calling (test) thread is untouched.
  EXPECT_EQ(Here().nice, before.nice);
}

TEST(PriorityTest, IdleIsSchedIdleAndInherited) {
  const Seen before = Here();
  Status st;
  auto [self, child] = OnAThread(Priority::kIdle, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(self.policy, SCHED_IDLE);
  EXPECT_EQ(child.policy, SCHED_IDLE);
  EXPECT_EQ(Here().policy, before.policy);
  EXPECT_EQ(before.policy, SCHED_OTHER);
}

}  // namespace
}  // namespace cryptolake
