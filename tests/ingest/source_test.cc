#include "ingest/source.h"

#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/fsutil.h"
#include "testing/kline_batches.h"
#include "testing/testing.h"

namespace cryptolake::ingest {
namespace {

using cryptolake::testing::ExpectSameBatch;

namespace fs = std::filesystem;
using cryptolake::testing::SharedData;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;

std::string Slurp(const fs::path& p) {
  auto r = ReadFile(p);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

std::string GzipBytes(std::string_view text) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Writes a zip with the given (member name, contents), using libzip.
void WriteZip(const fs::path& path,
              const std::vector<std::pair<std::string, std::string>>& members) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr) << "zip_open error " << err;
  for (const auto& [name, text] : members) {
    zip_source_t* src = zip_source_buffer(za, text.data(), text.size(), 0);
    ASSERT_NE(src, nullptr);
    ASSERT_GE(zip_file_add(za, name.c_str(), src, ZIP_FL_ENC_UTF_8), 0) << zip_strerror(za);
  }
  ASSERT_EQ(zip_close(za), 0);
}

void WriteChecksum(const fs::path& input, const std::string& hex) {
  WriteText(fs::path(input.string() + ".CHECKSUM"), hex + "  " + input.filename().string() + "\n");
}

ParsedFile ParseOne(const fs::path& p, const ParseOptions& opt = {}) {
  auto r = ParseInput(p, opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || r->size() != 1) {
    ADD_FAILURE() << "expected one parsed file";
    return {};
  }
  return std::move((*r)[0]);
}

bool HasOpenTimeIn(const KlineBatch& b, Micros from, Micros to) {
  auto it = std::lower_bound(b.open_time.begin(), b.open_time.end(), from);
  return it != b.open_time.end() && *it < to;
}

bool HasOpenTime(const KlineBatch& b, Micros t) {
  return std::binary_search(b.open_time.begin(), b.open_time.end(), t);
}

const char kOhlcv[] =
    "open_time,open,high,low,close,volume\n"
    "1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647\n"
    "1747699260000,105554.32,105609.89,105554.31,105604.68,6.48334\n";

TEST(ParserInputFileNameTest, Extensions) {
  EXPECT_TRUE(IsInputFileName("a.csv"));
  EXPECT_TRUE(IsInputFileName("a.CSV"));
  EXPECT_TRUE(IsInputFileName("a.csv.gz"));
  EXPECT_TRUE(IsInputFileName("a.zip"));
  EXPECT_FALSE(IsInputFileName("a.zip.CHECKSUM"));
  EXPECT_FALSE(IsInputFileName("a.gz"));
  EXPECT_FALSE(IsInputFileName("a.txt"));
  EXPECT_FALSE(IsInputFileName("csv"));
}

TEST(ParserInputTest, RealGzipWithExchangeOutages) {
  auto p = SharedData() /
           "binance-spot/klines/1m/BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz";
  ParsedFile f = ParseOne(p);
  EXPECT_EQ(f.name, p.string());
  EXPECT_EQ(f.format, Format::kOhlcv);
  EXPECT_EQ(f.time_unit, "ms");
  EXPECT_TRUE(f.bad.empty());
  const KlineBatch& b = f.batch;
  EXPECT_EQ(b.symbol, "BTCUSDT");
  EXPECT_EQ(b.interval.name, "1m");
  ASSERT_EQ(b.size(), 61272u);  // zcat | wc -l = 61273, minus the header
  EXPECT_EQ(f.data_lines, 61272);
  EXPECT_GT(f.bytes, 3'000'000);  // uncompressed
  EXPECT_EQ(b.open_time.front(), MicrosFromCivil(2021, 4, 2));
  EXPECT_EQ(b.open_time.back(), MicrosFromCivil(2021, 5, 14, 20, 25));
  // Outage 2021-04-20: last minute before it 01:59, first after it 04:30 (150 minutes missing).
  EXPECT_TRUE(HasOpenTime(b, MicrosFromCivil(2021, 4, 20, 1, 59)));
  EXPECT_FALSE(
      HasOpenTimeIn(b, MicrosFromCivil(2021, 4, 20, 2, 0), MicrosFromCivil(2021, 4, 20, 4, 30)));
  EXPECT_TRUE(HasOpenTime(b, MicrosFromCivil(2021, 4, 20, 4, 30)));
  // Outage 2021-04-25: the 04:00 minute exists; 04:01 .. 08:44 do not (284 minutes).
  EXPECT_TRUE(HasOpenTime(b, MicrosFromCivil(2021, 4, 25, 4, 0)));
  EXPECT_FALSE(
      HasOpenTimeIn(b, MicrosFromCivil(2021, 4, 25, 4, 1), MicrosFromCivil(2021, 4, 25, 8, 45)));
  EXPECT_TRUE(HasOpenTime(b, MicrosFromCivil(2021, 4, 25, 8, 45)));
  // Everything else is contiguous: exactly these two holes.
  int64_t holes = 0, missing = 0;
  for (size_t i = 1; i < b.size(); ++i) {
    Micros d = b.open_time[i] - b.open_time[i - 1];
    if (d != kMicrosPerMinute) {
      ++holes;
      missing += d / kMicrosPerMinute - 1;
    }
  }
  EXPECT_EQ(holes, 2);
  EXPECT_EQ(missing, 150 + 284);
}

TEST(ParserInputTest, GzipEqualsPlain) {
  TempDir tmp;
  auto plain = SharedData() / "binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv";
  std::string text = Slurp(plain);
  fs::path gz = tmp / "BTCUSDT-1d-2017-08_2026-04.csv.gz";
  WriteText(gz, GzipBytes(text));
  ParsedFile a = ParseOne(plain);
  ParsedFile b = ParseOne(gz);
  EXPECT_EQ(b.name, gz.string());
  EXPECT_EQ(b.bytes, static_cast<int64_t>(text.size()));
  ASSERT_EQ(b.batch.size(), 3178u);
  ExpectSameBatch(a.batch, b.batch);
}

TEST(ParserInputTest, MultiMemberGzip) {
  std::string part1 = "open_time,open,high,low,close,volume\n1747699200000,1,2,0.5,1.5,3\n";
  std::string part2 = "1747699260000,1,2,0.5,1.5,4\n";
  auto r = Gunzip("x.gz", GzipBytes(part1) + GzipBytes(part2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, part1 + part2);
  EXPECT_EQ(Gunzip("e.gz", GzipBytes("")).value(), "");
}

TEST(ParserInputTest, CorruptAndTruncatedGzip) {
  TempDir tmp;
  std::string gz = GzipBytes(std::string(kOhlcv) + std::string(kOhlcv).substr(37));
  fs::path cut = tmp / "BTCUSDT-1m-cut.csv.gz";
  WriteText(cut, gz.substr(0, gz.size() - 12));
  EXPECT_EQ(ParseInput(cut, {}).status().ToString(),
            "DataLoss: " + cut.string() + ": truncated gzip stream");
  fs::path bad = tmp / "BTCUSDT-1m-bad.csv.gz";
  std::string corrupt = gz;
  corrupt[1] = 'X';  // neither a gzip nor a zlib header
  WriteText(bad, corrupt);
  EXPECT_EQ(ParseInput(bad, {}).status().ToString(),
            "DataLoss: " + bad.string() + ": corrupt gzip data (incorrect header check)");
}

TEST(ParserInputTest, ZipWithChecksum) {
  TempDir tmp;
  std::string btc = Slurp(SharedData() / "binance-spot/klines/15m/BTCUSDT-15m-2025-01.csv");
  std::string eth =
      Slurp(SharedData() / "binance-spot/klines/15m-microseconds/ETHUSDT-15m-2025-01.csv");
  fs::path zip = tmp / "BTCUSDT-15m-2025-01.zip";
  WriteZip(zip, {{"BTCUSDT-15m-2025-01.csv", btc},
                 {"README.txt", "not a csv"},
                 {"sub/ETHUSDT-15m-2025-01.csv", eth}});
  std::string sha = Sha256Hex(Slurp(zip));
  WriteChecksum(zip, sha);

  auto r = ParseInput(zip, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const ParsedFile& a = (*r)[0];
  const ParsedFile& b = (*r)[1];
  EXPECT_EQ(a.name, zip.string() + ":BTCUSDT-15m-2025-01.csv");
  EXPECT_EQ(b.name, zip.string() + ":sub/ETHUSDT-15m-2025-01.csv");
  EXPECT_EQ(a.time_unit, "ms");
  EXPECT_EQ(b.time_unit, "us");
  EXPECT_EQ(a.batch.symbol, "BTCUSDT");
  EXPECT_EQ(b.batch.symbol, "ETHUSDT");  // from the member, not the archive
  EXPECT_EQ(a.bytes, static_cast<int64_t>(btc.size()));
  ASSERT_EQ(a.batch.size(), 2976u);
  ASSERT_EQ(b.batch.size(), 2976u);
  ParseOptions o;
  ExpectSameBatch(a.batch, ParseCsv("BTCUSDT-15m-2025-01.csv", btc, o).value().batch);

  // Uppercase hex in the CHECKSUM file is fine.
  std::string upper = sha;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  WriteChecksum(zip, upper);
  EXPECT_TRUE(ParseInput(zip, {}).ok());
}

TEST(ParserInputTest, ZipWithWrongChecksumIsRejected) {
  TempDir tmp;
  fs::path zip = tmp / "BTCUSDT-1m-2025-05.zip";
  WriteZip(zip, {{"BTCUSDT-1m-2025-05.csv", kOhlcv}});
  std::string sha = Sha256Hex(Slurp(zip));
  std::string wrong(64, '0');
  WriteChecksum(zip, wrong);
  EXPECT_EQ(
      ParseInput(zip, {}).status().ToString(),
      "DataLoss: checksum mismatch for " + zip.string() + ": expected " + wrong + ", got " + sha);
  WriteText(fs::path(zip.string() + ".CHECKSUM"), "deadbeef  BTCUSDT-1m-2025-05.zip\n");
  EXPECT_EQ(ParseInput(zip, {}).status().ToString(),
            "DataLoss: " + zip.string() + ".CHECKSUM: not a SHA-256 checksum file");
}

TEST(ParserInputTest, PlainCsvChecksum) {
  TempDir tmp;
  fs::path csv = tmp / "BTCUSDT-1m-2025-05.csv";
  WriteText(csv, kOhlcv);
  WriteChecksum(csv, Sha256Hex(kOhlcv));
  EXPECT_EQ(ParseOne(csv).batch.size(), 2u);
  WriteText(csv, std::string(kOhlcv) + "1747699320000,1,2,0.5,1.5,3\n");  // changed after the sum
  EXPECT_EQ(ParseInput(csv, {}).status().code(), StatusCode::kDataLoss);
}

TEST(ParserInputTest, ZipMemberInheritsArchiveName) {
  TempDir tmp;
  fs::path zip = tmp / "ETHUSDT-1m-2025-05.zip";
  WriteZip(zip, {{"data.csv", kOhlcv}});
  ParsedFile f = ParseOne(zip);
  EXPECT_EQ(f.name, zip.string() + ":data.csv");
  EXPECT_EQ(f.batch.symbol, "ETHUSDT");
  EXPECT_EQ(f.batch.interval.name, "1m");
  EXPECT_EQ(f.batch.size(), 2u);

  fs::path anon = tmp / "klines.zip";
  WriteZip(anon, {{"data.csv", kOhlcv}});
  EXPECT_EQ(ParseInput(anon, {}).status().ToString(),
            "InvalidArgument: cannot infer symbol from file name '" + anon.string() +
                ":data.csv'; pass --symbol");
  ParseOptions o;
  o.symbol = "BTCUSDT";
  o.interval = *Interval::Parse("1m");
  EXPECT_EQ(ParseOne(anon, o).batch.symbol, "BTCUSDT");
}

TEST(ParserInputTest, BadZips) {
  TempDir tmp;
  fs::path none = tmp / "BTCUSDT-1m-2025-05.zip";
  WriteZip(none, {{"README.txt", "hello"}});
  EXPECT_EQ(ParseInput(none, {}).status().ToString(),
            "InvalidArgument: " + none.string() + ": zip archive has no .csv member");
  fs::path fake = tmp / "ETHUSDT-1m-2025-05.zip";
  WriteText(fake, kOhlcv);
  EXPECT_EQ(ParseInput(fake, {}).status().ToString(),
            "DataLoss: " + fake.string() + ": not a readable zip archive (Not a zip archive)");
}

TEST(ParserInputTest, MissingFileAndUndetectableFormat) {
  TempDir tmp;
  fs::path missing = tmp / "BTCUSDT-1m-x.csv";
  EXPECT_EQ(ParseInput(missing, {}).status().ToString(),
            "NotFound: cannot open " + missing.string() + ": No such file or directory");
  fs::path odd = tmp / "BTCUSDT-1m-odd.csv";
  WriteText(odd, "a;b;c\n1;2;3\n");
  EXPECT_EQ(ParseInput(odd, {}).status().ToString(),
            "InvalidArgument: " + odd.string() +
                ": cannot detect the CSV format (first line: 'a;b;c'); pass --format");
  fs::path empty = tmp / "BTCUSDT-1m-empty.csv";
  WriteText(empty, "");
  ParseOptions o;
  o.format = Format::kOhlcv;
  EXPECT_EQ(ParseOne(empty, o).batch.size(), 0u);
}

TEST(ParserInputTest, ConcurrentCallsAgreeWithSequential) {
  std::vector<fs::path> files;
  for (const char* m : {"2024-01", "2024-02", "2024-03", "2024-04"}) {
    files.push_back(SharedData() / fmt::format("binance-spot/klines/1h/BTCUSDT-1h-{}.csv", m));
    files.push_back(SharedData() / fmt::format("binance-spot/klines/1h/ETHUSDT-1h-{}.csv", m));
  }
  std::vector<ParsedFile> seq;
  for (const auto& f : files) seq.push_back(ParseOne(f));
  std::vector<StatusOr<std::vector<ParsedFile>>> par(files.size(), Internal("not parsed"));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < files.size(); i += 4) par[i] = ParseInput(files[i], {});
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < files.size(); ++i) {
    ASSERT_TRUE(par[i].ok()) << par[i].status().ToString();
    ASSERT_EQ(par[i]->size(), 1u);
    EXPECT_GT(seq[i].batch.size(), 600u);
    ExpectSameBatch((*par[i])[0].batch, seq[i].batch);
  }
}

class ParserExpandInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "in";
    for (const char* f : {"a/BTCUSDT-1m-x.csv", "b/ETHUSDT-1m-y.csv.gz", "z.zip", "z.zip.CHECKSUM",
                          "notes.txt", "c/deeper/X.CSV"}) {
      WriteText(root_ / f, "x");
    }
    fs::create_directories(tmp_.path() / "empty/sub");
    WriteText(tmp_.path() / "empty/sub/readme.md", "x");
  }
  std::vector<std::string> Expand(const std::vector<std::string>& args) {
    auto r = ExpandInputs(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const auto& p : *r) out.push_back(p.lexically_relative(tmp_.path()).string());
    }
    return out;
  }
  TempDir tmp_;
  fs::path root_;
};

