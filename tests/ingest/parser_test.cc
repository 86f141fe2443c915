#include "ingest/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake::ingest {
namespace {

using cryptolake::testing::SharedData;

ParseOptions Opts(Format f = Format::kAuto) {
  ParseOptions o;
  o.format = f;
  return o;
}

ParsedFile MustParse(std::string_view name, std::string_view text,
                     const ParseOptions& opt = ParseOptions{}) {
  auto r = ParseCsv(name, text, opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return std::move(r).value();
}

ParsedFile MustParseFile(const std::filesystem::path& p, const ParseOptions& opt = {}) {
  auto text = ReadFile(p);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return {};
  return MustParse(p.string(), *text, opt);
}

// Index of the row opening at `t`, or -1.
int64_t RowAt(const KlineBatch& b, Micros t) {
  auto it = std::lower_bound(b.open_time.begin(), b.open_time.end(), t);
  if (it == b.open_time.end() || *it != t) return -1;
  return it - b.open_time.begin();
}

std::string Reasons(const ParsedFile& f) {
  std::string s;
  for (const BadRow& b : f.bad) s += fmt::format("{}: {}\n", b.line, b.reason);
  return s;
}

// Two consecutive BTCUSDT 15m klines of 2025-01-01, as data.binance.vision writes them.
constexpr char kVisionMs[] =
    "1735689600000,93576.00000000,93702.15000000,93489.03000000,93656.18000000,175.85673000,"
    "1735690499999,16461794.00035600,19788,63.20664000,5915901.62666110,0\n"
    "1735690500000,93656.19000000,93898.05000000,93614.95000000,93761.90000000,95.41749000,"
    "1735691399999,8948674.28711040,20478,52.30851000,4905499.62377410,0\n";
constexpr char kVisionUs[] =
    "1735689600000000,93576.00000000,93702.15000000,93489.03000000,93656.18000000,175.85673000,"
    "1735690499999999,16461794.00035600,19788,63.20664000,5915901.62666110,0\n"
    "1735690500000000,93656.19000000,93898.05000000,93614.95000000,93761.90000000,95.41749000,"
    "1735691399999999,8948674.28711040,20478,52.30851000,4905499.62377410,0\n";

// A valid 15m vision row opening at 2025-01-01 00:00 with the given fields replaced.
std::string VisionRow(std::string open_time = "1735689600000", std::string o = "10",
                      std::string h = "12", std::string l = "9", std::string c = "11",
                      std::string v = "5", std::string close_time = "1735690499999",
                      std::string trades = "7") {
  return fmt::format("{},{},{},{},{},{},{},55.5,{},2.5,27.5,0", open_time, o, h, l, c, v,
                     close_time, trades);
}

TEST(ParserFormatTest, ParseAndName) {
  for (Format f : {Format::kAuto, Format::kVision, Format::kOhlcv, Format::kBitstamp}) {
    auto r = ParseFormat(FormatName(f));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, f);
  }
  auto bad = ParseFormat("csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString(),
            "InvalidArgument: unknown format 'csv' (accepted: auto, vision, ohlcv, bitstamp)");
}

TEST(ParserFileNameTest, SplitsSymbolAndInterval) {
  struct Case {
    const char* name;
    const char* symbol;
    const char* interval;
  } cases[] = {
      {"BTCUSDT-1m-2025-01.csv", "BTCUSDT", "1m"},
      {"/data/x/ETHUSDT-15m-2025-01.zip", "ETHUSDT", "15m"},
      {"BTCUSD_1d_candles_full.csv", "BTCUSD", "1d"},
      {"BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv", "BTCUSDT", "1m"},
      {"a.zip:ETHUSDT-1h-2024-01.csv", "ETHUSDT", "1h"},
      {"BTCUSDT-7m.csv", "BTCUSDT", "7m"},  // spelled, validated later
      {"BTC_USDT-1m.csv", "", ""},          // freqtrade pair spelling: no guess
      {"btcusdt-1m-2025-01.csv", "", ""},
      {"BT-1m-x.csv", "", ""},
      {"BTCUSDT-1w-2025.csv", "", ""},
      {"BTCUSDT-1m", "", ""},
      {"klines.csv", "", ""},
  };
  for (const Case& c : cases) {
    NameParts p = SplitFileName(c.name);
    EXPECT_EQ(p.symbol, c.symbol) << c.name;
    EXPECT_EQ(p.interval, c.interval) << c.name;
  }
}

TEST(ParserFileNameTest, ResolveErrorsAndOverrides) {
  std::string sym;
  Interval iv;
  EXPECT_EQ(ResolveSymbolInterval("dir/klines.csv", {}, &sym, &iv).ToString(),
            "InvalidArgument: cannot infer symbol from file name 'dir/klines.csv'; pass --symbol");
  ParseOptions o;
  o.symbol = "SOLUSDT";
  EXPECT_EQ(ResolveSymbolInterval("dir/klines.csv", o, &sym, &iv).ToString(),
            "InvalidArgument: cannot infer interval from file name 'dir/klines.csv'; pass "
            "--interval");
  EXPECT_EQ(ResolveSymbolInterval("BTCUSDT-7m-x.csv", {}, &sym, &iv).ToString(),
            "InvalidArgument: cannot infer interval from file name 'BTCUSDT-7m-x.csv': "
            "unsupported interval '7m' (accepted: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, "
            "1d); pass --interval");
  o.interval = *Interval::Parse("4h");
  ASSERT_TRUE(ResolveSymbolInterval("BTCUSDT-1m-x.csv", o, &sym, &iv).ok());
  EXPECT_EQ(sym, "SOLUSDT");
  EXPECT_EQ(iv.name, "4h");
}

TEST(ParserCsvTest, VisionMilliseconds) {
  ParsedFile f = MustParse("BTCUSDT-15m-2025-01.csv", kVisionMs);
  EXPECT_EQ(f.name, "BTCUSDT-15m-2025-01.csv");
  EXPECT_EQ(f.format, Format::kVision);
  EXPECT_EQ(f.time_unit, "ms");
  EXPECT_EQ(f.data_lines, 2);
  EXPECT_EQ(f.bytes, static_cast<int64_t>(sizeof(kVisionMs) - 1));
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  const KlineBatch& b = f.batch;
  EXPECT_EQ(b.symbol, "BTCUSDT");
  EXPECT_EQ(b.interval.name, "15m");
  EXPECT_TRUE(b.full);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.open_time[0], 1735689600000000);
  EXPECT_EQ(b.close_time[0], 1735690499999000);
  EXPECT_EQ(b.open_time[1], 1735690500000000);
  EXPECT_EQ(b.open[0], 93576.0);
  EXPECT_EQ(b.high[0], 93702.15);
  EXPECT_EQ(b.low[0], 93489.03);
  EXPECT_EQ(b.close[0], 93656.18);
  EXPECT_EQ(b.volume[0], 175.85673);
  EXPECT_EQ(b.quote_volume[0], 16461794.000356);
  EXPECT_EQ(b.trades[0], 19788);
  EXPECT_EQ(b.trades[1], 20478);
  EXPECT_EQ(b.taker_buy_base[0], 63.20664);
  EXPECT_EQ(b.taker_buy_quote[0], 5915901.6266611);
  EXPECT_EQ(b.close[1], 93761.9);
}

