#include "lake/lake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "core/fsutil.h"
#include "lake/compact.h"
#include "lake/klines.h"
#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

using testing::TempDir;

// 2025-05-20T00:00:00Z
constexpr int64_t kT0 = 1747699200;

class LakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0 * kMicrosPerSecond);
    lake_ = std::make_unique<Lake>(
        std::move(Lake::Open(dir_.path(), clock_, {60 * kMicrosPerSecond})).value());
    db_ = std::make_unique<Database>(std::move(Database::Open()).value());
    con_ = std::make_unique<Connection>(std::move(Connection::Open(*db_)).value());
  }

  // `n` 1m klines of `symbol` from minute `first` (after kT0), close = base + minute index.
  std::string Rows(const std::string& symbol, int first, int n, const std::string& source,
                   double base) {
    return fmt::format(
        "SELECT '{0}' AS symbol, to_timestamp({1} + i * 60) AS open_time, {4} + i AS open, {4} + i "
        "+ 1 AS high, "
        "{4} + i - 1 AS low, {4} + i AS close, 1.5 AS volume, to_timestamp({1} + i * 60 + 59.999) "
        "AS close_time, "
        "NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, NULL::DOUBLE AS taker_buy_base, "
        "NULL::DOUBLE AS taker_buy_quote, '{3}' AS source, to_timestamp({1}) AS ingested_at "
        "FROM range({5}, {5} + {2}) t(i)",
        symbol, kT0, n, source, base, first);
  }

  int64_t Commit(const std::string& rows, Source src) {
    auto txn = lake_->Begin();
    EXPECT_TRUE(txn.ok());
    auto iv = *Interval::Parse("1m");
    auto added = StageQuery(*con_, *txn, WithKlinePartitions(iv, "(" + rows + ")"),
                            KlinesStageSpec(iv, src));
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    auto v = lake_->Commit(std::move(txn).value());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return *v;
  }

  int64_t Count(const Snapshot& s, bool dedup = true) {
    return *con_->QueryInt64("SELECT count(*) FROM " +
                             KlinesSql(s, *Interval::Parse("1m"), {}, dedup));
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

TEST_F(LakeTest, EmptyLakeHasVersionZeroAndNoRows) {
  auto s = lake_->GetSnapshot();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->version(), 0);
  EXPECT_EQ(Count(*s), 0);
}

TEST_F(LakeTest, CommitPublishesPartitionedFilesWithStats) {
  EXPECT_EQ(Commit(Rows("BTCUSDT", 0, 100, "import", 100), Source::kImport), 1);
  auto s = *lake_->GetSnapshot();
  auto files = s.Files("klines_1m", "BTCUSDT");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0]->partition, "year=2025/month=05");
  EXPECT_EQ(files[0]->rows, 100);
  EXPECT_EQ(files[0]->min_time, kT0 * kMicrosPerSecond);
  EXPECT_EQ(files[0]->max_time, (kT0 + 99 * 60) * kMicrosPerSecond);
  EXPECT_TRUE(fs::exists(s.Abs(*files[0])));
  EXPECT_EQ(files[0]->path.rfind("klines_1m/symbol=BTCUSDT/year=2025/month=05/part-", 0), 0u);
  EXPECT_EQ(
      *con_->QueryInt64(
          "SELECT CAST(close AS BIGINT) FROM " + KlinesSql(s, *Interval::Parse("1m")) +
          " WHERE epoch_us(open_time) = " + std::to_string((kT0 + 42 * 60) * kMicrosPerSecond)),
      142);
}

TEST_F(LakeTest, UncommittedTransactionIsInvisibleAndCleanedUp) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  auto txn = *lake_->Begin();
  auto iv = *Interval::Parse("1m");
  ASSERT_TRUE(StageQuery(*con_, txn,
                         WithKlinePartitions(iv, "(" + Rows("BTCUSDT", 10, 10, "import", 1) + ")"),
                         KlinesStageSpec(iv, Source::kImport))
                  .ok());
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 10);
  fs::path staging = txn.staging_dir();
  EXPECT_TRUE(fs::exists(staging));
  lake_->Abandon(std::move(txn));
  EXPECT_FALSE(fs::exists(staging));
}

