#include "core/config.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <toml.hpp>

#include "core/symbol.h"
#include "core/time.h"

namespace cryptolake {

namespace {

namespace fs = std::filesystem;

// A TOML value as the message shows it: numbers and booleans as written, strings quoted,
// anything else by its kind.
std::string Shown(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::boolean:
      return v.as_boolean() ? "true" : "false";
    case toml::value_t::integer:
      return fmt::format("{}", v.as_integer());
    case toml::value_t::floating:
      return fmt::format("{}", v.as_floating());
    case toml::value_t::string:
      return fmt::format("\"{}\"", v.as_string().str);
    case toml::value_t::array:
      return "an array";
    case toml::value_t::table:
      return "a table";
    default:
      return "a date or time (quote it)";
  }
}

// Checks the values of one config file. Each getter returns "<file>: <key> must be <what>, got
// <value>" when the value is not what the key allows.
class Checker {
 public:
  explicit Checker(const fs::path& file) : file_(file.string()) {}

  Status Bad(std::string_view key, std::string_view what, const toml::value& v) const {
    return InvalidArgument("{}: {} must be {}, got {}", file_, key, what, Shown(v));
  }

  // An integer in [lo, hi].
  StatusOr<int64_t> Integer(std::string_view key, const toml::value& v, int64_t lo, int64_t hi,
                            std::string_view unit = "") const {
    const std::string what = fmt::format("an integer{} in [{}, {}]", unit, lo, hi);
    if (!v.is_integer() || v.as_integer() < lo || v.as_integer() > hi) return Bad(key, what, v);
    return v.as_integer();
  }

  // A number (integer or float) in (lo, hi].
  StatusOr<double> NumberAboveUpTo(std::string_view key, const toml::value& v, double lo,
                                   double hi) const {
    const std::string what = fmt::format("a number in ({}, {}]", lo, hi);
    double x = 0;
    if (v.is_integer()) {
      x = static_cast<double>(v.as_integer());
    } else if (v.is_floating()) {
      x = v.as_floating();
    } else {
      return Bad(key, what, v);
    }
    if (!(x > lo && x <= hi)) return Bad(key, what, v);
    return x;
  }

  // A non-empty string.
  StatusOr<std::string> String(std::string_view key, const toml::value& v,
                               std::string_view what = "a non-empty string") const {
    if (!v.is_string() || v.as_string().str.empty()) return Bad(key, what, v);
    return v.as_string().str;
  }

  // A non-empty array of non-empty strings.
  StatusOr<std::vector<std::string>> Strings(std::string_view key, const toml::value& v) const {
    constexpr std::string_view what = "a non-empty array of non-empty strings";
    if (!v.is_array() || v.as_array().empty()) return Bad(key, what, v);
    std::vector<std::string> out;
    for (const auto& item : v.as_array()) {
      if (!item.is_string() || item.as_string().str.empty()) {
        return InvalidArgument("{}: {} must be {}, got {} in it", file_, key, what, Shown(item));
      }
      out.push_back(item.as_string().str);
    }
    return out;
  }

  Status UnknownKeys(const toml::value& table, const std::set<std::string>& known,
                     std::string_view prefix) const {
    for (const auto& [k, v] : table.as_table()) {
      if (!known.count(k)) return InvalidArgument("{}: unknown key '{}{}'", file_, prefix, k);
    }
    return Status::Ok();
  }

  Status Table(std::string_view key, const toml::value& v) const {
    if (!v.is_table()) return Bad(key, "a table", v);
    return Status::Ok();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

Status Parse(const toml::value& t, const fs::path& path, Config& c) {
  const Checker ck(path);
  RETURN_IF_ERROR(ck.UnknownKeys(
      t, {"symbols", "intervals", "exchange", "stream_url", "lake", "backfill"}, ""));
  if (t.contains("symbols")) {
    ASSIGN_OR_RETURN(c.symbols, ck.Strings("symbols", t.at("symbols")));
    for (auto& sym : c.symbols) {
      auto norm = NormalizeSymbol(sym);
      if (!norm.ok()) return norm.status().WithContext(ck.file() + ": symbols");
      sym = *norm;
    }
  }
  if (t.contains("intervals")) {
    ASSIGN_OR_RETURN(c.intervals, ck.Strings("intervals", t.at("intervals")));
    for (const auto& name : c.intervals) {
      if (auto iv = Interval::Parse(name); !iv.ok()) {
        return iv.status().WithContext(ck.file() + ": intervals");
      }
    }
  }
  if (t.contains("exchange")) {
    ASSIGN_OR_RETURN(c.exchange, ck.String("exchange", t.at("exchange"), "a non-empty URL"));
  }
  if (t.contains("stream_url")) {
    ASSIGN_OR_RETURN(c.stream_url, ck.String("stream_url", t.at("stream_url"), "a non-empty URL"));
  }
  if (t.contains("lake")) {
    const auto& lake = t.at("lake");
    RETURN_IF_ERROR(ck.Table("lake", lake));
    RETURN_IF_ERROR(ck.UnknownKeys(lake, {"data", "gc_grace_seconds"}, "lake."));
    if (lake.contains("data")) {
      ASSIGN_OR_RETURN(std::string data,
                       ck.String("lake.data", lake.at("data"),
                                 "a non-empty path (relative to this file, or absolute)"));
      fs::path p = data;
      c.data_root = p.is_absolute() ? p : path.parent_path() / p;
    }
    if (lake.contains("gc_grace_seconds")) {
      ASSIGN_OR_RETURN(c.gc_grace_seconds,
                       ck.Integer("lake.gc_grace_seconds", lake.at("gc_grace_seconds"), 0,
                                  kMaxGcGraceSeconds, " number of seconds"));
    }
  }
  if (t.contains("backfill")) {
    const auto& b = t.at("backfill");
    RETURN_IF_ERROR(ck.Table("backfill", b));
    RETURN_IF_ERROR(ck.UnknownKeys(b, {"start", "concurrency", "weight_budget"}, "backfill."));
    if (b.contains("start")) {
      ASSIGN_OR_RETURN(c.backfill_start,
                       ck.String("backfill.start", b.at("start"), "a time such as \"2025-01-01\""));
      if (auto st = ParseTime(c.backfill_start); !st.ok()) {
        return st.status().WithContext(ck.file() + ": backfill.start");
      }
    }
    if (b.contains("concurrency")) {
      ASSIGN_OR_RETURN(int64_t n, ck.Integer("backfill.concurrency", b.at("concurrency"), 1,
                                             kMaxBackfillConcurrency));
      c.backfill_concurrency = static_cast<int>(n);
    }
    if (b.contains("weight_budget")) {
      ASSIGN_OR_RETURN(c.backfill_weight_budget,
                       ck.NumberAboveUpTo("backfill.weight_budget", b.at("weight_budget"), 0, 1));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Config> Config::Load(const std::filesystem::path& path, bool required) {
  Config c;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) return NotFound("config file {} does not exist", path.string());
    return c;
  }
  try {
    RETURN_IF_ERROR(Parse(toml::parse(path.string()), path, c));
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", path.string(), e.what());
  }
  return c;
}

}  // namespace cryptolake