TEST(ParserCsvTest, VisionMicrosecondsKeepsCloseTimeFaithful) {
  ParsedFile f = MustParse("BTCUSDT-15m-2025-01.csv", kVisionUs);
  EXPECT_EQ(f.time_unit, "us");
  ASSERT_EQ(f.batch.size(), 2u);
  EXPECT_EQ(f.batch.open_time[0], 1735689600000000);
  EXPECT_EQ(f.batch.close_time[0], 1735690499999999);
  EXPECT_EQ(f.batch.close[1], 93761.9);
}

TEST(ParserCsvTest, SecondsVisionFile) {
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv", "1735689600,1,2,0.5,1.5,3,1735689659,4,5,1,2,0\n");
  EXPECT_EQ(f.time_unit, "s");
  ASSERT_EQ(f.batch.size(), 1u) << Reasons(f);
  EXPECT_EQ(f.batch.open_time[0], 1735689600000000);
  EXPECT_EQ(f.batch.close_time[0], 1735689659000000);
}

TEST(ParserCsvTest, VisionWithHeader) {
  std::string text =
      "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
      "taker_buy_quote_volume,ignore\n" +
      std::string(kVisionMs);
  ParsedFile f = MustParse("BTCUSDT-15m-2025-01.csv", text);
  EXPECT_EQ(f.format, Format::kVision);
  EXPECT_EQ(f.data_lines, 2);
  EXPECT_EQ(f.batch.size(), 2u);
  // An explicit vision format accepts the header too.
  EXPECT_EQ(MustParse("BTCUSDT-15m-2025-01.csv", text, Opts(Format::kVision)).batch.size(), 2u);
}

TEST(ParserCsvTest, Ohlcv) {
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv",
                           " Open_Time , OPEN,high,low,close,volume\r\n"
                           "1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647\r\n"
                           "1747699260000,105554.32,105609.89,105554.31,105604.68,6.48334");
  EXPECT_EQ(f.format, Format::kOhlcv);
  EXPECT_EQ(f.time_unit, "ms");
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  const KlineBatch& b = f.batch;
  EXPECT_FALSE(b.full);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_TRUE(b.close_time.empty());
  EXPECT_TRUE(b.quote_volume.empty());
  EXPECT_TRUE(b.trades.empty());
  EXPECT_TRUE(b.taker_buy_base.empty());
  EXPECT_TRUE(b.taker_buy_quote.empty());
  EXPECT_EQ(b.open_time[1], 1747699260000000);
  EXPECT_EQ(b.high[1], 105609.89);
  EXPECT_EQ(b.volume[1], 6.48334);  // last line has no newline
}

TEST(ParserCsvTest, OhlcvWithoutHeaderNeedsExplicitFormat) {
  const char text[] = "1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647\n";
  auto r = ParseCsv("BTCUSDT-1m-x.csv", text, {});
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: cannot detect the CSV format (first line: "
            "'1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647'); pass --format");
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv", text, Opts(Format::kOhlcv));
  EXPECT_EQ(f.batch.size(), 1u);
}

