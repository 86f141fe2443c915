// End-to-end tests of the `cryptolake` binary on the real sample data: real files in, real
// Parquet out, exact rows and messages checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
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

std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "'" : " '") + a + "'";
  return s;
}

// A usage error: exit code 64, nothing on stdout, and exactly `message` on stderr (with
// "error: " before it and CLI11's hint after it).
void ExpectUsageError(const std::vector<std::string>& args, const std::string& message) {
  SCOPED_TRACE(Join(args));
  auto r = RunCli(args);
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: " + message + "\nRun with --help for more information.\n");
}

TEST(CliTest, UnknownCommandIsNamedWithTheCommandsThereAre) {
  ExpectUsageError({"frobnicate"},
                   "unknown command 'frobnicate' (commands: import, backfill, stream, batch, "
                   "verify, compact, repair, stats, cat, gc, serve, merge, up, forecast, "
                   "alerts, replay-exchange)");
  ExpectUsageError({"--data", "x", "frobnicate", "--symbol", "y"},
                   "unknown command 'frobnicate' (commands: import, backfill, stream, batch, "
                   "verify, compact, repair, stats, cat, gc, serve, merge, up, forecast, "
                   "alerts, replay-exchange)");
  ExpectUsageError({"forecast", "fitt", "--symbol", "BTCUSDT"},
                   "unknown command 'forecast fitt' (forecast commands: fit, predict, cv)");
  ExpectUsageError({"alerts", "tset"}, "unknown command 'alerts tset' (alerts commands: test)");
  // Not a command: what CLI11 says stays.
  ExpectUsageError({"stats", "extra"}, "The following argument was not expected: extra");
}

// Finding 8: `backfill --budget 0` silently used the default budget; `--concurrency 0` too.
TEST(CliTest, BackfillBudgetAndConcurrencyZeroAreUsageErrorsNotTheDefault) {
  TempDir d;
  const std::string data = (d / "lake").string();
  ExpectUsageError({"--data", data, "backfill", "--budget", "0"},
                   "--budget: must be a number in (0, 1], got '0'");
  ExpectUsageError({"--data", data, "backfill", "--budget", "1.01"},
                   "--budget: must be a number in (0, 1], got '1.01'");
  ExpectUsageError({"--data", data, "backfill", "--concurrency", "0"},
                   "--concurrency: must be an integer in [1, 256], got '0'");
  EXPECT_FALSE(fs::exists(d / "lake"));  // refused before anything is opened
}

// `stream --role` and `--member` (a member's name becomes its view file's name) are checked
// before anything runs; the split roles need a bus that spans processes.
TEST(CliTest, StreamRolesAndMemberNamesAreChecked) {
  TempDir d;
  const std::string data = (d / "lake").string();
  ExpectUsageError({"--data", data, "stream", "--role", "worker"},
                   "--role: must be both, producer or consumer, got 'worker'");
  ExpectUsageError({"--data", data, "stream", "--role", "consumer", "--member", "../x"},
                   "--member: must be 1 to 64 letters, digits, '-' or '_', got '../x'");
  auto embedded = RunCli({"--data", data, "stream", "--role", "consumer", "--symbol", "BTCUSDT"});
  EXPECT_EQ(embedded.exit_code, 64);
  EXPECT_EQ(embedded.err,
            "error: --role consumer needs --bus kafka (the embedded bus lives in one process)\n");
  auto member = RunCli({"--data", data, "stream", "--member", "c1", "--symbol", "BTCUSDT"});
  EXPECT_EQ(member.exit_code, 64);
  EXPECT_EQ(member.err, "error: --member is for --role consumer\n");
  EXPECT_FALSE(fs::exists(d / "lake"));
}

