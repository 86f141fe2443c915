#include "ingest/parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <utility>

#include "core/bounds.h"
#include "model/kline_text.h"
#include "model/validate.h"
#include "venues/binance/vision.h"

namespace cryptolake::ingest {

namespace binance = venues::binance;

namespace {

constexpr size_t kMaxBadText = 200;
constexpr size_t kMaxQuotedField = 60;  // longest field quoted inside a reason
constexpr size_t kMaxQuotedLine = 200;  // longest line quoted inside an error message

constexpr const char* kOhlcvCols[] = {"open_time", "open", "high", "low", "close", "volume"};
constexpr const char* kBitstampCols[] = {"timestamp",      "open", "close", "volume",
                                         "unix_timestamp", "high", "low"};
constexpr const char kOhlcvHeader[] = "open_time,open,high,low,close,volume";
constexpr const char kBitstampHeader[] = "timestamp,open,close,volume,unix_timestamp,high,low";

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }
inline bool IsAlpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quoted(std::string_view s, size_t max = kMaxQuotedField) {
  return model::QuotedField(s, max);
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

using model::ParseDecimal;
using model::ParseInt;
using model::RawKline;
using model::ScanDecimal;
using model::ScanInt;

// ---- Fast tokenizer: accepts only plainly formatted rows (every number starts with a digit and
// is followed directly by ',' or the line end); anything else goes to the slow tokenizer, which
// is the authority. For every row the fast path accepts, the slow path gives the same values.

bool FastOhlcv(std::string_view line, RawKline* r) {
  const char* p = line.data();
  const char* e = p + line.size();
  return ScanInt(p, e, &r->open_time, &r->ot_digits) && ScanDecimal(p, e, &r->open, false) &&
         ScanDecimal(p, e, &r->high, false) && ScanDecimal(p, e, &r->low, false) &&
         ScanDecimal(p, e, &r->close, false) && ScanDecimal(p, e, &r->volume, true);
}

// ---- Slow tokenizer: exact reasons.

using model::FieldKind;
using model::FieldSpec;

// Checks the column count, empties and number syntax. Returns the reason, or "" if the row
// tokenizes; `fields` then holds the trimmed fields.
std::string Tokenize(std::string_view line, const FieldSpec* cols, size_t ncols,
                     std::string_view* fields) {
  size_t n = Split(line, fields, ncols);
  if (n != ncols) return fmt::format("expected {} columns, got {}", ncols, n);
  for (size_t i = 0; i < ncols; ++i) {
    if (cols[i].kind == FieldKind::kIgnore) continue;
    fields[i] = Trim(fields[i]);
    std::string reason = model::CheckField(fields[i], cols[i], i + 1);
    if (!reason.empty()) return reason;
  }
  return {};
}

constexpr FieldSpec kOhlcvSpec[] = {
    {"open_time", FieldKind::kInt}, {"open", FieldKind::kDecimal},
    {"high", FieldKind::kDecimal},  {"low", FieldKind::kDecimal},
    {"close", FieldKind::kDecimal}, {"volume", FieldKind::kDecimal}};
constexpr FieldSpec kBitstampSpec[] = {
    {"timestamp", FieldKind::kText},     {"open", FieldKind::kDecimal},
    {"close", FieldKind::kDecimal},      {"volume", FieldKind::kDecimal},
    {"unix_timestamp", FieldKind::kInt}, {"high", FieldKind::kDecimal},
    {"low", FieldKind::kDecimal}};

// The checked path of one vision or ohlcv row.
std::string SlowRow(std::string_view line, bool full, RawKline* r) {
  std::string_view f[binance::kVisionColumnCount];
  if (full) {
    size_t n = Split(line, f, binance::kVisionColumnCount);
    if (n != binance::kVisionColumnCount) {
      return fmt::format("expected {} columns, got {}", binance::kVisionColumnCount, n);
    }
    for (auto& field : f) field = Trim(field);
    return binance::VisionRowFromFields(f, r);
  }
  std::string reason = Tokenize(line, kOhlcvSpec, 6, f);
  if (!reason.empty()) return reason;
  ParseInt(f[0], &r->open_time, &r->ot_digits);
  ParseDecimal(f[1], &r->open);
  ParseDecimal(f[2], &r->high);
  ParseDecimal(f[3], &r->low);
  ParseDecimal(f[4], &r->close);
  ParseDecimal(f[5], &r->volume);
  return {};
}

// ---- Row validation.

// The time rule of a file: its unit (decided by the first data row), grid and bounds.
model::TimeRule MakeRule(ParsedFile& out, const ParseOptions& opt, Micros first) {
  return model::TimeRule{
      .interval = &out.batch.interval,
      .first = first,
      .now_bound = opt.now.value_or(std::numeric_limits<Micros>::max() / 2),
  };
}

// Vision rows through the Binance adapter's row checks; ohlcv rows through the same time
// checks (from the first bitcoin block) and model::ValidateKline. On success the times are
// micros.
std::string CheckRow(RawKline* r, bool full, const model::TimeRule& rule, bool* off_grid) {
  if (full) return binance::CheckVisionRow(r, rule, off_grid);
  std::string reason = model::CheckRawTimes(r, false, rule, off_grid);
  if (!reason.empty()) return reason;
  return model::ValidateKline(*r, false);
}

void AddBad(ParsedFile& out, int64_t line, std::string reason, std::string_view text) {
  out.bad.push_back(
      BadRow{out.name, line, std::move(reason), std::string(text.substr(0, kMaxBadText))});
}

template <bool kFull>
Status ParseKlineRows(LineReader& rd, const ParseOptions& opt, ParsedFile& out) {
  model::TimeRule rule = MakeRule(out, opt, kFull ? kFirstBinanceKline : kFirstOhlcvTime);
  std::string reason;
  std::string_view line;
  while (rd.Next(&line)) {
    if (line.empty() || (IsSpace(line[0]) && IsBlank(line))) continue;
    ++out.data_lines;
    RawKline r;
    bool tokenized = kFull ? binance::ScanVisionRow(line, &r) : FastOhlcv(line, &r);
    if (!tokenized) {
      reason = SlowRow(line, kFull, &r);
      tokenized = reason.empty();
    }
    if (rule.unit.digits == 0) {
      // The first data row with an integer open_time decides the file's time unit.
      std::string_view first = Trim(line.substr(0, line.find(',')));
      int64_t v;
      int digits = r.ot_digits;
      if (tokenized || ParseInt(first, &v, &digits)) {
        rule.unit = model::TimeUnitForDigits(digits);
        if (rule.unit.digits == 0) {
          return InvalidArgument("{}: line {}: {}", out.name, rd.line_no(),
                                 model::UndecidableTimeUnit(first, digits));
        }
        out.time_unit = rule.unit.name;
      }
    }
    bool off_grid = false;
    if (tokenized) reason = CheckRow(&r, kFull, rule, &off_grid);
    if (tokenized && reason.empty()) {
      out.batch.Add(r);
      continue;
    }
    if (off_grid) ++out.off_grid;
    AddBad(out, rd.line_no(), std::move(reason), line);
    reason.clear();
  }
  return Status::Ok();
}

Status ParseBitstampRows(LineReader& rd, const ParseOptions& opt, ParsedFile& out) {
  const Interval& iv = out.batch.interval;
  const model::TimeRule rule = MakeRule(out, opt, kFirstOhlcvTime);
  out.time_unit = "s";
  std::string reason;
  std::string_view line;
  std::string_view f[7];
  while (rd.Next(&line)) {
    if (line.empty() || (IsSpace(line[0]) && IsBlank(line))) continue;
    ++out.data_lines;
    reason = Tokenize(line, kBitstampSpec, 7, f);
    model::Kline r;
    Micros ts_us = 0;
    if (reason.empty()) {
      int d;
      ParseDecimal(f[1], &r.open);
      ParseDecimal(f[2], &r.close);
      ParseDecimal(f[3], &r.volume);
      ParseInt(f[4], &r.open_time, &d);
      ParseDecimal(f[5], &r.high);
      ParseDecimal(f[6], &r.low);
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
      } else if (reason = OpenTimeBoundError(ts_us, iv, rule.first, rule.now_bound);
                 reason.empty()) {
        reason = model::ValidateKline(r, false);
      }
    }
    if (reason.empty()) {
      r.open_time = ts_us;
      out.batch.Add(r);
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
  out.batch.Reserve(rd.EstimateRemaining());
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