TEST_F(LakeTest, HigherPrioritySourceWinsAtReadTime) {
  Commit(Rows("BTCUSDT", 0, 10, "stream", 500), Source::kStream);
  Commit(Rows("BTCUSDT", 5, 10, "import", 100), Source::kImport);
  Commit(Rows("BTCUSDT", 8, 1, "rest", 900), Source::kRest);
  auto s = *lake_->GetSnapshot();
  EXPECT_EQ(Count(s, false), 21);
  EXPECT_EQ(Count(s), 15);
  auto r = *con_->Query("SELECT source, CAST(close AS BIGINT) FROM " +
                        KlinesSql(s, *Interval::Parse("1m")) + " ORDER BY open_time");
  ASSERT_EQ(r.rows(), 15u);
  EXPECT_EQ(r.GetString(0, 4), "stream");
  EXPECT_EQ(r.GetInt64(1, 4), 504);
  EXPECT_EQ(r.GetString(0, 5), "import");
  EXPECT_EQ(r.GetInt64(1, 5), 105);
  EXPECT_EQ(r.GetString(0, 8), "rest");
  EXPECT_EQ(r.GetInt64(1, 8), 908);
}

TEST_F(LakeTest, CompactionKeepsReadResultsAndOldSnapshotsReadable) {
  Commit(Rows("BTCUSDT", 0, 10, "stream", 500), Source::kStream);
  Commit(Rows("BTCUSDT", 5, 10, "import", 100), Source::kImport);
  auto before = *lake_->GetSnapshot();
  auto expect = *con_->Query("SELECT * FROM " + KlinesSql(before, *Interval::Parse("1m")) +
                             " ORDER BY open_time");
  auto st = Compact(*lake_, *con_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->files_retired, 2);
  EXPECT_EQ(st->files_written, 1);
  EXPECT_EQ(st->rows_written, 15);
  EXPECT_EQ(st->rows_dropped, 5);
  auto after = *lake_->GetSnapshot();
  EXPECT_EQ(after.Files("klines_1m").size(), 1u);
  EXPECT_EQ(Count(after, false), 15);
  auto got = *con_->Query("SELECT * FROM " + KlinesSql(after, *Interval::Parse("1m")) +
                          " ORDER BY open_time");
  ASSERT_EQ(got.rows(), expect.rows());
  for (size_t r = 0; r < got.rows(); ++r) {
    for (size_t c = 0; c < got.columns(); ++c)
      EXPECT_EQ(got.GetString(c, r), expect.GetString(c, r));
  }
  // The reader that took `before` still reads its files: they are retired, not deleted.
  EXPECT_EQ(Count(before, false), 20);
  // Past the grace period a later commit collects them.
  clock_.Advance(61 * kMicrosPerSecond);
  ASSERT_TRUE(lake_->CollectGarbage().ok());
  for (auto* f : before.Files("klines_1m")) EXPECT_FALSE(fs::exists(before.Abs(*f)));
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 15);
  // A second compaction has nothing to do.
  auto again = Compact(*lake_, *con_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->partitions_rewritten, 0);
}

