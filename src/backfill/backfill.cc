#include "backfill/backfill.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/fsutil.h"
#include "core/progress.h"
#include "ingest/parser.h"  // ingest::KlineBatch
#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::backfill {

using lake::TimeRange;
using lake::TimeRanges;

namespace {

struct Series {
  std::string symbol;
  Interval interval;
  std::string dataset;
  Micros from = 0, to = 0;  // scope [from, to)
};

// A part of a missing range, paged by one worker from `from`.
struct Segment {
  size_t series = 0;
  Micros from = 0, to = 0;
};

// What one page proved: rows to commit and spans without klines. Committed together or not at
// all.
struct Piece {
  size_t series = 0;
  ingest::KlineBatch rows;
  TimeRanges empty;
  int64_t covered = 0;  // candles the page settled (rows + confirmed empty)
};

int64_t Candles(const TimeRanges& rs, Micros step) {
  int64_t n = 0;
  for (const auto& [lo, hi] : rs) n += (hi - lo) / step;
  return n;
}

// Ranges of [s.from, s.to) without any stored kline (any source) in `snap`.
StatusOr<TimeRanges> StoredGaps(const lake::Snapshot& snap, lake::Connection& con,
                                const Series& s) {
  const Micros step = s.interval.micros;
  ASSIGN_OR_RETURN(auto gaps, lake::StoredKlineGaps(con, snap, s.interval, s.symbol, s.from, s.to));
  TimeRanges out;
  for (auto [lo, hi] : gaps) {
    // A stored open_time off the interval grid cannot shrink a gap below whole candles.
    lo = AlignUp(lo, step);
    hi = AlignUp(hi, step);
    if (lo < hi) out.emplace_back(lo, hi);
  }
  return out;
}

// Splits a missing range so that `workers` can page it side by side; a range of at most one
// page stays whole.
void AddSegments(size_t series, TimeRange r, Micros step, int page_limit, int workers,
                 std::vector<Segment>* out) {
  int64_t n = (r.second - r.first) / step;
  int64_t pages = (n + page_limit - 1) / page_limit;
  int64_t k = std::clamp<int64_t>(pages, 1, std::max(1, workers * 2));
  int64_t per = (n + k - 1) / k;
  for (Micros lo = r.first; lo < r.second; lo += per * step) {
    out->push_back({series, lo, std::min(r.second, lo + per * step)});
  }
}

// Takes out of the refetch ranges of `series` what the lake now holds or the exchange confirmed
// empty, in one commit of the meta (compare-and-swap, retried on a concurrent change).
Status SettleRefetch(lake::Lake& lake, lake::Connection& con, const std::vector<Series>& series) {
  auto attempt = [&](const lake::Snapshot& snap) -> StatusOr<lake::Transaction> {
    const nlohmann::json& meta = snap.manifest().meta;
    const nlohmann::json cur =
        meta.contains(lake::kRefetchKey) ? meta[lake::kRefetchKey] : nlohmann::json();
    nlohmann::json next = cur;
    for (const Series& s : series) {
      TimeRanges settled;
      for (const auto& [lo, hi] : lake::RefetchRanges(snap.manifest(), s.dataset, s.symbol)) {
        Series part = s;
        part.from = AlignUp(lo, s.interval.micros);
        part.to = std::min(AlignUp(hi, s.interval.micros), s.to);
        if (part.from >= part.to) continue;
        ASSIGN_OR_RETURN(TimeRanges gaps, StoredGaps(snap, con, part));
        gaps =
            lake::SubtractRanges(gaps, lake::ConfirmedEmpty(snap.manifest(), s.dataset, s.symbol));
        for (const auto& r : lake::SubtractRanges({{lo, part.to}}, gaps)) settled.push_back(r);
      }
      if (!settled.empty()) next = lake::WithoutRefetch(next, s.dataset, s.symbol, settled);
    }
    ASSIGN_OR_RETURN(lake::Transaction txn, lake.Begin());
    if (next != cur) {
      txn.ExpectMeta(lake::kRefetchKey, cur);
      txn.SetMeta(lake::kRefetchKey, next.empty() ? nlohmann::json() : next);
    }
    return txn;
  };
  return lake.CommitWithRetry(attempt).status();
}

// One run of Backfill, in its steps: check the symbols, plan the missing ranges of every
// series, then page them with a pool of workers while this thread commits the pages in chunks.
class BackfillRun {
 public:
  BackfillRun(lake::Lake& lake, lake::Connection& con, venue::KlineSource& rest,
              const BackfillOptions& opt)
      : lake_(lake), con_(con), rest_(rest), opt_(opt) {}

