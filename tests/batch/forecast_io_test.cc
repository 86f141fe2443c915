#include "batch/forecast_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "batch/sample_lake.h"
#include "batch/views.h"

namespace cryptolake::batch {
namespace {

using testing::DayMs;
using testing::DayUs;
using testing::kBtc1m2025;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;

// The real 1m klines of BTCUSDT from 2025-05-20 00:00 to 2025-05-23 12:00: three complete days
// and half of a fourth.
class ForecastIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lk_.Commit("1m",
               OneMinuteCsvSql(Klines(kBtc1m2025), "BTCUSDT",
                               fmt::format("open_time < {}", DayMs("2025-05-23") + 720 * 60000)));
    auto st = RefreshViews(lk_.lake(), lk_.con());
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }
  SampleLake lk_;
};

TEST_F(ForecastIoTest, ReadsProphetInputWithTheDailyFilledColumnsOfEachDay) {
  auto days = ReadProphetInput(lk_.con(), lk_.Snap(), "BTCUSDT");
  ASSERT_TRUE(days.ok()) << days.status().ToString();
  ASSERT_EQ(days->size(), 4u);  // the partial day is kept: dropping it is the forecast's rule
  const char* dates[] = {"2025-05-20", "2025-05-21", "2025-05-22", "2025-05-23"};
  // The close of each day's last minute in the CSV (23:59, and 11:59 on the partial day).
  const double closes[] = {106849.99, 109643.99, 111696.21, 109076.35};
  const int64_t minutes[] = {1440, 1440, 1440, 720};
  for (size_t i = 0; i < 4; ++i) {
    const ProphetDay& d = (*days)[i];
    EXPECT_EQ(d.ds, DayUs(dates[i])) << i;
    EXPECT_EQ(d.y, closes[i]) << i;
    EXPECT_EQ(d.minutes_present, minutes[i]) << i;
    ASSERT_TRUE(d.ma7.has_value() && d.ma30.has_value()) << i;
  }
  EXPECT_EQ(*(*days)[0].ma7, 106849.99);
  EXPECT_EQ(*(*days)[1].ma7, 108246.99);  // (106849.99 + 109643.99) / 2, exactly
  EXPECT_EQ(*(*days)[1].ma30, 108246.99);
  EXPECT_EQ(ProphetInputSymbols(lk_.Snap()), std::vector<std::string>{"BTCUSDT"});

  auto none = ReadProphetInput(lk_.con(), lk_.Snap(), "ETHUSDT");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST_F(ForecastIoTest, AForecastFileInAMissingDirectoryFailsAndLeavesNothing) {
  const std::string model = "naive";
  std::vector<ForecastParquetRow> rows = {
      {&model, DayUs("2025-05-22"), DayUs("2025-05-23"), 109076.35, 111696.21, 1, 2}};
  std::filesystem::path path = lk_.root() / "no_such_dir" / "BTCUSDT.parquet";
  Status st = WriteForecastParquet(lk_.con(), "BTCUSDT", rows, path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no_such_dir/BTCUSDT.parquet.tmp"), std::string::npos)
      << st.message();
  EXPECT_FALSE(std::filesystem::exists(lk_.root() / "no_such_dir"));
  // The scratch table is gone: the next write on the same connection works.
  path = lk_.root() / "BTCUSDT.parquet";
  ASSERT_TRUE(WriteForecastParquet(lk_.con(), "BTCUSDT", rows, path).ok());
  auto r = lk_.con().Query(fmt::format(
      "SELECT model, horizon_days, y, yhat, yhat_lower, yhat_upper FROM read_parquet({})",
      lake::SqlQuote(path.string())));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 1u);
  EXPECT_EQ(r->GetString(0, 0), "naive");
  EXPECT_EQ(r->GetInt64(1, 0), 1);
  EXPECT_EQ(r->GetDouble(2, 0), 109076.35);
  EXPECT_EQ(r->GetDouble(3, 0), 111696.21);
  EXPECT_FALSE(std::filesystem::exists(lk_.root() / "BTCUSDT.parquet.tmp"));
}

}  // namespace
}  // namespace cryptolake::batch
