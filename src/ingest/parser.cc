#include "ingest/parser.h"

#include <fast_float/fast_float.h>

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "core/bounds.h"
#include "model/validate.h"

namespace cryptolake::ingest {

namespace {

constexpr size_t kMaxBadText = 200;
constexpr size_t kMaxQuotedField = 60;  // longest field quoted inside a reason
constexpr size_t kMaxQuotedLine = 200;  // longest line quoted inside an error message

constexpr const char* kOhlcvCols[] = {"open_time", "open", "high", "low", "close", "volume"};
constexpr const char* kBitstampCols[] = {"timestamp",      "open", "close", "volume",
                                         "unix_timestamp", "high", "low"};
constexpr const char kOhlcvHeader[] = "open_time,open,high,low,close,volume";
constexpr const char kBitstampHeader[] = "timestamp,open,close,volume,unix_timestamp,high,low";

inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }
inline bool IsAlpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quoted(std::string_view s, size_t max = kMaxQuotedField) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

// Physical lines of a buffer, without their "\n" / "\r\n" ends.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}
  bool Next(std::string_view* line) {
    if (p_ >= end_) return false;
    const char* nl =
        static_cast<const char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    const char* le = nl ? nl : end_;
    const char* e = le;
    if (e > p_ && e[-1] == '\r') --e;
    *line = std::string_view(p_, static_cast<size_t>(e - p_));
    p_ = nl ? nl + 1 : end_;
    ++line_no_;
    return true;
  }
  int64_t line_no() const { return line_no_; }
  const char* pos() const { return p_; }
  void Rewind(const char* pos, int64_t line_no) {
    p_ = pos;
    line_no_ = line_no;
  }
  // An estimate of the lines left, for reserving: the rest of the buffer divided by 90% of the
  // mean length of the next 64 lines. Generous on purpose: reserved pages that are never
  // written cost no memory, while an underestimate costs a reallocation.
  size_t EstimateRemaining() const {
    size_t n = 0;
    const char* p = p_;
    for (; p < end_ && n < 64; ++n) {
      const char* nl =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end_ - p)));
      p = nl ? nl + 1 : end_;
    }
    if (p >= end_) return n;
    const double mean = static_cast<double>(p - p_) / static_cast<double>(n);
    return static_cast<size_t>(static_cast<double>(end_ - p_) / (0.9 * mean)) + 64;
  }

 private:
  const char* p_;
  const char* end_;
  int64_t line_no_ = 0;
};

// Splits on ','; stores up to `max` fields and returns the total field count.
size_t Split(std::string_view line, std::string_view* out, size_t max) {
  size_t n = 0;
  size_t start = 0;
  while (true) {
    size_t c = line.find(',', start);
    std::string_view f = line.substr(start, c == std::string_view::npos ? line.npos : c - start);
    if (n < max) out[n] = f;
    ++n;
    if (c == std::string_view::npos) return n;
    start = c + 1;
  }
}

std::vector<std::string> NormalizedHeader(std::string_view line) {
  std::vector<std::string> out;
  std::string_view f[32];
  size_t n = Split(line, f, 32);
  for (size_t i = 0; i < n && i < 32; ++i) {
    std::string_view t = Trim(f[i]);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = Trim(t.substr(1, t.size() - 2));
    std::string s(t);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(std::move(s));
  }
  if (n > 32) out.resize(n);  // only the count matters for wider lines
  return out;
}

bool HeaderIs(const std::vector<std::string>& h, const char* const* cols, size_t n) {
  if (h.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (h[i] != cols[i]) return false;
  }
  return true;
}

// The format a header line names, or kAuto if none.
Format HeaderFormat(std::string_view line) {
  std::vector<std::string> h = NormalizedHeader(line);
  if (HeaderIs(h, kOhlcvCols, 6)) return Format::kOhlcv;
  if (HeaderIs(h, kBitstampCols, 7)) return Format::kBitstamp;
  if (h.size() == 12 && h[0] == "open_time") return Format::kVision;
  return Format::kAuto;
}

