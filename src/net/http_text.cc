// The HTTP server core's text part (http_text.h), and the helpers of http_server.h.
#include "net/http_text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <vector>

namespace cryptolake::net {

namespace {

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

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
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

}  // namespace

// ---------------------------------------------------------------------------------------------
// internal (http_text.h)

namespace internal {

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

const std::string* FindHeader(const Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (IEquals(k, name)) return &v;
  }
  return nullptr;
}

bool Authorized(const Request& req, const std::string& token) {
  const std::string* h = FindHeader(req, "authorization");
  if (!h) return false;
  std::string_view v = Trim(*h);
  if (v.size() < 7 || !IEquals(v.substr(0, 6), "bearer") || v[6] != ' ') return false;
  return ConstantTimeEquals(Trim(v.substr(7)), token);
}

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

void AppendHeaderText(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
}

const char* ContentTypeFor(const std::filesystem::path& p) {
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

void AppendHead(std::string& out, const Response& r, size_t length, bool keep_alive,
                bool say_keep_alive, std::string_view request_id) {
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
  } else if (say_keep_alive) {
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

}  // namespace internal

using internal::AppendHeaderText;
using internal::FindHeader;
using internal::IEquals;

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

}  // namespace cryptolake::net
