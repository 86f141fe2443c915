// The lake's Delta logs (lake/delta_log.h): one Delta version per commit that touches a dataset,
// naming exactly the manifest's files; recorded versions put in place after a crash; a version
// written by someone else refused, not overwritten; a checkpoint every 10 versions.
#include "lake/delta_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/fsutil.h"
#include "lake/compact.h"
#include "lake/klines.h"
#include "testing/testing.h"

namespace cryptolake::lake {
namespace {

using json = nlohmann::json;
using testing::TempDir;

constexpr int64_t kT0 = 1747699200;  // 2025-05-20T00:00:00Z

std::vector<json> Actions(const fs::path& file) {
  std::vector<json> out;
  auto text = ReadFile(file);
  EXPECT_TRUE(text.ok()) << file;
  std::string_view rest = text.ok() ? std::string_view(*text) : "";
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    out.push_back(json::parse(rest.substr(0, nl)));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  return out;
}

class DeltaLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0 * kMicrosPerSecond);
    lake_ = std::make_unique<Lake>(
        std::move(Lake::Open(dir_.path(), clock_, {60 * kMicrosPerSecond})).value());
    db_ = std::make_unique<Database>(std::move(Database::Open()).value());
    con_ = std::make_unique<Connection>(std::move(Connection::Open(*db_)).value());
  }

  // `n` 1m klines of BTCUSDT from minute `first` after kT0.
  int64_t Commit(int first, int n, Source src) {
    const std::string rows = fmt::format(
        "SELECT 'BTCUSDT' AS symbol, to_timestamp({0} + i * 60) AS open_time, 100.0 + i AS open, "
        "101.0 + i AS high, 99.0 + i AS low, 100.5 + i AS close, 1.5 AS volume, "
        "to_timestamp({0} + i * 60 + 59.999) AS close_time, 10.0 AS quote_volume, 3::BIGINT AS "
        "trades, 0.5 AS taker_buy_base, 5.0 AS taker_buy_quote, '{1}' AS source, "
        "to_timestamp({0}) AS ingested_at FROM range({2}, {2} + {3}) t(i)",
        kT0, SourceName(src), first, n);
    auto txn = lake_->Begin();
    EXPECT_TRUE(txn.ok());
    auto iv = *Interval::Parse("1m");
    auto added = StageQuery(*con_, *txn, WithKlinePartitions(iv, "(" + rows + ")"),
                            KlinesStageSpec(iv, src));
    EXPECT_TRUE(added.ok()) << added.status().ToString();
    clock_.Advance(kMicrosPerSecond);
    auto v = lake_->Commit(std::move(txn).value());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : -1;
  }

  fs::path Log(int64_t v) const { return dir_.path() / delta::CommitPath("klines_1m", v); }

  void ExpectLogMatchesManifest() {
    auto snap = lake_->GetSnapshot();
    ASSERT_TRUE(snap.ok());
    auto st = delta::Replay(dir_.path(), "klines_1m");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->live, delta::ManifestLive(snap->manifest(), "klines_1m"));
    EXPECT_EQ(st->version, snap->manifest().meta["delta"]["klines_1m"]["version"].get<int64_t>());
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

