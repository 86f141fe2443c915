// End-to-end tests of `cryptolake import` against hostile and careless input (issue 18): values
// and times the lake cannot hold, files off their grid, symbols, decompression bombs and a
// directory that holds the lake itself. Real files in, real Parquet out.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <sstream>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::RunCli;
using testing::SharedData;
using testing::TempDir;
using testing::WriteText;

fs::path Klines(const std::string& sub) { return SharedData() / "binance-spot/klines" / sub; }
const fs::path kBtc1d = "1d/BTCUSDT-1d-2017-08_2026-04.csv";
const char* kBtc1m2025 = "1m/BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv";

// The first `n` lines of a shared data file.
std::vector<std::string> Head(const fs::path& p, size_t n) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; out.size() < n && std::getline(in, l);) out.push_back(l);
  EXPECT_EQ(out.size(), n) << p;
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// Replaces field `i` (0-based) of a CSV line.
std::string WithField(const std::string& line, size_t i, const std::string& v) {
  std::vector<std::string> f;
  std::istringstream in(line);
  for (std::string x; std::getline(in, x, ',');) f.push_back(x);
  f.at(i) = v;
  std::string out;
  for (size_t k = 0; k < f.size(); ++k) out += (k ? "," : "") + f[k];
  return out;
}

std::string StripRate(std::string s) {
  auto a = s.find(" rows/s)");
  if (a == std::string::npos) return s;
  auto b = s.rfind('(', a);
  return s.replace(b, a + 8 - b, "(R rows/s)");
}

