// The forecast module's worker pool: the rolling CV (evaluate.h) and the suite's CV (select.h)
// fit their cutoffs with it.
//
// RunIndexed runs task(i) for every i in [0, count) on `threads` threads (0: the hardware's
// concurrency; at least 1, at most max(1, count); *used gets the number, if given), each index
// once, taken in increasing order. Once a task fails no index is started any more (those running
// finish). After each finished index (failed or not), progress(done, count) is called if set,
// from the worker, serialized. Returns the failure of the lowest failing index, else OK.
// The tasks run concurrently: what they write must be theirs (e.g. slot i of a vector).
#pragma once

#include <cstddef>
#include <functional>

#include "core/status.h"

namespace cryptolake::forecast {

Status RunIndexed(size_t count, int threads, const std::function<Status(size_t)>& task,
                  const std::function<void(int, int)>& progress, int* used = nullptr);

}  // namespace cryptolake::forecast
