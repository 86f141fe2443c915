// The HTTP server core's connection part: the listener, keep-alive HTTP/1.1 sessions
// (parse, route, auth, static files, gzip), Start and Stop. Text helpers are in http_text.cc,
// event streams in http_stream.cc, the shared state in http_server_impl.h.
#include "net/http_server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "net/http_server_impl.h"
#include "net/http_text.h"

namespace cryptolake::net {

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using internal::AcceptsGzip;
using internal::AppendHead;
using internal::Authorized;
using internal::ContentTypeFor;
using internal::IEquals;
using internal::kIdleTimeout;
using internal::kLingerBytes;
using internal::kLingerTimeout;
using internal::ParseTarget;
using internal::RouteEntry;
using internal::RouteMetrics;
using internal::SteadyClock;
using internal::StreamHead;

constexpr size_t kHeaderLimit = 16 * 1024;
// Cached bodies (Response::shared_body) at least this long get a gzip copy; a copy the handler
// made itself (Response::shared_gzip) is sent whatever the size.
constexpr size_t kGzipMinBytes = 1024;
// The Retry-After of the 503 that refuses an event stream over ServerOptions::max_streams.
constexpr int kStreamRetryAfterSeconds = 5;

// True if `p` is `root` or inside it (both canonical).
bool IsUnder(const fs::path& p, const fs::path& root) {
  const std::string& r = root.native();
  const std::string& s = p.native();
  if (s.size() < r.size() || s.compare(0, r.size(), r) != 0) return false;
  return s.size() == r.size() || r.back() == '/' || s[r.size()] == '/';
}

Response MethodNotAllowed(std::string_view method) {
  Response r =
      JsonError(405, "", fmt::format("method {} not allowed (allowed: GET, HEAD)", method));
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

// One connection: reads requests and writes responses asynchronously on its strand, until the
// connection closes or becomes an event stream.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl& srv, tcp::socket socket, uint64_t number)
      : srv_(srv), stream_(std::move(socket)), delay_(stream_.get_executor()), number_(number) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(srv_.opt.max_body);
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    stream_head_ = false;
    req_.id = srv_.NextRequestId();
    if (ec) {
      static const beast::error_category& kHttp =
          http::make_error_code(http::error::end_of_stream).category();
      if (ec.category() != kHttp || ec == http::error::end_of_stream ||
          ec == http::error::partial_message) {
        return Close();  // the peer went, a timeout, or the server is stopping
      }
      keep_alive_ = false;
      head_request_ = false;
      http10_ = false;
      start_ = SteadyClock::now();
      RouteMetrics* m = &srv_.unmatched_metrics;
      if (ec == http::error::body_limit) {
        resp_ = JsonError(413, "", fmt::format("request body over {} bytes", srv_.opt.max_body));
      } else if (ec == http::error::header_limit) {
        resp_ = JsonError(431, "", "request headers over 16384 bytes");
      } else {
        resp_ = JsonError(400, "", "malformed HTTP request: " + ec.message());
      }
      return Write(m);
    }
    start_ = SteadyClock::now();
    auto& msg = parser_->get();
    Request& req = req_;
    req.method.assign(msg.method_string().data(), msg.method_string().size());
    req.target.assign(msg.target().data(), msg.target().size());
    req.path.clear();
    req.query.clear();
    req.headers.clear();
    req.route.clear();
    req.connection = number_;
    for (const auto& f : msg) {
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() == 10;
    head_request_ = msg.method() == http::verb::head;
    resp_ = Response();
    RouteMetrics* m = Answer(msg.method(), websocket::is_upgrade(msg));
    if (m) Write(m);
  }

  // Decides the answer to req_ (http_server.h: the order of the checks, and the hooks) into
  // resp_, and returns the metrics to count it in; null when the connection was handed over (an
  // event stream, an upgrade).
  RouteMetrics* Answer(http::verb method, bool upgrade) {
    Request& req = req_;
    const bool get = method == http::verb::get || head_request_;
    const bool fallback = static_cast<bool>(srv_.fallback);
    RouteMetrics* m = &srv_.unmatched_metrics;
    RouteEntry* route = nullptr;
    bool target_ok = ParseTarget(req);
    if (!target_ok) {
      req.path.clear();
      req.query.clear();
      if (!fallback) {
        resp_ = JsonError(400, "", "malformed request target");
        return m;
      }
    }
    if (method == http::verb::unknown && !fallback) {
      resp_ = JsonError(501, "", fmt::format("method {} not implemented", req.method));
      return m;
    }
    if (target_ok) {
      auto it = srv_.routes.find(req.path);
      if (it != srv_.routes.end()) {
        route = &it->second;
        m = route->metrics.get();
      } else if (!srv_.root.empty() && get && !fallback) {
        m = &srv_.static_metrics;
      }
    }
    req.route = m->label;
    if (srv_.opt.bearer_token && req.path != "/healthz" &&
        !Authorized(req, *srv_.opt.bearer_token)) {
      resp_ = JsonError(401, "", "missing or invalid bearer token");
      resp_.headers.emplace_back("WWW-Authenticate", "Bearer");
    } else if (upgrade && srv_.upgrade) {
      Upgrade();
      return nullptr;
    } else if (!route && fallback) {
      Call(srv_.fallback, m);
    } else if (!get) {
      resp_ = MethodNotAllowed(req.method);
    } else if (route && route->stream) {
      keep_alive_ = false;
      if (head_request_) {
        stream_head_ = true;
      } else if (OpenStream(*route, m)) {
        return nullptr;  // the stream owns the connection now
      }
    } else if (route) {
      Call(route->handler, m);
    } else if (m == &srv_.static_metrics) {
      resp_ = srv_.Static(req);
    } else {
      resp_ = JsonError(404, "", "not found");
    }
    return m;
  }

  void Call(const Handler& handler, RouteMetrics* m) {
    try {
      resp_ = handler(req_);
    } catch (const std::exception& e) {
      Failed(m, e.what());
    } catch (...) {
      Failed(m, "unknown exception");
    }
  }

  // Hands the connection to the upgrade handler (http_server.h, "Upgrades").
  void Upgrade() {
    stream_.expires_never();
    std::string id = req_.id;
    try {
      srv_.upgrade(std::move(req_), stream_.release_socket());
    } catch (const std::exception& e) {
      ++srv_.exceptions;
      spdlog::error("net: request {}: the upgrade handler threw: {}", id, e.what());
    } catch (...) {
      ++srv_.exceptions;
      spdlog::error("net: request {}: the upgrade handler threw", id);
    }
  }

  void Failed(RouteMetrics* m, const char* what) {
    ++srv_.exceptions;
    m->CountException();
    resp_ = InternalError(req_, 500, fmt::format("the handler threw: {}", what));
  }

  // Runs the stream route's handler if there is room for another stream. True when the request
  // became an event stream (which owns the connection from now on); else resp_ is the answer: the
  // handler's refusal, the 503 of the cap, or a 500 for a handler that threw.
  bool OpenStream(RouteEntry& route, RouteMetrics* m) {
    if (!srv_.AcquireStream()) {
      resp_ = JsonError(503, "",
                        fmt::format("too many event streams open (at most {}); retry later",
                                    srv_.opt.max_streams),
                        req_.id);
      resp_.headers.emplace_back("Retry-After", std::to_string(kStreamRetryAfterSeconds));
      return false;
    }
    StreamReply reply;
    try {
      reply = route.stream(req_);
    } catch (const std::exception& e) {
      srv_.ReleaseStream();
      Failed(m, e.what());
      return false;
    } catch (...) {
      srv_.ReleaseStream();
      Failed(m, "unknown exception");
      return false;
    }
    if (reply.refusal) {
      srv_.ReleaseStream();
      resp_ = std::move(*reply.refusal);
      return false;
    }
    stream_.expires_never();
    internal::StartEventStream(srv_, stream_.release_socket(), m, std::move(req_),
                               std::move(reply));
    return true;
  }

  void Write(RouteMetrics* m) {
    if (resp_.status < 100 || resp_.status > 599) {
      Failed(m, fmt::format("bad HTTP status {}", resp_.status).c_str());
    }
    if (resp_.delay.count() > 0) {
      // Held back (http_server.h, "Delivery"); Stop() destroys the wait, and so the session.
      delay_.expires_after(std::exchange(resp_.delay, {}));
      delay_.async_wait([self = shared_from_this(), m](beast::error_code ec) {
        if (ec) return self->Close();
        self->Write(m);
      });
      return;
    }
    if (resp_.delivery == Delivery::kDrop) return Close();
    if (resp_.delivery == Delivery::kTruncate) keep_alive_ = false;
    if (resp_.shared_body && (resp_.shared_gzip || resp_.shared_body->size() >= kGzipMinBytes) &&
        !std::any_of(resp_.headers.begin(), resp_.headers.end(),
                     [](const auto& h) { return IEquals(h.first, "content-encoding"); })) {
      resp_.headers.emplace_back("Vary", "Accept-Encoding");
      if (AcceptsGzip(req_)) {
        if (auto gz = resp_.shared_gzip ? resp_.shared_gzip : srv_.gzip.Find(resp_.shared_body)) {
          resp_.shared_body = std::move(gz);
          resp_.headers.emplace_back("Content-Encoding", "gzip");
        }
      }
    }
    const std::string& body = resp_.shared_body ? *resp_.shared_body : resp_.body;
    head_.clear();
    if (stream_head_) {
      head_ = StreamHead(req_.id);
    } else {
      AppendHead(head_, resp_, body.size(), keep_alive_, http10_ || srv_.opt.keep_alive_header,
                 req_.id);
    }
    m->Count(resp_.status, start_, true);
    size_t body_bytes = head_request_ || stream_head_ ? 0 : body.size();
    if (resp_.delivery == Delivery::kTruncate) body_bytes /= 2;
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head_),
                                           asio::buffer(body.data(), body_bytes)};
    stream_.expires_after(kIdleTimeout);
    asio::async_write(stream_, bufs, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    resp_.shared_body.reset();
    resp_.shared_gzip.reset();
    if (ec) return Close();
    if (!keep_alive_) return Linger();
    Read();
  }

