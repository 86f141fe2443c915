// Backfill against the replay exchange serving the real recorded klines of ../shared/data, over
// real HTTP on 127.0.0.1. Lake, governor and exchange share one FakeClock: rate-limit waits and
// backoff jump it forward instead of sleeping.
#include "backfill/backfill.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/fsutil.h"
#include "exchange/replay.h"
#include "ingest/importer.h"
#include "ingest/source.h"
#include "lake/klines.h"
#include "testing/testing.h"
#include "venues/binance/rest.h"
#include "verify/verify.h"

namespace cryptolake::backfill {
namespace {

namespace fs = std::filesystem;
using testing::SharedData;
using testing::TempDir;

Micros At(const std::string& t) {
  auto r = ParseTime(t);
  EXPECT_TRUE(r.ok()) << t;
  return r.ok() ? *r : 0;
}

std::vector<fs::path> Files(const std::string& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(SharedData() / "binance-spot/klines" / dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  EXPECT_FALSE(out.empty()) << dir << "/" << prefix;
  return out;
}

std::vector<fs::path> Hourly() {
  auto b = Files("1h", "BTCUSDT-1h-"), e = Files("1h", "ETHUSDT-1h-");
  b.insert(b.end(), e.begin(), e.end());
  return b;
}

std::vector<std::string> Strings(const std::vector<fs::path>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.string());
  return out;
}

// Copies of `files` into `dir` (same names, uncompressed) without `days` random whole days and
// `lines` random further lines per file (seeded). A header line is kept.
std::vector<std::string> WriteDamaged(const std::vector<fs::path>& files, const fs::path& dir,
                                      int days, int lines, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (const auto& f : files) {
    auto bytes = ReadFile(f);
    EXPECT_TRUE(bytes.ok());
    std::string text = *bytes;
    std::string name = f.filename().string();
    if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") {
      auto plain = ingest::Gunzip(name, text);
      EXPECT_TRUE(plain.ok());
      text = *plain;
      name = name.substr(0, name.size() - 3);
    }
    std::vector<std::string> rows;
    std::string header;
    for (size_t pos = 0; pos < text.size();) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      if (!std::isdigit(static_cast<unsigned char>(line[0]))) {
        header = line + "\n";
      } else {
        rows.push_back(line);
      }
    }
    auto day_of = [](const std::string& line) {
      int64_t t = std::stoll(line.substr(0, line.find(',')));
      return (t > 9'999'999'999'999 ? t / 1000 : t) / 86'400'000;  // us or ms
    };
    std::set<int64_t> drop_days;
    for (int i = 0; i < days; ++i) drop_days.insert(day_of(rows[rng() % rows.size()]));
    std::set<size_t> drop_lines;
    for (int i = 0; i < lines; ++i) drop_lines.insert(rng() % rows.size());
    std::string kept = header;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (drop_days.count(day_of(rows[i])) || drop_lines.count(i)) continue;
      kept += rows[i] + "\n";
    }
    testing::WriteText(dir / name, kept);
    out.push_back((dir / name).string());
  }
  return out;
}

class BackfillTest : public ::testing::Test {
 protected:
  BackfillTest() : clock_(At("2026-06-01")) {
    db_ = std::make_unique<lake::Database>(std::move(lake::Database::Open()).value());
    con_ = std::make_unique<lake::Connection>(std::move(lake::Connection::Open(*db_)).value());
  }

  std::unique_ptr<lake::Lake> NewLake(const std::string& name) {
    auto lk = lake::Lake::Open(dir_ / name, clock_);
    EXPECT_TRUE(lk.ok()) << lk.status().ToString();
    return std::make_unique<lake::Lake>(std::move(lk).value());
  }

  void ImportInto(lake::Lake& lk, const std::vector<std::string>& inputs) {
    ingest::ImportOptions o;
    o.inputs = inputs;
    o.progress = false;
    auto st = ingest::Import(lk, *con_, o);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    ASSERT_EQ(st->quarantined, 0);
  }

