#include "core/pacer.h"

#include <gtest/gtest.h>

namespace cryptolake {
namespace {

TEST(PacerTest, SleepsTheRestOfTheDutyCycleAfterEachUnit) {
  FakeClock clock(1'000'000);
  Pacer pacer(clock, 0.2);
  Micros t = pacer.Start();
  clock.Advance(10'000);  // a 10 ms unit
  EXPECT_EQ(pacer.Done(t), 40'000);
  EXPECT_EQ(clock.Now(), 1'050'000);  // 10 ms of work, then 40 ms asleep: 20% duty
  t = pacer.Start();
  clock.Advance(2'500);
  EXPECT_EQ(pacer.Done(t), 10'000);
  EXPECT_EQ(clock.Now(), 1'062'500);
  EXPECT_EQ(pacer.stats().units, 2);
  EXPECT_EQ(pacer.stats().worked, 12'500);
  EXPECT_EQ(pacer.stats().slept, 50'000);
}

TEST(PacerTest, FullDutyAndInstantUnitsNeverSleep) {
  FakeClock clock(0);
  Pacer full(clock, 1.0);
  Micros t = full.Start();
  clock.Advance(7'000);
  EXPECT_EQ(full.Done(t), 0);
  EXPECT_EQ(clock.Now(), 7'000);
  Pacer paced(clock, 0.5);
  EXPECT_EQ(paced.Done(paced.Start()), 0);
  EXPECT_EQ(clock.Now(), 7'000);
  EXPECT_EQ(paced.stats().units, 1);
}

TEST(PacerTest, ReleasedPacerNeverSleepsAgain) {
  FakeClock clock(0);
  Pacer pacer(clock, 0.5);
  Micros t = pacer.Start();
  clock.Advance(3'000);
  EXPECT_EQ(pacer.Done(t), 3'000);
  pacer.Release();
  t = pacer.Start();
  clock.Advance(3'000);
  EXPECT_EQ(pacer.Done(t), 0);
  EXPECT_EQ(clock.Now(), 9'000);
  EXPECT_EQ(pacer.stats().units, 2);
  EXPECT_EQ(pacer.stats().slept, 3'000);
}

TEST(PacerTest, DutyIsClampedToItsRange) {
  FakeClock clock(0);
  EXPECT_EQ(Pacer(clock, 0).duty(), 0.01);
  EXPECT_EQ(Pacer(clock, -3).duty(), 0.01);
  EXPECT_EQ(Pacer(clock, 2).duty(), 1.0);
  Pacer slow(clock, 0.001);  // 0.01: a 1 ms unit sleeps 99 ms
  Micros t = slow.Start();
  clock.Advance(1'000);
  EXPECT_EQ(slow.Done(t), 99'000);
}

}  // namespace
}  // namespace cryptolake
