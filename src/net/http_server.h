// The HTTP server core that `serve` and the replay exchange both serve through: routing,
// keep-alive HTTP/1.1, Server-Sent Events, WebSocket upgrades handed over, delivery modes (drop,
// delay, truncate), static files confined to a web root, bearer-token auth and request metrics.
// The endpoints (what the handlers compute) live elsewhere; this file only carries requests to
// them and answers back.
//
// Routing: Router::Get / Router::Stream register exact paths (matched against the percent-decoded
// path, without the query). Routes answer GET and HEAD only. For each request, in this order:
//   400 malformed HTTP (or a target that is not origin-form "/...", or a bad %-escape in it);
//       413 a body over max_body; 431 headers over 16 KiB. These close the connection.
//   501 a method that is not a standard HTTP method.
//   401 a bearer token is set and the request (whatever its path, except exactly /healthz) has no
//       "Authorization: Bearer <token>" (scheme case-insensitive, constant-time compare); the
//       response carries "WWW-Authenticate: Bearer".
//   405 a method other than GET/HEAD (on a route or not), with "Allow: GET, HEAD".
//   a route: its handler's Response. A HEAD gets the GET's headers (Content-Length included) and
//       no body. A handler that throws gets a 500 InternalError (below): the exception's text is
//       logged under the request's id, not sent, and counted.
//   else, with a web_root: the static file (index.html for "/" and for a directory), with
//       Content-Type from its extension (html, js, mjs, css, json, map, png, svg, ico, txt, wasm,
//       woff2; others application/octet-stream). A path that would leave the root is refused
//       with 403 before the file system is touched: a ".." or "." segment, an empty segment ("//",
//       absolute paths), a backslash or a NUL, all judged after percent-decoding (so %2e%2e,
//       %2f and %5c tricks are caught); then the file's canonical path (symlinks resolved) must
//       be inside the root's canonical path, else 403. Missing files, and anything that is not a
//       regular file, are 404.
//   else 404.
// Two hooks change that order when set (serve sets neither; the replay exchange both):
//   Router::Upgrade: a WebSocket upgrade request (GET, HTTP/1.1, "Connection: upgrade" and
//       "Upgrade: websocket"), whatever its path, goes to the upgrade handler right after the
//       401 check, before any route (see "Upgrades" below).
//   Router::Fallback: a request no Get or Stream route matches goes to the fallback handler,
//       whatever its method (HEAD included: its answer then goes out without a body) and
//       whatever its target: a target that is not origin-form or has a bad %-escape reaches it
//       too, with empty path and query (target as sent), instead of the 400. No 501 is sent (a
//       non-standard method on a route's path gets the 405), no static file and no 404.
//   A fallback handler is called as a Get handler is (threads, exceptions, metrics "unmatched").
// Every error is a JsonError body (below). Responses to HTTP/1.1 requests keep the connection
// alive unless the client sent "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
// Pipelined requests are answered in order. A connection idle for 60 s (or taking longer than
// that to send a request or to take a response) is closed.
//
// Request ids: every request gets an id (Request::id: 16 lower-case hex digits, unique in the
// server's life, and not the request's count), sent back as "X-Request-Id" on every response,
// event streams included. An internal failure is answered by InternalError(): a generic message
// and the id in the body; what went wrong (file paths, SQL, a library's text) goes to the server's
// log only, under the same id. Messages about the request itself (a 4xx naming a bad parameter)
// are the handler's to word: they reveal nothing of the server.
//
// Stream routes (Server-Sent Events) cost no thread: they run on the io threads. The route's
// StreamHandler is called once per request, on an io thread, and answers with a StreamReply:
// either a refusal (an ordinary response, e.g. a JsonError for a bad parameter, after which the
// connection closes) or a poll function and its interval. The server then writes the headers
// (200, "Content-Type: text/event-stream", "Cache-Control: no-cache", "Connection: close",
// "X-Request-Id", no Content-Length) and calls the poll function at once and then every interval
// (a timer on the io context), each time with an empty EventSink; what a call Send()s goes out
// in one asynchronous write. Only one write is in flight per stream: a poll that falls due while
// the client has not taken the last write waits for it (then runs at once), so a slow client
// gets the newest events when it catches up, never a growing backlog; a write not taken within
// 60 s closes the stream. Calls for one stream never overlap; calls for different streams may
// run at the same time on different io threads, and every call should be quick (it holds an io
// thread). The stream ends when the poll function calls EventSink::Close() (once what it sent is
// written), when the client hangs up (a read is kept pending: noticed at once), when the poll
// function throws (logged under the request id and counted; the connection closes), or when the
// server stops. A HEAD on a stream route gets the headers and no handler run.
// At most ServerOptions::max_streams streams are open at once (default 1024). A stream request
// beyond that is answered, without running its handler, with 503, "Retry-After: 5" and
// {"error":{"status":503,"message":"too many event streams open (at most N); retry
// later","request_id":"<id>"}}, and the connection closes.
//
// Threads: `threads` io threads run every connection (asynchronous Beast sessions) and event
// stream, and call the Get, fallback, upgrade and stream handlers and poll functions: these must be
// thread-safe and should be quick (they hold an io thread). Stop() (and the destructor) closes
// the listener, stops the io threads (a handler or poll function still running is waited for)
// and closes every connection and stream. Stop() is idempotent and thread-safe, but must not be
// called from a handler. No handler or poll function is called after Stop() has returned.
//
// Upgrades: the upgrade handler is called once per upgrade request, on an io thread, on the
// connection's strand, with the request and the connection's socket (its executor is that strand
// of the server's io context; no operation pending, no timeout). From then on the connection is
// the handler's: the server neither reads nor writes it, nor counts it in the metrics; bytes the
// client sent after the request's end (a WebSocket client sends none before the 101) are
// dropped. Whatever the handler starts on the socket's executor runs on the io threads (one at a
// time per connection) and must be quick. Stop() stops the io context and destroys the handlers
// of every pending operation: an upgraded connection's state must be owned by its pending
// operations (e.g. a shared_ptr they capture), so that it is destroyed, and its socket closed,
// during Stop(). A handler that throws is logged and counted (handler_exceptions); the socket
// closes.
//
// Delivery (Response::delivery and Response::delay, for a Get or fallback handler's answer; the
// replay exchange's faults): a delay holds the answer back that long on a timer of the io context
// (no thread is held; the connection reads nothing meanwhile) and, if the server stops
// meanwhile, the connection closes without it. Then kNormal writes it as always; kDrop writes
// nothing and closes the connection (the client sees its end, no response; the request is not
// counted in the metrics); kTruncate writes the head (Content-Length the full body's, with
// "Connection: close") and the body's first size / 2 bytes (rounded down; nothing for a HEAD),
// then half-closes the connection as after any response that closes it.
//
// Metrics (when ServerOptions::metrics is set; registered at Start):
//   cryptolake_http_requests_total{route,code}             counter
//   cryptolake_http_request_duration_seconds{route}        histogram, LatencyBuckets(): from the
//       request's last byte read to its response being ready to write (streams not observed)
//   cryptolake_http_handler_exceptions_total{route}        counter
//   cryptolake_http_streams_active                         gauge
// route is the registered route path, "static" (a GET/HEAD handed to the web root) or
// "unmatched" (anything else), never the raw path. Metrics are recorded before the response is
// written, so a client that has its response sees it counted. A stream is counted when it ends,
// with the status it had (200); a refusal, and the 503 of the cap, when it is answered.
//
// Performance: no logging per request, TCP_NODELAY, headers formatted into a per-connection
// buffer, and a Response may share a cached body (shared_body) instead of copying it.
//
// Compression: a response whose shared_body is at least 1 KiB or that brings its own gzip copy
// (shared_gzip), and that has no Content-Encoding header of its own, carries "Vary:
// Accept-Encoding", and goes out gzip-compressed, with "Content-Encoding: gzip" and the
// compressed Content-Length (HEAD too), to a request whose
// Accept-Encoding accepts gzip: an explicit gzip or x-gzip with q > 0, else * with q > 0 (an
// unparseable q counts as 0). The compressed copy is made once per body, on a thread of the
// server's own (never an io thread); a new body equal byte for byte to one already compressed
// takes its copy at once. The 8 most recently used bodies and their copies are kept alive. Until
// a body's copy is ready, or if compressing fails, the body goes out as is. A response that
// brings its own copy (shared_gzip) is sent that copy at once, whatever its size. Any other
// response is sent as the handler made it. A 0.6 MB /daily body compresses ~4.6x, and loopback
// throughput is bound by the bytes moved (bench/serve_bench.cc).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "net/metrics.h"

