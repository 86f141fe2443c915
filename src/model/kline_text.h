// Klines as text: how every text source's fields are read (integers, decimals, the field checks
// that name a bad column), the time unit a timestamp's digit count tells, and the time checks of
// a row whose times are still in that unit. Used by import's CSV formats (ingest/parser.cc) and
// by the venues' formats (venues/binance/vision.h: the vision rows of files and REST pages).
//
// Contract:
//  * ParseInt: an optional '-' and decimal digits, nothing else; *digits counts the digits.
//    ParseDecimal: fast_float's syntax, finite values only (NaN and infinities are refused).
//  * ScanInt / ScanDecimal: the fast path of a tokenizer. They accept only plainly formatted
//    fields (digits, an optional fraction; ScanInt 1..18 digits) followed by ',' (or, with
//    `last`, the end of the line) and advance past it. Whatever they accept, ParseInt /
//    ParseDecimal read to the same value; what they refuse goes to the checked path (CheckField).
//  * CheckField: "" or the reason, naming the field and its 1-based column:
//      "empty field high (column 3)", "non-numeric high 'abc' (column 3)",
//      "non-integer trades '1.5' (column 9)" (fields over 60 characters are quoted cut, "...").
//  * TimeUnitForDigits: 13 digits -> ms, 16 -> us, 10 -> s; any other count -> digits == 0.
//  * CheckRawTimes: the time checks of one row, first failure reported, in this order:
//      "open_time 1735689600000000 has 16 digits; this file uses ms (13)"  (`whose`: "this file")
//      "close_time ... has 16 digits; this file uses ms (13)"               (with `full`)
//      "negative open_time -1735689600000"
//      "open_time 1735689660000 (2025-01-01T00:01:00Z) is not aligned to the 15m interval"
//                                                 (and *off_grid is set)
//      the open-time bounds of core/bounds.h (OpenTimeBoundError with rule.first, rule.now_bound)
//      "close_time 1735690500000 inconsistent with open_time 1735689600000: expected
//       1735690499999 (open_time + 15m - 1 ms)"  (with `full`: close_time must lie in
//       [open_time, open_time + interval - 1 unit]; an earlier close is a halted exchange's)
//    On success the row's open_time and close_time are micros.
//  * Pure functions: thread-safe.
#pragma once

#include <fast_float/fast_float.h>

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/time.h"
#include "model/kline.h"

