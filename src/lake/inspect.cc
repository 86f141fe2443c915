#include "lake/inspect.h"

#include "lake/klines.h"

namespace cryptolake::lake {

StatusOr<std::vector<DatasetStats>> Inspect(const Snapshot& snap, Connection& con,
                                            bool with_digest) {
  std::vector<DatasetStats> out;
  for (const auto& ds : snap.Datasets()) {
    const bool klines = ds.rfind("klines_", 0) == 0;
    for (const auto& sym : snap.Symbols(ds)) {
      DatasetStats s;
      s.dataset = ds;
      s.symbol = sym;
      auto files = snap.Files(ds, sym);
      s.files = static_cast<int64_t>(files.size());
      s.first = INT64_MAX;
      s.last = INT64_MIN;
      for (auto* f : files) {
        s.stored_rows += f->rows;
        s.first = std::min(s.first, f->min_time);
        s.last = std::max(s.last, f->max_time);
      }
      std::string rows;
      if (klines) {
        auto iv = Interval::Parse(ds.substr(7));
        if (!iv.ok()) return iv.status();
        KlineFilter f;
        f.symbol = sym;
        rows = fmt::format("(SELECT * EXCLUDE (ingested_at) FROM {})", KlinesSql(snap, *iv, f));
      } else {
        rows = fmt::format("(SELECT * EXCLUDE (year) FROM {})",
                           snap.ScanSql(files, "SELECT 1 WHERE false"));
      }
      std::string sql = with_digest ? fmt::format(
                                          "SELECT count(*), CAST(sum(hash(t)::HUGEINT) % "
                                          "18446744073709551616 AS VARCHAR) FROM {} t",
                                          rows)
                                    : fmt::format("SELECT count(*), '' FROM {} t", rows);
      ASSIGN_OR_RETURN(Result r, con.Query(sql));
      s.rows = r.GetInt64(0, 0);
      s.digest = r.IsNull(1, 0) ? "0" : r.GetString(1, 0);
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string FormatStats(const std::vector<DatasetStats>& stats, bool with_digest) {
  std::string out =
      fmt::format("{:<16} {:<10} {:>6} {:>10} {:>10}  {:<20} {:<20}{}\n", "dataset", "symbol",
                  "files", "rows", "stored", "first", "last", with_digest ? "  digest" : "");
  for (const auto& s : stats) {
    out += fmt::format("{:<16} {:<10} {:>6} {:>10} {:>10}  {:<20} {:<20}{}\n", s.dataset, s.symbol,
                       s.files, s.rows, s.stored_rows, FormatIso(s.first), FormatIso(s.last),
                       with_digest ? "  " + s.digest : "");
  }
  return out;
}

}  // namespace cryptolake::lake