  StatusOr<BackfillStats> Run(std::chrono::steady_clock::time_point t0);

 private:
  // The exchange first: its symbols, then its clock (which decides what is closed).
  Status CheckSymbols();
  // Scope and missing ranges of every series; the segments to page.
  Status Plan();
  // One series: its scope, then (if it has any) its missing ranges.
  Status PlanSeries(const std::string& sym, const Interval& iv);
  // A worker: takes segments until none is left (or abort) and pages each.
  void Work();
  // Pages one segment from its start, handing each page to the committing thread.
  void PageSegment(const Segment& seg);
  // The commit loop on this thread: collects pages and commits them in chunks until every
  // worker is done (or a commit fails).
  Status CommitPages(Progress& bar);
  // Commits `pending` (rows and confirmed-empty ranges) in one lake commit, then clears it.
  Status Commit(std::vector<Piece>& pending);

  lake::Lake& lake_;
  lake::Connection& con_;
  venue::KlineSource& rest_;
  const BackfillOptions& opt_;
  BackfillStats st_;
  std::optional<lake::Snapshot> snap_;
  std::vector<Series> series_;
  std::vector<Segment> segments_;
  int64_t total_missing_ = 0;
  nlohmann::json meta_;  // the confirmed-empty meta as of the last commit

  // Workers page the segments and hand pages to this thread, which commits them in chunks.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Piece> ready_;
  size_t next_segment_ = 0;
  int workers_done_ = 0;
  int n_workers_ = 0;
  std::atomic<bool> abort_{false};
};

Status BackfillRun::CheckSymbols() {
  ASSIGN_OR_RETURN(std::vector<venue::SymbolInfo> listed, rest_.ExchangeInfo());
  for (const auto& sym : opt_.symbols) {
    auto it = std::find_if(listed.begin(), listed.end(),
                           [&](const venue::SymbolInfo& i) { return i.symbol == sym; });
    if (it == listed.end()) {
      return InvalidArgument("unknown symbol '{}': not listed by {}/api/v3/exchangeInfo", sym,
                             rest_.base_url());
    }
    if (it->status != "TRADING") {
      spdlog::warn("backfill: {} has status {} on the exchange; fetching its history anyway", sym,
                   it->status);
    }
  }
  ASSIGN_OR_RETURN(st_.exchange_time, rest_.ServerTime());
  return Status::Ok();
}

Status BackfillRun::Plan() {
  ASSIGN_OR_RETURN(lake::Snapshot snap, lake_.GetSnapshot());
  snap_ = std::move(snap);
  for (const auto& sym : opt_.symbols) {
    for (const auto& iv : opt_.intervals) RETURN_IF_ERROR(PlanSeries(sym, iv));
  }
  return Status::Ok();
}

Status BackfillRun::PlanSeries(const std::string& sym, const Interval& iv) {
  const lake::Snapshot& snap = *snap_;
  Series s{sym, iv, lake::KlinesDataset(iv)};
  s.to = AlignDown(st_.exchange_time, iv.micros);  // candles before it are closed
  if (opt_.to) s.to = std::min(s.to, AlignUp(*opt_.to, iv.micros));
  // Ranges `repair --drop` took out with a damaged file: fetched again wherever they are.
  const TimeRanges refetch = lake::RefetchRanges(snap.manifest(), s.dataset, sym);
  if (opt_.from) {
    s.from = AlignUp(*opt_.from, iv.micros);
  } else {
    auto files = snap.Files(s.dataset, sym);
    if (files.empty() && refetch.empty()) {
      return InvalidArgument(
          "{} {}: no klines in the lake to start from; pass --from (e.g. --from 2025-01-01)", sym,
          iv.name);
    }
    s.from = std::numeric_limits<Micros>::max();
    for (auto* f : files) s.from = std::min(s.from, f->min_time);
    for (const auto& r : refetch) s.from = std::min(s.from, r.first);
    s.from = AlignUp(s.from, iv.micros);
  }
  SeriesStats ss;
  ss.symbol = sym;
  ss.interval = iv.name;
  ss.from = s.from;
  ss.to = std::max(s.from, s.to);
  if (s.from < s.to) {
    ASSIGN_OR_RETURN(TimeRanges gaps, StoredGaps(snap, con_, s));
    for (const auto& [lo, hi] : refetch) {
      Series part = s;
      part.from = AlignUp(lo, iv.micros);
      part.to = std::min(AlignUp(hi, iv.micros), s.to);
      if (part.from >= part.to || (part.from >= s.from && part.to <= s.to)) continue;
      ASSIGN_OR_RETURN(TimeRanges more, StoredGaps(snap, con_, part));
      gaps.insert(gaps.end(), more.begin(), more.end());
    }
    gaps = lake::MergeRanges(std::move(gaps));
    TimeRanges missing =
        lake::SubtractRanges(gaps, lake::ConfirmedEmpty(snap.manifest(), s.dataset, sym));
    ss.missing = Candles(missing, iv.micros);
    ss.missing_ranges = static_cast<int64_t>(missing.size());
    ss.already_empty = Candles(gaps, iv.micros) - ss.missing;
    total_missing_ += ss.missing;
    for (const auto& r : missing) {
      AddSegments(series_.size(), r, iv.micros, opt_.page_limit, opt_.concurrency, &segments_);
    }
    spdlog::debug("backfill {} {}: {} missing in {} ranges", sym, iv.name, ss.missing,
                  ss.missing_ranges);
  }
  series_.push_back(std::move(s));
  st_.series.push_back(std::move(ss));
  return Status::Ok();
}

void BackfillRun::Work() {
  for (;;) {
    Segment seg;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (next_segment_ >= segments_.size() || abort_.load()) break;
      seg = segments_[next_segment_++];
    }
    PageSegment(seg);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    ++workers_done_;
  }
  cv_.notify_one();
}

