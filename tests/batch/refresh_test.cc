#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "lake/compact.h"

namespace cryptolake::batch {
namespace {

using testing::DayMs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;
using testing::VisionCsvSql;

using testing::kBtc1m2025;
using testing::kEth1m2025;

RefreshStats Refresh(SampleLake& lk, bool full = false) {
  RefreshOptions o;
  o.full = full;
  auto st = RefreshViews(lk.lake(), lk.con(), o);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return st.ok() ? *st : RefreshStats{};
}

std::string Before(const std::string& day) { return fmt::format("open_time < {}", DayMs(day)); }

void ExpectView(const RefreshStats& st, const std::string& view, int64_t recomputed,
                int64_t unchanged, int64_t written, int64_t retired) {
  auto it = st.views.find(view);
  ASSERT_NE(it, st.views.end()) << view;
  EXPECT_EQ(it->second.partitions_recomputed, recomputed) << view;
  EXPECT_EQ(it->second.partitions_unchanged, unchanged) << view;
  EXPECT_EQ(it->second.files_written, written) << view;
  EXPECT_EQ(it->second.files_retired, retired) << view;
}

TEST(RefreshTest, EmptyLakePublishesNothing) {
  SampleLake lk;
  auto st = Refresh(lk);
  EXPECT_FALSE(st.committed);
  EXPECT_EQ(st.version, 0);
  EXPECT_EQ(st.files_written, 0);
  EXPECT_EQ(st.views.size(), 3u);
  EXPECT_EQ(lk.Snap().version(), 0);
}

// New 1m rows for one day: only that symbol-year partition of daily_raw is recomputed, and the
// views are byte-identical to a full rebuild of a fresh lake holding the same master data.
TEST(RefreshTest, IncrementalRefreshRecomputesOnlyTheChangedPartitionAndMatchesAFullRebuild) {
  SampleLake inc;
  inc.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", Before("2025-08-17")));
  inc.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT", Before("2025-08-17")));
  auto first = Refresh(inc);
  EXPECT_TRUE(first.committed);
  ExpectView(first, kDailyRaw, 2, 0, 2, 0);
  ExpectView(first, kDailyFilled, 2, 0, 2, 0);
  ExpectView(first, kProphetInput, 2, 0, 2, 0);
  EXPECT_EQ(first.rows_written, 3 * 2 * 89);

  // Nothing changed: nothing recomputed, nothing published.
  auto idle = Refresh(inc);
  EXPECT_FALSE(idle.committed);
  EXPECT_EQ(idle.version, first.version);
  ExpectView(idle, kDailyRaw, 0, 2, 0, 0);
  ExpectView(idle, kDailyFilled, 0, 2, 0, 0);
  ExpectView(idle, kProphetInput, 0, 2, 0, 0);

  // One more day of BTCUSDT 1m rows.
  inc.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT",
                                   fmt::format("open_time >= {} AND {}", DayMs("2025-08-17"),
                                               Before("2025-08-18"))));
  auto before = inc.ViewFileHashes();
  auto st = Refresh(inc);
  EXPECT_TRUE(st.committed);
  ExpectView(st, kDailyRaw, 1, 1, 1, 1);
  ExpectView(st, kDailyFilled, 1, 1, 1, 1);
  ExpectView(st, kProphetInput, 1, 1, 1, 1);
  EXPECT_EQ(st.partitions_recomputed, 3);
  EXPECT_EQ(st.rows_written, 3 * 90);
  auto after = inc.ViewFileHashes();
  ASSERT_EQ(after.size(), 6u);
  EXPECT_NE(after["daily_raw/symbol=BTCUSDT/year=2025"],
            before["daily_raw/symbol=BTCUSDT/year=2025"]);
  EXPECT_EQ(after["daily_raw/symbol=ETHUSDT/year=2025"],
            before["daily_raw/symbol=ETHUSDT/year=2025"]);
  EXPECT_EQ(after["daily_filled/symbol=ETHUSDT/year=2025"],
            before["daily_filled/symbol=ETHUSDT/year=2025"]);
  EXPECT_EQ(
      *inc.con().QueryInt64("SELECT count(*) FROM " + ViewSql(inc.Snap(), kDailyRaw, "BTCUSDT")),
      90);

