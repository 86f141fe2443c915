#include "core/priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cryptolake {

Status SetThreadPriority(Priority p) {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (p == Priority::kIdle) {
    sched_param none{};
    if (sched_setscheduler(0, SCHED_IDLE, &none) != 0) {
      return Internal("cannot set SCHED_IDLE on thread {}: {}", tid, std::strerror(errno));
    }
    return Status::Ok();
  }
  if (setpriority(PRIO_PROCESS, tid, 10) != 0) {
    return Internal("cannot set nice 10 on thread {}: {}", tid, std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace cryptolake