TEST(ParserCsvTest, Bitstamp) {
  ParsedFile f =
      MustParse("BTCUSD_1d_candles_full.csv",
                "timestamp,open,close,volume,unix_timestamp,high,low\n"
                "2011-08-18 00:00:00,10.9,10.9,0.48990826,1313625600,10.9,10.9\n"
                "2011-08-19 00:00:00,10.9,11.69,1.9265781400000002,1313712000,11.85,10.9\n"
                "2011-08-20 00:00:00,11.7,11.7,1,1313712000,11.7,11.7\n"
                "2011-08-21,11.7,11.7,1,1313884800,11.7,11.7\n"
                "2011-08-22 00:00:00,11.7,11.6,1,1313971200,11.5,11.5\n"
                "yesterday,11.7,11.6,1,1313971200,11.7,11.5\n"
                "2011-08-23 12:00:00,11.7,11.6,1,1314100800,11.7,11.5\n"
                "2011-08-24 00:00:00,11.7,11.6,1,1314144000,11.7,11.5,9\n");
  EXPECT_EQ(f.format, Format::kBitstamp);
  EXPECT_EQ(f.time_unit, "s");
  EXPECT_EQ(f.data_lines, 8);
  EXPECT_EQ(f.batch.symbol, "BTCUSD");
  EXPECT_EQ(f.batch.interval.name, "1d");
  EXPECT_FALSE(f.batch.full);
  ASSERT_EQ(f.batch.size(), 3u) << Reasons(f);
  EXPECT_EQ(f.batch.open_time[0], MicrosFromCivil(2011, 8, 18));
  EXPECT_EQ(f.batch.open[0], 10.9);
  EXPECT_EQ(f.batch.open_time[1], MicrosFromCivil(2011, 8, 19));
  // Columns are reordered: high/low come from columns 6/7, close from column 3.
  EXPECT_EQ(f.batch.close[1], 11.69);
  EXPECT_EQ(f.batch.high[1], 11.85);
  EXPECT_EQ(f.batch.low[1], 10.9);
  EXPECT_EQ(f.batch.volume[1], 1.9265781400000002);
  EXPECT_EQ(f.batch.open_time[2], MicrosFromCivil(2011, 8, 21));  // date-only timestamp is fine
  EXPECT_EQ(Reasons(f),
            "4: timestamp '2011-08-20 00:00:00' disagrees with unix_timestamp 1313712000 "
            "(2011-08-19T00:00:00Z)\n"
            "6: high 11.5 below max(open, close) 11.7\n"
            "7: invalid timestamp 'yesterday' (column 1)\n"
            "8: open_time 1314100800 (2011-08-23T12:00:00Z) is not aligned to the 1d interval\n"
            "9: expected 7 columns, got 8\n");
}

TEST(ParserCsvTest, DetectionErrors) {
  auto r = ParseCsv("BTCUSDT-1m-x.csv", "time,price\n1,2\n", {});
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: cannot detect the CSV format (first line: "
            "'time,price'); pass --format");
  r = ParseCsv("BTCUSDT-1m-x.csv", "\n\r\n  \n", {});
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: cannot detect the CSV format (the file is "
            "empty); pass --format");
  r = ParseCsv("BTCUSDT-1m-x.csv", "open_time,open,high,low,close,volume\n",
               Opts(Format::kBitstamp));
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: header 'open_time,open,high,low,close,volume' does "
            "not match --format bitstamp (expected "
            "'timestamp,open,close,volume,unix_timestamp,high,low')");
  r = ParseCsv("BTCUSDT-1m-x.csv", "open_time,open,high,low,close,volume\n", Opts(Format::kVision));
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: header 'open_time,open,high,low,close,volume' does "
            "not match --format vision (expected 12 columns starting with open_time)");
  // Symbol inference happens before anything else.
  r = ParseCsv("klines.csv", kVisionMs, {});
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: cannot infer symbol from file name 'klines.csv'; pass --symbol");
}

TEST(ParserCsvTest, EmptyInputWithExplicitFormatOrHeaderOnly) {
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv", "", Opts(Format::kVision));
  EXPECT_EQ(f.format, Format::kVision);
  EXPECT_EQ(f.batch.size(), 0u);
  EXPECT_EQ(f.data_lines, 0);
  EXPECT_EQ(f.time_unit, "");
  f = MustParse("BTCUSDT-1m-x.csv", "open_time,open,high,low,close,volume\n");
  EXPECT_EQ(f.format, Format::kOhlcv);
  EXPECT_EQ(f.batch.size(), 0u);
}

TEST(ParserCsvTest, UndecidableTimeUnitFailsTheFile) {
  auto r = ParseCsv("BTCUSDT-1m-x.csv",
                    "open_time,open,high,low,close,volume\n\n173568960000,1,1,1,1,1\n", {});
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: BTCUSDT-1m-x.csv: line 3: open_time 173568960000 has 12 digits; "
            "cannot tell the time unit (expected 13 for ms, 16 for us or 10 for s)");
}