TEST_F(DeltaLogTest, TheFirstCommitWritesProtocolMetadataAndAdds) {
  Commit(0, 90, Source::kImport);
  const std::vector<json> a = Actions(Log(0));
  ASSERT_EQ(a.size(), 4u);  // protocol, metaData, one add (one partition), commitInfo
  EXPECT_EQ(a[0], json::parse(R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})"));
  const json& md = a[1].at("metaData");
  EXPECT_EQ(md.at("partitionColumns"), json::parse(R"(["symbol","year","month"])"));
  EXPECT_EQ(md.at("format").at("provider"), "parquet");
  std::vector<std::string> fields;
  const json schema = json::parse(md.at("schemaString").get<std::string>());
  for (const auto& f : schema.at("fields")) {
    fields.push_back(f.at("name").get<std::string>() + ":" + f.at("type").get<std::string>());
  }
  EXPECT_EQ(fields,
            (std::vector<std::string>{
                "open_time:timestamp", "open:double", "high:double", "low:double", "close:double",
                "volume:double", "close_time:timestamp", "quote_volume:double", "trades:long",
                "taker_buy_base:double", "taker_buy_quote:double", "source:string",
                "ingested_at:timestamp", "symbol:string", "year:integer", "month:integer"}));
  const json& add = a[2].at("add");
  EXPECT_TRUE(add.at("path").get<std::string>().starts_with("symbol=BTCUSDT/year=2025/month=05/"));
  EXPECT_EQ(add.at("partitionValues"),
            json::parse(R"({"symbol":"BTCUSDT","year":"2025","month":"5"})"));
  EXPECT_EQ(add.at("dataChange"), true);
  EXPECT_EQ(add.at("size").get<int64_t>(),
            static_cast<int64_t>(fs::file_size(dir_.path() / "klines_1m" / add.at("path"))));
  EXPECT_EQ(json::parse(add.at("stats").get<std::string>()),
            json::parse(R"({"numRecords":90,"minValues":{"open_time":"2025-05-20T00:00:00.000Z"},
                           "maxValues":{"open_time":"2025-05-20T01:29:00.000Z"},
                           "nullCount":{"open_time":0}})"));
  EXPECT_EQ(a[3].at("commitInfo").at("operationParameters").at("manifestVersion"), "1");
  ExpectLogMatchesManifest();
}

TEST_F(DeltaLogTest, CompactionIsOneVersionOfRemovesAndAnAdd) {
  Commit(0, 30, Source::kImport);
  Commit(30, 30, Source::kRest);
  clock_.Advance(120 * kMicrosPerSecond);
  auto st = Compact(*lake_, *con_, "klines_1m");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  const std::vector<json> a = Actions(Log(2));
  int adds = 0, removes = 0;
  for (const auto& x : a) {
    adds += x.contains("add");
    if (x.contains("remove")) {
      ++removes;
      EXPECT_EQ(x["remove"].at("dataChange"), true);
      EXPECT_EQ(x["remove"].at("extendedFileMetadata"), true);
    }
  }
  EXPECT_EQ(adds, 1);
  EXPECT_EQ(removes, 2);
  EXPECT_FALSE(fs::exists(Log(3)));
  ExpectLogMatchesManifest();
}

TEST_F(DeltaLogTest, AVersionLostInACrashIsPutInPlaceByTheNextWriter) {
  Commit(0, 30, Source::kImport);
  Commit(30, 30, Source::kImport);
  // A crash after the manifest's rename, before its Delta version was put in place.
  const std::string want = *ReadFile(Log(1));
  fs::remove(Log(1));
  auto behind = delta::Replay(dir_.path(), "klines_1m");
  ASSERT_TRUE(behind.ok());
  EXPECT_EQ(behind->version, 0);
  ASSERT_TRUE(lake_->CollectGarbage().ok());
  EXPECT_EQ(*ReadFile(Log(1)), want);
  ExpectLogMatchesManifest();
  // And a commit does it too, before its own version.
  fs::remove(Log(1));
  Commit(60, 30, Source::kImport);
  EXPECT_EQ(*ReadFile(Log(1)), want);
  EXPECT_TRUE(fs::exists(Log(2)));
  ExpectLogMatchesManifest();
}

TEST_F(DeltaLogTest, AVersionWrittenBySomeoneElseIsNeverOverwritten) {
  Commit(0, 30, Source::kImport);
  const std::string foreign = R"({"commitInfo":{"operation":"WRITE","engineInfo":"other"}})";
  ASSERT_TRUE(WriteFileAtomic(Log(1), foreign + "\n").ok());
  auto txn = lake_->Begin();
  ASSERT_TRUE(txn.ok());
  auto iv = *Interval::Parse("1m");
  auto before = lake_->GetSnapshot();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(StageQuery(*con_, *txn, WithKlinePartitions(iv, KlinesSql(*before, iv)),
                         KlinesStageSpec(iv, Source::kRest))
                  .ok());
  auto v = lake_->Commit(std::move(txn).value());
  // The lake's commit stands (the manifest is the commit point); the error says what is behind.
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(v.status().message().find("manifest version 2 is committed, but a Delta log version "
                                      "it records is not in place"),
            std::string::npos)
      << v.status().ToString();
  EXPECT_NE(v.status().message().find(
                "klines_1m/_delta_log/00000000000000000001.json was written by another writer"),
            std::string::npos)
      << v.status().ToString();
  EXPECT_EQ(*ReadFile(Log(1)), foreign + "\n");
  EXPECT_FALSE(fs::exists(Log(2)));
  auto snap = lake_->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version(), 2);
  ASSERT_TRUE(snap->manifest().meta.contains("delta_pending"));
  // The planned version stays recorded: put in place once the foreign file is gone.
  fs::remove(Log(1));
  ASSERT_TRUE(lake_->CollectGarbage().ok());
  ExpectLogMatchesManifest();
}

