#include "exchange/governor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "testing/governor_events.h"

namespace cryptolake::exchange {
namespace {

using cryptolake::testing::ExpectNoSendWhileBlocked;

constexpr Micros kSec = kMicrosPerSecond;
constexpr Micros kMin = kMicrosPerMinute;
// 2024-01-01 00:00:00 UTC, a minute boundary.
const Micros kMinute0 = MicrosFromCivil(2024, 1, 1);

int CountKind(const std::vector<GovernorEvent>& ev, GovernorEvent::Kind k) {
  int n = 0;
  for (const auto& e : ev) n += e.kind == k;
  return n;
}

TEST(GovernorTest, DefaultBudgetIsEightyPercentOfTheLimit) {
  GovernorOptions o;
  EXPECT_EQ(o.weight_limit, 6000);
  EXPECT_EQ(o.budget(), 4800);
  o.budget_fraction = 0.5;
  EXPECT_EQ(o.budget(), 3000);
}

TEST(GovernorTest, SlidingWindowGrantsTheBudgetAtOnceThenWaitsSixtySeconds) {
  const Micros t0 = kMinute0 + 10 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  for (int i = 0; i < 2400; ++i) ASSERT_EQ(gov.Acquire(2), t0) << "request " << i;
  EXPECT_EQ(clock.Now(), t0);
  // 4800 of 4800 used: the next one goes out exactly when the first send leaves the window.
  EXPECT_EQ(gov.Acquire(2), t0 + kMin);
  EXPECT_EQ(clock.Now(), t0 + kMin);
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 2401u);
  EXPECT_EQ(CountKind(ev, GovernorEvent::kSend), 2401);
  EXPECT_EQ(ev.back().at, t0 + kMin);
  EXPECT_EQ(ev.back().weight, 2);
}

TEST(GovernorTest, SlidingWindowFreesTheOldestSendsFirst) {
  const Micros t0 = kMinute0 + 10 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  for (int i = 0; i < 1200; ++i) ASSERT_EQ(gov.Acquire(2), t0);
  clock.Advance(20 * kSec);
  for (int i = 0; i < 1200; ++i) ASSERT_EQ(gov.Acquire(2), t0 + 20 * kSec);
  // Full: the batch sent at t0 expires at t0 + 60 s and frees 2400 at once.
  for (int i = 0; i < 1200; ++i) ASSERT_EQ(gov.Acquire(2), t0 + kMin) << "request " << i;
  // Full again: the batch sent at t0 + 20 s is the oldest now.
  EXPECT_EQ(gov.Acquire(2), t0 + 20 * kSec + kMin);
}

TEST(GovernorTest, HeavyRequestWaitsForEnoughFreedWeight) {
  const Micros t0 = kMinute0;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  ASSERT_EQ(gov.Acquire(4780), t0);
  clock.Advance(30 * kSec);
  ASSERT_EQ(gov.Acquire(10), t0 + 30 * kSec);
  // 4790 in the window; 20 more fit only once the 4780 has left it.
  EXPECT_EQ(gov.Acquire(20), t0 + kMin);
  // A request heavier than the budget waits for an empty window instead of forever.
  EXPECT_EQ(gov.Acquire(5000), t0 + 2 * kMin);
}

TEST(GovernorTest, RateLimitWithRetryAfterBlocksUntilExactlyThen) {
  const Micros t0 = kMinute0 + 12 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  ASSERT_EQ(gov.Acquire(2), t0);
  gov.OnResponse(429, 100, 7);
  EXPECT_EQ(gov.rate_limited(), 1);
  EXPECT_EQ(gov.Acquire(2), t0 + 7 * kSec);
  EXPECT_EQ(gov.Acquire(2), t0 + 7 * kSec);  // the block is over
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].kind, GovernorEvent::kRateLimited);
  EXPECT_EQ(ev[1].at, t0);
  EXPECT_EQ(ev[1].until, t0 + 7 * kSec);
  ExpectNoSendWhileBlocked(ev);
}

TEST(GovernorTest, RateLimitBlocksEveryThread) {
  const Micros t0 = kMinute0 + 12 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(429, std::nullopt, 7);
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::vector<Micros>> granted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) granted[t].push_back(gov.Acquire(2));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (Micros g : granted[t]) EXPECT_EQ(g, t0 + 7 * kSec) << "thread " << t;
  }
  EXPECT_EQ(clock.Now(), t0 + 7 * kSec);
  auto ev = gov.Events();
  EXPECT_EQ(CountKind(ev, GovernorEvent::kSend), kThreads * kEach);
  ExpectNoSendWhileBlocked(ev);
}