TEST_F(LakeTest, RetiringAFileSomeoneElseRetiredAborts) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  auto s = *lake_->GetSnapshot();
  std::string path = s.Files("klines_1m")[0]->path;
  auto t1 = *lake_->Begin();
  t1.RetireFile(path);
  auto t2 = *lake_->Begin();
  t2.RetireFile(path);
  ASSERT_TRUE(lake_->Commit(std::move(t1)).ok());
  auto r = lake_->Commit(std::move(t2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_EQ(r.status().message(),
            "commit aborted: " + path + " is no longer live (a concurrent commit retired it)");
}

TEST_F(LakeTest, ExpectMetaIsACompareAndSwap) {
  auto t0 = *lake_->Begin();
  t0.SetMeta("views", {{"gen", 1}});
  ASSERT_TRUE(lake_->Commit(std::move(t0)).ok());
  // Two writers read gen 1; the first to commit wins, the second aborts and changes nothing.
  auto t1 = *lake_->Begin();
  t1.ExpectMeta("views", {{"gen", 1}});
  t1.SetMeta("views", {{"gen", 2}});
  auto t2 = *lake_->Begin();
  t2.ExpectMeta("views", {{"gen", 1}});
  t2.SetMeta("views", {{"gen", 3}});
  ASSERT_TRUE(lake_->Commit(std::move(t1)).ok());
  auto r = lake_->Commit(std::move(t2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "commit aborted: meta 'views' was changed by a concurrent commit");
  EXPECT_EQ(lake_->GetSnapshot()->manifest().meta["views"]["gen"], 2);
  // null expects the key to be absent.
  auto t3 = *lake_->Begin();
  t3.ExpectMeta("other", nullptr);
  t3.SetMeta("other", 1);
  EXPECT_TRUE(lake_->Commit(std::move(t3)).ok());
}

TEST_F(LakeTest, StagedKlinesAlwaysHaveTheSchemaTypes) {
  // A query producing DECIMAL and INTEGER columns is cast to the schema on staging.
  Commit(
      "SELECT 'BTCUSDT' AS symbol, to_timestamp(1747699200) AS open_time, 1.5 AS open, 2.5 AS "
      "high, "
      "1.0 AS low, 2.0 AS close, 3 AS volume, NULL AS close_time, NULL AS quote_volume, 7 AS "
      "trades, "
      "NULL AS taker_buy_base, NULL AS taker_buy_quote, 'import' AS source, "
      "to_timestamp(1747699200) AS "
      "ingested_at",
      Source::kImport);
  auto s = *lake_->GetSnapshot();
  auto r = *con_->Query(
      "SELECT name, type FROM parquet_schema('" + s.Abs(*s.Files("klines_1m")[0]).string() +
      "') WHERE name IN ('open', 'volume', 'trades', 'close_time') ORDER BY name");
  ASSERT_EQ(r.rows(), 4u);
  EXPECT_EQ(r.GetString(0, 0) + ":" + r.GetString(1, 0), "close_time:INT64");
  EXPECT_EQ(r.GetString(0, 1) + ":" + r.GetString(1, 1), "open:DOUBLE");
  EXPECT_EQ(r.GetString(0, 2) + ":" + r.GetString(1, 2), "trades:INT64");
  EXPECT_EQ(r.GetString(0, 3) + ":" + r.GetString(1, 3), "volume:DOUBLE");
}

// Rows in C++ memory, one unit per symbol: minute i of symbol u closes at 100 * (u + 1) + i.
class MinuteSource final : public TableSource {
 public:
  explicit MinuteSource(std::vector<std::pair<std::string, int>> units)
      : units_(std::move(units)) {}
  std::vector<ColumnDef> Columns() const override {
    return {{"symbol", DUCKDB_TYPE_VARCHAR},
            {"minute", DUCKDB_TYPE_BIGINT},
            {"close", DUCKDB_TYPE_DOUBLE}};
  }
  size_t Units() const override { return units_.size(); }
  size_t UnitRows(size_t u) const override { return static_cast<size_t>(units_[u].second); }
  void Fill(size_t u, size_t off, size_t n, duckdb_data_chunk out) const override {
    auto* minute =
        static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 1)));
    auto* close =
        static_cast<double*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(out, 2)));
    for (size_t i = 0; i < n; ++i) {
      duckdb_vector_assign_string_element(duckdb_data_chunk_get_vector(out, 0), i,
                                          units_[u].first.c_str());
      minute[i] = static_cast<int64_t>(off + i);
      close[i] = 100.0 * static_cast<double>(u + 1) + static_cast<double>(off + i);
    }
  }

 private:
  std::vector<std::pair<std::string, int>> units_;
};