// The global flags work after the command too (users type `import --data DIR FILE`); a command's
// own option of the same name (replay-exchange --data) is still the command's.
TEST(CliTest, GlobalFlagsWorkBeforeOrAfterTheCommand) {
  TempDir d;
  const std::string before = (d / "before").string(), after = (d / "after").string();
  const std::string file = (Klines("1d") / "BTCUSDT-1d-2017-08_2026-04.csv").string();
  auto a = RunCli({"--data", before, "import", file});
  auto b = RunCli({"import", "--data", after, file});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto sa = RunCli({"--data", before, "stats"});
  auto sb = RunCli({"stats", "-v", "--data", after});
  ASSERT_EQ(sa.exit_code, 0) << sa.err;
  ASSERT_EQ(sb.exit_code, 0) << sb.err;
  EXPECT_EQ(sa.out, sb.out);
  EXPECT_NE(sa.out.find("klines_1d        BTCUSDT        10       3178       3178  "
                        "2017-08-17T00:00:00Z 2026-04-29T00:00:00Z"),
            std::string::npos)
      << sa.out;
  // Nested commands too: `forecast cv --data DIR` looks for DIR's lake.
  const std::string none = (d / "none").string();
  auto cv = RunCli({"forecast", "cv", "--symbol", "BTCUSDT", "--data", none});
  EXPECT_EQ(cv.exit_code, 3) << cv.err;
  EXPECT_NE(cv.err.find("error: no lake at " + none + ": no such directory"), std::string::npos)
      << cv.err;
  EXPECT_FALSE(fs::exists(none));
}

// Finding 8: `import --threads -3` and `--symbol ''` were accepted.
TEST(CliTest, NegativeThreadsAndEmptySymbolsAreUsageErrors) {
  TempDir d;
  const std::string data = (d / "lake").string();
  const std::string file = (Klines("1d") / "BTCUSDT-1d-2017-08_2026-04.csv").string();
  ExpectUsageError({"--data", data, "import", "--threads", "-3", file},
                   "--threads: must be an integer >= 0, got '-3'");
  ExpectUsageError({"--data", data, "import", "--symbol", "", file}, "--symbol: must not be empty");
  ExpectUsageError({"--data", data, "backfill", "--symbol", ""}, "--symbol: must not be empty");
  ExpectUsageError({"--data", data, "backfill", "--symbol", "BTCUSDT,,ETHUSDT"},
                   "--symbol: has an empty item in 'BTCUSDT,,ETHUSDT'");
  ExpectUsageError({"--data", data, "stream", "--symbol", ""}, "--symbol: must not be empty");
  ExpectUsageError({"--data", data, "stream", "--symbol", ","},
                   "--symbol: has an empty item in ','");
  ExpectUsageError({"--data", data, "cat", "klines_1d", "--symbol", ""},
                   "--symbol: must not be empty");
  ExpectUsageError({"--data", data, "forecast", "predict", "--symbol", ""},
                   "--symbol: must not be empty");
  EXPECT_FALSE(fs::exists(d / "lake"));
}