void BackfillRun::PageSegment(const Segment& seg) {
  const Series& s = series_[seg.series];
  const Micros step = s.interval.micros;
  Micros cur = seg.from;
  while (cur < seg.to && !abort_.load()) {
    auto page = rest_.Klines(s.symbol, s.interval, cur, seg.to - step, opt_.page_limit);
    if (!page.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      st_.failures.push_back({s.symbol, s.interval.name, cur, seg.to, page.status().message()});
      break;
    }
    Piece pc;
    pc.series = seg.series;
    const bool full_page = static_cast<int>(page->size()) >= opt_.page_limit;
    // Keep only closed klines; an open one ends what this page can prove.
    size_t keep = 0;
    while (keep < page->size() && page->close_time[keep] < st_.exchange_time) ++keep;
    const bool cut = keep < page->size();
    Micros expect = cur;
    for (size_t i = 0; i < keep; ++i) {
      Micros t = page->open_time[i];
      if (t > expect) pc.empty.emplace_back(expect, t);
      expect = t + step;
    }
    Micros next = expect;
    if (!full_page && !cut) {
      if (expect < seg.to) pc.empty.emplace_back(expect, seg.to);
      next = seg.to;
    }
    if (cut) {
      spdlog::warn("backfill {} {}: the exchange returned an open kline at {}; stopping there",
                   s.symbol, s.interval.name, FormatIso(page->open_time[keep]));
    }
    page->Truncate(keep);
    pc.rows = std::move(*page);
    pc.covered = (next - cur) / step;
    {
      std::lock_guard<std::mutex> l(mu_);
      ready_.push_back(std::move(pc));
    }
    cv_.notify_one();
    if (cut || next <= cur) break;
    cur = next;
  }
}