TEST_F(LakeTest, TableSourceAndBulkStagingWriteEveryRowOnce) {
  // 50,000 minutes cross May/June 2025 and span many 2048-row scan chunks.
  MinuteSource src({{"BTCUSDT", 50'000}, {"ETHUSDT", 3}});
  ASSERT_TRUE(RegisterTableSource(*con_, "minutes", &src).ok());
  EXPECT_EQ(*con_->QueryInt64("SELECT count(*) FROM minutes()"), 50'003);
  EXPECT_EQ(*con_->QueryInt64(
                "SELECT CAST(sum(close) AS BIGINT) FROM minutes() WHERE symbol = 'ETHUSDT'"),
            603);
  std::string rows = fmt::format(
      "(SELECT symbol, to_timestamp({} + minute * 60) AS open_time, close AS open, close AS high, "
      "close AS low, "
      "close, 1.0 AS volume, NULL AS close_time, NULL AS quote_volume, NULL AS trades, NULL AS "
      "taker_buy_base, "
      "NULL AS taker_buy_quote, 'import' AS source, to_timestamp({}) AS ingested_at FROM "
      "minutes())",
      kT0, kT0);
  auto iv = *Interval::Parse("1m");
  auto txn = *lake_->Begin();
  auto added = StagePartitioned(*con_, txn, WithKlinePartitions(iv, rows),
                                KlinesStageSpec(iv, Source::kImport));
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_EQ(added->size(), 3u);  // BTCUSDT May, BTCUSDT June, ETHUSDT May
  ASSERT_TRUE(lake_->Commit(std::move(txn)).ok());
  auto s = *lake_->GetSnapshot();
  auto btc = s.Files("klines_1m", "BTCUSDT");
  ASSERT_EQ(btc.size(), 2u);
  EXPECT_EQ(btc[0]->partition, "year=2025/month=05");
  EXPECT_EQ(btc[1]->partition, "year=2025/month=06");
  EXPECT_EQ(btc[0]->rows + btc[1]->rows, 50'000);
  EXPECT_EQ(btc[0]->min_time, kT0 * kMicrosPerSecond);
  EXPECT_EQ(btc[1]->max_time, (kT0 + 49'999 * 60) * kMicrosPerSecond);
  EXPECT_EQ(Count(s), 50'003);
  // A query with no rows stages nothing.
  auto txn2 = *lake_->Begin();
  auto none = StagePartitioned(
      *con_, txn2, WithKlinePartitions(iv, "(" + Rows("BTCUSDT", 0, 0, "import", 1) + ")"),
      KlinesStageSpec(iv, Source::kImport));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  lake_->Abandon(std::move(txn2));
}

// The prototype crashed reading files that a merge was overwriting. Here a reader thread reads
// snapshot after snapshot while a writer thread appends and compacts the same partition; every
// read succeeds and sees a whole commit (a multiple of 10 rows, never fewer than before).
TEST_F(LakeTest, ReadersNeverBreakWhileWritersCommitAndCompact) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::string reader_error;
  std::thread reader([&] {
    auto con = Connection::Open(*db_);
    int64_t last = 0;
    while (!done.load() || reads.load() < 5) {
      auto snap = lake_->GetSnapshot();
      if (!snap.ok()) {
        reader_error = snap.status().ToString();
        return;
      }
      auto n = con->QueryInt64("SELECT count(*) FROM " + KlinesSql(*snap, *Interval::Parse("1m")));
      if (!n.ok()) {
        reader_error = n.status().ToString();
        return;
      }
      if (*n % 10 != 0 || *n < last) {
        reader_error = fmt::format("read {} rows after {}", *n, last);
        return;
      }
      last = *n;
      ++reads;
    }
  });
  auto con = Connection::Open(*db_);
  for (int i = 1; i <= 12; ++i) {
    auto txn = *lake_->Begin();
    auto iv = *Interval::Parse("1m");
    ASSERT_TRUE(
        StageQuery(*con, txn,
                   WithKlinePartitions(iv, "(" + Rows("BTCUSDT", i * 10, 10, "import", 1) + ")"),
                   KlinesStageSpec(iv, Source::kImport))
            .ok());
    ASSERT_TRUE(lake_->Commit(std::move(txn)).ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(Compact(*lake_, *con).ok());
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(reader_error, "");
  EXPECT_GE(reads.load(), 5);
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 130);
}

// A file the lake did not write is never deleted, wherever it is: not by a commit, not by gc.
// (The lake used to delete every *.parquet under the root that its manifest did not name.)
TEST_F(LakeTest, ForeignFilesUnderTheRootAreNeverDeleted) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  const std::vector<fs::path> foreign = {
      dir_ / "mine.parquet",
      dir_ / "klines_1m/symbol=BTCUSDT/year=2025/month=05/user-export.parquet",
      dir_ / "klines_1m/symbol=BTCUSDT/year=2025/month=05/part-1-2-3.parquet",
      dir_ / "views/daily_raw/symbol=BTCUSDT/year=2025/notes.parquet",
      dir_ / "merged/daily.parquet",
      dir_ / "_staging/not-a-txn/keep.parquet",
  };
  for (const auto& p : foreign) {
    fs::create_directories(p.parent_path());
    ASSERT_TRUE(con_->Exec("COPY (" + Rows("ETHUSDT", 0, 3, "import", 1) + ") TO '" + p.string() +
                           "' (FORMAT parquet)")
                    .ok());
  }
  std::map<fs::path, std::string> before;
  for (const auto& p : foreign) before[p] = *Sha256File(p);
  Commit(Rows("BTCUSDT", 10, 10, "import", 100), Source::kImport);
  ASSERT_TRUE(Compact(*lake_, *con_).ok());
  clock_.Advance(3600 * kMicrosPerSecond);
  ASSERT_TRUE(lake_->CollectGarbage().ok());
  for (const auto& p : foreign) {
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_EQ(*Sha256File(p), before[p]) << p;
  }
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 20);
}

// A crash between moving a commit's files into place and writing the manifest: the commit's
// intent names them, so gc knows they are the lake's own and removes them once the writer is
// dead. A file at the same place that no intent names stays.
TEST_F(LakeTest, FilesOfACrashedCommitAreCollectedByItsIntent) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  const std::string dead_txn = "1747699200000000-999999-0";  // pid 999999: no such process
  const std::string ours =
      "klines_1m/symbol=BTCUSDT/year=2025/month=05/part-" + dead_txn + "-0.parquet";
  const std::string theirs = "klines_1m/symbol=BTCUSDT/year=2025/month=05/part-crashed-0.parquet";
  for (const auto& rel : {ours, theirs}) {
    ASSERT_TRUE(con_->Exec("COPY (" + Rows("BTCUSDT", 100, 5, "import", 1) + ") TO '" +
                           (dir_ / rel).string() + "' (FORMAT parquet)")
                    .ok());
  }
  testing::WriteText(dir_ / "_staging" / dead_txn / "_intent.json",
                     R"({"version": 2, "files": [")" + ours + R"("]})");
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 10);
  ASSERT_TRUE(lake_->CollectGarbage().ok());
  EXPECT_FALSE(fs::exists(dir_ / ours));
  EXPECT_FALSE(fs::exists(dir_ / "_staging" / dead_txn));
  EXPECT_TRUE(fs::exists(dir_ / theirs));
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 10);
}

// A commit never moves a file over an existing one, even one at exactly its own path.
TEST_F(LakeTest, CommitNeverReplacesAnExistingFile) {
  Commit(Rows("ETHUSDT", 0, 10, "import", 100), Source::kImport);
  auto txn = *lake_->Begin();
  auto iv = *Interval::Parse("1m");
  ASSERT_TRUE(StageQuery(*con_, txn,
                         WithKlinePartitions(iv, "(" + Rows("BTCUSDT", 0, 10, "import", 1) + ")"),
                         KlinesStageSpec(iv, Source::kImport))
                  .ok());
  ASSERT_EQ(txn.added().size(), 1u);
  const fs::path dst = dir_ / txn.added()[0].second.path;
  testing::WriteText(dst, "the user's own bytes");
  auto v = lake_->Commit(std::move(txn));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(v.status().message(), "refusing to replace existing file " + dst.string());
  EXPECT_EQ(*ReadFile(dst), "the user's own bytes");
  EXPECT_EQ(lake_->GetSnapshot()->version(), 1);
}

// Nothing the manifest names can lead the lake outside its own files.
TEST_F(LakeTest, ManifestNamingAPathOutsideTheLakeIsRejected) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  std::string text = *ReadFile(dir_ / "_manifest.json");
  const std::string path = lake_->GetSnapshot()->manifest().files[0].path;
  text.replace(text.find(path), path.size(), "klines_1m/../../../etc/passwd.parquet");
  testing::WriteText(dir_ / "_manifest.json", text);
  auto s = lake_->GetSnapshot();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            (dir_ / "_manifest.json").string() +
                ": manifest names 'klines_1m/../../../etc/passwd.parquet', which is not a lake "
                "data file path");
  EXPECT_FALSE(lake_->CollectGarbage().ok());
}

// A lost manifest is damage, not an empty lake: reads and writes refuse, naming the way out.
TEST_F(LakeTest, DataFilesWithoutAManifestAreDataLossNotAnEmptyLake) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  Commit(Rows("ETHUSDT", 0, 10, "import", 100), Source::kImport);
  const std::string first = lake_->GetSnapshot()->Files("klines_1m", "BTCUSDT")[0]->path;
  fs::remove(dir_ / "_manifest.json");
  const std::string want = dir_.path().string() + " holds 2 lake data files (first: " + first +
                           ") but no _manifest.json: the manifest is missing, so which files hold "
                           "committed rows is unknown. Nothing was read or written; run "
                           "`cryptolake repair` to rebuild the manifest from the files";
  auto s = lake_->GetSnapshot();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.status().message(), want);
  auto txn = *lake_->Begin();
  auto iv = *Interval::Parse("1m");
  ASSERT_TRUE(StageQuery(*con_, txn,
                         WithKlinePartitions(iv, "(" + Rows("BTCUSDT", 20, 5, "import", 1) + ")"),
                         KlinesStageSpec(iv, Source::kImport))
                  .ok());
  auto v = lake_->Commit(std::move(txn));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), want);
  EXPECT_EQ(lake_->CollectGarbage().message(), want);
  EXPECT_TRUE(fs::exists(dir_ / first));
  EXPECT_FALSE(fs::exists(dir_ / "_manifest.json"));
}

