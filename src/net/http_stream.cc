// The HTTP server core's event-stream part (http_server_impl.h: StartEventStream).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "net/http_server_impl.h"
#include "net/http_text.h"

namespace cryptolake::net::internal {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// An event stream: the connection after its request was accepted by a stream route. Everything
// runs on the connection's strand: a timer polls the route's poll function every interval, what
// it sends goes out in one asynchronous write at a time, and a read is kept pending to notice the
// client hanging up. Owned by its pending operations (the io context destroys them, and so the
// stream, when the server stops).
class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(HttpServer::Impl& srv, tcp::socket socket, RouteMetrics* metrics, Request req,
                StreamReply reply)
      : srv_(srv),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        metrics_(metrics),
        req_(std::move(req)),
        poll_(std::move(reply.poll)),
        interval_(std::clamp<std::chrono::milliseconds>(
            reply.interval, std::chrono::milliseconds(1), std::chrono::hours(24))) {
    if (srv_.streams_active) srv_.streams_active->Inc();
  }
  ~StreamSession() { Finish(); }

  // On the connection's strand (the session's handler that hands the connection over).
  void Start() {
    out_ = StreamHead(req_.id);
    next_poll_ = SteadyClock::now();
    if (!poll_) closing_ = true;
    Poll();
    Read();
  }

 private:
  // Runs the poll function if it is due and no write is in flight, writes what it sent, and
  // sets the timer for what comes next.
  void Poll() {
    if (closed_) return;
    const auto now = SteadyClock::now();
    if (!writing_ && !closing_ && now >= next_poll_) {
      next_poll_ = now + interval_;
      try {
        poll_(sink_);
      } catch (const std::exception& e) {
        Failed(e.what());
      } catch (...) {
        Failed("unknown exception");
      }
      out_ += sink_.Take();
      if (sink_.closed()) closing_ = true;
    }
    if (!writing_ && !out_.empty()) {
      writing_ = true;
      write_deadline_ = now + kIdleTimeout;
      asio::async_write(
          socket_, asio::buffer(out_),
          [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
    } else if (!writing_ && closing_) {
      return End();
    }
    Arm();
  }

  void Failed(const char* what) {
    ++srv_.exceptions;
    metrics_->CountException();
    spdlog::error("serve: request {} {} {}: the stream's poll function threw: {}", req_.id,
                  req_.method, req_.route, what);
    sink_.Take();
    sink_.Close();
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    out_.clear();
    if (ec) return Close();
    Poll();  // a poll that fell due meanwhile runs now
  }

  // The next wake-up: the next poll, or the deadline of the write in flight, or of the linger.
  void Arm() {
    if (closed_) return;
    SteadyClock::time_point at = next_poll_;
    if (writing_) at = write_deadline_;
    if (ended_) at = linger_deadline_;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
  }

  void OnTimer(beast::error_code ec) {
    if (ec || closed_) return;  // re-armed or closed meanwhile
    const auto now = SteadyClock::now();
    if (ended_) {
      if (now >= linger_deadline_) return Close();
      return Arm();
    }
    if (writing_ && now >= write_deadline_) return Close();  // the client stopped reading
    Poll();
  }

  // Discards what the client sends; its end (or an error) closes the stream.
  void Read() {
    socket_.async_read_some(asio::buffer(read_buf_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Read();
                            });
  }

  // The stream is over from the server's side (its place is free again): half-close, then wait
  // (a short while) for the client to close too, so that closing does not reset the connection
  // under the last events.
  void End() {
    ended_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    Finish();
    linger_deadline_ = SteadyClock::now() + kLingerTimeout;
    Arm();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    Finish();
  }

  // Counts the stream and gives its place back, once.
  void Finish() {
    if (finished_) return;
    finished_ = true;
    metrics_->Count(200, SteadyClock::now(), false);
    if (srv_.streams_active) srv_.streams_active->Dec();
    srv_.ReleaseStream();
  }

  HttpServer::Impl& srv_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  RouteMetrics* metrics_;
  const Request req_;
  std::function<void(EventSink&)> poll_;
  const std::chrono::milliseconds interval_;
  EventSink sink_;
  std::string out_;  // being written (the head, then the frames of one or more polls)
  std::array<char, 512> read_buf_;
  SteadyClock::time_point next_poll_, write_deadline_, linger_deadline_;
  bool writing_ = false, closing_ = false, ended_ = false, closed_ = false, finished_ = false;
};

}  // namespace

void StartEventStream(HttpServer::Impl& srv, tcp::socket socket, RouteMetrics* metrics, Request req,
                      StreamReply reply) {
  std::make_shared<StreamSession>(srv, std::move(socket), metrics, std::move(req), std::move(reply))
      ->Start();
}

}  // namespace cryptolake::net::internal