Status BackfillRun::Commit(std::vector<Piece>& pending) {
  if (pending.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(lake::Transaction txn, lake_.Begin());
  auto fail = [&](Status s) {
    lake_.Abandon(std::move(txn));
    return s;
  };
  const Micros ingested_at = lake_.clock().Now();
  std::map<int64_t, std::vector<const Piece*>> by_interval;
  for (const auto& p : pending) by_interval[series_[p.series].interval.micros].push_back(&p);
  std::map<size_t, int64_t> added;
  for (const auto& [micros, pieces] : by_interval) {
    std::vector<const ingest::KlineBatch*> batches;
    for (const Piece* p : pieces) {
      if (p->rows.size() > 0) batches.push_back(&p->rows);
    }
    if (batches.empty()) continue;
    const Interval& iv = series_[pieces[0]->series].interval;
    lake::KlineAppend app;
    app.source = lake::Source::kRest;
    app.ingested_at = ingested_at;
    auto staged = lake::AppendKlines(con_, txn, iv, batches, app);
    if (!staged.ok()) return fail(staged.status());
  }
  nlohmann::json new_meta = meta_;
  bool meta_changed = false;
  for (const auto& p : pending) {
    added[p.series] += static_cast<int64_t>(p.rows.size());
    if (p.empty.empty()) continue;
    const Series& s = series_[p.series];
    new_meta = lake::WithConfirmedEmpty(new_meta, s.dataset, s.symbol, p.empty);
    meta_changed = true;
  }
  if (meta_changed) {
    txn.ExpectMeta(lake::kConfirmedEmptyKey, meta_);
    txn.SetMeta(lake::kConfirmedEmptyKey, new_meta);
  }
  ASSIGN_OR_RETURN(st_.version, lake_.Commit(std::move(txn)));
  ++st_.commits;
  for (const auto& p : pending) {
    st_.series[p.series].confirmed_empty +=
        Candles(lake::MergeRanges(p.empty), series_[p.series].interval.micros);
  }
  for (const auto& [idx, n] : added) st_.series[idx].fetched += n;
  meta_ = std::move(new_meta);
  pending.clear();
  return Status::Ok();
}

Status BackfillRun::CommitPages(Progress& bar) {
  std::vector<Piece> pending;
  int64_t pending_rows = 0;
  Micros last_commit = lake_.clock().Now();
  for (;;) {
    std::vector<Piece> got;
    bool done;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !ready_.empty() || workers_done_ == n_workers_; });
      got.swap(ready_);
      done = workers_done_ == n_workers_ && ready_.empty();
    }
    for (auto& p : got) {
      bar.Add(static_cast<uint64_t>(p.covered));
      pending_rows += static_cast<int64_t>(p.rows.size());
      pending.push_back(std::move(p));
    }
    const Micros now = lake_.clock().Now();
    if (done || pending_rows >= opt_.chunk_rows || now - last_commit >= opt_.chunk_interval) {
      RETURN_IF_ERROR(Commit(pending));
      pending_rows = 0;
      last_commit = now;
    }
    if (done) return Status::Ok();
  }
}

