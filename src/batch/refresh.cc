#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "batch/views.h"
#include "core/fsutil.h"
#include "core/time.h"
#include "lake/klines.h"

namespace cryptolake::batch {

namespace {

using json = nlohmann::json;
using lake::FileEntry;
using lake::SqlQuote;

// Bump when the view SQL changes so that every partition is recomputed once.
constexpr int kStateFormat = 1;

// Temp tables of one refresh (per connection).
constexpr const char* kNewDailyRaw = "_cl_batch_daily_raw";
constexpr const char* kAllDailyRaw = "_cl_batch_daily_raw_all";

std::string TempTable(std::string_view view) { return "_cl_batch_" + std::string(view); }

std::string KeyString(const PartitionKey& k) { return k.first + "/" + k.second; }

int YearOf(Micros t) {
  int y = 0, m = 0, d = 0;
  CivilFromMicros(t, &y, &m, &d);
  return y;
}

// "year=2025" (a view file's partition) -> "2025".
std::string PartitionYear(const FileEntry& f) {
  std::string_view p = f.partition;
  if (p.rfind("year=", 0) != 0) return "";
  p.remove_prefix(5);
  return std::string(p.substr(0, p.find('/')));
}

struct PartState {
  std::string fingerprint;  // daily_raw only
  std::string hash;         // content hash ("" if the partition has no rows)
  int64_t rows = 0;
};
using ViewState = std::map<PartitionKey, PartState>;

// The state stored by the last refresh; empty for a lake never refreshed or of another format.
std::map<std::string, ViewState> LoadState(const lake::Snapshot& snap) {
  std::map<std::string, ViewState> out;
  const json& meta = snap.manifest().meta;
  auto it = meta.find(kRefreshMetaKey);
  if (it == meta.end() || !it->is_object() || it->value("format", 0) != kStateFormat) return out;
  const json& views = (*it)["views"];
  if (!views.is_object()) return out;
  for (const auto& view : ViewNames()) {
    auto v = views.find(view);
    if (v == views.end() || !v->is_object()) continue;
    for (auto& [key, st] : v->items()) {
      size_t slash = key.rfind('/');
      if (slash == std::string::npos || !st.is_object()) continue;
      PartState ps;
      ps.fingerprint = st.value("fingerprint", "");
      ps.hash = st.value("hash", "");
      ps.rows = st.value("rows", int64_t{0});
      out[view][{key.substr(0, slash), key.substr(slash + 1)}] = std::move(ps);
    }
  }
  return out;
}

json StateJson(const std::map<std::string, ViewState>& state) {
  json views = json::object();
  for (const auto& view : ViewNames()) {
    json v = json::object();
    auto it = state.find(view);
    if (it != state.end()) {
      for (const auto& [k, ps] : it->second) {
        json e = {{"hash", ps.hash}, {"rows", ps.rows}};
        if (!ps.fingerprint.empty()) e["fingerprint"] = ps.fingerprint;
        v[KeyString(k)] = std::move(e);
      }
    }
    views[view] = std::move(v);
  }
  return {{"format", kStateFormat}, {"views", std::move(views)}};
}

// Live files of each view, by partition.
std::map<PartitionKey, std::vector<const FileEntry*>> LiveFiles(const lake::Snapshot& snap,
                                                                std::string_view view) {
  std::map<PartitionKey, std::vector<const FileEntry*>> out;
  for (const FileEntry* f : snap.Files(view)) out[{f->symbol, PartitionYear(*f)}].push_back(f);
  return out;
}

struct Content {
  std::string hash;
  int64_t rows = 0;
};

// Content hash and row count of each (symbol, year) of a temp table holding a view's rows.
StatusOr<std::map<PartitionKey, Content>> HashPartitions(lake::Connection& con,
                                                         std::string_view table,
                                                         std::string_view view) {
  std::string cols;
  for (const auto& c : ParseColumns(ViewColumns(view))) {
    if (!cols.empty()) cols += ", ";
    cols += c.name;
  }
  ASSIGN_OR_RETURN(
      lake::Result r,
      con.Query(fmt::format("SELECT symbol, year, md5(string_agg(CAST(ROW({0}) AS VARCHAR), "
                            "chr(10) ORDER BY {1})), count(*) FROM {2} GROUP BY symbol, year",
                            cols, ViewTimeColumn(view), table)));
  std::map<PartitionKey, Content> out;
  for (size_t i = 0; i < r.rows(); ++i) {
    out[{r.GetString(0, i), r.GetString(1, i)}] = {r.GetString(2, i), r.GetInt64(3, i)};
  }
  return out;
}

std::string KeyFilter(const std::set<PartitionKey>& keys) {
  std::string list;
  for (const auto& k : keys) {
    if (!list.empty()) list += ", ";
    list += SqlQuote(KeyString(k));
  }
  return fmt::format("list_contains([{}], symbol || '/' || year)", list);
}

// Stages the partitions `keys` of `table` (rows of `view` with symbol and year) into txn.
Status StagePartitions(lake::Connection& con, lake::Transaction& txn, std::string_view table,
                       std::string_view view, const std::set<PartitionKey>& keys,
                       ViewRefreshStats* st) {
  if (keys.empty()) return Status::Ok();
  std::string cols;
  for (const auto& c : ParseColumns(ViewColumns(view))) cols += ", " + c.name;
  ASSIGN_OR_RETURN(auto added,
                   lake::StageQuery(con, txn,
                                    fmt::format("SELECT symbol, year{} FROM {} WHERE {}", cols,
                                                table, KeyFilter(keys)),
                                    ViewStageSpec(view)));
  for (const auto& e : added) {
    st->files_written += 1;
    st->rows_written += e.rows;
  }
  return Status::Ok();
}

void Retire(lake::Transaction& txn, const std::vector<const FileEntry*>& files,
            ViewRefreshStats* st) {
  for (const FileEntry* f : files) {
    txn.RetireFile(f->path);
    st->files_retired += 1;
  }
}

class Refresher {
 public:
  Refresher(lake::Connection& con, const lake::Snapshot& snap, lake::Transaction& txn,
            const RefreshOptions& opt)
      : con_(con), snap_(snap), txn_(txn), opt_(opt), old_(LoadState(snap)) {}