  // A fresh lake with the same master data (loaded differently: one commit per symbol), rebuilt
  // in full, has byte-identical view files.
  SampleLake fresh;
  fresh.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT", Before("2025-08-17")));
  fresh.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", Before("2025-08-18")));
  auto full = Refresh(fresh, true);
  EXPECT_EQ(full.partitions_recomputed, 6);
  EXPECT_EQ(fresh.ViewFileHashes(), after);

  // A full rebuild of the incremental lake rewrites every partition with the same bytes.
  auto again = Refresh(inc, true);
  ExpectView(again, kDailyRaw, 2, 0, 2, 2);
  ExpectView(again, kDailyFilled, 2, 0, 2, 2);
  ExpectView(again, kProphetInput, 2, 0, 2, 2);
  EXPECT_EQ(inc.ViewFileHashes(), after);
}

// A refresh on a paced connection (as `cryptolake up` runs it) sleeps after each of its queries
// and writes the same views as an unpaced one. On a TickingClock every query lasts one tick, so
// at duty 0.2 the refresh sleeps exactly 4 ticks per query.
TEST(RefreshTest, PacedRefreshSleepsBetweenItsQueriesAndWritesTheSameViews) {
  SampleLake plain, paced;
  for (SampleLake* lk : {&plain, &paced}) {
    lk->Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", Before("2025-06-01")));
    lk->Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT", Before("2025-06-01")));
  }
  auto a = Refresh(plain);
  testing::TickingClock clock(1'000);
  Pacer pacer(clock, 0.2);
  paced.con().SetPacer(&pacer);
  auto b = Refresh(paced);
  paced.con().SetPacer(nullptr);
  EXPECT_TRUE(b.committed);
  EXPECT_EQ(b.rows_written, a.rows_written);
  EXPECT_EQ(b.files_written, 6);
  EXPECT_EQ(paced.ViewFileHashes(), plain.ViewFileHashes());
  EXPECT_GE(pacer.stats().units, 10);  // one per statement of the refresh
  EXPECT_EQ(pacer.stats().worked, 1'000 * pacer.stats().units);
  EXPECT_EQ(pacer.stats().slept, 4 * pacer.stats().worked);
  EXPECT_EQ(paced.clock().Now(), plain.clock().Now());  // the lake's clock is not the pacer's
}

// Master files rewritten with the same rows (compaction) change the fingerprint: the partition is
// recomputed, but its content is the same, so no view file is rewritten.
TEST(RefreshTest, RecomputedPartitionWithSameContentKeepsItsFiles) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", Before("2025-06-01")));
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", Before("2025-06-01"), "stream"),
            lake::Source::kStream);
  Refresh(lk);
  auto before = lk.ViewFileHashes();
  auto c = lake::Compact(lk.lake(), lk.con());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rows_dropped, 12 * 1440);
  auto st = Refresh(lk);
  ExpectView(st, kDailyRaw, 1, 0, 0, 0);
  ExpectView(st, kDailyFilled, 0, 1, 0, 0);
  ExpectView(st, kProphetInput, 0, 1, 0, 0);
  EXPECT_TRUE(st.committed);  // the new fingerprint is stored
  EXPECT_EQ(lk.ViewFileHashes(), before);
  EXPECT_TRUE(StalePartitions(lk.Snap()).empty());
}