TEST_F(DeltaLogTest, ACheckpointEveryTenVersions) {
  testing::LogCapture logs;
  for (int i = 0; i < 11; ++i) Commit(i * 10, 10, Source::kImport);
  const fs::path log = dir_.path() / "klines_1m" / "_delta_log";
  // The commit after the checkpoint's finds it in place and leaves it (nothing logged).
  EXPECT_EQ(logs.text(), "");
  ASSERT_TRUE(fs::exists(log / "00000000000000000010.checkpoint.parquet"));
  EXPECT_FALSE(fs::exists(log / "00000000000000000000.checkpoint.parquet"));
  const json last = json::parse(*ReadFile(log / "_last_checkpoint"));
  EXPECT_EQ(last.at("version"), 10);
  EXPECT_EQ(last.at("numOfAddFiles"), 11);
  EXPECT_EQ(last.at("size"), 13);  // protocol, metaData, 11 adds
  auto r = con_->Query(fmt::format(
      "SELECT count(add), count(metaData), count(protocol), min(add.partitionValues['month']), "
      "sum(CAST(json_extract(add.stats, '$.numRecords') AS BIGINT)) FROM read_parquet('{}')",
      (log / "00000000000000000010.checkpoint.parquet").string()));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetInt64(0, 0), 11);
  EXPECT_EQ(r->GetInt64(1, 0), 1);
  EXPECT_EQ(r->GetInt64(2, 0), 1);
  EXPECT_EQ(r->GetString(3, 0), "5");
  EXPECT_EQ(r->GetInt64(4, 0), 110);
  ExpectLogMatchesManifest();
}

TEST_F(DeltaLogTest, ALakeFromBeforeTheLogsGetsThemAtItsNextCommit) {
  Commit(0, 30, Source::kImport);
  // Forget the logs, as a lake written before them (or a manifest rebuilt by repair).
  fs::remove_all(dir_.path() / "klines_1m" / "_delta_log");
  {
    auto snap = lake_->GetSnapshot();
    Manifest m = snap->manifest();
    m.meta.erase("delta");
    m.meta.erase("delta_pending");
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "_manifest.json", m.ToJson()).ok());
  }
  Commit(30, 30, Source::kImport);
  const std::vector<json> a = Actions(Log(0));
  int adds = 0;
  for (const auto& x : a) adds += x.contains("add");
  EXPECT_EQ(adds, 2);  // the first commit's file and the second's, both in version 0
  ExpectLogMatchesManifest();
}

TEST(DeltaLogPathsTest, TableDirAndCommitPath) {
  EXPECT_EQ(delta::TableDir("klines_1m/symbol=BTCUSDT/year=2025/month=05/p.parquet"), "klines_1m");
  EXPECT_EQ(delta::TableDir("views/daily_raw/symbol=X/year=2025/p.parquet"), "views/daily_raw");
  EXPECT_EQ(delta::TableDir("klines_1m/p.parquet"), "");
  EXPECT_EQ(delta::CommitPath("views/daily_raw", 12),
            "views/daily_raw/_delta_log/00000000000000000012.json");
  EXPECT_FALSE(IsLakeDataPath("klines_1m/_delta_log/00000000000000000010.checkpoint.parquet"));
  EXPECT_TRUE(IsLakeDataPath("klines_1m/symbol=BTCUSDT/year=2025/month=05/part-1-0.parquet"));
}

}  // namespace
}  // namespace cryptolake::lake
