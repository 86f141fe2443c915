// `cryptolake compact`: rewrites master-dataset partitions that hold several files, or rows
// shadowed by a higher-priority duplicate, into one file each, through one atomic commit.
// Read-time results are unchanged by compaction (it applies the same dedup rule as KlinesSql).
#pragma once

#include <cstdint>

#include "lake/duck.h"
#include "lake/lake.h"

namespace cryptolake::lake {

struct CompactStats {
  int64_t partitions_rewritten = 0;
  int64_t files_retired = 0;
  int64_t files_written = 0;
  int64_t rows_written = 0;
  int64_t rows_dropped = 0;  // shadowed duplicates removed
};

// Compacts every kline dataset (or only `dataset` if non-empty). Concurrent writers are safe:
// files added meanwhile are left as they are, and if a file it rewrote was retired by someone
// else first, it compacts again from the new snapshot (Lake::CommitWithRetry).
StatusOr<CompactStats> Compact(Lake& lake, Connection& con, const std::string& dataset = "");

}  // namespace cryptolake::lake
