// HttpClient (libcurl) against real sockets on 127.0.0.1: a scripted raw server (for answers no
// real server gives on purpose: a body cut short, a close without a response, no answer at all),
// the project's own HTTP server (net::HttpServer, for POSTs and their bodies) and a port with no
// listener. Every status, header, body and error message is checked exactly.
#include "exchange/http.h"

#include <gtest/gtest.h>

#include <mutex>

#include "net/http_server.h"
#include "testing/raw_server.h"
#include "testing/testing.h"

namespace cryptolake::exchange {
namespace {

using cryptolake::testing::HttpReply;
using cryptolake::testing::RawServer;
using cryptolake::testing::RawStep;
using After = RawStep::After;

TEST(HttpClientTest, ReturnsStatusHeadersAndBodyAndSendsItsHeaders) {
  RawServer server(
      {{HttpReply(200, "OK", "{\"serverTime\":1617321600000}",
                  {"Content-Type: application/json;charset=UTF-8", "X-MBX-USED-WEIGHT-1M:   7  "}),
        After::kClose}});
  HttpOptions o;
  o.headers = {"X-MBX-TIME-UNIT: MICROSECOND"};
  HttpClient client(o);
  StatusOr<HttpResponse> r = client.Get(server.url() + "/api/v3/time?a=1&b=x%20y");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"serverTime\":1617321600000}");
  // Names lower-cased, values trimmed.
  EXPECT_EQ(r->headers,
            (std::map<std::string, std::string>{{"content-length", "28"},
                                                {"content-type", "application/json;charset=UTF-8"},
                                                {"x-mbx-used-weight-1m", "7"}}));
  EXPECT_EQ(r->Header("x-mbx-used-weight-1m"), "7");
  EXPECT_EQ(r->Header("retry-after"), "");

  server.WaitDone();
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string head = server.requests()[0];
  EXPECT_TRUE(head.starts_with("GET /api/v3/time?a=1&b=x%20y HTTP/1.1\r\nHost: 127.0.0.1:" +
                               std::to_string(server.port()) + "\r\n"))
      << head;
  EXPECT_NE(head.find("\r\nUser-Agent: cryptolake/0.1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nX-MBX-TIME-UNIT: MICROSECOND\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nAccept-Encoding: "), std::string::npos) << head;
}

TEST(HttpClientTest, AnHttpErrorStatusIsAResponseNotAnError) {
  const std::string body =
      "{\"code\":-1003,\"msg\":\"Too much request weight used; current limit is 6000 request "
      "weight per 1 MINUTE.\"}";
  RawServer server(
      {{HttpReply(429, "Too Many Requests", body, {"Retry-After: 12", "Connection: close"}),
        After::kClose},
       {HttpReply(503, "Service Unavailable", ""), After::kClose}});
  HttpClient client;
  StatusOr<HttpResponse> r = client.Get(server.url() + "/api/v3/klines");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->Header("retry-after"), "12");
  r = client.Get(server.url() + "/api/v3/klines");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->Header("retry-after"), "");  // headers are the response's own, not the last one's
}

TEST(HttpClientTest, OfAHeaderGivenTwiceTheLastValueWins) {
  RawServer server(
      {{HttpReply(200, "OK", "[]", {"X-Dup: first", "x-dup: second"}), After::kClose}});
  HttpClient client;
  StatusOr<HttpResponse> r = client.Get(server.url() + "/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Header("x-dup"), "second");
}

TEST(HttpClientTest, KeepsTheConnectionAliveAcrossCalls) {
  RawServer server({{HttpReply(200, "OK", "one"), After::kKeep},
                    {HttpReply(200, "OK", "two"), After::kKeep},
                    {HttpReply(200, "OK", "three"), After::kClose}});
  HttpClient client;
  for (const char* want : {"one", "two", "three"}) {
    StatusOr<HttpResponse> r = client.Get(server.url() + "/ping");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, want);
  }
  server.WaitDone();
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, ABodyShorterThanItsContentLengthIsATruncatedResponse) {
  RawServer server(
      {{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[[1617321600000,\"58720", After::kClose}});
  HttpClient client;
  const std::string url = server.url() + "/api/v3/klines";
  StatusOr<HttpResponse> r = client.Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "GET " + url +
                                      ": truncated response (transfer closed with 78 bytes "
                                      "remaining to read)");
}

TEST(HttpClientTest, AFreshConnectionClosedWithoutAResponseIsAnEmptyReply) {
  RawServer server({{"", After::kClose}});
  HttpClient client;
  const std::string url = server.url() + "/api/v3/time";
  StatusOr<HttpResponse> r = client.Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "GET " + url + ": Empty reply from server");
  server.WaitDone();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpClientTest, AReusedConnectionClosedWithoutAResponseIsNotResent) {
  // The second request arrives on the kept connection, which closes without answering; libcurl
  // would resend it on a new connection, but HttpClient never retries by itself.
  RawServer server({{HttpReply(200, "OK", "{}"), After::kKeep},
                    {"", After::kClose},
                    {HttpReply(200, "OK", "resent"), After::kClose}});
  HttpClient client;
  const std::string url = server.url() + "/api/v3/ping";
  ASSERT_TRUE(client.Get(url).ok());
  StatusOr<HttpResponse> r = client.Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "GET " + url + ": connection closed without a response (reused keep-alive connection)");
  EXPECT_EQ(server.requests().size(), 2u);  // nothing was resent
  // The client is still usable: the next call opens a new connection.
  r = client.Get(url);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "resent");
  server.WaitDone();
  EXPECT_EQ(server.requests().size(), 3u);
  // libcurl had connected for its resend (a connection that sent nothing) before it was aborted.
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClientTest, AResponseThatNeverComesTimesOutWithTheLimitInTheMessage) {
  // The server holds the request until the client gives up and closes: the wait is the
  // client's own timer, the thing under test.
  RawServer server({{"", After::kHold}});
  HttpOptions o;
  o.timeout = 300 * 1000;
  HttpClient client(o);
  const std::string url = server.url() + "/api/v3/klines";
  StatusOr<HttpResponse> r = client.Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string m = r.status().message();
  const std::string prefix = "GET " + url + ": timeout after 300 ms (Operation timed out after ";
  const std::string suffix = " milliseconds with 0 bytes received)";
  EXPECT_TRUE(m.starts_with(prefix) && m.ends_with(suffix)) << m;
  server.WaitDone();  // the client closed the connection
}

