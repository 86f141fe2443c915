// What a CSV parse is told (ingest/parser.h): format names, and the symbol and interval taken from
// the options or spelled in the file name. Called once per file, apart from the row parsing of
// parser.cc (the import's hot path).
#include <string>

#include "core/symbol.h"
#include "ingest/parser.h"

namespace cryptolake::ingest {

namespace {

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

StatusOr<Format> ParseFormat(std::string_view s) {
  if (s == "auto") return Format::kAuto;
  if (s == "vision") return Format::kVision;
  if (s == "ohlcv") return Format::kOhlcv;
  if (s == "bitstamp") return Format::kBitstamp;
  return InvalidArgument("unknown format '{}' (accepted: auto, vision, ohlcv, bitstamp)", s);
}

const char* FormatName(Format f) {
  switch (f) {
    case Format::kAuto:
      return "auto";
    case Format::kVision:
      return "vision";
    case Format::kOhlcv:
      return "ohlcv";
    case Format::kBitstamp:
      return "bitstamp";
  }
  return "?";
}

NameParts SplitFileName(std::string_view name) {
  size_t cut = name.find_last_of("/:");
  std::string_view s = cut == std::string_view::npos ? name : name.substr(cut + 1);
  auto upper_or_digit = [](char c) { return (c >= 'A' && c <= 'Z') || IsAsciiDigit(c); };
  size_t i = 0;
  while (i < s.size() && upper_or_digit(s[i])) ++i;
  if (i < 3 || i >= s.size() || (s[i] != '-' && s[i] != '_')) return {};
  size_t j = i + 1, k = j;
  while (k < s.size() && IsAsciiDigit(s[k])) ++k;
  if (k == j || k >= s.size() || (s[k] != 'm' && s[k] != 'h' && s[k] != 'd')) return {};
  ++k;
  if (k >= s.size() || (s[k] != '-' && s[k] != '_' && s[k] != '.')) return {};
  return {std::string(s.substr(0, i)), std::string(s.substr(j, k - j))};
}

Status ResolveSymbolInterval(std::string_view name, const ParseOptions& opt, std::string* symbol,
                             Interval* interval) {
  NameParts parts = SplitFileName(name);
  if (opt.symbol) {
    ASSIGN_OR_RETURN(*symbol, NormalizeSymbol(*opt.symbol));
  } else if (!parts.symbol.empty()) {
    auto norm = NormalizeSymbol(parts.symbol);
    if (!norm.ok()) {
      return InvalidArgument("cannot infer symbol from file name '{}': {}; pass --symbol", name,
                             norm.status().message());
    }
    *symbol = *norm;
  } else {
    return InvalidArgument("cannot infer symbol from file name '{}'; pass --symbol", name);
  }
  if (opt.interval) {
    if (opt.interval->micros <= 0) {
      return InvalidArgument("invalid interval '{}'", opt.interval->name);
    }
    *interval = *opt.interval;
  } else if (!parts.interval.empty()) {
    auto iv = Interval::Parse(parts.interval);
    if (!iv.ok()) {
      return InvalidArgument("cannot infer interval from file name '{}': {}; pass --interval", name,
                             iv.status().message());
    }
    *interval = *iv;
  } else {
    return InvalidArgument("cannot infer interval from file name '{}'; pass --interval", name);
  }
  return Status::Ok();
}

}  // namespace cryptolake::ingest
