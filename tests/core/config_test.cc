#include "core/config.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::TempDir;
using testing::WriteText;

TEST(ConfigTest, MissingOptionalFileGivesDefaults) {
  TempDir d;
  auto c = Config::Load(d / "none.toml", false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_root, "data");
  EXPECT_EQ(c->symbols, (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
}

TEST(ConfigTest, ReadsValuesRelativeToTheFile) {
  TempDir d;
  WriteText(d / "cryptolake.toml",
            "symbols = [\"SOLUSDT\"]\n[lake]\ndata = \"lake\"\ngc_grace_seconds = 5\n");
  auto c = Config::Load(d / "cryptolake.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->symbols, std::vector<std::string>{"SOLUSDT"});
  EXPECT_EQ(c->data_root, d.path() / "lake");
  EXPECT_EQ(c->gc_grace_seconds, 5);
}

// The error of loading `text` as a config file, without the "<file>: " prefix ("" if it loads).
std::string Error(const std::string& text) {
  TempDir d;
  WriteText(d / "c.toml", text);
  auto c = Config::Load(d / "c.toml", true);
  if (c.ok()) return "";
  const std::string prefix = (d / "c.toml").string() + ": ";
  const std::string m = c.status().message();
  EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
  return m.substr(prefix.size());
}

StatusOr<Config> Load(const std::string& text) {
  TempDir d;
  WriteText(d / "c.toml", text);
  return Config::Load(d / "c.toml", true);
}

// Finding 8: `data = ""` made the config's own folder the lake.
TEST(ConfigTest, EmptyDataPathIsRefused) {
  EXPECT_EQ(Error("[lake]\ndata = \"\"\n"),
            "lake.data must be a non-empty path (relative to this file, or absolute), got \"\"");
  EXPECT_EQ(Error("[lake]\ndata = 5\n"),
            "lake.data must be a non-empty path (relative to this file, or absolute), got 5");
}

// Finding 8: negative grace periods deleted retired files at once, and the largest one
// overflowed when turned into microseconds.
TEST(ConfigTest, GcGraceSecondsOutsideZeroToTenYearsIsRefused) {
  const std::string what =
      "lake.gc_grace_seconds must be an integer number of seconds in [0, 315360000], got ";
  EXPECT_EQ(Error("[lake]\ngc_grace_seconds = -1\n"), what + "-1");
  EXPECT_EQ(Error("[lake]\ngc_grace_seconds = 9223372036854775807\n"),
            what + "9223372036854775807");
  EXPECT_EQ(Error("[lake]\ngc_grace_seconds = 315360001\n"), what + "315360001");
  EXPECT_EQ(Error("[lake]\ngc_grace_seconds = 1.5\n"), what + "1.5");
  EXPECT_EQ(Error("[lake]\ngc_grace_seconds = \"600\"\n"), what + "\"600\"");
  auto zero = Load("[lake]\ngc_grace_seconds = 0\n");
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  EXPECT_EQ(zero->gc_grace_seconds, 0);
  auto max = Load("[lake]\ngc_grace_seconds = 315360000\n");
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_EQ(max->gc_grace_seconds, 315360000);
}

// Finding 8: `weight_budget = 1` was refused with 'bad_cast'.
TEST(ConfigTest, WeightBudgetTakesAnIntegerAndMustBeInZeroToOne) {
  auto one = Load("[backfill]\nweight_budget = 1\n");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->backfill_weight_budget, 1.0);
  auto half = Load("[backfill]\nweight_budget = 0.5\n");
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  EXPECT_EQ(half->backfill_weight_budget, 0.5);
  const std::string what = "backfill.weight_budget must be a number in (0, 1], got ";
  EXPECT_EQ(Error("[backfill]\nweight_budget = 0\n"), what + "0");
  EXPECT_EQ(Error("[backfill]\nweight_budget = 1.5\n"), what + "1.5");
  EXPECT_EQ(Error("[backfill]\nweight_budget = -0.2\n"), what + "-0.2");
  EXPECT_EQ(Error("[backfill]\nweight_budget = nan\n"), what + "nan");
  EXPECT_EQ(Error("[backfill]\nweight_budget = \"0.5\"\n"), what + "\"0.5\"");
}

TEST(ConfigTest, ConcurrencyMustBeAnIntegerInOneTo256) {
  const std::string what = "backfill.concurrency must be an integer in [1, 256], got ";
  EXPECT_EQ(Error("[backfill]\nconcurrency = 0\n"), what + "0");
  EXPECT_EQ(Error("[backfill]\nconcurrency = -3\n"), what + "-3");
  EXPECT_EQ(Error("[backfill]\nconcurrency = 257\n"), what + "257");
  EXPECT_EQ(Error("[backfill]\nconcurrency = 4294967297\n"), what + "4294967297");
  EXPECT_EQ(Error("[backfill]\nconcurrency = 2.0\n"), what + "2");
  auto c = Load("[backfill]\nconcurrency = 256\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->backfill_concurrency, 256);
}

TEST(ConfigTest, EmptyStringsAndListsAreRefused) {
  EXPECT_EQ(Error("symbols = []\n"),
            "symbols must be a non-empty array of non-empty strings, got an array");
  EXPECT_EQ(Error("symbols = [\"BTCUSDT\", \"\"]\n"),
            "symbols must be a non-empty array of non-empty strings, got \"\" in it");
  EXPECT_EQ(Error("symbols = \"BTCUSDT\"\n"),
            "symbols must be a non-empty array of non-empty strings, got \"BTCUSDT\"");
  EXPECT_EQ(Error("intervals = []\n"),
            "intervals must be a non-empty array of non-empty strings, got an array");
  EXPECT_EQ(Error("intervals = [\"1m\", \"7m\"]\n"),
            "intervals: unsupported interval '7m' (accepted: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, "
            "8h, 12h, 1d)");
  EXPECT_EQ(Error("exchange = \"\"\n"), "exchange must be a non-empty URL, got \"\"");
  EXPECT_EQ(Error("stream_url = \"\"\n"), "stream_url must be a non-empty URL, got \"\"");
  EXPECT_EQ(Error("[backfill]\nstart = \"\"\n"),
            "backfill.start must be a time such as \"2025-01-01\", got \"\"");
  EXPECT_EQ(Error("[backfill]\nstart = 2025-01-01\n"),
            "backfill.start must be a time such as \"2025-01-01\", got a date or time (quote it)");
  EXPECT_EQ(Error("[backfill]\nstart = \"yesterday\"\n"),
            "backfill.start: unparseable time 'yesterday' (expected YYYY-MM-DD[ HH:MM[:SS]], UTC)");
  EXPECT_EQ(Error("lake = 3\n"), "lake must be a table, got 3");
}

TEST(ConfigTest, EveryKeyAtItsLimitsLoads) {
  auto c = Load(
      "symbols = [\"SOLUSDT\"]\nintervals = [\"1m\", \"1d\"]\nexchange = \"http://127.0.0.1:1\"\n"
      "stream_url = \"ws://127.0.0.1:1\"\n[backfill]\nstart = \"2025-01-01\"\nconcurrency = 1\n"
      "weight_budget = 1\n[lake]\ndata = \"/x\"\ngc_grace_seconds = 0\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->intervals, (std::vector<std::string>{"1m", "1d"}));
  EXPECT_EQ(c->backfill_start, "2025-01-01");
  EXPECT_EQ(c->backfill_concurrency, 1);
  EXPECT_EQ(c->data_root, "/x");
}

TEST(ConfigTest, UnknownKeyIsAnError) {
  TempDir d;
  WriteText(d / "c.toml", "[lake]\ndatta = \"x\"\n");
  auto c = Config::Load(d / "c.toml", true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), (d / "c.toml").string() + ": unknown key 'lake.datta'");
}

}  // namespace
}  // namespace cryptolake
