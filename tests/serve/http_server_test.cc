// The serving layer's HTTP server over real sockets on 127.0.0.1: routing, query decoding, error
// bodies, malformed requests, HEAD, keep-alive, gzip of cached bodies, bearer tokens, the bind
// refusal, static files confined to the web root, Server-Sent Events, Stop() with streams open,
// and metrics.
#include "serve/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "serve/gzip.h"
#include "testing/raw_conn.h"
#include "testing/testing.h"

namespace cryptolake::serve {
namespace {

namespace fs = std::filesystem;
using cryptolake::testing::RawConn;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// A raw HTTP client over a POSIX socket: sends bytes exactly as given (no normalization of
// "..", no encoding), reads as testing::RawConn does (its 120 s timeout only ends a hang).

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string raw;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Reply ParseReply(const std::string& raw) {
  Reply r;
  r.raw = raw;
  size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    size_t eol = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, eol - pos);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

// One response on a kept-alive connection: headers, then Content-Length bytes (none for HEAD).
Reply ReadResponse(RawConn& c, bool head = false) {
  Reply r = ParseReply(c.ReadUntil("\r\n\r\n"));
  size_t len =
      head || r.Header("content-length").empty() ? 0 : std::stoul(r.Header("content-length"));
  r.body = c.ReadBytes(len);
  r.raw += r.body;
  return r;
}

// One request with "Connection: close"; the whole reply.
Reply Fetch(int port, const std::string& target, const std::vector<std::string>& headers = {},
            const std::string& method = "GET") {
  RawConn c(port);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "Connection: close\r\n\r\n";
  c.Send(req);
  return ParseReply(c.ReadAll());
}

// Sends raw bytes; the whole reply until the server closes.
Reply FetchRaw(int port, const std::string& raw) {
  RawConn c(port);
  c.Send(raw);
  return ParseReply(c.ReadAll());
}

std::unique_ptr<HttpServer> MustStart(ServerOptions options, Router router) {
  auto s = HttpServer::Start(std::move(options), std::move(router));
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  return std::move(s).value();
}

bool IsRequestId(const std::string& id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

// A stream that sends one event and ends.
StreamReply Once(std::string event, std::string data) {
  return StreamReply::Poll(
      [event, data](EventSink& sink) {
        sink.Send(event, data);
        sink.Close();
      },
      1h);
}

Response Text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Echoes what the server made of the request.
Router EchoRouter() {
  Router r;
  r.Get("/healthz", [](const Request&) { return Text("ok"); });
  r.Get("/echo", [](const Request& req) {
    std::string out = req.method + "|" + req.path + "|" + req.route + "|";
    for (const auto& [k, v] : req.query) out += "[" + k + "=" + v + "]";
    out += "|a=" + req.Param("a").value_or("<none>");
    out += "|zz=" + req.Param("zz").value_or("<none>");
    out += "|ua=" + req.Header("USER-AGENT");
    return Text(out);
  });
  r.Get("/throws", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  return r;
}

// ---------------------------------------------------------------------------------------------
// Helpers without a server

TEST(HttpHelpersTest, JsonErrorBodyIsExact) {
  Response r = JsonError(400, "from", "bad \"time\"\n\\ \x01");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      r.body,
      "{\"error\":{\"status\":400,\"parameter\":\"from\",\"message\":\"bad \\\"time\\\"\\n\\\\ "
      "\\u0001\"}}");
  EXPECT_EQ(JsonError(404, "", "not found").body,
            "{\"error\":{\"status\":404,\"message\":\"not found\"}}");
  EXPECT_EQ(
      JsonError(503, "", "busy", "0123456789abcdef").body,
      "{\"error\":{\"status\":503,\"message\":\"busy\",\"request_id\":\"0123456789abcdef\"}}");
}

// Whatever bytes a string holds (a configured symbol, an echoed parameter), the JSON text is
// valid: quotes, backslashes and control characters escaped, valid UTF-8 kept, every byte that
// is not part of valid UTF-8 replaced by U+FFFD.
TEST(HttpHelpersTest, JsonStringsAreEscapedAndAlwaysValidUtf8) {
  auto json = [](std::string_view s) {
    std::string out;
    AppendJsonString(out, s);
    return out;
  };
  EXPECT_EQ(json("QU\"OTE\\SYM"), "\"QU\\\"OTE\\\\SYM\"");
  EXPECT_EQ(json(std::string("a\0b\x1f\t\r\n\b\f", 9)), "\"a\\u0000b\\u001f\\t\\r\\n\\b\\f\"");
  EXPECT_EQ(json("\xE2\x82\xAC \xC3\xA9 \xF0\x9F\x98\x80 \x7F"),
            "\"\xE2\x82\xAC \xC3\xA9 \xF0\x9F\x98\x80 \x7F\"");
  EXPECT_EQ(json("a\xFF"
                 "b"),
            "\"a\\ufffdb\"");                                               // never valid
  EXPECT_EQ(json("\xC0\x80"), "\"\\ufffd\\ufffd\"");                        // overlong NUL
  EXPECT_EQ(json("x\xE2\x82"), "\"x\\ufffd\\ufffd\"");                      // cut short
  EXPECT_EQ(json("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // a surrogate
  EXPECT_EQ(json("\xF4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // over U+10FFFF
  EXPECT_EQ(json("\x80z"), "\"\\ufffdz\"");                                 // a stray continuation
}

// An internal failure: a generic message and the request id to the client, the detail (here a
// path and SQL) to the log under that id.
TEST(HttpHelpersTest, InternalErrorSendsTheIdAndLogsTheDetail) {
  Request req;
  req.method = "GET";
  req.path = "/api/x";
  req.route = "/api/x";
  req.id = "00112233aabbccdd";
  testing::LogCapture log;
  Response r = InternalError(req, 500, "cannot read /srv/lake/x.parquet [in: SELECT 1]");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"status\":500,\"message\":\"internal error\",\"request_id\":"
            "\"00112233aabbccdd\"}}");
  EXPECT_EQ(InternalError(req, 503, "lake gone").body,
            "{\"error\":{\"status\":503,\"message\":\"service unavailable\",\"request_id\":"
            "\"00112233aabbccdd\"}}");
  const std::string text = log.text();
  EXPECT_NE(text.find("serve: request 00112233aabbccdd GET /api/x failed with 500: cannot read "
                      "/srv/lake/x.parquet [in: SELECT 1]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("serve: request 00112233aabbccdd GET /api/x failed with 503: lake gone\n"),
            std::string::npos)
      << text;
}

TEST(HttpHelpersTest, WantsCsvFromFormatOrAccept) {
  auto req = [](std::vector<std::pair<std::string, std::string>> query, std::string accept) {
    Request r;
    r.query = std::move(query);
    if (!accept.empty()) r.headers.emplace_back("Accept", accept);
    return r;
  };
  EXPECT_TRUE(WantsCsv(req({{"format", "csv"}}, "")));
  EXPECT_FALSE(WantsCsv(req({{"format", "json"}}, "text/csv")));
  EXPECT_FALSE(WantsCsv(req({}, "")));
  EXPECT_TRUE(WantsCsv(req({}, "text/csv")));
  EXPECT_TRUE(WantsCsv(req({}, "text/csv, */*")));
  EXPECT_FALSE(WantsCsv(req({}, "*/*")));
  EXPECT_FALSE(WantsCsv(req({}, "application/json, text/csv")));
  EXPECT_TRUE(WantsCsv(req({}, "application/json;q=0.5, text/csv")));
  EXPECT_FALSE(WantsCsv(req({}, "text/csv;q=0.2, application/*;q=0.9")));
  EXPECT_FALSE(WantsCsv(req({}, "text/csv;q=0")));
  EXPECT_FALSE(WantsCsv(req({}, "text/html,application/xhtml+xml,*/*;q=0.8")));
}

TEST(HttpHelpersTest, RequestHeaderIsCaseInsensitiveAndParamTakesTheFirst) {
  Request r;
  r.headers = {{"X-Thing", "1"}, {"x-thing", "2"}};
  r.query = {{"a", "1"}, {"a", "2"}};
  EXPECT_EQ(r.Header("x-THING"), "1");
  EXPECT_EQ(r.Header("missing"), "");
  EXPECT_EQ(r.Param("a"), "1");
  EXPECT_EQ(r.Param("b"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Routing and HTTP

TEST(HttpServerTest, RoutesAndDecodesPathAndQuery) {
  auto s = MustStart({}, EchoRouter());
  Reply r = Fetch(s->port(), "/ech%6f?a=1&b=hello+world&c=%E2%82%AC&a=2&d&e=&&f=x%3Dy%2B",
                  {"User-Agent: tester"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain");
  EXPECT_EQ(
      r.body,
      "GET|/echo|/echo|[a=1][b=hello world][c=\xE2\x82\xAC][a=2][d=][e=][f=x=y+]|a=1|zz=<none>"
      "|ua=tester");
  EXPECT_EQ(r.Header("connection"), "close");
}

TEST(HttpServerTest, UnknownPathMethodAndTargetErrors) {
  auto s = MustStart({}, EchoRouter());
  Reply nf = Fetch(s->port(), "/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.Header("content-type"), "application/json");
  EXPECT_EQ(nf.body, "{\"error\":{\"status\":404,\"message\":\"not found\"}}");

  Reply post = Fetch(s->port(), "/echo", {"Content-Length: 0"}, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("allow"), "GET, HEAD");
  EXPECT_EQ(post.body,
            "{\"error\":{\"status\":405,\"message\":\"method POST not allowed (allowed: GET, "
            "HEAD)\"}}");
  EXPECT_EQ(Fetch(s->port(), "/nope", {}, "DELETE").status, 405);

  Reply brew = Fetch(s->port(), "/echo", {}, "BREW");
  EXPECT_EQ(brew.status, 501);
  EXPECT_EQ(brew.body, "{\"error\":{\"status\":501,\"message\":\"method BREW not implemented\"}}");

  Reply bad_escape = Fetch(s->port(), "/echo?a=%zz");
  EXPECT_EQ(bad_escape.status, 400);
  EXPECT_EQ(bad_escape.body,
            "{\"error\":{\"status\":400,\"message\":\"malformed request target\"}}");
  EXPECT_EQ(Fetch(s->port(), "/ech%6").status, 400);
  EXPECT_EQ(Fetch(s->port(), "http://127.0.0.1/echo").status, 400);
}

TEST(HttpServerTest, MalformedHttpIs400AndClosesTheConnection) {
  auto s = MustStart({}, EchoRouter());
  for (const std::string& raw : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
           std::string("GET /echo HTTP/9.9\r\nHost: x\r\n\r\n"),
           std::string("GET /echo HTTP/1.1\r\nBad Header Line\r\n\r\n"),
       }) {
    SCOPED_TRACE(raw);
    Reply r = FetchRaw(s->port(), raw);  // ReadAll returns: the server closed
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Header("connection"), "close");
    EXPECT_EQ(r.body.rfind("{\"error\":{\"status\":400,\"message\":\"malformed HTTP request: ", 0),
              0u)
        << r.body;
  }
}

TEST(HttpServerTest, BodyOverMaxBodyIs413) {
  ServerOptions o;
  o.max_body = 1024;
  auto s = MustStart(o, EchoRouter());
  std::string body(5000, 'x');
  Reply r =
      FetchRaw(s->port(), "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, "{\"error\":{\"status\":413,\"message\":\"request body over 1024 bytes\"}}");
  // A body within the limit is fine.
  Reply ok = FetchRaw(s->port(),
                      "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: "
                      "close\r\n\r\n0123456789");
  EXPECT_EQ(ok.status, 200);
}

TEST(HttpServerTest, HeadCarriesHeadersOnly) {
  Router router = EchoRouter();
  router.Get("/fixed", [](const Request& req) { return Text(std::string(1000, 'x')); });
  auto s = MustStart({}, std::move(router));
  RawConn c(s->port());
  c.Send("HEAD /fixed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = c.ReadAll();
  Reply head = ParseReply(raw);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "1000");
  EXPECT_EQ(head.Header("content-type"), "text/plain");
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n");
  EXPECT_FALSE(c.timed_out());
  // The handler saw the method.
  EXPECT_EQ(Fetch(s->port(), "/echo", {}, "HEAD").Header("content-length"),
            std::to_string(std::string("HEAD|/echo|/echo||a=<none>|zz=<none>|ua=").size()));
}

TEST(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto s = MustStart({}, EchoRouter());
  RawConn c(s->port());
  c.Send("GET /echo?a=first HTTP/1.1\r\nHost: x\r\n\r\n");
  Reply r1 = ReadResponse(c);
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.Header("connection"), "");  // HTTP/1.1: persistent by default
  EXPECT_NE(r1.body.find("|a=first|"), std::string::npos);
  c.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  Reply r2 = ReadResponse(c, /*head=*/true);
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.Header("content-length"), "2");
  // Two pipelined requests in one write, answered in order; an error keeps the connection.
  c.Send(
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?a=third HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  Reply r3 = ReadResponse(c);
  EXPECT_EQ(r3.status, 404);
  Reply r4 = ReadResponse(c);
  EXPECT_EQ(r4.status, 200);
  EXPECT_NE(r4.body.find("|a=third|"), std::string::npos);
  EXPECT_EQ(c.ReadAll(), "");  // then the server closed
  EXPECT_FALSE(c.timed_out());

  // HTTP/1.0 keeps the connection only when asked to.
  RawConn c10(s->port());
  c10.Send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  Reply k = ReadResponse(c10);
  EXPECT_EQ(k.Header("connection"), "keep-alive");
  c10.Send("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(ReadResponse(c10).body, "ok");
  EXPECT_EQ(c10.ReadAll(), "");
}

TEST(HttpServerTest, HandlerExceptionIs500AndCounted) {
  Metrics metrics;
  ServerOptions o;
  o.metrics = &metrics;
  auto s = MustStart(o, EchoRouter());
  testing::LogCapture log;
  Reply r = Fetch(s->port(), "/throws");
  EXPECT_EQ(r.status, 500);
  const std::string id = r.Header("x-request-id");
  EXPECT_TRUE(IsRequestId(id)) << r.raw;
  EXPECT_EQ(r.body, "{\"error\":{\"status\":500,\"message\":\"internal error\",\"request_id\":\"" +
                        id + "\"}}");
  EXPECT_NE(log.text().find("serve: request " + id +
                            " GET /throws failed with 500: the handler threw: boom\n"),
            std::string::npos)
      << log.text();
  EXPECT_EQ(s->handler_exceptions(), 1);
  EXPECT_EQ(Fetch(s->port(), "/healthz").status, 200);  // the server goes on
  std::string text = metrics.Render();
  EXPECT_NE(text.find("cryptolake_http_handler_exceptions_total{route=\"/throws\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cryptolake_http_requests_total{route=\"/throws\",code=\"500\"} 1\n"),
            std::string::npos);
}

// Every response names its request: a fresh id per request, on a kept-alive connection too, on
// errors the server answers itself (malformed HTTP) and on HEAD.
TEST(HttpServerTest, EveryResponseCarriesItsRequestId) {
  auto s = MustStart({}, EchoRouter());
  std::set<std::string> ids;
  RawConn c(s->port());
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    Reply r = ReadResponse(c);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(IsRequestId(r.Header("x-request-id"))) << r.raw;
    ids.insert(r.Header("x-request-id"));
  }
  for (const Reply& r : {Fetch(s->port(), "/nope"), Fetch(s->port(), "/echo", {}, "HEAD"),
                         FetchRaw(s->port(), "GARBAGE\r\n\r\n")}) {
    EXPECT_TRUE(IsRequestId(r.Header("x-request-id"))) << r.raw;
    ids.insert(r.Header("x-request-id"));
  }
  EXPECT_EQ(ids.size(), 6u);
}

TEST(HttpServerTest, MetricsCountRequestsByRouteNotRawPath) {
  Metrics metrics;
  ServerOptions o;
  o.metrics = &metrics;
  auto s = MustStart(o, EchoRouter());
  EXPECT_EQ(Fetch(s->port(), "/healthz").status, 200);
  EXPECT_EQ(Fetch(s->port(), "/healthz").status, 200);
  EXPECT_EQ(Fetch(s->port(), "/some/raw/path").status, 404);
  std::string text = metrics.Render();
  EXPECT_NE(text.find("# TYPE cryptolake_http_requests_total counter\n"
                      "cryptolake_http_requests_total{route=\"/healthz\",code=\"200\"} 2\n"
                      "cryptolake_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cryptolake_http_request_duration_seconds_count{route=\"/healthz\"} 2\n"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "cryptolake_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 2\n"),
      std::string::npos);
  EXPECT_EQ(text.find("/some/raw/path"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Compression of cached bodies

TEST(HttpServerTest, CachedBodyGoesOutGzippedToAClientThatAcceptsGzip) {
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "{\"day\":\"2025-06-01\",\"close\":" + std::to_string(i) + "},";
  auto cached = std::make_shared<const std::string>(text);
  auto tiny = std::make_shared<const std::string>(std::string(1023, 'x'));
  Router router;
  router.Get("/cached", [&](const Request&) {
    Response r;
    r.shared_body = cached;
    return r;
  });
  router.Get("/tiny", [&](const Request&) {
    Response r;
    r.shared_body = tiny;
    return r;
  });
  router.Get("/plain", [&](const Request&) { return Text(text); });
  router.Get("/rerendered", [&](const Request&) {  // a new body with the same bytes every time
    Response r;
    r.shared_body = std::make_shared<const std::string>(text);
    return r;
  });
  router.Get("/encoded", [&](const Request&) {
    Response r;
    r.shared_body = cached;
    r.headers.emplace_back("content-encoding", "identity");
    return r;
  });
  auto s = MustStart({}, std::move(router));
  auto get = [&](const std::string& path, const std::string& accept, const std::string& method) {
    return Fetch(s->port(), path, {"Accept-Encoding: " + accept}, method);
  };
  // The copy is made off the io threads: the first request queues it and gets the body as is.
  Reply first = get("/cached", "gzip, deflate, br", "GET");
  EXPECT_EQ(first.Header("content-encoding"), "");
  EXPECT_EQ(first.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(first.body, text);
  s->WaitForGzipCopies();
  Reply gz = get("/cached", "gzip, deflate, br", "GET");
  ASSERT_EQ(gz.Header("content-encoding"), "gzip");
  EXPECT_EQ(gz.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(gz.Header("content-type"), "application/json");
  EXPECT_EQ(gz.Header("content-length"), std::to_string(gz.body.size()));
  EXPECT_LT(gz.body.size(), text.size() / 4);
  EXPECT_EQ(Gunzip(gz.body), text);
  // A new body equal to a compressed one goes out compressed at once.
  Reply again = get("/rerendered", "gzip", "GET");
  EXPECT_EQ(again.Header("content-encoding"), "gzip");
  EXPECT_EQ(again.body, gz.body);
  // HEAD: the GET's headers.
  Reply head = get("/cached", "gzip", "HEAD");
  EXPECT_EQ(head.Header("content-encoding"), "gzip");
  EXPECT_EQ(head.Header("content-length"), std::to_string(gz.body.size()));
  EXPECT_EQ(head.body, "");
  // Who accepts gzip: an explicit gzip/x-gzip with q > 0, else * with q > 0.
  for (const char* yes : {"gzip", "x-gzip", "GZIP;q=0.5", "*", "br;q=1, *;q=0.1", "*;q=0, gzip"}) {
    EXPECT_EQ(get("/cached", yes, "GET").Header("content-encoding"), "gzip") << yes;
  }
  for (const char* no :
       {"identity", "deflate, br", "gzip;q=0", "gzip;q=0, *", "*;q=0", "gzip;q=x"}) {
    Reply r = get("/cached", no, "GET");
    EXPECT_EQ(r.Header("content-encoding"), "") << no;
    EXPECT_EQ(r.Header("vary"), "Accept-Encoding") << no;
    EXPECT_EQ(r.body, text) << no;
  }
  Reply none = Fetch(s->port(), "/cached");
  EXPECT_EQ(none.Header("content-encoding"), "");
  EXPECT_EQ(none.body, text);
  // Never compressed: a cached body under 1 KiB, a body that is not cached, a body whose handler
  // set its own Content-Encoding.
  for (const char* path : {"/tiny", "/plain", "/encoded"}) {
    get(path, "gzip", "GET");
    s->WaitForGzipCopies();  // had anything been queued, it is ready now
    Reply r = get(path, "gzip", "GET");
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.Header("vary"), "") << path;
    EXPECT_EQ(r.body, std::string(path) == "/tiny" ? *tiny : text) << path;
  }
  EXPECT_EQ(get("/encoded", "gzip", "GET").Header("content-encoding"), "identity");
  EXPECT_EQ(get("/plain", "gzip", "GET").Header("content-encoding"), "");
}

TEST(HttpServerTest, HandlersOwnGzipCopyGoesOutAtOnce) {
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "{\"day\":\"2025-06-01\",\"close\":" + std::to_string(i) + "},";
  auto body = std::make_shared<const std::string>(text);
  // A copy the server could not have made itself: it is sent as given.
  auto gz = std::make_shared<const std::string>(*Gzip(text, 9));
  Router router;
  router.Get("/prepared", [&](const Request&) {
    Response r;
    r.shared_body = body;
    r.shared_gzip = gz;
    return r;
  });
  auto s = MustStart({}, std::move(router));
  // The very first request: no waiting for the server's own compression.
  Reply first = Fetch(s->port(), "/prepared", {"Accept-Encoding: gzip"});
  EXPECT_EQ(first.Header("content-encoding"), "gzip");
  EXPECT_EQ(first.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(first.body, *gz);
  EXPECT_EQ(Gunzip(first.body), text);
  Reply head = Fetch(s->port(), "/prepared", {"Accept-Encoding: gzip"}, "HEAD");
  EXPECT_EQ(head.Header("content-length"), std::to_string(gz->size()));
  Reply plain = Fetch(s->port(), "/prepared", {"Accept-Encoding: identity"});
  EXPECT_EQ(plain.Header("content-encoding"), "");
  EXPECT_EQ(plain.body, text);
}

// ---------------------------------------------------------------------------------------------
// Security: bind refusal and bearer tokens

TEST(HttpServerTest, RefusesANonLoopbackBindWithoutAToken) {
  ServerOptions o;
  o.bind = "0.0.0.0";
  auto s = HttpServer::Start(o, EchoRouter());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "refusing to bind 0.0.0.0 without --token: the server would be reachable beyond this "
            "machine; set a bearer token or bind 127.0.0.1");
  o.bind = "::";
  EXPECT_FALSE(HttpServer::Start(o, EchoRouter()).ok());
  o.bind = "not-an-address";
  EXPECT_EQ(HttpServer::Start(o, EchoRouter())
                .status()
                .message()
                .rfind("bad bind address 'not-an-address': ", 0),
            0u);
  o.bind = "0.0.0.0";
  o.bearer_token = "";
  EXPECT_EQ(HttpServer::Start(o, EchoRouter()).status().message(),
            "bearer token must not be empty");
  ServerOptions local;
  local.bind = "localhost";
  auto l = HttpServer::Start(local, EchoRouter());
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ((*l)->url(), "http://127.0.0.1:" + std::to_string((*l)->port()));
  ServerOptions threads;
  threads.threads = 0;
  EXPECT_EQ(HttpServer::Start(threads, EchoRouter()).status().message(),
            "threads must be at least 1, got 0");
  ServerOptions streams;
  streams.max_streams = 0;
  EXPECT_EQ(HttpServer::Start(streams, EchoRouter()).status().message(),
            "max_streams must be at least 1, got 0");
}

TEST(HttpServerTest, BearerTokenGuardsEverythingButHealthz) {
  TempDir dir;
  WriteText(dir / "web/index.html", "<h1>home</h1>");
  ServerOptions o;
  o.bearer_token = "s3cret-token";
  o.web_root = dir / "web";
  Router r = EchoRouter();
  r.Stream("/events", [](const Request&) { return Once("tick", "1"); });
  auto s = MustStart(o, std::move(r));
  for (std::string target : {"/echo", "/", "/index.html", "/events", "/nope"}) {
    SCOPED_TRACE(target);
    Reply no = Fetch(s->port(), target);
    EXPECT_EQ(no.status, 401);
    EXPECT_EQ(no.Header("www-authenticate"), "Bearer");
    EXPECT_EQ(no.body,
              "{\"error\":{\"status\":401,\"message\":\"missing or invalid bearer token\"}}");
    EXPECT_EQ(Fetch(s->port(), target, {"Authorization: Bearer s3cret-tokeX"}).status, 401);
    EXPECT_EQ(Fetch(s->port(), target, {"Authorization: Bearer s3cret-token-longer"}).status, 401);
    EXPECT_EQ(Fetch(s->port(), target, {"Authorization: Basic s3cret-token"}).status, 401);
  }
  EXPECT_EQ(Fetch(s->port(), "/echo", {"Authorization: Bearer s3cret-token"}).status, 200);
  EXPECT_EQ(Fetch(s->port(), "/echo", {"authorization: bearer   s3cret-token"}).status, 200);
  EXPECT_EQ(Fetch(s->port(), "/", {"Authorization: Bearer s3cret-token"}).body, "<h1>home</h1>");
  Reply ev = Fetch(s->port(), "/events", {"Authorization: Bearer s3cret-token"});
  EXPECT_EQ(ev.status, 200);
  EXPECT_EQ(ev.body, "event: tick\ndata: 1\n\n");
  EXPECT_EQ(Fetch(s->port(), "/nope", {"Authorization: Bearer s3cret-token"}).status, 404);
  Reply health = Fetch(s->port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(Fetch(s->port(), "/healthz/").status, 401);  // only the exact path is open

  // With a token, binding beyond loopback is allowed.
  ServerOptions any;
  any.bind = "0.0.0.0";
  any.bearer_token = "t";
  auto open = HttpServer::Start(any, EchoRouter());
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(Fetch((*open)->port(), "/echo", {"Authorization: Bearer t"}).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Static files

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteText(dir_ / "web/index.html", "<h1>home</h1>");
    WriteText(dir_ / "web/assets/js/app.js", "console.log(1);");
    WriteText(dir_ / "web/assets/css/site.css", "body{}");
    WriteText(dir_ / "web/assets/img/logo.svg", "<svg/>");
    WriteText(dir_ / "web/docs/index.html", "<h1>docs</h1>");
    WriteText(dir_ / "web/data/app.js.map", "{}");
    WriteText(dir_ / "web/blob.bin", "01");
    WriteText(dir_ / "secret.txt", "TOP SECRET");
    WriteText(dir_ / "outside/also.txt", "TOP SECRET TOO");
    fs::create_symlink("../secret.txt", dir_ / "web/link.txt");
    fs::create_symlink(dir_ / "secret.txt", dir_ / "web/abslink.txt");
    fs::create_directory_symlink("../outside", dir_ / "web/outdir");
    fs::create_symlink("assets/js/app.js", dir_ / "web/inner.js");  // stays inside: served
    ServerOptions o;
    o.web_root = dir_ / "web";
    Router r;
    r.Get("/api/x", [](const Request&) { return Text("api"); });
    server_ = MustStart(o, std::move(r));
  }
  TempDir dir_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(StaticFilesTest, ServesFilesWithContentTypes) {
  int port = server_->port();
  Reply root = Fetch(port, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "<h1>home</h1>");
  EXPECT_EQ(root.Header("content-type"), "text/html; charset=utf-8");
  Reply js = Fetch(port, "/assets/js/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1);");
  EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/assets/css/site.css").Header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/assets/img/logo.svg").Header("content-type"), "image/svg+xml");
  EXPECT_EQ(Fetch(port, "/data/app.js.map").Header("content-type"), "application/json");
  EXPECT_EQ(Fetch(port, "/blob.bin").Header("content-type"), "application/octet-stream");
  EXPECT_EQ(Fetch(port, "/docs/").body, "<h1>docs</h1>");
  EXPECT_EQ(Fetch(port, "/docs").body, "<h1>docs</h1>");
  EXPECT_EQ(Fetch(port, "/assets/%6As/app.js").body, "console.log(1);");  // %6A = j
  EXPECT_EQ(Fetch(port, "/inner.js").body, "console.log(1);");
  EXPECT_EQ(Fetch(port, "/api/x").body, "api");  // routes first
  Reply head = Fetch(port, "/assets/js/app.js", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "15");
  EXPECT_EQ(head.body, "");
  Reply missing = Fetch(port, "/missing.html");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "{\"error\":{\"status\":404,\"message\":\"not found\"}}");
  EXPECT_EQ(Fetch(port, "/assets/js/").status, 404);         // a directory without index.html
  EXPECT_EQ(Fetch(port, "/assets/js/app.js/").status, 404);  // a file is no directory
}

TEST_F(StaticFilesTest, NeverLeavesTheWebRoot) {
  const std::string kForbidden =
      "{\"error\":{\"status\":403,\"message\":\"path outside the web root\"}}";
  struct Case {
    std::string target;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"/../secret.txt", 403},
           {"/assets/../../secret.txt", 403},
           {"/assets/js/../../../secret.txt", 403},
           {"/%2e%2e/secret.txt", 403},
           {"/%2E%2E%2Fsecret.txt", 403},
           {"/assets/%2e%2e%2f%2e%2e%2fsecret.txt", 403},
           {"/..%2fsecret.txt", 403},
           {"/.%2e/secret.txt", 403},
           {"/%2e./secret.txt", 403},
           {"/assets/./js/app.js", 403},
           {"//etc/passwd", 403},
           {"/%2fetc%2fpasswd", 403},
           {"/%2Fetc/passwd", 403},
           {"/assets/..%5c..%5csecret.txt", 403},
           {"/assets\\..\\..\\secret.txt", 403},
           {"/index.html%00.png", 403},
           {"/%00", 403},
           {"/link.txt", 403},
           {"/abslink.txt", 403},
           {"/outdir/also.txt", 403},
           {"/outdir/", 403},
           {"/%252e%252e/secret.txt", 404},  // decoded once: a directory named "%2e%2e"
           {"/..secret.txt", 404},           // not a ".." segment
       }) {
    SCOPED_TRACE(c.target);
    Reply r = Fetch(server_->port(), c.target);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.Header("content-type"), "application/json");
    if (c.status == 403) {
      EXPECT_EQ(r.body, kForbidden);
    }
    EXPECT_EQ(r.raw.find("TOP SECRET"), std::string::npos);
  }
  EXPECT_EQ(Fetch(server_->port(), "/assets/js/app.js").status, 200);
}

TEST(StaticFilesStartTest, WebRootMustBeADirectory) {
  TempDir dir;
  ServerOptions o;
  o.web_root = dir / "absent";
  auto s = HttpServer::Start(o, Router());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "web root " + (dir / "absent").string() + " is not a directory");
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events

// The head of an event stream as the server writes it.
std::string StreamHeadOf(const std::string& raw) {
  const size_t id_at = raw.find("X-Request-Id: ");
  const std::string id = id_at == std::string::npos ? "" : raw.substr(id_at + 14, 16);
  EXPECT_TRUE(IsRequestId(id)) << raw;
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
         "X-Request-Id: " +
         id + "\r\nConnection: close\r\n\r\n";
}

TEST(EventStreamTest, SendsEventsExactlyThenCloses) {
  std::atomic<int> polls{0};
  Router r;
  r.Stream("/events", [&](const Request& req) {
    return StreamReply::Poll(
        [&polls, q = req.Param("q").value_or(""), n = 0](EventSink& sink) mutable {
          ++polls;
          if (++n <= 3) {  // a tick a poll, then the rest at once
            sink.Send("tick", std::to_string(n));
            return;
          }
          sink.KeepAlive();
          sink.Send("", "line one\nline two\r\nthree");
          sink.Send("q", q);
          sink.Close();
          sink.Send("late", "never sent");
        },
        1ms);
  });
  Metrics metrics;
  ServerOptions o;
  o.metrics = &metrics;
  auto s = MustStart(o, std::move(r));
  RawConn c(s->port());
  c.Send("GET /events?q=x HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string raw = c.ReadAll();  // the server closes after the poll that called Close()
  EXPECT_FALSE(c.timed_out());
  EXPECT_EQ(raw, StreamHeadOf(raw) +
                     "event: tick\ndata: 1\n\n"
                     "event: tick\ndata: 2\n\n"
                     "event: tick\ndata: 3\n\n"
                     ": keep-alive\n\n"
                     "data: line one\ndata: line two\ndata: three\n\n"
                     "event: q\ndata: x\n\n");
  EXPECT_EQ(polls.load(), 4);
  s->WaitForOpenStreams(0);
  EXPECT_NE(
      metrics.Render().find("cryptolake_http_requests_total{route=\"/events\",code=\"200\"} 1\n"),
      std::string::npos);
}

// A poll function can be tested without a socket: it writes to an EventSink.
TEST(EventStreamTest, EventSinkFramesEvents) {
  EventSink sink;
  sink.Send("daily", "{\"a\":1}");
  sink.Send("bad\r\nname", "x\ry");
  sink.KeepAlive();
  EXPECT_EQ(sink.frames(),
            "event: daily\ndata: {\"a\":1}\n\nevent: badname\ndata: x\ndata: y\n\n"
            ": keep-alive\n\n");
  const std::string all = sink.frames();
  EXPECT_EQ(sink.Take(), all);
  EXPECT_EQ(sink.frames(), "");
  EXPECT_FALSE(sink.closed());
  sink.Close();
  sink.Send("a", "b");
  sink.KeepAlive();
  EXPECT_TRUE(sink.closed());
  EXPECT_EQ(sink.frames(), "");
}

TEST(EventStreamTest, RefusalAnswersInsteadOfStreamingAndHeadRunsNoHandler) {
  Metrics metrics;
  std::atomic<int> runs{0};
  Router r;
  r.Stream("/events", [&](const Request& req) {
    ++runs;
    if (!req.Param("symbol")) return StreamReply::Refuse(JsonError(400, "symbol", "missing"));
    return Once("tick", "1");
  });
  r.Stream("/throws", [](const Request&) -> StreamReply { throw std::runtime_error("boom"); });
  r.Stream("/poll-throws", [](const Request&) {
    return StreamReply::Poll(
        [n = 0](EventSink& sink) mutable {
          if (++n == 1) return sink.Send("tick", "1");
          throw std::runtime_error("poll boom");
        },
        1ms);
  });
  r.Stream("/nothing", [](const Request&) { return StreamReply{}; });
  ServerOptions o;
  o.metrics = &metrics;
  auto s = MustStart(o, std::move(r));
  Reply bad = Fetch(s->port(), "/events");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            "{\"error\":{\"status\":400,\"parameter\":\"symbol\",\"message\":\"missing\"}}");
  EXPECT_EQ(bad.Header("content-length"), std::to_string(bad.body.size()));
  EXPECT_TRUE(IsRequestId(bad.Header("x-request-id")));
  Reply good = Fetch(s->port(), "/events?symbol=BTCUSDT");
  EXPECT_EQ(good.body, "event: tick\ndata: 1\n\n");
  testing::LogCapture log;
  Reply thrown = Fetch(s->port(), "/throws");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body,
            "{\"error\":{\"status\":500,\"message\":\"internal error\",\"request_id\":\"" +
                thrown.Header("x-request-id") + "\"}}");
  // A poll function that throws: what it sent before is delivered, then the stream ends.
  Reply poll_thrown = Fetch(s->port(), "/poll-throws");
  EXPECT_EQ(poll_thrown.status, 200);
  EXPECT_EQ(poll_thrown.body, "event: tick\ndata: 1\n\n");
  EXPECT_NE(log.text().find("serve: request " + poll_thrown.Header("x-request-id") +
                            " GET /poll-throws: the stream's poll function threw: poll boom\n"),
            std::string::npos)
      << log.text();
  EXPECT_EQ(s->handler_exceptions(), 2);
  // Neither a refusal nor a poll function: the headers alone.
  Reply nothing = Fetch(s->port(), "/nothing");
  EXPECT_EQ(nothing.status, 200);
  EXPECT_EQ(nothing.Header("content-type"), "text/event-stream");
  EXPECT_EQ(nothing.body, "");
  EXPECT_EQ(runs.load(), 2);
  Reply head = Fetch(s->port(), "/events", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "text/event-stream");
  EXPECT_EQ(head.Header("content-length"), "");
  EXPECT_TRUE(IsRequestId(head.Header("x-request-id")));
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(runs.load(), 2);
  s->WaitForOpenStreams(0);
  std::string text = metrics.Render();
  EXPECT_NE(text.find("cryptolake_http_requests_total{route=\"/events\",code=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cryptolake_http_requests_total{route=\"/events\",code=\"400\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cryptolake_http_requests_total{route=\"/throws\",code=\"500\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cryptolake_http_handler_exceptions_total{route=\"/poll-throws\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cryptolake_http_streams_active 0\n"), std::string::npos);
}

// A client that hangs up frees its stream at once, whatever the interval: its place is given
// back and the poll function is never called again.
TEST(EventStreamTest, ClientHangUpEndsTheStream) {
  std::atomic<int> polls{0};
  Router r;
  r.Stream("/events", [&](const Request&) {
    return StreamReply::Poll(
        [&](EventSink& sink) {
          ++polls;
          sink.Send("tick", "1");
        },
        1h);
  });
  auto s = MustStart({}, std::move(r));
  auto c = std::make_unique<RawConn>(s->port());
  c->Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c->ReadUntil("data: 1\n\n").find("event: tick\ndata: 1\n\n"), std::string::npos);
  EXPECT_EQ(s->open_streams(), 1);
  c.reset();  // hang up
  s->WaitForOpenStreams(0);
  EXPECT_EQ(s->open_streams(), 0);
  EXPECT_EQ(polls.load(), 1);
}

// At most max_streams streams: one more is refused with 503 and Retry-After, without running
// the handler, until a place is free again.
TEST(EventStreamTest, StreamsOverTheCapAre503WithRetryAfter) {
  std::atomic<int> runs{0};
  Router r;
  r.Stream("/events", [&](const Request&) {
    ++runs;
    return StreamReply::Poll([](EventSink& sink) { sink.Send("tick", "1"); }, 1h);
  });
  Metrics metrics;
  ServerOptions o;
  o.max_streams = 2;
  o.metrics = &metrics;
  auto s = MustStart(o, std::move(r));
  std::vector<std::unique_ptr<RawConn>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(std::make_unique<RawConn>(s->port()));
    open.back()->Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(open.back()->ReadUntil("data: 1\n\n").find("event: tick\n"), std::string::npos);
  }
  Reply over = Fetch(s->port(), "/events");
  EXPECT_EQ(over.status, 503);
  EXPECT_EQ(over.Header("retry-after"), "5");
  EXPECT_EQ(over.Header("content-type"), "application/json");
  EXPECT_EQ(over.Header("connection"), "close");
  const std::string id = over.Header("x-request-id");
  EXPECT_TRUE(IsRequestId(id));
  EXPECT_EQ(over.body,
            "{\"error\":{\"status\":503,\"message\":\"too many event streams open (at most 2); "
            "retry later\",\"request_id\":\"" +
                id + "\"}}");
  EXPECT_EQ(runs.load(), 2);
  // Other routes are not limited.
  EXPECT_EQ(Fetch(s->port(), "/nope").status, 404);
  // One goes; the next one gets its place.
  open.pop_back();
  s->WaitForOpenStreams(1);
  RawConn next(s->port());
  next.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(next.ReadUntil("data: 1\n\n").find("event: tick\n"), std::string::npos);
  EXPECT_EQ(runs.load(), 3);
  EXPECT_NE(
      metrics.Render().find("cryptolake_http_requests_total{route=\"/events\",code=\"503\"} 1\n"),
      std::string::npos);
}

// Streams run on the io threads: hundreds of open streams, each polled, start no thread, and
// every poll runs on one of the server's io threads.
TEST(EventStreamTest, StreamsCostNoThread) {
  std::mutex mu;
  std::set<std::thread::id> poll_threads;
  Router r;
  r.Stream("/events", [&](const Request&) {
    return StreamReply::Poll(
        [&, n = 0](EventSink& sink) mutable {
          {
            std::lock_guard lock(mu);
            poll_threads.insert(std::this_thread::get_id());
          }
          if (++n <= 2) sink.Send("tick", std::to_string(n));
        },
        5ms);
  });
  ServerOptions o;
  o.threads = 2;
  auto s = MustStart(o, std::move(r));
  const size_t before = testing::ThreadCount();
  std::vector<std::unique_ptr<RawConn>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<RawConn>(s->port()));
    clients.back()->Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (auto& c : clients) {  // each stream was polled at least twice
    std::string got = c->ReadUntil("data: 2\n\n");
    EXPECT_NE(got.find("event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n"), std::string::npos)
        << got;
  }
  EXPECT_EQ(s->open_streams(), 300);
  EXPECT_EQ(testing::ThreadCount(), before);
  std::lock_guard lock(mu);
  EXPECT_LE(poll_threads.size(), 2u);
  EXPECT_EQ(poll_threads.count(std::this_thread::get_id()), 0u);
}

// A client that does not read: the stream has at most one write in flight and its polls wait
// for it, however many intervals pass; once the client reads, it gets what was written, then
// the next poll's events.
TEST(EventStreamTest, AClientSlowToReadGetsNoBacklog) {
  // 16 MiB: more than loopback's socket buffers hold for a client that does not read (the
  // server's send buffer grows to tcp_wmem's maximum, 4 MiB here), so the first write stays
  // pending until the client reads.
  const std::string big(16 << 20, 'x');
  std::atomic<int> slow_polls{0};
  Router r;
  r.Stream("/slow", [&](const Request&) {
    return StreamReply::Poll(
        [&](EventSink& sink) {
          if (++slow_polls <= 2) sink.Send("big", big);
        },
        1ms);
  });
  r.Stream("/fast", [](const Request&) {
    return StreamReply::Poll(
        [n = 0](EventSink& sink) mutable { sink.Send("tick", std::to_string(++n)); }, 1ms);
  });
  auto s = MustStart({}, std::move(r));
  RawConn slow(s->port());
  slow.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  // The head went out in the first poll's write: that poll has run.
  EXPECT_EQ(slow.ReadUntil("\r\n\r\n").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  // 50 intervals pass on the server's timers (another stream is polled 50 times) ...
  RawConn fast(s->port());
  fast.Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(fast.ReadUntil("data: 50\n\n").find("event: tick\ndata: 50\n\n"), std::string::npos);
  // ... and the slow stream was not polled again: nothing piles up behind its pending write.
  EXPECT_EQ(slow_polls.load(), 1);
  const std::string frame = "event: big\ndata: " + big + "\n\n";
  EXPECT_TRUE(slow.ReadBytes(frame.size()) == frame);
  EXPECT_TRUE(slow.ReadBytes(frame.size()) == frame);
  EXPECT_GE(slow_polls.load(), 2);
}

TEST(EventStreamTest, StopWithAStreamOpenReturnsPromptly) {
  std::atomic<int> polls{0};
  Router r;
  r.Stream("/events", [&](const Request&) {
    return StreamReply::Poll(
        [&](EventSink& sink) {
          if (++polls == 1) sink.Send("tick", "1");
        },
        1h);
  });
  r.Get("/healthz", [](const Request&) { return Text("ok"); });
  auto s = MustStart({}, std::move(r));
  RawConn stream(s->port());
  stream.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  stream.ReadUntil("data: 1\n\n");
  RawConn idle(s->port());  // an idle keep-alive connection too
  idle.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ReadResponse(idle).body, "ok");

  auto t0 = std::chrono::steady_clock::now();
  s->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  // The hour-long interval was cut short (60 s: far below it, generous for a slow machine).
  EXPECT_LT(took, std::chrono::seconds(60));
  EXPECT_EQ(s->open_streams(), 0);
  EXPECT_EQ(polls.load(), 1);
  EXPECT_EQ(stream.ReadAll(), "");  // both connections are closed
  EXPECT_FALSE(stream.timed_out());
  EXPECT_EQ(idle.ReadAll(), "");
  EXPECT_FALSE(idle.timed_out());
  s->Stop();  // idempotent
}

}  // namespace
}  // namespace cryptolake::serve
