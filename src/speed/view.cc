#include "speed/view.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>

#include "lake/view_store.h"
#include "speed/trade_candles.h"

namespace cryptolake::speed {

namespace {

// A closed candle of the view: as stored (lake::ViewRow), plus what only memory keeps.
struct Stored : lake::ViewRow {
  bool from_trades = false;  // rebuilt from trades (memory only; not persisted as such)
};

struct SymbolState {
  std::map<Micros, Stored> closed;  // by open_time
  std::optional<Candle> open;
  Micros open_event_time = 0;
  Micros max_closed = 0;  // newest closed open_time seen
  Micros watermark = 0;
};

Candle FromEvent(const KlineEvent& k) { return static_cast<const Candle&>(k); }

}  // namespace

struct RealtimeView::Impl {
  lake::Lake* lake = nullptr;
  ViewOptions opt;
  std::unique_ptr<lake::ViewStore> store;  // the view's file
  std::map<std::string, SymbolState> sym;
  // Guards `sym`: Apply/RefreshWatermark/AppendToLake write it (one consumer thread), readers
  // on other threads (the serving layer) take it shared.
  mutable std::shared_mutex mu;
  std::atomic<uint64_t> version{0};
  // Closed candles folded but not yet committed to the file (Fold -> Persist); map nodes are
  // stable, and RefreshWatermark only erases rows already in the lake, hence persisted.
  std::vector<const lake::ViewRow*> unpersisted;
  TradeCandles trades;  // minutes rebuilt from the trade stream (consumer thread only)