TEST(LakeOpenTest, OpeningCreatesNothing) {
  TempDir dir;
  FakeClock clock;
  auto lk = Lake::Open(dir / "not/there", clock);
  ASSERT_TRUE(lk.ok());
  EXPECT_FALSE(lk->Exists());
  auto s = lk->GetSnapshot();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->version(), 0);
  EXPECT_EQ(lk->CollectGarbage().message(),
            "no lake at " + (dir / "not/there").string() + ": nothing to collect");
  EXPECT_FALSE(fs::exists(dir / "not"));
}

TEST(LakeOpenTest, ARootInsideALakeOrHoldingOneIsRefused) {
  TempDir dir;
  FakeClock clock;
  testing::WriteText(dir / "project/data/_manifest.json",
                     R"({"format": "cryptolake-manifest/1", "version": 0, "committed_at_us": 0,
                         "files": [], "retired": []})");
  auto inside = Lake::Open(dir / "project/data/klines_1m", clock);
  ASSERT_FALSE(inside.ok());
  const std::string data = (dir / "project/data").string();
  EXPECT_EQ(inside.status().message(),
            "data root " + (dir / "project/data/klines_1m").string() + " is inside the lake at " +
                data +
                ": a lake cannot hold another (its garbage collector owns the folders below it); "
                "choose a data root outside " +
                data);
  auto holding = Lake::Open(dir / "project", clock);
  ASSERT_FALSE(holding.ok());
  EXPECT_EQ(holding.status().message(),
            "data root " + (dir / "project").string() + " holds another lake at " + data +
                ": lakes cannot be nested (each one's garbage collector owns the folders below "
                "it); use --data " +
                data + " for that lake, or move it out");
  // The lake itself opens, with or without a trailing slash.
  EXPECT_TRUE(Lake::Open(dir / "project/data", clock).ok());
  EXPECT_TRUE(Lake::Open((dir / "project/data").string() + "/", clock).ok());
}

