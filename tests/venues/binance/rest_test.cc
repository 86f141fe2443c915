// BinanceRest against the replay exchange over real HTTP on 127.0.0.1, serving the real BTCUSDT
// 1m klines of 2021-04-02..2021-05-14 (with the 2021-04-20 02:00-04:30 exchange outage).
// One FakeClock drives the exchange's rate limits, the governor and the backoff: no test sleeps.
#include "venues/binance/rest.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "exchange/replay.h"
#include "ingest/parser.h"
#include "testing/governor_events.h"
#include "testing/kline_batches.h"
#include "testing/raw_server.h"
#include "testing/testing.h"

namespace cryptolake::exchange {
namespace {

using venues::binance::BinanceRest;
using venues::binance::RestOptions;

using cryptolake::testing::ExpectNoSendWhileBlocked;
using cryptolake::testing::ExpectSameBatch;

// The message starts with `prefix` (the rest names a random 5xx or a curl detail).
void ExpectMessageStartsWith(const Status& st, const std::string& prefix) {
  EXPECT_TRUE(st.message().starts_with(prefix)) << st.message() << "\ndoes not start with\n"
                                                << prefix;
}

constexpr Micros kMin = kMicrosPerMinute;
const Micros kClockStart = MicrosFromCivil(2024, 1, 1, 0, 0, 10);
const Micros kFirstOpen = MicrosFromCivil(2021, 4, 2);           // the file's first row
const Micros kOutageStart = MicrosFromCivil(2021, 4, 20, 2, 0);  // no klines in [02:00, 04:30)
const Micros kOutageEnd = MicrosFromCivil(2021, 4, 20, 4, 30);

std::string DataGlob() {
  return (cryptolake::testing::SharedData() / "binance-spot" / "klines" / "1m" /
          "BTCUSDT-1m-20210402_20210514*.csv.gz")
      .string();
}

// The file's klines by open_time, read with the same parser `import` uses.
const std::map<Micros, size_t>& FileIndex(const ingest::KlineBatch** batch) {
  static ingest::KlineBatch b;
  static std::map<Micros, size_t> index;
  static std::once_flag once;
  std::call_once(once, [] {
    auto files = ingest::ExpandInputs({DataGlob()});
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    ASSERT_EQ(files->size(), 1u);
    auto parsed = ingest::ParseInput(files->front(), {});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    ASSERT_EQ(parsed->size(), 1u);
    ASSERT_TRUE(parsed->front().bad.empty());
    b = std::move(parsed->front().batch);
    for (size_t i = 0; i < b.size(); ++i) index[b.open_time[i]] = i;
  });
  *batch = &b;
  return index;
}

// Every row of `got` is the file's row with the same open_time, value for value; the fields an
// OHLCV file lacks are served as 0 and close_time as open_time + 1m - 1 us.
void ExpectRowsFromFile(const ingest::KlineBatch& got) {
  const ingest::KlineBatch* file = nullptr;
  const auto& index = FileIndex(&file);
  ASSERT_TRUE(got.full);
  EXPECT_EQ(got.symbol, "BTCUSDT");
  EXPECT_EQ(got.interval.name, "1m");
  for (size_t i = 0; i < got.size(); ++i) {
    auto it = index.find(got.open_time[i]);
    ASSERT_NE(it, index.end()) << "row " << i << " " << FormatIso(got.open_time[i]);
    size_t j = it->second;
    EXPECT_EQ(got.open[i], file->open[j]) << "row " << i;
    EXPECT_EQ(got.high[i], file->high[j]) << "row " << i;
    EXPECT_EQ(got.low[i], file->low[j]) << "row " << i;
    EXPECT_EQ(got.close[i], file->close[j]) << "row " << i;
    EXPECT_EQ(got.volume[i], file->volume[j]) << "row " << i;
    EXPECT_EQ(got.close_time[i], got.open_time[i] + kMin - 1) << "row " << i;
    EXPECT_EQ(got.trades[i], 0) << "row " << i;
    EXPECT_EQ(got.quote_volume[i], 0) << "row " << i;
  }
}

const Interval& OneMinute() {
  static const Interval i = Interval::Parse("1m").value();
  return i;
}

class RestTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReplayExchange> StartExchange(FaultSpec faults = {}) {
    ReplayOptions o;
    o.faults = faults;
    auto ex = ReplayExchange::Create({DataGlob()}, clock_, o);
    EXPECT_TRUE(ex.ok()) << ex.status().ToString();
    if (!ex.ok()) return nullptr;
    Status st = (*ex)->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(ex).value();
  }

