#include "venues/binance/vision.h"

#include "core/bounds.h"
#include "model/validate.h"

namespace cryptolake::venues::binance {

bool ScanVisionRow(std::string_view line, model::RawKline* r) {
  using model::ScanDecimal;
  using model::ScanInt;
  const char* p = line.data();
  const char* e = p + line.size();
  int trade_digits;
  if (!(ScanInt(p, e, &r->open_time, &r->ot_digits) && ScanDecimal(p, e, &r->open, false) &&
        ScanDecimal(p, e, &r->high, false) && ScanDecimal(p, e, &r->low, false) &&
        ScanDecimal(p, e, &r->close, false) && ScanDecimal(p, e, &r->volume, false) &&
        ScanInt(p, e, &r->close_time, &r->ct_digits) &&
        ScanDecimal(p, e, &r->quote_volume, false) && ScanInt(p, e, &r->trades, &trade_digits) &&
        ScanDecimal(p, e, &r->taker_buy_base, false) &&
        ScanDecimal(p, e, &r->taker_buy_quote, false))) {
    return false;
  }
  return std::memchr(p, ',', static_cast<size_t>(e - p)) == nullptr;  // "ignore" is the last
}

std::string VisionRowFromFields(const std::string_view* f, model::RawKline* r) {
  for (size_t i = 0; i < kVisionColumnCount; ++i) {
    std::string reason = model::CheckField(f[i], kVisionColumns[i], i + 1);
    if (!reason.empty()) return reason;
  }
  int d;
  model::ParseInt(f[0], &r->open_time, &r->ot_digits);
  model::ParseDecimal(f[1], &r->open);
  model::ParseDecimal(f[2], &r->high);
  model::ParseDecimal(f[3], &r->low);
  model::ParseDecimal(f[4], &r->close);
  model::ParseDecimal(f[5], &r->volume);
  model::ParseInt(f[6], &r->close_time, &r->ct_digits);
  model::ParseDecimal(f[7], &r->quote_volume);
  model::ParseInt(f[8], &r->trades, &d);
  model::ParseDecimal(f[9], &r->taker_buy_base);
  model::ParseDecimal(f[10], &r->taker_buy_quote);
  return {};
}

std::string CheckVisionRow(model::RawKline* r, model::TimeRule rule, bool* off_grid) {
  rule.first = kFirstBinanceKline;
  std::string reason = model::CheckRawTimes(r, /*full=*/true, rule, off_grid);
  if (!reason.empty()) return reason;
  return model::ValidateKline(*r, /*full=*/true);
}

}  // namespace cryptolake::venues::binance