TEST_F(ParserExpandInputsTest, DirectoryRecursively) {
  EXPECT_EQ(Expand({root_.string()}),
            (std::vector<std::string>{"in/a/BTCUSDT-1m-x.csv", "in/b/ETHUSDT-1m-y.csv.gz",
                                      "in/c/deeper/X.CSV", "in/z.zip"}));
}

TEST_F(ParserExpandInputsTest, GlobsFilesAndDeduplication) {
  EXPECT_EQ(Expand({(root_ / "*").string()}),  // dirs recurse; notes.txt and CHECKSUM dropped
            (std::vector<std::string>{"in/a/BTCUSDT-1m-x.csv", "in/b/ETHUSDT-1m-y.csv.gz",
                                      "in/c/deeper/X.CSV", "in/z.zip"}));
  EXPECT_EQ(Expand({(root_ / "?/*.csv*").string()}),
            (std::vector<std::string>{"in/a/BTCUSDT-1m-x.csv", "in/b/ETHUSDT-1m-y.csv.gz"}));
  // The same file named three ways, plus a directory holding it: listed once. Explicit files are
  // taken whatever their extension, but CHECKSUM files never.
  EXPECT_EQ(
      Expand({(root_ / "a/BTCUSDT-1m-x.csv").string(), (root_ / "a/./BTCUSDT-1m-x.csv").string(),
              (root_ / "a").string(), (root_ / "b/../a/BTCUSDT-1m-x.csv").string(),
              (root_ / "notes.txt").string(), (root_ / "z.zip.CHECKSUM").string()}),
      (std::vector<std::string>{"in/a/BTCUSDT-1m-x.csv", "in/notes.txt"}));
}

