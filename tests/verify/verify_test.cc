#include "verify/verify.h"

#include <gtest/gtest.h>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "core/fsutil.h"

namespace cryptolake::verify {
namespace {

namespace fs = std::filesystem;
using testing::DayMs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;
using testing::VisionCsvSql;

using testing::kBtc1m2025;
using testing::kEth1m2025;

Micros At(const std::string& t) {
  auto r = ParseTime(t);
  EXPECT_TRUE(r.ok()) << t;
  return r.ok() ? *r : 0;
}

Report Check(SampleLake& lk, const VerifyOptions& o = {}) {
  auto r = Verify(lk.Snap(), lk.con(), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Report{};
}

void Refresh(SampleLake& lk) {
  auto st = batch::RefreshViews(lk.lake(), lk.con());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
}

std::vector<Finding> OfKind(const Report& r, Finding::Kind k) {
  std::vector<Finding> out;
  for (const auto& f : r.findings) {
    if (f.kind == k) out.push_back(f);
  }
  return out;
}

// "dataset symbol: detail" of every gap finding, in report order.
std::vector<std::string> GapLines(const Report& r) {
  std::vector<std::string> out;
  for (const auto& f : OfKind(r, Finding::kGap))
    out.push_back(f.dataset + " " + f.symbol + ": " + f.detail);
  return out;
}

// A lake of the gap-free 2025 window (both symbols, until `end`) with its views built.
void LoadClean(SampleLake& lk, const std::string& end = "2025-07-01") {
  std::string where = fmt::format("open_time < {}", DayMs(end));
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT", where));
  lk.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT", where));
  Refresh(lk);
}

// The real 2021 outages, as spans without data (end exclusive). The data README says
// "02:00-04:30" and "04:00-08:45"; in the data the 04:00 candle of 04-25 is present, so the
// second span starts at 04:01 (first and last missing minutes: 02:00..04:29, 04:01..08:44).
TEST(VerifyTest, ListsTheRealOutagesOfApril2021AsGapRanges) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines("1m/BTCUSDT-1m-20210402_20210514__*.csv.gz"), "BTCUSDT"));
  lk.Commit("1m", OneMinuteCsvSql(Klines("1m/ETHUSDT-1m-20210402_20210514__*.csv.gz"), "ETHUSDT"));
  Refresh(lk);
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 1) << FormatReport(r);
  EXPECT_EQ(r.errors(), 0);
  EXPECT_EQ(GapLines(r), (std::vector<std::string>{
                             "klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)",
                             "klines_1m BTCUSDT: 2021-04-25 04:01..08:45 (284 missing)",
                             "klines_1m ETHUSDT: 2021-04-20 02:00..04:30 (150 missing)",
                             "klines_1m ETHUSDT: 2021-04-25 04:01..08:45 (284 missing)",
                         }));
  EXPECT_EQ(r.findings.size(), 4u) << FormatReport(r);
  const Finding& g = r.findings[0];
  EXPECT_FALSE(g.error);
  EXPECT_EQ(g.count, 150);
  EXPECT_EQ(g.first, At("2021-04-20 02:00"));
  EXPECT_EQ(g.last, At("2021-04-20 04:29"));
  // 61272 + 61273 master rows, 43 days x 2 symbols x 3 views.
  EXPECT_EQ(r.rows_checked, 122545 + 43 * 2 * 3);
  EXPECT_EQ(r.files_checked, 4 + 3 * 2);
  EXPECT_NE(
      FormatReport(r).find("GAP   klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)\n"),
      std::string::npos);

  // With max_ranges 1 the second range of each symbol is folded into a summary.
  VerifyOptions o;
  o.max_ranges = 1;
  o.symbol = "BTCUSDT";
  Report one = Check(lk, o);
  EXPECT_EQ(GapLines(one),
            (std::vector<std::string>{
                "klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)",
                "klines_1m BTCUSDT: 1 more range between 2021-04-25 04:01..08:45 (284 "
                "missing)",
            }));
  EXPECT_EQ(one.rows_checked, 61272 + 43 * 3);
}