  // Half-closes, then reads and drops what the client still sends until it closes too.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(buf_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kLingerBytes) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpServer::Impl& srv_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  Response resp_;
  std::string head_;
  SteadyClock::time_point start_;
  bool keep_alive_ = false, http10_ = false, head_request_ = false, stream_head_ = false;
  size_t drained_ = 0;
  asio::steady_timer delay_;  // holds an answer back (Response::delay)
  const uint64_t number_;     // the connection's number (Request::connection)
};

}  // namespace

void HttpServer::Impl::InitMetrics(RouteMetrics& m, std::string label) {
  m.label = std::move(label);
  if (!opt.metrics) return;
  Metrics& reg = *opt.metrics;
  m.requests =
      &reg.AddCounter("cryptolake_http_requests_total",
                      "HTTP requests answered, by route and status code.", {"route", "code"});
  m.duration = &reg.AddHistogram("cryptolake_http_request_duration_seconds",
                                 "Time from a request read to its response ready, by route.",
                                 Histogram::LatencyBuckets(), {"route"})
                    .WithLabels({m.label});
  m.exceptions = &reg.AddCounter("cryptolake_http_handler_exceptions_total",
                                 "Handlers that threw, by route.", {"route"})
                      .WithLabels({m.label});
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(*io), [this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {
      // E.g. out of file descriptors: try again shortly rather than spin.
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e && !stopping) Accept();
      });
      return;
    }
    beast::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(*this, std::move(s), ++accepted)->Run();
    Accept();
  });
}

