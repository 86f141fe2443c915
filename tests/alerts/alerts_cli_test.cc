// `cryptolake alerts test` as users run it: a lake imported from the recorded 2021-04 BTCUSDT
// file, rules in a TOML file, the exact report (the real outage of 2021-04-20 02:00-04:30: the
// silence alert fires two minutes in and resolves when the data resumes; the gap stays open,
// since an import alone never confirms it empty), and the usage errors.
#include <gtest/gtest.h>

#include "alerts/recorded_2021.h"
#include "testing/testing.h"

namespace cryptolake::alerts {
namespace {

using testing::RunCli;
using testing::TempDir;
using testing::WriteText;

class AlertsCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string file;
    for (const auto& e :
         std::filesystem::directory_iterator(testing::SharedData() / "binance-spot/klines/1m")) {
      if (e.path().filename().string().rfind("BTCUSDT-1m-20210402_", 0) == 0) {
        file = e.path().string();
      }
    }
    auto r = RunCli({"--data", (*dir_ / "data").string(), "import", file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    WriteText(*dir_ / "rules.toml", R"(
[[alerts]]
name = "silence"
kind = "silence"
seconds = 120
severity = "critical"
[[alerts]]
name = "gap-10m"
kind = "gap"
minutes = 10
[[alerts]]
name = "move"
kind = "move"
percent = 5
window_minutes = 60
)");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Data() { return (*dir_ / "data").string(); }
  static std::string Rules() { return (*dir_ / "rules.toml").string(); }
  static TempDir* dir_;
};
TempDir* AlertsCliTest::dir_ = nullptr;

TEST_F(AlertsCliTest, ReportsTheRecordedOutage) {
  auto r = RunCli({"--data", Data(), "alerts", "test", "--rules", Rules(), "--from",
                   "2021-04-20 00:00", "--to", "2021-04-20 06:00", "--symbols", "BTCUSDT"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The candles read: from 61 minutes of warm-up before --from to --to, counted in the file.
  const auto closes = testing_2021::Closes("BTCUSDT");
  const Micros from = ParseTime("2021-04-20 00:00").value() - 61 * kMicrosPerMinute;
  const Micros to = ParseTime("2021-04-20 06:00").value();
  const auto n = std::distance(closes.lower_bound(from), closes.lower_bound(to));
  EXPECT_EQ(n, 61 + 360 - 150);
  EXPECT_EQ(r.out,
            fmt::format("alerts test: 3 rules over 2021-04-20T00:00:00Z..2021-04-20T06:00:00Z ({} "
                        "candles of BTCUSDT, 61 min of warm-up)\n",
                        n) +
                "2021-04-20T02:02:00Z  FIRING   critical silence no stream message for 120 s "
                "(since 2021-04-20T02:00:00Z), threshold 120 s\n"
                "2021-04-20T02:11:00Z  FIRING   warning  gap-10m BTCUSDT: 1m candles missing from "
                "2021-04-20 02:00, the oldest due 10 min ago; not healed, not confirmed empty; "
                "threshold 10 min\n"
                "2021-04-20T04:31:00Z  RESOLVED critical silence resolved: no stream message for 0 "
                "s (since 2021-04-20T04:31:00Z), threshold 120 s\n"
                "  silence                  fired 1 time\n"
                "  gap-10m                  fired 1 time\n"
                "  move                     fired 0 times\n"
                "alerts test: 3 events; still firing at the end: 1\n");
}

TEST_F(AlertsCliTest, JsonLinesCarryTheKeys) {
  auto r =
      RunCli({"--data", Data(), "alerts", "test", "--rules", Rules(), "--from", "2021-04-18 00:00",
              "--to", "2021-04-18 06:00", "--symbols", "BTCUSDT", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string first = r.out.substr(r.out.find('\n') + 1);
  // The crash of 2021-04-18: BTCUSDT's 03:21 candle closed 6.63% below 02:21's.
  EXPECT_NE(first.find("\"key\":\"move:BTCUSDT:20210418T032200Z:firing\""), std::string::npos)
      << r.out;
}

// The example config that README and scripts/demo.sh use is valid and runs.
TEST_F(AlertsCliTest, TheExampleConfigRuns) {
  const std::string example = std::string(CL_SOURCE_DIR) + "/deploy/cryptolake.example.toml";
  auto r = RunCli({"--config", example, "--data", Data(), "alerts", "test", "--from",
                   "2021-04-17 00:00", "--to", "2021-04-21 00:00", "--symbols", "BTCUSDT"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("alerts test: 9 rules over 2021-04-17T00:00:00Z..2021-04-21T00:00:00Z"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("FIRING   warning  move-3pct-1h BTCUSDT moved -"), std::string::npos)
      << r.out;
}

TEST_F(AlertsCliTest, UsageErrors) {
  auto r = RunCli({"--data", Data(), "alerts", "test"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err,
            "error: alerts test: no rules: give --rules FILE or a config with [[alerts]] "
            "(--config, or ./cryptolake.toml)\n");
  r = RunCli({"--data", Data(), "alerts", "test", "--rules", Rules(), "--from", "2021-04-21",
              "--to", "2021-04-20"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err, "error: --from 2021-04-21T00:00:00Z must be before --to 2021-04-20T00:00:00Z\n");
  WriteText(*dir_ / "bad.toml", "[[alerts]]\nname = \"x\"\nkind = \"gap\"\n");
  r = RunCli({"--data", Data(), "alerts", "test", "--rules", (*dir_ / "bad.toml").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "error: " + (*dir_ / "bad.toml").string() + ": alerts[0] (x).minutes is required\n");
  r = RunCli({"alerts", "test", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Replay the lake's 1m history through the [[alerts]] rules"),
            std::string::npos);
  EXPECT_NE(r.out.find("a confirmed-empty range (an exchange outage) counts once the"),
            std::string::npos);
}

}  // namespace
}  // namespace cryptolake::alerts
