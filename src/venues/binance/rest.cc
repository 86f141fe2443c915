#include "venues/binance/rest.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "exchange/http.h"
#include "venues/binance/klines_json.h"

namespace cryptolake::venues::binance {

using exchange::HttpClient;
using exchange::HttpOptions;
using exchange::HttpResponse;

namespace {

namespace od = simdjson::ondemand;

constexpr int64_t kWeightTime = 1;
constexpr int64_t kWeightExchangeInfo = 20;
constexpr int64_t kWeightKlines = 2;

std::optional<int64_t> ParseInt(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "banned until 1659761931230" in a 418 body (epoch ms) -> micros.
std::optional<Micros> BannedUntil(std::string_view body) {
  constexpr std::string_view kKey = "banned until ";
  size_t p = body.find(kKey);
  if (p == std::string_view::npos) return std::nullopt;
  p += kKey.size();
  size_t e = p;
  while (e < body.size() && body[e] >= '0' && body[e] <= '9') ++e;
  auto ms = ParseInt(body.substr(p, e - p));
  if (!ms) return std::nullopt;
  return *ms * 1000;
}

// "-1121 Invalid symbol." from {"code":-1121,"msg":"Invalid symbol."}; otherwise the start of the
// body, or "" for an empty one.
std::string ErrorText(const std::string& body) {
  simdjson::padded_string json(body);
  od::parser parser;
  od::document doc;
  int64_t code = 0;
  std::string_view msg;
  if (!parser.iterate(json).get(doc) && !doc["code"].get_int64().get(code) &&
      !doc["msg"].get_string().get(msg)) {
    return fmt::format("{} {}", code, msg);
  }
  std::string s(TrimRight(body.substr(0, 200)));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// A response header as an integer, if present and well-formed.
std::optional<int64_t> IntHeader(const HttpResponse& r, const std::string& name) {
  std::string v = r.Header(name);
  if (v.empty()) return std::nullopt;
  return ParseInt(v);
}

// A timestamp the server sent: with X-MBX-TIME-UNIT: MICROSECOND it is in micros (16 digits
// today), else in ms (13).
Micros TimestampMicros(int64_t v) { return v >= 100'000'000'000'000 ? v : v * 1000; }

}  // namespace

struct BinanceRest::Impl {
  Impl(const RestOptions& opt, RateGovernor& governor, const Clock& clock)
      : governor(governor), clock(clock), rng(opt.seed != 0 ? opt.seed : std::random_device()()) {
    http.connect_timeout = opt.connect_timeout;
    http.timeout = opt.timeout;
    // Every timestamp in microseconds: kline times and serverTime alike.
    http.headers.push_back("X-MBX-TIME-UNIT: MICROSECOND");
  }

  // The calling thread's client; created on first use. Threads never share one.
  HttpClient& Client() {
    std::lock_guard<std::mutex> l(clients_mu);
    auto& c = clients[std::this_thread::get_id()];
    if (!c) c = std::make_unique<HttpClient>(http);
    return *c;
  }

  Micros Backoff(const RestOptions& opt, int failures) {
    double cap = static_cast<double>(opt.backoff_base) * std::ldexp(1.0, std::min(failures, 40));
    cap = std::min(cap, static_cast<double>(opt.backoff_max));
    std::lock_guard<std::mutex> l(rng_mu);
    return static_cast<Micros>(std::uniform_real_distribution<double>(0, cap)(rng));
  }

  RateGovernor& governor;
  const Clock& clock;
  HttpOptions http;
  std::mutex clients_mu;
  std::map<std::thread::id, std::unique_ptr<HttpClient>> clients;
  std::mutex rng_mu;
  std::mt19937_64 rng;
};

BinanceRest::BinanceRest(RestOptions options, RateGovernor& governor, const Clock& clock)
    : opt_(std::move(options)) {
  while (!opt_.base_url.empty() && opt_.base_url.back() == '/') opt_.base_url.pop_back();
  impl_ = std::make_unique<Impl>(opt_, governor, clock);
}

BinanceRest::~BinanceRest() = default;

namespace {

// Checks and consumes the body of a 200 response; an error means the response is malformed.
using BodyParser = std::function<Status(const std::string& body)>;

// Sends GET <target> with the retry policy of the contract.
Status Call(const RestOptions& opt, RestStats& stats, RateGovernor& governor, const Clock& clock,
            HttpClient& client, const std::function<Micros(int)>& backoff,
            const std::string& target, int64_t weight, const BodyParser& parse) {
  const std::string url = opt.base_url + target;
  int failures = 0, limit_waits = 0;
  for (bool first = true;; first = false) {
    if (!first) ++stats.retries;
    governor.Acquire(weight);
    ++stats.requests;
    auto r = client.Get(url);
    std::string reason;
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kUnavailable) return r.status();
      ++stats.transport_errors;
      reason = r.status().message();
      // HttpClient says "GET <url>: <why>"; the caller's message names the target already.
      if (std::string prefix = "GET " + url + ": "; reason.starts_with(prefix)) {
        reason.erase(0, prefix.size());
      }
    } else {
      const HttpResponse& resp = *r;
      std::optional<Micros> banned_until;
      if (resp.status == 418) banned_until = BannedUntil(resp.body);
      governor.OnResponse(resp.status, IntHeader(resp, "x-mbx-used-weight-1m"),
                          IntHeader(resp, "retry-after"), banned_until);
      if (resp.status == 429 || resp.status == 418) {
        ++(resp.status == 429 ? stats.rate_limited : stats.banned);
        std::string what = fmt::format("HTTP {} ({})", resp.status, ErrorText(resp.body));
        if (++limit_waits > opt.max_limit_waits) {
          return Unavailable("GET {}: gave up after {} rate-limit responses: {}", target,
                             limit_waits, what);
        }
        spdlog::warn("GET {}: {}, waiting as the rate governor says", target, what);
        continue;  // the governor holds the next Acquire until the limit or ban is over
      }
      if (resp.status >= 500) {
        ++stats.server_errors;
        reason = fmt::format("HTTP {}", resp.status);
      } else if (resp.status != 200) {
        std::string text = ErrorText(resp.body);
        if (text.empty()) return InvalidArgument("GET {}: HTTP {}", target, resp.status);
        return InvalidArgument("GET {}: HTTP {} ({})", target, resp.status, text);
      } else {
        Status st = parse(resp.body);
        if (st.ok()) return st;
        ++stats.malformed;
        reason = "malformed response: " + st.message();
      }
    }
    if (++failures >= opt.max_attempts) {
      return Unavailable("GET {}: gave up after {} attempts: {}", target, failures, reason);
    }
    Micros delay = backoff(failures - 1);
    spdlog::warn("GET {}: {}, retry {}/{} in {:.2f} s", target, reason, failures + 1,
                 opt.max_attempts, static_cast<double>(delay) / kMicrosPerSecond);
    clock.SleepFor(delay);
  }
}

}  // namespace

StatusOr<Micros> BinanceRest::ServerTime() {
  Micros out = 0;
  auto parse = [&](const std::string& body) -> Status {
    simdjson::padded_string json(body);
    od::parser parser;
    od::document doc;
    int64_t t = 0;
    if (parser.iterate(json).get(doc) || doc["serverTime"].get_int64().get(t)) {
      return InvalidArgument("no integer serverTime in '{}'", TrimRight(body.substr(0, 100)));
    }
    out = TimestampMicros(t);
    return Status::Ok();
  };
  RETURN_IF_ERROR(Call(
      opt_, stats_, impl_->governor, impl_->clock, impl_->Client(),
      [this](int f) { return impl_->Backoff(opt_, f); }, "/api/v3/time", kWeightTime, parse));
  return out;
}

StatusOr<std::vector<SymbolInfo>> BinanceRest::ExchangeInfo() {
  std::vector<SymbolInfo> out;
  auto parse = [&](const std::string& body) -> Status {
    out.clear();
    simdjson::padded_string json(body);
    od::parser parser;
    od::document doc;
    od::array symbols;
    if (parser.iterate(json).get(doc) || doc["symbols"].get_array().get(symbols)) {
      return InvalidArgument("no symbols array");
    }
    for (auto item : symbols) {
      od::object o;
      std::string_view symbol, status;
      if (item.get_object().get(o) || o.find_field_unordered("symbol").get_string().get(symbol) ||
          o.find_field_unordered("status").get_string().get(status)) {
        return InvalidArgument("symbol {} lacks a symbol or status string", out.size() + 1);
      }
      out.push_back({std::string(symbol), std::string(status)});
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(Call(
      opt_, stats_, impl_->governor, impl_->clock, impl_->Client(),
      [this](int f) { return impl_->Backoff(opt_, f); }, "/api/v3/exchangeInfo",
      kWeightExchangeInfo, parse));
  return out;
}

StatusOr<model::KlineBatch> BinanceRest::Klines(const std::string& symbol, const Interval& interval,
                                                Micros start, Micros end, int limit) {
  if (limit < 1 || limit > 1000) return InvalidArgument("klines limit {} not in 1..1000", limit);
  if (end < start) {
    return InvalidArgument("klines range ends ({}) before it starts ({})", FormatIso(end),
                           FormatIso(start));
  }
  const std::string target =
      fmt::format("/api/v3/klines?symbol={}&interval={}&startTime={}&endTime={}&limit={}", symbol,
                  interval.name, start / 1000, end / 1000, limit);
  model::KlineBatch out;
  const KlinesRequest request{symbol, interval, start, end, limit};
  auto parse = [&](const std::string& body) -> Status {
    ASSIGN_OR_RETURN(out, DecodeKlines(body, request));
    return Status::Ok();
  };
  RETURN_IF_ERROR(Call(
      opt_, stats_, impl_->governor, impl_->clock, impl_->Client(),
      [this](int f) { return impl_->Backoff(opt_, f); }, target, kWeightKlines, parse));
  return out;
}

}  // namespace cryptolake::venues::binance
