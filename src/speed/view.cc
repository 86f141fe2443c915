#include "speed/view.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>

#include "lake/klines.h"
#include "speed/trade_candles.h"

namespace cryptolake::speed {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

struct Stored {
  Candle c;
  bool late = false;
  bool in_lake = false;
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

constexpr const char* kCandleColumns =
    "symbol, open_time, close_time, open, high, low, close, volume, quote_volume, trades, "
    "taker_buy_base, taker_buy_quote";

Candle ReadCandle(const lake::Result& r, size_t i) {
  Candle c;
  c.symbol = r.GetString(0, i);
  c.open_time = r.GetInt64(1, i);
  c.close_time = r.GetInt64(2, i);
  c.open = r.GetDouble(3, i);
  c.high = r.GetDouble(4, i);
  c.low = r.GetDouble(5, i);
  c.close = r.GetDouble(6, i);
  c.volume = r.GetDouble(7, i);
  c.quote_volume = r.GetDouble(8, i);
  c.trades = r.GetInt64(9, i);
  c.taker_buy_base = r.GetDouble(10, i);
  c.taker_buy_quote = r.GetDouble(11, i);
  return c;
}

}  // namespace

struct RealtimeView::Impl {
  lake::Lake* lake = nullptr;
  ViewOptions opt;
  std::unique_ptr<lake::Database> db;
  std::unique_ptr<lake::Connection> con;
  std::map<std::string, SymbolState> sym;
  // Guards `sym`: Apply/RefreshWatermark/AppendToLake write it (one consumer thread), readers
  // on other threads (the serving layer) take it shared.
  mutable std::shared_mutex mu;
  std::atomic<uint64_t> version{0};
  // Closed candles folded but not yet committed to the file (Fold -> Persist); map nodes are
  // stable, and RefreshWatermark only erases rows already in the lake, hence persisted.
  std::vector<const Stored*> unpersisted;
  TradeCandles trades;  // minutes rebuilt from the trade stream (consumer thread only)

  // Appends `rows` to the temp table pending_closed.
  Status AppendPending(const std::vector<const Stored*>& rows) {
    ASSIGN_OR_RETURN(lake::Appender app, lake::Appender::Open(*con, "pending_closed"));
    const std::vector<duckdb_type> types = {
        DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_DOUBLE,
        DUCKDB_TYPE_DOUBLE,  DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE,
        DUCKDB_TYPE_DOUBLE,  DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_DOUBLE, DUCKDB_TYPE_DOUBLE,
        DUCKDB_TYPE_BOOLEAN, DUCKDB_TYPE_BOOLEAN};
    const size_t cap = lake::DataChunk::Capacity();
    for (size_t base = 0; base < rows.size(); base += cap) {
      lake::DataChunk chunk(types);
      const size_t n = std::min(cap, rows.size() - base);
      for (size_t j = 0; j < n; ++j) {
        const Stored& r = *rows[base + j];
        const Candle& c = r.c;
        chunk.SetString(0, j, c.symbol);
        chunk.Column<int64_t>(1)[j] = c.open_time;
        chunk.Column<int64_t>(2)[j] = c.close_time;
        chunk.Column<double>(3)[j] = c.open;
        chunk.Column<double>(4)[j] = c.high;
        chunk.Column<double>(5)[j] = c.low;
        chunk.Column<double>(6)[j] = c.close;
        chunk.Column<double>(7)[j] = c.volume;
        chunk.Column<double>(8)[j] = c.quote_volume;
        chunk.Column<int64_t>(9)[j] = c.trades;
        chunk.Column<double>(10)[j] = c.taker_buy_base;
        chunk.Column<double>(11)[j] = c.taker_buy_quote;
        chunk.Column<bool>(12)[j] = r.late;
        chunk.Column<bool>(13)[j] = false;
      }
      chunk.SetSize(n);
      RETURN_IF_ERROR(app.Append(chunk));
    }
    return app.Close();
  }