// Spans backfill recorded as confirmed empty by the exchange are notes, not gaps; a gap only
// partly covered is split into its confirmed and its still-missing parts.
TEST(VerifyTest, ConfirmedEmptyRangesAreNotesNotGaps) {
  SampleLake lk;
  lk.Commit("1m", OneMinuteCsvSql(Klines("1m/BTCUSDT-1m-20210402_20210514__*.csv.gz"), "BTCUSDT"));
  Refresh(lk);
  {
    auto txn = lk.lake().Begin();
    ASSERT_TRUE(txn.ok());
    // The whole first outage, and the first hour of the second (04:01..05:01).
    txn->SetMeta(lake::kConfirmedEmptyKey,
                 lake::WithConfirmedEmpty(nullptr, "klines_1m", "BTCUSDT",
                                          {{At("2021-04-20 02:00"), At("2021-04-20 04:30")},
                                           {At("2021-04-25 04:01"), At("2021-04-25 05:01")}}));
    ASSERT_TRUE(lk.lake().Commit(std::move(*txn)).ok());
  }
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 1) << FormatReport(r);
  EXPECT_EQ(GapLines(r), (std::vector<std::string>{
                             "klines_1m BTCUSDT: 2021-04-25 05:01..08:45 (224 missing)",
                         }));
  std::vector<std::string> notes;
  for (const auto& f : OfKind(r, Finding::kConfirmedEmpty)) {
    EXPECT_FALSE(f.error);
    notes.push_back(f.detail);
  }
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "2021-04-20 02:00..04:30 (150 missing, confirmed empty by the exchange)",
                       "2021-04-25 04:01..05:01 (60 missing, confirmed empty by the exchange)",
                   }));
  EXPECT_NE(FormatReport(r).find("note  confirmed_empty klines_1m BTCUSDT: 2021-04-20 "
                                 "02:00..04:30 (150 missing, confirmed empty by the exchange)"),
            std::string::npos)
      << FormatReport(r);

  // Once the rest is confirmed too, the lake is clean.
  {
    auto txn = lk.lake().Begin();
    ASSERT_TRUE(txn.ok());
    auto snap = lk.lake().GetSnapshot();
    ASSERT_TRUE(snap.ok());
    txn->SetMeta(
        lake::kConfirmedEmptyKey,
        lake::WithConfirmedEmpty(snap->manifest().meta[lake::kConfirmedEmptyKey], "klines_1m",
                                 "BTCUSDT", {{At("2021-04-25 05:01"), At("2021-04-25 08:45")}}));
    ASSERT_TRUE(lk.lake().Commit(std::move(*txn)).ok());
  }
  Report clean = Check(lk);
  EXPECT_EQ(clean.ExitCode(), 0) << FormatReport(clean);
  EXPECT_EQ(OfKind(clean, Finding::kConfirmedEmpty).size(), 2u);
  EXPECT_EQ(OfKind(clean, Finding::kConfirmedEmpty)[1].detail,
            "2021-04-25 04:01..08:45 (284 missing, confirmed empty by the exchange)");
}

// Missing days of the 1d dataset and of daily_raw are listed with the days daily_filled filled.
TEST(VerifyTest, DayGapsTellWhichDaysDailyFilledForwardFilled) {
  SampleLake lk;
  // 1m: 2021-09-17 22:23 .. 2021-10-17 22:21 with an outage 2021-09-29 07:00..08:59.
  lk.Commit("1m", OneMinuteCsvSql(Klines("1m/BTCUSDT-1m-20210917_20211017__*.csv.gz"), "BTCUSDT"));
  std::string days;
  for (const char* d : {"2021-10-05", "2021-10-17", "2021-10-18", "2021-11-09", "2021-11-10"}) {
    days += fmt::format(" AND open_time <> {}", DayMs(d));
  }
  lk.Commit("1d", VisionCsvSql(Klines("1d/BTCUSDT-1d-*.csv"), "BTCUSDT",
                               fmt::format("open_time BETWEEN {} AND {}{}", DayMs("2021-10-01"),
                                           DayMs("2021-11-30"), days)));
  Refresh(lk);
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 1) << FormatReport(r);
  EXPECT_EQ(r.errors(), 0);
  EXPECT_EQ(GapLines(r),
            (std::vector<std::string>{
                "klines_1m BTCUSDT: 2021-09-29 07:00..09:00 (120 missing)",
                // 10-05 comes from the 1m data; of 10-17..10-18 only 10-18 had to be filled.
                "klines_1d BTCUSDT: 2021-10-05..2021-10-05 (1 missing day)",
                "klines_1d BTCUSDT: 2021-10-17..2021-10-18 (2 missing days, 1 filled)",
                "klines_1d BTCUSDT: 2021-11-09..2021-11-10 (2 missing days, filled)",
                "daily_raw BTCUSDT: 2021-10-18..2021-10-18 (1 missing day, filled)",
                "daily_raw BTCUSDT: 2021-11-09..2021-11-10 (2 missing days, filled)",
            }))
      << FormatReport(r);
  auto gaps = OfKind(r, Finding::kGap);
  ASSERT_EQ(gaps.size(), 6u);
  EXPECT_EQ(gaps[2].filled, 1);
  EXPECT_EQ(gaps[2].count, 2);
  EXPECT_EQ(gaps[2].first, At("2021-10-17"));
  EXPECT_EQ(gaps[2].last, At("2021-10-18"));
}

