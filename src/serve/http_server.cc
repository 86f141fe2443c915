#include "serve/http_server.h"

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

#include "serve/gzip.h"

namespace cryptolake::serve {

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// After a response that closes the connection: how long, and how many bytes, the rest of the
// client's request is read and discarded so that closing does not reset the connection (and
// lose the response) while the client is still sending.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;
// Cached bodies (Response::shared_body) at least this long get a gzip copy; this many copies are
// kept, the most recently used. A copy the handler made itself (Response::shared_gzip) is sent
// whatever the size.
constexpr size_t kGzipMinBytes = 1024;
constexpr size_t kGzipEntries = 8;
// The Retry-After of the 503 that refuses an event stream over ServerOptions::max_streams.
constexpr int kStreamRetryAfterSeconds = 5;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the percent-decoding of `s` to `out`; false on a malformed escape.
bool PercentDecode(std::string_view s, bool plus_is_space, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

// Splits the origin-form target into the decoded path and query; false if it is not
// origin-form or has a malformed escape.
bool ParseTarget(Request& req) {
  std::string_view t = req.target;
  if (t.empty() || t[0] != '/') return false;
  size_t q = t.find('?');
  if (!PercentDecode(t.substr(0, q), false, &req.path)) return false;
  if (q == std::string_view::npos) return true;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    auto& p = req.query.emplace_back();
    if (!PercentDecode(kv.substr(0, eq), true, &p.first)) return false;
    if (eq != std::string_view::npos && !PercentDecode(kv.substr(eq + 1), true, &p.second)) {
      return false;
    }
  }
  return true;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::string* FindHeader(const Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (IEquals(k, name)) return &v;
  }
  return nullptr;
}

// Compares in time that depends only on the secret's length, not on where `given` differs.
bool ConstantTimeEquals(std::string_view given, std::string_view secret) {
  volatile unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < secret.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(secret[i]));
  }
  return diff == 0;
}

bool Authorized(const Request& req, const std::string& token) {
  const std::string* h = FindHeader(req, "authorization");
  if (!h) return false;
  std::string_view v = Trim(*h);
  if (v.size() < 7 || !IEquals(v.substr(0, 6), "bearer") || v[6] != ' ') return false;
  return ConstantTimeEquals(Trim(v.substr(7)), token);
}

// One element of a comma-separated list weighted with ";q=" (Accept, Accept-Encoding): the
// token, trimmed, and its q: 1 when absent, nullopt when not a number in [0, 1] (each caller
// says what a bad q counts as). Other parameters are skipped; of several q, the last counts.
struct QualityItem {
  std::string_view token;
  std::optional<double> q;
};

std::vector<QualityItem> ParseQualityList(std::string_view value) {
  std::vector<QualityItem> out;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    size_t semi = item.find(';');
    QualityItem qi{Trim(item.substr(0, semi)), 1.0};
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      std::string_view param = Trim(item.substr(0, semi));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string v(param.substr(2));
        char* end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        qi.q = end == v.c_str() + v.size() && d >= 0 && d <= 1 ? std::optional<double>(d)
                                                               : std::nullopt;
      }
    }
    out.push_back(qi);
  }
  return out;
}

// Whether the request's Accept-Encoding accepts gzip: an explicit "gzip" or "x-gzip" with q > 0,
// else "*" with q > 0 (RFC 9110 12.5.3); a bad q counts as 0. No Accept-Encoding: false (we
// never guess).
bool AcceptsGzip(const Request& req) {
  double q_gzip = -1, q_any = -1;
  for (const auto& [name, value] : req.headers) {
    if (!IEquals(name, "accept-encoding")) continue;
    for (const QualityItem& item : ParseQualityList(value)) {
      const double q = item.q.value_or(0);
      if (IEquals(item.token, "gzip") || IEquals(item.token, "x-gzip")) {
        q_gzip = std::max(q_gzip, q);
      } else if (item.token == "*") {
        q_any = std::max(q_any, q);
      }
    }
  }
  return q_gzip >= 0 ? q_gzip > 0 : q_any > 0;
}

