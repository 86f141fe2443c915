#include "backfill/healer.h"

#include <algorithm>

#include "backfill/backfill.h"  // and lake::Database, lake::Connection, which Backfill takes
#include "lake/speed_reads.h"

namespace cryptolake::backfill {

struct BackfillHealer::Duck {
  lake::Database db;
  lake::Connection con;
};

BackfillHealer::BackfillHealer(lake::Lake& lake, venue::KlineSource& rest)
    : lake_(lake), rest_(rest) {}

BackfillHealer::~BackfillHealer() = default;

StatusOr<std::vector<model::Kline>> BackfillHealer::Heal(const std::string& symbol, Micros from,
                                                         std::optional<Micros> to) {
  if (!duck_) {
    auto db = lake::Database::Open();
    if (!db.ok()) return db.status().WithContext("opening DuckDB");
    auto con = lake::Connection::Open(*db);
    if (!con.ok()) return con.status().WithContext("opening DuckDB");
    duck_ = std::make_unique<Duck>(Duck{std::move(*db), std::move(*con)});
  }
  const Interval k1m{"1m", kMicrosPerMinute};
  BackfillOptions bo;
  bo.symbols = {symbol};
  bo.intervals = {k1m};
  bo.from = from;
  bo.to = to;
  bo.progress = false;
  auto bs = Backfill(lake_, duck_->con, rest_, bo);
  if (!bs.ok()) return bs.status().WithContext("backfill");
  const Micros end = to ? std::min(*to, bs->exchange_time) : bs->exchange_time;
  auto snap = lake_.GetSnapshot();
  if (!snap.ok()) return snap.status().WithContext("reading the healed candles");
  auto candles = lake::ReadKlines(*snap, k1m, symbol, from, end, duck_->con);
  if (!candles.ok()) return candles.status().WithContext("reading the healed candles");
  return candles;
}

}  // namespace cryptolake::backfill
