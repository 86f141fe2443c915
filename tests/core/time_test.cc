#include "core/time.h"

#include <gtest/gtest.h>

namespace cryptolake {
namespace {

TEST(IntervalTest, ParsesBinanceSpellings) {
  EXPECT_EQ(Interval::Parse("1m")->micros, 60'000'000);
  EXPECT_EQ(Interval::Parse("15m")->minutes(), 15);
  EXPECT_EQ(Interval::Parse("1d")->micros, kMicrosPerDay);
  auto bad = Interval::Parse("1M");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(
      bad.status().message(),
      "unsupported interval '1M' (accepted: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d)");
}

TEST(TimeTest, CivilRoundTripAgainstKnownEpochs) {
  // 2025-05-20T00:00:00Z is 1747699200 s (first row of the 1m sample file).
  EXPECT_EQ(MicrosFromCivil(2025, 5, 20), 1747699200LL * kMicrosPerSecond);
  EXPECT_EQ(FormatIso(1747699260LL * kMicrosPerSecond), "2025-05-20T00:01:00Z");
  EXPECT_EQ(FormatMinute(1618884000LL * kMicrosPerSecond), "2021-04-20 02:00");
  EXPECT_EQ(FormatDate(1502928000LL * kMicrosPerSecond), "2017-08-17");
  EXPECT_EQ(DayFloor(1747699260LL * kMicrosPerSecond), 1747699200LL * kMicrosPerSecond);
}

TEST(TimeTest, ParseTimeAcceptsDatesAndMinutes) {
  EXPECT_EQ(*ParseTime("2021-04-20"), MicrosFromCivil(2021, 4, 20));
  EXPECT_EQ(*ParseTime("2021-04-20 02:00"), MicrosFromCivil(2021, 4, 20, 2, 0));
  EXPECT_EQ(*ParseTime("2021-04-20T02:00:30Z"), MicrosFromCivil(2021, 4, 20, 2, 0, 30));
}

TEST(TimeTest, ParseTimeRejectsGarbageWithClearMessage) {
  for (const char* s : {"2021-4-20", "2021-02-30", "20210420", "2021-04-20 02", "yesterday"}) {
    auto r = ParseTime(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.status().message(),
              std::string("unparseable time '") + s + "' (expected YYYY-MM-DD[ HH:MM[:SS]], UTC)");
  }
}

TEST(FakeClockTest, OnlyMovesWhenAdvanced) {
  FakeClock c(1000);
  EXPECT_EQ(c.Now(), 1000);
  c.Advance(500);
  EXPECT_EQ(c.Now(), 1500);
}

}  // namespace
}  // namespace cryptolake

namespace cryptolake {
namespace {

TEST(FakeClockTest, SleepUntilJumpsForwardNeverBack) {
  FakeClock c(1000);
  c.SleepUntil(5000);
  EXPECT_EQ(c.Now(), 5000);
  c.SleepUntil(3000);  // already past: no change
  EXPECT_EQ(c.Now(), 5000);
  c.SleepFor(250);
  EXPECT_EQ(c.Now(), 5250);
}

}  // namespace
}  // namespace cryptolake
