#include "speed/view.h"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "lake/klines.h"

namespace cryptolake::speed {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

struct Stored {
  Candle c;
  bool late = false;
};

struct SymbolState {
  std::map<Micros, Stored> closed;  // by open_time
  std::optional<Candle> open;
  Micros open_event_time = 0;
  Micros max_closed = 0;  // newest closed open_time seen
  Micros watermark = 0;
};

// A SQL double literal that DuckDB reads back bit for bit: a numeric literal would go through
// DECIMAL and may round differently; a string cast to DOUBLE is parsed correctly rounded.
std::string D(double d) { return fmt::format("'{:.17g}'::DOUBLE", d); }

Candle FromEvent(const KlineEvent& k) {
  return {k.symbol,
          k.open_time,
          k.close_time,
          k.open,
          k.high,
          k.low,
          k.close,
          k.volume,
          k.quote_volume,
          k.taker_buy_base,
          k.taker_buy_quote,
          k.trades};
}

std::string Values(const Candle& c) {
  return fmt::format("{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}", lake::SqlQuote(c.symbol),
                     c.open_time, c.close_time, D(c.open), D(c.high), D(c.low), D(c.close),
                     D(c.volume), D(c.quote_volume), c.trades, D(c.taker_buy_base),
                     D(c.taker_buy_quote));
}

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
    ASSIGN_OR_RETURN(lake::Result c,
                     con->Query(fmt::format("SELECT {}, late FROM closed", kCandleColumns)));
    for (size_t i = 0; i < c.rows(); ++i) {
      Stored s{ReadCandle(c, i), c.GetInt64(12, i) != 0};
      auto& st = sym[s.c.symbol];
      if (!s.late) st.max_closed = std::max(st.max_closed, s.c.open_time);
      st.closed[s.c.open_time] = s;
    }
    ASSIGN_OR_RETURN(
        lake::Result o,
        con->Query(fmt::format("SELECT {}, event_time FROM open_candle", kCandleColumns)));
    for (size_t i = 0; i < o.rows(); ++i) {
      auto& st = sym[o.GetString(0, i)];
      st.open = ReadCandle(o, i);
      st.open_event_time = o.GetInt64(12, i);
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
      "open_time)); CREATE TABLE IF NOT EXISTS open_candle({}, event_time BIGINT, PRIMARY KEY "
      "(symbol)); CREATE TABLE IF NOT EXISTS watermark(symbol VARCHAR PRIMARY KEY, t BIGINT); "
      "CREATE TEMP TABLE pending_closed AS SELECT * FROM closed LIMIT 0",
      cols, cols)));
  RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<RealtimeView>(new RealtimeView(std::move(impl)));
}

StatusOr<ApplyStats> RealtimeView::Apply(const std::vector<Event>& events) {
  ApplyStats st;
  std::vector<const Stored*> fresh;
  std::map<std::string, bool> open_changed;
  for (const auto& e : events) {
    if (std::holds_alternative<TradeEvent>(e)) {
      ++st.trades;
      continue;
    }
    const auto& k = std::get<KlineEvent>(e);
    if (k.interval != "1m") continue;
    SymbolState& s = impl_->sym[k.symbol];
    if (k.closed) {
      if (s.closed.count(k.open_time)) {
        ++st.duplicates;
        continue;
      }
      bool late = k.open_time < s.watermark || k.open_time + impl_->opt.lateness < s.max_closed;
      auto [it, fresh_key] = s.closed.emplace(k.open_time, Stored{FromEvent(k), late});
      fresh.push_back(&it->second);
      if (late) {
        ++st.late;
      } else {
        ++st.closed_new;
        s.max_closed = std::max(s.max_closed, k.open_time);
      }
      if (s.open && s.open->open_time <= k.open_time) {
        s.open.reset();
        open_changed[k.symbol] = true;
      }
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
      open_changed[k.symbol] = true;
      ++st.open_updates;
    }
  }
  if (fresh.empty() && open_changed.empty()) return st;
  // New closed candles go in through DuckDB's appender (a temp table), then one transaction
  // moves them into `closed` together with the open-candle changes.
  if (!fresh.empty()) {
    Status s = impl_->AppendPending(fresh);
    if (!s.ok()) {
      impl_->sym.clear();
      RETURN_IF_ERROR(impl_->Load());
      return s.WithContext("real-time view");
    }
  }
  std::string sql = "BEGIN TRANSACTION;";
  if (!fresh.empty()) {
    sql +=
        "INSERT INTO closed SELECT * FROM pending_closed ON CONFLICT DO NOTHING; DELETE FROM "
        "pending_closed;";
  }
  for (const auto& [symbol, changed] : open_changed) {
    const SymbolState& s = impl_->sym[symbol];
    sql += fmt::format("DELETE FROM open_candle WHERE symbol = {};", lake::SqlQuote(symbol));
    if (s.open) {
      sql += fmt::format("INSERT INTO open_candle VALUES ({}, {});", Values(*s.open),
                         s.open_event_time);
    }
  }
  sql += "COMMIT;";
  Status s = impl_->con->Exec(sql);
  if (!s.ok()) {
    (void)impl_->con->Exec("ROLLBACK");
    // Memory must not run ahead of the durable state: reload it.
    impl_->sym.clear();
    RETURN_IF_ERROR(impl_->Load());
    return s.WithContext("real-time view");
  }
  return st;
}