namespace cryptolake::net {

struct Request {
  std::string method;  // as sent: "GET", "HEAD", ...
  std::string path;    // percent-decoded, without the query ("+" stays "+")
  std::string target;  // as sent: "/api/klines?symbol=BTCUSDT"
  // The query's parameters in order, percent-decoded, '+' as a space; "a" alone gives {"a", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;
  std::string route;  // the matched route path, "static" or "unmatched"
  std::string id;     // the server's id of this request (sent back as X-Request-Id)
  // The connection's number: 1, 2, ... in the order the server accepted its connections.
  uint64_t connection = 0;

  // The first header of that name (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  // The first query parameter of that name, or nullopt when absent.
  std::optional<std::string> Param(std::string_view name) const;
};

// How an answer goes out (see "Delivery" above).
enum class Delivery {
  kNormal,
  kDrop,      // no answer: the connection closes
  kTruncate,  // the head with the full Content-Length, half the body, then the connection closes
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers. CR and LF are stripped from names and values; Content-Length and Connection
  // are the server's to set.
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, sent instead of `body` without copying it (a cached payload).
  std::shared_ptr<const std::string> shared_body;
  // Optional, with shared_body: shared_body gzip-compressed (RFC 1952), made by the handler's
  // side in advance (net/gzip.h). Sent instead to a request that accepts gzip, so that such a
  // body never goes out uncompressed while the server's own copy is being made.
  std::shared_ptr<const std::string> shared_gzip;
  // See "Delivery" above. Not for stream refusals (these always go out as kNormal, at once).
  Delivery delivery = Delivery::kNormal;
  std::chrono::microseconds delay{0};  // held back this long first (<= 0: not held)
};

// Appends `s` as a JSON string, quotes included: '"', '\\' and control characters escaped (\n, \r,
// \t, \b, \f, else \u00XX), a byte that is not part of valid UTF-8 as \ufffd (so the text is
// always valid JSON), everything else as given. Every string the server and the API write into
// JSON goes through it.
void AppendJsonString(std::string& out, std::string_view s);

// {"error":{"status":400,"parameter":"from","message":"...","request_id":"..."}}: "parameter" and
// "request_id" omitted when empty; strings as AppendJsonString writes them.
Response JsonError(int status, std::string_view parameter, std::string_view message,
                   std::string_view request_id = {});

// The answer to an internal failure while serving `request`: `status` (500, or 503 when the
// failure is the server's state rather than the request: "service unavailable") with
// {"error":{"status":N,"message":"internal error"|"service unavailable","request_id":"<id>"}};
// `detail` (what went wrong, paths and SQL included) is logged at error level as
// "serve: request <id> <method> <route> failed with <status>: <detail>", never sent.
Response InternalError(const Request& request, int status, std::string_view detail);

// True when the query says format=csv, false when it says format=json (or any other format);
// without a format parameter, true when the Accept header prefers text/csv: a higher q than
// application/json (or the application/* or */* range covering it), or the same q listed first.
bool WantsCsv(const Request& request);

// Where a stream's poll function writes its events: the frames of one poll, written together
// once the call returns. Used by one poll at a time. Construct one to test a poll function
// without a socket.
class EventSink {
 public:
  // Appends "event: <event>\ndata: <line>\n...\n\n": one data line per line of `data` (split at
  // \n, \r\n and \r); no event line when `event` is empty (CR/LF in it are dropped). Never blocks.
  // Ignored after Close().
  void Send(std::string_view event, std::string_view data);
  // Appends the comment ": keep-alive\n\n" (keeps proxies and the client's idle timers quiet).
  void KeepAlive();
  // Ends the stream once what was sent so far is written.
  void Close() { closed_ = true; }
  bool closed() const { return closed_; }
  // The frames appended since the last Take(), which forgets them.
  std::string Take() { return std::exchange(frames_, {}); }
  const std::string& frames() const { return frames_; }

