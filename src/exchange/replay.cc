// The replay exchange's data part (replay_data.h): loading the recorded klines (kline files or a
// lake), the synthetic symbols derived from them, and the exchange clock.
#include "exchange/replay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>
#include <tuple>

#include "exchange/replay_data.h"
#include "ingest/parser.h"
#include "lake/klines.h"
#include "lake/lake.h"
#include "lake/typed.h"

namespace cryptolake::exchange {

namespace replay {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Loading

Status AddBatch(const ingest::KlineBatch& b, SeriesMap& out) {
  auto [it, inserted] = out.try_emplace({b.symbol, b.interval.name});
  Series& s = it->second;
  if (inserted) {
    s.symbol = b.symbol;
    s.interval = b.interval;
  }
  s.rows.reserve(s.rows.size() + b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    Row r;
    r.open_time = b.open_time[i];
    r.open = b.open[i];
    r.high = b.high[i];
    r.low = b.low[i];
    r.close = b.close[i];
    r.volume = b.volume[i];
    if (b.full) {
      r.close_time = b.close_time[i];
      r.quote_volume = b.quote_volume[i];
      r.trades = b.trades[i];
      r.taker_buy_base = b.taker_buy_base[i];
      r.taker_buy_quote = b.taker_buy_quote[i];
    } else {
      r.close_time = r.open_time + b.interval.micros - 1;
    }
    s.rows.push_back(r);
  }
  return Status::Ok();
}

// Sorts every series by open_time; of rows with the same open_time the first added wins.
void SortAndDedup(SeriesMap& m) {
  for (auto& [key, s] : m) {
    std::stable_sort(s.rows.begin(), s.rows.end(),
                     [](const Row& a, const Row& b) { return a.open_time < b.open_time; });
    auto last = std::unique(s.rows.begin(), s.rows.end(),
                            [](const Row& a, const Row& b) { return a.open_time == b.open_time; });
    size_t dups = static_cast<size_t>(s.rows.end() - last);
    s.rows.erase(last, s.rows.end());
    if (dups > 0) {
      spdlog::info("replay-exchange: {} {}: {} duplicate klines ignored (first occurrence wins)",
                   s.symbol, s.interval.name, dups);
    }
  }
}

StatusOr<SeriesMap> LoadFiles(const std::vector<std::string>& data) {
  ASSIGN_OR_RETURN(std::vector<fs::path> inputs, ingest::ExpandInputs(data));
  // Parse in parallel; results keep the input order so that the first occurrence wins.
  std::vector<StatusOr<std::vector<ingest::ParsedFile>>> results(inputs.size(),
                                                                 Internal("not parsed"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      results[i] = ingest::ParseInput(inputs[i], ingest::ParseOptions{});
    }
  };
  size_t n = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), inputs.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  SeriesMap out;
  int64_t bad = 0, bad_files = 0;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    for (auto& f : r.value()) {
      if (!f.bad.empty()) {
        bad += static_cast<int64_t>(f.bad.size());
        ++bad_files;
        spdlog::debug("replay-exchange: {}:{}: {}", f.bad.front().file, f.bad.front().line,
                      f.bad.front().reason);
      }
      RETURN_IF_ERROR(AddBatch(f.batch, out));
    }
  }
  if (bad > 0) {
    spdlog::warn("replay-exchange: skipped {} bad rows in {} files (first reasons with -v)", bad,
                 bad_files);
  }
  SortAndDedup(out);
  return out;
}

StatusOr<SeriesMap> LoadLake(const fs::path& root, const Clock& clock) {
  ASSIGN_OR_RETURN(lake::Lake lk, lake::Lake::Open(root, clock));
  ASSIGN_OR_RETURN(lake::Snapshot snap, lk.GetSnapshot());
  ASSIGN_OR_RETURN(lake::DatabasePtr db, lake::OpenDatabase());
  ASSIGN_OR_RETURN(lake::ConnectionPtr con, lake::OpenConnection(*db));
  SeriesMap out;
  for (const Interval& iv : lake::KlineIntervals(snap)) {
    ASSIGN_OR_RETURN(std::vector<model::Kline> rows, lake::ReadKlines(*con, snap, iv));
    Series* s = nullptr;
    for (Row& row : rows) {
      if (!s || s->symbol != row.symbol) {
        s = &out[{row.symbol, iv.name}];
        s->symbol = row.symbol;
        s->interval = iv;
      }
      if (row.close_time == 0) row.close_time = row.open_time + iv.micros - 1;
      s->rows.push_back(std::move(row));
    }
  }
  SortAndDedup(out);  // already unique; keeps the invariant explicit
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

}  // namespace

