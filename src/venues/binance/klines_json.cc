#include "venues/binance/klines_json.h"

#include <fast_float/fast_float.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "core/bounds.h"
#include "model/validate.h"

namespace cryptolake::venues::binance {

namespace {

namespace od = simdjson::ondemand;

constexpr size_t kColumns = 12;
enum class Kind { kInt, kDouble, kIgnore };
struct Column {
  const char* name;
  Kind kind;
};
constexpr Column kColumnsSpec[kColumns] = {{"open_time", Kind::kInt},
                                           {"open", Kind::kDouble},
                                           {"high", Kind::kDouble},
                                           {"low", Kind::kDouble},
                                           {"close", Kind::kDouble},
                                           {"volume", Kind::kDouble},
                                           {"close_time", Kind::kInt},
                                           {"quote_volume", Kind::kDouble},
                                           {"trades", Kind::kInt},
                                           {"taker_buy_base", Kind::kDouble},
                                           {"taker_buy_quote", Kind::kDouble},
                                           {"ignore", Kind::kIgnore}};

// A row's cells as sent: the string's text or the number's token.
using Cells = std::array<std::string_view, kColumns>;

struct Unit {
  int digits = 0;
  Micros micros = 0;
  const char* name = "";
};

Unit UnitForDigits(int digits) {
  switch (digits) {
    case 10:
      return {10, kMicrosPerSecond, "s"};
    case 13:
      return {13, 1000, "ms"};
    case 16:
      return {16, 1, "us"};
    default:
      return {};
  }
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseInt(std::string_view f, int64_t* v, int* digits) {
  if (f.empty()) return false;
  auto r = std::from_chars(f.data(), f.data() + f.size(), *v);
  if (r.ec != std::errc() || r.ptr != f.data() + f.size()) return false;
  *digits = static_cast<int>(f.size()) - (f[0] == '-' ? 1 : 0);
  return true;
}

bool ParseDouble(std::string_view f, double* v) {
  if (f.empty()) return false;
  auto r = fast_float::from_chars(f.data(), f.data() + f.size(), *v);
  return r.ec == std::errc() && r.ptr == f.data() + f.size() && std::isfinite(*v);
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

// The cells as a kline with times still in the response's unit; "" or the reason.
std::string Tokenize(const Cells& c, model::Kline* k, int* ot_digits, int* ct_digits) {
  int64_t ints[kColumns] = {};
  double reals[kColumns] = {};
  int digits[kColumns] = {};
  for (size_t i = 0; i < kColumns; ++i) {
    const Column& col = kColumnsSpec[i];
    if (col.kind == Kind::kIgnore) continue;
    std::string_view f = c[i];
    if (f.empty()) return fmt::format("empty field {} (column {})", col.name, i + 1);
    if (col.kind == Kind::kInt ? !ParseInt(f, &ints[i], &digits[i]) : !ParseDouble(f, &reals[i])) {
      return fmt::format("{} {} '{}' (column {})",
                         col.kind == Kind::kInt ? "non-integer" : "non-numeric", col.name,
                         f.substr(0, 60), i + 1);
    }
  }
  k->open_time = ints[0];
  k->open = reals[1];
  k->high = reals[2];
  k->low = reals[3];
  k->close = reals[4];
  k->volume = reals[5];
  k->close_time = ints[6];
  k->quote_volume = reals[7];
  k->trades = ints[8];
  k->taker_buy_base = reals[9];
  k->taker_buy_quote = reals[10];
  *ot_digits = digits[0];
  *ct_digits = digits[6];
  return {};
}

// The row checks of a vision file's rows (ingest/parser.cc); on success the times are micros.
std::string CheckRow(model::Kline* k, int ot_digits, int ct_digits, const Unit& u,
                     const Interval& iv) {
  if (ot_digits != u.digits) {
    return fmt::format("open_time {} has {} digits; the response uses {} ({})", k->open_time,
                       ot_digits, u.name, u.digits);
  }
  if (ct_digits != u.digits) {
    return fmt::format("close_time {} has {} digits; the response uses {} ({})", k->close_time,
                       ct_digits, u.name, u.digits);
  }
  if (k->open_time < 0) return fmt::format("negative open_time {}", k->open_time);
  // At most 16 digits in the unit: the products below cannot overflow.
  const Micros ot = k->open_time * u.micros, ct = k->close_time * u.micros;
  if (ot % iv.micros != 0) {
    return fmt::format("open_time {} ({}) is not aligned to the {} interval", k->open_time,
                       FormatIso(ot), iv.name);
  }
  std::string reason =
      OpenTimeBoundError(ot, iv, kFirstBinanceKline, std::numeric_limits<Micros>::max() / 2);
  if (!reason.empty()) return reason;
  const Micros last = ot + iv.micros - u.micros;
  if (ct > last || ct < ot) {
    return fmt::format(
        "close_time {} inconsistent with open_time {}: expected {} (open_time + {} - 1 {})",
        k->close_time, k->open_time, last / u.micros, iv.name, u.name);
  }
  k->open_time = ot;
  k->close_time = ct;
  return model::ValidateKline(*k, /*full=*/true);
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
  const Unit expected = UnitForDigits(unit == TimeUnit::kMicros ? 16 : 13);
  Unit u;
  for (size_t i = 0; i < n; ++i) {
    model::Kline k;
    int ot_digits = 0, ct_digits = 0;
    std::string reason = Tokenize(cells[i], &k, &ot_digits, &ct_digits);
    if (i == 0) {  // the first row tells the response's time unit
      int64_t v = 0;
      int digits = ot_digits;
      if (reason.empty() || ParseInt(cells[0][0], &v, &digits)) {
        u = UnitForDigits(digits);
        if (u.digits == 0) {
          return InvalidArgument(
              "row 1: open_time {} has {} digits; cannot tell the time unit (expected 13 for ms, "
              "16 for us or 10 for s)",
              cells[0][0].substr(0, 60), digits);
        }
        if (u.digits != expected.digits) {
          return InvalidArgument("timestamps in {}, expected {}", u.name, expected.name);
        }
      }
      if (u.digits == 0) u = expected;
    }
    if (reason.empty()) reason = CheckRow(&k, ot_digits, ct_digits, u, req.interval);
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
