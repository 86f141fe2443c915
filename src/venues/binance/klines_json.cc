#include "venues/binance/klines_json.h"

#include <simdjson.h>

#include <array>
#include <limits>
#include <vector>

#include "venues/binance/vision.h"

namespace cryptolake::venues::binance {

namespace {

namespace od = simdjson::ondemand;

constexpr size_t kColumns = kVisionColumnCount;

// A row's cells as sent: the string's text or the number's token.
using Cells = std::array<std::string_view, kColumns>;

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// One row of the JSON array into its cells; `index` counts from 0.
Status RowCells(od::value row, size_t index, Cells* out) {
  od::array cells;
  if (row.get_array().get(cells)) return InvalidArgument("row {} is not an array", index + 1);
  size_t n = 0;
  for (auto cell : cells) {
    od::value v;
    od::json_type type;
    if (cell.get(v) || v.type().get(type))
      return InvalidArgument("row {}: invalid JSON", index + 1);
    std::string_view text;
    if (type == od::json_type::string) {
      if (v.get_string().get(text)) return InvalidArgument("row {}: invalid JSON", index + 1);
    } else if (type == od::json_type::number) {
      text = TrimRight(v.raw_json_token());
    } else {
      return InvalidArgument("row {}: field {} is not a string or a number", index + 1, n + 1);
    }
    if (n < kColumns) (*out)[n] = text;
    ++n;
  }
  if (n != kColumns) return InvalidArgument("row {} has {} fields, expected 12", index + 1, n);
  return Status::Ok();
}

}  // namespace

StatusOr<model::KlineBatch> DecodeKlines(std::string_view body, const KlinesRequest& req,
                                         TimeUnit unit) {
  simdjson::padded_string json(body);
  od::parser parser;
  od::document doc;
  od::array rows;
  if (auto err = parser.iterate(json).get(doc)) {
    return InvalidArgument("invalid JSON ({})", simdjson::error_message(err));
  }
  if (auto err = doc.get_array().get(rows)) {
    if (err == simdjson::INCORRECT_TYPE) return InvalidArgument("not a JSON array");
    return InvalidArgument("invalid JSON ({})", simdjson::error_message(err));
  }
  // First the shape of every row (the cells stay valid while the parser lives), then the count,
  // then the values: the reasons come in the order the contract lists them.
  std::vector<Cells> cells;
  for (auto row : rows) {
    od::value v;
    if (row.get(v)) return InvalidArgument("invalid JSON after row {}", cells.size());
    const size_t index = cells.size();
    RETURN_IF_ERROR(RowCells(v, index, &cells.emplace_back()));
  }
  const size_t n = cells.size();
  if (n > static_cast<size_t>(req.limit)) {
    return InvalidArgument("{} rows for limit {}", n, req.limit);
  }
  model::KlineBatch out;
  out.symbol = req.symbol;
  out.interval = req.interval;
  out.full = true;
  const model::TimeUnit expected = model::TimeUnitForDigits(unit == TimeUnit::kMicros ? 16 : 13);
  model::TimeRule rule{.interval = &req.interval,
                       .now_bound = std::numeric_limits<Micros>::max() / 2,
                       .whose = "the response"};
  out.Reserve(n);
  for (size_t i = 0; i < n; ++i) {
    model::RawKline k;
    std::string reason = VisionRowFromFields(cells[i].data(), &k);
    if (i == 0) {  // the first row tells the response's time unit
      int64_t v = 0;
      int digits = k.ot_digits;
      if (reason.empty() || model::ParseInt(cells[0][0], &v, &digits)) {
        rule.unit = model::TimeUnitForDigits(digits);
        if (rule.unit.digits == 0) {
          return InvalidArgument("row 1: {}", model::UndecidableTimeUnit(cells[0][0], digits));
        }
        if (rule.unit.digits != expected.digits) {
          return InvalidArgument("timestamps in {}, expected {}", rule.unit.name, expected.name);
        }
      }
      if (rule.unit.digits == 0) rule.unit = expected;
    }
    bool off_grid = false;
    if (reason.empty()) reason = CheckVisionRow(&k, rule, &off_grid);
    if (!reason.empty()) return InvalidArgument("row {}: {}", i + 1, reason);
    const Micros ot = k.open_time;
    if (ot < req.start || ot > req.end) {
      return InvalidArgument("row {}: open_time {} outside [{}, {}]", i + 1, FormatIso(ot),
                             FormatIso(req.start), FormatIso(req.end));
    }
    if (i > 0 && ot <= out.open_time.back()) {
      return InvalidArgument("row {}: open_time {} not after {}", i + 1, FormatIso(ot),
                             FormatIso(out.open_time.back()));
    }
    out.Add(k);
  }
  return out;
}

}  // namespace cryptolake::venues::binance