TEST_F(ParserExpandInputsTest, NothingMatches) {
  std::string missing = (root_ / "nope.csv").string();
  EXPECT_EQ(ExpandInputs({root_.string(), missing}).status().ToString(),
            "NotFound: no such file or directory: '" + missing + "'");
  std::string pattern = (root_ / "*.parquet").string();
  EXPECT_EQ(ExpandInputs({pattern}).status().ToString(),
            "NotFound: no input files match '" + pattern + "'");
  std::string only_txt = (root_ / "*.txt").string();
  EXPECT_EQ(ExpandInputs({only_txt}).status().ToString(),
            "NotFound: no input files match '" + only_txt + "'");
  std::string empty = (tmp_.path() / "empty").string();
  EXPECT_EQ(ExpandInputs({empty}).status().ToString(),
            "NotFound: no input files (*.csv, *.csv.gz, *.zip) under '" + empty + "'");
  EXPECT_EQ(ExpandInputs({}).status().ToString(), "NotFound: no input files given");
  EXPECT_EQ(ExpandInputs({(root_ / "z.zip.CHECKSUM").string()}).status().ToString(),
            "NotFound: no input files given");
}

TEST_F(ParserExpandInputsTest, DirectoryWalkSkipsLakes) {
  // A lake under the walked folder (its root holds _manifest.json), its quarantine CSVs and a
  // lake that is only staging so far: none of it is an input.
  WriteText(root_ / "data/_manifest.json", "{}");
  WriteText(root_ / "data/quarantine/import-1-2.csv", "file,line,reason,text\n");
  WriteText(root_ / "data/klines_1d/BTCUSDT-1d-z.csv", "x");
  WriteText(root_ / "other/_staging/t1/ETHUSDT-1m-z.csv", "x");
  WriteText(root_ / "other/ETHUSDT-1m-w.csv", "x");
  EXPECT_EQ(Expand({root_.string()}),
            (std::vector<std::string>{"in/a/BTCUSDT-1m-x.csv", "in/b/ETHUSDT-1m-y.csv.gz",
                                      "in/c/deeper/X.CSV", "in/z.zip"}));
  EXPECT_EQ(ExpandInputs({(root_ / "data").string()}).status().ToString(),
            "NotFound: no input files (*.csv, *.csv.gz, *.zip) under '" +
                (root_ / "data").string() + "'");
}

