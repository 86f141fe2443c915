// Test lakes built from the real sample data (../shared/data, read in place with DuckDB's
// read_csv, never copied): a temp lake with a FakeClock, one in-memory DuckDB and helpers that
// stage SQL rows as master-dataset files through StageQuery + Commit.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/time.h"
#include "lake/duck.h"
#include "lake/klines.h"
#include "lake/lake.h"
#include "testing/testing.h"

namespace cryptolake::testing {

// The gap-free 2025 1m window of ../shared/data (paths relative to binance-spot/klines, globs).
inline constexpr const char* kBtc1m2025 = "1m/BTCUSDT-1m-20250520_20250818__*.csv";
inline constexpr const char* kEth1m2025 = "1m/ETHUSDT-1m-20250520_20250818__*.csv";

// binance-spot/klines/<rel> under the shared data directory (rel may hold a '*' glob).
std::string Klines(const std::string& rel);

// "2025-05-20" -> epoch milliseconds / microseconds of its 00:00 UTC.
int64_t DayMs(const std::string& date);
Micros DayUs(const std::string& date);

// A SELECT (symbol + lake::kKlineColumnNames) of a 1m sample CSV (header
// open_time,open,high,low,close,volume; open_time in ms) restricted by `where` (SQL over the CSV
// columns, e.g. "open_time < 1747699200000"). Absent fields are NULL.
std::string OneMinuteCsvSql(const std::string& glob, const std::string& symbol,
                            const std::string& where = "true",
                            const std::string& source = "import");
// A SELECT of a data.binance.vision kline CSV (12 columns, no header) whose open_time and
// close_time are in ms (`per_second` 1000) or in us (`per_second` 1000000).
std::string VisionCsvSql(const std::string& glob, const std::string& symbol,
                         const std::string& where = "true", int64_t per_second = 1000,
                         const std::string& source = "import");

class SampleLake {
 public:
  SampleLake();
  lake::Lake& lake() { return *lake_; }
  lake::Connection& con() { return *con_; }
  const fs::path& root() const { return dir_.path(); }
  FakeClock& clock() { return clock_; }
  lake::Snapshot Snap();

  // Stages `select` (symbol + kline columns) as `interval` klines and commits; returns the
  // manifest version (fails the test on error).
  int64_t Commit(const std::string& interval, const std::string& select,
                 lake::Source source = lake::Source::kImport);

  // sha256 of every live file of the views, keyed "view/symbol=S/year=Y".
  std::map<std::string, std::string> ViewFileHashes();

 private:
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<lake::Lake> lake_;
  std::unique_ptr<lake::Database> db_;
  std::unique_ptr<lake::Connection> con_;
};

}  // namespace cryptolake::testing
