#include "serve/merged.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "batch/reads.h"
#include "batch/views.h"
#include "core/priority.h"
#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::serve {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

// What one lake version gives: per symbol the watermark, the batch rows and the 1m candles at
// or after the watermark.
struct BatchPart {
  int64_t version = -1;
  std::optional<lake::Snapshot> snapshot;  // of `version`
  struct Sym {
    Micros watermark = 0;
    std::vector<DailyRow> daily;
    std::vector<speed::Candle> m1;
  };
  std::map<std::string, Sym> sym;
};

}  // namespace

std::vector<DailyRow> MergeDaily(const std::vector<DailyRow>& batch, Micros watermark,
                                 const std::vector<speed::Candle>& m1, bool m1_open_last) {
  std::vector<DailyRow> out;
  out.reserve(batch.size() + 8);
  for (const auto& r : batch) {
    if (r.day < watermark) out.push_back(r);
  }
  const size_t seam = out.size();
  // Speed days: daily bars (the model's rule) of the 1m candles at or after the watermark.
  auto first = std::lower_bound(m1.begin(), m1.end(), watermark,
                                [](const speed::Candle& c, Micros t) { return c.open_time < t; });
  std::map<Micros, DailyRow> days_after;
  for (DailyRow& d : model::DailyBarsOf(std::span(first, m1.end()), m1_open_last)) {
    d.speed = true;
    days_after.emplace(d.day, d);
  }
  // Batch rows at or after the watermark whose day the speed layer has no candle of.
  for (const auto& r : batch) {
    if (r.day >= watermark && !r.filled && !days_after.count(r.day)) {
      DailyRow b = r;
      b.partial = true;
      days_after.emplace(r.day, b);
    }
  }
  for (auto& [day, d] : days_after) out.push_back(std::move(d));
  out = model::ForwardFill(std::move(out));
  for (size_t i = seam; i < out.size(); ++i) {
    if (out[i].filled) out[i].speed = true;  // filled across or after the seam
  }
  // ma7 / ma30 for every row from the watermark on, over the merged series.
  model::MovingAverages(out, seam);
  if (!out.empty() && out.back().day >= watermark && !out.back().filled &&
      out.back().minutes < 1440) {
    out.back().partial = true;
  }
  return out;
}

std::vector<KlineRow> AggregateKlines(const std::vector<speed::Candle>& m1, bool m1_open_last,
                                      const Interval& interval) {
  std::vector<KlineRow> out;
  std::vector<int64_t> counts;
  for (size_t i = 0; i < m1.size(); ++i) {
    const speed::Candle& c = m1[i];
    const bool open = m1_open_last && i + 1 == m1.size();
    Micros bucket = c.open_time - c.open_time % interval.micros;
    if (out.empty() || out.back().open_time != bucket) {
      out.push_back(KlineRow::Of(bucket, c.open, c.high, c.low, c.close, 0, true, false));
      counts.push_back(0);
    }
    KlineRow& k = out.back();
    k.high = std::max(k.high, c.high);
    k.low = std::min(k.low, c.low);
    k.close = c.close;
    k.volume += c.volume;
    if (open) {
      k.partial = true;
    } else {
      ++counts.back();
    }
  }
  const int64_t full = interval.micros / kMicrosPerMinute;
  for (size_t i = 0; i < out.size(); ++i) {
    if (counts[i] < full) out[i].partial = true;
  }
  return out;
}

struct Merged::Impl {
  lake::Lake* lake = nullptr;
  const speed::RealtimeView* view = nullptr;
  MergedOptions opt;
  lake::DatabasePtr db;

  std::mutex pool_mu;
  std::vector<lake::ConnectionPtr> pool;

  std::mutex build_mu;  // one builder at a time; guards batch, stamp, prepare
  PrepareFn prepare;
  BatchPart batch;
  std::string stamp;  // lake->ManifestStamp() when `batch` was checked
  std::atomic<Micros> last_check{0};
  std::atomic<bool> invalid{true};

  std::mutex state_mu;  // guards state (the pointer, not the state)
  std::shared_ptr<const MergedState> state;

