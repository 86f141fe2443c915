// The replay exchange's REST part (replay_rest.h): the endpoints and the HTTP text they go out in.
#include "exchange/replay_rest.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

namespace cryptolake::exchange::replay {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kDefaultLimit = 500;
constexpr int kMaxLimit = 1000;
constexpr int64_t kWeightPing = 1, kWeightTime = 1, kWeightExchangeInfo = 20, kWeightKlines = 2,
                  kWeightOther = 1;

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

Response ExchangeInfo(const RestContext& ctx, const Query& q, bool micros) {
  const std::vector<std::string>& symbols = ctx.symbols;
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
  j["serverTime"] = micros ? ctx.exchange_now : ctx.exchange_now / 1000;
  j["rateLimits"] = Json::array({Json{{"rateLimitType", "REQUEST_WEIGHT"},
                                      {"interval", "MINUTE"},
                                      {"intervalNum", 1},
                                      {"limit", ctx.weight_limit}}});
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

Response Klines(const RestContext& ctx, const Query& q, bool micros, int64_t* rows) {
  const std::vector<std::string>& symbols = ctx.symbols;
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
  auto it = ctx.data.find({*symbol, *interval});
  if (it != ctx.data.end()) {
    const std::vector<Row>& v = it->second.rows;
    Micros last = ctx.exchange_now;  // open_time <= now is served, the open candle included
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

}  // namespace

std::string ErrorBody(int code, std::string_view msg) {
  Json j;
  j["code"] = code;
  j["msg"] = std::string(msg);
  return j.dump();
}

Response Error(int code, std::string_view msg) { return {400, ErrorBody(code, msg)}; }

std::string SerializeHead(const Response& r, size_t content_length, int64_t used_weight,
                          bool keep_alive) {
  std::string h = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nX-MBX-USED-WEIGHT-1M: {}\r\n",
      r.status, Reason(r.status), r.content_type, content_length, used_weight);
  if (r.retry_after >= 0) h += fmt::format("Retry-After: {}\r\n", r.retry_after);
  h += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return h;
}

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int64_t WeightOf(std::string_view path) {
  return path == "/api/v3/ping"           ? kWeightPing
         : path == "/api/v3/time"         ? kWeightTime
         : path == "/api/v3/exchangeInfo" ? kWeightExchangeInfo
         : path == "/api/v3/klines"       ? kWeightKlines
                                          : kWeightOther;
}

Response Route(const RestContext& ctx, std::string_view path, const Query& q, bool micros,
               int64_t* rows) {
  auto ts = [micros](Micros t) { return micros ? t : t / 1000; };
  if (q.duplicate) return Error(-1101, "Duplicate values for a parameter detected.");
  if (path == "/api/v3/ping") return {200, "{}"};
  if (path == "/api/v3/time") {
    return {200, fmt::format("{{\"serverTime\":{}}}", ts(ctx.exchange_now))};
  }
  if (path == "/api/v3/exchangeInfo") return ExchangeInfo(ctx, q, micros);
  if (path == "/api/v3/klines") return Klines(ctx, q, micros, rows);
  return {404, "<html><body><h2>404 Not found</h2></body></html>", "text/html"};
}

}  // namespace cryptolake::exchange::replay