  void StartExchange(const std::vector<fs::path>& data, exchange::ReplayOptions o = {}) {
    auto ex = exchange::ReplayExchange::Create(Strings(data), clock_, o);
    ASSERT_TRUE(ex.ok()) << ex.status().ToString();
    exchange_ = std::move(*ex);
    ASSERT_TRUE(exchange_->Start().ok());
  }

  // A fresh client (its own governor) for the running exchange. `timeout` is real time: a
  // failsafe far above any answer's time (a slow machine must not trip it), except where a test
  // makes it short to trip on the `slow` fault.
  venues::binance::BinanceRest& Client(exchange::GovernorOptions go = {},
                                       Micros timeout = 120 * kMicrosPerSecond) {
    governor_ = std::make_unique<exchange::RateGovernor>(clock_, go);
    venues::binance::RestOptions ro;
    ro.base_url = exchange_->url();
    ro.timeout = timeout;
    ro.backoff_base = 1000;  // 1 ms of the fake clock
    ro.max_attempts = 12;
    ro.seed = 11;
    rest_ = std::make_unique<venues::binance::BinanceRest>(ro, *governor_, clock_);
    return *rest_;
  }

  StatusOr<BackfillStats> Run(lake::Lake& lk, BackfillOptions o) {
    o.progress = false;
    return Backfill(lk, *con_, *rest_, o);
  }

  int64_t KlinesRequests() const {
    int64_t n = 0;
    for (const auto& r : exchange_->Log()) n += r.target.rfind("/api/v3/klines", 0) == 0;
    return n;
  }

  // Rows of `columns` (deduplicated klines of `iv`) in `a` but not `b` plus those in `b` but not
  // `a` (multiset difference; doubles compared exactly).
  int64_t Difference(lake::Lake& a, lake::Lake& b, const Interval& iv, const std::string& columns) {
    auto sa = a.GetSnapshot(), sb = b.GetSnapshot();
    EXPECT_TRUE(sa.ok() && sb.ok());
    std::string qa = fmt::format("SELECT {} FROM {}", columns, lake::KlinesSql(*sa, iv));
    std::string qb = fmt::format("SELECT {} FROM {}", columns, lake::KlinesSql(*sb, iv));
    auto n = con_->QueryInt64(fmt::format(
        "SELECT count(*) FROM (({0} EXCEPT ALL {1}) UNION ALL ({1} EXCEPT ALL {0}))", qa, qb));
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }

  // Spans of [from, to) without a kline of `symbol` in `a`, computed with plain SQL.
  lake::TimeRanges Holes(lake::Lake& a, const Interval& iv, const std::string& symbol, Micros from,
                         Micros to) {
    auto sa = a.GetSnapshot();
    auto r = con_->Query(fmt::format(
        "SELECT p + {0}, t FROM (SELECT t, lag(t) OVER (ORDER BY t) AS p FROM (SELECT "
        "epoch_us(open_time) AS t FROM {1} WHERE symbol = '{2}' UNION ALL SELECT {3} UNION ALL "
        "SELECT {4})) WHERE t - p > {0} ORDER BY 1",
        iv.micros, lake::KlinesSql(*sa, iv), symbol, from - iv.micros, to));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    lake::TimeRanges out;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) {
      out.emplace_back(r->GetInt64(0, i), r->GetInt64(1, i));
    }
    return out;
  }

  int64_t Count(lake::Lake& a, const Interval& iv) {
    auto sa = a.GetSnapshot();
    auto n = con_->QueryInt64("SELECT count(*) FROM " + lake::KlinesSql(*sa, iv));
    return n.ok() ? *n : -1;
  }

  FakeClock clock_;
  TempDir dir_;
  std::unique_ptr<lake::Database> db_;
  std::unique_ptr<lake::Connection> con_;
  std::unique_ptr<exchange::ReplayExchange> exchange_;
  std::unique_ptr<exchange::RateGovernor> governor_;
  std::unique_ptr<venues::binance::BinanceRest> rest_;
};