  RestOptions Options(const ReplayExchange& ex) {
    RestOptions o;
    o.base_url = ex.url();
    o.timeout = 10 * kMicrosPerSecond;
    o.backoff_base = 1000;  // 1 ms of fake time
    o.seed = 42;
    return o;
  }

  // Pages of `limit` klines starting every `step` from the file's first kline.
  StatusOr<std::vector<ingest::KlineBatch>> Pages(BinanceRest& rest, int n, int limit) {
    std::vector<ingest::KlineBatch> out;
    for (int i = 0; i < n; ++i) {
      Micros start = kFirstOpen + i * limit * kMin;
      ASSIGN_OR_RETURN(
          auto b, rest.Klines("BTCUSDT", OneMinute(), start, start + (limit - 1) * kMin, limit));
      out.push_back(std::move(b));
    }
    return out;
  }

  // The fault-free answer to Pages(n, limit).
  std::vector<ingest::KlineBatch> Baseline(int n, int limit) {
    auto ex = StartExchange();
    if (!ex) return {};
    RateGovernor gov(clock_, {});
    BinanceRest rest(Options(*ex), gov, clock_);
    auto pages = Pages(rest, n, limit);
    EXPECT_TRUE(pages.ok()) << pages.status().ToString();
    return pages.ok() ? *pages : std::vector<ingest::KlineBatch>{};
  }

  // Fetches pages through `faults` and checks they equal the fault-free ones, that `name` faults
  // were injected and retried.
  void ExpectFaultsRetried(FaultSpec faults, const std::string& name,
                           Micros timeout = 10 * kMicrosPerSecond) {
    constexpr int kPages = 12, kLimit = 500;
    auto want = Baseline(kPages, kLimit);
    ASSERT_EQ(want.size(), static_cast<size_t>(kPages));
    auto ex = StartExchange(faults);
    ASSERT_TRUE(ex);
    RateGovernor gov(clock_, {});
    RestOptions o = Options(*ex);
    o.timeout = timeout;
    BinanceRest rest(o, gov, clock_);
    auto got = Pages(rest, kPages, kLimit);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (int i = 0; i < kPages; ++i) ExpectSameBatch((*got)[i], want[i]);
    auto c = ex->Counters();
    EXPECT_GT(c.faults[name], 0) << name << " never injected";
    EXPECT_EQ(rest.stats().requests.load(), c.requests);
    EXPECT_EQ(rest.stats().retries.load(), c.requests - kPages);
    EXPECT_GE(rest.stats().retries.load(), c.faults[name]);
    EXPECT_EQ(c.earned_bans, 0);
    ExpectNoSendWhileBlocked(gov.Events());
  }

  FakeClock clock_{kClockStart};
};

TEST_F(RestTest, KlinesReturnTheFilesFirstRow) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + 10 * kMin, 1);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 1u);
  // 1617321600000,58720.45,58840.43,58720.44,58760.34,61.685675
  EXPECT_EQ(b->open_time[0], 1617321600000000);
  EXPECT_EQ(b->close_time[0], 1617321659999999);
  EXPECT_EQ(b->open[0], 58720.45);
  EXPECT_EQ(b->high[0], 58840.43);
  EXPECT_EQ(b->low[0], 58720.44);
  EXPECT_EQ(b->close[0], 58760.34);
  EXPECT_EQ(b->volume[0], 61.685675);
  EXPECT_EQ(rest.stats().requests.load(), 1);
  EXPECT_EQ(rest.stats().retries.load(), 0);
  // The request asked for microseconds and ms range bounds.
  auto log = ex->Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].target,
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000&endTime="
            "1617322200000&limit=1");
  EXPECT_EQ(log[0].status, 200);
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].weight, 2);
}