TEST(ParserCsvTest, TimeUnitComesFromFirstIntegerOpenTime) {
  // The first data row is bad, but its open_time is an integer: it decides "us".
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv",
                           "open_time,open,high,low,close,volume\n"
                           "1735689600000000,1,1,1,1\n"
                           "1735689660000,1,1,1,1,1\n"
                           "1735689720000000,1,1,1,1,1\n");
  EXPECT_EQ(f.time_unit, "us");
  ASSERT_EQ(f.batch.size(), 1u);
  EXPECT_EQ(f.batch.open_time[0], 1735689720000000);
  EXPECT_EQ(Reasons(f),
            "2: expected 6 columns, got 5\n"
            "3: open_time 1735689660000 has 13 digits; this file uses us (16)\n");
}

TEST(ParserCsvTest, EveryBadRowKind) {
  std::string long_field(300, 'x');
  std::string text;
  auto add = [&](const std::string& line) { text += line + "\n"; };
  add(VisionRow());                                                                     // 1 good
  add("1735690500000,1,2,3,4,5,6");                                                     // 2
  add(VisionRow("1735690500000", "10", ""));                                            // 3
  add(VisionRow("1735690500000", "10", "abc"));                                         // 4
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735691399999", "1.5"));  // 5
  add(VisionRow("1735690500000", "nan"));                                               // 6
  add(VisionRow("1735690500000", "inf"));                                               // 7
  add(VisionRow("1735690500000", "1e999"));                                             // 8
  add(VisionRow("1735690500000000", "10", "12", "9", "11", "5", "1735691399999999"));   // 9
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735691399999999"));      // 10
  add(VisionRow("1735689660000", "10", "12", "9", "11", "5", "1735690559999"));         // 11
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735691400000"));         // 12
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735690499999"));         // 13
  add(VisionRow("1735690500000", "10", "12", "9", "11", "-1.5", "1735691399999"));      // 14
  add(VisionRow("1735690500000", "11", "10.5", "9", "10", "5", "1735691399999"));       // 15
  add(VisionRow("1735690500000", "11", "13", "12", "11.5", "5", "1735691399999"));      // 16
  add(VisionRow("-1735690500000", "10", "12", "9", "11", "5", "-1735691399999"));       // 17
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735691399999", "-3"));   // 18
  add(VisionRow("1735690500000", "-10", "12", "9", "11", "5", "1735691399999"));        // 19
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735691399999") + ",x");  // 20
  add("1735690500000,10,12,9,11,5,1735691399999,55.5,7,2.5,-27.5,0");                   // 21
  add(VisionRow("1735690500000", long_field));                                          // 22
  add(VisionRow("1735690500000", "10", "12", "9", "11", "5", "1735690500000"));         // 23 good
  ParsedFile f = MustParse("BTCUSDT-15m-2025-01.csv", text);
  EXPECT_EQ(f.data_lines, 23);
  EXPECT_EQ(Reasons(f),
            "2: expected 12 columns, got 7\n"
            "3: empty field high (column 3)\n"
            "4: non-numeric high 'abc' (column 3)\n"
            "5: non-integer trades '1.5' (column 9)\n"
            "6: non-numeric open 'nan' (column 2)\n"
            "7: non-numeric open 'inf' (column 2)\n"
            "8: non-numeric open '1e999' (column 2)\n"
            "9: open_time 1735690500000000 has 16 digits; this file uses ms (13)\n"
            "10: close_time 1735691399999999 has 16 digits; this file uses ms (13)\n"
            "11: open_time 1735689660000 (2025-01-01T00:01:00Z) is not aligned to the 15m "
            "interval\n"
            "12: close_time 1735691400000 inconsistent with open_time 1735690500000: expected "
            "1735691399999 (open_time + 15m - 1 ms)\n"
            "13: close_time 1735690499999 inconsistent with open_time 1735690500000: expected "
            "1735691399999 (open_time + 15m - 1 ms)\n"
            "14: negative volume -1.5\n"
            "15: high 10.5 below max(open, close) 11\n"
            "16: low 12 above min(open, close) 11\n"
            "17: negative open_time -1735690500000\n"
            "18: negative trades -3\n"
            "19: negative open -10\n"
            "20: expected 12 columns, got 13\n"
            "21: negative taker_buy_quote -27.5\n"
            "22: non-numeric open '" +
                std::string(60, 'x') + "...' (column 2)\n");
  ASSERT_EQ(f.bad.size(), 21u);
  EXPECT_EQ(f.bad[0].file, "BTCUSDT-15m-2025-01.csv");
  EXPECT_EQ(f.bad[0].text, "1735690500000,1,2,3,4,5,6");
  EXPECT_EQ(f.bad[12].text,
            VisionRow("1735690500000", "10", "12", "9", "11", "-1.5", "1735691399999"));
  EXPECT_EQ(f.bad[20].text.size(), 200u);  // truncated raw line
  EXPECT_EQ(f.bad[20].text, VisionRow("1735690500000", long_field).substr(0, 200));
  // The two good rows; the second was cut short by a halt: close_time == open_time is kept.
  ASSERT_EQ(f.batch.size(), 2u);
  EXPECT_EQ(f.batch.open_time[1], 1735690500000000);
  EXPECT_EQ(f.batch.close_time[1], 1735690500000000);
}

