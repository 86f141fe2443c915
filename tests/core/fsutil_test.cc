// core/fsutil.h on real files in a temp directory: the atomic write and renames, reading,
// SHA-256 (against sha256sum's answers, on real files of ../shared/data) and the file lock, with
// their exact error messages.
#include "core/fsutil.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::TempDir;
using testing::WriteText;

std::string Read(const fs::path& p) { return ReadFile(p).value(); }

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FsutilTest, WriteFileAtomicCreatesAndReplacesLeavingNoTempFile) {
  TempDir dir;
  const fs::path p = dir / "a.json";
  ASSERT_TRUE(WriteFileAtomic(p, "{\"v\":1}\n").ok());
  EXPECT_EQ(Read(p), "{\"v\":1}\n");
  ASSERT_TRUE(WriteFileAtomic(p, "").ok());
  EXPECT_EQ(Read(p), "");
  ASSERT_TRUE(WriteFileAtomic(p, std::string(3 << 20, 'x')).ok());
  EXPECT_EQ(Read(p).size(), 3u << 20);
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"a.json"});
}

TEST(FsutilTest, WriteFileAtomicIntoAMissingDirectoryNamesTheTempFile) {
  TempDir dir;
  const fs::path p = dir / "missing" / "a.json";
  Status s = WriteFileAtomic(p, "x");
  EXPECT_EQ(s.ToString(), "IOError: create " + p.string() + ".tmp-" + std::to_string(::getpid()) +
                              ": No such file or directory");
  EXPECT_FALSE(fs::exists(p));
}

TEST(FsutilTest, WriteFileAtomicViaUsesTheGivenTempFile) {
  TempDir dir;
  fs::create_directory(dir / "tmp");
  ASSERT_TRUE(WriteFileAtomicVia(dir / "tmp" / "t", dir / "out", "hello").ok());
  EXPECT_EQ(Read(dir / "out"), "hello");
  EXPECT_EQ(Names(dir / "tmp"), std::vector<std::string>{});
  // A temp file on a path that cannot be created.
  Status s = WriteFileAtomicVia(dir / "nodir" / "t", dir / "out", "x");
  EXPECT_EQ(s.ToString(),
            "IOError: create " + (dir / "nodir" / "t").string() + ": No such file or directory");
  EXPECT_EQ(Read(dir / "out"), "hello");
}

TEST(FsutilTest, RenameDurableMovesAndReplaces) {
  TempDir dir;
  WriteText(dir / "a", "A");
  WriteText(dir / "b", "B");
  ASSERT_TRUE(RenameDurable(dir / "a", dir / "b").ok());
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"b"});
  EXPECT_EQ(Read(dir / "b"), "A");
  Status s = RenameDurable(dir / "a", dir / "c");
  EXPECT_EQ(s.ToString(), "IOError: rename " + (dir / "a").string() + " -> " +
                              (dir / "c").string() + ": No such file or directory");
}

TEST(FsutilTest, RenameNoReplaceNeverOverwrites) {
  TempDir dir;
  WriteText(dir / "a", "A");
  WriteText(dir / "b", "B");
  Status s = RenameNoReplace(dir / "a", dir / "b");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "refusing to replace existing file " + (dir / "b").string());
  EXPECT_EQ(Read(dir / "a"), "A");
  EXPECT_EQ(Read(dir / "b"), "B");
  ASSERT_TRUE(RenameNoReplace(dir / "a", dir / "c").ok());
  EXPECT_EQ(Names(dir.path()), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(Read(dir / "c"), "A");
  s = RenameNoReplace(dir / "a", dir / "d");
  EXPECT_EQ(s.ToString(), "IOError: rename " + (dir / "a").string() + " -> " +
                              (dir / "d").string() + ": No such file or directory");
}

TEST(FsutilTest, ReadFileAndFsyncPathOnMissingFiles) {
  TempDir dir;
  EXPECT_EQ(ReadFile(dir / "none").status().ToString(),
            "NotFound: cannot open " + (dir / "none").string());
  EXPECT_EQ(FsyncPath(dir / "none").ToString(),
            "IOError: open " + (dir / "none").string() + ": No such file or directory");
  EXPECT_TRUE(FsyncPath(dir.path()).ok());
  WriteText(dir / "f", "x");
  EXPECT_TRUE(FsyncPath(dir / "f").ok());
}

// The expected digests are sha256sum's.
TEST(FsutilTest, Sha256OfBuffersAndOfRealFiles) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const fs::path data = testing::SharedData();
  EXPECT_EQ(Sha256File(data / "btcusd-daily/BTCUSD_1d_candles_full.csv").value(),
            "b37dc9d2e07c75dbc690f6972bf51406300fe0d0261c3aa2724008de75f472a8");
  // Over the 1 MiB read buffer: 1,287,583 bytes.
  EXPECT_EQ(
      Sha256File(
          data /
          "binance-spot/klines/1m/BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz")
          .value(),
      "1ab92e04fd314c1ee914d49a1357ae43123779a9c30528d1287ece4dfdca1d5d");
  TempDir dir;
  WriteText(dir / "abc", "abc");
  EXPECT_EQ(Sha256File(dir / "abc").value(), Sha256Hex("abc"));
  EXPECT_EQ(Sha256File(dir / "none").status().ToString(),
            "IOError: open " + (dir / "none").string() + ": No such file or directory");
  EXPECT_EQ(Sha256File(dir.path()).status().ToString(),
            "IOError: read " + dir.path().string() + ": Is a directory");
}

TEST(FsutilTest, FileLockIsExclusiveUntilReleased) {
  TempDir dir;
  const fs::path p = dir / "_lock";
  {
    auto held = FileLock::Acquire(p);
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    EXPECT_TRUE(fs::exists(p));
    auto other = FileLock::TryAcquire(p);
    EXPECT_EQ(other.status().ToString(), "Unavailable: another process holds " + p.string());
    // A moved-from lock releases nothing; the moved-to one still holds it.
    FileLock moved(std::move(*held));
    EXPECT_EQ(FileLock::TryAcquire(p).status().code(), StatusCode::kUnavailable);
  }
  auto again = FileLock::TryAcquire(p);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(
      FileLock::Acquire(dir / "no" / "_lock").status().ToString(),
      "IOError: open lock " + (dir / "no" / "_lock").string() + ": No such file or directory");
}

}  // namespace
}  // namespace cryptolake