// Partitions whose master data disappeared are retired; the other year is kept.
TEST(RefreshTest, PartitionsWhoseMasterDataDisappearedAreRetired) {
  SampleLake lk;
  lk.Commit("15m",
            VisionCsvSql(Klines("15m/BTCUSDT-15m-202?-*.csv"), "BTCUSDT", Before("2025-02-01")));
  lk.Commit("15m",
            VisionCsvSql(Klines("15m/ETHUSDT-15m-2025-*.csv"), "ETHUSDT", Before("2025-02-01")));
  auto first = Refresh(lk);
  ExpectView(first, kDailyRaw, 3, 0, 3, 0);
  auto snap = lk.Snap();
  ASSERT_EQ(snap.Files(kDailyRaw, "BTCUSDT").size(), 2u);
  EXPECT_EQ(snap.Files(kDailyRaw, "BTCUSDT")[0]->partition, "year=2024");
  EXPECT_EQ(snap.Files(kDailyFilled, "BTCUSDT").size(), 2u);
  EXPECT_TRUE(StalePartitions(snap).empty());

  // Retire BTCUSDT's December 2024 master file.
  auto txn = lk.lake().Begin();
  ASSERT_TRUE(txn.ok());
  for (auto* f : snap.Files("klines_15m", "BTCUSDT")) {
    if (f->partition == "year=2024/month=12") txn->RetireFile(f->path);
  }
  ASSERT_TRUE(lk.lake().Commit(std::move(txn).value()).ok());
  EXPECT_EQ(StalePartitions(lk.Snap()), (std::vector<PartitionKey>{{"BTCUSDT", "2024"}}));

  auto st = Refresh(lk);
  ExpectView(st, kDailyRaw, 0, 2, 0, 1);
  // daily_filled 2025 changes too: its first moving averages no longer see December's closes.
  ExpectView(st, kDailyFilled, 1, 1, 1, 2);
  // prophet_input 2025 (ds, y) did not change.
  ExpectView(st, kProphetInput, 0, 2, 0, 1);
  snap = lk.Snap();
  ASSERT_EQ(snap.Files(kDailyRaw, "BTCUSDT").size(), 1u);
  EXPECT_EQ(snap.Files(kDailyRaw, "BTCUSDT")[0]->partition, "year=2025");
  EXPECT_EQ(snap.Files(kDailyFilled, "BTCUSDT").size(), 1u);
  EXPECT_EQ(snap.Files(kProphetInput, "BTCUSDT").size(), 1u);
  EXPECT_EQ(*lk.con().QueryInt64("SELECT count(*) FROM " + ViewSql(snap, kDailyFilled, "BTCUSDT")),
            31);
  EXPECT_TRUE(StalePartitions(snap).empty());

  // All master data of ETHUSDT gone: all its view partitions go.
  auto txn2 = lk.lake().Begin();
  for (auto* f : snap.Files("klines_15m", "ETHUSDT")) txn2->RetireFile(f->path);
  ASSERT_TRUE(lk.lake().Commit(std::move(txn2).value()).ok());
  auto gone = Refresh(lk);
  ExpectView(gone, kDailyRaw, 0, 1, 0, 1);
  ExpectView(gone, kDailyFilled, 0, 1, 0, 1);
  ExpectView(gone, kProphetInput, 0, 1, 0, 1);
  EXPECT_TRUE(lk.Snap().Files(kDailyFilled, "ETHUSDT").empty());
}

