#include "ingest/importer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "core/fsutil.h"
#include "core/progress.h"
#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::ingest {

using lake::Connection;

namespace {

// Whether a plain (non-zip) input's name gives its symbol and interval, or the options do.
bool Nameable(const fs::path& p, const ParseOptions& opt) {
  std::string name = p.filename().string();
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.ends_with(".zip")) return true;  // members may carry the names
  if (opt.symbol && opt.interval) return true;
  NameParts parts = SplitFileName(name);
  return (opt.symbol || !parts.symbol.empty()) && (opt.interval || !parts.interval.empty());
}

// Parses all inputs on `threads` threads. Results keep the input order. A file that fails as a
// whole (unreadable, unnamed, corrupt, a decompression bomb, off the grid) is left out and its
// error appended to *failed, in input order.
std::vector<ParsedFile> ParseAll(const std::vector<fs::path>& inputs, const ImportOptions& opt,
                                 const ParseOptions& popt, std::vector<Status>* failed) {
  std::vector<StatusOr<std::vector<ParsedFile>>> results(inputs.size(), Internal("not parsed"));
  uint64_t total_bytes = 0;
  for (const auto& p : inputs) {
    std::error_code ec;
    total_bytes += fs::file_size(p, ec);
  }
  Progress progress("import: parsing", opt.progress ? total_bytes : 0);
  std::mutex mu;
  std::atomic<size_t> next{0};
  int n = opt.threads > 0 ? opt.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n = std::min<int>(n, static_cast<int>(inputs.size()));
  auto work = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      StatusOr<std::vector<ParsedFile>> r =
          Nameable(inputs[i], popt)
              ? ParseInput(inputs[i], popt)
              : StatusOr<std::vector<ParsedFile>>(InvalidArgument(
                    "skipped '{}': cannot tell symbol and interval from its name; use "
                    "--symbol/--interval",
                    inputs[i].string()));
      std::error_code ec;
      uint64_t sz = fs::file_size(inputs[i], ec);
      std::lock_guard<std::mutex> l(mu);
      results[i] = std::move(r);
      if (opt.progress) progress.Add(sz);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  progress.Finish();
  std::vector<ParsedFile> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!results[i].ok()) {
      failed->push_back(results[i].status());
      continue;
    }
    for (auto& f : results[i].value()) out.push_back(std::move(f));
  }
  return out;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Runs `write` (a long DuckDB query) while a progress bar on a TTY shows how many of the rows
// DuckDB has taken (`scanned`).
template <typename F>
auto WithWriteProgress(const std::function<uint64_t()>& scanned, uint64_t rows, bool enabled,
                       std::string label, F write) {
  Progress bar(std::move(label), rows);
  if (!enabled || !bar.tty()) return write();
  std::atomic<bool> done{false};
  std::thread poll([&] {
    while (!done.load()) {
      bar.Set(scanned());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // screen refresh, not a wait
    }
  });
  auto result = write();
  done = true;
  poll.join();
  bar.Set(rows);
  bar.Finish();
  return result;
}