  Status Run() {
    RETURN_IF_ERROR(RefreshDailyRaw());
    RETURN_IF_ERROR(RefreshDerived());
    json next = StateJson(state_);
    const json& meta = snap_.manifest().meta;
    auto it = meta.find(kRefreshMetaKey);
    // A lake never refreshed has the empty state: no meta is written for an empty lake.
    const json old = it == meta.end() ? StateJson({}) : *it;
    // Guard against a concurrent refresh: commit only if nobody changed the state we read.
    txn_.ExpectMeta(kRefreshMetaKey, it == meta.end() ? json() : *it);
    if (old != next) txn_.SetMeta(kRefreshMetaKey, std::move(next));
    for (const char* t : {kNewDailyRaw, kAllDailyRaw}) {
      RETURN_IF_ERROR(con_.Exec(fmt::format("DROP TABLE IF EXISTS {}", t)));
    }
    for (const auto& v : ViewNames()) {
      RETURN_IF_ERROR(con_.Exec(fmt::format("DROP TABLE IF EXISTS {}", TempTable(v))));
    }
    return Status::Ok();
  }

  const std::map<std::string, ViewRefreshStats>& stats() const { return stats_; }

 private:
  Status RefreshDailyRaw() {
    ViewRefreshStats& st = stats_[kDailyRaw];
    const ViewState& old = old_[kDailyRaw];
    ViewState& next = state_[kDailyRaw];
    auto live = LiveFiles(snap_, kDailyRaw);
    auto fps = DailyRawFingerprints(snap_);

    std::set<PartitionKey> recompute;
    for (const auto& [k, fp] : fps) {
      auto o = old.find(k);
      bool lost = o != old.end() && o->second.rows > 0 && !live.count(k);
      if (opt_.full || o == old.end() || o->second.fingerprint != fp || lost) {
        recompute.insert(k);
      } else {
        next[k] = o->second;
        st.partitions_unchanged += 1;
      }
    }
    st.partitions_recomputed = static_cast<int64_t>(recompute.size());
    recompute_ = recompute;

    // Everything: one scan per interval. Otherwise one range per run of consecutive years of a
    // symbol (KlinesSql prunes files by symbol and time range).
    std::string daily;
    if (recompute.size() == fps.size()) {
      daily = DailyRawSql(snap_);
    } else {
      std::vector<DailyRange> ranges;
      int last_year = 0;
      for (const auto& k : recompute) {
        int y = std::stoi(k.second);
        if (!ranges.empty() && ranges.back().symbol == k.first && y == last_year + 1) {
          ranges.back().to = MicrosFromCivil(y + 1, 1, 1);
        } else {
          ranges.push_back({k.first, MicrosFromCivil(y, 1, 1), MicrosFromCivil(y + 1, 1, 1)});
        }
        last_year = y;
      }
      daily = DailyRawRangesSql(snap_, ranges);
    }
    RETURN_IF_ERROR(con_.Exec(
        fmt::format("CREATE OR REPLACE TEMP TABLE {} AS SELECT symbol, CAST(year(day) AS VARCHAR) "
                    "AS year, * EXCLUDE (symbol) FROM {}",
                    kNewDailyRaw, daily)));
    ASSIGN_OR_RETURN(auto content, HashPartitions(con_, kNewDailyRaw, kDailyRaw));

    std::set<PartitionKey> write;
    for (const auto& k : recompute) {
      Content c;
      if (auto it = content.find(k); it != content.end()) c = it->second;
      auto o = old.find(k);
      auto l = live.find(k);
      bool has_live = l != live.end();
      bool same =
          !opt_.full && o != old.end() && o->second.hash == c.hash && has_live == (c.rows > 0);
      if (!same) {
        if (has_live) Retire(txn_, l->second, &st);
        if (c.rows > 0) write.insert(k);
        changed_symbols_.insert(k.first);
      }
      next[k] = {fps[k], c.hash, c.rows};
    }
    // Partitions whose master data is gone.
    for (const auto& [k, files] : live) {
      if (fps.count(k)) continue;
      Retire(txn_, files, &st);
      changed_symbols_.insert(k.first);
    }
    for (const auto& [k, ps] : old) {
      if (!fps.count(k)) changed_symbols_.insert(k.first);
    }
    for (const auto& [k, fp] : fps) all_symbols_.insert(k.first);
    return StagePartitions(con_, txn_, kNewDailyRaw, kDailyRaw, write, &st);
  }