TEST(ParserCsvTest, OhlcvBadRows) {
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv",
                           "open_time,open,high,low,close,volume\n"
                           "1747699200000,1,2,0.5,1.5,3\n"
                           "1747699200000,1,2,0.5,1.5\n"
                           "1747699230000,1,2,0.5,1.5,3\n"
                           "1747699260000,1,2,0.5,1.5,\n"
                           "1747699320000,1,2,0.5,1.5,3x\n"
                           "1747699380000.0,1,2,0.5,1.5,3\n"
                           ",1,2,0.5,1.5,3\n");
  EXPECT_EQ(f.batch.size(), 1u);
  EXPECT_EQ(Reasons(f),
            "3: expected 6 columns, got 5\n"
            "4: open_time 1747699230000 (2025-05-20T00:00:30Z) is not aligned to the 1m interval\n"
            "5: empty field volume (column 6)\n"
            "6: non-numeric volume '3x' (column 6)\n"
            "7: non-integer open_time '1747699380000.0' (column 1)\n"
            "8: empty field open_time (column 1)\n");
}

TEST(ParserCsvTest, LineEndsBlankLinesBomAndLineNumbers) {
  std::string text =
      "\xEF\xBB\xBF\r\nopen_time,open,high,low,close,volume\r\n\r\n"
      "1747699200000,1,2,0.5,1.5,3\r\n"
      "   \r\n"
      "1747699260000,1,2,0.5,1.5\r\n"
      "\n"
      "1747699320000,1,2,0.5,1.5,3";
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv", text);
  EXPECT_EQ(f.format, Format::kOhlcv);
  EXPECT_EQ(f.data_lines, 3);
  EXPECT_EQ(f.bytes, static_cast<int64_t>(text.size()));
  ASSERT_EQ(f.batch.size(), 2u);
  EXPECT_EQ(f.batch.open_time[1], 1747699320000000);
  EXPECT_EQ(f.batch.volume[1], 3.0);
  ASSERT_EQ(f.bad.size(), 1u);
  EXPECT_EQ(f.bad[0].line, 6);
  EXPECT_EQ(f.bad[0].text, "1747699260000,1,2,0.5,1.5");  // no "\r"
}

TEST(ParserCsvTest, TolerantSpellingsGiveTheSameValues) {
  // Spaces around fields, ".5" and exponents go through the slow tokenizer; the values must be
  // those of the plain spelling.
  ParsedFile plain =
      MustParse("BTCUSDT-1m-x.csv", "1747699200000,0.5,2,0.25,1.5,3,1747699259999,4,5,1,2,0\n");
  ParsedFile odd = MustParse(
      "BTCUSDT-1m-x.csv", " 1747699200000 ,.5, 2e0 ,0.25 ,1.50,3.0 ,1747699259999, 4 ,5 ,1,2,\n");
  ASSERT_EQ(plain.batch.size(), 1u) << Reasons(plain);
  ASSERT_EQ(odd.batch.size(), 1u) << Reasons(odd);
  EXPECT_EQ(odd.batch.open_time, plain.batch.open_time);
  EXPECT_EQ(odd.batch.close_time, plain.batch.close_time);
  EXPECT_EQ(odd.batch.open, plain.batch.open);
  EXPECT_EQ(odd.batch.high, plain.batch.high);
  EXPECT_EQ(odd.batch.low, plain.batch.low);
  EXPECT_EQ(odd.batch.close, plain.batch.close);
  EXPECT_EQ(odd.batch.volume, plain.batch.volume);
  EXPECT_EQ(odd.batch.quote_volume, plain.batch.quote_volume);
  EXPECT_EQ(odd.batch.trades, plain.batch.trades);
}

TEST(ParserCsvTest, DecimalsAreCorrectlyRounded) {
  // Plain rows take the fast scanner (its own exact decimal path, fast_float beyond it); a
  // leading space sends a row through the slow tokenizer (fast_float only). Both must equal
  // strtod, including at the 2^53 boundary, past 19 digits and with trailing zeros.
  std::mt19937_64 rng(42);
  std::vector<std::string> values = {"9007199254740992",
                                     "9007199254740993",
                                     "9007199254740993.0",
                                     "90071992547409930",
                                     "0.1",
                                     "0.30000000000000004",
                                     "1010412673.55502120",
                                     "123456789012345678.901234",  // within kMaxVolume
                                     "0.000000000000000000000001",
                                     "5.000000000000000000000",
                                     "0",
                                     "0.0",
                                     "1e5",
                                     "2.5E-3"};
  for (int i = 0; i < 3000; ++i) {
    std::string v = std::to_string(rng() % 1000000000000ULL).substr(0, 1 + rng() % 12);
    if (rng() % 4 != 0) {
      v += ".";
      int frac = 1 + static_cast<int>(rng() % 14);
      for (int k = 0; k < frac; ++k) v += static_cast<char>('0' + rng() % 10);
    }
    values.push_back(v);
  }
  std::string text = "open_time,open,high,low,close,volume\n";
  Micros t = 1747699200000;
  // Values beyond the price bounds (core/bounds.h: (0, 1e15]) are checked as volumes only.
  auto price = [](const std::string& v) {
    double d = std::strtod(v.c_str(), nullptr);
    return d > 0 && d <= 1e15 ? v : std::string("1");
  };
  for (const std::string& v : values) {
    const std::string p = price(v);
    text += fmt::format("{},{},{},{},{},{}\n", t, p, p, p, p, v);
    text += fmt::format("{}, {},{},{},{},{}\n", t + 60000, p, p, p, p, v);
    t += 120000;
  }
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv", text);
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  ASSERT_EQ(f.batch.size(), 2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    double want = std::strtod(values[i].c_str(), nullptr);
    double want_open = std::strtod(price(values[i]).c_str(), nullptr);
    EXPECT_EQ(f.batch.open[2 * i], want_open) << values[i];
    EXPECT_EQ(f.batch.volume[2 * i], want) << values[i];
    EXPECT_EQ(f.batch.open[2 * i + 1], want_open) << values[i];
    EXPECT_EQ(f.batch.volume[2 * i + 1], want) << values[i];
  }
}

