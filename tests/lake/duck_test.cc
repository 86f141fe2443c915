// lake/duck.h, the DuckDB wrapper, on real DuckDB (in memory and in a file) and on the real 1m
// sample file: typed reads, parameters, the appender, quoting, and the exact errors.
#include "lake/duck.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

using testing::TempDir;

const char kBtc1m[] =
    "binance-spot/klines/1m/BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv";

Connection Open(const Database& db) { return std::move(Connection::Open(db)).value(); }

TEST(DuckTest, ReadsEveryTypeAsTheHeaderSays) {
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  auto r = con.Query(
      "SELECT 42::BIGINT AS i, 2.5::DOUBLE AS d, true AS b, 'it''s' AS s, NULL::INTEGER AS n, "
      "TIMESTAMP '2025-05-20 00:01:00' AS ts, DATE '2025-05-21' AS day");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 1u);
  ASSERT_EQ(r->columns(), 7u);
  EXPECT_EQ(r->ColumnName(0), "i");
  EXPECT_EQ(r->ColumnName(6), "day");
  EXPECT_EQ(r->GetInt64(0, 0), 42);
  EXPECT_EQ(r->GetDouble(1, 0), 2.5);
  EXPECT_TRUE(r->GetBool(2, 0));
  EXPECT_EQ(r->GetString(3, 0), "it's");
  EXPECT_TRUE(r->IsNull(4, 0));
  EXPECT_FALSE(r->IsNull(0, 0));
  EXPECT_EQ(r->GetInt64(5, 0), 1747699260000000);  // epoch micros
  EXPECT_EQ(r->GetInt64(6, 0), 1747785600000000);  // the day's 00:00 UTC in micros
  EXPECT_EQ(r->GetString(1, 0), "2.5");            // rendered by DuckDB
  // The session time zone is UTC whatever the machine's.
  EXPECT_EQ(con.Query("SELECT current_setting('TimeZone')")->GetString(0, 0), "UTC");
  EXPECT_EQ(
      con.Query("SELECT CAST(TIMESTAMPTZ '2025-05-20 00:01:00+00' AS VARCHAR)")->GetString(0, 0),
      "2025-05-20 00:01:00+00");
}

TEST(DuckTest, PreparedParametersOfEveryKind) {
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  auto r = con.Query("SELECT $1 + 1, $2 * 2, $3, $4 IS NULL, NOT $5",
                     {int64_t{41}, 1.25, std::string("x'y"), nullptr, true});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetInt64(0, 0), 42);
  EXPECT_EQ(r->GetDouble(1, 0), 2.5);
  EXPECT_EQ(r->GetString(2, 0), "x'y");
  EXPECT_TRUE(r->GetBool(3, 0));
  EXPECT_FALSE(r->GetBool(4, 0));
}

TEST(DuckTest, ErrorsCarryDuckDbsMessageAndTheSql) {
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  EXPECT_EQ(con.Exec("SELEC 1").ToString(),
            "Internal: DuckDB: Parser Error: syntax error at or near \"SELEC\"\n\nLINE 1: SELEC "
            "1\n        "
            "^\n\nLINE 1: SELEC 1\n        ^ [in: SELEC 1]");
  EXPECT_EQ(con.QueryInt64("SELECT 1 WHERE false").status().ToString(),
            "Internal: expected one row, got 0 [in: SELECT 1 WHERE false]");
  EXPECT_EQ(*con.QueryInt64("SELECT NULL"), 0);  // NULL reads as 0
  EXPECT_EQ(*con.QueryInt64("SELECT 7, 'x'"), 7);
  // Over 300 characters, the SQL is cut with "...".
  const std::string long_sql = "SELEC " + std::string(400, '1');
  Status s = con.Exec(long_sql);
  ASSERT_EQ(s.code(), StatusCode::kInternal);
  const std::string tail = " [in: " + long_sql.substr(0, 300) + "...]";
  ASSERT_GE(s.message().size(), tail.size());
  EXPECT_EQ(s.message().substr(s.message().size() - tail.size()), tail);
  // A prepared statement that does not prepare.
  EXPECT_EQ(con.Query("SELECT $1 FROM nope", {int64_t{1}}).status().code(), StatusCode::kInternal);
}

