// Checked reading of TOML values for config files: every getter returns
// "<file>: <key> must be <what>, got <value>" when a value is not what the key allows
// (core/config.cc, alerts/rules.cc).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <toml.hpp>
#include <vector>

#include "core/status.h"

namespace cryptolake {

// A TOML value as the message shows it: numbers and booleans as written, strings quoted,
// anything else by its kind.
inline std::string Shown(const toml::value& v) {
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
  explicit Checker(const std::filesystem::path& file) : file_(file.string()) {}

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

  // A number (integer or float) in [lo, hi].
  StatusOr<double> Number(std::string_view key, const toml::value& v, double lo, double hi) const {
    const std::string what = fmt::format("a number in [{}, {}]", lo, hi);
    double x = 0;
    if (v.is_integer()) {
      x = static_cast<double>(v.as_integer());
    } else if (v.is_floating()) {
      x = v.as_floating();
    } else {
      return Bad(key, what, v);
    }
    if (!(x >= lo && x <= hi)) return Bad(key, what, v);
    return x;
  }

  // One of `allowed` (a string).
  StatusOr<std::string> OneOf(std::string_view key, const toml::value& v,
                              const std::vector<std::string>& allowed) const {
    std::string what = "one of";
    for (size_t i = 0; i < allowed.size(); ++i) {
      what += fmt::format("{}\"{}\"", i == 0 ? " " : ", ", allowed[i]);
    }
    if (!v.is_string()) return Bad(key, what, v);
    for (const auto& a : allowed) {
      if (v.as_string().str == a) return a;
    }
    return Bad(key, what, v);
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

}  // namespace cryptolake
