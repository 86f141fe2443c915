#include "exchange/governor.h"

#include <algorithm>

namespace cryptolake::exchange {

namespace {

constexpr Micros kWindow = kMicrosPerMinute;
// A 418 that names neither Retry-After nor an end: the shortest ban Binance hands out.
constexpr Micros kDefaultBan = 2 * kMicrosPerMinute;
// The event log keeps the newest events only: a day of backfill sends millions of requests.
constexpr size_t kMaxEvents = size_t{1} << 20;

Micros MinuteFloor(Micros t) {
  Micros r = t % kMicrosPerMinute;
  return t - (r < 0 ? r + kMicrosPerMinute : r);
}

}  // namespace

RateGovernor::RateGovernor(const Clock& clock, GovernorOptions options)
    : clock_(clock), opt_(options) {}

Micros RateGovernor::EarliestSendLocked(Micros now, int64_t weight) const {
  const int64_t budget = opt_.budget();
  Micros t = std::max(now, blocked_until_);

  // Sliding window: entries sent at s count while now < s + 60 s. Free the oldest ones until the
  // request fits; a request heavier than the whole budget waits for an empty window.
  int64_t in_window = 0;
  for (const auto& [at, w] : sent_) {
    if (at > now - kWindow) in_window += w;
  }
  if (in_window + weight > budget) {
    int64_t left = in_window;
    for (const auto& [at, w] : sent_) {
      if (at <= now - kWindow) continue;
      left -= w;
      if (left + weight <= budget || left == 0) {
        t = std::max(t, at + kWindow);
        break;
      }
    }
  }

  // The exchange's count for this clock minute; stale once the minute is over.
  if (server_minute_ == MinuteFloor(now) && server_used_ + sent_since_server_ + weight > budget) {
    t = std::max(t, server_minute_ + kMicrosPerMinute);
  }
  return t;
}

Micros RateGovernor::Acquire(int64_t weight) {
  for (;;) {
    Micros wake;
    {
      std::lock_guard<std::mutex> l(mu_);
      Micros now = clock_.Now();
      while (!sent_.empty() && sent_.front().first <= now - kWindow) sent_.pop_front();
      wake = EarliestSendLocked(now, weight);
      if (wake <= now) {
        sent_.emplace_back(now, weight);
        if (server_minute_ == MinuteFloor(now)) {
          sent_since_server_ += weight;
        } else {
          server_minute_ = -1;
          server_used_ = 0;
          sent_since_server_ = 0;
        }
        LogLocked({GovernorEvent::kSend, now, 0, weight});
        return now;
      }
    }
    // Outside the lock: other threads keep sending, and a 429 arriving meanwhile is seen on the
    // re-check after waking.
    clock_.SleepUntil(wake);
  }
}

void RateGovernor::OnResponse(int status, std::optional<int64_t> used_weight_1m,
                              std::optional<int64_t> retry_after_seconds,
                              std::optional<Micros> banned_until) {
  std::lock_guard<std::mutex> l(mu_);
  Micros now = clock_.Now();
  if (used_weight_1m) {
    Micros minute = MinuteFloor(now);
    // The exchange's count only grows within a minute: a smaller one is an older response that
    // arrived late.
    if (minute != server_minute_ || *used_weight_1m >= server_used_) {
      server_minute_ = minute;
      server_used_ = *used_weight_1m;
      sent_since_server_ = 0;
    }
  }
  if (status == 429) {
    ++n429_;
    Micros until = retry_after_seconds ? now + *retry_after_seconds * kMicrosPerSecond
                                       : MinuteFloor(now) + kMicrosPerMinute;
    blocked_until_ = std::max(blocked_until_, until);
    LogLocked({GovernorEvent::kRateLimited, now, blocked_until_, 0});
  } else if (status == 418) {
    ++n418_;
    Micros until = now;
    if (retry_after_seconds) until = std::max(until, now + *retry_after_seconds * kMicrosPerSecond);
    if (banned_until) until = std::max(until, *banned_until);
    if (!retry_after_seconds && !banned_until) until = now + kDefaultBan;
    blocked_until_ = std::max(blocked_until_, until);
    ban_until_ = std::max(ban_until_, until);
    LogLocked({GovernorEvent::kBanned, now, blocked_until_, 0});
  }
}

GovernorUsage RateGovernor::Usage() const {
  std::lock_guard<std::mutex> l(mu_);
  const Micros now = clock_.Now();
  GovernorUsage u;
  u.limit = opt_.weight_limit;
  for (const auto& [t, w] : sent_) {
    if (t > now - kMicrosPerMinute) u.used += w;
  }
  if (server_minute_ == MinuteFloor(now)) {
    u.used = std::max(u.used, server_used_ + sent_since_server_);
  }
  if (ban_until_ > now) u.banned_until = ban_until_;
  return u;
}

std::vector<GovernorEvent> RateGovernor::Events() const {
  std::lock_guard<std::mutex> l(mu_);
  return events_;
}

void RateGovernor::LogLocked(GovernorEvent e) {
  if (events_.size() >= kMaxEvents) {
    events_.erase(events_.begin(), events_.begin() + kMaxEvents / 2);
  }
  events_.push_back(e);
}

int64_t RateGovernor::rate_limited() const {
  std::lock_guard<std::mutex> l(mu_);
  return n429_;
}

int64_t RateGovernor::banned() const {
  std::lock_guard<std::mutex> l(mu_);
  return n418_;
}

}  // namespace cryptolake::exchange