// Every numeric flag of every command has a range; a value outside it is a usage error that
// names the flag, the value and the range, before anything is opened.
TEST(CliTest, EveryNumericFlagOutsideItsRangeIsAUsageError) {
  TempDir d;
  const std::string data = (d / "lake").string();
  const std::string secs = "a number of seconds in (0, 315360000]";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"import", "--threads", "-1", "x.csv"}, "--threads: must be an integer >= 0, got '-1'"},
      {{"backfill", "--weight-limit", "0"}, "--weight-limit: must be an integer >= 1, got '0'"},
      {{"backfill", "--page-limit", "1001"},
       "--page-limit: must be an integer in [1, 1000], got '1001'"},
      {{"backfill", "--page-limit", "0"}, "--page-limit: must be an integer in [1, 1000], got '0'"},
      {{"backfill", "--chunk-rows", "0"}, "--chunk-rows: must be an integer >= 1, got '0'"},
      {{"backfill", "--timeout", "0"}, "--timeout: must be " + secs + ", got '0'"},
      {{"backfill", "--timeout", "1e300"}, "--timeout: must be " + secs + ", got '1e300'"},
      {{"backfill", "--max-attempts", "0"}, "--max-attempts: must be an integer >= 1, got '0'"},
      {{"backfill", "--backoff-ms", "-1"},
       "--backoff-ms: must be a number in (0, 3600000], got '-1'"},
      {{"backfill", "--concurrency", "257"},
       "--concurrency: must be an integer in [1, 256], got '257'"},
      {{"backfill", "--budget", "nan"}, "--budget: must be a number in (0, 1], got 'nan'"},
      {{"stream", "--duration", "0"}, "--duration: must be " + secs + ", got '0'"},
      {{"stream", "--duration", "inf"}, "--duration: must be " + secs + ", got 'inf'"},
      {{"stream", "--append-every", "-1"}, "--append-every: must be " + secs + ", got '-1'"},
      {{"stream", "--stall-timeout", "0"}, "--stall-timeout: must be " + secs + ", got '0'"},
      {{"stream", "--rotate-after", "0"}, "--rotate-after: must be " + secs + ", got '0'"},
      {{"verify", "--max-ranges", "0"}, "--max-ranges: must be an integer >= 1, got '0'"},
      {{"serve", "--port", "65536"}, "--port: must be an integer in [0, 65535], got '65536'"},
      {{"serve", "--port", "-1"}, "--port: must be an integer in [0, 65535], got '-1'"},
      {{"serve", "--threads", "0"}, "--threads: must be an integer in [1, 256], got '0'"},
      {{"up", "--port", "70000"}, "--port: must be an integer in [0, 65535], got '70000'"},
      {{"up", "--threads", "-2"}, "--threads: must be an integer in [1, 256], got '-2'"},
      {{"up", "--speed", "0"}, "--speed: must be a number in (0, 1000000], got '0'"},
      {{"up", "--batch-every", "0"}, "--batch-every: must be " + secs + ", got '0'"},
      {{"up", "--append-every", "0"}, "--append-every: must be " + secs + ", got '0'"},
      {{"up", "--duration", "-5"}, "--duration: must be " + secs + ", got '-5'"},
      {{"forecast", "predict", "--symbol", "BTCUSDT", "--periods", "0"},
       "--periods: must be an integer in [1, 3650], got '0'"},
      {{"forecast", "fit", "--symbol", "BTCUSDT", "--periods", "3651"},
       "--periods: must be an integer in [1, 3650], got '3651'"},
      {{"forecast", "predict", "--symbol", "BTCUSDT", "--samples", "0"},
       "--samples: must be an integer in [1, 100000], got '0'"},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--interval-width", "1"},
       "--interval-width: must be a number in (0, 1), got '1'"},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--interval-width", "0"},
       "--interval-width: must be a number in (0, 1), got '0'"},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--changepoint-prior-scale", "0"},
       "--changepoint-prior-scale: must be a number > 0, got '0'"},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--threads", "-3"},
       "--threads: must be an integer >= 0, got '-3'"},
      {{"replay-exchange", "--data", "x", "--port", "70000"},
       "--port: must be an integer in [0, 65535], got '70000'"},
      {{"replay-exchange", "--data", "x", "--speed", "-1"},
       "--speed: must be a number in (0, 1000000], got '-1'"},
      {{"replay-exchange", "--data", "x", "--weight-limit", "0"},
       "--weight-limit: must be an integer >= 1, got '0'"},
      {{"replay-exchange", "--data", "x", "--ban-threshold", "0"},
       "--ban-threshold: must be an integer >= 1, got '0'"},
      {{"replay-exchange", "--data", "x", "--fault-seed", "-1"},
       "--fault-seed: must be an integer in [0, 18446744073709551615], got '-1'"},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--seed", "18446744073709551616"},
       "--seed: must be an integer in [0, 18446744073709551615], got '18446744073709551616'"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> full = {"--data", data};
    full.insert(full.end(), args.begin(), args.end());
    ExpectUsageError(full, message);
  }
  EXPECT_FALSE(fs::exists(d / "lake"));
}