StatusOr<BackfillStats> BackfillRun::Run(std::chrono::steady_clock::time_point t0) {
  RETURN_IF_ERROR(CheckSymbols());
  RETURN_IF_ERROR(Plan());
  const lake::Snapshot& snap = *snap_;
  const int64_t requests_before = rest_.stats().requests.load();
  n_workers_ =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(opt_.concurrency), segments_.size()));
  std::vector<std::thread> pool;
  for (int i = 0; i < n_workers_; ++i) pool.emplace_back([this] { Work(); });

  Progress bar("backfill", opt_.progress ? static_cast<uint64_t>(total_missing_) : 0);
  meta_ = snap.manifest().meta.contains(lake::kConfirmedEmptyKey)
              ? snap.manifest().meta[lake::kConfirmedEmptyKey]
              : nlohmann::json();
  st_.version = snap.version();
  Status result = CommitPages(bar);
  abort_ = true;
  for (auto& t : pool) t.join();
  bar.Finish();
  if (!result.ok()) return result.WithContext("backfill");
  if (snap.manifest().meta.contains(lake::kRefetchKey)) {
    RETURN_IF_ERROR(SettleRefetch(lake_, con_, series_).WithContext("backfill"));
  }
  std::sort(st_.failures.begin(), st_.failures.end(), [](const auto& a, const auto& b) {
    return std::tie(a.symbol, a.interval, a.from) < std::tie(b.symbol, b.interval, b.from);
  });
  st_.requests = rest_.stats().requests.load() - requests_before;
  st_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::move(st_);
}

}  // namespace

int64_t BackfillStats::fetched() const {
  int64_t n = 0;
  for (const auto& s : series) n += s.fetched;
  return n;
}

StatusOr<BackfillStats> Backfill(lake::Lake& lake, lake::Connection& con, venue::KlineSource& rest,
                                 const BackfillOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.symbols.empty()) return InvalidArgument("backfill: no symbols given");
  if (opt.intervals.empty()) return InvalidArgument("backfill: no intervals given");
  if (opt.page_limit < 1 || opt.page_limit > 1000) {
    return InvalidArgument("backfill: page limit {} out of range 1..1000", opt.page_limit);
  }
  if (opt.concurrency < 1) return InvalidArgument("backfill: concurrency must be at least 1");

  std::error_code mkdir_ec;
  std::filesystem::create_directories(lake.root(),
                                      mkdir_ec);  // a new lake: backfill is its first writer
  auto lock = FileLock::TryAcquire(lake.root() / "_backfill.lock");
  if (!lock.ok()) {
    if (lock.status().code() == StatusCode::kUnavailable) {
      return Status(
          StatusCode::kUnavailable,
          fmt::format("another backfill holds {}", (lake.root() / "_backfill.lock").string()));
    }
    return lock.status();
  }
  BackfillRun run(lake, con, rest, opt);
  return run.Run(t0);
}

std::string FormatBackfillSummary(const BackfillStats& st) {
  std::string out;
  for (const auto& s : st.series) {
    std::string range =
        s.from < s.to ? FormatMinute(s.from) + ".." + FormatMinute(s.to) : "nothing closed yet";
    out += fmt::format(
        "backfill {} {} {}: missing {} in {} range{}, fetched {}, confirmed empty {}{}\n", s.symbol,
        s.interval, range, s.missing, s.missing_ranges, s.missing_ranges == 1 ? "" : "s", s.fetched,
        s.confirmed_empty,
        s.already_empty > 0 ? fmt::format(" (earlier {})", s.already_empty) : "");
  }
  for (const auto& f : st.failures) {
    out += fmt::format("FAILED   {} {} {}..{}: {}\n", f.symbol, f.interval, FormatMinute(f.from),
                       FormatMinute(f.to), f.error);
  }
  out += fmt::format(
      "backfill: {} series, fetched {} klines in {} requests, {} commits, {} failed ranges, "
      "exchange time {}, {:.1f} s",
      st.series.size(), st.fetched(), st.requests, st.commits, st.failures.size(),
      FormatIso(st.exchange_time), st.seconds);
  return out;
}

}  // namespace cryptolake::backfill
