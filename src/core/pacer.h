// Pacing of background work: a worker that runs in units (a batch refresh runs DuckDB statements)
// sleeps after each unit so that it runs for at most `duty` of the wall time.
//
// Why: on a small box the CPU time a background thread takes shows up in the tail latency of
// serving, even at SCHED_IDLE (core/priority.h), where the thread only gets time nobody else
// wants: a thread that is always runnable soaks up every idle moment, and the requests that wake
// up in those moments wait for it to be switched out. bench/serve_bench measured it: during full
// refreshes back to back, the p99 of /api/v1/daily went from ~1.3 ms to ~5 ms at SCHED_IDLE, and
// was 2.6-4.0 ms (medians of 3 runs) with the refresh paced at duty 0.2. Pacing trades the
// refresh's wall time (about 1/duty times longer) for the foreground's latency; locks are not held
// across a pause (the lake's commit runs no statement).
//
// Contract: after a unit that took `w` on the clock, Done() sleeps w * (1 - duty) / duty on the
// same clock (a FakeClock jumps, so tests run instantly and exactly). duty 1 never sleeps. One
// pacer per worker: only Release() may be called from another thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/time.h"

namespace cryptolake {

// The duty `cryptolake up` runs its periodic batch refresh at unless told otherwise
// (`--batch-duty`): a refresh takes about 5 times its unpaced wall time.
inline constexpr double kBackgroundDuty = 0.2;

class Pacer {
 public:
  // `duty` in (0, 1]; values outside are clamped to [0.01, 1].
  Pacer(const Clock& clock, double duty);

  double duty() const { return duty_; }
  // When a unit starts: pass the result to Done().
  Micros Start() const { return clock_->Now(); }
  // Ends the unit started at `started` and sleeps its share (none once released). Returns the
  // time slept.
  Micros Done(Micros started);
  // From now on Done() sleeps no more: the work under way finishes at full speed (a shutdown
  // waiting for it). May be called from any thread; a pause already begun still ends.
  void Release() { released_ = true; }

  struct Stats {
    int64_t units = 0;
    Micros worked = 0;  // sum of the units' durations
    Micros slept = 0;   // sum of the pauses
  };
  const Stats& stats() const { return stats_; }

 private:
  const Clock* clock_;
  double duty_;
  std::atomic<bool> released_{false};
  Stats stats_;
};

}  // namespace cryptolake