TEST(ParserCsvTest, OptionsOverrideFileName) {
  ParseOptions o;
  o.symbol = "XBTUSD";
  o.interval = *Interval::Parse("1m");
  // With a 1m interval the 15m rows are still on the grid, but close_time no longer fits.
  ParsedFile f = MustParse("BTCUSDT-15m-2025-01.csv", kVisionMs, o);
  EXPECT_EQ(f.batch.symbol, "XBTUSD");
  EXPECT_EQ(f.batch.interval.name, "1m");
  EXPECT_EQ(f.batch.size(), 0u);
  ASSERT_EQ(f.bad.size(), 2u);
  EXPECT_EQ(f.bad[0].reason,
            "close_time 1735690499999 inconsistent with open_time 1735689600000: expected "
            "1735689659999 (open_time + 1m - 1 ms)");
}

// ---- Real sample data (../shared/data), read in place.

TEST(ParserRealDataTest, BtcDailyKnownFacts) {
  auto p = SharedData() / "binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv";
  ParsedFile f = MustParseFile(p);
  EXPECT_EQ(f.format, Format::kVision);
  EXPECT_EQ(f.time_unit, "ms");
  EXPECT_EQ(f.batch.symbol, "BTCUSDT");
  EXPECT_EQ(f.batch.interval.name, "1d");
  EXPECT_EQ(f.data_lines, 3178);  // wc -l
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  const KlineBatch& b = f.batch;
  ASSERT_EQ(b.size(), 3178u);
  EXPECT_EQ(b.open_time.front(), MicrosFromCivil(2017, 8, 17));
  EXPECT_EQ(b.open_time.back(), MicrosFromCivil(2026, 4, 29));
  int64_t i = RowAt(b, MicrosFromCivil(2017, 12, 17));
  ASSERT_GE(i, 0);
  EXPECT_EQ(b.close[i], 18860.02);
  i = RowAt(b, MicrosFromCivil(2021, 11, 10));
  ASSERT_GE(i, 0);
  EXPECT_EQ(b.close[i], 64882.43);
  EXPECT_EQ(b.high[i], 69000.00);
  EXPECT_EQ(b.close_time[i], MicrosFromCivil(2021, 11, 11) - 1000);
  // 2018-02-08: Binance halted trading; the day's kline closed at 00:28:14.788 and is kept as is.
  i = RowAt(b, MicrosFromCivil(2018, 2, 8));
  ASSERT_GE(i, 0);
  EXPECT_EQ(b.close_time[i], 1518049694788000);
  EXPECT_EQ(b.close[i], 7784.02);
}

TEST(ParserRealDataTest, EthDailyKnownFacts) {
  auto p = SharedData() / "binance-spot/klines/1d/ETHUSDT-1d-2017-08_2026-04.csv";
  ParsedFile f = MustParseFile(p);
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  EXPECT_EQ(f.batch.symbol, "ETHUSDT");
  ASSERT_EQ(f.batch.size(), 3178u);
  int64_t i = RowAt(f.batch, MicrosFromCivil(2021, 11, 10));
  ASSERT_GE(i, 0);
  EXPECT_EQ(f.batch.close[i], 4628.78);
  EXPECT_EQ(f.batch.high[i], 4868.00);
}

TEST(ParserRealDataTest, MillisecondAndMicrosecondFilesAreIdentical) {
  ParsedFile ms = MustParseFile(SharedData() / "binance-spot/klines/15m/BTCUSDT-15m-2025-01.csv");
  ParsedFile us =
      MustParseFile(SharedData() / "binance-spot/klines/15m-microseconds/BTCUSDT-15m-2025-01.csv");
  EXPECT_EQ(ms.time_unit, "ms");
  EXPECT_EQ(us.time_unit, "us");
  EXPECT_TRUE(ms.bad.empty()) << Reasons(ms);
  EXPECT_TRUE(us.bad.empty()) << Reasons(us);
  ASSERT_EQ(ms.batch.size(), 2976u);  // 31 days * 96
  ASSERT_EQ(us.batch.size(), 2976u);
  EXPECT_EQ(ms.batch.open_time, us.batch.open_time);
  EXPECT_EQ(ms.batch.open, us.batch.open);
  EXPECT_EQ(ms.batch.high, us.batch.high);
  EXPECT_EQ(ms.batch.low, us.batch.low);
  EXPECT_EQ(ms.batch.close, us.batch.close);
  EXPECT_EQ(ms.batch.volume, us.batch.volume);
  EXPECT_EQ(ms.batch.quote_volume, us.batch.quote_volume);
  EXPECT_EQ(ms.batch.trades, us.batch.trades);
  EXPECT_EQ(ms.batch.taker_buy_base, us.batch.taker_buy_base);
  EXPECT_EQ(ms.batch.taker_buy_quote, us.batch.taker_buy_quote);
  EXPECT_EQ(ms.batch.open_time.front(), MicrosFromCivil(2025, 1, 1));
  EXPECT_EQ(ms.batch.open_time.back(), MicrosFromCivil(2025, 1, 31, 23, 45));
  // close_time stays faithful to each file: ...999000 for ms, ...999999 for us.
  EXPECT_EQ(ms.batch.close_time.front(), MicrosFromCivil(2025, 1, 1, 0, 15) - 1000);
  EXPECT_EQ(us.batch.close_time.front(), MicrosFromCivil(2025, 1, 1, 0, 15) - 1);
}