TEST_F(RestTest, PageAcrossTheOutageSkipsIt) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  const Micros start = MicrosFromCivil(2021, 4, 20, 1, 0);
  auto b = rest.Klines("BTCUSDT", OneMinute(), start, start + 2 * kMicrosPerDay, 1000);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 1000u);
  EXPECT_EQ(b->open_time[0], start);
  EXPECT_EQ(b->open_time[59], kOutageStart - kMin);  // 01:59, the last before the outage
  EXPECT_EQ(b->open_time[60], kOutageEnd);           // 04:30, the first after it
  EXPECT_EQ(b->open_time[999], kOutageEnd + 939 * kMin);
  for (size_t i = 1; i < b->size(); ++i) {
    if (i != 60) {
      ASSERT_EQ(b->open_time[i], b->open_time[i - 1] + kMin) << i;
    }
  }
  ExpectRowsFromFile(*b);
  // 01:00 54764.13 after the outage, as in the file.
  EXPECT_EQ(b->open[60], 54764.13);
  EXPECT_EQ(b->volume[60], 66.740941);
}

TEST_F(RestTest, ServerTimeIsTheExchangeClock) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto t = rest.ServerTime();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Micros first = *t;
  EXPECT_EQ(first, ex->ExchangeNow());
  // Exchange time runs with the (fake) clock.
  clock_.Advance(90 * kMicrosPerSecond);
  t = rest.ServerTime();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, ex->ExchangeNow());
  EXPECT_EQ(*t, first + 90 * kMicrosPerSecond);
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].weight, 1);
}

TEST_F(RestTest, ExchangeInfoListsTheSymbol) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto info = rest.ExchangeInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_EQ(info->size(), 1u);
  EXPECT_EQ((*info)[0].symbol, "BTCUSDT");
  EXPECT_EQ((*info)[0].status, "TRADING");
  auto ev = gov.Events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].weight, 20);
}

TEST_F(RestTest, UnknownSymbolIsInvalidArgumentAndNotRetried) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto b = rest.Klines("NOPEUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 10);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "GET /api/v3/klines?symbol=NOPEUSDT&interval=1m&startTime=1617321600000&endTime="
            "1617321660000&limit=10: HTTP 400 (-1121 Invalid symbol.)");
  EXPECT_EQ(rest.stats().requests.load(), 1);
  EXPECT_EQ(rest.stats().retries.load(), 0);
  EXPECT_EQ(ex->Counters().requests, 1);
}

TEST_F(RestTest, BadArgumentsFailBeforeAnyRequest) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 1001);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "klines limit 1001 not in 1..1000");
  EXPECT_EQ(rest.stats().requests.load(), 0);
}

TEST_F(RestTest, EmptyRangeIsAnEmptyBatch) {
  auto ex = StartExchange();
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kOutageStart, kOutageEnd - kMin, 1000);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->size(), 0u);
  EXPECT_EQ(b->symbol, "BTCUSDT");
}

TEST_F(RestTest, ServerErrorsAreRetried) {
  FaultSpec f;
  f.p5xx = 0.3;
  f.seed = 7;
  ExpectFaultsRetried(f, "5xx");
}

TEST_F(RestTest, TruncatedBodiesAreRetried) {
  FaultSpec f;
  f.truncate = 0.3;
  f.seed = 7;
  ExpectFaultsRetried(f, "truncate");
}

TEST_F(RestTest, DroppedConnectionsAreRetried) {
  FaultSpec f;
  f.drop = 0.3;
  f.seed = 7;
  ExpectFaultsRetried(f, "drop");
}

TEST_F(RestTest, CorruptBodiesAreRetried) {
  FaultSpec f;
  f.corrupt = 0.3;
  f.seed = 7;
  ExpectFaultsRetried(f, "corrupt");
}

TEST_F(RestTest, TimeoutsAreRetried) {
  FaultSpec f;
  f.slow = 0.2;
  f.slow_delay = 2 * kMicrosPerSecond;
  f.seed = 7;
  ExpectFaultsRetried(f, "slow", 500 * 1000);
}

TEST_F(RestTest, RateLimitBurstsAreWaitedOutWithoutEarningABan) {
  FaultSpec f;
  f.p429 = 0.3;
  f.seed = 7;
  f.retry_after_seconds = 2;
  ExpectFaultsRetried(f, "429");
}