 private:
  std::string frames_;
  bool closed_ = false;
};

// A stream handler's answer (see "Stream routes" above): a refusal, or a poll function. With
// neither, the stream's headers go out alone and the stream ends.
struct StreamReply {
  std::optional<Response> refusal;           // set: answered with it, no stream
  std::function<void(EventSink&)> poll;      // else: called at once, then every `interval`
  std::chrono::milliseconds interval{1000};  // (taken as 1 ms if shorter, 24 h if longer)

  static StreamReply Refuse(Response r) { return {std::move(r), nullptr, {}}; }
  static StreamReply Poll(std::function<void(EventSink&)> poll,
                          std::chrono::milliseconds interval) {
    return {std::nullopt, std::move(poll), interval};
  }
};

using Handler = std::function<Response(const Request&)>;
using StreamHandler = std::function<StreamReply(const Request&)>;
// Takes an upgraded connection over (see "Upgrades" above).
using UpgradeHandler = std::function<void(Request, boost::asio::ip::tcp::socket)>;

class Router {
 public:
  // `path` must start with '/'; registering a path twice keeps the last registration.
  void Get(std::string path, Handler handler);
  void Stream(std::string path, StreamHandler handler);
  // The handler of every request no route matches (see the hooks above); setting it again
  // replaces it.
  void Fallback(Handler handler) { fallback_ = std::move(handler); }
  // The handler of every WebSocket upgrade request (see the hooks above and "Upgrades").
  void Upgrade(UpgradeHandler handler) { upgrade_ = std::move(handler); }

