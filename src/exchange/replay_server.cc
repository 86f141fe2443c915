// The replay exchange's server (replay.h): the REST and WebSocket parts served through the HTTP
// server core that `serve` uses too (net/http_server.h: a fallback handler for every request, an
// upgrade handler for WebSocket upgrades); each request put through the fault part
// (replay_fault.h) and answered by the REST part (replay_rest.h) or handed to the WebSocket part
// (replay_ws.h); the request log and counters, and Create/Start/Stop.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "exchange/replay.h"
#include "exchange/replay_data.h"
#include "exchange/replay_fault.h"
#include "exchange/replay_rest.h"
#include "exchange/replay_ws.h"
#include "net/http_server.h"

namespace cryptolake::exchange {

namespace {

using tcp = boost::asio::ip::tcp;
using replay::Action;

constexpr size_t kLogCapacity = 100'000;

// The core's io threads: each runs any connection's requests and WebSocket sessions.
int IoThreads() { return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2, 8); }

}  // namespace

struct ReplayExchange::Impl {
  Impl(const Clock& c, ReplayOptions o, replay::SeriesMap d)
      : clock(c),
        opt(std::move(o)),
        data(std::move(d)),
        gate(opt),
        ws_env{opt, data, symbols, exchange, ws} {}

  const Clock& clock;
  const ReplayOptions opt;
  const replay::SeriesMap data;  // immutable after Create: read without locks
  std::vector<std::string> symbols;
  replay::ExchangeClock exchange;
  int64_t total_rows = 0;

  replay::RestGate gate;  // rate limits and REST faults
  replay::WsCounters ws;
  const replay::WsEnv ws_env;  // what every WebSocket session reads

  // Log and counters (the limits' and faults' are the gate's, the ws_* ones in `ws`).
  mutable std::mutex mu;
  std::deque<RequestRecord> log;
  ReplayCounters counters;

  // The server: set by Start (under life_mu), stopped by Stop, destroyed first.
  std::mutex life_mu;
  std::atomic<int> bound_port{0};
  std::unique_ptr<net::HttpServer> server;

  Micros ExchangeNow() const { return exchange.Now(); }

  // The answer to one REST request (the core's fallback handler: every path, every method), its
  // fault delivered through the core (Response::delivery and delay).
  net::Response Handle(const net::Request& req);
  // An upgrade request (the core's upgrade handler): the WebSocket part serves it.
  void Upgrade(net::Request req, tcp::socket socket);
  void Record(const RequestRecord& rec);
};

void ReplayExchange::Impl::Record(const RequestRecord& rec) {
  {
    std::lock_guard<std::mutex> l(mu);
    log.push_back(rec);
    if (log.size() > kLogCapacity) log.pop_front();
  }
  if (opt.on_request) opt.on_request(rec);
}

net::Response ReplayExchange::Impl::Handle(const net::Request& req) {
  const Micros now = clock.Now();
  RequestRecord rec;
  rec.at = now;
  rec.target = req.target;
  std::string_view target = req.target;
  size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  replay::Query q = qpos == std::string_view::npos ? replay::Query{}
                                                   : replay::ParseQuery(target.substr(qpos + 1));
  bool micros = replay::Lower(req.Header("X-MBX-TIME-UNIT")) == "microsecond";
  {
    std::lock_guard<std::mutex> l(mu);
    ++counters.requests;
  }
  replay::Admission a = gate.Admit(now, replay::WeightOf(path), path == "/api/v3/klines");
  rec.used_weight = a.used_weight;
  rec.fault = a.fault;
  const Action action = a.action;
  replay::Response resp;
  int64_t rows = 0;
  if (a.refusal) {
    resp = std::move(*a.refusal);
  } else if (req.method != "GET") {
    resp = {405, ""};
  } else {
    replay::RestContext ctx{data, symbols, exchange.Now(), opt.weight_limit};
    resp = replay::Route(ctx, path, q, micros, &rows);
  }
  rec.status = action == Action::kDrop ? 0 : resp.status;
  if (rows > 0 && action != Action::kDrop) {
    std::lock_guard<std::mutex> l(mu);
    counters.klines_served += rows;
  }
  Record(rec);

  // The head replay::SerializeHead writes: Content-Type, Content-Length, the used weight, then
  // Retry-After (the core adds X-Request-Id and, with keep_alive_header, Connection as before).
  if (action == Action::kCorrupt) resp.body.resize(resp.body.size() / 2);
  net::Response out;
  out.status = resp.status;
  out.content_type = std::move(resp.content_type);
  out.body = std::move(resp.body);
  out.headers.emplace_back("X-MBX-USED-WEIGHT-1M", std::to_string(rec.used_weight));
  if (resp.retry_after >= 0)
    out.headers.emplace_back("Retry-After", std::to_string(resp.retry_after));
  if (action == Action::kDrop) out.delivery = net::Delivery::kDrop;
  if (action == Action::kTruncate) out.delivery = net::Delivery::kTruncate;
  if (action == Action::kSlow) out.delay = std::chrono::microseconds(opt.faults.slow_delay);
  return out;
}