// The ends of each range are accepted (checked with --help, which CLI11 answers only after
// every given value passed its check), and the help shows the ranges.
TEST(CliTest, RangeEndsAreAcceptedAndHelpShowsTheRanges) {
  const std::vector<std::vector<std::string>> ok = {
      {"import", "--threads", "0"},
      {"backfill", "--budget", "1", "--concurrency", "256", "--page-limit", "1", "--timeout",
       "315360000", "--backoff-ms", "3600000"},
      {"serve", "--port", "0", "--threads", "256"},
      {"serve", "--port", "65535", "--threads", "1"},
      {"stream", "--duration", "0.001", "--rotate-after", "315360000"},
      {"forecast", "cv", "--symbol", "BTCUSDT", "--interval-width", "0.999", "--threads", "0"},
      {"forecast", "predict", "--symbol", "BTCUSDT", "--periods", "3650", "--samples", "100000"},
      {"replay-exchange", "--data", "x", "--speed", "1000000", "--port", "65535"},
  };
  for (auto args : ok) {
    args.push_back("--help");
    SCOPED_TRACE(Join(args));
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  auto bf = RunCli({"backfill", "--help"});
  for (const char* s :
       {"--concurrency INT:in [1, 256]", "--budget FLOAT:in (0, 1]",
        "--page-limit INT:in [1, 1000]=1000", "--timeout FLOAT:in (0, 315360000]=30"}) {
    EXPECT_NE(bf.out.find(s), std::string::npos) << s << "\n" << bf.out;
  }
  auto srv = RunCli({"serve", "--help"});
  EXPECT_NE(srv.out.find("--port INT:in [0, 65535]=8080"), std::string::npos) << srv.out;
  auto fc = RunCli({"forecast", "cv", "--help"});
  EXPECT_NE(fc.out.find("--interval-width FLOAT:in (0, 1)=0.8"), std::string::npos) << fc.out;
}

// Finding 8: empty paths and values were taken as "the default" (`--data ''` made ./data).
TEST(CliTest, EmptyPathsAndValuesAreUsageErrors) {
  TempDir d;
  const std::string data = (d / "lake").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--data", "", "stats"}, "--data: must not be empty"},
      {{"--data", data, "--config", "", "stats"}, "--config: must not be empty"},
      {{"--data", data, "cat", "klines_1d", "--out", ""}, "--out: must not be empty"},
      {{"--data", data, "cat", ""}, "dataset: must not be empty"},
      {{"--data", data, "merge", "--out", ""}, "--out: must not be empty"},
      {{"--data", data, "serve", "--web-root", ""}, "--web-root: must not be empty"},
      {{"--data", data, "serve", "--token", ""}, "--token: must not be empty"},
      {{"--data", data, "serve", "--bind", ""}, "--bind: must not be empty"},
      {{"--data", data, "up", "--port-file", ""}, "--port-file: must not be empty"},
      {{"--data", data, "up", "--replay", ""}, "--replay: must not be empty"},
      {{"--data", data, "up", "--interval", "1m,"}, "--interval: has an empty item in '1m,'"},
      {{"--data", data, "backfill", "--exchange", ""}, "--exchange: must not be empty"},
      {{"--data", data, "backfill", "--interval", ""}, "--interval: must not be empty"},
      {{"--data", data, "backfill", "--from", ""}, "--from: must not be empty"},
      {{"--data", data, "stream", "--ws", ""}, "--ws: must not be empty"},
      {{"--data", data, "stream", "--exchange", ""}, "--exchange: must not be empty"},
      {{"--data", data, "stream", "--kafka-brokers", ""}, "--kafka-brokers: must not be empty"},
      {{"--data", data, "import", ""}, "paths: must not be empty"},
      {{"--data", data, "compact", "--dataset", ""}, "--dataset: must not be empty"},
      {{"--data", data, "forecast", "cv", "--symbol", "BTCUSDT", "--out", ""},
       "--out: must not be empty"},
      {{"--data", data, "forecast", "cv", "--symbol", "BTCUSDT", "--regressor", ""},
       "--regressor: must not be empty"},
      {{"replay-exchange", "--data", ""}, "--data: must not be empty"},
      {{"replay-exchange", "--data", "x", "--port-file", ""}, "--port-file: must not be empty"},
      {{"replay-exchange", "--data", "x", "--faults", ""}, "--faults: must not be empty"},
      {{"--data", data, "import", "--format", "", "x.csv"}, "--format: must not be empty"},
      {{"--data", data, "merge", "--out", "m", "--format", ""}, "--format: must not be empty"},
      {{"--data", data, "stream", "--bus", ""}, "--bus: must not be empty"},
      {{"--data", data, "forecast", "cv", "--symbol", "BTCUSDT", "--protocol", ""},
       "--protocol: must not be empty"},
  };
  for (const auto& [args, message] : cases) ExpectUsageError(args, message);
  EXPECT_FALSE(fs::exists(d / "lake"));
}