TEST(GovernorTest, RateLimitWithoutRetryAfterWaitsForTheNextMinute) {
  const Micros t0 = kMinute0 + 25 * kSec + 123;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(429, std::nullopt, std::nullopt);
  EXPECT_EQ(gov.Acquire(1), kMinute0 + kMin);
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].until, kMinute0 + kMin);
}

TEST(GovernorTest, BanWaitsForTheLaterOfRetryAfterAndBannedUntil) {
  const Micros t0 = kMinute0 + 5 * kSec;
  {
    FakeClock clock(t0);
    RateGovernor gov(clock, {});
    gov.OnResponse(418, std::nullopt, 120, t0 + 300 * kSec);
    EXPECT_EQ(gov.banned(), 1);
    EXPECT_EQ(gov.Acquire(2), t0 + 300 * kSec);
    auto ev = gov.Events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, GovernorEvent::kBanned);
    EXPECT_EQ(ev[0].until, t0 + 300 * kSec);
    ExpectNoSendWhileBlocked(ev);
  }
  {
    FakeClock clock(t0);
    RateGovernor gov(clock, {});
    gov.OnResponse(418, std::nullopt, 120, t0 + 30 * kSec);
    EXPECT_EQ(gov.Acquire(2), t0 + 120 * kSec);
  }
  {
    // A ban that names no end lasts the shortest Binance ban, two minutes.
    FakeClock clock(t0);
    RateGovernor gov(clock, {});
    gov.OnResponse(418, std::nullopt, std::nullopt);
    EXPECT_EQ(gov.Acquire(2), t0 + 120 * kSec);
  }
}

TEST(GovernorTest, ShorterLaterRateLimitDoesNotShortenABan) {
  const Micros t0 = kMinute0;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(418, std::nullopt, 180);
  gov.OnResponse(429, std::nullopt, 2);
  EXPECT_EQ(gov.Acquire(2), t0 + 180 * kSec);
  EXPECT_EQ(gov.rate_limited(), 1);
  EXPECT_EQ(gov.banned(), 1);
  ExpectNoSendWhileBlocked(gov.Events());
}

TEST(GovernorTest, ServerReportedWeightNearTheBudgetWaitsForTheNextMinute) {
  const Micros t0 = kMinute0 + 10 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  // Other clients on this IP used 4797 this minute: 3 more fit, then the minute must end.
  gov.OnResponse(200, 4797, std::nullopt);
  EXPECT_EQ(gov.Acquire(2), t0);
  EXPECT_EQ(gov.Acquire(1), t0);
  EXPECT_EQ(gov.Acquire(1), kMinute0 + kMin);
  // A new minute: the exchange's old count no longer applies.
  EXPECT_EQ(gov.Acquire(2), kMinute0 + kMin);
}

TEST(GovernorTest, ServerCountReplacesTheLocalCountSinceItsResponse) {
  const Micros t0 = kMinute0 + 10 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(200, 4790, std::nullopt);
  ASSERT_EQ(gov.Acquire(8), t0);  // 4790 + 8
  // A newer response counts the 8 already: 4798 + 2 fits, one more does not.
  gov.OnResponse(200, 4798, std::nullopt);
  EXPECT_EQ(gov.Acquire(2), t0);
  // A late response with a smaller count is older news and changes nothing.
  gov.OnResponse(200, 10, std::nullopt);
  EXPECT_EQ(gov.Acquire(1), kMinute0 + kMin);
}

// A clock whose SleepUntil blocks until the test moves time past the wake-up time, as abseil's
// SimulatedClock does: it lets a test act while another thread is inside Acquire's wait.
class SteppedClock final : public Clock {
 public:
  explicit SteppedClock(Micros start) : now_(start) {}
  Micros Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  void SleepUntil(Micros t) const override {
    std::unique_lock<std::mutex> l(mu_);
    waiting_for_.push_back(t);
    cv_.notify_all();
    cv_.wait(l, [&] { return now_ >= t; });
    waiting_for_.erase(std::find(waiting_for_.begin(), waiting_for_.end(), t));
  }
  void Set(Micros t) {
    std::lock_guard<std::mutex> l(mu_);
    now_ = t;
    cv_.notify_all();
  }
  // Blocks until some thread sleeps until exactly `t`.
  void AwaitSleeper(Micros t) const {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] {
      return std::find(waiting_for_.begin(), waiting_for_.end(), t) != waiting_for_.end();
    });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Micros now_;
  mutable std::vector<Micros> waiting_for_;
};