  // daily_filled and prophet_input, per affected symbol.
  Status RefreshDerived() {
    std::set<std::string> affected = changed_symbols_;
    for (const auto& view : {kDailyFilled, kProphetInput}) {
      std::set<std::string> with_state;
      for (const auto& [k, ps] : old_[view]) with_state.insert(k.first);
      for (const auto& [k, files] : LiveFiles(snap_, view)) with_state.insert(k.first);
      for (const auto& s : all_symbols_) {
        if (opt_.full || !with_state.count(s)) affected.insert(s);
      }
      // Derived partitions of symbols that no longer have any daily_raw.
      for (const auto& s : with_state) {
        if (!all_symbols_.count(s)) affected.insert(s);
      }
    }

    // The new daily_raw of the affected symbols: kept partitions from their live files, the
    // recomputed ones from the temp table.
    std::vector<const FileEntry*> kept;
    for (const auto& [k, files] : LiveFiles(snap_, kDailyRaw)) {
      if (!affected.count(k.first) || !state_[kDailyRaw].count(k) || recompute_.count(k)) continue;
      kept.insert(kept.end(), files.begin(), files.end());
    }
    std::string cols;
    for (const auto& c : ParseColumns(kDailyRawColumns)) cols += ", " + c.name;
    std::string symbols = affected.empty() ? "NULL" : lake::SqlQuoteList(affected);
    RETURN_IF_ERROR(con_.Exec(fmt::format(
        "CREATE OR REPLACE TEMP TABLE {0} AS SELECT CAST(symbol AS VARCHAR) AS symbol{1} FROM {2} "
        "UNION ALL SELECT symbol{1} FROM {3} WHERE symbol IN ({4})",
        kAllDailyRaw, cols,
        snap_.ScanSql(kept, fmt::format("SELECT * FROM {} WHERE false", kNewDailyRaw)),
        kNewDailyRaw, symbols)));
    RETURN_IF_ERROR(con_.Exec(fmt::format(
        "CREATE OR REPLACE TEMP TABLE {} AS SELECT symbol, CAST(year(day) AS VARCHAR) AS year, "
        "* EXCLUDE (symbol) FROM {}",
        TempTable(kDailyFilled), DailyFilledSql(kAllDailyRaw))));
    RETURN_IF_ERROR(con_.Exec(fmt::format(
        "CREATE OR REPLACE TEMP TABLE {} AS SELECT symbol, CAST(year(ds) AS VARCHAR) AS year, "
        "* EXCLUDE (symbol) FROM {}",
        TempTable(kProphetInput), ProphetInputSql(TempTable(kDailyFilled)))));

    for (const auto& view : {kDailyFilled, kProphetInput}) {
      ViewRefreshStats& st = stats_[view];
      const ViewState& old = old_[view];
      ViewState& next = state_[view];
      auto live = LiveFiles(snap_, view);
      ASSIGN_OR_RETURN(auto content, HashPartitions(con_, TempTable(view), view));
      std::set<PartitionKey> write;
      for (const auto& [k, c] : content) {
        auto o = old.find(k);
        auto l = live.find(k);
        bool same = !opt_.full && o != old.end() && o->second.hash == c.hash && l != live.end();
        if (same) {
          st.partitions_unchanged += 1;
        } else {
          st.partitions_recomputed += 1;
          if (l != live.end()) Retire(txn_, l->second, &st);
          write.insert(k);
        }
        next[k] = {"", c.hash, c.rows};
      }
      for (const auto& [k, files] : live) {
        if (!affected.count(k.first)) {
          st.partitions_unchanged += 1;
        } else if (!content.count(k)) {
          Retire(txn_, files, &st);
        }
      }
      for (const auto& [k, ps] : old) {
        if (!affected.count(k.first)) next[k] = ps;
      }
      RETURN_IF_ERROR(StagePartitions(con_, txn_, TempTable(view), view, write, &st));
    }
    return Status::Ok();
  }

