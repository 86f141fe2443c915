#include "speed/ws_stream.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <charconv>
#include <chrono>
#include <random>
#include <vector>

namespace cryptolake::speed {

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

std::chrono::microseconds Real(Micros d) { return std::chrono::microseconds(d); }

// An Asio timer whose deadlines are on a Clock: it wakes up (after the whole remaining time, or
// after `poll` of real time when that is shorter) and looks at the clock until the deadline has
// come. At() supersedes the wait before it and Cancel() ends it: the superseded handler gets
// operation_aborted, even when its wake-up was already queued.
class ClockTimer {
 public:
  ClockTimer(net::io_context& io, const Clock& clock, Micros poll)
      : timer_(io), clock_(clock), poll_(poll) {}
  // fn(error_code) once clock.Now() >= due (no error), or on Cancel/At (operation_aborted). The
  // timer must outlive the wait (fn holds what owns it).
  template <class F>
  void At(Micros due, F fn) {
    Arm(++gen_, due, std::move(fn));
  }
  void Cancel() {
    ++gen_;
    timer_.cancel();
  }

 private:
  template <class F>
  void Arm(uint64_t gen, Micros due, F fn) {
    Micros left = std::max<Micros>(0, due - clock_.Now());
    if (poll_ > 0) left = std::min(left, poll_);
    timer_.expires_after(Real(left));
    timer_.async_wait([this, gen, due, fn = std::move(fn)](beast::error_code ec) mutable {
      if (gen != gen_) return fn(beast::error_code(net::error::operation_aborted));
      if (!ec && clock_.Now() < due) return Arm(gen, due, std::move(fn));
      fn(ec);
    });
  }

  net::steady_timer timer_;
  const Clock& clock_;
  const Micros poll_;  // 0: none
  uint64_t gen_ = 0;
};

struct Url {
  bool tls = false;
  std::string host;    // without brackets
  std::string port;    // digits
  std::string prefix;  // path before /stream, without a trailing '/'
  std::string host_header;
};

// ws://host[:port][/prefix] or wss://...; no query or fragment.
StatusOr<Url> ParseUrl(std::string_view url) {
  Url u;
  std::string_view rest;
  if (url.rfind("wss://", 0) == 0) {
    u.tls = true;
    rest = url.substr(6);
  } else if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else {
    return InvalidArgument("websocket url '{}': the scheme must be ws:// or wss://", url);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument("websocket url '{}': no query or fragment allowed", url);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.prefix = std::string(path);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("websocket url '{}': unterminated IPv6 address", url);
    }
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgument("websocket url '{}': bad authority", url);
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return InvalidArgument("websocket url '{}': no host", url);
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
    u.host_header = authority.front() == '[' ? "[" + u.host + "]" : u.host;
  } else {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) {
      return InvalidArgument("websocket url '{}': bad port '{}'", url, port);
    }
    u.port = std::string(port);
    u.host_header = std::string(authority);
  }
  return u;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// One connection. Everything runs on the io_context of Run(), so nothing here is locked.

struct WsStream::Impl {
  struct Conn;
  template <class Ws>
  struct ConnT;

  Impl(WsStream& s, OnMessage m, OnReconnect r)
      : self(s),
        opt(s.opt_),
        stats(s.stats_),
        on_message(std::move(m)),
        on_reconnect(std::move(r)),
        clock(opt.clock ? *opt.clock : SystemClock::Instance()),
        poll(opt.clock ? 1000 : 0),
        reconnect_timer(io, clock, poll),
        rotate_timer(io, clock, poll),
        rng(opt.seed != 0 ? opt.seed : std::random_device{}()) {}

  WsStream& self;
  const WsOptions& opt;
  WsStats& stats;
  OnMessage on_message;
  OnReconnect on_reconnect;

  net::io_context io;  // declared before everything that uses it
  const Clock& clock;  // of every duration (WsOptions::clock)
  const Micros poll;   // real time between looks at an injected clock
  std::unique_ptr<ssl::context> tls;
  Url url;
  std::string target;
  ClockTimer reconnect_timer, rotate_timer;
  std::mt19937_64 rng;
  std::atomic<bool> stop{false};

