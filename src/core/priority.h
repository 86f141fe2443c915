// CPU priority of background work (batch refreshes, forecasts, the merged view's rebuilds), so
// that it takes CPU time from serving and streaming as little as the kernel allows.
//
// Linux: the policy and the nice value belong to a thread, and threads it creates afterwards
// inherit them; so a thread that lowers its priority before it opens a DuckDB database lowers
// DuckDB's worker threads too.
//   kBackground  nice 10: a smaller share than nice-0 threads when the CPUs are contended.
//   kIdle        SCHED_IDLE: runs on CPU time no other thread wants, and is preempted at once
//                when one wakes up (a nice value alone lets it finish its time slice first, a
//                few ms of latency for every request queued behind it). Under a saturated CPU
//                it barely runs; it may hold a lock a normal thread waits for meanwhile (the
//                lake's commit), so keep such work to short critical sections.
#pragma once

#include "core/status.h"

namespace cryptolake {

enum class Priority { kBackground, kIdle };

// Applies `p` to the calling thread. On failure the thread keeps its priority and the error
// says why (callers warn and go on).
Status SetThreadPriority(Priority p);

}  // namespace cryptolake