// Gzip copies of cached bodies, made on a thread of its own so that no io thread ever waits for
// a compression: Find() answers with what is ready and queues the rest. A new body equal to one
// already compressed (a handler that re-renders the same bytes) takes that copy at once.
class GzipCache {
 public:
  GzipCache() : worker_([this] { Run(); }) {}
  ~GzipCache() { Stop(); }

  // The gzip copy of `body` when it is ready, else null (queued once for compression; a body
  // whose compression failed, or is no smaller, stays null).
  std::shared_ptr<const std::string> Find(const std::shared_ptr<const std::string>& body) {
    std::lock_guard lock(mu_);
    ++tick_;
    for (Entry& e : entries_) {
      if (e.body != body) continue;
      e.used = tick_;
      return e.gz;
    }
    std::shared_ptr<const std::string> same;  // the copy of an equal body, if any
    for (const Entry& e : entries_) {
      if (e.gz && *e.body == *body) same = e.gz;  // sizes first, then bytes
    }
    if (entries_.size() == kGzipEntries) {
      entries_.erase(
          std::min_element(entries_.begin(), entries_.end(),
                           [](const Entry& a, const Entry& b) { return a.used < b.used; }));
    }
    entries_.push_back(Entry{body, same, tick_});
    if (!same && !stop_) {
      queue_.push_back(body);
      cv_.notify_one();
    }
    return same;
  }

  // Returns once every copy queued so far is made (or failed), or the cache stopped.
  void Drain() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    idle_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Entry {
    std::shared_ptr<const std::string> body;  // kept alive: its address is its key
    std::shared_ptr<const std::string> gz;    // null until ready
    uint64_t used;
  };

  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      std::shared_ptr<const std::string> body = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::optional<std::string> gz = Gzip(*body);
      lock.lock();
      busy_ = false;
      if (gz && gz->size() < body->size()) {
        for (Entry& e : entries_) {
          if (e.body == body) e.gz = std::make_shared<const std::string>(std::move(*gz));
        }
      }
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;  // the queue ran empty (Drain)
  bool busy_ = false;                // the worker is compressing a body
  std::vector<Entry> entries_;       // at most kGzipEntries
  std::deque<std::shared_ptr<const std::string>> queue_;
  uint64_t tick_ = 0;
  bool stop_ = false;
  std::thread worker_;  // last: starts once the members above exist
};

