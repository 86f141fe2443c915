// Backfill throughput against the rate-limit ceiling (issue 3, "Must show" 3).
//
// The replay exchange (in process, real clock, real HTTP on 127.0.0.1) serves the real 1m
// klines of ../shared/data with Binance's limit of 6000 weight per minute. Backfill fetches
// them into fresh lakes, round after round, through ONE rate governor (budget 80%), for
// --minutes whole minutes. Printed in the same run:
//   ceiling    the budgeted ceiling: 6000 * budget / 2 weight per request * 1000 klines per
//              request = 2,400,000 klines per minute (40,000/s)
//   capacity   the same backfill with no limit (median of --runs rounds): what the pipeline
//              could do if the exchange let it
//   throttled  klines/s over the whole run (flattered by the first minute's burst)
//   sustained  the weight the governor granted inside the first M whole minutes (its send
//              log) against M budgets: a perfect client gets exactly M x 4800, i.e. M x 2.4M
//              klines. This is the fraction of the budgeted ceiling the goal is about.
// Also: 429s and 418s seen (both must be 0).
// Usage: backfill_bench [--minutes M] [--runs K]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backfill/backfill.h"
#include "exchange/governor.h"
#include "exchange/replay.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "venues/binance/rest.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

[[noreturn]] void Die(const Status& s) {
  std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Check(StatusOr<T> r) {
  if (!r.ok()) Die(r.status());
  return std::move(r).value();
}

struct Round {
  int64_t rows = 0;
  double seconds = 0;
};

// One backfill of both symbols' 1m history into a fresh lake under `dir`.
Round BackfillOnce(const fs::path& dir, venues::binance::BinanceRest& rest, lake::Connection& con) {
  fs::remove_all(dir);
  auto lk = Check(lake::Lake::Open(dir, SystemClock::Instance()));
  backfill::BackfillOptions o;
  o.symbols = {"BTCUSDT", "ETHUSDT"};
  o.intervals = {Check(Interval::Parse("1m"))};
  o.from = Check(ParseTime("2021-04-02"));
  o.progress = false;
  auto t0 = std::chrono::steady_clock::now();
  auto st = Check(backfill::Backfill(lk, con, rest, o));
  Round r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.rows = st.fetched();
  if (!st.failures.empty()) Die(Status(StatusCode::kInternal, st.failures[0].error));
  fs::remove_all(dir);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int minutes = 2;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--minutes") {
      minutes = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--runs") {
      runs = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: backfill_bench [--minutes M] [--runs K]\n");
      return 64;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const fs::path klines = fs::path(CL_SHARED_DATA) / "binance-spot/klines/1m";
  const fs::path work = fs::temp_directory_path() / fmt::format("cl-backfill-bench-{}", getpid());
  const Clock& clock = SystemClock::Instance();

  exchange::ReplayOptions ro;  // weight_limit 6000
  auto ex = Check(exchange::ReplayExchange::Create({klines.string()}, clock, ro));
  if (Status s = ex->Start(); !s.ok()) Die(s);
  auto db = Check(lake::Database::Open());
  auto con = Check(lake::Connection::Open(db));
  std::printf("replay exchange: %lld 1m klines (both symbols) on %s\n",
              static_cast<long long>(ex->klines_loaded()), ex->url().c_str());

  venues::binance::RestOptions rest_opt;
  rest_opt.base_url = ex->url();

  // Capacity: no limit on either side.
  std::vector<double> capacity;
  {
    exchange::GovernorOptions go;
    go.weight_limit = 1'000'000'000;
    exchange::RateGovernor gov(clock, go);
    auto ex_unlimited = exchange::ReplayOptions{};
    ex_unlimited.weight_limit = 1'000'000'000;
    auto ex2 = Check(exchange::ReplayExchange::Create({klines.string()}, clock, ex_unlimited));
    if (Status s = ex2->Start(); !s.ok()) Die(s);
    venues::binance::RestOptions o2 = rest_opt;
    o2.base_url = ex2->url();
    venues::binance::BinanceRest rest2(o2, gov, clock);
    for (int i = 0; i < runs; ++i) {
      Round r = BackfillOnce(work / "capacity", rest2, con);
      capacity.push_back(static_cast<double>(r.rows) / r.seconds);
      std::printf("  capacity round %d: %lld klines in %.2f s (%.0f/s)\n", i + 1,
                  static_cast<long long>(r.rows), r.seconds, capacity.back());
    }
  }

  // Throttled: the real limit, one governor for every round, for `minutes` whole minutes.
  exchange::GovernorOptions go;  // 6000 * 0.8
  exchange::RateGovernor gov(clock, go);
  venues::binance::BinanceRest rest(rest_opt, gov, clock);
  const double per_minute = static_cast<double>(go.budget()) / 2 * 1000;
  const Micros start = clock.Now();
  const Micros end = start + static_cast<Micros>(minutes) * kMicrosPerMinute;
  int64_t rows = 0;
  int round = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (clock.Now() < end + 2 * kMicrosPerSecond) {
    Round r = BackfillOnce(work / "throttled", rest, con);
    rows += r.rows;
    std::printf("  throttled round %d: %lld klines in %.2f s\n", ++round,
                static_cast<long long>(r.rows), r.seconds);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ex->Stop();
  fs::remove_all(work);

  // What the governor granted inside the measured minutes, from its send log.
  int64_t weight = 0, klines_requests = 0;
  for (const auto& e : gov.Events()) {
    if (e.kind != exchange::GovernorEvent::kSend || e.at < start || e.at >= end) continue;
    weight += e.weight;
    klines_requests += e.weight == 2;
  }
  const double allowed = static_cast<double>(go.budget()) * minutes;
  const auto c = ex->Counters();
  std::printf(
      "\nbackfill benchmark (1m klines, concurrency %d, budget %.0f%% of %lld weight/min)\n",
      backfill::BackfillOptions{}.concurrency, go.budget_fraction * 100,
      static_cast<long long>(go.weight_limit));
  std::printf("  ceiling    %10.0f klines/min (%.0f/s): budget %lld / 2 weight x 1000 klines\n",
              per_minute, per_minute / 60, static_cast<long long>(go.budget()));
  std::printf("  capacity   %10.0f klines/s   median of %d unlimited rounds = %.2fx the ceiling\n",
              Median(capacity), runs, Median(capacity) / (per_minute / 60));
  std::printf(
      "  throttled  %10lld klines in %.1f s = %.0f/s (a fresh sliding minute lets one\n"
      "             budget through at once, so this overstates the sustained rate)\n",
      static_cast<long long>(rows), secs, rows / secs);
  std::printf(
      "  sustained  weight granted in %d whole minutes: %lld of %.0f (%lld klines requests)\n",
      minutes, static_cast<long long>(weight), allowed, static_cast<long long>(klines_requests));
  std::printf("  fraction of the budgeted ceiling: %.1f%% (goal >= 90%%)\n",
              100.0 * weight / allowed);
  std::printf("  exchange: %lld requests, %lld x 429, %lld x 418\n",
              static_cast<long long>(c.requests), static_cast<long long>(c.status_429),
              static_cast<long long>(c.status_418));
  return 0;
}
