#include "exchange/replay.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "ingest/parser.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "lake/lake.h"

namespace cryptolake::exchange {

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using Json = nlohmann::ordered_json;

constexpr size_t kLogCapacity = 100'000;
constexpr int kDefaultLimit = 500;
constexpr int kMaxLimit = 1000;
constexpr int64_t kWeightPing = 1, kWeightTime = 1, kWeightExchangeInfo = 20, kWeightKlines = 2,
                  kWeightOther = 1;

// One kline as served. Absent Binance fields (OHLCV sources) are 0; close_time is then
// open_time + interval - 1 us.
struct Row {
  Micros open_time = 0, close_time = 0;
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  double quote_volume = 0, taker_buy_base = 0, taker_buy_quote = 0;
  int64_t trades = 0;
};

struct Series {
  std::string symbol;
  Interval interval;
  std::vector<Row> rows;  // strictly increasing open_time
};

using SeriesMap = std::map<std::pair<std::string, std::string>, Series>;  // (symbol, interval)

// ---------------------------------------------------------------------------------------------
// Loading

Status AddBatch(const ingest::KlineBatch& b, SeriesMap& out) {
  auto [it, inserted] = out.try_emplace({b.symbol, b.interval.name});
  Series& s = it->second;
  if (inserted) {
    s.symbol = b.symbol;
    s.interval = b.interval;
  }
  s.rows.reserve(s.rows.size() + b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    Row r;
    r.open_time = b.open_time[i];
    r.open = b.open[i];
    r.high = b.high[i];
    r.low = b.low[i];
    r.close = b.close[i];
    r.volume = b.volume[i];
    if (b.full) {
      r.close_time = b.close_time[i];
      r.quote_volume = b.quote_volume[i];
      r.trades = b.trades[i];
      r.taker_buy_base = b.taker_buy_base[i];
      r.taker_buy_quote = b.taker_buy_quote[i];
    } else {
      r.close_time = r.open_time + b.interval.micros - 1;
    }
    s.rows.push_back(r);
  }
  return Status::Ok();
}

// Sorts every series by open_time; of rows with the same open_time the first added wins.
void SortAndDedup(SeriesMap& m) {
  for (auto& [key, s] : m) {
    std::stable_sort(s.rows.begin(), s.rows.end(),
                     [](const Row& a, const Row& b) { return a.open_time < b.open_time; });
    auto last = std::unique(s.rows.begin(), s.rows.end(),
                            [](const Row& a, const Row& b) { return a.open_time == b.open_time; });
    size_t dups = static_cast<size_t>(s.rows.end() - last);
    s.rows.erase(last, s.rows.end());
    if (dups > 0) {
      spdlog::info("replay-exchange: {} {}: {} duplicate klines ignored (first occurrence wins)",
                   s.symbol, s.interval.name, dups);
    }
  }
}

StatusOr<SeriesMap> LoadFiles(const std::vector<std::string>& data) {
  ASSIGN_OR_RETURN(std::vector<fs::path> inputs, ingest::ExpandInputs(data));
  // Parse in parallel; results keep the input order so that the first occurrence wins.
  std::vector<StatusOr<std::vector<ingest::ParsedFile>>> results(inputs.size(),
                                                                 Internal("not parsed"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      results[i] = ingest::ParseInput(inputs[i], ingest::ParseOptions{});
    }
  };
  size_t n = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), inputs.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  SeriesMap out;
  int64_t bad = 0, bad_files = 0;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    for (auto& f : r.value()) {
      if (!f.bad.empty()) {
        bad += static_cast<int64_t>(f.bad.size());
        ++bad_files;
        spdlog::debug("replay-exchange: {}:{}: {}", f.bad.front().file, f.bad.front().line,
                      f.bad.front().reason);
      }
      RETURN_IF_ERROR(AddBatch(f.batch, out));
    }
  }
  if (bad > 0) {
    spdlog::warn("replay-exchange: skipped {} bad rows in {} files (first reasons with -v)", bad,
                 bad_files);
  }
  SortAndDedup(out);
  return out;
}