TEST(VerifyTest, CleanLakeExitsZero) {
  SampleLake lk;
  LoadClean(lk, "2025-08-19");
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 0) << FormatReport(r);
  EXPECT_TRUE(r.findings.empty()) << FormatReport(r);
  // 4 monthly 1m files and 3 view files per symbol; 91 days per symbol in each view.
  EXPECT_EQ(r.files_checked, 14);
  EXPECT_EQ(r.rows_checked, 2 * 130708 + 3 * 2 * 91);
  EXPECT_EQ(FormatReport(r),
            "verify: manifest version 3, 14 files checked, 261962 rows checked\n"
            "summary: 0 errors, 0 gap ranges, 0 notes -> exit code 0\n");
  auto j = ReportToJson(r);
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["rows_checked"], 261962);
  EXPECT_TRUE(j["findings"].empty());
}

TEST(VerifyTest, EmptyLakeIsClean) {
  SampleLake lk;
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 0);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.files_checked, 0);
}

// Each planted fault is reported as exactly one finding, with exit code 2.
void ExpectOnlyError(const Report& r, Finding::Kind kind, const std::string& dataset,
                     const std::string& symbol, const std::string& detail) {
  EXPECT_EQ(r.ExitCode(), 2) << FormatReport(r);
  ASSERT_EQ(r.findings.size(), 1u) << FormatReport(r);
  const Finding& f = r.findings[0];
  EXPECT_EQ(KindName(f.kind), std::string(KindName(kind)));
  EXPECT_TRUE(f.error);
  EXPECT_EQ(f.dataset, dataset);
  EXPECT_EQ(f.symbol, symbol);
  EXPECT_EQ(f.detail, detail);
}

TEST(VerifyTest, SameSourceDuplicateIsAnError) {
  SampleLake lk;
  LoadClean(lk);
  // The same ten minutes imported a second time.
  lk.Commit("1m", OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT",
                                  fmt::format("open_time >= {0} AND open_time < {0} + 600000",
                                              DayMs("2025-06-01"))));
  Refresh(lk);
  Report r = Check(lk);
  ExpectOnlyError(r, Finding::kDuplicate, "klines_1m", "BTCUSDT",
                  "10 keys stored more than once by the same source (import): 10 extra rows; "
                  "first at 2025-06-01 00:00");
  EXPECT_EQ(r.findings[0].count, 10);
  EXPECT_EQ(r.findings[0].first, At("2025-06-01"));
}

TEST(VerifyTest, KeysFromSeveralSourcesAreOnlyCounted) {
  SampleLake lk;
  LoadClean(lk);
  lk.Commit("1m",
            OneMinuteCsvSql(
                Klines(kEth1m2025), "ETHUSDT",
                fmt::format("open_time >= {0} AND open_time < {0} + 300000", DayMs("2025-06-02")),
                "stream"),
            lake::Source::kStream);
  Refresh(lk);
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 0) << FormatReport(r);
  ASSERT_EQ(r.findings.size(), 1u) << FormatReport(r);
  EXPECT_EQ(r.findings[0].kind, Finding::kShadowed);
  EXPECT_FALSE(r.findings[0].error);
  EXPECT_EQ(r.findings[0].count, 5);
  EXPECT_EQ(FormatReport(r).find("note  shadowed klines_1m ETHUSDT: 5 keys stored by several "
                                 "sources (resolved at read time by source priority; compaction "
                                 "removes them)\n"),
            FormatReport(r).find('\n') + 1);
}