  std::shared_ptr<Conn> current;              // delivers messages
  std::shared_ptr<Conn> next;                 // a rotation's new connection, until its first data
  std::vector<std::shared_ptr<Conn>> drains;  // old connections, closed after rotation_drain
  int failures = 0;                           // since the last connection that delivered data
  int rotation_failures = 0;
  bool heal = false;  // the next connection follows a failure: call OnReconnect
  Micros last_message_at = 0;
  uint64_t ids = 0;

  Micros Backoff(int n) {
    Micros cap = opt.backoff_base;
    for (int i = 0; i < n && cap < opt.backoff_max; ++i) cap *= 2;
    cap = std::max<Micros>(0, std::min(cap, opt.backoff_max));
    return std::uniform_int_distribution<Micros>(0, cap)(rng);
  }

  std::shared_ptr<Conn> MakeConn();
  void Open(bool rotation);
  void OnOpen(Conn* c);
  void OnData(Conn* c, bool text, std::string_view data);
  void OnFailed(Conn* c, const std::string& why);
  void ScheduleReconnect();
  void ArmRotation(Micros delay_from_now);
  void AbortAll();
};

struct WsStream::Impl::Conn : std::enable_shared_from_this<Conn> {
  Conn(Impl& impl, uint64_t id)
      : impl(impl),
        id(id),
        resolver(impl.io),
        deadline(impl.io, impl.clock, impl.poll),
        stall(impl.io, impl.clock, impl.poll) {}
  virtual ~Conn() = default;
  virtual void Start() = 0;
  virtual void Abort() = 0;            // closes the socket; pending operations fail
  virtual void CloseGracefully() = 0;  // a close handshake, then Abort
  // Marks the connection dead and reports the failure (once).
  void Fail(const std::string& why) {
    if (dead) return;
    Abort();
    impl.OnFailed(this, why);
  }
  void Frame() { last_frame = impl.clock.Now(); }
  void ArmStall() {
    stall.At(last_frame + impl.opt.stall_timeout,
             [self = shared_from_this()](beast::error_code ec) {
               if (ec || self->dead) return;
               if (self->impl.clock.Now() - self->last_frame >= self->impl.opt.stall_timeout) {
                 ++self->impl.stats.stalls;
                 self->Fail("stalled (no frame for the stall timeout)");
               } else {
                 self->ArmStall();
               }
             });
  }

  Impl& impl;
  const uint64_t id;
  tcp::resolver resolver;
  ClockTimer deadline, stall;
  beast::flat_buffer buf;
  Micros opened_at = 0, last_frame = 0;  // on impl.clock
  bool open = false;                     // handshake done
  bool dead = false;
  bool draining = false;
};

template <class Ws>
struct WsStream::Impl::ConnT final : Conn {
  template <class... Args>
  ConnT(Impl& impl, uint64_t id, Args&&... args)
      : Conn(impl, id), ws(std::forward<Args>(args)...) {}

  static constexpr bool kTls = !std::is_same_v<Ws, websocket::stream<beast::tcp_stream>>;

