#include "core/config.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace cryptolake {
namespace {

using testing::TempDir;
using testing::WriteText;

TEST(ConfigTest, MissingOptionalFileGivesDefaults) {
  TempDir d;
  auto c = Config::Load(d / "none.toml", false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_root, "data");
  EXPECT_EQ(c->symbols, (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
}

TEST(ConfigTest, ReadsValuesRelativeToTheFile) {
  TempDir d;
  WriteText(d / "cryptolake.toml",
            "symbols = [\"SOLUSDT\"]\n[lake]\ndata = \"lake\"\ngc_grace_seconds = 5\n");
  auto c = Config::Load(d / "cryptolake.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->symbols, std::vector<std::string>{"SOLUSDT"});
  EXPECT_EQ(c->data_root, d.path() / "lake");
  EXPECT_EQ(c->gc_grace_seconds, 5);
}

TEST(ConfigTest, UnknownKeyIsAnError) {
  TempDir d;
  WriteText(d / "c.toml", "[lake]\ndatta = \"x\"\n");
  auto c = Config::Load(d / "c.toml", true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), (d / "c.toml").string() + ": unknown key 'lake.datta'");
}

}  // namespace
}  // namespace cryptolake
