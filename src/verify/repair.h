// `cryptolake repair`: puts a damaged lake back into a state every command accepts, losing
// nothing that can be kept and saying what it could not keep.
//
//  * RebuildManifest: for a data root whose _manifest.json is missing (Lake::GetSnapshot fails
//    with kDataLoss). Every Parquet file under klines_*/ is checked (readable, every value of
//    every row group decodes, the master dataset's schema, a symbol=/year=/month= path) and, if
//    it passes, becomes live again with its rows, time range, source and checksum. View files
//    (views/) are derived: they are recorded as retired (gc removes them after the grace period)
//    and the next `cryptolake batch` rebuilds the views. Files that fail a check, or that are
//    not where the lake puts its files, are left untouched on disk and listed as unaccounted.
//    Files a crashed commit had moved into place (its intent names them) may never have been
//    committed: they are adopted too (their rows were validated; nothing is lost) and listed,
//    since verify may then show them as duplicates that `cryptolake compact` resolves.
//    What the old manifest's meta held (confirmed-empty ranges, the views' state) is gone: the
//    next backfill asks the exchange again, the next batch recomputes every view.
//  * DropFiles: retires live files (a damaged one, found by `cryptolake verify`) in one commit.
//    The key ranges of dropped kline files are recorded as refetch ranges (lake/klines.h), so
//    the next `cryptolake backfill` fetches those rows again and verify reports them as gaps
//    until then; dropping a view file resets the views' state, so the next `cryptolake batch`
//    recomputes them. A path is taken relative to the data root, or absolute inside it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "lake/duck.h"
#include "lake/lake.h"

namespace cryptolake::verify {

struct RepairReport {
  bool rebuilt = false;                    // a manifest was written
  int64_t version = 0;                     // the manifest version written or committed
  int64_t rows = 0;                        // rows in the adopted files
  std::vector<std::string> adopted;        // kline files live again
  std::vector<std::string> uncommitted;    // of those, the ones a crashed commit's intent named
  std::vector<std::string> retired_views;  // view files recorded as retired
  std::vector<std::pair<std::string, std::string>> unaccounted;  // path, why
  std::vector<std::string> dropped;                              // DropFiles: files retired
  // 0: everything accounted for; 2: some files could not be (listed); as verify's codes.
  int ExitCode() const { return unaccounted.empty() ? 0 : 2; }
};

// kFailedPrecondition "<root>/_manifest.json exists: ..." if the lake has a manifest, and
// kNotFound if the root holds no lake data file at all.
StatusOr<RepairReport> RebuildManifest(lake::Lake& lake, lake::Connection& con);

// kNotFound "<path> is not a live file of the lake ..." for a path the manifest does not list
// as live (nothing is retired then).
StatusOr<RepairReport> DropFiles(lake::Lake& lake, const std::vector<std::string>& paths);

// The report as the CLI prints it, one line per file and a summary line.
std::string FormatRepairReport(const RepairReport& r);

}  // namespace cryptolake::verify