const Interval k1h{"1h", kMicrosPerHour};
const Interval k1m{"1m", kMicrosPerMinute};
constexpr const char* kAllColumns =
    "symbol, open_time, open, high, low, close, volume, close_time, quote_volume, trades, "
    "taker_buy_base, taker_buy_quote";

BackfillOptions Hourly2022() {
  BackfillOptions o;
  o.symbols = {"BTCUSDT", "ETHUSDT"};
  o.intervals = {k1h};
  o.from = At("2022-01-01");
  return o;
}

// Every Binance field of the real 1h klines comes back exactly; the hours missing in the
// recording (exchange outages such as 2023-03-24 13:00) end up confirmed empty, and a second run
// fetches nothing.
TEST_F(BackfillTest, HealsRandomHolesInHourlyKlinesRowForRow) {
  auto ref = NewLake("ref");
  ImportInto(*ref, Strings(Hourly()));
  auto lk = NewLake("lake");
  ImportInto(*lk, WriteDamaged(Hourly(), dir_ / "damaged", 1, 12, 42));
  const int64_t before = Count(*lk, k1h);
  const int64_t all = Count(*ref, k1h);
  ASSERT_EQ(all, 75846);
  ASSERT_LT(before, all - 2 * 52 * 24);  // at least a day per monthly file gone

  StartExchange(Hourly());
  Client();
  auto st = Run(*lk, Hourly2022());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->failures.empty());
  EXPECT_EQ(st->exchange_time, At("2026-04-30 04:00"));  // the end of the data
  EXPECT_EQ(st->fetched(), all - before);
  EXPECT_EQ(Count(*lk, k1h), all);
  EXPECT_EQ(Difference(*lk, *ref, k1h, kAllColumns), 0);

  auto snap = lk->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  const lake::TimeRange outage = {At("2023-03-24 13:00"), At("2023-03-24 14:00")};
  for (const auto& s : st->series) {
    lake::TimeRanges holes = Holes(*ref, k1h, s.symbol, At("2022-01-01"), st->exchange_time);
    EXPECT_NE(std::find(holes.begin(), holes.end(), outage), holes.end());
    EXPECT_EQ(lake::ConfirmedEmpty(snap->manifest(), "klines_1h", s.symbol), holes);
    int64_t hours = 0;
    for (const auto& h : holes) hours += (h.second - h.first) / kMicrosPerHour;
    EXPECT_EQ(s.confirmed_empty, hours) << s.symbol;
    EXPECT_EQ(s.missing, s.fetched + hours) << s.symbol;
  }
  verify::VerifyOptions vo;
  vo.views = false;
  auto rep = verify::Verify(*snap, *con_, vo);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->ExitCode(), 0) << verify::FormatReport(*rep);

  // Second run: the outage is known, nothing is missing, no klines request goes out.
  const int64_t requests = KlinesRequests();
  auto again = Run(*lk, Hourly2022());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(KlinesRequests(), requests);
  EXPECT_EQ(again->fetched(), 0);
  EXPECT_EQ(again->commits, 0);
  for (size_t i = 0; i < again->series.size(); ++i) {
    EXPECT_EQ(again->series[i].missing, 0);
    EXPECT_EQ(again->series[i].already_empty, st->series[i].confirmed_empty);
  }
}

