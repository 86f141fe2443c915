// backfill::BackfillHealer, the stream's gap healer, against the replay exchange serving the real
// recorded BTCUSDT 1m klines of ../shared/data over real HTTP on 127.0.0.1, into a real lake.
// Lake, governor and exchange share one FakeClock.
#include "backfill/healer.h"

#include <gtest/gtest.h>

#include "exchange/governor.h"
#include "exchange/replay.h"
#include "ingest/parser.h"
#include "lake/typed.h"
#include "testing/testing.h"
#include "venues/binance/rest.h"

namespace cryptolake::backfill {
namespace {

using testing::SharedData;

Micros At(const std::string& t) { return ParseTime(t).value(); }

std::string Btc1m() {
  return (SharedData() /
          "binance-spot/klines/1m/BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz")
      .string();
}

// The file's rows with open_time in [from, to), as the healer gives them.
std::vector<model::Kline> FileRows(Micros from, Micros to) {
  std::vector<model::Kline> out;
  auto parsed = ingest::ParseInput(Btc1m(), {});
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok()) return out;
  for (const auto& f : *parsed) {
    for (size_t i = 0; i < f.batch.size(); ++i) {
      if (f.batch.open_time[i] >= from && f.batch.open_time[i] < to) {
        out.push_back(f.batch.At(i));
        out.back().symbol = "BTCUSDT";
        // An OHLCV-only file: the replay exchange serves close_time = open_time + 1 min - 1 us
        // (replay_data.h), and that is what the lake stores and gives back.
        if (out.back().close_time == 0) {
          out.back().close_time = out.back().open_time + kMicrosPerMinute - 1;
        }
      }
    }
  }
  return out;
}

class BackfillHealerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exchange::ReplayOptions ro;
    ro.start = At("2021-04-10 00:00:30");  // exchange time: the 00:00 candle is still open
    auto ex = exchange::ReplayExchange::Create({Btc1m()}, clock_, ro);
    ASSERT_TRUE(ex.ok()) << ex.status().ToString();
    exchange_ = std::move(*ex);
    ASSERT_TRUE(exchange_->Start().ok());
    venues::binance::RestOptions o;
    o.base_url = exchange_->url();
    o.backoff_base = 1000;
    rest_ = std::make_unique<venues::binance::BinanceRest>(o, governor_, clock_);
    lake_ =
        std::make_unique<lake::Lake>(std::move(lake::Lake::Open(dir_ / "lake", clock_)).value());
  }
  void TearDown() override {
    if (exchange_) exchange_->Stop();
  }

  FakeClock clock_{At("2026-06-01")};
  testing::TempDir dir_;
  exchange::RateGovernor governor_{clock_, {}};
  std::unique_ptr<exchange::ReplayExchange> exchange_;
  std::unique_ptr<venues::binance::BinanceRest> rest_;
  std::unique_ptr<lake::Lake> lake_;
};

// Up to the exchange's now: the closed candles of the gap, every field as recorded, committed
// to the lake as well.
TEST_F(BackfillHealerTest, HealsUpToTheExchangesNowWithTheRecordedCandles) {
  BackfillHealer healer(*lake_, *rest_);
  const Micros from = At("2021-04-09 22:00");
  auto got = healer.Heal("BTCUSDT", from, std::nullopt);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const auto want = FileRows(from, At("2021-04-10 00:00"));
  ASSERT_EQ(want.size(), 120u);
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i], want[i]) << FormatIso(want[i].open_time);
  }
  auto snap = lake_->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  std::map<std::string, Micros> last{{"BTCUSDT", At("2021-04-09 23:59")}};
  EXPECT_EQ(lake::LastOpenTimes(*snap, *Interval::Parse("1m")), last);
}

// With `to`: only [from, to); a second heal of a range already stored returns it again.
TEST_F(BackfillHealerTest, HealsOnlyUpToToAndAgainFromTheLake) {
  BackfillHealer healer(*lake_, *rest_);
  const Micros from = At("2021-04-09 23:00"), to = At("2021-04-09 23:30");
  for (int pass = 0; pass < 2; ++pass) {
    auto got = healer.Heal("BTCUSDT", from, to);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, FileRows(from, to)) << "pass " << pass;
    EXPECT_EQ(got->size(), 30u);
  }
}

TEST_F(BackfillHealerTest, UnknownSymbolIsTheBackfillsError) {
  BackfillHealer healer(*lake_, *rest_);
  auto got = healer.Heal("FOOUSDT", At("2021-04-09 23:00"), std::nullopt);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(),
            fmt::format("backfill: unknown symbol 'FOOUSDT': not listed by {}/api/v3/exchangeInfo",
                        exchange_->url()));
}

}  // namespace
}  // namespace cryptolake::backfill