  void Start() override {
    deadline.At(impl.clock.Now() + impl.opt.connect_timeout, [self = Self()](beast::error_code ec) {
      if (!ec && !self->open) self->Fail("connect timeout");
    });
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
      Frame();
      if (kind == websocket::frame_type::ping) ++impl.stats.pings;  // Beast sends the pong
    });
    ws.set_option(websocket::stream_base::timeout{Real(impl.opt.connect_timeout),
                                                  websocket::stream_base::none(), false});
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "cryptolake");
    }));
    ws.read_message_max(16 << 20);
    resolver.async_resolve(
        impl.url.host, impl.url.port,
        [self = Self()](beast::error_code ec, tcp::resolver::results_type results) {
          if (self->dead) return;
          if (ec) return self->Fail("resolve: " + ec.message());
          beast::get_lowest_layer(self->ws).async_connect(
              results, [self](beast::error_code ec, const tcp::endpoint&) {
                if (self->dead) return;
                if (ec) return self->Fail("connect: " + ec.message());
                self->Secure();
              });
        });
  }

  void Secure() {
    if constexpr (kTls) {
      auto& tls = ws.next_layer();
      // SNI, and the certificate must name the host.
      if (!SSL_set_tlsext_host_name(tls.native_handle(), impl.url.host.c_str())) {
        return Fail("TLS: cannot set SNI");
      }
      tls.set_verify_mode(ssl::verify_peer);
      tls.set_verify_callback(ssl::host_name_verification(impl.url.host));
      tls.async_handshake(ssl::stream_base::client, [self = Self()](beast::error_code ec) {
        if (self->dead) return;
        if (ec) return self->Fail("TLS handshake: " + ec.message());
        self->Upgrade();
      });
    } else {
      Upgrade();
    }
  }

  void Upgrade() {
    ws.async_handshake(impl.url.host_header, impl.target, [self = Self()](beast::error_code ec) {
      if (self->dead) return;
      if (ec) return self->Fail("WebSocket handshake: " + ec.message());
      self->deadline.Cancel();
      self->open = true;
      self->opened_at = self->impl.clock.Now();
      self->Frame();
      self->impl.OnOpen(self.get());
      if (self->dead) return;
      self->ArmStall();
      self->Read();
    });
  }

  void Read() {
    ws.async_read(buf, [self = Self()](beast::error_code ec, size_t) {
      if (self->dead) return;
      if (ec) {
        if (ec == websocket::error::closed) {
          const auto& r = self->ws.reason();
          return self->Fail(fmt::format("closed by the server (code {}{}{})",
                                        static_cast<int>(r.code), r.reason.empty() ? "" : ": ",
                                        std::string(r.reason.data(), r.reason.size())));
        }
        return self->Fail("read: " + ec.message());
      }
      self->Frame();
      const auto data = self->buf.cdata();
      self->impl.OnData(self.get(), self->ws.got_text(),
                        std::string_view(static_cast<const char*>(data.data()), data.size()));
      self->buf.consume(self->buf.size());
      if (!self->dead) self->Read();
    });
  }

  void Abort() override {
    dead = true;
    beast::error_code ignored;
    resolver.cancel();
    deadline.Cancel();
    stall.Cancel();
    beast::get_lowest_layer(ws).socket().close(ignored);
  }

  void CloseGracefully() override {
    if (dead) return;
    deadline.At(impl.clock.Now() + std::max<Micros>(impl.opt.connect_timeout, 1000),
                [self = Self()](beast::error_code ec) {
                  if (!ec) self->Abort();
                });
    ws.async_close(websocket::close_code::normal,
                   [self = Self()](beast::error_code) { self->Abort(); });
  }

  std::shared_ptr<ConnT> Self() { return std::static_pointer_cast<ConnT>(shared_from_this()); }

  Ws ws;
};

std::shared_ptr<WsStream::Impl::Conn> WsStream::Impl::MakeConn() {
  uint64_t id = ++ids;
  if (url.tls) {
    using Ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
    return std::make_shared<ConnT<Ws>>(*this, id, io, *tls);
  }
  using Ws = websocket::stream<beast::tcp_stream>;
  return std::make_shared<ConnT<Ws>>(*this, id, io);
}

void WsStream::Impl::Open(bool rotation) {
  auto c = MakeConn();
  (rotation ? next : current) = c;
  c->Start();
}

void WsStream::Impl::OnOpen(Conn* c) {
  ++stats.connects;
  if (c != current.get()) return;  // a rotation's connection: it takes over with its first data
  if (heal) {
    heal = false;
    ++stats.reconnects;
    if (on_reconnect) on_reconnect(last_message_at);
  }
  ArmRotation(opt.rotate_after);
}