// The 1m recording holds open_time and OHLCV; those come back exactly, and both real outages of
// April 2021 end up confirmed empty.
TEST_F(BackfillTest, HealsOneMinuteKlinesAndConfirmsTheRealOutages) {
  auto files = Files("1m", "BTCUSDT-1m-20210402_20210514");
  auto ref = NewLake("ref");
  ImportInto(*ref, Strings(files));
  auto lk = NewLake("lake");
  ImportInto(*lk, WriteDamaged(files, dir_ / "damaged", 3, 500, 7));
  StartExchange(files);
  Client();
  BackfillOptions o;
  o.symbols = {"BTCUSDT"};
  o.intervals = {k1m};
  o.from = At("2021-04-02");
  auto st = Run(*lk, o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Count(*lk, k1m), 61272);
  EXPECT_EQ(Difference(*lk, *ref, k1m, "symbol, open_time, open, high, low, close, volume"), 0);
  auto snap = lk->GetSnapshot();
  EXPECT_EQ(lake::ConfirmedEmpty(snap->manifest(), "klines_1m", "BTCUSDT"),
            (lake::TimeRanges{{At("2021-04-20 02:00"), At("2021-04-20 04:30")},
                              {At("2021-04-25 04:01"), At("2021-04-25 08:45")}}));
  EXPECT_EQ(st->series[0].confirmed_empty, 150 + 284);
}

// Every fault the replay exchange can inject, on a good share of the requests: the result is
// still exactly the original rows, no 418 is ever earned, and no request goes out inside a
// Retry-After or a ban.
TEST_F(BackfillTest, EveryFaultTypeStillGivesTheExactRows) {
  auto ref = NewLake("ref");
  ImportInto(*ref, Strings(Hourly()));
  auto lk = NewLake("lake");
  ImportInto(*lk, WriteDamaged(Hourly(), dir_ / "damaged", 1, 12, 43));
  exchange::ReplayOptions ro;
  auto faults = exchange::FaultSpec::Parse(
      "429=0.04,418=0.02,5xx=0.06,slow=0.01,truncate=0.04,drop=0.04,corrupt=0.04");
  ASSERT_TRUE(faults.ok()) << faults.status().ToString();
  ro.faults = *faults;
  ro.faults.seed = 5;
  ro.faults.slow_delay = kMicrosPerSecond;
  StartExchange(Hourly(), ro);
  Client({}, 400 * 1000);  // real time: trips on the `slow` fault (1 s); a spurious trip is a retry
  auto st = Run(*lk, Hourly2022());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->failures.empty()) << st->failures[0].error;
  EXPECT_EQ(Difference(*lk, *ref, k1h, kAllColumns), 0);

  auto c = exchange_->Counters();
  for (const char* f : {"429", "418", "5xx", "slow", "truncate", "drop", "corrupt"}) {
    EXPECT_GE(c.faults[f], 1) << "fault " << f << " never injected";
  }
  EXPECT_EQ(c.earned_bans, 0);
  // Requests already in flight when a ban starts get 418 too; nothing is sent after one is seen
  // (checked on the client's side below).
  EXPECT_LE(c.status_418, c.faults["418"] * 4);
  for (const auto& e : governor_->Events()) {
    if (e.kind == exchange::GovernorEvent::kSend) continue;
    for (const auto& s : governor_->Events()) {
      if (s.kind == exchange::GovernorEvent::kSend) {
        EXPECT_FALSE(s.at > e.at && s.at < e.until)
            << "sent at " << s.at << " inside the wait " << e.at << ".." << e.until;
      }
    }
  }
  EXPECT_GE(rest_->stats().retries, 7);
}