  lake::Connection& con_;
  const lake::Snapshot& snap_;
  lake::Transaction& txn_;
  const RefreshOptions& opt_;
  std::map<std::string, ViewState> old_;
  std::map<std::string, ViewState> state_;
  std::map<std::string, ViewRefreshStats> stats_;
  std::set<PartitionKey> recompute_;       // daily_raw partitions recomputed from master
  std::set<std::string> changed_symbols_;  // symbols whose daily_raw files change
  std::set<std::string> all_symbols_;      // symbols with master data
};

}  // namespace

std::map<PartitionKey, std::string> DailyRawFingerprints(const lake::Snapshot& snap) {
  std::map<PartitionKey, std::vector<std::string>> lines;
  for (const Interval& iv : lake::KlineIntervals(snap)) {
    for (const FileEntry* f : snap.Files(lake::KlinesDataset(iv))) {
      for (int y = YearOf(f->min_time); y <= YearOf(f->max_time); ++y) {
        lines[{f->symbol, std::to_string(y)}].push_back(
            fmt::format("{}|{}|{}", f->dataset, f->path, f->rows));
      }
    }
  }
  std::map<PartitionKey, std::string> out;
  for (auto& [k, l] : lines) {
    std::sort(l.begin(), l.end());
    std::string text = fmt::format("daily_raw/{}\n", kStateFormat);
    for (const auto& s : l) text += s + "\n";
    out[k] = Sha256Hex(text);
  }
  return out;
}

std::vector<PartitionKey> StalePartitions(const lake::Snapshot& snap) {
  auto fps = DailyRawFingerprints(snap);
  auto state = LoadState(snap);
  const ViewState& old = state[kDailyRaw];
  std::set<PartitionKey> stale;
  for (const auto& [k, fp] : fps) {
    auto o = old.find(k);
    if (o == old.end() || o->second.fingerprint != fp) stale.insert(k);
  }
  for (const auto& [k, ps] : old) {
    if (!fps.count(k)) stale.insert(k);
  }
  return {stale.begin(), stale.end()};
}

StatusOr<RefreshStats> RefreshViews(lake::Lake& lake, lake::Connection& con,
                                    const RefreshOptions& options) {
  RefreshStats st;
  int64_t snap_version = 0;
  // A concurrent refresh of the same lake changes the views' state first: refresh again from
  // the new snapshot (the state's compare-and-swap aborts the commit).
  auto attempt = [&](const lake::Snapshot& snap) -> StatusOr<lake::Transaction> {
    st = {};
    snap_version = snap.version();
    ASSIGN_OR_RETURN(lake::Transaction txn, lake.Begin());
    Refresher r(con, snap, txn, options);
    Status s = r.Run();
    if (!s.ok()) {
      lake.Abandon(std::move(txn));
      return s.WithContext("refreshing views");
    }
    st.views = r.stats();
    for (const auto& v : ViewNames()) {
      const ViewRefreshStats& vs = st.views[v];
      st.partitions_recomputed += vs.partitions_recomputed;
      st.partitions_unchanged += vs.partitions_unchanged;
      st.files_written += vs.files_written;
      st.files_retired += vs.files_retired;
      st.rows_written += vs.rows_written;
    }
    st.committed = !txn.empty();
    return txn;
  };
  ASSIGN_OR_RETURN(int64_t version, lake.CommitWithRetry(attempt));
  st.version = st.committed ? version : snap_version;
  return st;
}

std::string FormatRefreshSummary(const RefreshStats& stats) {
  auto plural = [](int64_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
  };
  auto line = [&](const std::string& name, int64_t rec, int64_t unch, int64_t fw, int64_t fr) {
    return fmt::format("{}: {} recomputed, {} unchanged, {} written, {} retired", name,
                       plural(rec, "partition", "partitions"), unch, plural(fw, "file", "files"),
                       fr);
  };
  std::string out;
  for (const auto& v : ViewNames()) {
    auto it = stats.views.find(v);
    ViewRefreshStats vs = it == stats.views.end() ? ViewRefreshStats{} : it->second;
    out += line(v, vs.partitions_recomputed, vs.partitions_unchanged, vs.files_written,
                vs.files_retired) +
           "\n";
  }
  out += line("total", stats.partitions_recomputed, stats.partitions_unchanged, stats.files_written,
              stats.files_retired) +
         fmt::format(", {} written", plural(stats.rows_written, "row", "rows"));
  out += stats.committed
             ? fmt::format(" (manifest version {})\n", stats.version)
             : fmt::format(" (views up to date at manifest version {})\n", stats.version);
  return out;
}

}  // namespace cryptolake::batch