void ReplayExchange::Impl::Upgrade(net::Request req, tcp::socket socket) {
  const Micros arrived = clock.Now();
  {
    std::lock_guard<std::mutex> l(mu);
    ++counters.requests;
  }
  replay::ServeWebSocket(ws_env, std::move(socket), req.connection, req, arrived,
                         [this](const RequestRecord& rec) { Record(rec); });
}

// ---------------------------------------------------------------------------------------------
// ReplayExchange

StatusOr<std::unique_ptr<ReplayExchange>> ReplayExchange::Create(
    const std::vector<std::string>& data, const Clock& clock, ReplayOptions options) {
  if (options.speed <= 0 || !std::isfinite(options.speed)) {
    return InvalidArgument("replay speed must be positive, got {}", options.speed);
  }
  if (options.weight_limit < 1) {
    return InvalidArgument("weight limit must be at least 1, got {}", options.weight_limit);
  }
  ASSIGN_OR_RETURN(replay::SeriesMap m, replay::LoadSeries(data, clock));
  RETURN_IF_ERROR(replay::AddSynthetic(options.synthetic, options.synthetic_seed, m));
  auto impl = std::make_unique<Impl>(clock, std::move(options), std::move(m));
  Micros end = INT64_MIN;
  std::set<std::string> syms;
  for (const auto& [key, s] : impl->data) {
    if (s.rows.empty()) continue;
    syms.insert(s.symbol);
    impl->total_rows += static_cast<int64_t>(s.rows.size());
    end = std::max(end, s.rows.back().open_time + s.interval.micros);
  }
  if (impl->total_rows == 0) return InvalidArgument("replay-exchange: no klines in the data");
  impl->symbols.assign(syms.begin(), syms.end());
  impl->exchange.clock = &clock;
  impl->exchange.speed = impl->opt.speed;
  impl->exchange.start = impl->opt.start.value_or(end);
  impl->exchange.clock0 = clock.Now();
  return std::unique_ptr<ReplayExchange>(new ReplayExchange(std::move(impl)));
}

ReplayExchange::ReplayExchange(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReplayExchange::~ReplayExchange() { Stop(); }

Status ReplayExchange::Start() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> l(m.life_mu);
  if (m.server) return FailedPrecondition("replay-exchange: already started");
  boost::system::error_code ec;
  std::string host = m.opt.host == "localhost" ? "127.0.0.1" : m.opt.host;
  boost::asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("replay-exchange: bad host '{}': {}", m.opt.host, ec.message());
  if (m.opt.port < 0 || m.opt.port > 65535) {
    return InvalidArgument("replay-exchange: bad port {}", m.opt.port);
  }
  net::ServerOptions so;
  so.bind = m.opt.host;
  so.port = m.opt.port;
  so.threads = IoThreads();
  so.max_body = 64 * 1024;
  so.public_without_token = true;  // --host is the user's to choose, as before
  so.keep_alive_header = true;     // "Connection: keep-alive" on every kept connection, as before
  net::Router router;
  router.Fallback([&m](const net::Request& req) { return m.Handle(req); });
  router.Upgrade(
      [&m](net::Request req, tcp::socket socket) { m.Upgrade(std::move(req), std::move(socket)); });
  auto server = net::HttpServer::Start(std::move(so), std::move(router));
  if (!server.ok()) {
    return Status(server.status().code(), "replay-exchange: " + server.status().message());
  }
  m.server = std::move(server).value();
  m.bound_port = m.server->port();
  return Status::Ok();
}

void ReplayExchange::Stop() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> l(m.life_mu);
  if (m.server) m.server->Stop();  // idempotent; closes every connection, WebSockets included
}

int ReplayExchange::port() const { return impl_->bound_port.load(); }

std::string ReplayExchange::url() const {
  std::string host = impl_->opt.host.find(':') != std::string::npos ? "[" + impl_->opt.host + "]"
                                                                    : impl_->opt.host;
  return fmt::format("http://{}:{}", host, port());
}

std::string ReplayExchange::ws_url() const {
  std::string u = url();
  return "ws" + u.substr(4);
}

Micros ReplayExchange::ExchangeNow() const { return impl_->ExchangeNow(); }

std::vector<std::string> ReplayExchange::Describe() const {
  return replay::DescribeSeries(impl_->data);
}

int64_t ReplayExchange::klines_loaded() const { return impl_->total_rows; }

std::vector<RequestRecord> ReplayExchange::Log() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return {impl_->log.begin(), impl_->log.end()};
}

ReplayCounters ReplayExchange::Counters() const {
  ReplayCounters c;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    c = impl_->counters;
  }
  impl_->gate.AddCounters(&c);
  impl_->ws.CopyTo(&c);
  return c;
}

}  // namespace cryptolake::exchange