TEST(GovernorTest, RateLimitReportedWhileAnotherThreadWaitsIsHonoured) {
  const Micros t0 = kMinute0 + 10 * kSec;
  SteppedClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(429, std::nullopt, 7);
  Micros granted = 0;
  std::thread waiter([&] { granted = gov.Acquire(2); });
  clock.AwaitSleeper(t0 + 7 * kSec);
  clock.Set(t0 + 5 * kSec);
  // Another thread's request gets a 429 while the waiter sleeps: the block now ends at t0 + 12 s.
  gov.OnResponse(429, std::nullopt, 7);
  clock.Set(t0 + 7 * kSec);
  clock.AwaitSleeper(t0 + 12 * kSec);  // woke up, re-checked, sleeps again
  clock.Set(t0 + 12 * kSec);
  waiter.join();
  EXPECT_EQ(granted, t0 + 12 * kSec);
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].at, t0 + 5 * kSec);
  EXPECT_EQ(ev[1].until, t0 + 12 * kSec);
  ExpectNoSendWhileBlocked(ev);
}

TEST(GovernorTest, AcquireDoesNotHoldTheLockWhileWaiting) {
  const Micros t0 = kMinute0;
  SteppedClock clock(t0);
  RateGovernor gov(clock, {});
  gov.OnResponse(429, std::nullopt, 30);
  std::thread waiter([&] { gov.Acquire(2); });
  clock.AwaitSleeper(t0 + 30 * kSec);
  // These take the governor's lock; they would deadlock if the waiter held it while sleeping.
  gov.OnResponse(200, 5, std::nullopt);
  EXPECT_EQ(gov.rate_limited(), 1);
  EXPECT_EQ(gov.Events().size(), 1u);
  clock.Set(t0 + 30 * kSec);
  waiter.join();
  EXPECT_EQ(gov.Events().size(), 2u);
}

TEST(GovernorTest, MixedTrafficFromManyThreadsNeverSendsWhileBlocked) {
  const Micros t0 = kMinute0 + 3 * kSec;
  FakeClock clock(t0);
  GovernorOptions o;
  o.weight_limit = 100;  // budget 80: threads keep hitting the window
  RateGovernor gov(clock, o);
  constexpr int kThreads = 4, kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        gov.Acquire(2);
        if ((i + t) % 37 == 0) gov.OnResponse(429, std::nullopt, 3);
        if (t == 0 && i == 100) gov.OnResponse(418, std::nullopt, 60);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto ev = gov.Events();
  EXPECT_EQ(CountKind(ev, GovernorEvent::kSend), kThreads * kEach);
  EXPECT_EQ(CountKind(ev, GovernorEvent::kBanned), 1);
  EXPECT_EQ(gov.rate_limited(), CountKind(ev, GovernorEvent::kRateLimited));
  ExpectNoSendWhileBlocked(ev);
  // And the sliding window held: at most 80 weight in any 60 s.
  std::vector<Micros> sends;
  for (const auto& e : ev) {
    if (e.kind == GovernorEvent::kSend) sends.push_back(e.at);
  }
  for (size_t i = 0; i < sends.size(); ++i) {
    int64_t w = 0;
    for (size_t j = i; j < sends.size() && sends[j] < sends[i] + kMin; ++j) w += 2;
    ASSERT_LE(w, 80) << "window starting at send " << i;
  }
}

}  // namespace
}  // namespace cryptolake::exchange

namespace cryptolake::exchange {
namespace {

// What the weight and ban alert rules read (GovernorUsage): the weight of the last minute, the
// exchange's own count when larger, and a 418 ban while it lasts.
TEST(GovernorTest, UsageReportsWeightAndABanWhileItLasts) {
  const Micros t0 = kMinute0 + 10 * kSec;
  FakeClock clock(t0);
  RateGovernor gov(clock, {});
  EXPECT_EQ(gov.Usage().used, 0);
  EXPECT_EQ(gov.Usage().limit, 6000);
  gov.Acquire(10);
  gov.Acquire(20);
  EXPECT_EQ(gov.Usage().used, 30);
  gov.OnResponse(200, 1200, std::nullopt);  // other clients on this IP spent more
  EXPECT_EQ(gov.Usage().used, 1200);
  EXPECT_EQ(gov.Usage().banned_until, 0);
  gov.OnResponse(429, std::nullopt, 5);  // a 429 is not a ban
  EXPECT_EQ(gov.Usage().banned_until, 0);
  gov.OnResponse(418, std::nullopt, 120);
  EXPECT_EQ(gov.Usage().banned_until, t0 + 120 * kSec);
  clock.Set(t0 + 120 * kSec);
  EXPECT_EQ(gov.Usage().banned_until, 0);  // over
  EXPECT_EQ(gov.Usage().used, 0);          // a new minute, nothing sent in the last 60 s
}

}  // namespace
}  // namespace cryptolake::exchange
