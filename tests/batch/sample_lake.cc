#include "batch/sample_lake.h"

#include <fmt/format.h>

#include "batch/views.h"
#include "core/fsutil.h"

namespace cryptolake::testing {

std::string Klines(const std::string& rel) {
  return (SharedData() / "binance-spot" / "klines" / rel).string();
}

Micros DayUs(const std::string& date) {
  auto t = ParseTime(date);
  EXPECT_TRUE(t.ok()) << date;
  return t.ok() ? *t : 0;
}

int64_t DayMs(const std::string& date) { return DayUs(date) / 1000; }

std::string OneMinuteCsvSql(const std::string& glob, const std::string& symbol,
                            const std::string& where, const std::string& source) {
  return fmt::format(
      "SELECT {0} AS symbol, to_timestamp(open_time / 1000) AS open_time, open, high, low, close, "
      "volume, to_timestamp((open_time + 59999) / 1000) AS close_time, NULL::DOUBLE AS "
      "quote_volume, NULL::BIGINT AS trades, NULL::DOUBLE AS taker_buy_base, NULL::DOUBLE AS "
      "taker_buy_quote, {1} AS source, to_timestamp(0) AS ingested_at "
      "FROM read_csv({2}, header = true, columns = {{'open_time': 'BIGINT', 'open': 'DOUBLE', "
      "'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'DOUBLE'}}) WHERE {3}",
      lake::SqlQuote(symbol), lake::SqlQuote(source), lake::SqlQuote(glob), where);
}

std::string VisionCsvSql(const std::string& glob, const std::string& symbol,
                         const std::string& where, int64_t per_second, const std::string& source) {
  return fmt::format(
      "SELECT {0} AS symbol, to_timestamp(open_time / {4}) AS open_time, open, high, low, close, "
      "volume, to_timestamp(close_time / {4}) AS close_time, quote_volume, trades, "
      "taker_buy_base, taker_buy_quote, {1} AS source, to_timestamp(0) AS ingested_at "
      "FROM read_csv({2}, header = false, columns = {{'open_time': 'BIGINT', 'open': 'DOUBLE', "
      "'high': 'DOUBLE', 'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'DOUBLE', "
      "'close_time': 'BIGINT', 'quote_volume': 'DOUBLE', 'trades': 'BIGINT', "
      "'taker_buy_base': 'DOUBLE', 'taker_buy_quote': 'DOUBLE', 'ignore': 'BIGINT'}}) WHERE {3}",
      lake::SqlQuote(symbol), lake::SqlQuote(source), lake::SqlQuote(glob), where, per_second);
}

SampleLake::SampleLake() {
  clock_.Set(DayUs("2025-09-01"));
  lake_ = std::make_unique<lake::Lake>(std::move(lake::Lake::Open(dir_.path(), clock_)).value());
  db_ = std::make_unique<lake::Database>(std::move(lake::Database::Open()).value());
  con_ = std::make_unique<lake::Connection>(std::move(lake::Connection::Open(*db_)).value());
}

lake::Snapshot SampleLake::Snap() {
  auto s = lake_->GetSnapshot();
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

int64_t SampleLake::Commit(const std::string& interval, const std::string& select,
                           lake::Source source) {
  auto iv = Interval::Parse(interval);
  EXPECT_TRUE(iv.ok()) << iv.status().ToString();
  auto txn = lake_->Begin();
  EXPECT_TRUE(txn.ok()) << txn.status().ToString();
  if (!iv.ok() || !txn.ok()) return -1;
  auto added = lake::StageQuery(*con_, *txn, lake::WithKlinePartitions(*iv, "(" + select + ")"),
                                lake::KlinesStageSpec(*iv, source));
  EXPECT_TRUE(added.ok()) << added.status().ToString();
  auto v = lake_->Commit(std::move(txn).value());
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  clock_.Advance(kMicrosPerSecond);
  return v.ok() ? *v : -1;
}

std::map<std::string, std::string> SampleLake::ViewFileHashes() {
  std::map<std::string, std::string> out;
  auto snap = Snap();
  for (const auto& view : batch::ViewNames()) {
    for (const auto* f : snap.Files(view)) {
      std::string key = view + "/symbol=" + f->symbol + "/" + f->partition;
      EXPECT_FALSE(out.count(key)) << "two live files for " << key;
      auto h = Sha256File(snap.Abs(*f));
      EXPECT_TRUE(h.ok()) << h.status().ToString();
      out[key] = h.ok() ? *h : "";
    }
  }
  return out;
}

}  // namespace cryptolake::testing
