#include "lake/compact.h"

#include <map>

#include "lake/klines.h"

namespace cryptolake::lake {

// Stages the compaction of `snap`'s partitions into txn.
static Status StageCompaction(Connection& con, const Snapshot& snap, Transaction& txn,
                              const std::string& dataset, CompactStats* out) {
  CompactStats& st = *out;
  for (const Interval& iv : KlineIntervals(snap)) {
    const std::string ds = KlinesDataset(iv);
    if (!dataset.empty() && ds != dataset) continue;
    std::map<std::pair<std::string, std::string>, std::vector<const FileEntry*>> parts;
    for (auto* f : snap.Files(ds)) parts[{f->symbol, f->partition}].push_back(f);
    for (auto& [key, files] : parts) {
      std::vector<fs::path> paths;
      for (auto* f : files) paths.push_back(snap.Abs(*f));
      std::string scan = fmt::format("read_parquet({}, hive_partitioning = true, filename = true)",
                                     SqlPathList(paths));
      int64_t total = 0;
      for (auto* f : files) total += f->rows;
      if (files.size() == 1) {
        // A single file needs rewriting only if it holds duplicate keys.
        ASSIGN_OR_RETURN(int64_t distinct, con.QueryInt64(fmt::format(
                                               "SELECT count(DISTINCT open_time) FROM {}", scan)));
        if (distinct == total) continue;
      }
      std::string dedup = fmt::format(
          "(SELECT * EXCLUDE (filename, _rn) FROM (SELECT CAST(symbol AS VARCHAR) AS symbol, {0}, "
          "filename, "
          "row_number() OVER (PARTITION BY open_time ORDER BY {1} DESC, ingested_at DESC, filename "
          "DESC) "
          "AS _rn FROM {2}) WHERE _rn = 1)",
          kKlineColumnNames, kSourcePrioritySql, scan);
      StageSpec spec = KlinesStageSpec(iv, Source::kImport);
      spec.source = "compact";
      ASSIGN_OR_RETURN(auto added, StageQuery(con, txn, WithKlinePartitions(iv, dedup), spec));
      int64_t written = 0;
      for (auto& e : added) written += e.rows;
      for (auto* f : files) txn.RetireFile(f->path);
      st.partitions_rewritten += 1;
      st.files_retired += static_cast<int64_t>(files.size());
      st.files_written += static_cast<int64_t>(added.size());
      st.rows_written += written;
      st.rows_dropped += total - written;
    }
  }
  return Status::Ok();
}

StatusOr<CompactStats> Compact(Lake& lake, Connection& con, const std::string& dataset) {
  CompactStats st;
  auto attempt = [&](const Snapshot& snap) -> StatusOr<Transaction> {
    st = {};
    ASSIGN_OR_RETURN(Transaction txn, lake.Begin());
    Status s = StageCompaction(con, snap, txn, dataset, &st);
    if (!s.ok()) {
      lake.Abandon(std::move(txn));
      return s;
    }
    return txn;
  };
  ASSIGN_OR_RETURN(int64_t version, lake.CommitWithRetry(attempt));
  (void)version;
  return st;
}

}  // namespace cryptolake::lake