TEST_F(RestTest, RateLimitWindowsHoldEverySendAndNoBanFollows) {
  FaultSpec f;
  f.p429 = 0.3;
  f.seed = 11;
  f.retry_after_seconds = 2;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  auto pages = Pages(rest, 10, 200);
  ASSERT_TRUE(pages.ok()) << pages.status().ToString();
  auto c = ex->Counters();
  EXPECT_GT(c.status_429, 0);
  EXPECT_EQ(c.status_418, 0);
  EXPECT_EQ(c.earned_bans, 0);
  EXPECT_EQ(rest.stats().rate_limited.load(), c.status_429);
  EXPECT_EQ(gov.rate_limited(), c.status_429);
  auto ev = gov.Events();
  int blocks = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].kind != GovernorEvent::kRateLimited) continue;
    ++blocks;
    EXPECT_EQ(ev[i].until, ev[i].at + 2 * kMicrosPerSecond);
    // The next send waits out the Retry-After exactly.
    ASSERT_LT(i + 1, ev.size());
    EXPECT_EQ(ev[i + 1].kind, GovernorEvent::kSend);
    EXPECT_EQ(ev[i + 1].at, ev[i].until);
  }
  EXPECT_EQ(blocks, c.status_429);
  ExpectNoSendWhileBlocked(ev);
  // The server saw no request inside a Retry-After window either.
  auto log = ex->Log();
  for (size_t i = 0; i + 1 < log.size(); ++i) {
    if (log[i].status == 429) {
      EXPECT_GE(log[i + 1].at, log[i].at + 2 * kMicrosPerSecond);
    }
  }
}

TEST_F(RestTest, BansAreWaitedOut) {
  FaultSpec f;
  f.p418 = 0.2;
  f.seed = 7;
  f.ban_seconds = 120;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  const Micros t0 = clock_.Now();
  auto pages = Pages(rest, 10, 200);
  ASSERT_TRUE(pages.ok()) << pages.status().ToString();
  auto c = ex->Counters();
  EXPECT_GT(c.faults["418"], 0);
  EXPECT_EQ(rest.stats().banned.load(), c.status_418);
  EXPECT_EQ(c.earned_bans, 0);
  auto ev = gov.Events();
  for (const auto& e : ev) {
    if (e.kind == GovernorEvent::kBanned) {
      EXPECT_GE(e.until, e.at + 120 * kMicrosPerSecond);
    }
  }
  ExpectNoSendWhileBlocked(ev);
  // Each ban cost two minutes of (fake) time.
  EXPECT_GE(clock_.Now() - t0, c.status_418 * 120 * kMicrosPerSecond);
}