Status RealtimeView::RefreshWatermark() {
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
  std::string sql = "BEGIN TRANSACTION;";
  for (size_t i = 0; i < r.rows(); ++i) {
    std::string symbol = r.GetString(0, i);
    Micros w = r.GetInt64(1, i);
    SymbolState& s = impl_->sym[symbol];
    if (w <= s.watermark) continue;
    s.watermark = w;
    // Rows the batch layer has passed leave the view once the master dataset holds them.
    sql += fmt::format(
        "INSERT OR REPLACE INTO watermark VALUES ({0}, {1}); DELETE FROM closed WHERE symbol = {0} "
        "AND open_time < {1} AND in_lake; DELETE FROM open_candle WHERE symbol = {0} AND "
        "open_time < {1};",
        lake::SqlQuote(symbol), w);
  }
  sql += "COMMIT;";
  RETURN_IF_ERROR(impl_->con->Exec(sql));
  impl_->sym.clear();
  return impl_->Load();
}

StatusOr<int64_t> RealtimeView::AppendToLake() {
  ASSIGN_OR_RETURN(int64_t pending,
                   impl_->con->QueryInt64("SELECT count(*) FROM closed WHERE NOT in_lake"));
  if (pending == 0) return int64_t{0};
  lake::Lake& lk = *impl_->lake;
  ASSIGN_OR_RETURN(lake::Snapshot snap, lk.GetSnapshot());
  ASSIGN_OR_RETURN(lake::Transaction txn, lk.Begin());
  std::string rows = fmt::format(
      "(SELECT c.symbol, make_timestamp(c.open_time)::TIMESTAMPTZ AS open_time, c.open, c.high, "
      "c.low, c.close, c.volume, make_timestamp(c.close_time)::TIMESTAMPTZ AS close_time, "
      "c.quote_volume, c.trades, c.taker_buy_base, c.taker_buy_quote, 'stream' AS source, "
      "make_timestamp({}::BIGINT)::TIMESTAMPTZ AS ingested_at FROM closed c "
      "WHERE NOT c.in_lake AND NOT EXISTS (SELECT 1 FROM {} k WHERE k.symbol = c.symbol AND "
      "epoch_us(k.open_time) = c.open_time))",
      lk.clock().Now(), lake::KlinesSql(snap, k1m, {}, /*dedup=*/false));
  auto staged = lake::StagePartitioned(*impl_->con, txn, lake::WithKlinePartitions(k1m, rows),
                                       lake::KlinesStageSpec(k1m, lake::Source::kStream));
  if (!staged.ok()) {
    lk.Abandon(std::move(txn));
    return staged.status();
  }
  int64_t n = 0;
  for (const auto& f : *staged) n += f.rows;
  ASSIGN_OR_RETURN(int64_t version, lk.Commit(std::move(txn)));
  (void)version;
  // A crash here leaves rows marked "not in lake" that the lake holds: the next append skips
  // them (NOT EXISTS above) and marks them.
  RETURN_IF_ERROR(impl_->con->Exec("UPDATE closed SET in_lake = true WHERE NOT in_lake"));
  return n;
}

Micros RealtimeView::Watermark(const std::string& symbol) const {
  auto it = impl_->sym.find(symbol);
  return it == impl_->sym.end() ? 0 : it->second.watermark;
}

Micros RealtimeView::LastClosed(const std::string& symbol) const {
  auto it = impl_->sym.find(symbol);
  if (it == impl_->sym.end() || it->second.closed.empty()) return 0;
  return it->second.closed.rbegin()->first;
}

StatusOr<std::vector<Candle>> RealtimeView::ClosedCandles(const std::string& symbol) {
  std::vector<Candle> out;
  auto it = impl_->sym.find(symbol);
  if (it == impl_->sym.end()) return out;
  for (const auto& [t, s] : it->second.closed) {
    if (!s.late && t >= it->second.watermark) out.push_back(s.c);
  }
  return out;
}

StatusOr<std::optional<Candle>> RealtimeView::OpenCandle(const std::string& symbol) {
  auto it = impl_->sym.find(symbol);
  if (it == impl_->sym.end()) return std::optional<Candle>();
  return it->second.open;
}

StatusOr<std::vector<DailyBar>> RealtimeView::DailyBars(const std::string& symbol) {
  ASSIGN_OR_RETURN(std::vector<Candle> closed, ClosedCandles(symbol));
  ASSIGN_OR_RETURN(std::optional<Candle> open, OpenCandle(symbol));
  std::vector<DailyBar> out;
  auto add = [&](const Candle& c, bool is_closed) {
    Micros day = DayFloor(c.open_time);
    if (out.empty() || out.back().day != day) {
      out.push_back({symbol, day, c.open, c.high, c.low, c.close, 0, 0});
    }
    DailyBar& b = out.back();
    b.high = std::max(b.high, c.high);
    b.low = std::min(b.low, c.low);
    b.close = c.close;
    b.volume += c.volume;
    b.minutes += is_closed;
  };
  for (const auto& c : closed) add(c, true);
  if (open && (closed.empty() || open->open_time > closed.back().open_time)) add(*open, false);
  return out;
}

StatusOr<int64_t> RealtimeView::late_rows() {
  return impl_->con->QueryInt64("SELECT count(*) FROM closed WHERE late");
}

}  // namespace cryptolake::speed
