// serve/gzip.h: whole bodies, and a prefix compressed once joined to different tails. Every
// output is inflated by zlib and by Debian's gzip (its own inflate, not zlib's), and must give
// back the exact bytes.
#include "serve/gzip.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "testing/testing.h"

namespace cryptolake::serve {
namespace {

using testing::SharedData;
using testing::TempDir;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `gzip -t` and `gzip -dc` on the bytes (gzip checks the CRC and the length itself).
std::string GnuGunzip(const std::string& gz) {
  TempDir dir;
  const auto in = dir / "body.gz";
  testing::WriteText(in, gz);
  const std::string cmd = "gzip -t '" + in.string() + "' && gzip -dc '" + in.string() + "' > '" +
                          (dir / "body").string() + "'";
  if (std::system(cmd.c_str()) != 0) return "<gzip refused it>";
  return ReadFile(dir / "body");
}

// The real BTCUSDT daily klines since 2017, as a body to compress (the same size class as the
// /daily body: 3,178 rows).
std::string DailyCsv() {
  const std::string text =
      ReadFile(SharedData() / "binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv");
  EXPECT_GT(text.size(), 300000u);
  return text;
}

TEST(GzipTest, WholeBodyInflatesToTheSameBytes) {
  const std::string text = DailyCsv();
  auto gz = Gzip(text);
  ASSERT_TRUE(gz.has_value());
  EXPECT_LT(gz->size(), text.size() / 2);
  EXPECT_EQ(Gunzip(*gz), text);
  EXPECT_EQ(GnuGunzip(*gz), text);
  auto empty = Gzip("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(Gunzip(*empty), "");
}

TEST(GzipTest, PrefixJoinedToEachTailIsOneValidMember) {
  const std::string text = DailyCsv();
  // The split where the /daily body splits: all but the last rows are the stable prefix.
  const size_t cut = text.rfind('\n', text.size() - 2000) + 1;
  const std::string prefix = text.substr(0, cut);
  auto p = GzipPrefix::Of(prefix);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->prefix_size(), prefix.size());
  const std::string tails[] = {
      text.substr(cut),                       // the real last rows
      "",                                     // nothing after the prefix
      text.substr(cut, 1),                    // one byte
      text.substr(cut) + text.substr(0, cut)  // a tail longer than the 32 KiB window
  };
  for (const std::string& tail : tails) {
    auto gz = p->Finish(tail);
    ASSERT_TRUE(gz.has_value()) << tail.size();
    EXPECT_EQ(Gunzip(*gz), prefix + tail) << "tail of " << tail.size() << " bytes";
    EXPECT_EQ(GnuGunzip(*gz), prefix + tail) << "tail of " << tail.size() << " bytes";
  }
  // About the ratio of compressing the whole at once: the tail refers back into the prefix.
  auto whole = Gzip(text);
  auto joined = p->Finish(text.substr(cut));
  ASSERT_TRUE(whole && joined);
  EXPECT_LT(joined->size(), whole->size() + whole->size() / 50);
}

TEST(GzipTest, EmptyPrefixIsTheTailAlone) {
  auto p = GzipPrefix::Of("");
  ASSERT_TRUE(p.has_value());
  auto gz = p->Finish("{\"rows\":[]}");
  ASSERT_TRUE(gz.has_value());
  EXPECT_EQ(Gunzip(*gz), "{\"rows\":[]}");
  EXPECT_EQ(GnuGunzip(*gz), "{\"rows\":[]}");
}

}  // namespace
}  // namespace cryptolake::serve
