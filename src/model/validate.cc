#include "model/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/bounds.h"

namespace cryptolake::model {

std::string ValidateKline(const Kline& k, bool full, const KlineFieldNames& n) {
  if (k.open < 0 || k.high < 0 || k.low < 0 || k.close < 0 || k.volume < 0 ||
      (full &&
       (k.quote_volume < 0 || k.trades < 0 || k.taker_buy_base < 0 || k.taker_buy_quote < 0))) {
    const std::pair<const char*, double> vals[] = {
        {n.open, k.open},
        {n.high, k.high},
        {n.low, k.low},
        {n.close, k.close},
        {n.volume, k.volume},
        {n.quote_volume, full ? k.quote_volume : 0},
        {n.trades, full ? static_cast<double>(k.trades) : 0},
        {n.taker_buy_base, full ? k.taker_buy_base : 0},
        {n.taker_buy_quote, full ? k.taker_buy_quote : 0}};
    for (const auto& [name, v] : vals) {
      if (v < 0) {
        return name == n.trades ? fmt::format("negative {} {}", name, k.trades)
                                : fmt::format("negative {} {}", name, v);
      }
    }
  }
  const std::pair<const char*, double> prices[] = {
      {n.open, k.open}, {n.high, k.high}, {n.low, k.low}, {n.close, k.close}};
  for (const auto& [name, v] : prices) {
    if (std::string e = PriceBoundError(name, v); !e.empty()) return e;
  }
  const std::pair<const char*, double> volumes[] = {{n.volume, k.volume},
                                                    {n.quote_volume, k.quote_volume},
                                                    {n.taker_buy_base, k.taker_buy_base},
                                                    {n.taker_buy_quote, k.taker_buy_quote}};
  for (size_t i = 0; i < (full ? 4u : 1u); ++i) {
    if (std::string e = VolumeBoundError(volumes[i].first, volumes[i].second); !e.empty()) {
      return e;
    }
  }
  const double hi = std::max(k.open, k.close), lo = std::min(k.open, k.close);
  if (k.high < hi) return fmt::format("{} {} below max(open, close) {}", n.high, k.high, hi);
  if (k.low > lo) return fmt::format("{} {} above min(open, close) {}", n.low, k.low, lo);
  return "";
}

}  // namespace cryptolake::model