TEST_F(RestTest, GivesUpAfterMaxAttemptsWithTheLastReason) {
  FaultSpec f;
  f.drop = 1;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  RestOptions o = Options(*ex);
  o.max_attempts = 3;
  BinanceRest rest(o, gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(b.status().message(),
            "GET /api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000&endTime="
            "1617321660000&limit=2: gave up after 3 attempts: Empty reply from server");
  EXPECT_EQ(rest.stats().requests.load(), 3);
  EXPECT_EQ(rest.stats().retries.load(), 2);
  EXPECT_EQ(rest.stats().transport_errors.load(), 3);
}

TEST_F(RestTest, GivesUpOnPersistentServerErrors) {
  FaultSpec f;
  f.p5xx = 1;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  RestOptions o = Options(*ex);
  o.max_attempts = 4;
  BinanceRest rest(o, gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  ExpectMessageStartsWith(b.status(),
                          "GET /api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000"
                          "&endTime=1617321660000&limit=2: gave up after 4 attempts: HTTP 50");
  EXPECT_EQ(rest.stats().server_errors.load(), 4);
  // Full-jitter backoff on the fake clock: at most 1 + 2 + 4 ms in all.
  EXPECT_LE(clock_.Now() - kClockStart, 7000);
}

TEST_F(RestTest, GivesUpOnPersistentCorruption) {
  FaultSpec f;
  f.corrupt = 1;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  RestOptions o = Options(*ex);
  o.max_attempts = 2;
  BinanceRest rest(o, gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + 99 * kMin, 100);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  ExpectMessageStartsWith(b.status(),
                          "GET /api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000"
                          "&endTime=1617327540000&limit=100: gave up after 2 attempts: malformed "
                          "response: ");
  EXPECT_EQ(rest.stats().malformed.load(), 2);
}

TEST_F(RestTest, TimeoutGivesUpWithTheTimeoutInTheMessage) {
  FaultSpec f;
  f.slow = 1;
  f.slow_delay = 2 * kMicrosPerSecond;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  RestOptions o = Options(*ex);
  o.timeout = 300 * 1000;
  o.max_attempts = 2;
  BinanceRest rest(o, gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  ExpectMessageStartsWith(b.status(),
                          "GET /api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000"
                          "&endTime=1617321660000&limit=2: gave up after 2 attempts: timeout "
                          "after 300 ms (");
  EXPECT_EQ(rest.stats().transport_errors.load(), 2);
}

TEST_F(RestTest, GivesUpAfterMaxLimitWaits) {
  FaultSpec f;
  f.p429 = 1;
  f.retry_after_seconds = 3;
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  RestOptions o = Options(*ex);
  o.max_limit_waits = 3;
  BinanceRest rest(o, gov, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + kMin, 2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  ExpectMessageStartsWith(b.status(),
                          "GET /api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000"
                          "&endTime=1617321660000&limit=2: gave up after 4 rate-limit responses: "
                          "HTTP 429 (-1003 Too much request weight used;");
  EXPECT_EQ(rest.stats().requests.load(), 4);
  EXPECT_EQ(rest.stats().rate_limited.load(), 4);
  // Three Retry-After waits of 3 s each, no more, no less.
  EXPECT_EQ(clock_.Now() - kClockStart, 9 * kMicrosPerSecond);
  EXPECT_EQ(ex->Counters().status_418, 0);
  ExpectNoSendWhileBlocked(gov.Events());
}

TEST_F(RestTest, ConcurrentCallersEachGetTheirPages) {
  FaultSpec f;
  f.p5xx = 0.1;
  f.drop = 0.1;
  f.truncate = 0.1;
  f.seed = 3;
  constexpr int kThreads = 4, kPagesEach = 3, kLimit = 300;
  auto want = Baseline(kThreads * kPagesEach, kLimit);
  ASSERT_EQ(want.size(), static_cast<size_t>(kThreads * kPagesEach));
  auto ex = StartExchange(f);
  ASSERT_TRUE(ex);
  RateGovernor gov(clock_, {});
  BinanceRest rest(Options(*ex), gov, clock_);
  std::vector<StatusOr<ingest::KlineBatch>> got(kThreads * kPagesEach, Internal("not fetched"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int p = 0; p < kPagesEach; ++p) {
        int i = t * kPagesEach + p;
        Micros start = kFirstOpen + i * kLimit * kMin;
        got[i] = rest.Klines("BTCUSDT", OneMinute(), start, start + (kLimit - 1) * kMin, kLimit);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status().ToString();
    ExpectSameBatch(*got[i], want[i]);
  }
  EXPECT_EQ(rest.stats().requests.load(), ex->Counters().requests);
  EXPECT_GT(rest.stats().retries.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// Responses the replay exchange never gives (wrong time unit, rows out of range, a ban with a
// given end), from a one-thread server that answers each request with the next scripted reply
// and closes the connection.

struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
};

// The replies as the steps of a raw server (testing/raw_server.h): each on a connection of its
// own, closed after it.
std::vector<cryptolake::testing::RawStep> Steps(const std::vector<Reply>& replies) {
  std::vector<cryptolake::testing::RawStep> steps;
  for (const Reply& r : replies) {
    std::vector<std::string> headers = r.headers;
    headers.push_back("Connection: close");
    steps.push_back({cryptolake::testing::HttpReply(r.status, "X", r.body, headers),
                     cryptolake::testing::RawStep::After::kClose});
  }
  return steps;
}

class ScriptedServer : public cryptolake::testing::RawServer {
 public:
  explicit ScriptedServer(const std::vector<Reply>& replies) : RawServer(Steps(replies)) {}
};

// The file's first kline as the exchange sends it with X-MBX-TIME-UNIT: MICROSECOND.
std::string KlineJson(Micros open, const std::string& high = "58840.43") {
  return fmt::format(
      "[{},\"58720.45\",\"{}\",\"58720.44\",\"58760.34\",\"61.685675\",{},\"0.00000000\",0,"
      "\"0.00000000\",\"0.00000000\",\"0\"]",
      open, high, open + kMin - 1);
}

class ScriptedRestTest : public ::testing::Test {
 protected:
  RestOptions Options(const ScriptedServer& server, int max_attempts = 1) {
    RestOptions o;
    o.base_url = server.url() + "/";  // a trailing slash is dropped
    o.timeout = 10 * kMicrosPerSecond;
    o.backoff_base = 1000;
    o.max_attempts = max_attempts;
    o.seed = 1;
    return o;
  }
  FakeClock clock_{kClockStart};
  RateGovernor gov_{clock_, {}};
};

const std::string kTarget =
    "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1617321600000&endTime=1617321720000&"
    "limit=2";

TEST_F(ScriptedRestTest, MalformedKlineResponsesNameTheReason) {
  const Micros t = kFirstOpen;
  const std::string ms_row =
      fmt::format("[{},\"1\",\"1\",\"1\",\"1\",\"1\",{},\"0\",0,\"0\",\"0\",\"0\"]", t / 1000,
                  (t + kMin) / 1000 - 1);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"code\":0}", "not a JSON array"},
      {"[[1,2]]", "row 1 has 2 fields, expected 12"},
      {"[" + KlineJson(t) + ",[1,\"2\",null,4,5,6,7,8,9,10,11,12]]",
       "row 2: field 3 is not a string or a number"},
      {"[" + KlineJson(t) + ",",
       "invalid JSON (JSON document ended early in the middle of an object or array.)"},
      {"[" + ms_row + "]", "timestamps in ms, expected us"},
      {"[" + KlineJson(t, "58000") + "]", "row 1: high 58000 below max(open, close) 58760.34"},
      {"[" + KlineJson(t + kMin) + "," + KlineJson(t) + "]",
       "row 2: open_time 2021-04-02T00:00:00Z not after 2021-04-02T00:01:00Z"},
      {"[" + KlineJson(t - kMin) + "]",
       "row 1: open_time 2021-04-01T23:59:00Z outside [2021-04-02T00:00:00Z, "
       "2021-04-02T00:02:00Z]"},
      {"[" + KlineJson(t) + "," + KlineJson(t + kMin) + "," + KlineJson(t + 2 * kMin) + "]",
       "3 rows for limit 2"},
  };
  for (const auto& [body, reason] : cases) {
    ScriptedServer server({{200, body, {}}});
    BinanceRest rest(Options(server), gov_, clock_);
    auto b = rest.Klines("BTCUSDT", OneMinute(), t, t + 2 * kMin, 2);
    ASSERT_FALSE(b.ok()) << body;
    EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(b.status().message(),
              "GET " + kTarget + ": gave up after 1 attempts: malformed response: " + reason);
    EXPECT_EQ(rest.stats().malformed.load(), 1);
  }
}

TEST_F(ScriptedRestTest, RetriesUntilAValidResponse) {
  ScriptedServer server({{503, "busy", {}},
                         {200, "[" + KlineJson(kFirstOpen) + ",", {}},
                         {200, "[" + KlineJson(kFirstOpen) + "]", {}}});
  BinanceRest rest(Options(server, 3), gov_, clock_);
  auto b = rest.Klines("BTCUSDT", OneMinute(), kFirstOpen, kFirstOpen + 2 * kMin, 2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ(b->open_time[0], kFirstOpen);
  EXPECT_EQ(b->close_time[0], kFirstOpen + kMin - 1);
  EXPECT_EQ(b->high[0], 58840.43);
  EXPECT_EQ(rest.stats().requests.load(), 3);
  EXPECT_EQ(rest.stats().retries.load(), 2);
  EXPECT_EQ(rest.stats().server_errors.load(), 1);
  EXPECT_EQ(rest.stats().malformed.load(), 1);
  // Every request asked for microseconds, at the path of the contract.
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_TRUE(r.starts_with("GET " + kTarget + " HTTP/1.1\r\n")) << r;
    EXPECT_NE(r.find("\r\nX-MBX-TIME-UNIT: MICROSECOND\r\n"), std::string::npos) << r;
  }
}

TEST_F(ScriptedRestTest, BanLastsUntilTheTimeInTheBody) {
  const Micros until = kClockStart + 300 * kMicrosPerSecond + 123'000;
  ScriptedServer server(
      {{418,
        fmt::format("{{\"code\":-1003,\"msg\":\"Way too much request weight used; IP banned until "
                    "{}. Please use the websocket for live updates to avoid bans.\"}}",
                    until / 1000),
        {"Retry-After: 120"}},
       {200, "{\"serverTime\":1617321600000000}", {}}});
  BinanceRest rest(Options(server), gov_, clock_);
  auto t = rest.ServerTime();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, kFirstOpen);
  EXPECT_EQ(rest.stats().banned.load(), 1);
  auto ev = gov_.Events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].kind, GovernorEvent::kBanned);
  EXPECT_EQ(ev[1].until, until);
  EXPECT_EQ(ev[2].at, until);
  EXPECT_EQ(ev[2].weight, 1);
}

TEST_F(ScriptedRestTest, RetryAfterAndUsedWeightReachTheGovernor) {
  ScriptedServer server({{429,
                          "{\"code\":-1003,\"msg\":\"Too much request weight used; current limit "
                          "is 6000 request weight per 1 MINUTE.\"}",
                          {"Retry-After: 7"}},
                         {200, "{\"serverTime\":1617321600000}", {"x-mbx-used-weight-1m: 4800"}},
                         {200, "{\"serverTime\":1617321600000}", {}}});
  BinanceRest rest(Options(server), gov_, clock_);
  auto t = rest.ServerTime();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, kFirstOpen);  // a millisecond serverTime is understood too
  EXPECT_EQ(clock_.Now(), kClockStart + 7 * kMicrosPerSecond);
  // The exchange counts 4800 this minute: the next request waits for the next minute.
  t = rest.ServerTime();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Micros next_minute = MicrosFromCivil(2024, 1, 1, 0, 1);
  EXPECT_EQ(clock_.Now(), next_minute);
  auto ev = gov_.Events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].kind, GovernorEvent::kRateLimited);
  EXPECT_EQ(ev[1].until, kClockStart + 7 * kMicrosPerSecond);
  EXPECT_EQ(ev[2].at, kClockStart + 7 * kMicrosPerSecond);
  EXPECT_EQ(ev[3].at, next_minute);
  EXPECT_EQ(rest.stats().rate_limited.load(), 1);
}

