// ingest/importer.h on a real lake in a temp dir: the real BTCUSDT 15m file of 2024-12 of
// ../shared/data (192 klines, 2024-12-30 00:00 .. 2024-12-31 23:45 UTC), imported once and
// again, a copy with a bad row (quarantined, or refused with --strict) and a file whose name
// gives no symbol. Exact counts, rows and messages.
#include "ingest/importer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/fsutil.h"
#include "lake/klines.h"
#include "testing/testing.h"

namespace cryptolake::ingest {
namespace {

using testing::TempDir;

const char kFile[] = "binance-spot/klines/15m/BTCUSDT-15m-2024-12.csv";
const Interval k15m{"15m", 15 * kMicrosPerMinute};

class ImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(ParseTime("2025-09-01").value());
    lake_ =
        std::make_unique<lake::Lake>(std::move(lake::Lake::Open(dir_ / "lake", clock_)).value());
    db_ = std::make_unique<lake::Database>(std::move(lake::Database::Open()).value());
    con_ = std::make_unique<lake::Connection>(std::move(lake::Connection::Open(*db_)).value());
  }

  StatusOr<ImportStats> Run(std::vector<std::string> inputs, bool strict = false) {
    ImportOptions o;
    o.inputs = std::move(inputs);
    o.strict = strict;
    o.threads = 2;
    o.progress = false;
    return Import(*lake_, *con_, o);
  }

  // "open_time close" of the stored 15m rows, in time order.
  std::vector<std::string> Stored() {
    auto snap = lake_->GetSnapshot();
    EXPECT_TRUE(snap.ok());
    auto r = con_->Query("SELECT strftime(open_time, '%Y-%m-%d %H:%M'), close, source FROM " +
                         lake::KlinesSql(*snap, k15m) + " ORDER BY open_time");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) {
      out.push_back(r->GetString(0, i) + " " + r->GetString(1, i) + " " + r->GetString(2, i));
    }
    return out;
  }

  int64_t Version() { return lake_->GetSnapshot().value().version(); }

  // The first `n` lines of the real file, the line numbered `bad` (1-based) replaced by `with`.
  std::string RealLines(size_t n, size_t bad = 0, const std::string& with = "") {
    std::ifstream in(testing::SharedData() / kFile);
    std::string out, line;
    for (size_t i = 1; i <= n && std::getline(in, line); ++i)
      out += (i == bad ? with : line) + "\n";
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<lake::Lake> lake_;
  std::unique_ptr<lake::Database> db_;
  std::unique_ptr<lake::Connection> con_;
};

TEST_F(ImporterTest, ImportsTheRealFileOnceAndThenOnlyFindsDuplicates) {
  const std::string path = (testing::SharedData() / kFile).string();
  auto st = Run({path});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->files, 1);
  EXPECT_EQ(st->bytes, 30016);
  EXPECT_EQ(st->rows_read, 192);
  EXPECT_EQ(st->rows_added, 192);
  EXPECT_EQ(st->duplicates, 0);
  EXPECT_EQ(st->quarantined, 0);
  EXPECT_EQ(st->version, 1);
  EXPECT_EQ(st->quarantine_file, "");
  EXPECT_TRUE(st->failed.empty());
  auto rows = Stored();
  ASSERT_EQ(rows.size(), 192u);
  EXPECT_EQ(rows.front(), "2024-12-30 00:00 93720.44 import");
  EXPECT_EQ(rows[1], "2024-12-30 00:15 93671.68 import");
  EXPECT_EQ(rows.back(), "2024-12-31 23:45 93576.0 import");

  auto again = Run({path});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->rows_read, 192);
  EXPECT_EQ(again->rows_added, 0);
  EXPECT_EQ(again->duplicates, 192);
  EXPECT_EQ(Version(), 1);  // nothing new: no commit
  EXPECT_EQ(Stored().size(), 192u);
}

