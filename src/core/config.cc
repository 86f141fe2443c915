#include "core/config.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <toml.hpp>

#include "core/symbol.h"
#include "core/time.h"
#include "core/toml_check.h"

namespace cryptolake {

namespace {

namespace fs = std::filesystem;

Status Parse(const toml::value& t, const fs::path& path, Config& c) {
  const Checker ck(path);
  RETURN_IF_ERROR(ck.UnknownKeys(
      t,
      {"symbols", "intervals", "exchange", "stream_url", "lake", "backfill", "alerts", "webhooks"},
      ""));
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
    c.file = path;
  } catch (const std::exception& e) {
    return InvalidArgument("{}: {}", path.string(), e.what());
  }
  return c;
}

}  // namespace cryptolake