TEST(HttpClientTest, ARefusedConnectionIsUnavailableAndNamesThePort) {
  int port = 0;
  {
    RawServer server({});
    port = server.port();
  }  // nothing listens there any more
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/v3/ping";
  StatusOr<HttpResponse> r = client.Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string m = r.status().message();
  const std::string prefix =
      "GET " + url + ": Failed to connect to 127.0.0.1 port " + std::to_string(port) + " after ";
  EXPECT_TRUE(m.starts_with(prefix) && m.ends_with(" ms: Couldn't connect to server")) << m;
}

TEST(HttpClientTest, AUrlLibcurlCannotUseIsInvalidArgument) {
  HttpClient client;
  StatusOr<HttpResponse> r = client.Get("gopherx://127.0.0.1/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "GET gopherx://127.0.0.1/: Protocol \"gopherx\" not supported or disabled in libcurl");
  r = client.Get("http://");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "GET http://: URL using bad/illegal format or missing URL");
}

// A net::HttpServer whose fallback records each request and answers `status` with `body`, held
// back `delay` when set.
class PostServer {
 public:
  PostServer(int status, std::string body, std::chrono::microseconds delay = {}) {
    net::Router router;
    router.Fallback([this, status, body, delay](const net::Request& req) {
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      net::Response r;
      r.status = status;
      r.body = body;
      r.delay = delay;
      r.headers.emplace_back("X-Seen", std::to_string(req.body.size()));
      return r;
    });
    auto s = net::HttpServer::Start({}, std::move(router));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) server_ = std::move(s).value();
  }
  std::string url() const { return server_->url(); }
  std::vector<net::Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<net::Request> requests_;
  std::unique_ptr<net::HttpServer> server_;  // last: stopped first
};

TEST(HttpClientTest, PostSendsItsBodyAndHeadersAndReturnsTheResponse) {
  PostServer server(201, "{\"id\":7}");
  HttpOptions o;
  o.headers = {"Authorization: Bearer abc"};
  HttpClient client(o);
  const std::string body(3000, 'x');  // over 1 KiB: no "Expect: 100-continue" round trip
  StatusOr<HttpResponse> r = client.Post(server.url() + "/hook?a=1", body,
                                         {"Content-Type: application/json", "Idempotency-Key: k1"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"id\":7}");
  EXPECT_EQ(r->Header("x-seen"), "3000");
  // The same client GETs again afterwards: no body, none of the POST's own headers.
  r = client.Get(server.url() + "/after");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Header("x-seen"), "0");

  const std::vector<net::Request> got = server.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook?a=1");
  EXPECT_EQ(got[0].body, body);
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].Header("Idempotency-Key"), "k1");
  EXPECT_EQ(got[0].Header("Authorization"), "Bearer abc");
  EXPECT_EQ(got[0].Header("Content-Length"), "3000");
  EXPECT_EQ(got[0].Header("Expect"), "");
  EXPECT_EQ(got[1].method, "GET");
  EXPECT_EQ(got[1].target, "/after");
  EXPECT_EQ(got[1].body, "");
  EXPECT_EQ(got[1].Header("Idempotency-Key"), "");
  EXPECT_EQ(got[1].Header("Authorization"), "Bearer abc");
}

TEST(HttpClientTest, APostAnsweredWithAnErrorStatusIsAResponse) {
  PostServer server(503, "busy");
  HttpClient client;
  StatusOr<HttpResponse> r = client.Post(server.url() + "/hook", "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "busy");
}

TEST(HttpClientTest, PostFailuresNameThePostAndItsUrl) {
  int port = 0;
  {
    RawServer server({});
    port = server.port();
  }
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook/secret";
  StatusOr<HttpResponse> r = client.Post(url, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string m = r.status().message();
  const std::string prefix =
      "POST " + url + ": Failed to connect to 127.0.0.1 port " + std::to_string(port) + " after ";
  EXPECT_TRUE(m.starts_with(prefix) && m.ends_with(" ms: Couldn't connect to server")) << m;

  r = client.Post("gopherx://127.0.0.1/", "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "POST gopherx://127.0.0.1/: Protocol \"gopherx\" not supported or disabled in libcurl");
}

TEST(HttpClientTest, APostWhoseAnswerNeverComesTimesOut) {
  // The server holds its answer for ten minutes; the client's 300 ms timer is under test.
  PostServer server(200, "late", std::chrono::minutes(10));
  HttpOptions o;
  o.timeout = 300 * 1000;
  HttpClient client(o);
  const std::string url = server.url() + "/hook";
  StatusOr<HttpResponse> r = client.Post(url, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string m = r.status().message();
  const std::string prefix = "POST " + url + ": timeout after 300 ms (Operation timed out after ";
  EXPECT_TRUE(m.starts_with(prefix) && m.ends_with(" milliseconds with 0 bytes received)")) << m;
}

}  // namespace
}  // namespace cryptolake::exchange
