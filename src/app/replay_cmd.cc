// `cryptolake replay-exchange`: serves recorded klines as a Binance-compatible REST API and
// WebSocket streams on a local port until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "app/commands.h"
#include "core/fsutil.h"
#include "exchange/replay.h"

namespace cryptolake::app {

int RunReplayExchange(const ReplayArgs& a) {
  // Block the stop signals in every thread (the servers' threads inherit the mask) and take
  // them with sigwait() below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  exchange::ReplayOptions opt;
  opt.host = a.host;
  opt.port = a.port;
  opt.speed = a.speed;
  opt.weight_limit = a.weight_limit;
  opt.ban_threshold = a.ban_threshold;
  if (a.start) {
    auto t = ParseTime(*a.start);
    if (!t.ok()) return Fail(t.status().WithContext("--start"));
    opt.start = *t;
  }
  auto faults = exchange::FaultSpec::Parse(a.faults);
  if (!faults.ok()) return Fail(faults.status());
  opt.faults = *faults;
  opt.faults.seed = a.fault_seed;
  auto ws_faults = exchange::WsFaultSpec::Parse(a.ws_faults);
  if (!ws_faults.ok()) return Fail(ws_faults.status());
  opt.ws_faults = *ws_faults;
  opt.ws_faults.seed = a.fault_seed;
  opt.synthetic = a.synthetic;
  opt.synthetic_seed = a.synthetic_seed;
  if (a.log_requests) {
    opt.on_request = [](const exchange::RequestRecord& r) {
      std::fprintf(stderr, "%s %d %s%s%s (weight %lld)\n", FormatIso(r.at).c_str(), r.status,
                   r.target.c_str(), r.fault.empty() ? "" : " fault=", r.fault.c_str(),
                   static_cast<long long>(r.used_weight));
    };
  }

  const Clock& clock = SystemClock::Instance();
  auto ex = exchange::ReplayExchange::Create(a.data, clock, opt);
  if (!ex.ok()) return Fail(ex.status());
  for (const auto& line : (*ex)->Describe()) std::printf("%s\n", line.c_str());
  Status s = (*ex)->Start();
  if (!s.ok()) return Fail(s);
  if (!a.port_file.empty()) {
    s = WriteFileAtomic(a.port_file, fmt::format("{}\n", (*ex)->port()));
    if (!s.ok()) return Fail(s);
  }
  std::printf("replay-exchange: listening on %s (exchange time %s, speed %sx, faults %s)\n",
              (*ex)->url().c_str(),
              FormatIso((*ex)->ExchangeNow() / kMicrosPerSecond * kMicrosPerSecond).c_str(),
              fmt::format("{}", a.speed).c_str(), faults->any() ? a.faults.c_str() : "none");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  (*ex)->Stop();
  exchange::ReplayCounters c = (*ex)->Counters();
  std::string faults_line;
  for (const auto& [name, n] : c.faults) {
    faults_line += fmt::format("{}{}={}", faults_line.empty() ? "" : ", ", name, n);
  }
  std::printf(
      "replay-exchange: stopped by %s after %lld requests, %lld klines served, %lld x 429, "
      "%lld x 418 (%lld earned bans), faults injected: %s\n",
      sig == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(c.requests),
      static_cast<long long>(c.klines_served), static_cast<long long>(c.status_429),
      static_cast<long long>(c.status_418), static_cast<long long>(c.earned_bans),
      faults_line.empty() ? "none" : faults_line.c_str());
  if (c.ws_connections + c.ws_rejected > 0) {
    std::printf(
        "replay-exchange: %lld WebSocket connections (%lld refused), %lld messages, ws faults "
        "injected: disconnect=%lld, stall=%lld, malformed=%lld, duplicate=%lld\n",
        static_cast<long long>(c.ws_connections), static_cast<long long>(c.ws_rejected),
        static_cast<long long>(c.ws_messages), static_cast<long long>(c.ws_disconnects),
        static_cast<long long>(c.ws_stalls), static_cast<long long>(c.ws_malformed),
        static_cast<long long>(c.ws_duplicates));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace cryptolake::app