TEST(VerifyTest, WrongColumnTypeIsASchemaError) {
  SampleLake lk;
  LoadClean(lk);
  // An importer bug: trades written as DOUBLE. Rows right after the last minute (no gap).
  auto iv = *Interval::Parse("1m");
  auto txn = lk.lake().Begin();
  ASSERT_TRUE(txn.ok());
  std::string rows = OneMinuteCsvSql(
      Klines(kBtc1m2025), "BTCUSDT",
      fmt::format("open_time >= {0} AND open_time < {0} + 3600000", DayMs("2025-07-01")));
  // WithKlinePartitions casts to the schema, so the fault is planted around it: the partition
  // columns are added by hand and trades is a DOUBLE.
  auto added = lake::StageQuery(
      lk.con(), *txn,
      "SELECT symbol, '2025' AS year, '07' AS month, * EXCLUDE (symbol) REPLACE (CAST(trades AS "
      "DOUBLE) AS trades) FROM (" +
          rows + ")",
      lake::KlinesStageSpec(iv, lake::Source::kImport));
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->size(), 1u);
  std::string path = (*added)[0].path;
  ASSERT_TRUE(lk.lake().Commit(std::move(txn).value()).ok());
  Refresh(lk);
  Report r = Check(lk);
  ExpectOnlyError(
      r, Finding::kSchema, "klines_1m", "BTCUSDT",
      path + ": column trades is DOUBLE, expected BIGINT (view checks of BTCUSDT skipped)");
}

TEST(VerifyTest, OhlcViolationIsAnError) {
  SampleLake lk;
  LoadClean(lk);
  // One minute right after the window whose high is below its open.
  lk.Commit("1m",
            fmt::format("SELECT 'BTCUSDT' AS symbol, to_timestamp({} / 1000) AS open_time, "
                        "107000.0::DOUBLE AS open, 106990.0::DOUBLE AS high, 106900.0::DOUBLE "
                        "AS low, 106950.0::DOUBLE AS close, 1.0::DOUBLE AS volume, "
                        "NULL::TIMESTAMPTZ AS close_time, "
                        "NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, NULL::DOUBLE "
                        "AS taker_buy_base, NULL::DOUBLE AS taker_buy_quote, 'import' AS "
                        "source, to_timestamp(0) AS ingested_at",
                        DayMs("2025-07-01")));
  Refresh(lk);
  Report r = Check(lk);
  ExpectOnlyError(r, Finding::kOhlc, "klines_1m", "BTCUSDT",
                  "1 row violating OHLC (high < max(open, close), low > min(open, close), negative "
                  "volume or a NULL price); first at 2025-07-01 00:00");
}

TEST(VerifyTest, MisalignedTimesAndUnknownSourcesAreErrors) {
  SampleLake lk;
  LoadClean(lk);
  // 30 s after the last full minute, from a source the lake does not know.
  lk.Commit("1m", fmt::format("SELECT 'ETHUSDT' AS symbol, to_timestamp({} / 1000 + 30) AS "
                              "open_time, 2500.0::DOUBLE AS open, 2510.0::DOUBLE AS high, "
                              "2490.0::DOUBLE AS low, 2505.0::DOUBLE AS close, 1.0::DOUBLE AS "
                              "volume, NULL::TIMESTAMPTZ AS close_time, NULL::DOUBLE AS "
                              "quote_volume, NULL::BIGINT AS trades, NULL::DOUBLE AS "
                              "taker_buy_base, NULL::DOUBLE AS taker_buy_quote, 'manual' AS "
                              "source, to_timestamp(0) AS ingested_at",
                              DayMs("2025-07-01")));
  Refresh(lk);
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 2);
  ASSERT_EQ(r.findings.size(), 2u) << FormatReport(r);
  EXPECT_EQ(r.findings[0].kind, Finding::kMisaligned);
  EXPECT_EQ(r.findings[0].detail,
            "1 row with an open_time not aligned to 1m; first at 2025-07-01T00:00:30Z");
  EXPECT_EQ(r.findings[1].kind, Finding::kInvalidValue);
  EXPECT_EQ(r.findings[1].detail,
            "0 rows with a NULL open_time, 1 with a source other than rest, import or stream");
  EXPECT_TRUE(r.findings[1].error);
}

