#include "lake/speed_reads.h"

#include <fmt/format.h>

#include <algorithm>

#include "lake/klines.h"

namespace cryptolake::lake {

std::map<std::string, Micros> LastOpenTimes(const Snapshot& snap, const Interval& interval) {
  std::map<std::string, Micros> out;
  for (const FileEntry* f : snap.Files(KlinesDataset(interval))) {
    auto [it, added] = out.emplace(f->symbol, f->max_time);
    if (!added) it->second = std::max(it->second, f->max_time);
  }
  return out;
}

StatusOr<std::vector<model::Kline>> ReadKlines(const Snapshot& snap, const Interval& interval,
                                               const std::string& symbol, Micros from, Micros to,
                                               Connection& con) {
  KlineFilter f;
  f.symbol = symbol;
  f.from = from;
  f.to = to;
  auto r = con.Query(fmt::format(
      "SELECT epoch_us(open_time), coalesce(epoch_us(close_time), epoch_us(open_time) + {}), "
      "open, high, low, close, volume, coalesce(quote_volume, 0), coalesce(trades, 0), "
      "coalesce(taker_buy_base, 0), coalesce(taker_buy_quote, 0) FROM {} ORDER BY 1",
      interval.micros - 1000, KlinesSql(snap, interval, f)));
  if (!r.ok()) {
    return r.status().WithContext(fmt::format("klines of {} {} from {} to {}", symbol,
                                              interval.name, FormatIso(from), FormatIso(to)));
  }
  std::vector<model::Kline> out;
  out.reserve(r->rows());
  for (size_t i = 0; i < r->rows(); ++i) {
    model::Kline k;
    k.symbol = symbol;
    k.open_time = r->GetInt64(0, i);
    k.close_time = r->GetInt64(1, i);
    k.open = r->GetDouble(2, i);
    k.high = r->GetDouble(3, i);
    k.low = r->GetDouble(4, i);
    k.close = r->GetDouble(5, i);
    k.volume = r->GetDouble(6, i);
    k.quote_volume = r->GetDouble(7, i);
    k.trades = r->GetInt64(8, i);
    k.taker_buy_base = r->GetDouble(9, i);
    k.taker_buy_quote = r->GetDouble(10, i);
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace cryptolake::lake