// A gzip stream of `n` zero bytes, deflated 1 MiB at a time (never held whole).
std::string GzipZeros(uint64_t n) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string chunk(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  for (uint64_t left = n; true;) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    left -= take;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    zs.avail_in = static_cast<uInt>(take);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      rc = deflate(&zs, flush);
      out.append(buf, sizeof(buf) - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    if (left == 0) break;
  }
  deflateEnd(&zs);
  return out;
}

TEST(ParserInputTest, GzipBombIsRefusedWhileInflating) {
  TempDir d;
  const std::string bomb = GzipZeros(uint64_t{1536} << 20);  // 1.5 GiB of zeros
  ASSERT_GT(bomb.size(), 1'400'000u);
  ASSERT_LT(bomb.size(), 1'600'000u);
  const fs::path p = d / "BTCUSDT-1m-bomb.csv.gz";
  WriteText(p, bomb);
  auto r = ParseInput(p, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  const std::string m = r.status().message();
  EXPECT_EQ(m.rfind("'" + p.string() + "': decompresses to more than ", 0), 0u) << m;
  EXPECT_TRUE(m.ends_with(" (ratio > 1000:1); refusing it")) << m;
  // It stopped early: what it inflated is a small part of the 1.5 GiB.
  const uint64_t produced = std::stoull(m.substr(m.find("more than ") + 10));
  EXPECT_LT(produced, uint64_t{256} << 20) << m;

  // The hard cap holds for data inside the ratio, too: 3 MiB of CSV with a 1 MiB cap.
  std::string csv;
  while (csv.size() < (3u << 20)) csv += "1747699200000,1,1,1,1,1\n";
  InflateLimits small;
  small.max_bytes = 1 << 20;
  auto capped = Gunzip("big.csv.gz", GzipBytes(csv), small);
  EXPECT_EQ(capped.status().ToString(),
            "FailedPrecondition: 'big.csv.gz': decompresses to more than 1048576 bytes (the cap); "
            "refusing it");
  // Within the limits it still inflates exactly.
  EXPECT_EQ(Gunzip("big.csv.gz", GzipBytes(csv)).value(), csv);
}

// Sets every uncompressed-size field of a zip's local and central headers to `size`.
void ClaimSize(std::string& zip, uint32_t size) {
  auto put = [&](size_t at) {
    for (int i = 0; i < 4; ++i) zip[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  int patched = 0;
  for (size_t i = 0; i + 4 <= zip.size(); ++i) {
    if (zip.compare(i, 4, "PK\x03\x04") == 0) put(i + 22), ++patched;  // local file header
    if (zip.compare(i, 4, "PK\x01\x02") == 0) put(i + 24), ++patched;  // central directory
  }
  ASSERT_EQ(patched, 2);
}

TEST(ParserInputTest, ZipClaimingAHugeMemberIsRefusedUnread) {
  TempDir d;
  const fs::path p = d / "BTCUSDT-1m-lying.zip";
  std::string csv;
  for (int i = 0; i < 40; ++i) csv += fmt::format("{},1,1,1,1,1\n", 1747699200000 + i * 60000);
  WriteZip(p, {{"BTCUSDT-1m-lying.csv", csv}});
  std::string zip = Slurp(p);
  ClaimSize(zip, 0xF0000000u);  // 4 GB
  WriteText(p, zip);
  ASSERT_LT(zip.size(), 2048u);
  auto r = ParseInput(p, {});
  EXPECT_EQ(r.status().ToString(),
            fmt::format("FailedPrecondition: '{}:BTCUSDT-1m-lying.csv': claims 4026531840 bytes "
                        "uncompressed, more than {} (ratio > 1000:1 to the {}-byte archive, or "
                        "the cap); refusing it",
                        p.string(), 1000 * zip.size() + (1 << 20), zip.size()));
}

}  // namespace
}  // namespace cryptolake::ingest