// Two writers that read the same keys: the second commit sees that the first changed them after
// its snapshot and aborts instead of storing every key twice.
TEST_F(LakeTest, ACommitThatReadStaleKeysAbortsWithAConflict) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  auto snap = *lake_->GetSnapshot();
  auto iv = *Interval::Parse("1m");
  auto stage = [&](Transaction& t, int first) {
    ASSERT_TRUE(
        StageQuery(*con_, t,
                   WithKlinePartitions(iv, "(" + Rows("BTCUSDT", first, 10, "import", 1) + ")"),
                   KlinesStageSpec(iv, Source::kImport))
            .ok());
  };
  const Micros lo = (kT0 + 10 * 60) * kMicrosPerSecond, hi = (kT0 + 19 * 60) * kMicrosPerSecond;
  auto a = *lake_->Begin();
  a.DependsOn(snap, "klines_1m", "BTCUSDT", lo, hi);
  stage(a, 10);
  auto b = *lake_->Begin();
  b.DependsOn(snap, "klines_1m", "BTCUSDT", lo, hi);
  stage(b, 10);
  // Another symbol and a disjoint range do not conflict.
  auto c = *lake_->Begin();
  c.DependsOn(snap, "klines_1m", "BTCUSDT", hi + kMicrosPerMinute, hi + 60 * kMicrosPerMinute);
  c.DependsOn(snap, "klines_1m", "ETHUSDT", lo, hi);
  ASSERT_TRUE(lake_->Commit(std::move(a)).ok());
  auto vb = lake_->Commit(std::move(b));
  ASSERT_FALSE(vb.ok());
  EXPECT_EQ(vb.status().code(), StatusCode::kAborted);
  EXPECT_EQ(vb.status().message().rfind(
                "commit aborted (conflict): a concurrent commit (version 2) added "
                "klines_1m/symbol=BTCUSDT/year=2025/month=05/part-",
                0),
            0u)
      << vb.status().message();
  EXPECT_TRUE(lake_->Commit(std::move(c)).ok());
  EXPECT_EQ(Count(*lake_->GetSnapshot(), /*dedup=*/false), 20);
}