TEST_F(ImporterTest, ABadRowIsQuarantinedWithItsFileLineAndReason) {
  // Line 2: high 93000 below its open 93738.19.
  const std::string bad_line =
      "1735516800000,93738.19000000,93000.00000000,93510.00000000,93720.44000000,202.77714000,"
      "1735517699999,18986363.98688940,64965,103.98349000,9736008.81833130,0";
  const fs::path copy = dir_ / "in" / "BTCUSDT-15m-2024-12.csv";
  testing::WriteText(copy, RealLines(3, 1, bad_line));
  auto st = Run({copy.string()});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->rows_read, 2);
  EXPECT_EQ(st->rows_added, 2);
  EXPECT_EQ(st->quarantined, 1);
  EXPECT_EQ(st->quarantine_file,
            "quarantine/import-1756684800000000-" + std::to_string(::getpid()) + ".csv");
  EXPECT_EQ(ReadFile(dir_ / "lake" / st->quarantine_file).value(),
            "file,line,reason,text\n" + copy.string() +
                ",1,\"high 93000 below max(open, close) 93738.19\",\"" + bad_line + "\"\n");
  EXPECT_EQ(Stored(), (std::vector<std::string>{"2024-12-30 00:15 93671.68 import",
                                                "2024-12-30 00:30 93570.51 import"}));
  EXPECT_EQ(FormatImportSummary(*st).substr(0, 25), "import: files 1, rows 3 (");
}

TEST_F(ImporterTest, StrictRefusesTheWholeImportOnOneBadRow) {
  const std::string bad_line =
      "1735516800000,93738.19000000,93000.00000000,93510.00000000,93720.44000000,202.77714000,"
      "1735517699999,18986363.98688940,64965,103.98349000,9736008.81833130,0";
  const fs::path copy = dir_ / "in" / "BTCUSDT-15m-2024-12.csv";
  testing::WriteText(copy, RealLines(3, 1, bad_line));
  auto st = Run({copy.string()}, /*strict=*/true);
  EXPECT_EQ(st.status().ToString(),
            "InvalidArgument: --strict: 1 bad row(s), nothing imported; first: " + copy.string() +
                ":1: high 93000 below max(open, close) 93738.19");
  EXPECT_EQ(Version(), 0);
  EXPECT_FALSE(fs::exists(dir_ / "lake" / "quarantine"));
}

TEST_F(ImporterTest, AFileWithoutSymbolOrIntervalInItsNameIsLeftOutAndNamed) {
  const fs::path unnamed = dir_ / "in" / "klines.csv";
  testing::WriteText(unnamed, RealLines(2));
  const std::string why = "skipped '" + unnamed.string() +
                          "': cannot tell symbol and interval from its name; use "
                          "--symbol/--interval";
  // Alone: the import fails with its error and the lake is unchanged.
  EXPECT_EQ(Run({unnamed.string()}).status().ToString(), "InvalidArgument: " + why);
  EXPECT_EQ(Version(), 0);
  // Beside a good file: the good one is committed, the other named in `failed`.
  const fs::path good = dir_ / "in" / "BTCUSDT-15m-2024-12.csv";
  testing::WriteText(good, RealLines(2));
  auto st = Run({good.string(), unnamed.string()});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->rows_added, 2);
  ASSERT_EQ(st->failed.size(), 1u);
  EXPECT_EQ(st->failed[0].message(), why);
  EXPECT_EQ(FormatImportSummary(*st).find(", failed 1") != std::string::npos, true);
  // With --strict, one failed input fails the whole import.
  auto strict = Run({good.string(), unnamed.string()}, /*strict=*/true);
  EXPECT_EQ(strict.status().ToString(),
            "InvalidArgument: --strict: 1 of 2 input(s) failed, nothing imported:\n  " + why);
}

TEST(ImportSummaryTest, FormatsEveryField) {
  ImportStats s;
  s.files = 4;
  s.rows_read = 261416;
  s.quarantined = 4;
  s.rows_added = 261000;
  s.duplicates = 416;
  s.seconds = 2;
  EXPECT_EQ(FormatImportSummary(s),
            "import: files 4, rows 261420 (130710 rows/s), added 261000, duplicates 416, "
            "quarantined 4");
  s.failed.push_back(InvalidArgument("x"));
  s.quarantine_file = "quarantine/import-1-2.csv";
  s.seconds = 0;
  EXPECT_EQ(FormatImportSummary(s),
            "import: files 4, rows 261420 (0 rows/s), added 261000, duplicates 416, quarantined "
            "4, failed 1 (see quarantine/import-1-2.csv)");
}

}  // namespace
}  // namespace cryptolake::ingest