std::string Stats(const fs::path& data) {
  auto r = RunCli({"--data", data.string(), "stats"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Finding 4: a finite but absurd volume used to pass validation and wedge every later batch and
// verify ("Could not cast value ... to DECIMAL(38,10)"). Now exactly that row is quarantined.
TEST(IngestCliTest, VolumeTheLakeCannotSumIsQuarantinedAndTheLakeStaysUsable) {
  TempDir d;
  auto lines = Head(Klines("") / kBtc1d, 8);
  lines[7] = WithField(lines[7], 5, "1e29");
  const fs::path f = d / "in" / "BTCUSDT-1d-absurd.csv";
  WriteText(f, Join(lines));
  const fs::path data = d / "lake";
  auto r = RunCli({"--data", data.string(), "import", f.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto q = r.out.find(" (see ");
  ASSERT_NE(q, std::string::npos) << r.out;
  EXPECT_EQ(StripRate(r.out.substr(0, q)),
            "import: files 1, rows 8 (R rows/s), added 7, duplicates 0, quarantined 1");
  const std::string qfile = r.out.substr(q + 6, r.out.find(')', q) - q - 6);
  EXPECT_EQ(*ReadFile(data / qfile), "file,line,reason,text\n" + f.string() +
                                         ",8,\"volume 1e+29 out of range [0, 1e18]\",\"" +
                                         lines[7] + "\"" + "\n");
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"batch"}, {"batch", "--full"}, {"verify"}}) {
    cmd.insert(cmd.begin(), {"--data", data.string()});
    auto c = RunCli(cmd);
    EXPECT_EQ(c.exit_code, 0) << cmd.back() << ": " << c.err << c.out;
  }
}

// Finding 7: a 1d row dated 2100 used to be stored (and forward-filled 26,909 fake days).
TEST(IngestCliTest, RowFromTheFarFutureIsQuarantined) {
  TempDir d;
  auto lines = Head(Klines("") / kBtc1d, 3);
  lines.push_back(WithField(WithField(lines[2], 0, "4102444800000"), 6, "4102531199999"));
  const fs::path f = d / "in" / "BTCUSDT-1d-future.csv";
  WriteText(f, Join(lines));
  const fs::path data = d / "lake";
  auto r = RunCli({"--data", data.string(), "import", f.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("added 3, duplicates 0, quarantined 1"), std::string::npos) << r.out;
  auto q = r.out.find(" (see ");
  ASSERT_NE(q, std::string::npos) << r.out;
  const std::string quarantined = *ReadFile(data / r.out.substr(q + 6, r.out.find(')', q) - q - 6));
  EXPECT_NE(quarantined.find(f.string() + ",4,open_time 2100-01-01T00:00:00Z is after now + 1d ("),
            std::string::npos)
      << quarantined;
  auto v = RunCli({"--data", data.string(), "verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Finding 7: a file whose rows are mostly off the --interval grid is refused whole with one error;
// the other files of the import are committed.
TEST(IngestCliTest, FileOffItsGridIsRefusedWholeAndTheOthersCommit) {
  TempDir d;
  auto minutes = Head(Klines("") / kBtc1m2025, 1441);  // header + 2025-05-20 00:00 .. 23:59
  minutes.erase(minutes.begin() + 1);                  // 00:01 .. 23:59: 1439 rows
  const fs::path wrong = d / "in" / "ETHUSDT-1d-wrong.csv";
  WriteText(wrong, Join(minutes));
  const fs::path good = d / "in" / "BTCUSDT-1d-good.csv";
  WriteText(good, Join(Head(Klines("") / kBtc1d, 5)));
  const fs::path data = d / "lake";
  auto r = RunCli({"--data", data.string(), "import", wrong.string(), good.string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(StripRate(r.out),
            "import: files 1, rows 5 (R rows/s), added 5, duplicates 0, quarantined 0, failed 1\n");
  EXPECT_EQ(r.err, "error: '" + wrong.string() +
                       "': 1439 of 1439 rows are not on the 1d grid; is --interval right?\n");
  EXPECT_FALSE(fs::exists(data / "quarantine"));
  EXPECT_EQ(Stats(data).find("ETHUSDT"), std::string::npos);
}

// Two files refused whole, one committed: each refused file is named on its own "error:" line, in
// input order, by `import` and by `up --import` alike (up then stops, exit 3).
TEST(IngestCliTest, EveryRefusedFileIsNamedOnItsOwnLineByImportAndUp) {
  TempDir d;
  auto minutes = Head(Klines("") / kBtc1m2025, 1441);
  minutes.erase(minutes.begin() + 1);  // 1439 rows off the 1d grid
  const fs::path wrong1 = d / "in" / "ETHUSDT-1d-wrong1.csv";
  const fs::path wrong2 = d / "in" / "ETHUSDT-1d-wrong2.csv";
  WriteText(wrong1, Join(minutes));
  WriteText(wrong2, Join(minutes));
  const fs::path good = d / "in" / "BTCUSDT-1d-good.csv";
  WriteText(good, Join(Head(Klines("") / kBtc1d, 5)));
  const std::string errors =
      "error: '" + wrong1.string() +
      "': 1439 of 1439 rows are not on the 1d grid; is --interval right?\nerror: '" +
      wrong2.string() + "': 1439 of 1439 rows are not on the 1d grid; is --interval right?\n";
  auto r = RunCli(
      {"--data", (d / "lake").string(), "import", wrong1.string(), good.string(), wrong2.string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(StripRate(r.out),
            "import: files 1, rows 5 (R rows/s), added 5, duplicates 0, quarantined 0, failed 2\n");
  EXPECT_EQ(r.err, errors);
  auto up = RunCli({"--data", (d / "lake2").string(), "up", "--no-backfill", "--import",
                    wrong1.string(), "--import", good.string(), "--import", wrong2.string()});
  EXPECT_EQ(up.exit_code, 3);
  EXPECT_EQ(StripRate(up.out),
            "import: files 1, rows 5 (R rows/s), added 5, duplicates 0, quarantined 0, failed 2\n");
  EXPECT_EQ(up.err, errors);
}

// Finding 8: `import DIR` over a folder that holds the lake walked into its quarantine files and
// aborted the whole import on the first name it could not map to a symbol and interval.
TEST(IngestCliTest, ImportOfAFolderHoldingTheLakeSkipsItAndReportsUnnamedFiles) {
  TempDir d;
  const fs::path project = d / "project";
  const fs::path data = project / "data";
  // A first import leaves a quarantine file (named import-<time>-<pid>.csv) inside the lake.
  auto lines = Head(Klines("") / kBtc1d, 4);
  lines[3] = WithField(lines[3], 2, "1");  // high below open: a bad row
  WriteText(project / "in" / "BTCUSDT-1d-a.csv", Join(lines));
  ASSERT_EQ(RunCli({"--data", data.string(), "import", (project / "in").string()}).exit_code, 0);
  ASSERT_TRUE(fs::exists(data / "quarantine"));
  WriteText(project / "notes.csv", "what,when\n");
  WriteText(project / "more" / "ETHUSDT-1d-b.csv",
            Join(Head(Klines("1d") / "ETHUSDT-1d-2017-08_2026-04.csv", 6)));
  auto r = RunCli({"--data", data.string(), "import", project.string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(StripRate(r.out.substr(0, r.out.find(" (see "))),
            "import: files 2, rows 10 (R rows/s), added 6, duplicates 3, quarantined 1, failed 1");
  EXPECT_EQ(r.err,
            "error: skipped '" + (project / "notes.csv").string() +
                "': cannot tell symbol and interval from its name; use --symbol/--interval\n");
  EXPECT_NE(Stats(data).find("ETHUSDT"), std::string::npos);
}

// Finding 7: one rule for symbols, wherever they come from.
TEST(IngestCliTest, SymbolsAreNormalizedOrRefused) {
  TempDir d;
  const fs::path data = d / "lake";
  const fs::path f = d / "in" / "klines.csv";
  auto lines = Head(Klines("") / kBtc1d, 6);
  WriteText(f, Join({lines[0], lines[1], lines[2]}));
  auto bad = RunCli(
      {"--data", data.string(), "import", "--symbol", "BTC/USDT", "--interval", "1d", f.string()});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("--symbol: symbol 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ "
                         ".)"),
            std::string::npos)
      << bad.err;
  EXPECT_FALSE(fs::exists(data / "_manifest.json"));
  auto empty = RunCli({"--data", data.string(), "import", "--symbol", "", f.string()});
  EXPECT_EQ(empty.exit_code, 64);
  auto bf = RunCli({"--data", data.string(), "backfill", "--symbol", "btcusdt,ETH/USDT"});
  EXPECT_EQ(bf.exit_code, 64);
  EXPECT_NE(bf.err.find("symbol 'ETH/USDT' is not a Binance symbol"), std::string::npos) << bf.err;

  // Lower case and upper case are one series.
  ASSERT_EQ(RunCli({"--data", data.string(), "import", "--symbol", "btcusdt", "--interval", "1d",
                    f.string()})
                .exit_code,
            0);
  const fs::path g = d / "in" / "BTCUSDT-1d-more.csv";
  WriteText(g, Join({lines[3], lines[4], lines[5]}));
  ASSERT_EQ(RunCli({"--data", data.string(), "import", g.string()}).exit_code, 0);
  auto cat = RunCli({"--data", data.string(), "cat", "--symbol", "btcUSDT", "klines_1d"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(std::count(cat.out.begin(), cat.out.end(), '\n'), 7) << cat.out;  // header + 6
  EXPECT_EQ(cat.out.find("btcusdt"), std::string::npos);
  const std::string stats = Stats(data);
  EXPECT_EQ(stats.find("btcusdt"), std::string::npos) << stats;
}

// Finding 6: a gzip bomb (1.5 MB of zeros that inflate to 1.5 GiB) fails as a file, exit 3, with
// a message naming it; the lake is unchanged.
TEST(IngestCliTest, GzipBombFailsTheFileAndLeavesTheLakeAlone) {
  TempDir d;
  const fs::path data = d / "lake";
  ASSERT_EQ(RunCli({"--data", data.string(), "import", (Klines("") / kBtc1d).string()}).exit_code,
            0);
  const std::string before = Stats(data);
  // 1.5 GiB of zeros, deflated a chunk at a time.
  std::string gz;
  {
    z_stream zs{};
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    const std::string chunk(1 << 20, '\0');
    char buf[1 << 16];
    for (int i = 0; i < 1536; ++i) {
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
      zs.avail_in = static_cast<uInt>(chunk.size());
      const int flush = i == 1535 ? Z_FINISH : Z_NO_FLUSH;
      int rc;
      do {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof(buf);
        rc = deflate(&zs, flush);
        gz.append(buf, sizeof(buf) - zs.avail_out);
      } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    }
    deflateEnd(&zs);
  }
  const fs::path bomb = d / "in" / "BTCUSDT-1d-bomb.csv.gz";
  WriteText(bomb, gz);
  auto r = RunCli({"--data", data.string(), "import", bomb.string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error: '" + bomb.string() + "': decompresses to more than ", 0), 0u)
      << r.err;
  EXPECT_NE(r.err.find("(ratio > 1000:1); refusing it\n"), std::string::npos) << r.err;
  EXPECT_EQ(Stats(data), before);
  EXPECT_EQ(RunCli({"--data", data.string(), "verify"}).exit_code, 0);
}

}  // namespace
}  // namespace cryptolake