// CommitWithRetry re-runs the read-check-write on the new snapshot; after the optimistic tries
// it holds the writer lock from snapshot to commit.
TEST_F(LakeTest, CommitWithRetryRerunsOnAFreshSnapshotThenTakesTheLock) {
  auto iv = *Interval::Parse("1m");
  int calls = 0;
  // Each try first lets a "concurrent writer" commit rows of the range it read (twice), so the
  // first two tries conflict; the third sees them and adds only what is missing.
  auto attempt = [&](const Snapshot& snap) -> StatusOr<Transaction> {
    ++calls;
    ASSIGN_OR_RETURN(Transaction t, lake_->Begin());
    t.DependsOn(snap, "klines_1m", "BTCUSDT", kT0 * kMicrosPerSecond,
                (kT0 + 99 * 60) * kMicrosPerSecond);
    const int have = static_cast<int>(Count(snap, false));
    EXPECT_TRUE(StageQuery(*con_, t,
                           WithKlinePartitions(
                               iv, "(" + Rows("BTCUSDT", have, 100 - have, "import", 1) + ")"),
                           KlinesStageSpec(iv, Source::kImport))
                    .ok());
    if (calls <= 2) Commit(Rows("BTCUSDT", have, 10, "rest", 7), Source::kRest);
    return t;
  };
  Lake::RetryStats st;
  auto v = lake_->CommitWithRetry(attempt, 4, &st);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(st.tries, 3);
  EXPECT_FALSE(st.locked);
  EXPECT_EQ(Count(*lake_->GetSnapshot(), false), 100);
  EXPECT_EQ(Count(*lake_->GetSnapshot()), 100);
  // With no optimistic try at all, the one try runs under the lock.
  calls = 10;
  auto v2 = lake_->CommitWithRetry(attempt, 0, &st);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(st.tries, 1);
  EXPECT_TRUE(st.locked);
  EXPECT_EQ(Count(*lake_->GetSnapshot(), false), 100);
}

TEST_F(LakeTest, CommitRecordsEachFilesChecksumAndVersion) {
  Commit(Rows("BTCUSDT", 0, 10, "import", 100), Source::kImport);
  Commit(Rows("ETHUSDT", 0, 10, "import", 100), Source::kImport);
  auto s = *lake_->GetSnapshot();
  auto btc = s.Files("klines_1m", "BTCUSDT");
  auto eth = s.Files("klines_1m", "ETHUSDT");
  ASSERT_EQ(btc.size(), 1u);
  ASSERT_EQ(eth.size(), 1u);
  EXPECT_EQ(btc[0]->sha256, *Sha256File(s.Abs(*btc[0])));
  EXPECT_EQ(btc[0]->added_version, 1);
  EXPECT_EQ(eth[0]->added_version, 2);
  auto back = Manifest::FromJson(s.manifest().ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->files[0].sha256, s.manifest().files[0].sha256);
}

