// lake/compact.h and lake/inspect.h on a real lake in a temp dir holding the real 1m klines of
// ../shared/data (BTCUSDT, 2025-05-20): compaction merges a partition's files and drops shadowed
// duplicates without changing what is read; Inspect counts and digests what is read.
#include "lake/compact.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch/sample_lake.h"
#include "lake/inspect.h"
#include "lake/klines.h"

namespace cryptolake::lake {
namespace {

using testing::DayMs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;

const Interval k1m{"1m", kMicrosPerMinute};

// BTCUSDT's 1m klines of 2025-05-20 in minutes [from, to) of the day, as `source`.
std::string Minutes(int from, int to, const std::string& source = "import") {
  const int64_t day = DayMs("2025-05-20");
  return OneMinuteCsvSql(
      Klines(testing::kBtc1m2025), "BTCUSDT",
      fmt::format("open_time >= {} AND open_time < {}", day + from * 60000LL, day + to * 60000LL),
      source);
}

// count, sum of closes and first/last open_time of what KlinesSql reads.
std::string ReadSummary(SampleLake& lk) {
  auto r = lk.con().Query(
      "SELECT count(*), sum(close)::DECIMAL(18,2), min(open_time), max(open_time) FROM " +
      KlinesSql(lk.Snap(), k1m));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->GetString(0, 0) + " " + r->GetString(1, 0) + " " + r->GetString(2, 0) + " " +
                      r->GetString(3, 0)
                : "";
}

std::string Show(const CompactStats& s) {
  return fmt::format("rewritten {} retired {} written {} rows {} dropped {}",
                     s.partitions_rewritten, s.files_retired, s.files_written, s.rows_written,
                     s.rows_dropped);
}

TEST(CompactTest, MergesOverlappingFilesAndKeepsWhatIsRead) {
  SampleLake lk;
  lk.Commit("1m", Minutes(0, 600));
  lk.Commit("1m", Minutes(300, 900));  // 300 minutes again
  lk.Commit("1m", Minutes(900, 960, "rest"), Source::kRest);
  ASSERT_EQ(lk.Snap().Files("klines_1m").size(), 3u);
  const std::string before = ReadSummary(lk);
  EXPECT_EQ(before.substr(0, 4), "960 ");

  auto st = Compact(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Show(*st), "rewritten 1 retired 3 written 1 rows 960 dropped 300");
  const Snapshot snap = lk.Snap();
  auto files = snap.Files("klines_1m");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0]->rows, 960);
  EXPECT_EQ(files[0]->source, "compact");
  EXPECT_EQ(files[0]->partition, "year=2025/month=05");
  EXPECT_EQ(FormatIso(files[0]->min_time), "2025-05-20T00:00:00Z");
  EXPECT_EQ(FormatIso(files[0]->max_time), "2025-05-20T15:59:00Z");
  EXPECT_EQ(ReadSummary(lk), before);
  // The rest rows keep their source through the rewrite.
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + KlinesSql(lk.Snap(), k1m) +
                                 " WHERE source = 'rest'"),
            60);

  // Nothing left to do: a single file without duplicate keys stays.
  auto again = Compact(lk.lake(), lk.con());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Show(*again), "rewritten 0 retired 0 written 0 rows 0 dropped 0");
  EXPECT_EQ(lk.Snap().Files("klines_1m").at(0)->path, files[0]->path);
}

TEST(CompactTest, OnlyTheNamedDatasetAndOneFileWithDuplicates) {
  SampleLake lk;
  // One file holding minutes 0..9 twice (as import and as stream): rewritten on its own.
  lk.Commit("1m", Minutes(0, 10) + " UNION ALL " + Minutes(0, 10, "stream"));
  lk.Commit("1h", Minutes(0, 1));
  lk.Commit("1h", Minutes(1, 2));
  auto none = Compact(lk.lake(), lk.con(), "klines_1d");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Show(*none), "rewritten 0 retired 0 written 0 rows 0 dropped 0");
  auto st = Compact(lk.lake(), lk.con(), "klines_1m");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(Show(*st), "rewritten 1 retired 1 written 1 rows 10 dropped 10");
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + KlinesSql(lk.Snap(), k1m, {}, false) +
                                 " WHERE source = 'import'"),
            10);
  EXPECT_EQ(lk.Snap().Files("klines_1h").size(), 2u);  // not named: left alone
}

TEST(InspectTest, CountsDedupedRowsAndDigestsContentNotLayout) {
  SampleLake a, b;
  a.Commit("1m", Minutes(0, 600));
  a.Commit("1m", Minutes(300, 900));
  b.Commit("1m", Minutes(0, 900));
  auto sa = Inspect(a.Snap(), a.con(), true);
  auto sb = Inspect(b.Snap(), b.con(), true);
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_EQ(sa->size(), 1u);
  const DatasetStats& s = (*sa)[0];
  EXPECT_EQ(s.dataset, "klines_1m");
  EXPECT_EQ(s.symbol, "BTCUSDT");
  EXPECT_EQ(s.files, 2);
  EXPECT_EQ(s.rows, 900);
  EXPECT_EQ(s.stored_rows, 1200);
  EXPECT_EQ(FormatIso(s.first), "2025-05-20T00:00:00Z");
  EXPECT_EQ(FormatIso(s.last), "2025-05-20T14:59:00Z");
  // Same rows, other files: the same digest; one row fewer: another.
  EXPECT_EQ(s.digest, (*sb)[0].digest);
  EXPECT_NE(s.digest, "0");
  SampleLake c;
  c.Commit("1m", Minutes(0, 899));
  EXPECT_NE(Inspect(c.Snap(), c.con(), true).value()[0].digest, s.digest);
  // Without the digest: the counts only.
  auto plain = Inspect(a.Snap(), a.con(), false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)[0].rows, 900);
  EXPECT_EQ((*plain)[0].digest, "");
  // An empty lake: no entries.
  SampleLake empty;
  EXPECT_EQ(Inspect(empty.Snap(), empty.con(), true).value().size(), 0u);
}

TEST(InspectTest, FormatStatsTable) {
  DatasetStats s;
  s.dataset = "klines_1m";
  s.symbol = "BTCUSDT";
  s.files = 2;
  s.rows = 900;
  s.stored_rows = 1200;
  s.first = testing::DayUs("2025-05-20");
  s.last = s.first + 899 * kMicrosPerMinute;
  s.digest = "1234";
  EXPECT_EQ(FormatStats({s}, false),
            "dataset          symbol      files       rows     stored  first                last"
            "                \n"
            "klines_1m        BTCUSDT         2        900       1200  2025-05-20T00:00:00Z "
            "2025-05-20T14:59:00Z\n");
  EXPECT_EQ(FormatStats({s}, true),
            "dataset          symbol      files       rows     stored  first                last"
            "                  digest\n"
            "klines_1m        BTCUSDT         2        900       1200  2025-05-20T00:00:00Z "
            "2025-05-20T14:59:00Z  1234\n");
}

}  // namespace
}  // namespace cryptolake::lake