TEST_F(ScriptedRestTest, UsedWeightOnA429OutlastsAShorterRetryAfter) {
  ScriptedServer server({{429,
                          "{\"code\":-1003,\"msg\":\"Too much request weight used.\"}",
                          {"Retry-After: 7", "X-MBX-USED-WEIGHT-1M: 6000"}},
                         {200, "{\"serverTime\":1617321600000}", {}}});
  BinanceRest rest(Options(server), gov_, clock_);
  ASSERT_TRUE(rest.ServerTime().ok());
  EXPECT_EQ(clock_.Now(), MicrosFromCivil(2024, 1, 1, 0, 1));
}

TEST_F(ScriptedRestTest, OtherClientErrorsAreNotRetried) {
  ScriptedServer server({{404, "<html>no such page</html>\n", {}}});
  BinanceRest rest(Options(server, 8), gov_, clock_);
  auto info = rest.ExchangeInfo();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(info.status().message(),
            "GET /api/v3/exchangeInfo: HTTP 404 (<html>no such page</html>)");
  EXPECT_EQ(rest.stats().requests.load(), 1);
}

TEST_F(ScriptedRestTest, RefusedConnectionIsUnavailable) {
  int port = 0;
  {
    ScriptedServer server({});
    port = std::stoi(server.url().substr(server.url().rfind(':') + 1));
  }
  RestOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.max_attempts = 2;
  o.backoff_base = 1000;
  BinanceRest rest(o, gov_, clock_);
  auto t = rest.ServerTime();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  ExpectMessageStartsWith(t.status(), "GET /api/v3/time: gave up after 2 attempts: ");
  EXPECT_EQ(rest.stats().transport_errors.load(), 2);
}

}  // namespace
}  // namespace cryptolake::exchange