StatusOr<SeriesMap> LoadLake(const fs::path& root, const Clock& clock) {
  ASSIGN_OR_RETURN(lake::Lake lk, lake::Lake::Open(root, clock));
  ASSIGN_OR_RETURN(lake::Snapshot snap, lk.GetSnapshot());
  ASSIGN_OR_RETURN(lake::Database db, lake::Database::Open());
  ASSIGN_OR_RETURN(lake::Connection con, lake::Connection::Open(db));
  SeriesMap out;
  for (const Interval& iv : lake::KlineIntervals(snap)) {
    std::string sql = fmt::format(
        "SELECT symbol, epoch_us(open_time), open, high, low, close, volume, epoch_us(close_time), "
        "quote_volume, trades, taker_buy_base, taker_buy_quote FROM {} k ORDER BY symbol, "
        "open_time",
        lake::KlinesSql(snap, iv));
    ASSIGN_OR_RETURN(lake::Result r, con.Query(sql));
    Series* s = nullptr;
    for (size_t i = 0; i < r.rows(); ++i) {
      std::string sym = r.GetString(0, i);
      if (!s || s->symbol != sym) {
        s = &out[{sym, iv.name}];
        s->symbol = sym;
        s->interval = iv;
      }
      Row row;
      row.open_time = r.GetInt64(1, i);
      row.open = r.GetDouble(2, i);
      row.high = r.GetDouble(3, i);
      row.low = r.GetDouble(4, i);
      row.close = r.GetDouble(5, i);
      row.volume = r.GetDouble(6, i);
      row.close_time = r.IsNull(7, i) ? row.open_time + iv.micros - 1 : r.GetInt64(7, i);
      row.quote_volume = r.IsNull(8, i) ? 0 : r.GetDouble(8, i);
      row.trades = r.IsNull(9, i) ? 0 : r.GetInt64(9, i);
      row.taker_buy_base = r.IsNull(10, i) ? 0 : r.GetDouble(10, i);
      row.taker_buy_quote = r.IsNull(11, i) ? 0 : r.GetDouble(11, i);
      s->rows.push_back(row);
    }
  }
  SortAndDedup(out);  // already unique; keeps the invariant explicit
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

// "%.8f" when it reads back as the same double (Binance's look), else the shortest round trip.
// (std::to_chars/from_chars: the same digits as printf/strtod, without their locale overhead.)
void AppendDecimal(std::string& out, double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 8);
  double back = 0;
  if (ec == std::errc() && std::from_chars(buf, end, back).ec == std::errc() && back == v) {
    out.append(buf, end);
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void AppendRow(std::string& out, const Row& r, bool micros) {
  auto t = [micros](Micros x) { return micros ? x : x / 1000; };
  fmt::format_to(std::back_inserter(out), "[{},\"", t(r.open_time));
  AppendDecimal(out, r.open);
  out += "\",\"";
  AppendDecimal(out, r.high);
  out += "\",\"";
  AppendDecimal(out, r.low);
  out += "\",\"";
  AppendDecimal(out, r.close);
  out += "\",\"";
  AppendDecimal(out, r.volume);
  fmt::format_to(std::back_inserter(out), "\",{},\"", t(r.close_time));
  AppendDecimal(out, r.quote_volume);
  fmt::format_to(std::back_inserter(out), "\",{},\"", r.trades);
  AppendDecimal(out, r.taker_buy_base);
  out += "\",\"";
  AppendDecimal(out, r.taker_buy_quote);
  out += "\",\"0\"]";
}

std::string ErrorBody(int code, std::string_view msg) {
  Json j;
  j["code"] = code;
  j["msg"] = std::string(msg);
  return j.dump();
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 418:
      return "I'm a teapot";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// Base and quote asset of a symbol: strips a known quote suffix.
std::pair<std::string, std::string> SplitSymbol(const std::string& sym) {
  for (const char* q : {"USDT", "BUSD", "USDC", "USD", "BTC", "ETH"}) {
    std::string_view qs(q);
    if (sym.size() > qs.size() && sym.compare(sym.size() - qs.size(), qs.size(), qs) == 0) {
      return {sym.substr(0, sym.size() - qs.size()), std::string(qs)};
    }
  }
  return {sym, ""};
}

bool IsBinanceInterval(std::string_view s) {
  static const std::set<std::string_view> kAll = {"1s", "1m", "3m", "5m", "15m", "30m",
                                                  "1h", "2h", "4h", "6h", "8h",  "12h",
                                                  "1d", "3d", "1w", "1M"};
  return kAll.count(s) > 0;
}

bool IsSymbolChars(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += s[i];
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int64_t CeilSeconds(Micros d) {
  return std::max<int64_t>(1, (d + kMicrosPerSecond - 1) / kMicrosPerSecond);
}

Micros FloorMinute(Micros t) {
  Micros r = t % kMicrosPerMinute;
  return t - (r < 0 ? r + kMicrosPerMinute : r);
}

// A response before serialization.
struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json;charset=UTF-8";
  int64_t retry_after = -1;  // seconds; -1: no header
};

Response Error(int code, std::string_view msg) { return {400, ErrorBody(code, msg)}; }

enum class Action { kNormal, kSlow, kTruncate, kDrop, kCorrupt };

std::string SerializeHead(const Response& r, size_t content_length, int64_t used_weight,
                          bool keep_alive) {
  std::string h = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nX-MBX-USED-WEIGHT-1M: {}\r\n",
      r.status, Reason(r.status), r.content_type, content_length, used_weight);
  if (r.retry_after >= 0) h += fmt::format("Retry-After: {}\r\n", r.retry_after);
  h += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return h;
}

struct Query {
  std::map<std::string, std::string> params;
  bool duplicate = false;
  const std::string* Get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  }
};

Query ParseQuery(std::string_view q) {
  Query out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string k = UrlDecode(kv.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : UrlDecode(kv.substr(eq + 1));
    if (!out.params.emplace(std::move(k), std::move(v)).second) out.duplicate = true;
  }
  return out;
}

// Parses a non-negative integer parameter; false on illegal characters.
bool ParseDigits(const std::string& s, int64_t* v) {
  if (s.empty() || s.size() > 18) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && *v >= 0;
}

std::string IllegalChars(std::string_view param) {
  return fmt::format(
      "Illegal characters found in parameter '{}'; legal range is '^[0-9]{{1,20}}$'.", param);
}

// A spec "<key>=<value>, ..." (`what` names it in errors: "fault spec", "ws fault spec"; `value`
// names its values) split into trimmed pairs in order; "" or "none" is no pair. An item
// without '=' and a key given twice are errors.
StatusOr<std::vector<std::pair<std::string, std::string>>> SplitSpec(std::string_view spec,
                                                                     std::string_view what,
                                                                     std::string_view value) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  std::vector<std::pair<std::string, std::string>> out;
  spec = trim(spec);
  if (spec.empty() || spec == "none") return out;
  std::set<std::string> seen;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("{}: expected <fault>=<{}>, got '{}'", what, value, item);
    }
    std::string key(trim(item.substr(0, eq)));
    if (!seen.insert(key).second) return InvalidArgument("{}: '{}' given twice", what, key);
    out.emplace_back(std::move(key), std::string(trim(item.substr(eq + 1))));
  }
  return out;
}