  // The background builder: Current() wakes it when the state may be stale. Readers never wait
  // on the builder's work (a builder preempted while holding a lock readers need would stall
  // every io thread behind it): they take state_mu only to copy the pointer, the builder only to
  // swap it, and the wake-up is an atomic flag, set and notified by the first reader that finds
  // the state stale.
  std::atomic<bool> wake{false}, stopping{false};
  std::thread builder;

  void Wake() {
    if (!wake.load(std::memory_order_relaxed) && !wake.exchange(true)) wake.notify_one();
  }

  StatusOr<lake::ConnectionPtr> Borrow() {
    {
      std::lock_guard lock(pool_mu);
      if (!pool.empty()) {
        auto c = std::move(pool.back());
        pool.pop_back();
        return c;
      }
    }
    return lake::OpenConnection(*db);
  }
  void Return(lake::ConnectionPtr c) {
    std::lock_guard lock(pool_mu);
    pool.push_back(std::move(c));
  }

  Status LoadBatch(const lake::Snapshot& snap) {
    ASSIGN_OR_RETURN(auto con, Borrow());
    BatchPart b;
    b.version = snap.version();
    b.snapshot = snap;
    ASSIGN_OR_RETURN(auto ends, batch::CompleteDaysEnd(*con, snap));
    for (const auto& [sym, w] : ends) b.sym[sym].watermark = w;
    ASSIGN_OR_RETURN(auto daily, batch::ReadDailyFilled(*con, snap));
    for (auto& [sym, d] : daily) b.sym[sym].daily = std::move(d);
    std::set<std::string> symbols(opt.symbols.begin(), opt.symbols.end());
    for (const auto& s : snap.Symbols(lake::KlinesDataset(k1m))) symbols.insert(s);
    for (const auto& s : symbols) {
      BatchPart::Sym& bs = b.sym[s];
      lake::KlineFilter f;
      f.symbol = s;
      f.from = bs.watermark;
      lake::KlineRead read;
      read.ohlcv_only = true;
      ASSIGN_OR_RETURN(bs.m1, lake::ReadKlines(*con, snap, k1m, f, read));
      for (speed::Candle& c : bs.m1) c.close_time = c.open_time + kMicrosPerMinute - 1000;
    }
    Return(std::move(con));
    batch = std::move(b);
    return Status::Ok();
  }

  // Called with build_mu held. Reads the manifest only when its stamp changed.
  Status CheckLake(bool force) {
    const Micros now = lake->clock().Now();
    if (!force && !invalid.load() && batch.version >= 0 &&
        now - last_check.load() < opt.recheck_every) {
      return Status::Ok();
    }
    invalid = false;
    last_check = now;
    std::string st = lake->ManifestStamp();
    if (!force && batch.version >= 0 && st == stamp) return Status::Ok();
    ASSIGN_OR_RETURN(lake::Snapshot snap, lake->GetSnapshot());
    stamp = std::move(st);
    if (snap.version() == batch.version) return Status::Ok();
    return LoadBatch(snap);
  }
};

Merged::Merged(lake::Lake& lake, const speed::RealtimeView* view, MergedOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->lake = &lake;
  impl_->view = view;
  impl_->opt = std::move(options);
  // The rebuilds are background work (readers keep the last state meanwhile): the builder and
  // DuckDB's worker thread, which inherits the priority of the thread that opens the database,
  // run at Priority::kBackground.
  std::thread([this] {
    if (Status s = SetThreadPriority(Priority::kBackground); !s.ok()) {
      spdlog::warn("merged view: {}", s.message());
    }
    auto db = lake::OpenDatabase(":memory:", 2);
    if (db.ok()) impl_->db = std::move(*db);
  }).join();
  impl_->builder = std::thread([this] {
    IgnoreError(SetThreadPriority(Priority::kBackground),
                "the builder runs at normal priority; as above");
    Impl& m = *impl_;
    for (;;) {
      m.wake.wait(false);
      m.wake = false;  // a wake-up from here on runs the loop again
      if (m.stopping) return;
      if (auto st = Fresh(); !st.ok()) {
        spdlog::warn("merged view: rebuild failed (serving the previous state): {}",
                     st.status().message());
      }
    }
  });
}

Merged::~Merged() {
  {
    impl_->stopping = true;
    impl_->wake = true;
    impl_->wake.notify_one();
  }
  if (impl_->builder.joinable()) impl_->builder.join();
}

