// lake/klines.h on a real lake in a temp dir: the layout of staged klines (one file per symbol,
// year and month), reading them back with the dedup rule and the filters, and the meta helpers.
// Rows are the real 1m klines of ../shared/data around 2025-06-01 00:00 UTC (values from the
// CSV files).
#include "lake/klines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch/sample_lake.h"

namespace cryptolake::lake {
namespace {

using testing::DayMs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;

const Interval k1m{"1m", kMicrosPerMinute};

// 2025-05-31 23:58 .. 2025-06-01 00:01 (4 minutes across a month boundary).
std::string Around(const std::string& glob, const std::string& symbol, const std::string& source) {
  return OneMinuteCsvSql(
      Klines(glob), symbol,
      fmt::format("open_time >= {} AND open_time < {}", DayMs("2025-06-01") - 2 * 60000,
                  DayMs("2025-06-01") + 2 * 60000),
      source);
}

// "SYMBOL open_time close source" of each row of `sql`, in order.
std::vector<std::string> Rows(Connection& con, const std::string& sql) {
  auto r = con.Query("SELECT symbol, strftime(open_time, '%Y-%m-%d %H:%M'), close, source FROM " +
                     sql + " ORDER BY symbol, open_time");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> out;
  for (size_t i = 0; r.ok() && i < r->rows(); ++i) {
    out.push_back(r->GetString(0, i) + " " + r->GetString(1, i) + " " + r->GetString(2, i) + " " +
                  r->GetString(3, i));
  }
  return out;
}

TEST(KlinesTest, DatasetNamesAndStageSpecs) {
  EXPECT_EQ(KlinesDataset(k1m), "klines_1m");
  StageSpec m = KlinesStageSpec(k1m, Source::kImport);
  EXPECT_EQ(m.dataset, "klines_1m");
  EXPECT_EQ(m.dir, "klines_1m");
  EXPECT_EQ(m.partitions, (std::vector<std::string>{"year", "month"}));
  EXPECT_EQ(m.time_column, "open_time");
  EXPECT_EQ(m.source, "import");
  EXPECT_EQ(m.order_by, "open_time, source");
  StageSpec d = KlinesStageSpec(*Interval::Parse("1d"), Source::kRest);
  EXPECT_EQ(d.dataset, "klines_1d");
  EXPECT_EQ(d.partitions, std::vector<std::string>{"year"});
  EXPECT_EQ(d.source, "rest");
}

TEST(KlinesTest, StagedRowsLandInOneFilePerSymbolYearAndMonth) {
  SampleLake lk;
  lk.Commit("1m", Around(testing::kBtc1m2025, "BTCUSDT", "import") + " UNION ALL " +
                      Around(testing::kEth1m2025, "ETHUSDT", "import"));
  Snapshot snap = lk.Snap();
  std::vector<std::string> files;
  for (const FileEntry* f : snap.Files("klines_1m")) {
    files.push_back(fmt::format("{} {} rows {} {}..{}", f->symbol, f->partition, f->rows,
                                FormatIso(f->min_time), FormatIso(f->max_time)));
    EXPECT_EQ(f->path.rfind("klines_1m/symbol=" + f->symbol + "/" + f->partition + "/", 0), 0u)
        << f->path;
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files,
            (std::vector<std::string>{
                "BTCUSDT year=2025/month=05 rows 2 2025-05-31T23:58:00Z..2025-05-31T23:59:00Z",
                "BTCUSDT year=2025/month=06 rows 2 2025-06-01T00:00:00Z..2025-06-01T00:01:00Z",
                "ETHUSDT year=2025/month=05 rows 2 2025-05-31T23:58:00Z..2025-05-31T23:59:00Z",
                "ETHUSDT year=2025/month=06 rows 2 2025-06-01T00:00:00Z..2025-06-01T00:01:00Z",
            }));
  EXPECT_EQ(KlineIntervals(snap).size(), 1u);
  EXPECT_EQ(KlineIntervals(snap)[0].name, "1m");
  EXPECT_EQ(
      Rows(lk.con(), KlinesSql(snap, k1m)),
      (std::vector<std::string>{
          "BTCUSDT 2025-05-31 23:58 104595.95 import", "BTCUSDT 2025-05-31 23:59 104591.88 import",
          "BTCUSDT 2025-06-01 00:00 104647.11 import", "BTCUSDT 2025-06-01 00:01 104600.77 import",
          "ETHUSDT 2025-05-31 23:58 2527.91 import", "ETHUSDT 2025-05-31 23:59 2528.06 import",
          "ETHUSDT 2025-06-01 00:00 2528.52 import", "ETHUSDT 2025-06-01 00:01 2526.1 import"}));
  // Filters: one symbol, [from, to).
  KlineFilter f;
  f.symbol = "ETHUSDT";
  f.from = testing::DayUs("2025-05-31") + 23 * kMicrosPerHour + 59 * kMicrosPerMinute;
  f.to = testing::DayUs("2025-06-01") + kMicrosPerMinute;
  EXPECT_EQ(Rows(lk.con(), KlinesSql(snap, k1m, f)),
            (std::vector<std::string>{"ETHUSDT 2025-05-31 23:59 2528.06 import",
                                      "ETHUSDT 2025-06-01 00:00 2528.52 import"}));
  // No files of an interval: a query with the columns and no rows.
  EXPECT_EQ(Rows(lk.con(), KlinesSql(snap, *Interval::Parse("1h"))), std::vector<std::string>{});
}

// One row per (symbol, open_time): rest > import > stream, whatever the commit order.
TEST(KlinesTest, DedupKeepsTheHighestPrioritySource) {
  SampleLake lk;
  lk.Commit("1m", Around(testing::kBtc1m2025, "BTCUSDT", "stream"), Source::kStream);
  lk.Commit("1m",
            "SELECT * REPLACE (close + 1 AS close) FROM (" +
                Around(testing::kBtc1m2025, "BTCUSDT", "rest") +
                ") WHERE open_time < TIMESTAMPTZ '2025-06-01 00:00:00+00'",
            Source::kRest);
  lk.Commit("1m",
            "SELECT * REPLACE (close + 2 AS close) FROM (" +
                Around(testing::kBtc1m2025, "BTCUSDT", "import") +
                ") WHERE open_time >= TIMESTAMPTZ '2025-05-31 23:59:00+00'",
            Source::kImport);
  Snapshot snap = lk.Snap();
  EXPECT_EQ(Rows(lk.con(), KlinesSql(snap, k1m)),
            (std::vector<std::string>{"BTCUSDT 2025-05-31 23:58 104596.95 rest",
                                      "BTCUSDT 2025-05-31 23:59 104592.88 rest",
                                      "BTCUSDT 2025-06-01 00:00 104649.11 import",
                                      "BTCUSDT 2025-06-01 00:01 104602.77 import"}));
  EXPECT_EQ(Rows(lk.con(), KlinesSql(snap, k1m, {}, /*dedup=*/false)).size(), 4u + 2u + 3u);
}

TEST(KlinesTest, RefetchRangesAreMergedAndCutOut) {
  Manifest m;
  m.meta[kRefetchKey] = WithRefetch(nullptr, "klines_1m", "BTCUSDT", {{300, 400}, {100, 200}});
  m.meta[kRefetchKey] = WithRefetch(m.meta[kRefetchKey], "klines_1m", "BTCUSDT", {{200, 250}});
  EXPECT_EQ(RefetchRanges(m, "klines_1m", "BTCUSDT"), (TimeRanges{{100, 250}, {300, 400}}));
  EXPECT_EQ(m.meta[kRefetchKey].dump(), R"({"klines_1m":{"BTCUSDT":[[100,250],[300,400]]}})");
  m.meta[kRefetchKey] = WithoutRefetch(m.meta[kRefetchKey], "klines_1m", "BTCUSDT", {{150, 350}});
  EXPECT_EQ(RefetchRanges(m, "klines_1m", "BTCUSDT"), (TimeRanges{{100, 150}, {350, 400}}));
  // Nothing left: the symbol, then the dataset, go.
  m.meta[kRefetchKey] = WithoutRefetch(m.meta[kRefetchKey], "klines_1m", "BTCUSDT", {{0, 1000}});
  EXPECT_EQ(m.meta[kRefetchKey].dump(), "{}");
  EXPECT_EQ(RefetchRanges(m, "klines_1m", "BTCUSDT"), TimeRanges{});
  EXPECT_EQ(RefetchRanges(m, "klines_1h", "ETHUSDT"), TimeRanges{});
}

}  // namespace
}  // namespace cryptolake::lake
