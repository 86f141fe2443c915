#include "model/kline.h"

namespace cryptolake::model {

void KlineBatch::Add(const Kline& k) {
  open_time.push_back(k.open_time);
  open.push_back(k.open);
  high.push_back(k.high);
  low.push_back(k.low);
  close.push_back(k.close);
  volume.push_back(k.volume);
  if (!full) return;
  close_time.push_back(k.close_time);
  quote_volume.push_back(k.quote_volume);
  taker_buy_base.push_back(k.taker_buy_base);
  taker_buy_quote.push_back(k.taker_buy_quote);
  trades.push_back(k.trades);
}

Kline KlineBatch::At(size_t i) const {
  Kline k{.symbol = symbol,
          .open_time = open_time[i],
          .open = open[i],
          .high = high[i],
          .low = low[i],
          .close = close[i],
          .volume = volume[i]};
  if (full) {
    k.close_time = close_time[i];
    k.quote_volume = quote_volume[i];
    k.taker_buy_base = taker_buy_base[i];
    k.taker_buy_quote = taker_buy_quote[i];
    k.trades = trades[i];
  }
  return k;
}

namespace {

template <typename F>
void EachColumn(KlineBatch& b, F f) {
  f(b.open_time);
  f(b.open);
  f(b.high);
  f(b.low);
  f(b.close);
  f(b.volume);
  if (!b.full) return;
  f(b.close_time);
  f(b.quote_volume);
  f(b.taker_buy_base);
  f(b.taker_buy_quote);
  f(b.trades);
}

}  // namespace

void KlineBatch::Reserve(size_t n) {
  EachColumn(*this, [n](auto& column) { column.reserve(n); });
}

void KlineBatch::Truncate(size_t n) {
  EachColumn(*this, [n](auto& column) { column.resize(n); });
}

}  // namespace cryptolake::model