void Merged::Invalidate() {
  impl_->invalid = true;
  impl_->Wake();
}

StatusOr<std::shared_ptr<const MergedState>> Merged::Current() {
  Impl& m = *impl_;
  std::shared_ptr<const MergedState> s;
  {
    std::lock_guard lock(m.state_mu);
    s = m.state;
  }
  if (!s) return Fresh();  // the very first state is built by its reader
  const uint64_t view_version = m.view ? m.view->version() : 0;
  const Micros now = m.lake->clock().Now();
  if (m.invalid.load() || s->view_version != view_version ||
      now - m.last_check.load() >= m.opt.recheck_every) {
    // Rebuilt in the background: this reader (an io thread) goes on with the state it has.
    m.Wake();
  }
  return s;
}

StatusOr<std::shared_ptr<const MergedState>> Merged::Fresh() {
  Impl& m = *impl_;
  if (!m.db) return Internal("merged view: cannot open DuckDB");
  const uint64_t view_version = m.view ? m.view->version() : 0;
  std::shared_ptr<const MergedState> s;
  std::lock_guard build(m.build_mu);
  RETURN_IF_ERROR(m.CheckLake(false));
  {
    std::lock_guard lock(m.state_mu);
    s = m.state;
  }
  if (s && s->lake_version == m.batch.version && s->view_version == view_version) {
    return s;  // nothing changed: keep the state (and the bodies cached for it)
  }
  // The view is read before the lake is looked at again: a view that has passed our watermark
  // dropped rows that a newer lake version holds, so that version is read first.
  std::map<std::string, speed::ViewRead> reads;
  std::set<std::string> symbols(m.opt.symbols.begin(), m.opt.symbols.end());
  for (const auto& [sym, part] : m.batch.sym) symbols.insert(sym);
  bool stale = false;
  if (m.view) {
    for (const auto& sym : symbols) {
      speed::ViewRead r = m.view->Read(sym);
      auto it = m.batch.sym.find(sym);
      if (r.watermark > (it == m.batch.sym.end() ? 0 : it->second.watermark)) stale = true;
      reads[sym] = std::move(r);
    }
  }
  if (stale) RETURN_IF_ERROR(m.CheckLake(true));
  auto st = std::make_shared<MergedState>();
  st->lake_version = m.batch.version;
  st->snapshot = m.batch.snapshot;
  st->view_version = view_version;
  for (const auto& sym : symbols) {
    auto series = std::make_shared<SymbolSeries>();
    series->symbol = sym;
    const BatchPart::Sym* bp = nullptr;
    if (auto it = m.batch.sym.find(sym); it != m.batch.sym.end()) bp = &it->second;
    series->watermark = bp ? bp->watermark : 0;
    const Micros w = series->watermark;
    // Speed 1m candles: the lake's (at or after W) merged with the view's (lake wins).
    std::vector<speed::Candle> m1 = bp ? bp->m1 : std::vector<speed::Candle>{};
    bool open_last = false;
    if (auto it = reads.find(sym); it != reads.end()) {
      const speed::ViewRead& r = it->second;
      std::vector<speed::Candle> merged;
      merged.reserve(m1.size() + r.closed.size() + 1);
      size_t i = 0, j = 0;
      while (i < m1.size() || j < r.closed.size()) {
        if (j < r.closed.size() && r.closed[j].open_time < w) {
          ++j;
        } else if (j == r.closed.size() ||
                   (i < m1.size() && m1[i].open_time <= r.closed[j].open_time)) {
          if (j < r.closed.size() && m1[i].open_time == r.closed[j].open_time) ++j;
          merged.push_back(m1[i++]);
        } else {
          merged.push_back(r.closed[j++]);
        }
      }
      if (r.open && r.open->open_time >= w &&
          (merged.empty() || r.open->open_time > merged.back().open_time)) {
        merged.push_back(*r.open);
        open_last = true;
      }
      m1 = std::move(merged);
    }
    series->daily = MergeDaily(bp ? bp->daily : std::vector<DailyRow>{}, w, m1, open_last);
    series->m1 = std::move(m1);
    series->m1_open_last = open_last;
    st->symbols[sym] = std::move(series);
  }
  std::shared_ptr<const MergedState> out = std::move(st);
  if (m.prepare) m.prepare(out);
  std::shared_ptr<const MergedState> old;  // freed after the lock, never under it
  {
    std::lock_guard lock(m.state_mu);
    old = std::exchange(m.state, out);
  }
  return out;
}