TEST(VerifyTest, TamperedViewFileIsAMismatch) {
  SampleLake lk;
  LoadClean(lk);
  auto snap = lk.Snap();
  auto files = snap.Files(batch::kDailyRaw, "ETHUSDT");
  ASSERT_EQ(files.size(), 1u);
  fs::path file = snap.Abs(*files[0]);
  fs::path tmp = lk.root() / "tampered.parquet";
  ASSERT_TRUE(
      lk.con()
          .Exec(fmt::format("COPY (SELECT * REPLACE (CASE WHEN day = DATE '2025-06-10' "
                            "THEN close + 0.01 ELSE close END AS close) FROM "
                            "read_parquet({}, hive_partitioning = false) ORDER BY day) TO {} "
                            "(FORMAT parquet)",
                            lake::SqlQuote(file.string()), lake::SqlQuote(tmp.string())))
          .ok());
  fs::rename(tmp, file);
  // A view computed wrong, not damaged later: its manifest entry carries its own checksum.
  lake::Manifest m = lk.Snap().manifest();
  for (auto& e : m.files) {
    if (e.path == files[0]->path) e.sha256 = *Sha256File(file);
  }
  testing::WriteText(lk.root() / "_manifest.json", m.ToJson());
  Report r = Check(lk);
  ExpectOnlyError(r, Finding::kViewMismatch, "daily_raw", "ETHUSDT",
                  "stored daily_raw differs from the master dataset: 0 missing, 0 extra, 1 "
                  "different row; first at 2025-06-10");
  // A full refresh repairs it.
  batch::RefreshOptions full;
  full.full = true;
  ASSERT_TRUE(batch::RefreshViews(lk.lake(), lk.con(), full).ok());
  EXPECT_EQ(Check(lk).ExitCode(), 0);
}

TEST(VerifyTest, DeletedLiveFileIsAnError) {
  SampleLake lk;
  LoadClean(lk);
  auto snap = lk.Snap();
  auto files = snap.Files("klines_1m", "BTCUSDT");
  ASSERT_EQ(files.size(), 2u);
  ASSERT_EQ(files[1]->partition, "year=2025/month=06");
  ASSERT_TRUE(fs::remove(snap.Abs(*files[1])));
  Report r = Check(lk);
  ExpectOnlyError(r, Finding::kMissingFile, "klines_1m", "BTCUSDT",
                  files[1]->path +
                      ": listed in the manifest but missing; it held klines_1m BTCUSDT "
                      "2025-06-01 00:00..2025-06-30 23:59, 43200 rows; `cryptolake repair --drop " +
                      files[1]->path +
                      "` retires it, then `cryptolake backfill` fetches them again (view checks "
                      "of BTCUSDT skipped)");
}

// Bytes flipped inside a file whose footer is intact: the Parquet reader may not notice, the
// checksum taken at the commit does.
TEST(VerifyTest, FlippedBytesInsideAFileAreFoundByItsChecksum) {
  SampleLake lk;
  LoadClean(lk);
  auto snap = lk.Snap();
  const auto* f = snap.Files("klines_1m", "ETHUSDT")[0];
  ASSERT_EQ(f->partition, "year=2025/month=05");
  std::string bytes = *ReadFile(snap.Abs(*f));
  for (size_t i = 0; i < 8; ++i) bytes[bytes.size() / 3 + i] ^= 0x5a;
  testing::WriteText(snap.Abs(*f), bytes);
  Report r = Check(lk);
  ExpectOnlyError(r, Finding::kDamagedFile, "klines_1m", "ETHUSDT",
                  f->path +
                      ": its bytes no longer match the checksum taken at its commit; it held "
                      "klines_1m ETHUSDT 2025-05-20 00:00..2025-05-31 23:59, 17280 rows; "
                      "`cryptolake repair --drop " +
                      f->path +
                      "` retires it, then `cryptolake backfill` fetches them again (view checks "
                      "of ETHUSDT skipped)");
  EXPECT_EQ(r.findings[0].first, At("2025-05-20"));
  EXPECT_EQ(r.findings[0].count, 17280);
}