// A probability in [0, 1], or the spec's error for `key`.
StatusOr<double> ParseProbability(std::string_view what, const std::string& key,
                                  const std::string& val) {
  char* end = nullptr;
  double p = std::strtod(val.c_str(), &end);
  if (val.empty() || end != val.c_str() + val.size() || !(p >= 0 && p <= 1)) {
    return InvalidArgument("{}: probability of '{}' must be a number in [0, 1], got '{}'", what,
                           key, val);
  }
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FaultSpec

StatusOr<FaultSpec> FaultSpec::Parse(std::string_view spec) {
  FaultSpec f;
  ASSIGN_OR_RETURN(auto items, SplitSpec(spec, "fault spec", "probability"));
  for (const auto& [key, val] : items) {
    double* slot = key == "429"        ? &f.p429
                   : key == "418"      ? &f.p418
                   : key == "5xx"      ? &f.p5xx
                   : key == "slow"     ? &f.slow
                   : key == "truncate" ? &f.truncate
                   : key == "drop"     ? &f.drop
                   : key == "corrupt"  ? &f.corrupt
                                       : nullptr;
    if (!slot) {
      return InvalidArgument(
          "fault spec: unknown fault '{}' (known: 429, 418, 5xx, slow, truncate, drop, corrupt)",
          key);
    }
    ASSIGN_OR_RETURN(*slot, ParseProbability("fault spec", key, val));
  }
  double sum = f.p429 + f.p418 + f.p5xx + f.slow + f.truncate + f.drop + f.corrupt;
  if (sum > 1 + 1e-9) {
    return InvalidArgument("fault spec: probabilities sum to {} (at most 1)", sum);
  }
  return f;
}

StatusOr<WsFaultSpec> WsFaultSpec::Parse(std::string_view spec) {
  WsFaultSpec f;
  ASSIGN_OR_RETURN(auto items, SplitSpec(spec, "ws fault spec", "value"));
  for (const auto& [key, val] : items) {
    Micros* duration = key == "disconnect_every" ? &f.disconnect_every
                       : key == "stall_after"    ? &f.stall_after
                                                 : nullptr;
    double* prob = key == "malformed" ? &f.malformed : key == "duplicate" ? &f.duplicate : nullptr;
    if (!duration && !prob) {
      return InvalidArgument(
          "ws fault spec: unknown fault '{}' (known: disconnect_every, stall_after, malformed, "
          "duplicate)",
          key);
    }
    if (duration) {
      // <number><unit>, unit one of ms, s, m, h.
      size_t u = val.find_first_not_of("0123456789.");
      std::string_view num = std::string_view(val).substr(0, u);
      std::string_view unit = u == std::string::npos ? "" : std::string_view(val).substr(u);
      double n = 0;
      auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
      double scale = unit == "ms"  ? 1e3
                     : unit == "s" ? 1e6
                     : unit == "m" ? 6e7
                     : unit == "h" ? 3.6e9
                                   : 0;
      Micros d = static_cast<Micros>(std::llround(n * scale));
      if (num.empty() || ec != std::errc() || p != num.data() + num.size() || scale == 0 ||
          d <= 0) {
        return InvalidArgument(
            "ws fault spec: duration of '{}' must be a positive number with a unit ms, s, m or h, "
            "got '{}'",
            key, val);
      }
      *duration = d;
    } else {
      ASSIGN_OR_RETURN(*prob, ParseProbability("ws fault spec", key, val));
    }
  }
  if (f.malformed + f.duplicate > 1 + 1e-9) {
    return InvalidArgument("ws fault spec: probabilities sum to {} (at most 1)",
                           f.malformed + f.duplicate);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// The server

struct ReplayExchange::Impl {
  Impl(const Clock& c, ReplayOptions o, SeriesMap d)
      : clock(c), opt(std::move(o)), data(std::move(d)), rng(opt.faults.seed) {}

  const Clock& clock;
  const ReplayOptions opt;
  const SeriesMap data;  // immutable after Create: read without locks
  std::vector<std::string> symbols;
  Micros start = 0, clock0 = 0;
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

  // Rate limits, faults, log, counters.
  mutable std::mutex mu;
  Micros window = INT64_MIN;  // start of the current clock minute
  int64_t used = 0;
  Micros retry_until = INT64_MIN;  // end of the current Retry-After window
  int ignored = 0;                 // requests inside that window after the 429
  Micros ban_until = INT64_MIN;
  std::mt19937_64 rng;
  std::deque<RequestRecord> log;
  ReplayCounters counters;  // the ws_* fields live in `ws` below
  struct WsCounters {
    std::atomic<int64_t> connections{0}, rejected{0}, messages{0}, finals{0}, pings{0}, pongs{0},
        pong_timeouts{0}, max_age_closes{0}, disconnects{0}, stalls{0}, malformed{0}, duplicates{0};
  } ws;

  Micros ExchangeNow() const {
    double dt = static_cast<double>(clock.Now() - clock0) * opt.speed;
    return start + static_cast<Micros>(std::llround(dt));
  }

  void AcceptLoop();
  void Serve(Conn* c);
  // A WebSocket upgrade request: refuses it (400) or accepts it and serves the streams until the
  // connection ends.
  void ServeWebSocket(Conn* c, http::request<http::string_body> req);
  struct WsStream;
  struct WsSession;
  // Resolves the streams of an upgrade target; false with an error body if they are bad.
  bool ResolveStreams(std::string_view path, const Query& q, std::vector<WsStream>* out,
                      bool* combined, std::string* error);
  // Decides the response to one request; `action` says how to deliver it.
  Response Handle(const http::request<http::string_body>& req, RequestRecord* rec, Action* action);
  Response Route(std::string_view path, const Query& q, bool micros, int64_t* rows);
  Response Klines(const Query& q, bool micros, int64_t* rows);
  Response ExchangeInfo(const Query& q, bool micros);
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
      ServeWebSocket(c, parser.release());
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
    std::string out = SerializeHead(resp, resp.body.size(), rec.used_weight, keep_alive);
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

// ---------------------------------------------------------------------------------------------
// WebSocket streams

namespace {

constexpr size_t kMaxStreams = 1024;
constexpr auto kWsPoll = std::chrono::milliseconds(1);

Micros FloorTo(Micros t, Micros step) {
  Micros r = t % step;
  return t - (r < 0 ? r + step : r);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// One subscribed stream of a connection and where it stands.
struct ReplayExchange::Impl::WsStream {
  std::string name;                // as requested, e.g. "btcusdt@kline_1m"
  std::string symbol;              // "BTCUSDT"
  const Series* series = nullptr;  // klines to send; null for trade streams and missing data
  size_t next = 0;                 // index of the candle in progress
  Micros last_update = INT64_MIN;  // exchange time of its last "x":false update
};

bool ReplayExchange::Impl::ResolveStreams(std::string_view path, const Query& q,
                                          std::vector<WsStream>* out, bool* combined,
                                          std::string* error) {
  auto invalid = [&](std::string_view why) {
    *error = ErrorBody(2, fmt::format("Invalid request: {}", why));
    return false;
  };
  std::vector<std::string> names;
  if (path.rfind("/ws/", 0) == 0) {
    *combined = false;
    std::string_view name = path.substr(4);
    if (name.empty()) return invalid("no stream name in the path");
    if (name.find('/') != std::string_view::npos) {
      return invalid("a raw stream path names one stream: /ws/<stream>");
    }
    names.emplace_back(name);
  } else if (path == "/stream" || path == "/stream/") {
    *combined = true;
    const std::string* s = q.Get("streams");
    if (!s || s->empty()) return invalid("missing parameter 'streams'");
    std::string_view rest = *s;
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      names.emplace_back(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      if (names.size() > kMaxStreams) {
        return invalid(fmt::format("more than {} streams", kMaxStreams));
      }
    }
  } else {
    return invalid(
        fmt::format("unknown path '{}' (use /ws/<stream> or /stream?streams=...)", path));
  }
  for (const std::string& name : names) {
    size_t at = name.find('@');
    if (name.empty() || at == std::string::npos || at == 0) {
      return invalid(fmt::format("unknown stream '{}'", name));
    }
    WsStream st;
    st.name = name;
    st.symbol = Upper(std::string_view(name).substr(0, at));
    std::string_view kind = std::string_view(name).substr(at + 1);
    std::string interval;
    if (kind.rfind("kline_", 0) == 0) {
      interval = std::string(kind.substr(6));
      if (!IsBinanceInterval(interval)) {
        *error = ErrorBody(-1120, "Invalid interval.");
        return false;
      }
    } else if (kind != "trade") {
      return invalid(fmt::format("unknown stream '{}'", name));
    }
    if (!IsSymbolChars(st.symbol) ||
        !std::binary_search(symbols.begin(), symbols.end(), st.symbol)) {
      *error = ErrorBody(-1121, "Invalid symbol.");
      return false;
    }
    if (!interval.empty()) {
      auto it = data.find({st.symbol, interval});
      if (it != data.end() && !it->second.rows.empty()) st.series = &it->second;
    }
    out->push_back(std::move(st));
  }
  return true;
}

// One WebSocket connection: all of its I/O runs on the connection's own io_context, on the
// connection's thread, so no member needs a lock.
struct ReplayExchange::Impl::WsSession {
  WsSession(Impl& ex, Conn& c, std::vector<WsStream> streams, bool combined, bool micros)
      : ex(ex),
        ws(c.socket),
        timer(c.io),
        timers(ex.opt.ws_clock ? *ex.opt.ws_clock : SystemClock::Instance()),
        streams(std::move(streams)),
        combined(combined),
        micros(micros),
        faults(ex.opt.ws_faults),
        rng(ex.opt.ws_faults.seed + c.number) {}

  Impl& ex;
  websocket::stream<tcp::socket&> ws;
  net::steady_timer timer;  // the poll (kWsPoll of real time)
  const Clock& timers;      // of ping, pong timeout, max age and the faults (options.ws_clock)
  std::vector<WsStream> streams;
  const bool combined, micros;
  const WsFaultSpec& faults;
  std::mt19937_64 rng;

  Micros opened = 0, next_ping = 0, ping_since = 0;  // on `timers`
  bool ping_outstanding = false;  // a ping is due or sent and no pong has come since
  bool ping_due = false;          // to be written
  bool writing = false;           // a write (message, ping or close) is in flight
  bool duplicate_due = false;     // `out` is to be sent once more
  bool out_is_final = false;
  bool stalled = false;
  bool closed = false;
  enum class Closing { kNo, kShutdownEvent, kCloseFrame, kDone } closing = Closing::kNo;
  std::string out;  // the message being written; its capacity is reused
  beast::flat_buffer in;

  void Start() {
    opened = timers.Now();
    next_ping = opened + ex.opt.ws_ping_interval;
    const Micros now = ex.ExchangeNow();
    for (WsStream& s : streams) {
      if (!s.series) continue;
      Micros from = FloorTo(now, s.series->interval.micros);
      const auto& rows = s.series->rows;
      s.next = static_cast<size_t>(
          std::lower_bound(rows.begin(), rows.end(), from,
                           [](const Row& r, Micros t) { return r.open_time < t; }) -
          rows.begin());
    }
    out.reserve(512);
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) {
        ++ex.ws.pongs;
        ping_outstanding = false;
      }
    });
    Read();
    Pump();
    Tick();
  }

  // Ends the connection at once: the TCP socket is shut down, which fails the pending read and
  // write; the socket itself closes with the connection (the thread's owner).
  void Abort() {
    if (closed) return;
    closed = true;
    timer.cancel();
    beast::error_code ignored;
    ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void Read() {
    ws.async_read(in, [this](beast::error_code ec, size_t) {
      if (ec) return Abort();  // closed by the client (Beast answered its close), EOF, error
      in.consume(in.size());   // client messages (SUBSCRIBE, ...) are ignored
      Read();
    });
  }

  void Tick() {
    if (closed) return;
    const Micros now = timers.Now();
    if (faults.disconnect_every > 0 && now >= opened + faults.disconnect_every) {
      ++ex.ws.disconnects;
      return Abort();
    }
    if (!stalled && faults.stall_after > 0 && now >= opened + faults.stall_after) {
      stalled = true;
      ++ex.ws.stalls;
    }
    if (!stalled) {
      if (ping_outstanding && now >= ping_since + ex.opt.ws_pong_timeout) {
        ++ex.ws.pong_timeouts;
        return Abort();
      }
      if (closing == Closing::kNo && now >= opened + ex.opt.ws_max_age) {
        ++ex.ws.max_age_closes;
        closing = Closing::kShutdownEvent;
      }
      if (closing == Closing::kNo && now >= next_ping) {
        ping_due = true;
        if (!ping_outstanding) {
          ping_outstanding = true;
          ping_since = now;
        }
        next_ping = now + ex.opt.ws_ping_interval;
      }
      Pump();
    }
    timer.expires_after(kWsPoll);
    timer.async_wait([this](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  // Writes the next thing due, if nothing is being written; called again when the write is done,
  // so messages that are due go out back to back.
  void Pump() {
    if (writing || closed || stalled) return;
    if (ping_due) {
      ping_due = false;
      writing = true;
      ++ex.ws.pings;
      ws.async_ping({}, [this](beast::error_code ec) { Written(ec); });
      return;
    }
    if (duplicate_due) {
      duplicate_due = false;
      return Write();
    }
    switch (closing) {
      case Closing::kShutdownEvent:
        closing = Closing::kCloseFrame;
        out.clear();
        if (combined) out += "{\"stream\":\"!serverShutdown\",\"data\":";
        fmt::format_to(std::back_inserter(out), "{{\"e\":\"serverShutdown\",\"E\":{}}}",
                       Ts(ex.ExchangeNow()));
        if (combined) out += '}';
        out_is_final = false;
        return Write();
      case Closing::kCloseFrame:
        closing = Closing::kDone;
        writing = true;
        ws.async_close(websocket::close_code::going_away, [this](beast::error_code) {
          writing = false;
          Abort();
        });
        return;
      case Closing::kDone:
        return;
      case Closing::kNo:
        break;
    }
    if (!NextMessage()) return;  // the next tick looks again
    if (faults.malformed > 0 || faults.duplicate > 0) {
      double u = std::uniform_real_distribution<double>(0, 1)(rng);
      if (faults.malformed > 0 && u < faults.malformed) {
        out.resize(out.size() / 2);
        ++ex.ws.malformed;
      } else if (faults.duplicate > 0 && u < faults.malformed + faults.duplicate) {
        duplicate_due = true;
        ++ex.ws.duplicates;
      }
    }
    Write();
  }

  void Write() {
    writing = true;
    ++ex.ws.messages;
    if (out_is_final) ++ex.ws.finals;
    ws.async_write(net::buffer(out), [this](beast::error_code ec, size_t) { Written(ec); });
  }

  void Written(beast::error_code ec) {
    writing = false;
    if (ec) return Abort();
    Pump();
  }

  int64_t Ts(Micros t) const { return micros ? t : t / 1000; }

  // Formats the earliest due event of all streams into `out`; false if none is due.
  bool NextMessage() {
    const Micros now = ex.ExchangeNow();
    WsStream* best = nullptr;
    Micros best_at = 0;
    bool best_final = false;
    for (WsStream& s : streams) {
      if (!s.series || s.next >= s.series->rows.size()) continue;
      const Row& r = s.series->rows[s.next];
      const Micros close = r.open_time + s.series->interval.micros;
      Micros at;
      bool final;
      if (now >= close) {
        at = close;
        final = true;
      } else if (now >= r.open_time &&
                 (s.last_update == INT64_MIN || now - s.last_update >= ex.opt.ws_update_interval)) {
        at = now;
        final = false;
      } else {
        continue;
      }
      if (!best || at < best_at) {
        best = &s;
        best_at = at;
        best_final = final;
      }
    }
    if (!best) return false;
    const Row& r = best->series->rows[best->next];
    if (best_final) {
      ++best->next;
      best->last_update = INT64_MIN;
    } else {
      best->last_update = best_at;
    }
    FormatKline(*best, r, best_at, best_final);
    out_is_final = best_final;
    return true;
  }

  void FormatKline(const WsStream& s, const Row& r, Micros event_time, bool final) {
    out.clear();
    auto app = std::back_inserter(out);
    if (combined) {
      out += "{\"stream\":\"";
      out += s.name;
      out += "\",\"data\":";
    }
    fmt::format_to(app,
                   "{{\"e\":\"kline\",\"E\":{},\"s\":\"{}\",\"k\":{{\"t\":{},\"T\":{},\"s\":\"{}\","
                   "\"i\":\"{}\",\"f\":0,\"L\":0,\"o\":\"",
                   Ts(event_time), s.symbol, Ts(r.open_time), Ts(r.close_time), s.symbol,
                   s.series->interval.name);
    AppendDecimal(out, r.open);
    out += "\",\"c\":\"";
    AppendDecimal(out, r.close);
    out += "\",\"h\":\"";
    AppendDecimal(out, r.high);
    out += "\",\"l\":\"";
    AppendDecimal(out, r.low);
    out += "\",\"v\":\"";
    AppendDecimal(out, r.volume);
    fmt::format_to(app, "\",\"n\":{},\"x\":{},\"q\":\"", r.trades, final ? "true" : "false");
    AppendDecimal(out, r.quote_volume);
    out += "\",\"V\":\"";
    AppendDecimal(out, r.taker_buy_base);
    out += "\",\"Q\":\"";
    AppendDecimal(out, r.taker_buy_quote);
    out += "\",\"B\":\"0\"}}";
    if (combined) out += '}';
  }
};

void ReplayExchange::Impl::ServeWebSocket(Conn* c, http::request<http::string_body> req) {
  RequestRecord rec;
  rec.at = clock.Now();
  std::string_view target = Sv(req.target());
  rec.target = std::string(target);
  size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  Query q = qpos == std::string_view::npos ? Query{} : ParseQuery(target.substr(qpos + 1));
  bool micros = false;
  if (const std::string* u = q.Get("timeUnit")) micros = Lower(*u) == "microsecond";
  {
    std::lock_guard<std::mutex> l(mu);
    ++counters.requests;
  }
  std::vector<WsStream> streams;
  bool combined = false;
  std::string error;
  if (!ResolveStreams(path, q, &streams, &combined, &error)) {
    ++ws.rejected;
    rec.status = 400;
    Record(rec);
    Response resp{400, std::move(error)};
    std::string out = SerializeHead(resp, resp.body.size(), 0, /*keep_alive=*/false) + resp.body;
    beast::error_code ec;
    net::write(c->socket, net::buffer(out), ec);
    return;
  }
  WsSession session(*this, *c, std::move(streams), combined, micros);
  session.ws.read_message_max(64 * 1024);
  session.ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "cryptolake-replay"); }));
  beast::error_code ec;
  session.ws.accept(req, ec);
  if (ec) {
    rec.status = 400;
    Record(rec);
    return;
  }
  ++ws.connections;
  rec.status = 101;
  Record(rec);
  {
    // From here on the socket is io's (Stop() posts its shutdown there); if Stop() came first,
    // it has shut the socket down already.
    std::lock_guard<std::mutex> l(conn_mu);
    if (stopping) return;
    c->async = true;
  }
  session.Start();
  c->io.run();
}

Response ReplayExchange::Impl::Handle(const http::request<http::string_body>& req,
                                      RequestRecord* rec, Action* action) {
  const Micros now = clock.Now();
  rec->at = now;
  std::string_view target = Sv(req.target());
  rec->target = std::string(target);
  size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  Query q = qpos == std::string_view::npos ? Query{} : ParseQuery(target.substr(qpos + 1));
  bool micros = false;
  if (auto it = req.find("X-MBX-TIME-UNIT"); it != req.end()) {
    micros = Lower(Sv(it->value())) == "microsecond";
  }
  const bool klines = path == "/api/v3/klines";
  const int64_t weight = path == "/api/v3/ping"           ? kWeightPing
                         : path == "/api/v3/time"         ? kWeightTime
                         : path == "/api/v3/exchangeInfo" ? kWeightExchangeInfo
                         : klines                         ? kWeightKlines
                                                          : kWeightOther;
  auto ban_body = [](Micros until) {
    return ErrorBody(-1003, fmt::format("Way too much request weight used; IP banned until {}. "
                                        "Please use WebSocket Streams for live updates to avoid "
                                        "bans.",
                                        until / 1000));
  };
  std::string fault;
  Response limited;
  bool is_limited = false;
  {
    std::lock_guard<std::mutex> l(mu);
    ++counters.requests;
    Micros w = FloorMinute(now);
    if (w != window) {
      window = w;
      used = 0;
    }
    auto too_much = [&](Micros until) {
      Response r{429, ErrorBody(-1003, fmt::format("Too much request weight used; current limit "
                                                   "is {} request weight per 1 MINUTE. Please use "
                                                   "WebSocket Streams for live updates to avoid "
                                                   "polling the API.",
                                                   opt.weight_limit))};
      r.retry_after = CeilSeconds(until - now);
      ++counters.status_429;
      return r;
    };
    auto banned = [&] {
      Response r{418, ban_body(ban_until)};
      r.retry_after = CeilSeconds(ban_until - now);
      ++counters.status_418;
      return r;
    };
    if (now < ban_until) {
      limited = banned();
      is_limited = true;
    } else if (now < retry_until) {
      if (++ignored > opt.ban_threshold) {
        ban_until = now + opt.ban_seconds * kMicrosPerSecond;
        retry_until = INT64_MIN;
        ++counters.earned_bans;
        limited = banned();
      } else {
        limited = too_much(retry_until);
      }
      is_limited = true;
    } else if (used + weight > opt.weight_limit) {
      retry_until = window + kMicrosPerMinute;
      ignored = 0;
      limited = too_much(retry_until);
      is_limited = true;
    } else {
      if (klines && opt.faults.any()) {
        const FaultSpec& f = opt.faults;
        double u = std::uniform_real_distribution<double>(0, 1)(rng);
        double acc = 0;
        auto hit = [&](double p) { return p > 0 && u < (acc += p); };
        if (hit(f.p429)) {
          fault = "429";
        } else if (hit(f.p418)) {
          fault = "418";
        } else if (hit(f.p5xx)) {
          fault = "5xx";
        } else if (hit(f.slow)) {
          fault = "slow";
        } else if (hit(f.truncate)) {
          fault = "truncate";
        } else if (hit(f.drop)) {
          fault = "drop";
        } else if (hit(f.corrupt)) {
          fault = "corrupt";
        }
        if (!fault.empty()) ++counters.faults[fault];
      }
      if (fault == "429") {
        retry_until = now + opt.faults.retry_after_seconds * kMicrosPerSecond;
        ignored = 0;
        limited = too_much(retry_until);
        is_limited = true;
      } else if (fault == "418") {
        ban_until = now + opt.faults.ban_seconds * kMicrosPerSecond;
        limited = banned();
        is_limited = true;
      } else {
        used += weight;
      }
    }
    rec->used_weight = used;
    if (fault == "5xx") {
      static constexpr int kCodes[] = {500, 502, 503};
      limited.status = kCodes[std::uniform_int_distribution<int>(0, 2)(rng)];
      is_limited = true;
    }
  }
  rec->fault = fault;
  if (fault == "5xx") {
    if (limited.status == 500) {
      limited.body = ErrorBody(-1000, "An unknown error occurred while processing the request.");
    } else if (limited.status == 502) {
      limited.content_type = "text/html";
      limited.body =
          "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 "
          "Bad Gateway</h1></center></body></html>";
    } else {
      limited.body = ErrorBody(-1008,
                               "Server is currently overloaded with other requests. Please try "
                               "again in a few minutes.");
    }
  }
  Response resp;
  int64_t rows = 0;
  if (is_limited) {
    resp = std::move(limited);
  } else if (req.method() != http::verb::get) {
    resp = {405, ""};
  } else {
    resp = Route(path, q, micros, &rows);
  }
  if (fault == "slow") *action = Action::kSlow;
  if (fault == "truncate") *action = Action::kTruncate;
  if (fault == "drop") *action = Action::kDrop;
  if (fault == "corrupt") *action = Action::kCorrupt;
  rec->status = *action == Action::kDrop ? 0 : resp.status;
  if (rows > 0 && *action != Action::kDrop) {
    std::lock_guard<std::mutex> l(mu);
    counters.klines_served += rows;
  }
  return resp;
}

Response ReplayExchange::Impl::Route(std::string_view path, const Query& q, bool micros,
                                     int64_t* rows) {
  auto ts = [micros](Micros t) { return micros ? t : t / 1000; };
  if (q.duplicate) return Error(-1101, "Duplicate values for a parameter detected.");
  if (path == "/api/v3/ping") return {200, "{}"};
  if (path == "/api/v3/time") return {200, fmt::format("{{\"serverTime\":{}}}", ts(ExchangeNow()))};
  if (path == "/api/v3/exchangeInfo") return ExchangeInfo(q, micros);
  if (path == "/api/v3/klines") return Klines(q, micros, rows);
  return {404, "<html><body><h2>404 Not found</h2></body></html>", "text/html"};
}

Response ReplayExchange::Impl::ExchangeInfo(const Query& q, bool micros) {
  std::vector<std::string> wanted;
  if (const std::string* s = q.Get("symbol")) {
    if (!IsSymbolChars(*s)) {
      return Error(-1100,
                   "Illegal characters found in parameter 'symbol'; legal range is "
                   "'^[A-Z0-9-_.]{1,20}$'.");
    }
    wanted.push_back(*s);
  } else if (const std::string* ss = q.Get("symbols")) {
    Json arr = Json::parse(*ss, nullptr, /*allow_exceptions=*/false);
    bool ok = arr.is_array() && !arr.empty();
    if (ok) {
      for (const auto& e : arr) {
        if (!e.is_string() || !IsSymbolChars(e.get<std::string>())) {
          ok = false;
          break;
        }
        wanted.push_back(e.get<std::string>());
      }
    }
    if (!ok) {
      return Error(-1100,
                   "Illegal characters found in parameter 'symbols'; legal range is "
                   "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.");
    }
  } else {
    wanted = symbols;
  }
  for (const auto& s : wanted) {
    if (!std::binary_search(symbols.begin(), symbols.end(), s)) {
      return Error(-1121, "Invalid symbol.");
    }
  }
  Json j;
  j["timezone"] = "UTC";
  j["serverTime"] = micros ? ExchangeNow() : ExchangeNow() / 1000;
  j["rateLimits"] = Json::array({Json{{"rateLimitType", "REQUEST_WEIGHT"},
                                      {"interval", "MINUTE"},
                                      {"intervalNum", 1},
                                      {"limit", opt.weight_limit}}});
  j["exchangeFilters"] = Json::array();
  Json syms = Json::array();
  for (const auto& s : wanted) {
    auto [base, quote] = SplitSymbol(s);
    syms.push_back(Json{{"symbol", s},
                        {"status", "TRADING"},
                        {"baseAsset", base},
                        {"baseAssetPrecision", 8},
                        {"quoteAsset", quote},
                        {"quotePrecision", 8},
                        {"quoteAssetPrecision", 8},
                        {"orderTypes", Json::array({"LIMIT", "LIMIT_MAKER", "MARKET"})},
                        {"isSpotTradingAllowed", true},
                        {"isMarginTradingAllowed", false},
                        {"filters", Json::array()},
                        {"permissions", Json::array({"SPOT"})}});
  }
  j["symbols"] = std::move(syms);
  return {200, j.dump()};
}

Response ReplayExchange::Impl::Klines(const Query& q, bool micros, int64_t* rows) {
  const std::string* symbol = q.Get("symbol");
  if (!symbol || symbol->empty()) {
    return Error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
  }
  if (!IsSymbolChars(*symbol)) {
    return Error(-1100,
                 "Illegal characters found in parameter 'symbol'; legal range is "
                 "'^[A-Z0-9-_.]{1,20}$'.");
  }
  if (!std::binary_search(symbols.begin(), symbols.end(), *symbol)) {
    return Error(-1121, "Invalid symbol.");
  }
  const std::string* interval = q.Get("interval");
  if (!interval || interval->empty()) {
    return Error(-1102,
                 "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.");
  }
  if (!IsBinanceInterval(*interval)) return Error(-1120, "Invalid interval.");
  int64_t limit = kDefaultLimit;
  if (const std::string* s = q.Get("limit")) {
    if (!ParseDigits(*s, &limit)) return Error(-1100, IllegalChars("limit"));
    if (limit < 1 || limit > kMaxLimit) {
      return Error(-1130, "Data sent for parameter 'limit' is not valid.");
    }
  }
  // startTime/endTime: 16 or more digits are microseconds, fewer milliseconds.
  auto time_param = [&](const char* name, std::optional<Micros>* out) -> bool {
    const std::string* s = q.Get(name);
    if (!s) return true;
    int64_t v = 0;
    if (!ParseDigits(*s, &v)) return false;
    *out = s->size() >= 16 ? v : v * 1000;
    return true;
  };
  std::optional<Micros> start_time, end_time;
  if (!time_param("startTime", &start_time)) return Error(-1100, IllegalChars("startTime"));
  if (!time_param("endTime", &end_time)) return Error(-1100, IllegalChars("endTime"));
  if (start_time && end_time && *start_time > *end_time) {
    return Error(-1023, "Start time is greater than end time.");
  }

  std::string body = "[";
  auto it = data.find({*symbol, *interval});
  if (it != data.end()) {
    const std::vector<Row>& v = it->second.rows;
    Micros last = ExchangeNow();  // open_time <= now is served, the open candle included
    if (end_time) last = std::min(last, *end_time);
    auto by_open = [](const Row& r, Micros t) { return r.open_time < t; };
    // [lo, hi): the rows with open_time in [start_time, last].
    auto hi = std::upper_bound(v.begin(), v.end(), last,
                               [](Micros t, const Row& r) { return t < r.open_time; });
    auto lo = v.begin();
    if (start_time) {
      lo = std::lower_bound(v.begin(), v.end(), *start_time, by_open);
      if (hi - lo > limit) hi = lo + limit;
    } else if (hi - lo > limit) {
      lo = hi - limit;
    }
    if (lo < hi) {
      body.reserve(static_cast<size_t>(hi - lo) * 190 + 2);
      for (auto r = lo; r != hi; ++r) {
        if (r != lo) body += ',';
        AppendRow(body, *r, micros);
      }
      *rows = hi - lo;
    }
  }
  body += ']';
  return {200, std::move(body)};
}

// ---------------------------------------------------------------------------------------------
// ReplayExchange

std::string SyntheticSymbol(int k) { return fmt::format("SYN{:03d}USDT", k); }

SyntheticScale SyntheticScaleOf(int k, uint64_t seed) {
  // SplitMix64's finalizer over seed + k.
  uint64_t h = seed + static_cast<uint64_t>(k);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  double pow10 = 1;
  for (int i = 0; i < k % 7; ++i) pow10 *= 10;
  SyntheticScale s;
  s.price = pow10 * static_cast<double>(100 + h % 900) / 100.0;
  s.volume = static_cast<double>(1 + k % 4);
  return s;
}

double ScaleExact(double x, double factor) {
  const double v = x * factor;
  if (v == 0 || !std::isfinite(v)) return v;
  constexpr double kExact = 9007199254740992.0;  // 2^53
  double p = 1e8;
  while (p > 1 && std::fabs(v) * p >= kExact) p /= 10;
  return std::round(v * p) / p;
}

namespace {

// Adds `n` synthetic series (replay.h) to `m`.
Status AddSynthetic(int n, uint64_t seed, SeriesMap& m) {
  if (n < 0) return InvalidArgument("replay-exchange: synthetic symbols must be >= 0, got {}", n);
  if (n == 0) return Status::Ok();
  std::set<std::string> loaded;
  for (const auto& [key, s] : m) {
    if (!s.rows.empty()) loaded.insert(s.symbol);
  }
  for (int k = 0; k < n; ++k) {
    if (loaded.count(SyntheticSymbol(k))) {
      return InvalidArgument("replay-exchange: recorded symbol {} clashes with a synthetic one",
                             SyntheticSymbol(k));
    }
  }
  std::vector<std::string> sources;
  if (loaded.count("BTCUSDT") && loaded.count("ETHUSDT")) {
    sources = {"BTCUSDT", "ETHUSDT"};
  } else {
    sources.assign(loaded.begin(), loaded.end());
  }
  if (sources.empty()) return InvalidArgument("replay-exchange: no klines to derive symbols from");
  SeriesMap add;
  for (int k = 0; k < n; ++k) {
    const std::string& from = sources[static_cast<size_t>(k) % sources.size()];
    const SyntheticScale sc = SyntheticScaleOf(k, seed);
    const std::string name = SyntheticSymbol(k);
    for (const auto& [key, s] : m) {
      if (s.symbol != from) continue;
      Series& t = add[{name, key.second}];
      t.symbol = name;
      t.interval = s.interval;
      t.rows = s.rows;
      for (Row& r : t.rows) {
        r.open = ScaleExact(r.open, sc.price);
        r.high = ScaleExact(r.high, sc.price);
        r.low = ScaleExact(r.low, sc.price);
        r.close = ScaleExact(r.close, sc.price);
        r.volume = ScaleExact(r.volume, sc.volume);
        r.taker_buy_base = ScaleExact(r.taker_buy_base, sc.volume);
        r.quote_volume = ScaleExact(r.quote_volume, sc.price * sc.volume);
        r.taker_buy_quote = ScaleExact(r.taker_buy_quote, sc.price * sc.volume);
      }
    }
  }
  m.merge(add);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<ReplayExchange>> ReplayExchange::Create(
    const std::vector<std::string>& data, const Clock& clock, ReplayOptions options) {
  if (options.speed <= 0 || !std::isfinite(options.speed)) {
    return InvalidArgument("replay speed must be positive, got {}", options.speed);
  }
  if (options.weight_limit < 1) {
    return InvalidArgument("weight limit must be at least 1, got {}", options.weight_limit);
  }
  SeriesMap m;
  std::error_code ec;
  if (data.size() == 1 && fs::is_directory(data[0], ec) &&
      fs::exists(fs::path(data[0]) / "_manifest.json", ec)) {
    ASSIGN_OR_RETURN(m, LoadLake(data[0], clock));
  } else {
    ASSIGN_OR_RETURN(m, LoadFiles(data));
  }
  RETURN_IF_ERROR(AddSynthetic(options.synthetic, options.synthetic_seed, m));
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
  impl->start = impl->opt.start.value_or(end);
  impl->clock0 = clock.Now();
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
  std::vector<const Series*> all;
  for (const auto& [key, s] : impl_->data) {
    if (!s.rows.empty()) all.push_back(&s);
  }
  std::sort(all.begin(), all.end(), [](const Series* a, const Series* b) {
    return std::tie(a->symbol, a->interval.micros) < std::tie(b->symbol, b->interval.micros);
  });
  std::vector<std::string> out;
  for (const Series* s : all) {
    out.push_back(fmt::format("{} {}: {} klines {}..{}", s->symbol, s->interval.name,
                              s->rows.size(), FormatIso(s->rows.front().open_time),
                              FormatIso(s->rows.back().open_time)));
  }
  return out;
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
  const Impl::WsCounters& w = impl_->ws;
  c.ws_connections = w.connections;
  c.ws_rejected = w.rejected;
  c.ws_messages = w.messages;
  c.ws_finals = w.finals;
  c.ws_pings = w.pings;
  c.ws_pongs = w.pongs;
  c.ws_pong_timeouts = w.pong_timeouts;
  c.ws_max_age_closes = w.max_age_closes;
  c.ws_disconnects = w.disconnects;
  c.ws_stalls = w.stalls;
  c.ws_malformed = w.malformed;
  c.ws_duplicates = w.duplicates;
  return c;
}

}  // namespace cryptolake::exchange
