#include "model/kline_text.h"

#include <fmt/format.h>

#include "core/bounds.h"

namespace cryptolake::model {

std::string QuotedField(std::string_view f, size_t max) {
  if (f.size() <= max) return std::string(f);
  return std::string(f.substr(0, max)) + "...";
}

std::string CheckField(std::string_view f, const FieldSpec& spec, size_t column) {
  if (spec.kind == FieldKind::kIgnore) return {};
  if (f.empty()) return fmt::format("empty field {} (column {})", spec.name, column);
  if (spec.kind == FieldKind::kInt) {
    int64_t v;
    int d;
    if (!ParseInt(f, &v, &d)) {
      return fmt::format("non-integer {} '{}' (column {})", spec.name, QuotedField(f), column);
    }
  } else if (spec.kind == FieldKind::kDecimal) {
    double v;
    if (!ParseDecimal(f, &v)) {
      return fmt::format("non-numeric {} '{}' (column {})", spec.name, QuotedField(f), column);
    }
  }
  return {};
}

TimeUnit TimeUnitForDigits(int digits) {
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

std::string UndecidableTimeUnit(std::string_view open_time_text, int digits) {
  return fmt::format(
      "open_time {} has {} digits; cannot tell the time unit (expected 13 for ms, 16 for us or 10 "
      "for s)",
      QuotedField(open_time_text), digits);
}

std::string CheckRawTimes(RawKline* k, bool full, const TimeRule& rule, bool* off_grid) {
  const TimeUnit& u = rule.unit;
  const Interval& iv = *rule.interval;
  if (k->ot_digits != u.digits) {
    return fmt::format("open_time {} has {} digits; {} uses {} ({})", k->open_time, k->ot_digits,
                       rule.whose, u.name, u.digits);
  }
  if (full && k->ct_digits != u.digits) {
    return fmt::format("close_time {} has {} digits; {} uses {} ({})", k->close_time, k->ct_digits,
                       rule.whose, u.name, u.digits);
  }
  if (k->open_time < 0) return fmt::format("negative open_time {}", k->open_time);
  // At most 16 digits in the unit: the products below cannot overflow.
  const Micros ot = k->open_time * u.micros;
  if (ot % iv.micros != 0) {
    *off_grid = true;
    return fmt::format("open_time {} ({}) is not aligned to the {} interval", k->open_time,
                       FormatIso(ot), iv.name);
  }
  std::string reason = OpenTimeBoundError(ot, iv, rule.first, rule.now_bound);
  if (!reason.empty()) return reason;
  if (full) {
    const Micros ct = k->close_time * u.micros;
    const Micros last = ot + iv.micros - u.micros;
    if (ct > last || ct < ot) {
      return fmt::format(
          "close_time {} inconsistent with open_time {}: expected {} (open_time + {} - 1 {})",
          k->close_time, k->open_time, last / u.micros, iv.name, u.name);
    }
    k->close_time = ct;
  }
  k->open_time = ot;
  return {};
}

}  // namespace cryptolake::model
