// The replay exchange's fault part (replay_fault.h): rate limits, REST faults, fault specs.
#include "exchange/replay_fault.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace cryptolake::exchange {

namespace {

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
// FaultSpec, WsFaultSpec

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

namespace replay {

namespace {

int64_t CeilSeconds(Micros d) {
  return std::max<int64_t>(1, (d + kMicrosPerSecond - 1) / kMicrosPerSecond);
}

Micros FloorMinute(Micros t) {
  Micros r = t % kMicrosPerMinute;
  return t - (r < 0 ? r + kMicrosPerMinute : r);
}

// The body of an injected 5xx: Binance's JSON for 500 and 503, nginx's HTML for 502.
void Set5xxBody(Response& r) {
  if (r.status == 500) {
    r.body = ErrorBody(-1000, "An unknown error occurred while processing the request.");
  } else if (r.status == 502) {
    r.content_type = "text/html";
    r.body =
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 "
        "Bad Gateway</h1></center></body></html>";
  } else {
    r.body = ErrorBody(-1008,
                       "Server is currently overloaded with other requests. Please try "
                       "again in a few minutes.");
  }
}

Action ActionOf(const std::string& fault) {
  return fault == "slow"       ? Action::kSlow
         : fault == "truncate" ? Action::kTruncate
         : fault == "drop"     ? Action::kDrop
         : fault == "corrupt"  ? Action::kCorrupt
                               : Action::kNormal;
}

}  // namespace

Response RestGate::TooMuch(Micros now, Micros until) {
  Response r{429, ErrorBody(-1003, fmt::format("Too much request weight used; current limit "
                                               "is {} request weight per 1 MINUTE. Please use "
                                               "WebSocket Streams for live updates to avoid "
                                               "polling the API.",
                                               opt_.weight_limit))};
  r.retry_after = CeilSeconds(until - now);
  ++status_429_;
  return r;
}

Response RestGate::Banned(Micros now) {
  Response r{418, ErrorBody(-1003, fmt::format("Way too much request weight used; IP banned until "
                                               "{}. Please use WebSocket Streams for live "
                                               "updates to avoid bans.",
                                               ban_until_ / 1000))};
  r.retry_after = CeilSeconds(ban_until_ - now);
  ++status_418_;
  return r;
}

std::string RestGate::DrawFault() {
  const FaultSpec& f = opt_.faults;
  double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  double acc = 0;
  auto hit = [&](double p) { return p > 0 && u < (acc += p); };
  std::string fault = hit(f.p429)       ? "429"
                      : hit(f.p418)     ? "418"
                      : hit(f.p5xx)     ? "5xx"
                      : hit(f.slow)     ? "slow"
                      : hit(f.truncate) ? "truncate"
                      : hit(f.drop)     ? "drop"
                      : hit(f.corrupt)  ? "corrupt"
                                        : "";
  if (!fault.empty()) ++faults_[fault];
  return fault;
}

Admission RestGate::Admit(Micros now, int64_t weight, bool klines) {
  Admission a;
  std::lock_guard<std::mutex> l(mu_);
  Micros w = FloorMinute(now);
  if (w != window_) {
    window_ = w;
    used_ = 0;
  }
  if (now < ban_until_) {
    a.refusal = Banned(now);
  } else if (now < retry_until_) {
    if (++ignored_ > opt_.ban_threshold) {
      ban_until_ = now + opt_.ban_seconds * kMicrosPerSecond;
      retry_until_ = INT64_MIN;
      ++earned_bans_;
      a.refusal = Banned(now);
    } else {
      a.refusal = TooMuch(now, retry_until_);
    }
  } else if (used_ + weight > opt_.weight_limit) {
    retry_until_ = window_ + kMicrosPerMinute;
    ignored_ = 0;
    a.refusal = TooMuch(now, retry_until_);
  } else {
    if (klines && opt_.faults.any()) a.fault = DrawFault();
    if (a.fault == "429") {
      retry_until_ = now + opt_.faults.retry_after_seconds * kMicrosPerSecond;
      ignored_ = 0;
      a.refusal = TooMuch(now, retry_until_);
    } else if (a.fault == "418") {
      ban_until_ = now + opt_.faults.ban_seconds * kMicrosPerSecond;
      a.refusal = Banned(now);
    } else {
      used_ += weight;
    }
  }
  a.used_weight = used_;
  if (a.fault == "5xx") {
    static constexpr int kCodes[] = {500, 502, 503};
    Response r;
    r.status = kCodes[std::uniform_int_distribution<int>(0, 2)(rng_)];
    Set5xxBody(r);
    a.refusal = std::move(r);
  }
  a.action = ActionOf(a.fault);
  return a;
}

void RestGate::AddCounters(ReplayCounters* c) const {
  std::lock_guard<std::mutex> l(mu_);
  c->status_429 += status_429_;
  c->status_418 += status_418_;
  c->earned_bans += earned_bans_;
  for (const auto& [name, n] : faults_) c->faults[name] += n;
}

}  // namespace replay

}  // namespace cryptolake::exchange