// Under the emulated 6000/min limit with small pages (so the backfill needs several minutes of
// budget): never a 418, never over the budget per minute, and Retry-After honoured.
TEST_F(BackfillTest, RateDisciplineUnderTheEmulatedLimit) {
  auto lk = NewLake("lake");
  auto files = Files("1h", "BTCUSDT-1h-2022");
  exchange::ReplayOptions ro;
  auto faults = exchange::FaultSpec::Parse("429=0.01");
  ASSERT_TRUE(faults.ok());
  ro.faults = *faults;
  StartExchange(files, ro);
  Client();
  BackfillOptions o;
  o.symbols = {"BTCUSDT"};
  o.intervals = {k1h};
  o.from = At("2022-01-01");
  o.page_limit = 1;  // 8760 requests: 17520 weight, more than 3 minutes of a 4800 budget
  const Micros t0 = clock_.Now();
  auto st = Run(*lk, o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->fetched() + st->series[0].confirmed_empty, 8760);  // every hour of 2022
  EXPECT_GT(st->fetched(), 8700);
  EXPECT_GE(clock_.Now() - t0, 3 * kMicrosPerMinute);  // it had to wait for the budget

  auto c = exchange_->Counters();
  EXPECT_EQ(c.status_418, 0);
  EXPECT_GE(c.faults["429"], 1);
  int64_t max_used = 0;
  for (const auto& r : exchange_->Log()) max_used = std::max(max_used, r.used_weight);
  EXPECT_LE(max_used, 4800);
  // Client side: no send inside a Retry-After; at most 4800 weight in any 60 s.
  auto events = governor_->Events();
  std::vector<Micros> sends;
  for (const auto& e : events) {
    if (e.kind == exchange::GovernorEvent::kSend) sends.push_back(e.at);
  }
  for (const auto& e : events) {
    if (e.kind == exchange::GovernorEvent::kSend) continue;
    for (Micros s : sends) EXPECT_FALSE(s > e.at && s < e.until);
  }
  std::sort(sends.begin(), sends.end());
  for (size_t i = 0, j = 0; i < sends.size(); ++i) {
    while (sends[i] - sends[j] >= kMicrosPerMinute) ++j;
    ASSERT_LE(static_cast<int64_t>(i - j + 1) * 2, 4800) << "at send " << i;
  }
}

// The candle containing the exchange's now is still open: never committed; once it has closed
// the next run fetches it.
TEST_F(BackfillTest, OpenCandleIsNeverCommitted) {
  auto files = Files("1m", "BTCUSDT-1m-20210402_20210514");
  exchange::ReplayOptions ro;
  ro.start = At("2021-05-14 20:25:30");  // the recording ends with the 20:25 candle
  StartExchange(files, ro);
  Client();
  auto lk = NewLake("lake");
  BackfillOptions o;
  o.symbols = {"BTCUSDT"};
  o.intervals = {k1m};
  o.from = At("2021-05-14 19:00");
  auto st = Run(*lk, o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->exchange_time, At("2021-05-14 20:25:30"));
  EXPECT_EQ(st->fetched(), 85) << FormatBackfillSummary(*st);  // 19:00 .. 20:24
  auto snap = lk->GetSnapshot();
  auto last =
      con_->QueryInt64("SELECT max(epoch_us(open_time)) FROM " + lake::KlinesSql(*snap, k1m));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, At("2021-05-14 20:24"));
  EXPECT_TRUE(lake::ConfirmedEmpty(snap->manifest(), "klines_1m", "BTCUSDT").empty());

  clock_.Advance(30 * kMicrosPerSecond);  // exchange time 20:26: the 20:25 candle has closed
  auto next = Run(*lk, o);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->fetched(), 1);
}

TEST_F(BackfillTest, UnknownSymbolIsAClearErrorAndNothingIsFetched) {
  StartExchange(Files("1h", "BTCUSDT-1h-2022-01"));
  Client();
  auto lk = NewLake("lake");
  BackfillOptions o = Hourly2022();
  o.symbols = {"BTCUSDT", "FOOUSDT"};
  auto st = Run(*lk, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().message(), fmt::format("unknown symbol 'FOOUSDT': not listed by "
                                               "{}/api/v3/exchangeInfo",
                                               exchange_->url()));
  EXPECT_EQ(KlinesRequests(), 0);
}

