// Binance's kline row: the 12 columns of data.binance.vision's CSV dumps, which are also the
// fields of each row of the REST klines JSON (GET /api/v3/klines), read into a model::RawKline
// and checked. Import's vision format (ingest/parser.cc) and the REST decoder (klines_json.h)
// both read their rows through here, so a file and a REST page are held to the same rules.
//
// Columns: open_time, open, high, low, close, volume, close_time, quote_volume, trades,
// taker_buy_base, taker_buy_quote, ignore. Times and trades are integers, the rest decimals;
// `ignore` is not read.
//
// Contract:
//  * ScanVisionRow: the fast path for one plainly formatted CSV line (model::ScanInt /
//    ScanDecimal fields, exactly 12); true and *r filled, or false (then the checked path).
//  * VisionRowFromFields: the checked path; `fields` are the 12 fields (trimmed as the source
//    needs). "" and *r filled, or the first field's reason (model::CheckField), e.g.
//    "non-numeric high 'abc' (column 3)".
//  * CheckVisionRow: the row's time checks (model::CheckRawTimes with the first Binance kline,
//    core/bounds.h) then model::ValidateKline(full); "" with the times in micros, or the reason.
//  * Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "model/kline_text.h"

namespace cryptolake::venues::binance {

inline constexpr size_t kVisionColumnCount = 12;

inline constexpr model::FieldSpec kVisionColumns[kVisionColumnCount] = {
    {"open_time", model::FieldKind::kInt},
    {"open", model::FieldKind::kDecimal},
    {"high", model::FieldKind::kDecimal},
    {"low", model::FieldKind::kDecimal},
    {"close", model::FieldKind::kDecimal},
    {"volume", model::FieldKind::kDecimal},
    {"close_time", model::FieldKind::kInt},
    {"quote_volume", model::FieldKind::kDecimal},
    {"trades", model::FieldKind::kInt},
    {"taker_buy_base", model::FieldKind::kDecimal},
    {"taker_buy_quote", model::FieldKind::kDecimal},
    {"ignore", model::FieldKind::kIgnore}};

bool ScanVisionRow(std::string_view line, model::RawKline* r);

std::string VisionRowFromFields(const std::string_view* fields, model::RawKline* r);

// `rule.first` is set to the first Binance kline here; *off_grid as model::CheckRawTimes.
std::string CheckVisionRow(model::RawKline* r, model::TimeRule rule, bool* off_grid);

}  // namespace cryptolake::venues::binance
