#include "backfill/healer.h"

#include <fmt/format.h>

#include <algorithm>

#include "backfill/backfill.h"
#include "lake/typed.h"

namespace cryptolake::backfill {

struct BackfillHealer::Duck {
  lake::DatabasePtr db;
  lake::ConnectionPtr con;
};

BackfillHealer::BackfillHealer(lake::Lake& lake, venue::KlineSource& rest)
    : lake_(lake), rest_(rest) {}

BackfillHealer::~BackfillHealer() = default;

StatusOr<std::vector<model::Kline>> BackfillHealer::Heal(const std::string& symbol, Micros from,
                                                         std::optional<Micros> to) {
  if (!duck_) {
    auto db = lake::OpenDatabase();
    if (!db.ok()) return db.status().WithContext("opening DuckDB");
    auto con = lake::OpenConnection(**db);
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
  auto bs = Backfill(lake_, *duck_->con, rest_, bo);
  if (!bs.ok()) return bs.status().WithContext("backfill");
  const Micros end = to ? std::min(*to, bs->exchange_time) : bs->exchange_time;
  auto snap = lake_.GetSnapshot();
  if (!snap.ok()) return snap.status().WithContext("reading the healed candles");
  lake::KlineFilter f;
  f.symbol = symbol;
  f.from = from;
  f.to = end;
  lake::KlineRead read;
  read.derive_close_time = true;
  auto candles = lake::ReadKlines(*duck_->con, *snap, k1m, f, read);
  if (!candles.ok()) {
    return candles.status()
        .WithContext(fmt::format("klines of {} {} from {} to {}", symbol, k1m.name, FormatIso(from),
                                 FormatIso(end)))
        .WithContext("reading the healed candles");
  }
  return candles;
}

}  // namespace cryptolake::backfill
