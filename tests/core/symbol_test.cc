#include "core/symbol.h"

#include <gtest/gtest.h>

#include "core/config.h"
#include "testing/testing.h"

namespace cryptolake {
namespace {

TEST(SymbolTest, UpperCasesBinanceSymbols) {
  EXPECT_EQ(NormalizeSymbol("BTCUSDT").value(), "BTCUSDT");
  EXPECT_EQ(NormalizeSymbol("btcusdt").value(), "BTCUSDT");
  EXPECT_EQ(NormalizeSymbol("1000sats-x_y.Z").value(), "1000SATS-X_Y.Z");
  EXPECT_EQ(NormalizeSymbol("ABCDEFGHIJKLMNOPQRST").value(), "ABCDEFGHIJKLMNOPQRST");  // 20
}

TEST(SymbolTest, RefusesEverythingElse) {
  for (const char* s : {"BTC/USDT", "", " BTCUSDT", "BTCUSDT ", "BTC%2FUSDT",
                        "ABCDEFGHIJKLMNOPQRSTU", "BTC\xC3\xA9", "\"x\""}) {
    auto r = NormalizeSymbol(s);
    EXPECT_EQ(r.status().ToString(),
              fmt::format("InvalidArgument: symbol '{}' is not a Binance symbol (1-20 of A-Z 0-9 "
                          "- _ .)",
                          s))
        << s;
  }
}

TEST(SymbolTest, ConfigSymbolsAreNormalizedOrRefused) {
  testing::TempDir d;
  testing::WriteText(d / "c.toml", "symbols = [\"btcusdt\", \"EthUsdt\"]\n");
  auto c = Config::Load(d / "c.toml", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->symbols, (std::vector<std::string>{"BTCUSDT", "ETHUSDT"}));
  testing::WriteText(d / "c.toml", "symbols = [\"BTC/USDT\"]\n");
  EXPECT_EQ(Config::Load(d / "c.toml", true).status().ToString(),
            "InvalidArgument: " + (d / "c.toml").string() +
                ": symbols: symbol 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)");
}

}  // namespace
}  // namespace cryptolake