void Merged::SetPrepare(PrepareFn prepare) {
  Impl& m = *impl_;
  std::lock_guard build(m.build_mu);
  m.prepare = std::move(prepare);
  std::shared_ptr<const MergedState> s;
  {
    std::lock_guard lock(m.state_mu);
    s = m.state;
  }
  if (s && m.prepare) m.prepare(s);
}

StatusOr<std::vector<KlineRow>> Merged::Klines(const std::string& symbol, const Interval& interval,
                                               std::optional<Micros> from, std::optional<Micros> to,
                                               int64_t limit) {
  ASSIGN_OR_RETURN(std::shared_ptr<const MergedState> st, Current());
  const SymbolSeries* series = st->Find(symbol);
  if (!series) return NotFound("unknown symbol {}", symbol);
  if (!st->snapshot) return Internal("merged view: the state has no lake snapshot");
  const lake::Snapshot& snap = *st->snapshot;
  const bool lake_has = !snap.Files(lake::KlinesDataset(interval), symbol).empty();
  lake::ConnectionPtr con;
  std::optional<Micros> last_batch;  // the lake's newest row of this interval
  if (lake_has) {
    ASSIGN_OR_RETURN(con, impl_->Borrow());
    auto last = lake::LastOpenTimes(snap, interval);
    if (auto it = last.find(symbol); it != last.end()) last_batch = it->second;
  }
  // The lake's rows in [lo, hi), the `n` oldest (or newest), in time order.
  auto lake_rows = [&](std::optional<Micros> lo, std::optional<Micros> hi, bool newest,
                       int64_t n) -> StatusOr<std::vector<KlineRow>> {
    lake::KlineFilter f;
    f.symbol = symbol;
    f.from = lo;
    f.to = hi;
    lake::KlineRead read;
    read.limit = n;
    read.newest = newest;
    read.ohlcv_only = true;
    ASSIGN_OR_RETURN(std::vector<model::Kline> ks, lake::ReadKlines(*con, snap, interval, f, read));
    std::vector<KlineRow> rows;
    rows.reserve(ks.size());
    for (const model::Kline& k : ks) {
      rows.push_back(
          KlineRow::Of(k.open_time, k.open, k.high, k.low, k.close, k.volume, false, false));
    }
    return rows;
  };
  // The speed candles after the lake's rows, in the range.
  std::vector<KlineRow> speed;
  for (const KlineRow& k : AggregateKlines(series->m1, series->m1_open_last, interval)) {
    if ((last_batch && k.open_time <= *last_batch) || (from && k.open_time < *from) ||
        (to && k.open_time >= *to)) {
      continue;
    }
    speed.push_back(k);
  }
  std::vector<KlineRow> out;
  if (from) {
    // The oldest `limit` from `from` on: the lake's rows, then the speed candles after them.
    if (last_batch) {
      ASSIGN_OR_RETURN(out, lake_rows(from, to, false, limit));
    }
    for (const KlineRow& k : speed) {
      if (static_cast<int64_t>(out.size()) >= limit) break;
      out.push_back(k);
    }
  } else {
    // The newest `limit` before `to`: the last speed candles, after the lake's newest rows.
    const size_t take = std::min(speed.size(), static_cast<size_t>(limit));
    const int64_t need = limit - static_cast<int64_t>(take);
    if (need > 0 && last_batch) {
      const Micros hi =
          to ? std::min(*to, *last_batch + interval.micros) : *last_batch + interval.micros;
      // First where `need` candles without a gap would be (a scan of the files of that span
      // only); the whole lake before `hi` only when that span has fewer.
      ASSIGN_OR_RETURN(out, lake_rows(hi - need * interval.micros, hi, true, need));
      if (static_cast<int64_t>(out.size()) < need) {
        ASSIGN_OR_RETURN(out, lake_rows(std::nullopt, hi, true, need));
      }
    }
    out.insert(out.end(), speed.end() - static_cast<std::ptrdiff_t>(take), speed.end());
  }
  if (con) impl_->Return(std::move(con));
  return out;
}

}  // namespace cryptolake::serve
