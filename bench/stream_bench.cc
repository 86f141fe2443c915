// Stream parse and aggregate throughput on one core (issue 4, "Must show" 3, first part).
//
// Builds combined-stream kline messages (Binance's exact layout, decimals as strings) from the
// real 2025 1m recording of BTCUSDT, 15 open updates and one final update per candle, then
// parses all of them on one thread, in the same run:
//   baseline  nlohmann::json (a DOM parse, the naive path) extracting the same fields
//   parser    venues::binance::StreamParser (simdjson On Demand) into speed::Event
//   parse + aggregate  the same, then the consumer's path into the real-time view on a fresh
//             view and lake per run: RealtimeView::Fold per poll of 4096 events, Persist (a
//             DuckDB commit of the closed candles) every StreamOptions::persist_max_events
//             events, as RunStream does when the bus is not drained
// Median of --runs runs; events/s and the ratio.
// Usage: stream_bench [--runs K]
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest/parser.h"
#include "lake/lake.h"
#include "speed/stream.h"
#include "speed/view.h"
#include "venues/binance/stream_parser.h"

using namespace cryptolake;
namespace fs = std::filesystem;

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

template <typename F>
double Rate(const std::vector<std::string>& msgs, F parse) {
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& m : msgs) parse(m);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(msgs.size()) / s;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  if (argc == 3 && std::string(argv[1]) == "--runs") runs = std::max(1, std::atoi(argv[2]));
  fs::path file;
  for (const auto& e :
       fs::directory_iterator(fs::path(CL_SHARED_DATA) / "binance-spot/klines/1m")) {
    if (e.path().filename().string().rfind("BTCUSDT-1m-20250520_", 0) == 0) file = e.path();
  }
  auto parsed = ingest::ParseInput(file, {});
  if (!parsed.ok()) {
    std::fprintf(stderr, "bench: %s\n", parsed.status().ToString().c_str());
    return 1;
  }
  const ingest::KlineBatch& b = (*parsed)[0].batch;
  std::vector<std::string> msgs;
  msgs.reserve(b.size() * 16);
  for (size_t i = 0; i < b.size(); ++i) {
    int64_t t = b.open_time[i] / 1000;
    for (int u = 0; u < 16; ++u) {
      msgs.push_back(fmt::format(
          R"({{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":{},"s":"BTCUSDT","k":{{"t":{},)"
          R"("T":{},"s":"BTCUSDT","i":"1m","f":0,"L":0,"o":"{:.8f}","c":"{:.8f}","h":"{:.8f}",)"
          R"("l":"{:.8f}","v":"{:.8f}","n":{},"x":{},"q":"0.00000000","V":"0.00000000",)"
          R"("Q":"0.00000000","B":"0"}}}}}})",
          t + 2000 * (u + 1) - 1, t, t + 59999, b.open[i], b.close[i], b.high[i], b.low[i],
          b.volume[i], 100 + u, u == 15 ? "true" : "false"));
    }
  }
  std::vector<double> base, ours, agg;
  int64_t sink = 0;
  for (int r = 0; r < runs; ++r) {
    base.push_back(Rate(msgs, [&](const std::string& m) {
      auto j = nlohmann::json::parse(m);
      const auto& k = j["data"]["k"];
      double c = std::stod(k["c"].get<std::string>());
      sink += static_cast<int64_t>(c) + k["t"].get<int64_t>() + (k["x"].get<bool>() ? 1 : 0);
    }));
    venues::binance::StreamParser p;
    speed::Event e;
    ours.push_back(Rate(msgs, [&](const std::string& m) {
      auto ok = p.Parse(m, &e);
      sink += ok.ok() && *ok ? 1 : 0;
    }));
    const fs::path dir = fs::temp_directory_path() / fmt::format("cl-stream-bench-{}", getpid());
    fs::remove_all(dir);
    auto lk = lake::Lake::Open(dir, SystemClock::Instance());
    auto view = lk.ok() ? speed::RealtimeView::Open(*lk, dir / "view.duckdb")
                        : StatusOr<std::unique_ptr<speed::RealtimeView>>(lk.status());
    if (!view.ok()) {
      std::fprintf(stderr, "bench: %s\n", view.status().ToString().c_str());
      return 1;
    }
    std::vector<speed::Event> batch;
    batch.reserve(4096);
    Status failed = Status::Ok();
    const int64_t persist_every = speed::StreamOptions{}.persist_max_events;
    int64_t folded = 0;
    auto flush = [&](bool last) {
      auto st = (*view)->Fold(batch);
      if (!st.ok()) failed = st.status();
      sink += st.ok() ? st->closed_new : 0;
      folded += static_cast<int64_t>(batch.size());
      batch.clear();
      if (last || folded >= persist_every) {
        if (Status s = (*view)->Persist(); !s.ok()) failed = s;
        folded = 0;
      }
    };
    agg.push_back(Rate(msgs, [&](const std::string& m) {
      auto ok = p.Parse(m, &e);
      if (!ok.ok() || !*ok) return;
      batch.push_back(std::move(e));
      if (batch.size() == 4096) flush(false);
    }));
    if (!batch.empty()) flush(true);
    if (!failed.ok()) {
      std::fprintf(stderr, "bench: %s\n", failed.ToString().c_str());
      return 1;
    }
    view->reset();
    fs::remove_all(dir);
  }
  std::printf(
      "stream parse + aggregate benchmark: %zu kline messages from the real 2025 1m BTCUSDT file, "
      "one "
      "thread, median of %d runs\n",
      msgs.size(), runs);
  std::printf("  baseline nlohmann::json   %12.0f events/s\n", Median(base));
  std::printf("  binance::StreamParser     %12.0f events/s  (%.2fx the baseline)\n", Median(ours),
              Median(ours) / Median(base));
  std::printf("  parse + aggregate (view)  %12.0f events/s  (%.2fx the baseline; goal >= 500000)\n",
              Median(agg), Median(agg) / Median(base));
  return sink == 42 ? 2 : 0;
}