TEST_F(LakeTest, CorruptManifestIsAClearError) {
  testing::WriteText(dir_ / "_manifest.json", "{\"format\": \"something-else\"}");
  auto s = lake_->GetSnapshot();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            (dir_ / "_manifest.json").string() + ": manifest has unknown format 'something-else'");
}

}  // namespace

// A paced connection: every statement, failed ones too, is one unit of its pacer, which sleeps
// after it. On a TickingClock each unit lasts exactly one tick (Start and Done read the clock
// once each), so at duty 0.25 each is followed by 3 ticks asleep.
TEST(ConnectionTest, PacedStatementsSleepTheirShareAfterEachOne) {
  auto db = Database::Open();
  ASSERT_TRUE(db.ok());
  auto con = Connection::Open(*db);
  ASSERT_TRUE(con.ok());
  testing::TickingClock clock(1'000);
  Pacer pacer(clock, 0.25);
  con->SetPacer(&pacer);
  ASSERT_TRUE(con->Exec("CREATE TABLE t (x BIGINT)").ok());
  ASSERT_TRUE(con->Query("INSERT INTO t VALUES ($1), ($2)", {int64_t{4}, int64_t{5}}).ok());
  EXPECT_EQ(*con->QueryInt64("SELECT sum(x) FROM t"), 9);
  auto bad = con->Exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(pacer.stats().units, 4);
  EXPECT_EQ(pacer.stats().worked, 4'000);
  EXPECT_EQ(pacer.stats().slept, 12'000);
  // Moved with the connection; unpaced once cleared.
  Connection moved = std::move(*con);
  ASSERT_TRUE(moved.Exec("SELECT 1").ok());
  EXPECT_EQ(pacer.stats().units, 5);
  moved.SetPacer(nullptr);
  ASSERT_TRUE(moved.Exec("SELECT 1").ok());
  EXPECT_EQ(pacer.stats().units, 5);
}

TEST(TimeRangesTest, MergeAndSubtract) {
  EXPECT_EQ(MergeRanges({{5, 7}, {1, 3}, {3, 4}, {9, 9}, {6, 8}}), (TimeRanges{{1, 4}, {5, 8}}));
  EXPECT_EQ(SubtractRanges({{0, 10}}, {{2, 3}, {5, 7}, {9, 12}}),
            (TimeRanges{{0, 2}, {3, 5}, {7, 9}}));
  EXPECT_EQ(SubtractRanges({{0, 10}, {20, 30}}, {{-5, 25}}), (TimeRanges{{25, 30}}));
  EXPECT_EQ(SubtractRanges({{0, 10}}, {}), (TimeRanges{{0, 10}}));
  EXPECT_EQ(SubtractRanges({{0, 10}}, {{0, 10}}), TimeRanges{});
}

TEST(TimeRangesTest, ConfirmedEmptyMetaRoundTrip) {
  Manifest m;
  m.meta[kConfirmedEmptyKey] =
      WithConfirmedEmpty(nullptr, "klines_1m", "BTCUSDT", {{300, 400}, {100, 200}});
  m.meta[kConfirmedEmptyKey] =
      WithConfirmedEmpty(m.meta[kConfirmedEmptyKey], "klines_1m", "BTCUSDT", {{200, 300}});
  m.meta[kConfirmedEmptyKey] =
      WithConfirmedEmpty(m.meta[kConfirmedEmptyKey], "klines_1h", "ETHUSDT", {{7, 9}});
  EXPECT_EQ(ConfirmedEmpty(m, "klines_1m", "BTCUSDT"), (TimeRanges{{100, 400}}));
  EXPECT_EQ(ConfirmedEmpty(m, "klines_1h", "ETHUSDT"), (TimeRanges{{7, 9}}));
  EXPECT_EQ(ConfirmedEmpty(m, "klines_1m", "ETHUSDT"), TimeRanges{});
  EXPECT_EQ(m.meta[kConfirmedEmptyKey].dump(),
            R"({"klines_1h":{"ETHUSDT":[[7,9]]},"klines_1m":{"BTCUSDT":[[100,400]]}})");
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ConfirmedEmpty(*back, "klines_1m", "BTCUSDT"), (TimeRanges{{100, 400}}));
}

}  // namespace cryptolake::lake