TEST(ParserRealDataTest, HourlyFileWithExchangeOutage) {
  // 2023-03-24: Binance spot halted 12:40-14:00. The 12:00 kline closed early (12:39:41.646) and
  // has no volume; the 13:00 kline does not exist.
  ParsedFile f = MustParseFile(SharedData() / "binance-spot/klines/1h/BTCUSDT-1h-2023-03.csv");
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  ASSERT_EQ(f.batch.size(), 743u);
  int64_t i = RowAt(f.batch, MicrosFromCivil(2023, 3, 24, 12));
  ASSERT_GE(i, 0);
  EXPECT_EQ(f.batch.close_time[i], 1679661581646000);
  EXPECT_EQ(f.batch.volume[i], 0.0);
  EXPECT_EQ(f.batch.trades[i], 0);
  EXPECT_EQ(RowAt(f.batch, MicrosFromCivil(2023, 3, 24, 13)), -1);
  EXPECT_EQ(f.batch.open_time[i + 1], MicrosFromCivil(2023, 3, 24, 14));
}

TEST(ParserRealDataTest, OneMinuteOhlcv) {
  auto p = SharedData() /
           "binance-spot/klines/1m/BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv";
  ParsedFile f = MustParseFile(p);
  EXPECT_EQ(f.format, Format::kOhlcv);
  EXPECT_EQ(f.time_unit, "ms");
  EXPECT_EQ(f.batch.interval.name, "1m");
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  ASSERT_EQ(f.batch.size(), 130708u);  // wc -l minus the header
  EXPECT_EQ(f.batch.open_time.front(), MicrosFromCivil(2025, 5, 20));
  EXPECT_EQ(f.batch.open_time.back(), MicrosFromCivil(2025, 8, 18, 18, 27));
  EXPECT_EQ(f.batch.open[0], 105573.73);
  EXPECT_EQ(f.batch.volume[0], 10.82647);
  // No gaps: consecutive minutes throughout.
  for (size_t k = 1; k < f.batch.size(); ++k) {
    ASSERT_EQ(f.batch.open_time[k] - f.batch.open_time[k - 1], kMicrosPerMinute) << k;
  }
}

TEST(ParserRealDataTest, BitstampDaily) {
  ParsedFile f = MustParseFile(SharedData() / "btcusd-daily/BTCUSD_1d_candles_full.csv");
  EXPECT_EQ(f.format, Format::kBitstamp);
  EXPECT_EQ(f.time_unit, "s");
  EXPECT_EQ(f.batch.symbol, "BTCUSD");
  EXPECT_EQ(f.batch.interval.name, "1d");
  EXPECT_TRUE(f.bad.empty()) << Reasons(f);
  ASSERT_EQ(f.batch.size(), 5152u);  // wc -l minus the header
  EXPECT_EQ(f.batch.open_time.front(), MicrosFromCivil(2011, 8, 18));
  EXPECT_EQ(f.batch.open.front(), 10.9);
  EXPECT_EQ(f.batch.open_time.back(), MicrosFromCivil(2025, 9, 24));
  EXPECT_EQ(f.batch.close.back(), 113700.11);
  EXPECT_EQ(f.batch.high.back(), 113950.0);
  EXPECT_EQ(f.batch.low.back(), 111066.07);
}

// Values the lake's DECIMAL(38,10) sums cannot hold are bad rows, each naming field and value.
TEST(ParserBoundsTest, PricesAndVolumesOutOfRangeAreBadRows) {
  const std::string good = "1747699200000,100,101,99,100.5,1\n";
  ParsedFile f = MustParse("BTCUSDT-1m-x.csv",
                           "open_time,open,high,low,close,volume\n"
                           "1747699200000,100,101,99,100.5,1\n"
                           "1747699260000,100,101,99,100.5,1e29\n"
                           "1747699320000,0,101,0,100.5,1\n"
                           "1747699380000,100,2e15,99,100.5,1\n"
                           "1747699440000,100,101,99,100.5,1e18\n"
                           "1747699500000,1e15,1e15,1e15,1e15,0\n");
  EXPECT_EQ(Reasons(f),
            "3: volume 1e+29 out of range [0, 1e18]\n"
            "4: open 0 out of range (0, 1e15]\n"
            "5: high 2000000000000000 out of range (0, 1e15]\n");
  EXPECT_EQ(f.batch.size(), 3u);
  EXPECT_EQ(f.batch.volume[1], 1e18);
  // Vision's extra volumes too.
  ParsedFile v =
      MustParse("BTCUSDT-1d-x.csv",
                "1502928000000,4261.48,4485.39,4200.74,4285.08,795.150377,1503014399999,3e21,3427,"
                "616.248541,2678216.40060401,0\n");
  EXPECT_EQ(Reasons(v), "1: quote_volume 3e+21 out of range [0, 1e18]\n");
}