// A file of an older manifest (no checksum) whose pages are damaged: every row group is read
// back, and the file that fails is named.
TEST(VerifyTest, AFileWhoseRowsCannotBeReadBackIsNamed) {
  SampleLake lk;
  LoadClean(lk);
  // Forget the checksums, as a manifest written before they were kept.
  lake::Manifest m = lk.Snap().manifest();
  for (auto& f : m.files) f.sha256.clear();
  testing::WriteText(lk.root() / "_manifest.json", m.ToJson());
  auto snap = lk.Snap();
  const auto* f = snap.Files("klines_1m", "BTCUSDT")[1];
  std::string bytes = *ReadFile(snap.Abs(*f));
  // Zero 64 KiB in the middle of the column chunks; the footer at the end stays intact.
  std::fill(bytes.begin() + bytes.size() / 4, bytes.begin() + bytes.size() / 4 + 65536, '\0');
  testing::WriteText(snap.Abs(*f), bytes);
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 2) << FormatReport(r);
  auto damaged = OfKind(r, Finding::kDamagedFile);
  ASSERT_EQ(damaged.size(), 1u) << FormatReport(r);
  EXPECT_EQ(damaged[0].detail.rfind(f->path + ": its rows cannot be read back (", 0), 0u)
      << damaged[0].detail;
  EXPECT_NE(damaged[0].detail.find("); it held klines_1m BTCUSDT 2025-06-01 00:00..2025-06-30 "
                                   "23:59, 43200 rows;"),
            std::string::npos)
      << damaged[0].detail;
}

// A lake whose manifest cannot be read has no snapshot: its report is one error, exit code 2.
TEST(VerifyTest, AMissingManifestIsAnIntegrityError) {
  Report r = ManifestReport(Status(StatusCode::kDataLoss, "lake/ holds 2 lake data files"));
  EXPECT_EQ(r.ExitCode(), 2);
  EXPECT_EQ(FormatReport(r),
            "verify: the manifest cannot be read\n"
            "ERROR manifest _manifest.json: lake/ holds 2 lake data files\n"
            "summary: 1 error, 0 gap ranges, 0 notes -> exit code 2\n");
}

// Ranges `repair --drop` recorded are gaps until backfill fetches them, even at a series' end.
TEST(VerifyTest, RefetchRangesOutsideTheStoredSpanAreGaps) {
  SampleLake lk;
  LoadClean(lk, "2025-06-01");
  auto txn = *lk.lake().Begin();
  txn.SetMeta(lake::kRefetchKey,
              lake::WithRefetch(nullptr, "klines_1m", "BTCUSDT",
                                {{At("2025-05-31 23:00"), At("2025-06-01 02:00")}}));
  ASSERT_TRUE(lk.lake().Commit(std::move(txn)).ok());
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 1) << FormatReport(r);
  EXPECT_EQ(GapLines(r), (std::vector<std::string>{
                             "klines_1m BTCUSDT: 2025-06-01 00:00..2025-06-01 02:00 (120 missing: "
                             "dropped by `cryptolake repair --drop`; `cryptolake backfill` fetches "
                             "them again)"}));
}

TEST(VerifyTest, UnreadableFileAndWrongRowCountAreErrors) {
  SampleLake lk;
  LoadClean(lk);
  auto snap = lk.Snap();
  const auto* view = snap.Files(batch::kProphetInput, "ETHUSDT")[0];
  testing::WriteText(snap.Abs(*view), "this is not parquet");
  // A master file replaced by one with fewer rows (the first 100).
  const auto* master = snap.Files("klines_1m", "BTCUSDT")[0];
  fs::path tmp = lk.root() / "short.parquet";
  ASSERT_TRUE(lk.con()
                  .Exec(fmt::format(
                      "COPY (SELECT * FROM read_parquet({}, hive_partitioning = false) "
                      "ORDER BY open_time LIMIT 100) TO {} (FORMAT parquet)",
                      lake::SqlQuote(snap.Abs(*master).string()), lake::SqlQuote(tmp.string())))
                  .ok());
  fs::rename(tmp, snap.Abs(*master));
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 2) << FormatReport(r);
  ASSERT_EQ(r.findings.size(), 2u) << FormatReport(r);
  // Files are checked in path order: klines_1m/... before views/...
  EXPECT_EQ(r.findings[0].kind, Finding::kRowCount);
  EXPECT_EQ(r.findings[0].detail, master->path +
                                      ": holds 100 rows, the manifest says 17280 (view "
                                      "checks of BTCUSDT skipped)");
  EXPECT_EQ(r.findings[1].kind, Finding::kUnreadableFile);
  EXPECT_EQ(r.findings[1].dataset, "prophet_input");
  EXPECT_EQ(r.findings[1].detail.rfind(view->path + ": not readable as Parquet: ", 0), 0u)
      << r.findings[1].detail;
}