void WsStream::Impl::OnData(Conn* c, bool text, std::string_view data) {
  if (c == next.get()) {
    // The rotation's first data message: the new connection takes over; the old one drains.
    ++stats.rotations;
    rotation_failures = 0;
    std::shared_ptr<Conn> old = std::move(current);
    current = std::move(next);
    if (old && !old->dead) {
      old->draining = true;
      drains.push_back(old);
      auto t = std::make_shared<ClockTimer>(io, clock, poll);
      t->At(clock.Now() + opt.rotation_drain, [this, t, old](beast::error_code ec) {
        if (ec) return;
        old->CloseGracefully();
        drains.erase(std::remove(drains.begin(), drains.end(), old), drains.end());
      });
    }
    ArmRotation(opt.rotate_after - (clock.Now() - current->opened_at));
  }
  if (!text) return;
  const bool from_current = c == current.get();
  if (from_current) failures = 0;
  ++stats.messages;
  last_message_at = clock.Now();
  on_message(data);
  if (from_current && !c->dead && data.find("\"serverShutdown\"") != std::string_view::npos) {
    c->Fail("serverShutdown event");
  }
}

void WsStream::Impl::OnFailed(Conn* c, const std::string& why) {
  if (stop) return;
  if (c == current.get()) {
    spdlog::warn("ws: {}: connection {} failed: {}", url.host_header, c->id, why);
    ++stats.failures;
    current.reset();
    if (next) next->Abort();
    next.reset();
    for (auto& d : drains) d->Abort();
    drains.clear();
    rotate_timer.Cancel();
    heal = true;
    ScheduleReconnect();
  } else if (c == next.get()) {
    spdlog::warn("ws: {}: rotation connection {} failed: {}", url.host_header, c->id, why);
    ++stats.failures;
    next.reset();
    ArmRotation(Backoff(rotation_failures++));
  } else {
    drains.erase(std::remove_if(drains.begin(), drains.end(),
                                [c](const std::shared_ptr<Conn>& d) { return d.get() == c; }),
                 drains.end());
  }
}

void WsStream::Impl::ScheduleReconnect() {
  Micros delay = Backoff(failures++);
  spdlog::info("ws: {}: reconnecting in {} ms", url.host_header, delay / 1000);
  reconnect_timer.At(clock.Now() + delay, [this](beast::error_code ec) {
    if (!ec && !stop && !current) Open(/*rotation=*/false);
  });
}

void WsStream::Impl::ArmRotation(Micros delay_from_now) {
  rotate_timer.At(clock.Now() + std::max<Micros>(0, delay_from_now), [this](beast::error_code ec) {
    if (ec || stop || !current || !current->open || next) return;
    Open(/*rotation=*/true);
  });
}

void WsStream::Impl::AbortAll() {
  beast::error_code ignored;
  reconnect_timer.Cancel();
  rotate_timer.Cancel();
  for (auto* c : {&current, &next}) {
    if (*c) (*c)->Abort();
    c->reset();
  }
  for (auto& d : drains) d->Abort();
  drains.clear();
}

// ---------------------------------------------------------------------------------------------

WsStream::WsStream(WsOptions options, OnMessage on_message, OnReconnect on_reconnect)
    : opt_(std::move(options)),
      impl_(std::make_unique<Impl>(*this, std::move(on_message), std::move(on_reconnect))) {}

WsStream::~WsStream() = default;

Status WsStream::Run() {
  Impl& m = *impl_;
  ASSIGN_OR_RETURN(m.url, ParseUrl(opt_.url));
  if (opt_.path.empty()) return InvalidArgument("websocket url: no streams to subscribe to");
  if (opt_.path[0] != '/' || opt_.path.find_first_of(" #") != std::string::npos) {
    return InvalidArgument("websocket url: bad stream path '{}'", opt_.path);
  }
  m.target = m.url.prefix + opt_.path;
  if (m.url.tls && !m.tls) {
    m.tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    m.tls->set_default_verify_paths(ec);
    if (ec) spdlog::warn("ws: no system CA certificates: {}", ec.message());
    m.tls->set_verify_mode(ssl::verify_peer);
  }
  if (m.stop) return Status::Ok();
  m.Open(/*rotation=*/false);
  m.io.run();  // until Stop()
  // Close everything and let the aborted operations finish, so nothing outlives Run().
  m.stop = true;
  m.AbortAll();
  m.io.restart();
  m.io.run();
  return Status::Ok();
}

void WsStream::Stop() {
  impl_->stop = true;
  impl_->io.stop();
}

}  // namespace cryptolake::speed
