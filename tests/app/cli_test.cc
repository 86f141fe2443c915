// End-to-end tests of the `cryptolake` binary on the real sample data: real files in, real
// Parquet out, exact rows and messages checked.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/fsutil.h"
#include "core/time.h"
#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::RunCli;
using testing::SharedData;
using testing::TempDir;
using testing::WriteText;

fs::path Klines(const std::string& sub) { return SharedData() / "binance-spot/klines" / sub; }
const char* kBtc1m2025 = "BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv";
const char* kEth1m2025 = "ETHUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv";

// Replaces the "(N rows/s)" figure, the only part of a summary that varies between runs.
std::string StripRate(std::string s) {
  auto a = s.find(" rows/s)");
  if (a == std::string::npos) return s;
  auto b = s.rfind('(', a);
  return s.replace(b, a + 8 - b, "(R rows/s)");
}

// CSV rows of `cryptolake cat` as vectors of fields (header first).
std::vector<std::vector<std::string>> Cat(const fs::path& data,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--data", data.string(), "cat"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = RunCli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

TEST(CliTest, HelpExplainsCommandsAndExitCodes) {
  auto r = RunCli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s :
       {"import", "batch", "verify", "compact", "stats", "cat", "gc", "--data",
        "Exit codes: 0 success; 1 verify found only gaps; 2 verify found integrity errors;"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  auto imp = RunCli({"import", "--help"});
  EXPECT_EQ(imp.exit_code, 0);
  EXPECT_NE(imp.out.find("--strict"), std::string::npos);
  EXPECT_NE(imp.out.find("auto | vision | ohlcv | bitstamp"), std::string::npos);
}

TEST(CliTest, UsageErrorsExit64) {
  auto r = RunCli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 64);
  auto r2 = RunCli({"import"});
  EXPECT_EQ(r2.exit_code, 64);
  EXPECT_NE(r2.err.find("paths is required"), std::string::npos) << r2.err;
}

TEST(CliTest, BatchDutyOutsideItsRangeIsAUsageError) {
  TempDir d;
  auto low = RunCli({"--data", d.path(), "batch", "--duty", "0"});
  EXPECT_EQ(low.exit_code, 64);
  EXPECT_NE(low.err.find("--duty: must be a share of wall time in [0.01, 1], got '0'"),
            std::string::npos)
      << low.err;
  auto up = RunCli({"--data", d.path(), "up", "--batch-duty", "1.5"});
  EXPECT_EQ(up.exit_code, 64);
  EXPECT_NE(up.err.find("--batch-duty: must be a share of wall time in [0.01, 1], got '1.5'"),
            std::string::npos)
      << up.err;
  auto help = RunCli({"up", "--help"});
  EXPECT_NE(help.out.find("--batch-duty FLOAT:in [0.01, 1]=0.2"), std::string::npos) << help.out;
}

TEST(CliTest, MaxStreamsOutsideItsRangeIsAUsageError) {
  TempDir d;
  for (const char* cmd : {"serve", "up"}) {
    SCOPED_TRACE(cmd);
    auto zero = RunCli({"--data", d.path(), cmd, "--max-streams", "0"});
    EXPECT_EQ(zero.exit_code, 64);
    EXPECT_NE(zero.err.find("--max-streams: must be an integer from 1 to 1000000, got '0'"),
              std::string::npos)
        << zero.err;
    auto word = RunCli({"--data", d.path(), cmd, "--max-streams", "many"});
    EXPECT_EQ(word.exit_code, 64);
    EXPECT_NE(word.err.find("--max-streams: must be an integer from 1 to 1000000, got 'many'"),
              std::string::npos)
        << word.err;
    auto help = RunCli({cmd, "--help"});
    EXPECT_NE(help.out.find("--max-streams INT:in [1, 1000000]=1024"), std::string::npos)
        << help.out;
  }
}

TEST(CliTest, ImportThenReimportAddsZeroRows) {
  TempDir d;
  auto r = RunCli({"--data", d.path(), "import", Klines("1m") / kBtc1m2025});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(StripRate(r.out),
            "import: files 1, rows 130708 (R rows/s), added 130708, duplicates 0, quarantined 0\n");
  auto again = RunCli({"--data", d.path(), "import", Klines("1m") / kBtc1m2025});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(StripRate(again.out),
            "import: files 1, rows 130708 (R rows/s), added 0, duplicates 130708, quarantined 0\n");
  auto rows = Cat(d.path(), {"klines_1m"});
  ASSERT_EQ(rows.size(), 130709u);
  // First row of the real file: 1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647
  EXPECT_EQ(rows[0][0], "symbol");
  EXPECT_EQ(rows[1][0], "BTCUSDT");
  EXPECT_EQ(rows[1][1], "2025-05-20 00:00:00+00");
  EXPECT_EQ(rows[1][2], "105573.73");
  EXPECT_EQ(rows[1][3], "105597.1");
  EXPECT_EQ(rows[1][4], "105554.31");
  EXPECT_EQ(rows[1][5], "105554.32");
  EXPECT_EQ(rows[1][6], "10.82647");
  EXPECT_EQ(rows[1][7], "");  // close_time is absent from OHLCV files: NULL
  EXPECT_EQ(rows[1][12], "import");
}

TEST(CliTest, MicrosecondFilesAreDetectedAndDeduplicateAgainstMilliseconds) {
  TempDir d;
  auto ms = RunCli({"--data", d.path(), "import", Klines("15m") / "BTCUSDT-15m-2025-01.csv"});
  ASSERT_EQ(ms.exit_code, 0) << ms.err;
  EXPECT_EQ(StripRate(ms.out),
            "import: files 1, rows 2976 (R rows/s), added 2976, duplicates 0, quarantined 0\n");
  // The same candles with microsecond timestamps are the same keys: nothing new.
  auto us = RunCli(
      {"--data", d.path(), "import", Klines("15m-microseconds") / "BTCUSDT-15m-2025-01.csv"});
  ASSERT_EQ(us.exit_code, 0) << us.err;
  EXPECT_EQ(StripRate(us.out),
            "import: files 1, rows 2976 (R rows/s), added 0, duplicates 2976, quarantined 0\n");
  auto rows = Cat(d.path(), {"klines_15m"});
  ASSERT_EQ(rows.size(), 2977u);
  EXPECT_EQ(rows[1][1], "2025-01-01 00:00:00+00");
  EXPECT_EQ(rows[1][7], "2025-01-01 00:14:59.999+00");
}

TEST(CliTest, BadRowsAreQuarantinedWithFileLineAndReason) {
  TempDir d;
  fs::path f = d / "in" / "BTCUSDT-1m-bad.csv";
  WriteText(f,
            "open_time,open,high,low,close,volume\n"
            "1747699200000,100,101,99,100.5,1\n"
            "1747699260000,100,99,98,100.5,1\n"
            "1747699320000,abc,101,99,100.5,1\n"
            "1747699380000,100,101,99,100.5,-1\n"
            "1747699390000,100,101,99,100.5,1\n"
            "1747699440000,100,101,99\n"
            "1747699500000,100,101,99,100.5,2\n");
  auto r = RunCli({"--data", (d / "lake").string(), "import", f.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto q = r.out.find("(see quarantine/import-");
  ASSERT_NE(q, std::string::npos) << r.out;
  EXPECT_EQ(StripRate(r.out.substr(0, q)),
            "import: files 1, rows 7 (R rows/s), added 2, duplicates 0, quarantined 5 ");
  std::string qfile = r.out.substr(q + 5, r.out.find(')', q) - q - 5);
  auto text = *ReadFile(d / "lake" / qfile);
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 6u) << text;
  EXPECT_EQ(lines[0], "file,line,reason,text");
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(lines[i].rfind(f.string() + ",", 0), 0u) << lines[i];
  EXPECT_NE(lines[1].find(",3,"), std::string::npos);
  EXPECT_NE(lines[2].find(",4,"), std::string::npos);
  EXPECT_NE(lines[3].find(",5,"), std::string::npos);
  EXPECT_NE(lines[4].find(",6,"), std::string::npos);
  EXPECT_NE(lines[5].find(",7,"), std::string::npos);
  EXPECT_EQ(Cat(d / "lake", {"klines_1m"}).size(), 3u);
}

TEST(CliTest, StrictImportCommitsNothingOnABadRow) {
  TempDir d;
  fs::path good = Klines("1d") / "BTCUSDT-1d-2017-08_2026-04.csv";
  fs::path bad = d / "in" / "ETHUSDT-1m-bad.csv";
  WriteText(bad, "open_time,open,high,low,close,volume\n1747699200000,100,99,98,100.5,1\n");
  auto r =
      RunCli({"--data", (d / "lake").string(), "import", "--strict", good.string(), bad.string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(
      r.err.rfind(
          "error: --strict: 1 bad row(s), nothing imported; first: " + bad.string() + ":2: ", 0),
      0u)
      << r.err;
  EXPECT_FALSE(fs::exists(d / "lake" / "_manifest.json"));
  EXPECT_FALSE(fs::exists(d / "lake" / "quarantine"));
}

TEST(CliTest, MissingInputIsAClearError) {
  TempDir d;
  auto r = RunCli({"--data", d.path(), "import", (d / "nope.csv").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("error: "), std::string::npos);
  EXPECT_NE(r.err.find((d / "nope.csv").string()), std::string::npos) << r.err;
}

TEST(CliTest, KnownDailyPricesReproduce) {
  TempDir d;
  auto r = RunCli({"--data", d.path(), "import", Klines("1d")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::vector<std::string>> by_key;
  for (auto& row : Cat(d.path(), {"klines_1d"})) {
    if (row.size() > 2) by_key[row[0] + " " + row[1].substr(0, 10)] = row;
  }
  // ../shared/data/README.md: BTCUSDT 2017-12-17 close 18860.02; 2021-11-10 close 64882.43,
  // high 69000.00; ETHUSDT 2021-11-10 close 4628.78, high 4868.00.
  EXPECT_EQ(by_key["BTCUSDT 2017-12-17"][5], "18860.02");
  EXPECT_EQ(by_key["BTCUSDT 2021-11-10"][5], "64882.43");
  EXPECT_EQ(by_key["BTCUSDT 2021-11-10"][3], "69000.0");
  EXPECT_EQ(by_key["ETHUSDT 2021-11-10"][5], "4628.78");
  EXPECT_EQ(by_key["ETHUSDT 2021-11-10"][3], "4868.0");
}

// `merge --out` materializes the merged series (here all batch days) without writing the lake.
TEST(CliTest, MergeWritesTheMergedSeriesAndNeverWritesTheLake) {
  TempDir d;
  ASSERT_EQ(RunCli({"--data", d.path(), "import", Klines("1d")}).exit_code, 0);
  ASSERT_EQ(RunCli({"--data", d.path(), "batch"}).exit_code, 0);
  auto before = RunCli({"--data", d.path(), "stats"});
  const std::string out = (fs::path(d.path()) / "merged").string();
  auto r = RunCli({"--data", d.path(), "merge", "--out", out, "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("merge: "), std::string::npos) << r.out;
  std::ifstream in(fs::path(out) / "daily.csv");
  std::string line, header, btc;
  std::getline(in, header);
  EXPECT_EQ(header, "symbol,day,open,high,low,close,volume,ma7,ma30,source,partial,filled");
  while (std::getline(in, line)) {
    if (line.rfind("BTCUSDT,2021-11-10,", 0) == 0) btc = line;
  }
  // ../shared/data/README.md: BTCUSDT 2021-11-10 close 64882.43, high 69000.00.
  ASSERT_FALSE(btc.empty());
  EXPECT_NE(btc.find(",69000,"), std::string::npos) << btc;
  EXPECT_NE(btc.find(",64882.43,"), std::string::npos) << btc;
  EXPECT_NE(btc.find(",batch,false,false"), std::string::npos) << btc;
  EXPECT_EQ(RunCli({"--data", d.path(), "stats"}).out, before.out);
  auto pq = RunCli({"--data", d.path(), "merge", "--out", out});
  ASSERT_EQ(pq.exit_code, 0) << pq.err;
  EXPECT_TRUE(fs::exists(fs::path(out) / "daily.parquet"));
  auto bad = RunCli({"--data", d.path(), "merge", "--out", out, "--format", "xml"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.err, "error: --format must be parquet or csv, got 'xml'\n");
}

// Must show 1, end to end through the importer: daily_raw built from the 1m files equals
// Binance's own 1d klines on every full day 2025-05-20..2025-08-17 (OHLC exact, volume within
// 1e-6 relative), and verify lists the real 2021-04-20 outage.
TEST(CliTest, DailyRawFromOneMinuteFilesEqualsBinanceDailyKlines) {
  TempDir d;
  auto imp = RunCli(
      {"--data", d.path(), "import", Klines("1m") / kBtc1m2025, Klines("1m") / kEth1m2025,
       Klines("1d"),
       (Klines("1m") / "BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz").string()});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto bat = RunCli({"--data", d.path(), "batch"});
  ASSERT_EQ(bat.exit_code, 0) << bat.err;
  // daily_raw:
  // symbol,day,open,high,low,close,volume,quote_volume,trades,minutes_present,source_interval
  std::map<std::string, std::vector<std::string>> raw;
  for (auto& r : Cat(d.path(), {"daily_raw"})) raw[r[0] + " " + r[1]] = r;
  // klines_1d: symbol,open_time,open,high,low,close,volume,...
  std::map<std::string, std::vector<std::string>> binance;
  for (auto& r : Cat(d.path(), {"klines_1d"})) binance[r[0] + " " + r[1].substr(0, 10)] = r;
  int days = 0;
  for (const char* sym : {"BTCUSDT", "ETHUSDT"}) {
    for (Micros t = MicrosFromCivil(2025, 5, 20); t <= MicrosFromCivil(2025, 8, 17);
         t += kMicrosPerDay) {
      std::string key = std::string(sym) + " " + FormatDate(t);
      ASSERT_TRUE(raw.count(key)) << key;
      ASSERT_TRUE(binance.count(key)) << key;
      const auto& a = raw[key];
      const auto& b = binance[key];
      EXPECT_EQ(a[10], "1m") << key;
      EXPECT_EQ(a[9], "1440") << key;
      for (int c = 0; c < 4; ++c)
        EXPECT_EQ(std::stod(a[2 + c]), std::stod(b[2 + c])) << key << " col " << c;
      double va = std::stod(a[6]), vb = std::stod(b[6]);
      EXPECT_LE(std::abs(va - vb), 1e-6 * vb) << key << " volume " << va << " vs " << vb;
      ++days;
    }
  }
  EXPECT_EQ(days, 180);
  auto ver = RunCli({"--data", d.path(), "verify"});
  EXPECT_EQ(ver.exit_code, 1) << ver.out << ver.err;  // gaps only, no integrity error
  EXPECT_NE(ver.out.find("GAP   klines_1m BTCUSDT: 2021-04-20 02:00..04:30 (150 missing)"),
            std::string::npos)
      << ver.out;
}

// Must show 2: the same daily_raw comes out of the 15m files and the 15m-microseconds files.
TEST(CliTest, DailyRawIsTheSameFromMillisecondAndMicrosecondFiles) {
  TempDir d;
  std::vector<std::vector<std::vector<std::string>>> views;
  for (const char* dir : {"15m", "15m-microseconds"}) {
    fs::path lake = d / dir;
    std::vector<std::string> args = {"--data", lake.string(), "import"};
    for (const char* f :
         {"BTCUSDT-15m-2025-01.csv", "BTCUSDT-15m-2025-02.csv", "BTCUSDT-15m-2025-03.csv",
          "ETHUSDT-15m-2025-01.csv", "ETHUSDT-15m-2025-02.csv", "ETHUSDT-15m-2025-03.csv"}) {
      args.push_back((Klines(dir) / f).string());
    }
    auto imp = RunCli(args);
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    ASSERT_EQ(RunCli({"--data", lake.string(), "batch"}).exit_code, 0);
    views.push_back(Cat(lake, {"daily_raw"}));
  }
  ASSERT_EQ(views[0].size(), 1u + 2 * 90);  // 2025-01-01..2025-03-31, both symbols
  EXPECT_EQ(views[0], views[1]);
  // 2025-01-01 BTCUSDT from 96 15m candles.
  EXPECT_EQ(views[0][1][1], "2025-01-01");
  EXPECT_EQ(views[0][1][9], "1440");
  EXPECT_EQ(views[0][1][10], "15m");
}

}  // namespace
}  // namespace cryptolake
