// Read-only inspection of a snapshot: what `cryptolake stats` prints and what the crash tests
// compare between runs.
#pragma once

#include <string>
#include <vector>

#include "lake/duck.h"
#include "lake/lake.h"

namespace cryptolake::lake {

struct DatasetStats {
  std::string dataset;
  std::string symbol;
  int64_t files = 0;
  int64_t rows = 0;         // for klines: after read-time dedup
  int64_t stored_rows = 0;  // physical rows in the files
  Micros first = 0, last = 0;
  // Order-independent hash of the rows' contents (ingested_at excluded: it records when, not
  // what). Two lakes with the same rows have the same digest, whatever their file layout.
  std::string digest;
};

// One entry per (dataset, symbol), sorted. `digest` is computed only when `with_digest`.
StatusOr<std::vector<DatasetStats>> Inspect(const Snapshot& snap, Connection& con,
                                            bool with_digest);

std::string FormatStats(const std::vector<DatasetStats>& stats, bool with_digest);

}  // namespace cryptolake::lake
