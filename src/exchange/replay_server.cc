// The replay exchange's server (replay.h): the listener, one thread per connection reading
// keep-alive HTTP/1.1, each request put through the fault part (replay_fault.h) and answered by
// the REST part (replay_rest.h) or handed to the WebSocket part (replay_ws.h), the request log
// and counters, and Create/Start/Stop.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "exchange/replay.h"
#include "exchange/replay_data.h"
#include "exchange/replay_fault.h"
#include "exchange/replay_rest.h"
#include "exchange/replay_ws.h"

namespace cryptolake::exchange {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using replay::Action;
using replay::Response;

constexpr size_t kLogCapacity = 100'000;

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

struct ReplayExchange::Impl {
  Impl(const Clock& c, ReplayOptions o, replay::SeriesMap d)
      : clock(c), opt(std::move(o)), data(std::move(d)), gate(opt) {}

  const Clock& clock;
  const ReplayOptions opt;
  const replay::SeriesMap data;  // immutable after Create: read without locks
  std::vector<std::string> symbols;
  replay::ExchangeClock exchange;
  int64_t total_rows = 0;

  // Network.
  net::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  int bound_port = 0;
  struct Conn {
    Conn() : socket(io) {}
    net::io_context io;  // runs a WebSocket connection's asynchronous I/O, on `thread`
    // Closed by the destructor after the thread is joined, or (WebSocket) by Beast's teardown on
    // the thread; so once `async`, only code run by `io` may touch it.
    tcp::socket socket;
    bool async = false;  // guarded by conn_mu: a WebSocket session runs on io
    std::thread thread;
    std::atomic<bool> done{false};
    uint64_t number = 0;  // 1, 2, ... in accept order
  };
  uint64_t accepted = 0;  // guarded by conn_mu
  std::mutex conn_mu;
  std::list<std::unique_ptr<Conn>> conns;
  bool stopping = false;  // guarded by conn_mu
  std::condition_variable stop_cv;

  replay::RestGate gate;  // rate limits and REST faults
  replay::WsCounters ws;

  // Log and counters (the limits' and faults' are the gate's, the ws_* ones in `ws`).
  mutable std::mutex mu;
  std::deque<RequestRecord> log;
  ReplayCounters counters;

  Micros ExchangeNow() const { return exchange.Now(); }