const char* ExpectedHeader(Format f) {
  switch (f) {
    case Format::kOhlcv:
      return kOhlcvHeader;
    case Format::kBitstamp:
      return kBitstampHeader;
    default:
      return "12 columns starting with open_time";
  }
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

struct Unit {
  int digits = 0;  // 0: not decided yet
  int64_t micros = 0;
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

// One row's values as written in the file: the kline model with open_time and close_time still
// in the file's unit (ot_digits / ct_digits tell which), symbol unset.
struct Row : model::Kline {
  int ot_digits = 0, ct_digits = 0;
};

// ---- Fast tokenizer: accepts only plainly formatted rows (every number starts with a digit and
// is followed directly by ',' or the line end); anything else goes to the slow tokenizer, which
// is the authority. For every row the fast path accepts, the slow path gives the same values.

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

// An unsigned integer of 1..18 digits followed by ','.
inline bool FastInt(const char*& p, const char* e, int64_t* v, int* digits) {
  const char* s = p;
  uint64_t x = 0;
  p = Digits(p, e, &x);
  const auto n = p - s;
  if (n == 0 || n > 18 || p == e || *p != ',') return false;
  *v = static_cast<int64_t>(x);
  *digits = static_cast<int>(n);
  ++p;
  return true;
}

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

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
[[gnu::noinline]] const char* GeneralDecimal(const char* p, const char* e, double* v) {
  auto r = fast_float::from_chars(p, e, *v);
  if (r.ec != std::errc() || !(*v <= DBL_MAX)) return nullptr;
  return r.ptr;
}

inline bool FastDouble(const char*& p, const char* e, double* v, bool last) {
  if (p == e || !IsDigit(*p)) return false;
  const char* end = PlainDecimal(p, e, v);
  if (!end && !(end = GeneralDecimal(p, e, v))) return false;
  if (last) {
    if (end != e) return false;
    p = e;
    return true;
  }
  if (end == e || *end != ',') return false;
  p = end + 1;
  return true;
}

bool FastOhlcv(std::string_view line, Row* r) {
  const char* p = line.data();
  const char* e = p + line.size();
  return FastInt(p, e, &r->open_time, &r->ot_digits) && FastDouble(p, e, &r->open, false) &&
         FastDouble(p, e, &r->high, false) && FastDouble(p, e, &r->low, false) &&
         FastDouble(p, e, &r->close, false) && FastDouble(p, e, &r->volume, true);
}

bool FastVision(std::string_view line, Row* r) {
  const char* p = line.data();
  const char* e = p + line.size();
  int trade_digits;
  if (!(FastInt(p, e, &r->open_time, &r->ot_digits) && FastDouble(p, e, &r->open, false) &&
        FastDouble(p, e, &r->high, false) && FastDouble(p, e, &r->low, false) &&
        FastDouble(p, e, &r->close, false) && FastDouble(p, e, &r->volume, false) &&
        FastInt(p, e, &r->close_time, &r->ct_digits) && FastDouble(p, e, &r->quote_volume, false) &&
        FastInt(p, e, &r->trades, &trade_digits) && FastDouble(p, e, &r->taker_buy_base, false) &&
        FastDouble(p, e, &r->taker_buy_quote, false))) {
    return false;
  }
  return std::memchr(p, ',', static_cast<size_t>(e - p)) == nullptr;  // "ignore" is the last
}

// ---- Slow tokenizer: exact reasons.

enum class Kind { kInt, kDouble, kText, kIgnore };

struct ColumnSpec {
  const char* name;
  Kind kind;
};

// Checks the column count, empties and number syntax. Returns the reason, or "" if the row
// tokenizes; `fields` then holds the trimmed fields.
std::string Tokenize(std::string_view line, const ColumnSpec* cols, size_t ncols,
                     std::string_view* fields) {
  size_t n = Split(line, fields, ncols);
  if (n != ncols) return fmt::format("expected {} columns, got {}", ncols, n);
  for (size_t i = 0; i < ncols; ++i) {
    if (cols[i].kind == Kind::kIgnore) continue;
    std::string_view f = Trim(fields[i]);
    fields[i] = f;
    if (f.empty()) return fmt::format("empty field {} (column {})", cols[i].name, i + 1);
    if (cols[i].kind == Kind::kInt) {
      int64_t v;
      int d;
      if (!ParseInt(f, &v, &d)) {
        return fmt::format("non-integer {} '{}' (column {})", cols[i].name, Quoted(f), i + 1);
      }
    } else if (cols[i].kind == Kind::kDouble) {
      double v;
      if (!ParseDouble(f, &v)) {
        return fmt::format("non-numeric {} '{}' (column {})", cols[i].name, Quoted(f), i + 1);
      }
    }
  }
  return {};
}

constexpr ColumnSpec kVisionSpec[] = {{"open_time", Kind::kInt},
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
constexpr ColumnSpec kOhlcvSpec[] = {{"open_time", Kind::kInt}, {"open", Kind::kDouble},
                                     {"high", Kind::kDouble},   {"low", Kind::kDouble},
                                     {"close", Kind::kDouble},  {"volume", Kind::kDouble}};
constexpr ColumnSpec kBitstampSpec[] = {{"timestamp", Kind::kText},     {"open", Kind::kDouble},
                                        {"close", Kind::kDouble},       {"volume", Kind::kDouble},
                                        {"unix_timestamp", Kind::kInt}, {"high", Kind::kDouble},
                                        {"low", Kind::kDouble}};

std::string SlowRow(std::string_view line, bool full, Row* r) {
  std::string_view f[12];
  std::string reason = full ? Tokenize(line, kVisionSpec, 12, f) : Tokenize(line, kOhlcvSpec, 6, f);
  if (!reason.empty()) return reason;
  int d;
  ParseInt(f[0], &r->open_time, &r->ot_digits);
  ParseDouble(f[1], &r->open);
  ParseDouble(f[2], &r->high);
  ParseDouble(f[3], &r->low);
  ParseDouble(f[4], &r->close);
  ParseDouble(f[5], &r->volume);
  if (full) {
    ParseInt(f[6], &r->close_time, &r->ct_digits);
    ParseDouble(f[7], &r->quote_volume);
    ParseInt(f[8], &r->trades, &d);
    ParseDouble(f[9], &r->taker_buy_base);
    ParseDouble(f[10], &r->taker_buy_quote);
  }
  return {};
}

// ---- Row validation shared by all formats (timestamps already in micros where noted).

// The kline rules every source shares (model/validate.h): negative values, bounds, OHLC.
bool CheckValues(const Row& r, bool full, std::string* reason) {
  *reason = model::ValidateKline(r, full);
  return reason->empty();
}

struct FileCtx {
  const Interval* interval;
  Unit unit;
  Micros first = kFirstBinanceKline;  // earliest open_time accepted
  Micros now = 0;                     // with has_now: open_time <= now + interval
  bool has_now = false;
  int64_t* off_grid = nullptr;  // counts rows off the interval grid
};

// The open-time bounds of core/bounds.h.
bool CheckOpenTime(Micros ot_us, const FileCtx& c, std::string* reason) {
  *reason = OpenTimeBoundError(ot_us, *c.interval, c.first,
                               c.has_now ? c.now : std::numeric_limits<Micros>::max() / 2);
  return reason->empty();
}

// Vision / ohlcv row checks; on success *ot_us / *ct_us are the timestamps in micros.
bool CheckKline(const Row& r, bool full, const FileCtx& c, Micros* ot_us, Micros* ct_us,
                std::string* reason) {
  if (r.ot_digits != c.unit.digits) {
    *reason = fmt::format("open_time {} has {} digits; this file uses {} ({})", r.open_time,
                          r.ot_digits, c.unit.name, c.unit.digits);
    return false;
  }
  if (full && r.ct_digits != c.unit.digits) {
    *reason = fmt::format("close_time {} has {} digits; this file uses {} ({})", r.close_time,
                          r.ct_digits, c.unit.name, c.unit.digits);
    return false;
  }
  if (r.open_time < 0) {
    *reason = fmt::format("negative open_time {}", r.open_time);
    return false;
  }
  // At most 16 digits in the file's unit: the products below cannot overflow.
  const Micros iv = c.interval->micros;
  *ot_us = r.open_time * c.unit.micros;
  if (*ot_us % iv != 0) {
    ++*c.off_grid;
    *reason = fmt::format("open_time {} ({}) is not aligned to the {} interval", r.open_time,
                          FormatIso(*ot_us), c.interval->name);
    return false;
  }
  if (!CheckOpenTime(*ot_us, c, reason)) return false;
  if (full) {
    *ct_us = r.close_time * c.unit.micros;
    const Micros last = *ot_us + iv - c.unit.micros;
    if (*ct_us > last || *ct_us < *ot_us) {
      *reason = fmt::format(
          "close_time {} inconsistent with open_time {}: expected {} (open_time + {} - 1 {})",
          r.close_time, r.open_time, last / c.unit.micros, c.interval->name, c.unit.name);
      return false;
    }
  }
  return CheckValues(r, full, reason);
}

void Reserve(KlineBatch& b, size_t n) {
  b.open_time.reserve(n);
  b.open.reserve(n);
  b.high.reserve(n);
  b.low.reserve(n);
  b.close.reserve(n);
  b.volume.reserve(n);
  if (b.full) {
    b.close_time.reserve(n);
    b.quote_volume.reserve(n);
    b.trades.reserve(n);
    b.taker_buy_base.reserve(n);
    b.taker_buy_quote.reserve(n);
  }
}

inline void Push(KlineBatch& b, const Row& r, Micros ot_us, Micros ct_us, bool full) {
  b.open_time.push_back(ot_us);
  b.open.push_back(r.open);
  b.high.push_back(r.high);
  b.low.push_back(r.low);
  b.close.push_back(r.close);
  b.volume.push_back(r.volume);
  if (full) {
    b.close_time.push_back(ct_us);
    b.quote_volume.push_back(r.quote_volume);
    b.trades.push_back(r.trades);
    b.taker_buy_base.push_back(r.taker_buy_base);
    b.taker_buy_quote.push_back(r.taker_buy_quote);
  }
}

void AddBad(ParsedFile& out, int64_t line, std::string reason, std::string_view text) {
  out.bad.push_back(
      BadRow{out.name, line, std::move(reason), std::string(text.substr(0, kMaxBadText))});
}

FileCtx MakeCtx(ParsedFile& out, const ParseOptions& opt, Micros first) {
  FileCtx ctx{&out.batch.interval, {}};
  ctx.first = first;
  ctx.has_now = opt.now.has_value();
  ctx.now = opt.now.value_or(0);
  ctx.off_grid = &out.off_grid;
  return ctx;
}

template <bool kFull>
Status ParseKlineRows(LineReader& rd, const ParseOptions& opt, ParsedFile& out) {
  FileCtx ctx = MakeCtx(out, opt, kFull ? kFirstBinanceKline : kFirstOhlcvTime);
  std::string reason;
  std::string_view line;
  while (rd.Next(&line)) {
    if (line.empty() || (IsSpace(line[0]) && IsBlank(line))) continue;
    ++out.data_lines;
    Row r;
    bool tokenized = kFull ? FastVision(line, &r) : FastOhlcv(line, &r);
    if (!tokenized) {
      reason = SlowRow(line, kFull, &r);
      tokenized = reason.empty();
    }
    if (ctx.unit.digits == 0) {
      // The first data row with an integer open_time decides the file's time unit.
      std::string_view first = Trim(line.substr(0, line.find(',')));
      int64_t v;
      int digits = r.ot_digits;
      if (tokenized || ParseInt(first, &v, &digits)) {
        ctx.unit = UnitForDigits(digits);
        if (ctx.unit.digits == 0) {
          return InvalidArgument(
              "{}: line {}: open_time {} has {} digits; cannot tell the time unit (expected 13 "
              "for ms, 16 for us or 10 for s)",
              out.name, rd.line_no(), Quoted(first), digits);
        }
        out.time_unit = ctx.unit.name;
      }
    }
    Micros ot_us = 0, ct_us = 0;
    if (tokenized && CheckKline(r, kFull, ctx, &ot_us, &ct_us, &reason)) {
      Push(out.batch, r, ot_us, ct_us, kFull);
      continue;
    }
    AddBad(out, rd.line_no(), std::move(reason), line);
    reason.clear();
  }
  return Status::Ok();
}

Status ParseBitstampRows(LineReader& rd, const ParseOptions& opt, ParsedFile& out) {
  const Interval& iv = out.batch.interval;
  const FileCtx ctx = MakeCtx(out, opt, kFirstOhlcvTime);
  out.time_unit = "s";
  std::string reason;
  std::string_view line;
  std::string_view f[7];
  while (rd.Next(&line)) {
    if (line.empty() || (IsSpace(line[0]) && IsBlank(line))) continue;
    ++out.data_lines;
    reason = Tokenize(line, kBitstampSpec, 7, f);
    Row r;
    Micros ts_us = 0;
    if (reason.empty()) {
      int d;
      ParseDouble(f[1], &r.open);
      ParseDouble(f[2], &r.close);
      ParseDouble(f[3], &r.volume);
      ParseInt(f[4], &r.open_time, &d);
      ParseDouble(f[5], &r.high);
      ParseDouble(f[6], &r.low);
      auto t = ParseTime(f[0]);
      if (!t.ok()) {
        reason = fmt::format("invalid timestamp '{}' (column 1)", Quoted(f[0]));
      } else if (r.open_time > 100'000'000'000 || r.open_time < -100'000'000'000) {
        reason = fmt::format("unix_timestamp {} out of range for seconds", r.open_time);
      } else if (ts_us = r.open_time * kMicrosPerSecond; *t != ts_us) {
        reason = fmt::format("timestamp '{}' disagrees with unix_timestamp {} ({})", Quoted(f[0]),
                             r.open_time, FormatIso(ts_us));
      } else if (ts_us % iv.micros != 0) {
        ++out.off_grid;
        reason = fmt::format("open_time {} ({}) is not aligned to the {} interval", r.open_time,
                             FormatIso(ts_us), iv.name);
      } else if (!CheckOpenTime(ts_us, ctx, &reason)) {
        // reason set
      } else {
        CheckValues(r, false, &reason);
      }
    }
    if (reason.empty()) {
      Push(out.batch, r, ts_us, 0, false);
      continue;
    }
    AddBad(out, rd.line_no(), std::move(reason), line);
    reason.clear();
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ParsedFile> ParseCsv(std::string_view name, std::string_view text,
                              const ParseOptions& opt) {
  ParsedFile out;
  out.name = std::string(name);
  out.bytes = static_cast<int64_t>(text.size());
  RETURN_IF_ERROR(ResolveSymbolInterval(name, opt, &out.batch.symbol, &out.batch.interval));

  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
  LineReader rd(text);

  // The first non-empty line decides the format and whether there is a header.
  std::string_view first;
  const char* first_pos = rd.pos();
  int64_t first_line_no = 0;
  bool found = false;
  while (true) {
    const char* pos = rd.pos();
    if (!rd.Next(&first)) break;
    if (!IsBlank(first)) {
      found = true;
      first_pos = pos;
      first_line_no = rd.line_no();
      break;
    }
  }
  Format format = opt.format;
  if (!found) {
    if (format == Format::kAuto) {
      return InvalidArgument("{}: cannot detect the CSV format (the file is empty); pass --format",
                             name);
    }
  } else {
    std::string_view t = Trim(first);
    bool header = !t.empty() && (IsAlpha(t[0]) || t[0] == '"');
    Format named = Format::kAuto;
    if (header) {
      named = HeaderFormat(first);
    } else {
      std::string_view f[12];
      int64_t v;
      int d;
      if (Split(first, f, 12) == 12 && ParseInt(Trim(f[0]), &v, &d)) named = Format::kVision;
    }
    if (format == Format::kAuto) {
      if (named == Format::kAuto) {
        return InvalidArgument("{}: cannot detect the CSV format (first line: '{}'); pass --format",
                               name, Quoted(first, kMaxQuotedLine));
      }
      format = named;
    } else if (header && named != format) {
      return InvalidArgument("{}: header '{}' does not match --format {} (expected {})", name,
                             Quoted(first, kMaxQuotedLine), FormatName(format),
                             format == Format::kVision
                                 ? std::string(ExpectedHeader(format))
                                 : fmt::format("'{}'", ExpectedHeader(format)));
    }
    if (!header) rd.Rewind(first_pos, first_line_no - 1);
  }

  out.format = format;
  out.batch.full = format == Format::kVision;
  Reserve(out.batch, rd.EstimateRemaining());
  switch (format) {
    case Format::kVision:
      RETURN_IF_ERROR(ParseKlineRows<true>(rd, opt, out));
      break;
    case Format::kOhlcv:
      RETURN_IF_ERROR(ParseKlineRows<false>(rd, opt, out));
      break;
    case Format::kBitstamp:
      RETURN_IF_ERROR(ParseBitstampRows(rd, opt, out));
      break;
    case Format::kAuto:
      break;  // unreachable
  }
  if (out.data_lines == 0) out.time_unit.clear();
  // Most rows off the grid: the interval is wrong for this file, not the rows.
  if (out.off_grid * 2 > out.data_lines) {
    return InvalidArgument("'{}': {} of {} rows are not on the {} grid; is --interval right?", name,
                           out.off_grid, out.data_lines, out.batch.interval.name);
  }
  return out;
}

}  // namespace cryptolake::ingest