// Recomputing several consecutive years of a symbol (read as one range) gives what a full
// rebuild gives.
TEST(RefreshTest, ChangeAcrossAYearBoundaryRecomputesBothYears) {
  SampleLake lk;
  for (const char* sym : {"BTCUSDT", "ETHUSDT"}) {
    lk.Commit("15m", VisionCsvSql(Klines(std::string("15m/") + sym + "-15m-202?-*.csv"), sym,
                                  Before("2025-02-01")));
  }
  Refresh(lk);
  // REST re-delivers 2024-12-31 and 2025-01-01 of BTCUSDT with a different close at 23:45.
  lk.Commit("15m",
            "SELECT * REPLACE (CASE WHEN epoch_us(open_time) % 86400000000 = 85500000000 THEN "
            "close + 1 ELSE close END AS close) FROM (" +
                VisionCsvSql(Klines("15m/BTCUSDT-15m-202?-*.csv"), "BTCUSDT",
                             fmt::format("open_time >= {} AND {}", DayMs("2024-12-31"),
                                         Before("2025-01-02")),
                             1000, "rest") +
                ")",
            lake::Source::kRest);
  auto st = Refresh(lk);
  ExpectView(st, kDailyRaw, 2, 2, 2, 2);
  ExpectView(st, kDailyFilled, 2, 2, 2, 2);
  auto inc = lk.ViewFileHashes();
  auto closes = lk.con().Query("SELECT close FROM " + ViewSql(lk.Snap(), kDailyRaw, "BTCUSDT") +
                               " WHERE day BETWEEN DATE '2024-12-31' AND DATE '2025-01-01' "
                               "ORDER BY day");
  ASSERT_TRUE(closes.ok() && closes->rows() == 2u);
  EXPECT_EQ(closes->GetDouble(0, 0), 93576.00 + 1);  // Binance's 2024-12-31 close, plus one
  Refresh(lk, true);
  EXPECT_EQ(lk.ViewFileHashes(), inc);
}

// A view file retired behind the refresh's back is recomputed by the next incremental refresh.
TEST(RefreshTest, LostViewFileIsRecomputed) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT", Before("2025-06-01")));
  Refresh(lk);
  auto before = lk.ViewFileHashes();
  auto snap = lk.Snap();
  auto txn = lk.lake().Begin();
  txn->RetireFile(snap.Files(kDailyRaw)[0]->path);
  txn->RetireFile(snap.Files(kProphetInput)[0]->path);
  ASSERT_TRUE(lk.lake().Commit(std::move(txn).value()).ok());
  auto st = Refresh(lk);
  ExpectView(st, kDailyRaw, 1, 0, 1, 0);
  ExpectView(st, kDailyFilled, 0, 1, 0, 0);
  ExpectView(st, kProphetInput, 1, 0, 1, 0);
  EXPECT_EQ(lk.ViewFileHashes(), before);
}

TEST(RefreshTest, FormatRefreshSummary) {
  RefreshStats st;
  st.views[kDailyRaw] = {1, 1, 1, 1, 90};
  st.views[kDailyFilled] = {1, 1, 1, 1, 91};
  st.views[kProphetInput] = {0, 2, 0, 0, 0};
  st.partitions_recomputed = 2;
  st.partitions_unchanged = 4;
  st.files_written = 2;
  st.files_retired = 2;
  st.rows_written = 181;
  st.version = 7;
  st.committed = true;
  EXPECT_EQ(FormatRefreshSummary(st),
            "daily_raw: 1 partition recomputed, 1 unchanged, 1 file written, 1 retired\n"
            "daily_filled: 1 partition recomputed, 1 unchanged, 1 file written, 1 retired\n"
            "prophet_input: 0 partitions recomputed, 2 unchanged, 0 files written, 0 retired\n"
            "total: 2 partitions recomputed, 4 unchanged, 2 files written, 2 retired, 181 rows "
            "written (manifest version 7)\n");
  st.committed = false;
  EXPECT_NE(FormatRefreshSummary(st).find("(views up to date at manifest version 7)"),
            std::string::npos);
}

// Timing of a full refresh over the whole 1m window (2 symbols x 130,708 rows).
TEST(RefreshTest, FullRefreshOfTheOneMinuteWindow) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT"));
  lk.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT"));
  auto t0 = std::chrono::steady_clock::now();
  auto st = Refresh(lk, true);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "full refresh of 261,416 1m rows: " << ms << " ms\n" << FormatRefreshSummary(st);
  ::testing::Test::RecordProperty("full_refresh_ms", static_cast<int>(ms));
  EXPECT_EQ(st.files_written, 6);
  EXPECT_EQ(st.rows_written, 3 * 2 * 91);
}

}  // namespace
}  // namespace cryptolake::batch