// Finding 8: a config value out of range is refused, naming the file, the key and the range,
// before the lake is opened (a negative grace period used to delete retired files at once).
TEST(CliTest, ConfigValuesOutOfRangeAreRefusedBeforeTheLakeIsOpened) {
  TempDir d;
  const fs::path cfg = d / "cryptolake.toml";
  WriteText(cfg, "[lake]\ndata = \"lake\"\ngc_grace_seconds = -1\n");
  auto r = RunCli({"--config", cfg.string(), "gc"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "error: " + cfg.string() +
                       ": lake.gc_grace_seconds must be an integer number of seconds in [0, "
                       "315360000], got -1\n");
  EXPECT_FALSE(fs::exists(d / "lake"));
  // `data = ""` made the config's own folder the lake.
  WriteText(cfg, "[lake]\ndata = \"\"\n");
  auto empty = RunCli({"--config", cfg.string(), "stats"});
  EXPECT_EQ(empty.exit_code, 3);
  EXPECT_EQ(empty.err, "error: " + cfg.string() +
                           ": lake.data must be a non-empty path (relative to this file, or "
                           "absolute), got \"\"\n");
  EXPECT_FALSE(fs::exists(d / "_staging"));
  // An integer budget is a budget.
  WriteText(cfg, "[backfill]\nweight_budget = 1\n");
  auto one =
      RunCli({"--config", cfg.string(), "--data", (d / "lake").string(), "backfill", "--help"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
}

// Finding 8: `compact --dataset nosuch` compacted nothing and said so as if all were well.
TEST(CliTest, CompactOfADatasetTheLakeDoesNotHaveListsTheDatasets) {
  TempDir d;
  ASSERT_EQ(RunCli({"--data", d.path(), "import", Klines("1d") / "BTCUSDT-1d-2017-08_2026-04.csv"})
                .exit_code,
            0);
  auto r = RunCli({"--data", d.path(), "compact", "--dataset", "nosuch"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: compact --dataset 'nosuch': the lake at " + d.path().string() +
                       " has no such dataset (datasets: klines_1d)\n");
  auto ok = RunCli({"--data", d.path(), "compact", "--dataset", "klines_1d"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out,
            "compact: 0 partitions rewritten, 0 files retired, 0 written, 0 rows kept, 0 "
            "duplicates dropped\n");
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

// `up --until` that is not a time: exit 3 naming it, before the server or the batch-refresh
// thread starts (it used to be refused with that thread running, and the process aborted).
TEST(CliTest, UpRefusesAnUnparseableUntilBeforeServing) {
  TempDir d;
  auto r = RunCli({"--data", (d / "lake").string(), "up", "--no-backfill", "--port", "0", "--until",
                   "someday"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err, "error: unparseable time 'someday' (expected YYYY-MM-DD[ HH:MM[:SS]], UTC)\n");
  EXPECT_EQ(r.out.find("up: serving"), std::string::npos) << r.out;
}

TEST(CliTest, MaxStreamsOutsideItsRangeIsAUsageError) {
  TempDir d;
  for (const char* cmd : {"serve", "up"}) {
    SCOPED_TRACE(cmd);
    auto zero = RunCli({"--data", d.path(), cmd, "--max-streams", "0"});
    EXPECT_EQ(zero.exit_code, 64);
    EXPECT_NE(zero.err.find("--max-streams: must be an integer in [1, 1000000], got '0'"),
              std::string::npos)
        << zero.err;
    auto word = RunCli({"--data", d.path(), cmd, "--max-streams", "many"});
    EXPECT_EQ(word.exit_code, 64);
    EXPECT_NE(word.err.find("--max-streams: must be an integer in [1, 1000000], got 'many'"),
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
  TempDir o;
  const std::string out = (o / "merged").string();
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

// Outputs never go inside a lake: its writers and garbage collector own everything there but
// forecasts/ (gc deletes Parquet files no manifest names). Symlinks and ".." are resolved first.
TEST(CliTest, OutputsInsideTheLakeAreRefused) {
  TempDir d;
  const fs::path lake = fs::canonical(d.path()) / "lake";
  ASSERT_EQ(
      RunCli({"--data", lake.string(), "import", Klines("1d") / "BTCUSDT-1d-2017-08_2026-04.csv"})
          .exit_code,
      0);
  auto before = RunCli({"--data", lake.string(), "stats"});
  fs::create_directories(d / "other");
  WriteText(d / "other" / "_manifest.json", "{}");  // another lake
  fs::create_symlink(lake / "klines_1d", d / "link");
  const std::string owned =
      ", whose folder holds only what the lake writes (and outputs under forecasts/); write "
      "outside the lake, or under ";
  auto inside = [&](const std::string& flag, const std::string& path) {
    return flag + " " + path + ": is inside the lake at " + lake.string() + owned +
           (lake / "forecasts").string();
  };
  const std::string data = lake.string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--data", data, "merge", "--out", data},
       "--out " + data + ": is the lake at " + data + owned + (lake / "forecasts").string()},
      {{"--data", data, "merge", "--out", (lake / "klines_1d").string()},
       inside("--out", (lake / "klines_1d").string())},
      {{"--data", data, "merge", "--out", (lake / "views" / "m").string()},
       inside("--out", (lake / "views" / "m").string())},
      {{"--data", data, "merge", "--out", (lake / "_staging" / "m").string()},
       inside("--out", (lake / "_staging" / "m").string())},
      {{"--data", data, "merge", "--out", (lake / "exports").string()},
       inside("--out", (lake / "exports").string())},
      {{"--data", data, "merge", "--out", (lake / "forecasts" / ".." / "klines_1d").string()},
       inside("--out", (lake / "forecasts" / ".." / "klines_1d").string()) /* == resolved */},
      {{"--data", data, "cat", "klines_1d", "--out", (d / "link" / "x.csv").string()},
       inside("--out", (d / "link" / "x.csv").string() +
                           " (= " + (lake / "klines_1d" / "x.csv").string() + ")")},
      {{"--data", data, "forecast", "cv", "--symbol", "BTCUSDT", "--out",
        (lake / "views" / "cv").string()},
       inside("--out", (lake / "views" / "cv").string())},
      {{"--data", data, "forecast", "predict", "--symbol", "BTCUSDT", "--json-out",
        (lake / "klines_1d" / "f.json").string()},
       inside("--json-out", (lake / "klines_1d" / "f.json").string())},
      {{"--data", data, "up", "--port-file", (lake / "_port").string()},
       inside("--port-file", (lake / "_port").string())},
      {{"replay-exchange", "--data", data, "--port-file", (lake / "port").string()},
       inside("--port-file", (lake / "port").string())},
      // A directory that holds a lake, whatever --data says.
      {{"--data", data, "merge", "--out", (d / "other").string()},
       "--out " + (d / "other").string() + ": is the lake at " + (d / "other").string() + owned +
           (d / "other" / "forecasts").string()},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(Join(args));
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, 64);
    EXPECT_EQ(r.err, "error: " + message + "\n");
  }
  // Nothing was written in the lake.
  EXPECT_FALSE(fs::exists(lake / "klines_1d" / "daily.parquet"));
  EXPECT_FALSE(fs::exists(lake / "klines_1d" / "x.csv"));
  EXPECT_FALSE(fs::exists(lake / "exports"));
  EXPECT_FALSE(fs::exists(lake / "views"));
  EXPECT_FALSE(fs::exists(lake / "_port"));
  EXPECT_EQ(RunCli({"--data", data, "stats"}).out, before.out);
  // Under forecasts/ is allowed (the default output of forecast is there).
  auto ok = RunCli(
      {"--data", data, "merge", "--out", (lake / "forecasts" / "m").string(), "--format", "csv"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(fs::exists(lake / "forecasts" / "m" / "daily.csv"));
}

// Every file and directory under `root`, relative to it.
std::set<std::string> Tree(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out.insert(e.path().lexically_relative(root).string());
  }
  return out;
}

// What `after` has that `before` has not.
std::vector<std::string> Added(const std::set<std::string>& before,
                               const std::set<std::string>& after) {
  std::vector<std::string> out;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(out));
  return out;
}

// Finding 8: read-only commands created the lake folder and answered from an empty lake. The
// commands that read or maintain a lake now say there is none, and create nothing.
TEST(CliTest, CommandsThatNeedALakeSayThereIsNoneAndCreateNothing) {
  TempDir d;
  const fs::path root = fs::canonical(d.path());
  const std::string missing = (root / "nolake").string();
  const std::string elsewhere = (root / "out").string();
  const std::vector<std::vector<std::string>> commands = {
      {"stats"},
      {"verify"},
      {"cat", "klines_1m"},
      {"serve", "--port", "0"},
      {"merge", "--out", elsewhere},
      {"forecast", "predict", "--symbol", "BTCUSDT"},
      {"forecast", "cv", "--symbol", "BTCUSDT", "--out", elsewhere},
      {"batch"},
      {"compact"},
      {"gc"},
  };
  for (const auto& c : commands) {
    std::vector<std::string> args = {"--data", missing};
    args.insert(args.end(), c.begin(), c.end());
    SCOPED_TRACE(Join(args));
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "error: no lake at " + missing +
                         ": no such directory; run `cryptolake import` or `cryptolake backfill` "
                         "first\n");
  }
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_FALSE(fs::exists(elsewhere));
  // A folder that is no lake (pointing --data at the wrong place) is left as it was.
  fs::create_directories(root / "notalake");
  WriteText(root / "notalake" / "notes.txt", "x");
  auto r = RunCli({"--data", (root / "notalake").string(), "verify"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "error: no lake at " + (root / "notalake").string() +
                       ": it has no _manifest.json; run `cryptolake import` or `cryptolake "
                       "backfill` first\n");
  EXPECT_EQ(Tree(root / "notalake"), std::set<std::string>{"notes.txt"});
}

// Read-only commands on a lake add nothing to it: no _staging, no forecasts/, no speed/.
// Depends on lake::Lake::Open no longer creating <data>/_staging (the lake side of the same
// finding): with the Open of before, every command below recreates it.
TEST(CliTest, ReadOnlyCommandsCreateNothingInTheLake) {
  TempDir d;
  const fs::path root = fs::canonical(d.path());
  const fs::path lake = root / "lake";
  ASSERT_EQ(RunCli({"--data", lake.string(), "import", Klines("1d")}).exit_code, 0);
  ASSERT_EQ(RunCli({"--data", lake.string(), "batch"}).exit_code, 0);
  fs::remove_all(lake / "_staging");
  const auto before = Tree(lake);
  ASSERT_FALSE(before.count("_staging"));
  const std::vector<std::pair<std::vector<std::string>, int>> commands = {
      {{"stats"}, 0},
      {{"verify"}, 0},
      {{"cat", "daily_filled", "--out", (root / "daily.csv").string()}, 0},
      {{"merge", "--out", (root / "merged").string()}, 0},
      {{"forecast", "cv", "--symbol", "BTCUSDT", "--model", "naive", "--initial", "2000d",
        "--period", "90d", "--horizon", "7d", "--out", (root / "cv").string()},
       0},
      // Opens the lake and builds the merged series, then refuses to bind: exit 3.
      {{"serve", "--bind", "0.0.0.0"}, 3},
  };
  for (const auto& [c, code] : commands) {
    std::vector<std::string> args = {"--data", lake.string()};
    args.insert(args.end(), c.begin(), c.end());
    SCOPED_TRACE(Join(args));
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(Added(before, Tree(lake)), std::vector<std::string>{});
    EXPECT_EQ(Tree(lake).size(), before.size());
  }
  EXPECT_TRUE(fs::exists(root / "daily.csv"));
  EXPECT_TRUE(fs::exists(root / "merged" / "daily.parquet"));
  EXPECT_TRUE(fs::exists(root / "cv" / "metrics.json"));
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