 private:
  friend class HttpServer;
  struct Route {
    Handler handler;       // set for Get
    StreamHandler stream;  // set for Stream
  };
  std::vector<std::pair<std::string, Route>> routes_;
  Handler fallback_;
  UpgradeHandler upgrade_;
};

struct ServerOptions {
  std::string bind = "127.0.0.1";  // an IP address, or "localhost" (= 127.0.0.1)
  int port = 0;                    // 0: an ephemeral port
  int threads = 2;                 // io threads
  std::optional<std::string> bearer_token;
  std::filesystem::path web_root;  // empty: no static files
  size_t max_body = 64 * 1024;
  int max_streams = 1024;      // event streams open at once (see Stream routes)
  Metrics* metrics = nullptr;  // not owned; must outlive the server
  // Bind a non-loopback address without a bearer token (for a server meant to be reachable, such
  // as the replay exchange given --host); false: Start refuses it (below).
  bool public_without_token = false;
  // Send "Connection: keep-alive" on every response that keeps the connection open, HTTP/1.1
  // ones too (false: only to HTTP/1.0 requests, where it is needed).
  bool keep_alive_header = false;
};

class HttpServer {
 public:
  // Validates the options, binds and starts serving. Errors:
  //   InvalidArgument "refusing to bind <bind> without --token: the server would be reachable
  //     beyond this machine; set a bearer token or bind 127.0.0.1" for a non-loopback address
  //     without a token (unless public_without_token); "bearer token must not be empty"; "bad bind
  //     address '<bind>': ..."; "threads must be at least 1, got N"; "bad port N"; "max_streams
  //     must be at least 1, got N"; "web root <path> is not a directory" (also when it does not
  //     exist).
  //   IOError "cannot listen on <bind>:<port>: <reason>".
  static StatusOr<std::unique_ptr<HttpServer>> Start(ServerOptions options, Router router);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:<port>" ("http://[::1]:<port>" for IPv6)
  void Stop();

  // Handlers (Get, Stream, fallback and upgrade handlers, and poll functions) that threw, since
  // Start.
  int64_t handler_exceptions() const;
  // Event streams open now.
  int open_streams() const;
  // Returns once at most `n` event streams are open (a client that hung up is noticed at once,
  // but asynchronously). For tests.
  void WaitForOpenStreams(int n);
  // Returns once the server has made every gzip copy it has queued so far (see Compression):
  // a request after it gets the copy of a body an earlier request queued. For tests.
  void WaitForGzipCopies();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::net
