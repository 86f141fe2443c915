// Checks of flag values, for CLI11 options (app/main.cc). A value a check refuses is a usage
// error (exit code 64) printed as "error: <flag>: must be <what>, got '<value>'"; the option's
// help shows the allowed range after its type, e.g. "--port INT:in [0, 65535]".
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/symbol.h"

namespace cryptolake::app::flags {

// Durations in seconds stay within 10 years, so that seconds * 1e6 always fits in Micros.
inline constexpr double kMaxSeconds = 10.0 * 365 * 24 * 3600;  // 315360000

namespace detail {

inline bool ParseInt(const std::string& v, long long* out) {
  if (v.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtoll(v.c_str(), &end, 10);
  return errno == 0 && end == v.c_str() + v.size();
}

inline bool ParseNumber(const std::string& v, double* out) {
  if (v.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(v.c_str(), &end);
  return end == v.c_str() + v.size() && std::isfinite(*out);
}

}  // namespace detail

// An integer in [lo, hi].
inline CLI::Validator IntIn(long long lo, long long hi) {
  const std::string range = fmt::format("in [{}, {}]", lo, hi);
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        long long x = 0;
        if (detail::ParseInt(v, &x) && x >= lo && x <= hi) return "";
        return fmt::format("must be an integer {}, got '{}'", range, v);
      },
      range);
}

// An integer >= lo.
inline CLI::Validator IntAtLeast(long long lo) {
  const std::string range = fmt::format(">= {}", lo);
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        long long x = 0;
        if (detail::ParseInt(v, &x) && x >= lo) return "";
        return fmt::format("must be an integer {}, got '{}'", range, v);
      },
      range);
}

// A finite number between lo and hi, each end included unless `*_open`. `what` names it in the
// message ("a number", "a share of wall time", ...).
inline CLI::Validator Number(double lo, bool lo_open, double hi, bool hi_open,
                             std::string what = "a number") {
  const std::string range =
      fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        double x = 0;
        if (detail::ParseNumber(v, &x) && (lo_open ? x > lo : x >= lo) &&
            (hi_open ? x < hi : x <= hi)) {
          return "";
        }
        return fmt::format("must be {} {}, got '{}'", what, range, v);
      },
      range);
}

// A finite number > 0.
inline CLI::Validator Positive() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        double x = 0;
        if (detail::ParseNumber(v, &x) && x > 0) return "";
        return fmt::format("must be a number > 0, got '{}'", v);
      },
      "> 0");
}

// A seed: an integer in [0, 2^64 - 1] (CLI11 would take -1 as 2^64 - 1).
inline CLI::Validator Seed() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        (void)std::strtoull(v.c_str(), &end, 10);
        if (!v.empty() && v[0] >= '0' && v[0] <= '9' && errno == 0 && end == v.c_str() + v.size()) {
          return "";
        }
        return fmt::format("must be an integer in [0, 18446744073709551615], got '{}'", v);
      },
      "in [0, 18446744073709551615]");
}

// A duration in seconds: in (0, kMaxSeconds].
inline CLI::Validator Seconds() {
  return Number(0, true, kMaxSeconds, false, "a number of seconds");
}

// One of `choices`, e.g. "must be both, producer or consumer, got 'x'".
inline CLI::Validator OneOf(std::vector<std::string> choices) {
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        for (const auto& c : choices) {
          if (v == c) return "";
        }
        return fmt::format("must be {}, got '{}'", list, v);
      },
      "");
}

// A name that becomes part of a file name: 1 to 64 letters, digits, '-' and '_'.
inline CLI::Validator FileNamePart() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        bool ok = !v.empty() && v.size() <= 64;
        for (char c : v) {
          ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
        }
        return ok ? "" : fmt::format("must be 1 to 64 letters, digits, '-' or '_', got '{}'", v);
      },
      "");
}

// A value that must not be empty: a path, a URL, a symbol... ("" never means "the default").
inline CLI::Validator NonEmpty() {
  return CLI::Validator(
      [](std::string& v) -> std::string { return v.empty() ? "must not be empty" : ""; }, "");
}

// A comma-separated list (repeatable flags take several): neither empty nor with an empty item.
// The command splits it (SplitList in app/commands.h).
inline CLI::Validator NonEmptyList() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v.empty()) return "must not be empty";
        size_t start = 0;
        while (true) {
          size_t comma = v.find(',', start);
          if (comma == std::string::npos) comma = v.size();
          if (comma == start) return fmt::format("has an empty item in '{}'", v);
          if (comma == v.size()) return "";
          start = comma + 1;
        }
      },
      "");
}

// A symbol (core/symbol.h), normalized in place to upper case: use with ->transform(), not
// ->check(), so that the command sees the normalized value. Refused: "error: --symbol: symbol
// 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)".
inline CLI::Validator Symbol() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v.empty()) return "must not be empty";
        auto s = NormalizeSymbol(v);
        if (!s.ok()) return s.status().message();
        v = *s;
        return "";
      },
      "");
}

// A comma-separated list of symbols (repeatable flags take several), each normalized in place as
// by Symbol(); an empty item is refused as by NonEmptyList(). Use with ->transform().
inline CLI::Validator SymbolList() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v.empty()) return "must not be empty";
        std::string out;
        size_t start = 0;
        while (true) {
          size_t comma = v.find(',', start);
          if (comma == std::string::npos) comma = v.size();
          if (comma == start) return fmt::format("has an empty item in '{}'", v);
          auto s = NormalizeSymbol(std::string_view(v).substr(start, comma - start));
          if (!s.ok()) return s.status().message();
          out += (out.empty() ? "" : ",") + *s;
          if (comma == v.size()) break;
          start = comma + 1;
        }
        v = out;
        return "";
      },
      "");
}

}  // namespace cryptolake::app::flags