StatusOr<SeriesMap> LoadSeries(const std::vector<std::string>& data, const Clock& clock) {
  std::error_code ec;
  if (data.size() == 1 && fs::is_directory(data[0], ec) &&
      fs::exists(fs::path(data[0]) / "_manifest.json", ec)) {
    return LoadLake(data[0], clock);
  }
  return LoadFiles(data);
}

// Adds `n` synthetic series (replay.h) to `m`.
Status AddSynthetic(int n, uint64_t seed, SeriesMap& m) {
  if (n < 0) return InvalidArgument("replay-exchange: synthetic symbols must be >= 0, got {}", n);
  if (n == 0) return Status::Ok();
  std::set<std::string> loaded;
  for (const auto& [key, s] : m) {
    if (!s.rows.empty()) loaded.insert(s.symbol);
  }
  for (int k = 0; k < n; ++k) {
    if (loaded.count(SyntheticSymbol(k))) {
      return InvalidArgument("replay-exchange: recorded symbol {} clashes with a synthetic one",
                             SyntheticSymbol(k));
    }
  }
  std::vector<std::string> sources;
  if (loaded.count("BTCUSDT") && loaded.count("ETHUSDT")) {
    sources = {"BTCUSDT", "ETHUSDT"};
  } else {
    sources.assign(loaded.begin(), loaded.end());
  }
  if (sources.empty()) return InvalidArgument("replay-exchange: no klines to derive symbols from");
  SeriesMap add;
  for (int k = 0; k < n; ++k) {
    const std::string& from = sources[static_cast<size_t>(k) % sources.size()];
    const SyntheticScale sc = SyntheticScaleOf(k, seed);
    const std::string name = SyntheticSymbol(k);
    for (const auto& [key, s] : m) {
      if (s.symbol != from) continue;
      Series& t = add[{name, key.second}];
      t.symbol = name;
      t.interval = s.interval;
      t.rows = s.rows;
      for (Row& r : t.rows) {
        r.open = ScaleExact(r.open, sc.price);
        r.high = ScaleExact(r.high, sc.price);
        r.low = ScaleExact(r.low, sc.price);
        r.close = ScaleExact(r.close, sc.price);
        r.volume = ScaleExact(r.volume, sc.volume);
        r.taker_buy_base = ScaleExact(r.taker_buy_base, sc.volume);
        r.quote_volume = ScaleExact(r.quote_volume, sc.price * sc.volume);
        r.taker_buy_quote = ScaleExact(r.taker_buy_quote, sc.price * sc.volume);
      }
    }
  }
  m.merge(add);
  return Status::Ok();
}

std::vector<std::string> DescribeSeries(const SeriesMap& m) {
  std::vector<const Series*> all;
  for (const auto& [key, s] : m) {
    if (!s.rows.empty()) all.push_back(&s);
  }
  std::sort(all.begin(), all.end(), [](const Series* a, const Series* b) {
    return std::tie(a->symbol, a->interval.micros) < std::tie(b->symbol, b->interval.micros);
  });
  std::vector<std::string> out;
  for (const Series* s : all) {
    out.push_back(fmt::format("{} {}: {} klines {}..{}", s->symbol, s->interval.name,
                              s->rows.size(), FormatIso(s->rows.front().open_time),
                              FormatIso(s->rows.back().open_time)));
  }
  return out;
}

// "%.8f" when it reads back as the same double (Binance's look), else the shortest round trip.
// (std::to_chars/from_chars: the same digits as printf/strtod, without their locale overhead.)
void AppendDecimal(std::string& out, double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 8);
  double back = 0;
  if (ec == std::errc() && std::from_chars(buf, end, back).ec == std::errc() && back == v) {
    out.append(buf, end);
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

Micros ExchangeClock::Now() const {
  double dt = static_cast<double>(clock->Now() - clock0) * speed;
  return start + static_cast<Micros>(std::llround(dt));
}

}  // namespace replay

// ---------------------------------------------------------------------------------------------
// Synthetic symbols (replay.h)

std::string SyntheticSymbol(int k) { return fmt::format("SYN{:03d}USDT", k); }

SyntheticScale SyntheticScaleOf(int k, uint64_t seed) {
  // SplitMix64's finalizer over seed + k.
  uint64_t h = seed + static_cast<uint64_t>(k);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  double pow10 = 1;
  for (int i = 0; i < k % 7; ++i) pow10 *= 10;
  SyntheticScale s;
  s.price = pow10 * static_cast<double>(100 + h % 900) / 100.0;
  s.volume = static_cast<double>(1 + k % 4);
  return s;
}

double ScaleExact(double x, double factor) {
  const double v = x * factor;
  if (v == 0 || !std::isfinite(v)) return v;
  constexpr double kExact = 9007199254740992.0;  // 2^53
  double p = 1e8;
  while (p > 1 && std::fabs(v) * p >= kExact) p /= 10;
  return std::round(v * p) / p;
}

}  // namespace cryptolake::exchange
