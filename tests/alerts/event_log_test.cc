// EventLog (alerts/event_log.h) on a real directory: append with dedup, reopen, the lock, a
// torn last line truncated, a corrupt complete line refused with its exact message, and the
// waiters woken by appends and by Wake().
#include "alerts/event_log.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake::alerts {
namespace {

using cryptolake::testing::LogCapture;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;

const Micros kT0 = MicrosFromCivil(2021, 4, 20, 2, 0);

AlertEvent Event(int i, AlertState state = AlertState::kFiring) {
  AlertEvent e;
  e.rule = "silence";
  e.kind = "silence";
  e.severity = "critical";
  e.symbol = "BTCUSDT";
  e.state = state;
  e.fired_at = kT0 + i * kMicrosPerMinute;
  e.at = e.fired_at + 30 * kMicrosPerSecond;
  e.value = 120 + i;
  e.threshold = 120;
  e.message = "no message for " + std::to_string(120 + i) + " s";
  e.key = MakeKey(e.rule, e.symbol, e.fired_at, e.state);
  return e;
}

std::string Line(const AlertEvent& e) { return ToJson(e).dump() + "\n"; }

std::vector<std::string> Keys(const std::vector<AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.key);
  return out;
}

std::unique_ptr<EventLog> OpenOrDie(const fs::path& dir) {
  auto log = EventLog::Open(dir);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

TEST(EventLogTest, AppendsNewEventsOnlyAndReopensTheSame) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  const AlertEvent a = Event(0), b = Event(1), c = Event(2), a2 = Event(0, AlertState::kResolved);
  {
    auto log = OpenOrDie(dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->size(), 0u);
    auto added = log->Append({a, b, a});  // a repeated in the batch
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    EXPECT_EQ(Keys(*added), (std::vector<std::string>{a.key, b.key}));
    added = log->Append({b, c, a2});  // b already in the log
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    EXPECT_EQ(Keys(*added), (std::vector<std::string>{c.key, a2.key}));
    added = log->Append({a, c});
    ASSERT_TRUE(added.ok());
    EXPECT_TRUE(added->empty());
    EXPECT_EQ(log->size(), 4u);
    EXPECT_EQ(*ReadFile(dir / "events.jsonl"), Line(a) + Line(b) + Line(c) + Line(a2));
    EXPECT_EQ(Keys(log->Read(1, 2)), (std::vector<std::string>{b.key, c.key}));
    EXPECT_EQ(Keys(log->Read(3, 10)), (std::vector<std::string>{a2.key}));
    EXPECT_TRUE(log->Read(4, 10).empty());
    EXPECT_EQ(Keys(log->Recent(2)), (std::vector<std::string>{c.key, a2.key}));
    EXPECT_EQ(Keys(log->Recent(9)), (std::vector<std::string>{a.key, b.key, c.key, a2.key}));
    EXPECT_TRUE(log->Contains(a2.key));
    EXPECT_FALSE(log->Contains(Event(3).key));

    // One EventLog per directory: a second one is refused while the first lives.
    auto second = EventLog::Open(dir);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(second.status().message(), "another process holds " + (dir / "events.lock").string());
  }
  auto log = OpenOrDie(dir);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->size(), 4u);
  std::vector<AlertEvent> all = log->Read(0, 10);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(ToJson(all[0]), ToJson(a));  // every field back
  EXPECT_EQ(ToJson(all[3]), ToJson(a2));
  auto added = log->Append({a, b, Event(3)});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(Keys(*added), (std::vector<std::string>{Event(3).key}));
  EXPECT_EQ(*ReadFile(dir / "events.jsonl"),
            Line(a) + Line(b) + Line(c) + Line(a2) + Line(Event(3)));
}

TEST(EventLogTest, ATornLastLineIsTruncatedWithAWarning) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  const std::string torn = Line(Event(2)).substr(0, 25);
  WriteText(dir / "events.jsonl", Line(Event(0)) + Line(Event(1)) + torn);
  LogCapture capture;
  auto log = OpenOrDie(dir);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->size(), 2u);
  EXPECT_EQ(*ReadFile(dir / "events.jsonl"), Line(Event(0)) + Line(Event(1)));
  EXPECT_NE(capture.text().find("alerts: " + (dir / "events.jsonl").string() +
                                ": dropped a torn last line (25 bytes without a newline, left "
                                "by a crash during an append)"),
            std::string::npos)
      << capture.text();
  auto added = log->Append({Event(2)});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*ReadFile(dir / "events.jsonl"), Line(Event(0)) + Line(Event(1)) + Line(Event(2)));
}

TEST(EventLogTest, ACorruptCompleteLineIsAnErrorAndTheFileIsKept) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  const fs::path file = dir / "events.jsonl";
  const std::string text = Line(Event(0)) + "{\"key\":\"k\"}\n" + Line(Event(1)) + "{\"key\"";
  WriteText(file, text);
  auto log = EventLog::Open(dir);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(log.status().message(),
            file.string() + ":2: alert event: rule missing or not a string");
  EXPECT_EQ(*ReadFile(file), text);  // not even the torn tail is cut

  WriteText(file, Line(Event(0)) + Line(Event(1)) + "garbage\n");
  log = EventLog::Open(dir);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(log.status().message(),
            file.string() +
                ":3: not JSON: [json.exception.parse_error.101] parse error at line 1, column 1: "
                "syntax error while parsing value - invalid literal; last read: 'g'");
}

TEST(EventLogTest, AKeyThatCannotTravelAsAHeaderIsRefusedWithItsBatch) {
  TempDir tmp;
  auto log = OpenOrDie(tmp / "alerts");
  ASSERT_TRUE(log);
  AlertEvent bad = Event(1);
  bad.key = "silence:BTCUSDT\r\nX-Evil: 1";
  auto added = log->Append({Event(0), bad});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(added.status().message(),
            "alert event key 'silence:BTCUSDT\r\nX-Evil: 1' holds a control character");
  bad.key = "";
  added = log->Append({bad});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().message(), "alert event key '' is empty");
  EXPECT_EQ(log->size(), 0u);
  EXPECT_EQ(*ReadFile(tmp / "alerts" / "events.jsonl"), "");
}

TEST(EventLogTest, WaitBeyondWakesOnAnAppendAndOnWake) {
  TempDir tmp;
  auto log = OpenOrDie(tmp / "alerts");
  ASSERT_TRUE(log);
  std::atomic<bool> stop{false};
  bool beyond = false;
  std::thread waiter([&] { beyond = log->WaitBeyond(0, stop); });
  ASSERT_TRUE(log->Append({Event(0)}).ok());
  waiter.join();
  EXPECT_TRUE(beyond);
  EXPECT_TRUE(log->WaitBeyond(0, stop));  // already beyond: returns at once

  waiter = std::thread([&] { beyond = log->WaitBeyond(1, stop); });
  stop = true;
  log->Wake();
  waiter.join();
  EXPECT_FALSE(beyond);
}

}  // namespace
}  // namespace cryptolake::alerts
