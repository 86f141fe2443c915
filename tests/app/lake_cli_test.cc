// What the lake promises, end to end through the `cryptolake` binary: it deletes only what it
// wrote, a lost manifest is an error every command names, damaged files are named and can be
// retired (repair), on the real sample data.
#include <gtest/gtest.h>

#include <map>

#include "core/fsutil.h"
#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::RunCli;
using testing::SharedData;
using testing::TempDir;

fs::path Klines(const std::string& sub) { return SharedData() / "binance-spot/klines" / sub; }

std::vector<fs::path> DataFiles(const fs::path& root) {
  std::vector<fs::path> out;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().extension() == ".parquet") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The finding of issue 18: `--data .` in a project folder holding the default ./data lake made
// one import delete every file of that lake. Now the folder holding a lake is refused, and the
// lake's files are untouched.
TEST(LakeCliTest, ADataRootHoldingALakeIsRefusedAndThatLakeKeepsEveryFile) {
  TempDir dir;
  const fs::path project = dir / "project";
  auto r = RunCli({"--data", (project / "data").string(), "import", Klines("1d").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto files = DataFiles(project / "data");
  ASSERT_EQ(files.size(), 20u);
  std::map<fs::path, std::string> sums;
  for (const auto& f : files) sums[f] = *Sha256File(f);
  auto bad = RunCli({"--data", project.string(), "import", Klines("1d").string()});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.err, "error: data root " + project.string() + " holds another lake at " +
                         (project / "data").string() +
                         ": lakes cannot be nested (each one's garbage collector owns the folders "
                         "below it); use --data " +
                         (project / "data").string() + " for that lake, or move it out\n");
  auto inside =
      RunCli({"--data", (project / "data/klines_1d").string(), "import", Klines("1d").string()});
  EXPECT_EQ(inside.exit_code, 3);
  EXPECT_NE(inside.err.find(" is inside the lake at " + (project / "data").string()),
            std::string::npos)
      << inside.err;
  EXPECT_EQ(DataFiles(project / "data"), files);
  for (const auto& f : files) EXPECT_EQ(*Sha256File(f), sums[f]) << f;
}

// The finding: a lake whose _manifest.json is missing was treated as empty: verify said clean
// and the next write deleted every data file.
TEST(LakeCliTest, AMissingManifestIsAnIntegrityErrorAndNoCommandWrites) {
  TempDir dir;
  const fs::path data = dir / "data";
  ASSERT_EQ(RunCli({"--data", data.string(), "import", Klines("1d").string()}).exit_code, 0);
  const auto files = DataFiles(data);
  fs::remove(data / "_manifest.json");
  auto v = RunCli({"--data", data.string(), "verify"});
  EXPECT_EQ(v.exit_code, 2) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("verify: the manifest cannot be read\nERROR manifest _manifest.json: " +
                            data.string() + " holds 20 lake data files (first: klines_1d/",
                        0),
            0u)
      << v.out;
  EXPECT_NE(v.out.find("run `cryptolake repair` to rebuild the manifest from the files\n"
                       "summary: 1 error, 0 gap ranges, 0 notes -> exit code 2\n"),
            std::string::npos)
      << v.out;
  for (auto args : std::vector<std::vector<std::string>>{
           {"import", Klines("1d").string()}, {"batch"}, {"compact"}, {"gc"}, {"stats"}}) {
    args.insert(args.begin(), {"--data", data.string()});
    auto r = RunCli(args);
    EXPECT_EQ(r.exit_code, 3) << args[2];
    EXPECT_NE(r.err.find("but no _manifest.json"), std::string::npos) << args[2] << r.err;
  }
  EXPECT_EQ(DataFiles(data), files);
  EXPECT_FALSE(fs::exists(data / "_manifest.json"));
  // repair rebuilds it; every row is back.
  auto rep = RunCli({"--data", data.string(), "repair"});
  EXPECT_EQ(rep.exit_code, 0) << rep.out << rep.err;
  EXPECT_NE(rep.out.find("repair: manifest rebuilt (version 1): 20 kline files adopted (6356 "
                         "rows), 0 view files retired, 0 files not accounted for -> exit code 0"),
            std::string::npos)
      << rep.out;
  auto v2 = RunCli({"--data", data.string(), "verify"});
  EXPECT_EQ(v2.exit_code, 0) << v2.out;
  auto again = RunCli({"--data", data.string(), "import", Klines("1d").string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("added 0, duplicates 6356"), std::string::npos) << again.out;
}

// merge --out wrote its rows through <out>/daily.csv and then deleted that name: a user's own
// daily.csv there was overwritten, then removed.
TEST(LakeCliTest, MergeLeavesAUsersFilesInItsOutputFolderAlone) {
  TempDir dir;
  const fs::path data = dir / "data";
  ASSERT_EQ(RunCli({"--data", data.string(), "import", Klines("1d").string()}).exit_code, 0);
  ASSERT_EQ(RunCli({"--data", data.string(), "batch"}).exit_code, 0);
  testing::WriteText(dir / "out/daily.csv", "my own notes\n");
  auto r = RunCli({"--data", data.string(), "merge", "--out", (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*ReadFile(dir / "out/daily.csv"), "my own notes\n");
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir / "out")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"daily.csv", "daily.parquet"}));
}

TEST(LakeCliTest, ReadOnlyCommandsCreateNothing) {
  TempDir dir;
  const fs::path data = dir / "nothing-here";
  for (auto args : std::vector<std::vector<std::string>>{{"stats"}, {"verify"}}) {
    args.insert(args.begin(), {"--data", data.string()});
    RunCli(args);
    EXPECT_FALSE(fs::exists(data)) << args[2];
  }
}

}  // namespace
}  // namespace cryptolake
