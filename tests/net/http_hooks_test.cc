// The HTTP server core's hooks (net/http_server.h: Router::Fallback, Router::Upgrade, and
// Response::delivery / delay), seen byte for byte by a raw client socket on 127.0.0.1.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <memory>
#include <string>

#include "net/http_server.h"
#include "testing/raw_conn.h"

namespace cryptolake::net {
namespace {

using cryptolake::testing::RawConn;
using tcp = boost::asio::ip::tcp;

std::unique_ptr<HttpServer> StartOrDie(Router router, ServerOptions opt = {}) {
  auto s = HttpServer::Start(std::move(opt), std::move(router));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// The request id the server put in `raw` (16 hex digits after "X-Request-Id: "), "" if none.
std::string IdIn(const std::string& raw) {
  size_t at = raw.find("X-Request-Id: ");
  return at == std::string::npos ? "" : raw.substr(at + 14, 16);
}

// A fallback that answers what it saw: method, target, path, a query parameter and a header.
Router EchoFallback() {
  Router r;
  r.Get("/route", [](const Request&) {
    Response resp;
    resp.content_type = "text/plain";
    resp.body = "route";
    return resp;
  });
  r.Fallback([](const Request& req) {
    Response resp;
    resp.content_type = "text/plain";
    resp.body = req.method + " " + req.target + " path=" + req.path +
                " a=" + req.Param("a").value_or("-") + " unit=" + req.Header("X-Time-Unit") +
                " conn=" + std::to_string(req.connection);
    resp.headers.emplace_back("X-Used-Weight", "7");
    resp.headers.emplace_back("Retry-After", "3");
    return resp;
  });
  return r;
}

std::string Head(int status, const char* reason, size_t length, const std::string& extra,
                 const std::string& id, const char* connection) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(length) + "\r\n" +
         extra + "X-Request-Id: " + id + "\r\n" + connection + "\r\n";
}

TEST(HttpServerHooksTest, FallbackSeesEveryMethodTargetHeaderAndQuery) {
  ServerOptions opt;
  opt.keep_alive_header = true;
  auto srv = StartOrDie(EchoFallback(), opt);
  ASSERT_TRUE(srv);
  RawConn c(srv->port());
  const std::string extra = "X-Used-Weight: 7\r\nRetry-After: 3\r\n";

  c.Send(
      "POST /api/v3/order?a=1%202&b HTTP/1.1\r\nHost: x\r\nX-Time-Unit: MICROSECOND\r\n"
      "Content-Length: 0\r\n\r\n");
  std::string body =
      "POST /api/v3/order?a=1%202&b path=/api/v3/order a=1 2 unit=MICROSECOND conn=1";
  std::string raw = c.ReadUntil(body);
  EXPECT_EQ(raw,
            Head(200, "OK", body.size(), extra, IdIn(raw), "Connection: keep-alive\r\n") + body);

  // A target the core cannot decode, and a method it does not know: the fallback's too.
  c.Send("BREW /a%zz?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  body = "BREW /a%zz?a=%zz path= a=- unit= conn=1";
  raw = c.ReadUntil(body);
  EXPECT_EQ(raw,
            Head(200, "OK", body.size(), extra, IdIn(raw), "Connection: keep-alive\r\n") + body);

  // A route still answers its own path; a HEAD elsewhere gets the fallback's head, no body.
  c.Send("GET /route HTTP/1.1\r\nHost: x\r\n\r\n");
  raw = c.ReadUntil("route");
  EXPECT_EQ(raw, Head(200, "OK", 5, "", IdIn(raw), "Connection: keep-alive\r\n") + "route");
  c.Send("HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  raw = c.ReadAll();
  EXPECT_FALSE(c.timed_out());
  EXPECT_EQ(raw, Head(200, "OK", std::string("HEAD /h path=/h a=- unit= conn=1").size(), extra,
                      IdIn(raw), "Connection: close\r\n"));
}

// A handler whose answers are delivered as the request's path says.
Router DeliveryRouter(std::promise<void>* held = nullptr) {
  Router r;
  r.Fallback([held](const Request& req) {
    Response resp;
    resp.content_type = "text/plain";
    resp.body = "0123456789";
    if (req.path == "/truncate") resp.delivery = Delivery::kTruncate;
    if (req.path == "/drop") resp.delivery = Delivery::kDrop;
    if (req.path == "/slow") resp.delay = std::chrono::milliseconds(20);
    if (req.path == "/forever") {
      resp.delay = std::chrono::hours(1);
      if (held) held->set_value();
    }
    return resp;
  });
  return r;
}

TEST(HttpServerHooksTest, TruncateSendsTheFullLengthHalfTheBodyThenCloses) {
  auto srv = StartOrDie(DeliveryRouter());
  ASSERT_TRUE(srv);
  RawConn c(srv->port());
  c.Send("GET /truncate HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw = c.ReadAll();
  EXPECT_FALSE(c.timed_out());
  EXPECT_EQ(raw, Head(200, "OK", 10, "", IdIn(raw), "Connection: close\r\n") + "01234");
}

TEST(HttpServerHooksTest, DropClosesWithoutAnAnswer) {
  auto srv = StartOrDie(DeliveryRouter());
  ASSERT_TRUE(srv);
  RawConn c(srv->port());
  c.Send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadAll(), "");
  EXPECT_FALSE(c.timed_out());
  RawConn again(srv->port());  // the server goes on
  again.Send("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = again.ReadAll();
  EXPECT_EQ(raw, Head(200, "OK", 10, "", IdIn(raw), "Connection: close\r\n") + "0123456789");
}

TEST(HttpServerHooksTest, DelayHoldsTheAnswerAndStopAbandonsIt) {
  std::promise<void> held;
  auto srv = StartOrDie(DeliveryRouter(&held));
  ASSERT_TRUE(srv);
  RawConn c(srv->port());
  c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw = c.ReadUntil("0123456789");
  EXPECT_EQ(raw, Head(200, "OK", 10, "", IdIn(raw), "") + "0123456789");
  // Held for an hour: Stop() returns at once and the client sees the connection end, no answer.
  c.Send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
  held.get_future().wait();
  srv->Stop();
  EXPECT_EQ(c.ReadAll(), "");
  EXPECT_FALSE(c.timed_out());
}

// An upgrade handler that answers "<path> <connection>" on the socket it took over, then keeps a
// read pending until the client goes (or the server stops).
struct Taken : std::enable_shared_from_this<Taken> {
  explicit Taken(tcp::socket s) : socket(std::move(s)) {}
  void Start(std::string hello) {
    out = std::move(hello);
    boost::asio::async_write(
        socket, boost::asio::buffer(out),
        [self = shared_from_this()](boost::system::error_code, size_t) { self->Read(); });
  }
  void Read() {
    socket.async_read_some(boost::asio::buffer(in),
                           [self = shared_from_this()](boost::system::error_code ec, size_t) {
                             if (!ec) self->Read();
                           });
  }
  tcp::socket socket;
  std::string out;
  char in[64];
};

TEST(HttpServerHooksTest, UpgradeTakesTheSocketOverUntilStop) {
  Router r = EchoFallback();
  r.Upgrade([](Request req, tcp::socket s) {
    std::make_shared<Taken>(std::move(s))
        ->Start("took " + req.target + " " + std::to_string(req.connection) + "\n");
  });
  auto srv = StartOrDie(std::move(r));
  ASSERT_TRUE(srv);
  const std::string upgrade =
      " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  RawConn a(srv->port());
  a.Send("GET /ws/btcusdt@kline_1m" + upgrade);
  EXPECT_EQ(a.ReadUntil("\n"), "took /ws/btcusdt@kline_1m 1\n");
  RawConn b(srv->port());
  b.Send("GET /route" + upgrade);  // any path, a route's too
  EXPECT_EQ(b.ReadUntil("\n"), "took /route 2\n");
  RawConn plain(srv->port());  // not an upgrade: routed as usual
  plain.Send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = plain.ReadAll();
  std::string body = "GET /x path=/x a=- unit= conn=3";
  EXPECT_EQ(raw, Head(200, "OK", body.size(), "X-Used-Weight: 7\r\nRetry-After: 3\r\n", IdIn(raw),
                      "Connection: close\r\n") +
                     body);
  srv->Stop();  // ends the taken connections (their reads were pending)
  EXPECT_EQ(a.ReadAll(), "");
  EXPECT_FALSE(a.timed_out());
  EXPECT_EQ(b.ReadAll(), "");
  EXPECT_FALSE(b.timed_out());
}

}  // namespace
}  // namespace cryptolake::net