  Status Load() {
    ASSIGN_OR_RETURN(auto watermarks, store->Watermarks());
    for (const auto& [symbol, t] : watermarks) sym[symbol].watermark = t;
    ASSIGN_OR_RETURN(std::vector<lake::ViewRow> rows, store->LoadClosed());
    for (lake::ViewRow& row : rows) {
      Stored s;
      static_cast<lake::ViewRow&>(s) = std::move(row);
      auto& st = sym[s.candle.symbol];
      if (!s.late) st.max_closed = std::max(st.max_closed, s.candle.open_time);
      st.closed[s.candle.open_time] = std::move(s);
    }
    return Status::Ok();
  }
};

RealtimeView::RealtimeView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RealtimeView::~RealtimeView() = default;

StatusOr<std::unique_ptr<RealtimeView>> RealtimeView::Open(lake::Lake& lake,
                                                           const std::filesystem::path& file,
                                                           ViewOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->lake = &lake;
  impl->opt = options;
  ASSIGN_OR_RETURN(impl->store, lake::ViewStore::Open(file));
  RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<RealtimeView>(new RealtimeView(std::move(impl)));
}

StatusOr<ApplyStats> RealtimeView::Apply(const std::vector<Event>& events) {
  ASSIGN_OR_RETURN(ApplyStats st, Fold(events));
  RETURN_IF_ERROR(Persist());
  return st;
}

size_t RealtimeView::unpersisted() const { return impl_->unpersisted.size(); }

StatusOr<ApplyStats> RealtimeView::Fold(const std::vector<Event>& events) {
  ApplyStats st;
  std::vector<const lake::ViewRow*>& fresh = impl_->unpersisted;
  const size_t fresh_before = fresh.size();
  {
    std::unique_lock lock(impl_->mu);
    std::set<std::string> traded;
    // Where a closed kline and a complete trade candle both exist, they must agree.
    auto check = [&](const Candle& kline) {
      auto t = impl_->trades.Complete(kline.symbol, kline.open_time);
      if (!t) return;
      auto a = TradeCandles::Compare(*t, kline);
      if (a.agrees) {
        ++st.trade_agreements;
      } else {
        ++st.trade_disagreements;
        spdlog::warn("view: {} {} rebuilt from trades disagrees with the kline: {}", kline.symbol,
                     FormatMinute(kline.open_time), a.diff);
      }
    };
    for (const auto& e : events) {
      if (const auto* t = std::get_if<TradeEvent>(&e)) {
        ++st.trades;
        impl_->trades.Add(*t);
        traded.insert(t->symbol);
        continue;
      }
      const auto& k = std::get<KlineEvent>(e);
      if (k.interval != "1m") continue;
      SymbolState& s = impl_->sym[k.symbol];
      if (k.closed) {
        if (auto it = s.closed.find(k.open_time); it != s.closed.end()) {
          if (it->second.from_trades) check(FromEvent(k));
          ++st.duplicates;
          continue;
        }
        check(FromEvent(k));
        bool late = k.open_time < s.watermark || k.open_time + impl_->opt.lateness < s.max_closed;
        auto [it, fresh_key] = s.closed.emplace(k.open_time, Stored{{FromEvent(k), late, false}});
        fresh.push_back(&it->second);
        if (late) {
          ++st.late;
        } else {
          ++st.closed_new;
          s.max_closed = std::max(s.max_closed, k.open_time);
        }
        if (s.open && s.open->open_time <= k.open_time) s.open.reset();
      } else {
        const bool newer = !s.open || k.open_time > s.open->open_time ||
                           (k.open_time == s.open->open_time && k.event_time > s.open_event_time);
        if (!newer || s.closed.count(k.open_time) || k.open_time <= s.max_closed ||
            k.open_time < s.watermark) {
          ++st.stale_updates;
          continue;
        }
        s.open = FromEvent(k);
        s.open_event_time = k.event_time;
        ++st.open_updates;
      }
    }
    // A minute the kline stream skipped (a later one closed) is filled from trades when the
    // trades prove it whole; the kline, if it comes later (REST healing), is then a duplicate
    // that must agree.
    for (const auto& symbol : traded) {
      SymbolState& s = impl_->sym[symbol];
      if (s.max_closed == 0) continue;
      const Micros from = std::max(s.watermark, s.max_closed - impl_->opt.lateness);
      for (const TradeCandle& t : impl_->trades.CompleteBetween(symbol, from, s.max_closed)) {
        if (s.closed.count(t.open_time)) continue;
        auto [it, fresh_key] = s.closed.emplace(t.open_time, Stored{{t, false, false}, true});
        fresh.push_back(&it->second);
        ++st.from_trades;
        ++st.closed_new;
      }
      impl_->trades.DropBefore(symbol, from);
    }
    if (fresh.size() > fresh_before || st.open_updates > 0) impl_->version.fetch_add(1);
  }
  st.visible_at = impl_->lake->clock().Now();
  return st;
}

Status RealtimeView::Persist() {
  std::vector<const lake::ViewRow*>& fresh = impl_->unpersisted;
  if (fresh.empty()) return Status::Ok();  // open updates are memory only (see the header)
  // One transaction of the store. Only this thread writes `sym`, so reading `fresh` unlocked is
  // safe.
  if (Status s = impl_->store->CommitClosed(fresh); !s.ok()) {
    // Memory must not run ahead of the durable state: reload it.
    std::unique_lock lock(impl_->mu);
    fresh.clear();
    impl_->sym.clear();
    impl_->version.fetch_add(1);
    RETURN_IF_ERROR(impl_->Load());
    return s.WithContext("real-time view");
  }
  fresh.clear();
  return Status::Ok();
}

Status RealtimeView::RefreshWatermark() {
  RETURN_IF_ERROR(Persist());
  ASSIGN_OR_RETURN(lake::Snapshot snap, impl_->lake->GetSnapshot());
  ASSIGN_OR_RETURN(auto daily, impl_->store->DailyWatermarks(snap));
  std::map<std::string, Micros> moved;
  for (const auto& [symbol, w] : daily) {
    auto it = impl_->sym.find(symbol);
    if (it != impl_->sym.end() && w <= it->second.watermark) continue;
    moved[symbol] = w;
  }
  if (moved.empty()) return Status::Ok();
  // Rows the batch layer has passed leave the view once the master dataset holds them.
  if (Status s = impl_->store->SetWatermarks(moved); !s.ok()) {
    return s.WithContext("real-time view");
  }
  std::unique_lock lock(impl_->mu);
  for (const auto& [symbol, w] : moved) {
    SymbolState& s = impl_->sym[symbol];
    s.watermark = w;
    for (auto it = s.closed.begin(); it != s.closed.end() && it->first < w;) {
      it = it->second.in_lake ? s.closed.erase(it) : std::next(it);
    }
    if (s.open && s.open->open_time < w) s.open.reset();
  }
  impl_->version.fetch_add(1);
  return Status::Ok();
}

StatusOr<int64_t> RealtimeView::AppendToLake() {
  RETURN_IF_ERROR(Persist());
  // The key range per symbol of what is pending: the lake's rows there are what the duplicate
  // check reads.
  ASSIGN_OR_RETURN(std::vector<lake::ViewSpan> spans, impl_->store->NotInLakeSpans());
  if (spans.empty()) return int64_t{0};
  lake::Lake& lk = *impl_->lake;
  const Micros ingested_at = lk.clock().Now();
  int64_t n = 0;
  // Several consumer processes may append to one lake (a consumer group whose partitions moved
  // after a crash re-delivers what another member appended): the duplicate check and the commit
  // see the same lake, because each try declares the ranges it checked and a concurrent commit
  // touching them makes it run again on a fresh snapshot.
  auto attempt = [&](const lake::Snapshot& snap) -> StatusOr<lake::Transaction> {
    n = 0;
    ASSIGN_OR_RETURN(lake::Transaction txn, lk.Begin());
    auto staged = impl_->store->StageNotInLake(snap, txn, spans, ingested_at);
    if (!staged.ok()) {
      lk.Abandon(std::move(txn));
      return staged.status();
    }
    n = *staged;
    return txn;
  };
  ASSIGN_OR_RETURN(int64_t version, lk.CommitWithRetry(attempt));
  (void)version;
  // A crash here leaves rows marked "not in lake" that the lake holds: the next append skips
  // them (StageNotInLake) and marks them. Only the rows this append saw are marked: the
  // consumer thread is the only writer, so none came in between.
  RETURN_IF_ERROR(impl_->store->MarkAllInLake());
  std::unique_lock lock(impl_->mu);
  for (auto& [symbol, s] : impl_->sym) {
    for (auto& [t, row] : s.closed) row.in_lake = true;
  }
  return n;
}

Micros RealtimeView::Watermark(const std::string& symbol) const {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->sym.find(symbol);
  return it == impl_->sym.end() ? 0 : it->second.watermark;
}

Micros RealtimeView::LastClosed(const std::string& symbol) const {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->sym.find(symbol);
  if (it == impl_->sym.end() || it->second.closed.empty()) return 0;
  return it->second.closed.rbegin()->first;
}

ViewRead RealtimeView::Read(const std::string& symbol) const {
  std::shared_lock lock(impl_->mu);
  ViewRead out;
  out.version = impl_->version.load();
  auto it = impl_->sym.find(symbol);
  if (it == impl_->sym.end()) return out;
  const SymbolState& s = it->second;
  out.watermark = s.watermark;
  for (auto c = s.closed.lower_bound(s.watermark); c != s.closed.end(); ++c) {
    if (!c->second.late) out.closed.push_back(c->second.candle);
  }
  if (s.open && (out.closed.empty() || s.open->open_time > out.closed.back().open_time)) {
    out.open = s.open;
  }
  return out;
}

uint64_t RealtimeView::version() const { return impl_->version.load(); }

StatusOr<std::vector<Candle>> RealtimeView::ClosedCandles(const std::string& symbol) {
  return Read(symbol).closed;
}

StatusOr<std::optional<Candle>> RealtimeView::OpenCandle(const std::string& symbol) {
  return Read(symbol).open;
}

std::vector<DailyBar> DailyBarsOf(const std::vector<Candle>& closed,
                                  const std::optional<Candle>& open) {
  if (!open || (!closed.empty() && open->open_time <= closed.back().open_time)) {
    return model::DailyBarsOf(closed);
  }
  std::vector<Candle> all = closed;
  all.push_back(*open);
  return model::DailyBarsOf(all, /*open_last=*/true);
}

StatusOr<std::vector<DailyBar>> RealtimeView::DailyBars(const std::string& symbol) {
  ViewRead r = Read(symbol);
  return DailyBarsOf(r.closed, r.open);
}

StatusOr<int64_t> RealtimeView::late_rows() { return impl_->store->LateCount(); }

}  // namespace cryptolake::speed