TEST_F(BackfillTest, EmptyLakeWithoutFromIsAClearError) {
  StartExchange(Files("1h", "BTCUSDT-1h-2022-01"));
  Client();
  auto lk = NewLake("lake");
  BackfillOptions o = Hourly2022();
  o.symbols = {"BTCUSDT"};
  o.from.reset();
  auto st = Run(*lk, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().message(),
            "BTCUSDT 1h: no klines in the lake to start from; pass --from (e.g. --from "
            "2025-01-01)");
}

TEST_F(BackfillTest, OneBackfillPerLakeAtATime) {
  StartExchange(Files("1h", "BTCUSDT-1h-2022-01"));
  Client();
  auto lk = NewLake("lake");
  fs::create_directories(lk->root());  // opening a lake creates nothing
  auto held = FileLock::TryAcquire(lk->root() / "_backfill.lock");
  ASSERT_TRUE(held.ok());
  auto st = Run(*lk, Hourly2022());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.status().message(),
            "another backfill holds " + (lk->root() / "_backfill.lock").string());
}

// The `cryptolake backfill` command end to end: the binary (real clock) against a replay
// exchange on 127.0.0.1 serving one real monthly 1h file.
TEST(BackfillCliTest, FillsARemovedDayAndSaysSo) {
  TempDir dir;
  const fs::path file = SharedData() / "binance-spot/klines/1h/BTCUSDT-1h-2022-01.csv";
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok());
  std::string kept;  // without 2022-01-10 (epoch day 19002)
  for (size_t pos = 0; pos < text->size();) {
    size_t nl = text->find('\n', pos);
    std::string line = text->substr(pos, nl - pos);
    pos = nl == std::string::npos ? text->size() : nl + 1;
    if (!line.empty() && std::stoll(line.substr(0, 13)) / 86'400'000 != 19'002) kept += line + "\n";
  }
  testing::WriteText(dir / "in/BTCUSDT-1h-2022-01.csv", kept);
  const std::string data = (dir / "lake").string();
  auto imp = testing::RunCli({"--data", data, "import", (dir / "in").string()});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;

  auto ex = exchange::ReplayExchange::Create({file.string()}, SystemClock::Instance(), {});
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_TRUE((*ex)->Start().ok());
  auto r = testing::RunCli({"--data", data, "backfill", "--exchange", (*ex)->url(), "--symbol",
                            "BTCUSDT", "--interval", "1h"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "backfill BTCUSDT 1h 2022-01-01 00:00..2022-02-01 00:00: missing 24 in 1 range, "
            "fetched 24, confirmed empty 0");
  EXPECT_NE(r.out.find("backfill: 1 series, fetched 24 klines in 1 requests, 1 commits, 0 failed "
                       "ranges, exchange time 2022-02-01T"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("daily_raw: 1 partition"), std::string::npos) << r.out;  // views refreshed

  // The day's real close, as Binance recorded it, is now in the lake.
  auto cat = testing::RunCli({"--data", data, "cat", "klines_1h"});
  ASSERT_EQ(cat.exit_code, 0);
  EXPECT_NE(cat.out.find("BTCUSDT,2022-01-10 23:00:00+00,"), std::string::npos);
  EXPECT_EQ(std::count(cat.out.begin(), cat.out.end(), '\n'), 1 + 31 * 24);

  // Unknown symbols and bad flags are clear errors.
  auto bad = testing::RunCli({"--data", data, "backfill", "--exchange", (*ex)->url(), "--symbol",
                              "FOOUSDT", "--interval", "1h"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.err, "error: unknown symbol 'FOOUSDT': not listed by " + (*ex)->url() +
                         "/api/v3/exchangeInfo\n");
  auto iv =
      testing::RunCli({"--data", data, "backfill", "--exchange", (*ex)->url(), "--interval", "7m"});
  EXPECT_EQ(iv.exit_code, 3);
  EXPECT_NE(iv.err.find("error: "), std::string::npos);
}

}  // namespace
}  // namespace cryptolake::backfill