  Status Load() {
    ASSIGN_OR_RETURN(lake::Result w, con->Query("SELECT symbol, t FROM watermark"));
    for (size_t i = 0; i < w.rows(); ++i) sym[w.GetString(0, i)].watermark = w.GetInt64(1, i);
    ASSIGN_OR_RETURN(lake::Result c, con->Query(fmt::format("SELECT {}, late, in_lake FROM closed",
                                                            kCandleColumns)));
    for (size_t i = 0; i < c.rows(); ++i) {
      Stored s{ReadCandle(c, i), c.GetInt64(12, i) != 0, c.GetInt64(13, i) != 0};
      auto& st = sym[s.c.symbol];
      if (!s.late) st.max_closed = std::max(st.max_closed, s.c.open_time);
      st.closed[s.c.open_time] = s;
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
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  ASSIGN_OR_RETURN(lake::Database db, lake::Database::Open(file.string(), 1));
  impl->db = std::make_unique<lake::Database>(std::move(db));
  ASSIGN_OR_RETURN(lake::Connection con, lake::Connection::Open(*impl->db));
  impl->con = std::make_unique<lake::Connection>(std::move(con));
  const char* cols =
      "symbol VARCHAR, open_time BIGINT, close_time BIGINT, open DOUBLE, high DOUBLE, low DOUBLE, "
      "close DOUBLE, volume DOUBLE, quote_volume DOUBLE, trades BIGINT, taker_buy_base DOUBLE, "
      "taker_buy_quote DOUBLE";
  RETURN_IF_ERROR(impl->con->Exec(fmt::format(
      "CREATE TABLE IF NOT EXISTS closed({}, late BOOLEAN, in_lake BOOLEAN, PRIMARY KEY (symbol, "
      "open_time)); CREATE TABLE IF NOT EXISTS watermark(symbol VARCHAR PRIMARY KEY, t BIGINT); "
      "CREATE TEMP TABLE pending_closed AS SELECT * FROM closed LIMIT 0",
      cols)));
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
  std::vector<const Stored*>& fresh = impl_->unpersisted;
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
        auto [it, fresh_key] = s.closed.emplace(k.open_time, Stored{FromEvent(k), late, false});
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
        auto [it, fresh_key] = s.closed.emplace(t.open_time, Stored{t, false, false, true});
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
  std::vector<const Stored*>& fresh = impl_->unpersisted;
  if (fresh.empty()) return Status::Ok();  // open updates are memory only (see the header)
  // New closed candles go in through DuckDB's appender (a temp table), then one transaction
  // moves them into `closed`. Only this thread writes `sym`, so reading `fresh` unlocked is safe.
  Status s = impl_->AppendPending(fresh);
  if (s.ok()) {
    s = impl_->con->Exec(
        "BEGIN TRANSACTION; INSERT INTO closed SELECT * FROM pending_closed ON CONFLICT DO "
        "NOTHING; DELETE FROM pending_closed; COMMIT;");
    if (!s.ok())
      IgnoreError(impl_->con->Exec("ROLLBACK"), "the failed transaction's error is returned");
  }
  if (!s.ok()) {
    // Memory must not run ahead of the durable state: reload it.
    IgnoreError(impl_->con->Exec("DELETE FROM pending_closed"),
                "the first error is returned; the next Persist deletes what is left");
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
  auto files = snap.Files("daily_raw");
  if (files.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(
      lake::Result r,
      impl_->con->Query(fmt::format(
          "SELECT symbol, max(epoch_us(day)) + {} FROM {} WHERE minutes_present = 1440 GROUP BY "
          "symbol",
          kMicrosPerDay,
          snap.ScanSql(files,
                       "SELECT NULL::VARCHAR AS symbol, NULL::DATE AS day, "
                       "NULL::BIGINT AS minutes_present LIMIT 0"))));
  std::map<std::string, Micros> moved;
  for (size_t i = 0; i < r.rows(); ++i) {
    std::string symbol = r.GetString(0, i);
    Micros w = r.GetInt64(1, i);
    auto it = impl_->sym.find(symbol);
    if (it != impl_->sym.end() && w <= it->second.watermark) continue;
    moved[symbol] = w;
  }
  if (moved.empty()) return Status::Ok();
  std::string sql = "BEGIN TRANSACTION;";
  for (const auto& [symbol, w] : moved) {
    // Rows the batch layer has passed leave the view once the master dataset holds them.
    sql += fmt::format(
        "INSERT OR REPLACE INTO watermark VALUES ({0}, {1}); DELETE FROM closed WHERE symbol = {0} "
        "AND open_time < {1} AND in_lake;",
        lake::SqlQuote(symbol), w);
  }
  sql += "COMMIT;";
  if (Status s = impl_->con->Exec(sql); !s.ok()) {
    IgnoreError(impl_->con->Exec("ROLLBACK"), "the failed transaction's error is returned");
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
  ASSIGN_OR_RETURN(lake::Result span,
                   impl_->con->Query("SELECT symbol, min(open_time), max(open_time) FROM closed "
                                     "WHERE NOT in_lake GROUP BY 1 ORDER BY 1"));
  if (span.rows() == 0) return int64_t{0};
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
    std::string existing;
    for (size_t i = 0; i < span.rows(); ++i) {
      lake::KlineFilter f;
      f.symbol = span.GetString(0, i);
      f.from = span.GetInt64(1, i);
      f.to = span.GetInt64(2, i) + 1;
      txn.DependsOn(snap, lake::KlinesDataset(k1m), *f.symbol, *f.from, span.GetInt64(2, i));
      bool overlaps = false;
      for (auto* file : snap.Files(lake::KlinesDataset(k1m), *f.symbol)) {
        overlaps = overlaps || (file->max_time >= *f.from && file->min_time < *f.to);
      }
      if (!overlaps) continue;
      existing += fmt::format("{}SELECT symbol, epoch_us(open_time) AS t FROM {}",
                              existing.empty() ? "" : " UNION ALL ",
                              lake::KlinesSql(snap, k1m, f, /*dedup=*/false));
    }
    std::string rows = fmt::format(
        "(SELECT c.symbol, make_timestamp(c.open_time)::TIMESTAMPTZ AS open_time, c.open, c.high, "
        "c.low, c.close, c.volume, make_timestamp(c.close_time)::TIMESTAMPTZ AS close_time, "
        "c.quote_volume, c.trades, c.taker_buy_base, c.taker_buy_quote, 'stream' AS source, "
        "make_timestamp({}::BIGINT)::TIMESTAMPTZ AS ingested_at FROM closed c WHERE NOT "
        "c.in_lake{})",
        ingested_at,
        existing.empty() ? ""
                         : fmt::format(" AND NOT EXISTS (SELECT 1 FROM ({}) k WHERE k.symbol = "
                                       "c.symbol AND k.t = c.open_time)",
                                       existing));
    auto staged = lake::StagePartitioned(*impl_->con, txn, lake::WithKlinePartitions(k1m, rows),
                                         lake::KlinesStageSpec(k1m, lake::Source::kStream));
    if (!staged.ok()) {
      lk.Abandon(std::move(txn));
      return staged.status();
    }
    for (const auto& f : *staged) n += f.rows;
    return txn;
  };
  ASSIGN_OR_RETURN(int64_t version, lk.CommitWithRetry(attempt));
  (void)version;
  // A crash here leaves rows marked "not in lake" that the lake holds: the next append skips
  // them (NOT EXISTS above) and marks them. Only the rows this append saw are marked: the
  // consumer thread is the only writer, so none came in between.
  RETURN_IF_ERROR(impl_->con->Exec("UPDATE closed SET in_lake = true WHERE NOT in_lake"));
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
    if (!c->second.late) out.closed.push_back(c->second.c);
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

StatusOr<int64_t> RealtimeView::late_rows() {
  return impl_->con->QueryInt64("SELECT count(*) FROM closed WHERE late");
}

}  // namespace cryptolake::speed
