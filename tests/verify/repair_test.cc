#include "verify/repair.h"

#include <gtest/gtest.h>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "core/fsutil.h"
#include "verify/verify.h"

namespace cryptolake::verify {
namespace {

namespace fs = std::filesystem;
using testing::DayMs;
using testing::DayUs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;

// Both symbols of the real 2025 window up to 2025-07-01, views built: 4 master files.
void Load(SampleLake& lk) {
  std::string where = fmt::format("open_time < {}", DayMs("2025-07-01"));
  lk.Commit("1m", OneMinuteCsvSql(Klines(testing::kBtc1m2025), "BTCUSDT", where));
  lk.Commit("1m", OneMinuteCsvSql(Klines(testing::kEth1m2025), "ETHUSDT", where));
  ASSERT_TRUE(batch::RefreshViews(lk.lake(), lk.con()).ok());
}

// Every deduplicated master row, as text, in key order.
std::string Rows(SampleLake& lk) {
  auto r = lk.con().Query(fmt::format(
      "SELECT string_agg(CAST(ROW(symbol, open_time, open, high, low, close, volume) AS VARCHAR), "
      "chr(10) ORDER BY symbol, open_time) FROM {}",
      lake::KlinesSql(lk.Snap(), *Interval::Parse("1m"))));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->GetString(0, 0) : "";
}

TEST(RepairTest, RebuildsALostManifestFromTheFilesAndLeavesWhatItCannotVouchFor) {
  SampleLake lk;
  Load(lk);
  const std::string rows = Rows(lk);
  const auto live = lk.Snap().Files("klines_1m");
  ASSERT_EQ(live.size(), 4u);
  const int64_t views = static_cast<int64_t>(lk.Snap().manifest().files.size()) - 4;
  // A user's file at a place the lake does not write, and a damaged copy where it does.
  const fs::path junk = lk.root() / "klines_1m/notes.parquet";
  ASSERT_TRUE(lk.con()
                  .Exec(fmt::format("COPY (SELECT 1 AS x) TO {} (FORMAT parquet)",
                                    lake::SqlQuote(junk.string())))
                  .ok());
  const std::string broken = "klines_1m/symbol=BTCUSDT/year=2025/month=05/part-9-9-9.parquet";
  testing::WriteText(lk.root() / broken, "PAR1 not really parquet");
  const std::string junk_hash = *Sha256File(junk);
  fs::remove(lk.root() / "_manifest.json");
  ASSERT_FALSE(lk.lake().GetSnapshot().ok());

  auto rep = RebuildManifest(lk.lake(), lk.con());
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->rebuilt);
  EXPECT_EQ(rep->adopted.size(), 4u);
  EXPECT_EQ(rep->rows, 2 * (12 + 30) * 1440);
  EXPECT_EQ(static_cast<int64_t>(rep->retired_views.size()), views);
  ASSERT_EQ(rep->unaccounted.size(), 2u);
  EXPECT_EQ(rep->unaccounted[0].first, "klines_1m/notes.parquet");
  EXPECT_EQ(rep->unaccounted[0].second, "not a path the lake writes");
  EXPECT_EQ(rep->unaccounted[1].first, broken);
  EXPECT_EQ(rep->unaccounted[1].second.rfind("not readable as Parquet: ", 0), 0u)
      << rep->unaccounted[1].second;
  EXPECT_EQ(rep->ExitCode(), 2);

  // Every committed row is back, byte for byte the same files; the unaccounted ones untouched.
  EXPECT_EQ(Rows(lk), rows);
  auto snap = lk.Snap();
  EXPECT_EQ(snap.version(), 1);
  for (const auto* f : snap.Files("klines_1m")) EXPECT_EQ(*Sha256File(snap.Abs(*f)), f->sha256);
  EXPECT_EQ(*Sha256File(junk), junk_hash);
  EXPECT_TRUE(fs::exists(lk.root() / broken));
  // The views come back from `batch`; then the lake verifies clean.
  ASSERT_TRUE(batch::RefreshViews(lk.lake(), lk.con()).ok());
  auto v = Verify(lk.Snap(), lk.con());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ExitCode(), 0) << FormatReport(*v);
  // A second rebuild is refused: there is a manifest now.
  auto again = RebuildManifest(lk.lake(), lk.con());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

TEST(RepairTest, DropRetiresAFileAndRecordsItsKeysForBackfill) {
  SampleLake lk;
  Load(lk);
  auto snap = lk.Snap();
  const auto* f = snap.Files("klines_1m", "ETHUSDT")[0];  // 2025-05
  const std::string path = f->path;
  auto rep = DropFiles(lk.lake(), {(lk.root() / path).string()});
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_EQ(rep->dropped, std::vector<std::string>{path});
  auto after = lk.Snap();
  EXPECT_EQ(after.Files("klines_1m", "ETHUSDT").size(), 1u);
  EXPECT_EQ(lake::RefetchRanges(after.manifest(), "klines_1m", "ETHUSDT"),
            (lake::TimeRanges{{DayUs("2025-05-20"), DayUs("2025-06-01") - kMicrosPerMinute + 1}}));
  ASSERT_TRUE(batch::RefreshViews(lk.lake(), lk.con()).ok());
  auto v = Verify(lk.Snap(), lk.con());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ExitCode(), 1) << FormatReport(*v);
  ASSERT_EQ(v->gap_ranges(), 1) << FormatReport(*v);
  EXPECT_EQ(v->findings[0].detail,
            "2025-05-20 00:00..2025-06-01 00:00 (17280 missing: dropped by `cryptolake repair "
            "--drop`; `cryptolake backfill` fetches them again)");
  // Not a live file any more: a clear error, nothing changes.
  auto twice = DropFiles(lk.lake(), {path});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(),
            path + " is not a live file of the lake at " + lk.root().string() +
                " (`cryptolake verify` names damaged files by their path relative to the data "
                "root)");
}

TEST(RepairTest, DroppingAViewFileMakesTheNextBatchRebuildTheViews) {
  SampleLake lk;
  Load(lk);
  const std::string path = lk.Snap().Files(batch::kDailyFilled, "BTCUSDT")[0]->path;
  ASSERT_TRUE(DropFiles(lk.lake(), {path}).ok());
  EXPECT_FALSE(
      lk.Snap().manifest().meta.value(batch::kRefreshMetaKey, nlohmann::json()).is_object());
  auto st = batch::RefreshViews(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok());
  EXPECT_GT(st->partitions_recomputed, 0);
  auto v = Verify(lk.Snap(), lk.con());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ExitCode(), 0) << FormatReport(*v);
}

}  // namespace
}  // namespace cryptolake::verify