// The length of the valid UTF-8 sequence at s[i] (1..4), or 0 if the byte there does not start
// one (a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, cut short).
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  const unsigned c = byte(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return byte(1) >= lo && byte(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return byte(1) >= lo && byte(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Appends `s` without CR and LF (no header injection through a handler's header values).
void AppendHeaderText(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
}

const char* ContentTypeFor(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".woff2", "font/woff2"},
  };
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

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

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request, Response, helpers

std::string Request::Header(std::string_view name) const {
  const std::string* v = FindHeader(*this, name);
  return v ? *v : std::string();
}

std::optional<std::string> Request::Param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const size_t n = Utf8SequenceAt(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.data() + i, n);
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

Response JsonError(int status, std::string_view parameter, std::string_view message,
                   std::string_view request_id) {
  Response r;
  r.status = status;
  r.body.reserve(64 + parameter.size() + message.size() + request_id.size());
  fmt::format_to(std::back_inserter(r.body), "{{\"error\":{{\"status\":{}", status);
  if (!parameter.empty()) {
    r.body += ",\"parameter\":";
    AppendJsonString(r.body, parameter);
  }
  r.body += ",\"message\":";
  AppendJsonString(r.body, message);
  if (!request_id.empty()) {
    r.body += ",\"request_id\":";
    AppendJsonString(r.body, request_id);
  }
  r.body += "}}";
  return r;
}

Response InternalError(const Request& request, int status, std::string_view detail) {
  spdlog::error("serve: request {} {} {} failed with {}: {}", request.id, request.method,
                request.route.empty() ? request.path : request.route, status, detail);
  return JsonError(status, "", status == 503 ? "service unavailable" : "internal error",
                   request.id);
}

bool WantsCsv(const Request& request) {
  if (std::optional<std::string> f = request.Param("format")) return IEquals(*f, "csv");
  const std::string* accept = FindHeader(request, "accept");
  if (!accept) return false;
  // The q of text/csv, and of the most specific range covering application/json; a bad q
  // counts as 1 (the range is still named).
  double q_csv = 0, q_json = 0;
  int spec_json = 0;
  size_t pos_csv = SIZE_MAX, pos_json = SIZE_MAX;
  const std::vector<QualityItem> items = ParseQualityList(*accept);
  for (size_t pos = 0; pos < items.size(); ++pos) {
    const std::string_view range = items[pos].token;
    const double q = items[pos].q.value_or(1);
    if (IEquals(range, "text/csv")) {
      if (pos_csv == SIZE_MAX) q_csv = q, pos_csv = pos;
    }
    int spec = IEquals(range, "application/json") ? 3
               : IEquals(range, "application/*")  ? 2
               : range == "*/*"                   ? 1
                                                  : 0;
    if (spec > spec_json) spec_json = spec, q_json = q, pos_json = pos;
  }
  if (pos_csv == SIZE_MAX || q_csv <= 0) return false;
  return q_csv > q_json || (q_csv == q_json && pos_csv < pos_json);
}

void EventSink::Send(std::string_view event, std::string_view data) {
  if (closed_) return;
  if (!event.empty()) {
    frames_ += "event: ";
    AppendHeaderText(frames_, event);
    frames_ += '\n';
  }
  for (size_t i = 0;;) {
    size_t j = data.find_first_of("\r\n", i);
    frames_ += "data: ";
    frames_.append(data.substr(i, j == std::string_view::npos ? j : j - i));
    frames_ += '\n';
    if (j == std::string_view::npos) break;
    i = j + 1;
    if (data[j] == '\r' && i < data.size() && data[i] == '\n') ++i;
  }
  frames_ += '\n';
}

void EventSink::KeepAlive() {
  if (!closed_) frames_ += ": keep-alive\n\n";
}

void Router::Get(std::string path, Handler handler) {
  routes_.emplace_back(std::move(path), Route{std::move(handler), nullptr});
}

void Router::Stream(std::string path, StreamHandler handler) {
  routes_.emplace_back(std::move(path), Route{nullptr, std::move(handler)});
}

// ---------------------------------------------------------------------------------------------
// The server's state

namespace {

struct RouteEntry {
  Handler handler;
  StreamHandler stream;
  std::unique_ptr<RouteMetrics> metrics;
};

// Appends the status line and headers of `r` (a body of `length` bytes) to `out`.
void AppendHead(std::string& out, const Response& r, size_t length, bool keep_alive, bool http10,
                std::string_view request_id) {
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\nContent-Type: ", r.status,
                 Reason(r.status));
  AppendHeaderText(out, r.content_type);
  fmt::format_to(std::back_inserter(out), "\r\nContent-Length: {}\r\n", length);
  for (const auto& [k, v] : r.headers) {
    AppendHeaderText(out, k);
    out += ": ";
    AppendHeaderText(out, v);
    out += "\r\n";
  }
  out += "X-Request-Id: ";
  out += request_id;
  out += "\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

// The head of an event stream (and of a HEAD on a stream route).
std::string StreamHead(std::string_view request_id) {
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "X-Request-Id: ";
  head += request_id;
  head += "\r\nConnection: close\r\n\r\n";
  return head;
}

// SplitMix64's finalizer: a bijection of 64-bit integers that scatters consecutive ones.
uint64_t Scatter(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerOptions o) : opt(std::move(o)) {}

  ServerOptions opt;
  fs::path root;  // canonical web root; empty: no static files
  std::unordered_map<std::string, RouteEntry> routes;
  RouteMetrics static_metrics, unmatched_metrics;
  Gauge* streams_active = nullptr;
  std::atomic<int64_t> exceptions{0};
  std::atomic<bool> stopping{false};
  GzipCache gzip;

  // Request ids: Scatter(id_base + n) for the n-th request, id_base drawn at start (ids are
  // unique for the server's life, and say nothing of how many requests it has served).
  uint64_t id_base = 0;
  std::atomic<uint64_t> id_seq{0};

  std::unique_ptr<net::io_context> io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
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

  void InitMetrics(RouteMetrics& m, std::string label);
  void Accept();
  Response Static(const Request& req);
  std::string NextRequestId() {
    return fmt::format("{:016x}", Scatter(id_base + id_seq.fetch_add(1) + 1));
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

namespace {

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
      net::async_write(
          socket_, net::buffer(out_),
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
    socket_.async_read_some(net::buffer(read_buf_),
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
  net::steady_timer timer_;
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

// One connection: reads requests and writes responses asynchronously on its strand, until the
// connection closes or becomes an event stream.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl& srv, tcp::socket socket) : srv_(srv), stream_(std::move(socket)) {}

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
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
    for (const auto& f : msg) {
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() == 10;
    head_request_ = msg.method() == http::verb::head;
    bool get = msg.method() == http::verb::get || head_request_;

    RouteMetrics* m = &srv_.unmatched_metrics;
    RouteEntry* route = nullptr;
    resp_ = Response();
    if (!ParseTarget(req)) {
      resp_ = JsonError(400, "", "malformed request target");
    } else if (msg.method() == http::verb::unknown) {
      resp_ = JsonError(501, "", fmt::format("method {} not implemented", req.method));
    } else {
      auto it = srv_.routes.find(req.path);
      if (it != srv_.routes.end()) {
        route = &it->second;
        m = route->metrics.get();
      } else if (!srv_.root.empty() && get) {
        m = &srv_.static_metrics;
      }
      req.route = m->label;
      if (srv_.opt.bearer_token && req.path != "/healthz" &&
          !Authorized(req, *srv_.opt.bearer_token)) {
        resp_ = JsonError(401, "", "missing or invalid bearer token");
        resp_.headers.emplace_back("WWW-Authenticate", "Bearer");
      } else if (!get) {
        resp_ = MethodNotAllowed(req.method);
      } else if (route && route->stream) {
        keep_alive_ = false;
        if (head_request_) {
          stream_head_ = true;
        } else if (OpenStream(*route, m)) {
          return;  // the stream owns the connection now
        }
      } else if (route) {
        try {
          resp_ = route->handler(req);
        } catch (const std::exception& e) {
          Failed(m, e.what());
        } catch (...) {
          Failed(m, "unknown exception");
        }
      } else if (m == &srv_.static_metrics) {
        resp_ = srv_.Static(req);
      } else {
        resp_ = JsonError(404, "", "not found");
      }
    }
    Write(m);
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
    std::make_shared<StreamSession>(srv_, stream_.release_socket(), m, std::move(req_),
                                    std::move(reply))
        ->Start();
    return true;
  }

  void Write(RouteMetrics* m) {
    if (resp_.status < 100 || resp_.status > 599) {
      Failed(m, fmt::format("bad HTTP status {}", resp_.status).c_str());
    }
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
      AppendHead(head_, resp_, body.size(), keep_alive_, http10_, req_.id);
    }
    m->Count(resp_.status, start_, true);
    std::array<net::const_buffer, 2> bufs{net::buffer(head_), head_request_ || stream_head_
                                                                  ? net::const_buffer()
                                                                  : net::buffer(body)};
    stream_.expires_after(kIdleTimeout);
    net::async_write(stream_, bufs, [self = shared_from_this()](beast::error_code ec, size_t) {
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
  acceptor->async_accept(net::make_strand(*io), [this](beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted || stopping) return;
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
    std::make_shared<Session>(*this, std::move(s))->Run();
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
  net::ip::address addr = net::ip::make_address(host, ec);
  if (ec) return InvalidArgument("bad bind address '{}': {}", options.bind, ec.message());
  if (!addr.is_loopback() && !options.bearer_token) {
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
  if (m.opt.metrics) {
    m.streams_active =
        &m.opt.metrics
             ->AddGauge("cryptolake_http_streams_active", "Server-Sent Event streams open now.")
             .WithLabels({});
  }

  m.io = std::make_unique<net::io_context>(m.opt.threads);
  m.acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*m.io));
  m.accept_retry = std::make_unique<net::steady_timer>(m.acceptor->get_executor());
  tcp::endpoint ep(addr, static_cast<unsigned short>(m.opt.port));
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(net::socket_base::max_listen_connections, ec);
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

}  // namespace cryptolake::serve