// Whether the batches can hold the same (symbol, open_time) twice: some batch is not strictly
// increasing, or two batches of one symbol overlap in time. Usually neither, and the import
// skips the in-import dedup.
bool MayRepeatKeys(const std::vector<const KlineBatch*>& batches) {
  std::map<std::string, std::vector<std::pair<Micros, Micros>>> ranges;
  for (auto* b : batches) {
    if (b->size() == 0) continue;
    for (size_t i = 1; i < b->size(); ++i) {
      if (b->open_time[i] <= b->open_time[i - 1]) return true;
    }
    ranges[b->symbol].emplace_back(b->open_time.front(), b->open_time.back());
  }
  for (auto& [sym, r] : ranges) {
    std::sort(r.begin(), r.end());
    for (size_t i = 1; i < r.size(); ++i) {
      if (r[i].first <= r[i - 1].second) return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<ImportStats> Import(lake::Lake& lake, Connection& con, const ImportOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  ImportStats st;
  ASSIGN_OR_RETURN(std::vector<fs::path> inputs, ExpandInputs(opt.inputs));
  auto lap = [t = std::chrono::steady_clock::now()](const char* what) mutable {
    auto now = std::chrono::steady_clock::now();
    spdlog::debug("import: {} took {:.3f} s", what, std::chrono::duration<double>(now - t).count());
    t = now;
  };
  ParseOptions popt = opt.parse;
  popt.now = lake.clock().Now();  // rows may open at most one interval after it
  std::vector<ParsedFile> parsed = ParseAll(inputs, opt, popt, &st.failed);
  lap("parse");
  if (!st.failed.empty() && (opt.strict || parsed.empty())) {
    // Nothing to commit: the lake stays exactly as it was.
    if (st.failed.size() == 1 && !opt.strict) return st.failed[0];
    std::string all;
    for (const Status& f : st.failed) all += "\n  " + f.message();
    return Status(
        st.failed[0].code(),
        fmt::format("{}{} of {} input(s) failed, nothing imported:{}",
                    opt.strict ? "--strict: " : "", st.failed.size(), inputs.size(), all));
  }
  st.files = static_cast<int64_t>(parsed.size());
  std::vector<const BadRow*> bad;
  for (const auto& f : parsed) {
    st.bytes += f.bytes;
    st.rows_read += static_cast<int64_t>(f.batch.size());
    for (const auto& b : f.bad) bad.push_back(&b);
  }
  st.quarantined = static_cast<int64_t>(bad.size());
  if (opt.strict && !bad.empty()) {
    return InvalidArgument("--strict: {} bad row(s), nothing imported; first: {}:{}: {}",
                           bad.size(), bad[0]->file, bad[0]->line, bad[0]->reason);
  }

  // Group files by interval: each interval is its own dataset.
  std::map<int64_t, std::vector<size_t>> by_interval;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (parsed[i].batch.size() > 0) by_interval[parsed[i].batch.interval.micros].push_back(i);
  }

  const Micros ingested_at = lake.clock().Now();
  if (!bad.empty()) {
    std::string q = "file,line,reason,text\n";
    for (const BadRow* b : bad) {
      q += fmt::format("{},{},{},{}\n", CsvField(b->file), b->line, CsvField(b->reason),
                       CsvField(b->text));
    }
    fs::path qdir = lake.root() / "quarantine";
    std::error_code ec;
    fs::create_directories(qdir, ec);
    st.quarantine_file = fmt::format("quarantine/import-{}-{}.csv", ingested_at, ::getpid());
    RETURN_IF_ERROR(WriteFileAtomic(lake.root() / st.quarantine_file, q));
  }

  // The duplicate check and the commit must see the same lake: each try declares the key ranges
  // it checked (DependsOn), and a concurrent commit of overlapping rows makes it run again on the
  // new snapshot (Lake::CommitWithRetry), so concurrent imports store each key once.
  auto attempt = [&](const lake::Snapshot& snap) -> StatusOr<lake::Transaction> {
    st.rows_added = 0;
    st.duplicates = 0;
    ASSIGN_OR_RETURN(lake::Transaction txn, lake.Begin());
    auto fail = [&](Status s) {
      lake.Abandon(std::move(txn));
      return s;
    };
    for (const auto& [micros, idxs] : by_interval) {
      const Interval& iv = parsed[idxs[0]].batch.interval;
      std::vector<const KlineBatch*> batches;
      std::map<std::string, std::pair<Micros, Micros>> span;  // per symbol: [lo, hi]
      int64_t n_in = 0;
      for (size_t i : idxs) {
        const KlineBatch& b = parsed[i].batch;  // never empty here
        batches.push_back(&b);
        n_in += static_cast<int64_t>(b.size());
        auto [lo, hi] = std::minmax_element(b.open_time.begin(), b.open_time.end());
        auto [it, fresh] = span.try_emplace(b.symbol, *lo, *hi);
        it->second.first = std::min(it->second.first, *lo);
        it->second.second = std::max(it->second.second, *hi);
      }
      for (const auto& [sym, sp] : span) {
        txn.DependsOn(snap, lake::KlinesDataset(iv), sym, sp.first, sp.second);
      }
      // Keys already in the lake from import or rest are not written again.
      lake::KlineAppend app;
      app.source = lake::Source::kImport;
      app.ingested_at = ingested_at;
      app.dedup_batches = MayRepeatKeys(batches);
      app.skip_existing = &snap;
      app.run = [&](const std::function<uint64_t()>& scanned,
                    const std::function<Status()>& write) {
        return WithWriteProgress(scanned, static_cast<uint64_t>(n_in), opt.progress,
                                 "import: writing", write);
      };
      auto added = lake::AppendKlines(con, txn, iv, batches, app);
      if (!added.ok()) return fail(added.status());
      lap("dedup and stage");
      int64_t n_added = 0;
      for (const auto& e : *added) n_added += e.rows;
      st.rows_added += n_added;
      st.duplicates += n_in - n_added;
    }
    return txn;
  };
  lake::Lake::RetryStats retry;
  ASSIGN_OR_RETURN(st.version, lake.CommitWithRetry(attempt, 4, &retry));
  if (retry.tries > 1) {
    spdlog::info("import: {} tries (a concurrent commit touched the same keys{})", retry.tries,
                 retry.locked ? "; the last held the writer lock" : "");
  }
  lap("commit");
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

std::string FormatImportSummary(const ImportStats& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.rows_read + s.quarantined) / s.seconds : 0;
  std::string out = fmt::format(
      "import: files {}, rows {} ({:.0f} rows/s), added {}, duplicates {}, quarantined {}", s.files,
      s.rows_read + s.quarantined, rate, s.rows_added, s.duplicates, s.quarantined);
  if (!s.failed.empty()) out += fmt::format(", failed {}", s.failed.size());
  if (!s.quarantine_file.empty()) out += fmt::format(" (see {})", s.quarantine_file);
  return out;
}

}  // namespace cryptolake::ingest