Response HttpServer::Impl::Static(const Request& req) {
  auto forbidden = [] { return JsonError(403, "", "path outside the web root"); };
  auto not_found = [] { return JsonError(404, "", "not found"); };
  std::string_view p = req.path;
  p.remove_prefix(1);  // the leading '/'
  bool dir = p.empty() || p.back() == '/';
  if (!p.empty() && p.back() == '/') p.remove_suffix(1);
  fs::path full = root;
  if (!p.empty()) {
    for (size_t start = 0;;) {
      size_t slash = p.find('/', start);
      std::string_view seg =
          p.substr(start, slash == std::string_view::npos ? slash : slash - start);
      if (seg.empty() || seg == "." || seg == ".." ||
          seg.find_first_of(std::string_view("\\\0", 2)) != std::string_view::npos) {
        return forbidden();
      }
      full /= fs::path(seg);
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
  }
  std::error_code ec;
  fs::path canon = fs::canonical(full, ec);
  if (ec) return not_found();
  if (!IsUnder(canon, root)) return forbidden();
  if (fs::is_directory(canon, ec)) {
    canon = fs::canonical(canon / "index.html", ec);
    if (ec) return not_found();
    if (!IsUnder(canon, root)) return forbidden();
  } else if (dir) {
    return not_found();
  }
  // The canonical path has no symlinks; O_NOFOLLOW keeps one swapped in since from being used.
  int fd = ::open(canon.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return not_found();
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return not_found();
  }
  Response r;
  r.content_type = ContentTypeFor(canon);
  r.body.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < r.body.size()) {
    ssize_t n = ::pread(fd, r.body.data() + got, r.body.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  r.body.resize(got);  // a file that shrank meanwhile
  return r;
}

// ---------------------------------------------------------------------------------------------
// HttpServer

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Router router) {
  if (options.threads < 1) {
    return InvalidArgument("threads must be at least 1, got {}", options.threads);
  }
  if (options.port < 0 || options.port > 65535) return InvalidArgument("bad port {}", options.port);
  if (options.bearer_token && options.bearer_token->empty()) {
    return InvalidArgument("bearer token must not be empty");
  }
  if (options.max_streams < 1) {
    return InvalidArgument("max_streams must be at least 1, got {}", options.max_streams);
  }
  beast::error_code ec;
  std::string host = options.bind == "localhost" ? "127.0.0.1" : options.bind;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("bad bind address '{}': {}", options.bind, ec.message());
  if (!addr.is_loopback() && !options.bearer_token && !options.public_without_token) {
    return InvalidArgument(
        "refusing to bind {} without --token: the server would be reachable beyond this "
        "machine; set a bearer token or bind 127.0.0.1",
        options.bind);
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& m = *impl;
  m.id_base = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  if (!m.opt.web_root.empty()) {
    std::error_code fec;
    m.root = fs::canonical(m.opt.web_root, fec);
    if (fec || !fs::is_directory(m.root, fec)) {
      return InvalidArgument("web root {} is not a directory", m.opt.web_root.string());
    }
  }
  m.InitMetrics(m.static_metrics, "static");
  m.InitMetrics(m.unmatched_metrics, "unmatched");
  for (auto& [path, r] : router.routes_) {
    RouteEntry& e = m.routes[path];
    e.handler = std::move(r.handler);
    e.stream = std::move(r.stream);
    if (!e.metrics) {
      e.metrics = std::make_unique<RouteMetrics>();
      m.InitMetrics(*e.metrics, path);
    }
  }
  m.fallback = std::move(router.fallback_);
  m.upgrade = std::move(router.upgrade_);
  if (m.opt.metrics) {
    m.streams_active =
        &m.opt.metrics
             ->AddGauge("cryptolake_http_streams_active", "Server-Sent Event streams open now.")
             .WithLabels({});
  }

  m.io = std::make_unique<asio::io_context>(m.opt.threads);
  m.acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(*m.io));
  m.accept_retry = std::make_unique<asio::steady_timer>(m.acceptor->get_executor());
  tcp::endpoint ep(addr, static_cast<unsigned short>(m.opt.port));
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return IOError("cannot listen on {}:{}: {}", m.opt.bind, m.opt.port, ec.message());
  }
  m.bound_port = m.acceptor->local_endpoint().port();
  std::string h = addr.to_string();
  m.url = fmt::format("http://{}:{}", addr.is_v6() ? "[" + h + "]" : h, m.bound_port);
  m.Accept();
  for (int i = 0; i < m.opt.threads; ++i) {
    m.io_threads.emplace_back([io = m.io.get()] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->bound_port; }

std::string HttpServer::url() const { return impl_->url; }

int64_t HttpServer::handler_exceptions() const { return impl_->exceptions.load(); }

int HttpServer::open_streams() const { return impl_->open_streams.load(); }

void HttpServer::WaitForOpenStreams(int n) {
  std::unique_lock lock(impl_->streams_mu);
  impl_->streams_cv.wait(lock, [&] { return impl_->open_streams.load() <= n; });
}

void HttpServer::WaitForGzipCopies() { impl_->gzip.Drain(); }

void HttpServer::Stop() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> stop_lock(m.stop_mu);
  if (m.stopped) return;
  m.stopped = true;
  m.stopping = true;
  m.io->stop();
  for (auto& t : m.io_threads) t.join();
  m.io_threads.clear();
  m.gzip.Stop();
  // Destroying the io_context destroys the sessions' and streams' pending handlers and so the
  // sessions, the streams and their sockets: every connection closes here.
  m.accept_retry.reset();
  m.acceptor.reset();
  m.io.reset();
}

}  // namespace cryptolake::net