namespace cryptolake::model {

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

inline bool ParseInt(std::string_view f, int64_t* v, int* digits) {
  if (f.empty()) return false;
  auto r = std::from_chars(f.data(), f.data() + f.size(), *v);
  if (r.ec != std::errc() || r.ptr != f.data() + f.size()) return false;
  *digits = static_cast<int>(f.size()) - (f[0] == '-' ? 1 : 0);
  return true;
}

inline bool ParseDecimal(std::string_view f, double* v) {
  if (f.empty()) return false;
  auto r = fast_float::from_chars(f.data(), f.data() + f.size(), *v);
  return r.ec == std::errc() && r.ptr == f.data() + f.size() && std::isfinite(*v);
}

namespace scan {

// SWAR digit parsing, eight ASCII digits at a time (little-endian; the technique fast_float
// uses for fractions).
inline uint64_t Load8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline bool AllDigits8(uint64_t v) {
  return (((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) ==
          0x3333333333333333);
}
inline uint64_t Value8(uint64_t v) {
  const uint64_t mask = 0x000000FF000000FF;
  const uint64_t mul1 = 0x000F424000000064;  // 100 + (1000000 << 32)
  const uint64_t mul2 = 0x0000271000000001;  // 1 + (10000 << 32)
  v -= 0x3030303030303030;
  v = (v * 10) + (v >> 8);
  return (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
}

// Accumulates the digits at p into *m; returns the end of the digit run.
inline const char* Digits(const char* p, const char* e, uint64_t* m) {
  uint64_t x = *m;
  while (e - p >= 8) {
    uint64_t w = Load8(p);
    if (!AllDigits8(w)) break;
    x = x * 100000000 + Value8(w);
    p += 8;
  }
  while (p < e && IsDigit(*p)) x = x * 10 + static_cast<uint64_t>(*p++ - '0');
  *m = x;
  return p;
}

inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// "digits[.digits]" whose digits, as an integer m, satisfy m <= 2^53, with at most 22 decimals:
// m / 10^k is then one correctly rounded IEEE division of two exact values, i.e. exactly what
// fast_float (or strtod) returns. Returns the end, or nullptr if the text is not of that shape
// (the caller then uses fast_float).
inline const char* PlainDecimal(const char* p, const char* e, double* v) {
  uint64_t m = 0;
  const char* s = p;
  p = Digits(p, e, &m);
  int digits = static_cast<int>(p - s), frac = 0;
  if (p < e && *p == '.') {
    ++p;
    const char* f = p;
    p = Digits(p, e, &m);
    frac = static_cast<int>(p - f);
    if (frac == 0) return nullptr;
    digits += frac;
  }
  if (digits > 19 || frac > 22 || (p < e && (*p == 'e' || *p == 'E'))) return nullptr;
  while (m > (uint64_t{1} << 53) && frac > 0 && m % 10 == 0) {
    m /= 10;
    --frac;
  }
  if (m > (uint64_t{1} << 53)) return nullptr;
  *v = static_cast<double>(m) / kPow10[frac];
  return p;
}

// fast_float for what PlainDecimal does not take; nullptr on a syntax error or an infinity.
[[gnu::noinline]] inline const char* GeneralDecimal(const char* p, const char* e, double* v) {
  auto r = fast_float::from_chars(p, e, *v);
  if (r.ec != std::errc() || !(*v <= DBL_MAX)) return nullptr;
  return r.ptr;
}

}  // namespace scan

// An unsigned integer of 1..18 digits followed by ','.
inline bool ScanInt(const char*& p, const char* e, int64_t* v, int* digits) {
  const char* s = p;
  uint64_t x = 0;
  p = scan::Digits(p, e, &x);
  const auto n = p - s;
  if (n == 0 || n > 18 || p == e || *p != ',') return false;
  *v = static_cast<int64_t>(x);
  *digits = static_cast<int>(n);
  ++p;
  return true;
}

// A plain decimal followed by ',' (or, with `last`, by the end).
inline bool ScanDecimal(const char*& p, const char* e, double* v, bool last) {
  if (p == e || !IsDigit(*p)) return false;
  const char* end = scan::PlainDecimal(p, e, v);
  if (!end && !(end = scan::GeneralDecimal(p, e, v))) return false;
  if (last) {
    if (end != e) return false;
    p = e;
    return true;
  }
  if (end == e || *end != ',') return false;
  p = end + 1;
  return true;
}

enum class FieldKind { kInt, kDecimal, kText, kIgnore };

struct FieldSpec {
  const char* name;
  FieldKind kind;
};

// "" when `f` is a valid field of `spec` (column counts from 1), else the reason.
std::string CheckField(std::string_view f, const FieldSpec& spec, size_t column);

// A field quoted inside a reason: at most `max` characters, then "...".
std::string QuotedField(std::string_view f, size_t max = 60);

struct TimeUnit {
  int digits = 0;  // 0: none (an undecidable digit count)
  Micros micros = 0;
  const char* name = "";
};

TimeUnit TimeUnitForDigits(int digits);

// "open_time <text> has <digits> digits; cannot tell the time unit (expected 13 for ms, 16 for
// us or 10 for s)".
std::string UndecidableTimeUnit(std::string_view open_time_text, int digits);

// One row's values as a source wrote them: the kline with open_time and close_time still in the
// source's unit (ot_digits / ct_digits tell how many digits each had), symbol unset.
struct RawKline : Kline {
  int ot_digits = 0, ct_digits = 0;
};

struct TimeRule {
  TimeUnit unit;                    // the source's unit
  const Interval* interval;         // the grid
  Micros first = 0;                 // earliest open_time (core/bounds.h)
  Micros now_bound = 0;             // OpenTimeBoundError's `now`
  const char* whose = "this file";  // in "...; this file uses ms (13)"
};

// The checks listed above; on success the times are micros. *off_grid is set when the row fails
// for its open_time being off the interval grid (left alone otherwise).
std::string CheckRawTimes(RawKline* k, bool full, const TimeRule& rule, bool* off_grid);

}  // namespace cryptolake::model