TEST(ParserBoundsTest, OpenTimesBeforeTheSourceOrAfterNowAreBadRows) {
  ParseOptions o;
  o.now = *ParseTime("2026-04-30T12:00:00Z");
  // 1d: the first Binance kline opened 2017-07-14; a row may open at most one day after now.
  ParsedFile f =
      MustParse("BTCUSDT-1d-x.csv",
                "1499904000000,1,1,1,1,1,1499990399999,1,1,1,1,0\n"   // 2017-07-13
                "1499990400000,1,1,1,1,1,1500076799999,1,1,1,1,0\n"   // 2017-07-14
                "1777593600000,1,1,1,1,1,1777679999999,1,1,1,1,0\n"   // 2026-05-01: now + 12h
                "1777680000000,1,1,1,1,1,1777766399999,1,1,1,1,0\n"   // 2026-05-02: beyond
                "4102444800000,1,1,1,1,1,4102531199999,1,1,1,1,0\n",  // 2100-01-01
                o);
  EXPECT_EQ(Reasons(f),
            "1: open_time 2017-07-13T00:00:00Z is before the first Binance kline "
            "(2017-07-14T00:00:00Z)\n"
            "4: open_time 2026-05-02T00:00:00Z is after now + 1d (2026-05-01T12:00:00Z)\n"
            "5: open_time 2100-01-01T00:00:00Z is after now + 1d (2026-05-01T12:00:00Z)\n");
  EXPECT_EQ(f.batch.size(), 2u);
  // Other OHLCV sources reach back to the first bitcoin block (2009-01-03).
  ParsedFile b = MustParse("BTCUSD_1d_x.csv",
                           "timestamp,open,close,volume,unix_timestamp,high,low\n"
                           "2009-01-02 00:00:00,1,1,1,1230854400,1,1\n"
                           "2011-08-18 00:00:00,1,1,1,1313625600,1,1\n",
                           o);
  EXPECT_EQ(Reasons(b),
            "2: open_time 2009-01-02T00:00:00Z is before the first bitcoin block "
            "(2009-01-03T00:00:00Z)\n");
}

TEST(ParserBoundsTest, FileMostlyOffTheGridFailsWhole) {
  std::string text = "open_time,open,high,low,close,volume\n";
  for (int i = 1; i <= 1440; ++i) {
    text += fmt::format("{},100,101,99,100.5,1\n", 1747699200000 + int64_t{i} * 60000);
  }
  auto r = ParseCsv("f.csv", text, [] {
    ParseOptions o;
    o.symbol = "BTCUSDT";
    o.interval = *Interval::Parse("1d");
    return o;
  }());
  // 2025-05-21 00:00 (the last row) is on the 1d grid; 1439 rows are not.
  EXPECT_EQ(r.status().ToString(),
            "InvalidArgument: 'f.csv': 1439 of 1440 rows are not on the 1d grid; is --interval "
            "right?");
  // The same rows on their own grid parse, and a minority off the grid stays bad rows.
  EXPECT_EQ(MustParse("BTCUSDT-1m-f.csv", text).batch.size(), 1440u);
  ParsedFile few = MustParse("BTCUSDT-1h-f.csv",
                             "open_time,open,high,low,close,volume\n"
                             "1747699200000,100,101,99,100.5,1\n"
                             "1747699260000,100,101,99,100.5,1\n"
                             "1747702800000,100,101,99,100.5,1\n");
  EXPECT_EQ(few.batch.size(), 2u);
  EXPECT_EQ(few.off_grid, 1);
}

TEST(ParserSymbolTest, SymbolsAreNormalizedOrRefused) {
  ParseOptions o;
  o.symbol = "btcusdt";
  EXPECT_EQ(MustParse("ETHUSDT-1m-x.csv", "open_time,open,high,low,close,volume\n", o).batch.symbol,
            "BTCUSDT");
  o.symbol = "BTC/USDT";
  EXPECT_EQ(
      ParseCsv("BTCUSDT-1m-x.csv", "open_time,open,high,low,close,volume\n", o).status().ToString(),
      "InvalidArgument: symbol 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)");
  EXPECT_EQ(ParseCsv("ABCDEFGHIJKLMNOPQRSTU-1m-x.csv", "open_time,open,high,low,close,volume\n", {})
                .status()
                .ToString(),
            "InvalidArgument: cannot infer symbol from file name 'ABCDEFGHIJKLMNOPQRSTU-1m-x.csv': "
            "symbol 'ABCDEFGHIJKLMNOPQRSTU' is not a Binance symbol (1-20 of A-Z 0-9 - _ .); pass "
            "--symbol");
}

}  // namespace
}  // namespace cryptolake::ingest
