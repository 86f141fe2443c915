// The HTTP server core's shared state (internal to cl_net; http_server.h is the
// contract users see): HttpServer::Impl, the routes and their metrics, and the event-stream part
// (http_stream.cc) that the connection part (http_server.cc) hands a connection over to.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/gzip_cache.h"
#include "net/http_server.h"
#include "net/metrics.h"

namespace cryptolake::net {

namespace internal {

using SteadyClock = std::chrono::steady_clock;

// A connection idle this long (or a write not taken this long) is closed.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// After a response that closes the connection: how long, and how many bytes, the rest of the
// client's request is read and discarded so that closing does not reset the connection (and
// lose the response) while the client is still sending.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;

// A route's metrics: the series are looked up once per (route, code) and kept.
struct RouteMetrics {
  std::string label;
  Family<Counter>* requests = nullptr;  // null: no metrics
  Histogram* duration = nullptr;
  Counter* exceptions = nullptr;
  std::array<std::atomic<Counter*>, 500> by_code{};  // status 100..599

  void Count(int status, SteadyClock::time_point start, bool observe) {
    if (!requests) return;
    size_t i = static_cast<size_t>(std::clamp(status, 100, 599) - 100);
    Counter* c = by_code[i].load(std::memory_order_acquire);
    if (!c) {
      c = &requests->WithLabels({label, std::to_string(status)});
      by_code[i].store(c, std::memory_order_release);
    }
    c->Inc();
    if (observe) {
      duration->Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
    }
  }
  void CountException() {
    if (exceptions) exceptions->Inc();
  }
};

struct RouteEntry {
  Handler handler;
  StreamHandler stream;
  std::unique_ptr<RouteMetrics> metrics;
};

// SplitMix64's finalizer: a bijection of 64-bit integers that scatters consecutive ones.
inline uint64_t Scatter(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace internal

struct HttpServer::Impl {
  explicit Impl(ServerOptions o) : opt(std::move(o)) {}

  ServerOptions opt;
  std::filesystem::path root;  // canonical web root; empty: no static files
  std::unordered_map<std::string, internal::RouteEntry> routes;
  Handler fallback;        // Router::Fallback, or empty
  UpgradeHandler upgrade;  // Router::Upgrade, or empty
  uint64_t accepted = 0;   // connections accepted (touched by the accept handler only)
  internal::RouteMetrics static_metrics, unmatched_metrics;
  Gauge* streams_active = nullptr;
  std::atomic<int64_t> exceptions{0};
  std::atomic<bool> stopping{false};
  internal::GzipCache gzip;

  // Request ids: Scatter(id_base + n) for the n-th request, id_base drawn at start (ids
  // are unique for the server's life, and say nothing of how many requests it has served).
  uint64_t id_base = 0;
  std::atomic<uint64_t> id_seq{0};

  std::unique_ptr<boost::asio::io_context> io;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  std::unique_ptr<boost::asio::steady_timer> accept_retry;
  std::vector<std::thread> io_threads;
  int bound_port = 0;
  std::string url;

  // Event streams open (a place is taken before the stream handler runs, and given back when
  // the stream ends); decremented under streams_mu, so that WaitForOpenStreams never misses it.
  std::atomic<int> open_streams{0};
  std::mutex streams_mu;
  std::condition_variable streams_cv;
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu

  void InitMetrics(internal::RouteMetrics& m, std::string label);
  void Accept();
  Response Static(const Request& req);
  std::string NextRequestId() {
    return fmt::format("{:016x}", internal::Scatter(id_base + id_seq.fetch_add(1) + 1));
  }
  // Takes a stream's place; false when max_streams are open.
  bool AcquireStream() {
    int n = open_streams.load();
    do {
      if (n >= opt.max_streams) return false;
    } while (!open_streams.compare_exchange_weak(n, n + 1));
    return true;
  }
  void ReleaseStream() {
    {
      std::lock_guard lock(streams_mu);
      open_streams.fetch_sub(1);
    }
    streams_cv.notify_all();
  }
};

namespace internal {

// Turns the connection `socket` into the event stream of `req` (http_server.h, "Stream routes"):
// writes the head, runs reply.poll at once and then every reply.interval, on the socket's strand,
// until the stream ends; then counts it in `metrics` and gives its place back (ReleaseStream).
// The caller has taken the place (AcquireStream). Call on the socket's strand.
void StartEventStream(HttpServer::Impl& srv, boost::asio::ip::tcp::socket socket,
                      RouteMetrics* metrics, Request req, StreamReply reply);

}  // namespace internal

}  // namespace cryptolake::net