TEST(VerifyTest, ViewsOlderThanTheMasterDatasetAreStaleNotWrong) {
  SampleLake lk;
  LoadClean(lk);
  lk.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT",
                                  fmt::format("open_time >= {} AND open_time < {}",
                                              DayMs("2025-07-01"), DayMs("2025-07-02"))));
  Report r = Check(lk);
  EXPECT_EQ(r.ExitCode(), 0) << FormatReport(r);
  ASSERT_EQ(r.findings.size(), 1u) << FormatReport(r);
  EXPECT_EQ(r.findings[0].kind, Finding::kStaleView);
  EXPECT_EQ(r.findings[0].detail,
            "year 2025: the master dataset changed since the last refresh (run `cryptolake "
            "batch`); views of ETHUSDT not compared");
  Refresh(lk);
  EXPECT_TRUE(Check(lk).findings.empty());

  SampleLake never;
  never.Commit("1m", OneMinuteCsvSql(Klines(kEth1m2025), "ETHUSDT",
                                     fmt::format("open_time < {}", DayMs("2025-05-21"))));
  Report n = Check(never);
  EXPECT_EQ(n.ExitCode(), 0);
  ASSERT_EQ(n.findings.size(), 1u);
  EXPECT_EQ(n.findings[0].detail, "the batch views were never built (run `cryptolake batch`)");
}

TEST(VerifyTest, FormatsTextAndJson) {
  Report r;
  r.version = 5;
  r.files_checked = 3;
  r.rows_checked = 1000;
  Finding gap;
  gap.kind = Finding::kGap;
  gap.dataset = "klines_1m";
  gap.symbol = "BTCUSDT";
  gap.detail = "2021-04-20 02:00..04:30 (150 missing)";
  gap.count = 150;
  gap.first = At("2021-04-20 02:00");
  gap.last = At("2021-04-20 04:29");
  Finding dup;
  dup.kind = Finding::kDuplicate;
  dup.error = true;
  dup.dataset = "klines_1m";
  dup.symbol = "ETHUSDT";
  dup.detail =
      "1 key stored more than once by the same source (import): 1 extra row; first at "
      "2025-06-01 00:00";
  dup.count = 1;
  Finding note;
  note.kind = Finding::kShadowed;
  note.dataset = "klines_1h";
  note.symbol = "BTCUSDT";
  note.detail = "2 keys stored by several sources";
  r.findings = {gap, dup, note};
  EXPECT_EQ(r.ExitCode(), 2);
  EXPECT_EQ(FormatReport(r),
            "verify: manifest version 5, 3 files checked, 1000 rows checked\n"
            "GAP   klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)\n"
            "ERROR duplicate klines_1m ETHUSDT: 1 key stored more than once by the same source "
            "(import): 1 extra row; first at 2025-06-01 00:00\n"
            "note  shadowed klines_1h BTCUSDT: 2 keys stored by several sources\n"
            "summary: 1 error, 1 gap range, 1 note -> exit code 2\n");
  auto j = nlohmann::json::parse(FormatReportJson(r));
  EXPECT_EQ(j["version"], 5);
  EXPECT_EQ(j["exit_code"], 2);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["gap_ranges"], 1);
  ASSERT_EQ(j["findings"].size(), 3u);
  EXPECT_EQ(j["findings"][0]["kind"], "gap");
  EXPECT_EQ(j["findings"][0]["first"], "2021-04-20T02:00:00Z");
  EXPECT_EQ(j["findings"][0]["last"], "2021-04-20T04:29:00Z");
  EXPECT_EQ(j["findings"][0]["count"], 150);
  EXPECT_EQ(j["findings"][1]["error"], true);
  EXPECT_TRUE(j["findings"][2]["first"].is_null());
  r.findings = {gap, note};
  EXPECT_EQ(r.ExitCode(), 1);
  r.findings = {note};
  EXPECT_EQ(r.ExitCode(), 0);
}

}  // namespace
}  // namespace cryptolake::verify