  void AcceptLoop();
  void Serve(Conn* c);
  // Decides the response to one request; `action` says how to deliver it.
  Response Handle(const http::request<http::string_body>& req, RequestRecord* rec, Action* action);
  void Record(const RequestRecord& rec);
};

void ReplayExchange::Impl::AcceptLoop() {
  for (;;) {
    auto c = std::make_unique<Conn>();
    beast::error_code ec;
    acceptor->accept(c->socket, ec);
    std::lock_guard<std::mutex> l(conn_mu);
    if (stopping) break;  // the socket closes here
    if (ec) {
      if (ec == net::error::connection_aborted || ec == net::error::interrupted) continue;
      spdlog::error("replay-exchange: accept failed: {}", ec.message());
      break;
    }
    // Reap finished connections (joining a finished thread does not block).
    for (auto it = conns.begin(); it != conns.end();) {
      if ((*it)->done.load()) {
        (*it)->thread.join();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    c->number = ++accepted;
    Conn* raw = c.get();
    c->thread = std::thread([this, raw] { Serve(raw); });
    conns.push_back(std::move(c));
  }
}

void ReplayExchange::Impl::Serve(Conn* c) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    beast::error_code ec;
    http::read(c->socket, buf, parser, ec);
    if (ec) break;
    if (websocket::is_upgrade(parser.get())) {
      {
        std::lock_guard<std::mutex> l(mu);
        ++counters.requests;
      }
      replay::WsEnv env{opt, data, symbols, exchange, ws};
      replay::ServeWebSocket(
          env, replay::WsConn{c->socket, c->io, c->number}, parser.release(), clock.Now(),
          [this](const RequestRecord& rec) { Record(rec); },
          [this, c] {
            // From here on the socket is io's (Stop() posts its shutdown there); if Stop() came
            // first, it has shut the socket down already.
            std::lock_guard<std::mutex> l(conn_mu);
            if (stopping) return false;
            c->async = true;
            return true;
          });
      break;
    }
    const auto& req = parser.get();
    RequestRecord rec;
    Action action = Action::kNormal;
    Response resp = Handle(req, &rec, &action);
    bool keep_alive = req.keep_alive() && action != Action::kTruncate;
    if (action == Action::kDrop) {
      Record(rec);
      break;
    }
    if (action == Action::kSlow) {
      std::unique_lock<std::mutex> l(conn_mu);
      stop_cv.wait_for(l, std::chrono::microseconds(opt.faults.slow_delay),
                       [this] { return stopping; });
      if (stopping) {
        l.unlock();
        Record(rec);
        break;
      }
    }
    if (action == Action::kCorrupt) resp.body.resize(resp.body.size() / 2);
    std::string out = replay::SerializeHead(resp, resp.body.size(), rec.used_weight, keep_alive);
    if (action == Action::kTruncate) {
      out.append(resp.body, 0, resp.body.size() / 2);
    } else {
      out += resp.body;
    }
    Record(rec);
    net::write(c->socket, net::buffer(out), ec);
    if (ec || !keep_alive) break;
  }
  beast::error_code ignored;
  c->socket.shutdown(tcp::socket::shutdown_both, ignored);
  c->done = true;
}

void ReplayExchange::Impl::Record(const RequestRecord& rec) {
  {
    std::lock_guard<std::mutex> l(mu);
    log.push_back(rec);
    if (log.size() > kLogCapacity) log.pop_front();
  }
  if (opt.on_request) opt.on_request(rec);
}

Response ReplayExchange::Impl::Handle(const http::request<http::string_body>& req,
                                      RequestRecord* rec, Action* action) {
  const Micros now = clock.Now();
  rec->at = now;
  std::string_view target = Sv(req.target());
  rec->target = std::string(target);
  size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  replay::Query q = qpos == std::string_view::npos ? replay::Query{}
                                                   : replay::ParseQuery(target.substr(qpos + 1));
  bool micros = false;
  if (auto it = req.find("X-MBX-TIME-UNIT"); it != req.end()) {
    micros = replay::Lower(Sv(it->value())) == "microsecond";
  }
  {
    std::lock_guard<std::mutex> l(mu);
    ++counters.requests;
  }
  replay::Admission a = gate.Admit(now, replay::WeightOf(path), path == "/api/v3/klines");
  rec->used_weight = a.used_weight;
  rec->fault = a.fault;
  *action = a.action;
  Response resp;
  int64_t rows = 0;
  if (a.refusal) {
    resp = std::move(*a.refusal);
  } else if (req.method() != http::verb::get) {
    resp = {405, ""};
  } else {
    replay::RestContext ctx{data, symbols, exchange.Now(), opt.weight_limit};
    resp = replay::Route(ctx, path, q, micros, &rows);
  }
  rec->status = *action == Action::kDrop ? 0 : resp.status;
  if (rows > 0 && *action != Action::kDrop) {
    std::lock_guard<std::mutex> l(mu);
    counters.klines_served += rows;
  }
  return resp;
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
  if (m.acceptor) return FailedPrecondition("replay-exchange: already started");
  beast::error_code ec;
  std::string host = m.opt.host == "localhost" ? "127.0.0.1" : m.opt.host;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return InvalidArgument("replay-exchange: bad host '{}': {}", m.opt.host, ec.message());
  if (m.opt.port < 0 || m.opt.port > 65535) {
    return InvalidArgument("replay-exchange: bad port {}", m.opt.port);
  }
  auto acc = std::make_unique<tcp::acceptor>(m.io);
  tcp::endpoint ep(addr, static_cast<unsigned short>(m.opt.port));
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return IOError("replay-exchange: cannot listen on {}:{}: {}", m.opt.host, m.opt.port,
                   ec.message());
  }
  m.bound_port = acc->local_endpoint().port();
  m.acceptor = std::move(acc);
  m.accept_thread = std::thread([&m] { m.AcceptLoop(); });
  return Status::Ok();
}

void ReplayExchange::Stop() {
  Impl& m = *impl_;
  if (!m.acceptor) return;
  {
    std::lock_guard<std::mutex> l(m.conn_mu);
    if (m.stopping) return;
    m.stopping = true;
    // shutdown() wakes the threads blocked in accept/recv/send on these sockets. A blocking
    // connection's socket is closed only after its thread is joined; a WebSocket session's may
    // be closed by Beast on its thread at any time, so its shutdown runs there too.
    ::shutdown(m.acceptor->native_handle(), SHUT_RDWR);
    for (auto& c : m.conns) {
      if (c->async) {
        net::post(c->io, [c = c.get()] {
          beast::error_code ignored;
          c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        });
      } else {
        ::shutdown(c->socket.native_handle(), SHUT_RDWR);
      }
    }
  }
  m.stop_cv.notify_all();
  if (m.accept_thread.joinable()) m.accept_thread.join();
  std::list<std::unique_ptr<Impl::Conn>> conns;
  {
    std::lock_guard<std::mutex> l(m.conn_mu);
    conns.swap(m.conns);
  }
  for (auto& c : conns) c->thread.join();
  conns.clear();
  beast::error_code ec;
  m.acceptor->close(ec);
}

int ReplayExchange::port() const { return impl_->bound_port; }

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