TEST(DuckTest, AFileDatabaseKeepsItsRowsAndAMissingDirectoryIsAnError) {
  TempDir dir;
  const std::string path = (dir / "t.duckdb").string();
  {
    auto db = std::move(Database::Open(path, 1)).value();
    Connection con = Open(db);
    ASSERT_TRUE(con.Exec("CREATE TABLE t (a BIGINT); INSERT INTO t VALUES (1), (2), (3)").ok());
  }
  auto db = std::move(Database::Open(path)).value();
  Connection con = Open(db);
  EXPECT_EQ(*con.QueryInt64("SELECT sum(a) FROM t"), 6);
  const std::string bad = (dir / "no" / "t.duckdb").string();
  auto missing = Database::Open(bad);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().ToString(), "Internal: opening DuckDB database " + bad +
                                             ": IO Error: Cannot open file \"" + bad +
                                             "\": No such file or directory");
}

TEST(DuckTest, AppenderWritesChunksWithNulls) {
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  ASSERT_TRUE(con.Exec("CREATE TABLE t (a BIGINT, s VARCHAR)").ok());
  {
    auto app = Appender::Open(con, "t");
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    DataChunk chunk({DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_VARCHAR});
    int64_t* a = chunk.Column<int64_t>(0);
    a[0] = 10;
    a[1] = 20;
    a[2] = 30;
    chunk.SetString(1, 0, "BTCUSDT");
    chunk.SetNull(1, 1);
    chunk.SetString(1, 2, "a longer string than the inline sixteen bytes");
    chunk.SetSize(3);
    ASSERT_TRUE(app->Append(chunk).ok());
    ASSERT_TRUE(app->Close().ok());
    ASSERT_TRUE(app->Close().ok());  // closing twice is harmless
  }
  auto r = con.Query("SELECT a, coalesce(s, '<null>') FROM t ORDER BY a");
  ASSERT_TRUE(r.ok());
  std::vector<std::string> rows;
  for (size_t i = 0; i < r->rows(); ++i) {
    rows.push_back(std::to_string(r->GetInt64(0, i)) + " " + r->GetString(1, i));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"10 BTCUSDT", "20 <null>",
                                            "30 a longer string than the inline sixteen bytes"}));
  EXPECT_EQ(Appender::Open(con, "nope").status().ToString(),
            "Internal: DuckDB appender on nope: Table \".main.nope\" could not be found");
}

TEST(DuckTest, QuotingForSql) {
  EXPECT_EQ(SqlQuote("plain"), "'plain'");
  EXPECT_EQ(SqlQuote("it's"), "'it''s'");
  EXPECT_EQ(SqlQuote("''"), "''''''");
  EXPECT_EQ(SqlQuoteList(std::vector<std::string>{"BTCUSDT", "O'X"}), "'BTCUSDT', 'O''X'");
  EXPECT_EQ(SqlQuoteList(std::vector<std::string>{}), "");
  EXPECT_EQ(SqlPathList({"/a/b.parquet", "/c's/d.parquet"}), "['/a/b.parquet', '/c''s/d.parquet']");
  EXPECT_EQ(SqlPathList({}), "[]");
  // What SqlQuote makes reads back as the same string.
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  EXPECT_EQ(con.Query("SELECT " + SqlQuote("a'b''c"))->GetString(0, 0), "a'b''c");
}

// The real 1m window read through the wrapper: its row count and first and last rows (from the
// file: 1747699200000,105573.73,105597.1,105554.31,105554.32,10.82647 first).
TEST(DuckTest, ReadsTheRealOneMinuteFile) {
  auto db = std::move(Database::Open()).value();
  Connection con = Open(db);
  const std::string csv = SqlQuote((testing::SharedData() / kBtc1m).string());
  auto r = con.Query(
      "SELECT count(*), min(open_time), max(open_time), arg_min(open, open_time), "
      "arg_min(close, open_time), arg_min(volume, open_time) FROM read_csv(" +
      csv + ")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetInt64(0, 0), 130708);
  EXPECT_EQ(r->GetInt64(1, 0), 1747699200000);
  EXPECT_EQ(r->GetInt64(2, 0), 1755541620000);  // 2025-08-18 18:27
  EXPECT_EQ(r->GetDouble(3, 0), 105573.73);
  EXPECT_EQ(r->GetDouble(4, 0), 105554.32);
  EXPECT_EQ(r->GetDouble(5, 0), 10.82647);
}

}  // namespace
}  // namespace cryptolake::lake
