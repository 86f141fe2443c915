// I/O faults under every command that commits to the lake: import, a backfill commit, the batch
// refresh, compact and gc. For each command a clean run first counts the file-system calls it
// makes through the lake's Env (core/env.h); then, for every call k and every errno worth
// injecting into a call of that kind (testing/fault_env.h: ENOSPC and EIO for writes and mkdir,
// EIO for fsync, EXDEV and ENOSPC for renames, EIO for deletions), a fresh lake with a committed
// baseline runs the command with call k failing. Each case must:
//  * fail, with a message naming the file of the failed call and the errno's text;
//  * leave the lake clean for verify (no error finding) with every baseline row still read back
//    exactly (row count and a digest of symbol, open_time and OHLCV);
//  * let the same command, rerun on the real file system, succeed (and still read the same rows).
// All steps are run, none sampled. The Parquet bytes that DuckDB writes into the staging
// directory do not go through the Env (DuckDB opens those files itself), so the steps covered are
// the ones the lake owns: staging and data directory creation, the staged files' fsync, the
// intent and manifest writes with their fsyncs and renames, the moves into place, the directory
// fsyncs and gc's deletions.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "core/fsutil.h"
#include "ingest/importer.h"
#include "lake/compact.h"
#include "lake/klines.h"
#include "testing/fault_env.h"
#include "verify/verify.h"

namespace cryptolake::lake {
namespace {

using testing::FaultEnv;

const Interval k1m{"1m", kMicrosPerMinute};

// A temp lake whose writes go through a FaultEnv (disarmed: the real file system), with a
// FakeClock and an in-memory DuckDB.
class World {
 public:
  World() {
    clock_.Set(testing::DayUs("2025-09-01"));
    Lake::Options o;
    o.env = &env_;
    lake_ = std::make_unique<Lake>(std::move(Lake::Open(dir_.path(), clock_, o)).value());
    db_ = std::make_unique<Database>(std::move(Database::Open()).value());
    con_ = std::make_unique<Connection>(std::move(Connection::Open(*db_)).value());
  }
  FaultEnv& env() { return env_; }
  FakeClock& clock() { return clock_; }
  Lake& lake() { return *lake_; }
  Connection& con() { return *con_; }

 private:
  FaultEnv env_;
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Lake> lake_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> con_;
};

// Commits BTCUSDT's real 1m klines of 2025-05-20, minutes [from, to) of the day, as `source`,
// staged the way import and backfill stage them (StagePartitioned). Like backfill, it stores only
// the keys the lake does not hold from `source` yet, so a rerun adds nothing twice.
Status CommitMinutes(World& w, int from, int to, Source source) {
  const int64_t day = testing::DayMs("2025-05-20");
  const std::string csv = testing::OneMinuteCsvSql(
      testing::Klines(testing::kBtc1m2025), "BTCUSDT",
      fmt::format("open_time >= {} AND open_time < {}", day + from * 60000LL, day + to * 60000LL),
      SourceName(source));
  w.clock().Advance(kMicrosPerSecond);
  return w.lake()
      .CommitWithRetry([&](const Snapshot& snap) -> StatusOr<Transaction> {
        const std::string rows = fmt::format(
            "(SELECT * FROM ({}) n WHERE n.open_time NOT IN (SELECT open_time FROM {} WHERE "
            "source = {}))",
            csv, KlinesSql(snap, k1m, {}, false), SqlQuote(SourceName(source)));
        ASSIGN_OR_RETURN(Transaction txn, w.lake().Begin());
        auto added = StagePartitioned(w.con(), txn, WithKlinePartitions(k1m, rows),
                                      KlinesStageSpec(k1m, source));
        if (!added.ok()) {
          w.lake().Abandon(std::move(txn));
          return added.status();
        }
        return txn;
      })
      .status();
}

// Row count and a digest of what the lake reads back of klines_1m (deduplicated).
std::string ReadDigest(World& w) {
  auto snap = w.lake().GetSnapshot();
  if (!snap.ok()) return "snapshot failed: " + snap.status().ToString();
  auto r = w.con().Query(
      "SELECT count(*), sum(hash(symbol, open_time, open, high, low, close, volume)) FROM " +
      KlinesSql(*snap, k1m));
  if (!r.ok()) return "query failed: " + r.status().ToString();
  return r->GetString(0, 0) + " rows, digest " + r->GetString(1, 0);
}

// Error findings of verify on the current snapshot, one per line ("" when clean).
std::string VerifyErrors(World& w) {
  auto snap = w.lake().GetSnapshot();
  if (!snap.ok()) return "snapshot failed: " + snap.status().ToString();
  auto report = verify::Verify(*snap, w.con());
  if (!report.ok()) return "verify failed: " + report.status().ToString();
  return report->errors() == 0 ? "" : verify::FormatReport(*report);
}

struct Command {
  std::string name;
  std::function<Status(World&)> prepare;  // after the baseline, on the real file system
  std::function<Status(World&)> run;      // the command under test
};

std::vector<Command> Commands() {
  auto none = [](World&) { return Status::Ok(); };
  return {
      {"import", none,
       [](World& w) {
         ingest::ImportOptions opt;
         opt.inputs = {testing::Klines("1h/BTCUSDT-1h-2022-01.csv")};
         opt.threads = 1;
         opt.progress = false;
         return ingest::Import(w.lake(), w.con(), opt).status();
       }},
      {"backfill commit", none, [](World& w) { return CommitMinutes(w, 300, 900, Source::kRest); }},
      {"batch", none, [](World& w) { return batch::RefreshViews(w.lake(), w.con()).status(); }},
      {"compact", none, [](World& w) { return Compact(w.lake(), w.con()).status(); }},
      {"gc",
       [](World& w) {
         RETURN_IF_ERROR(Compact(w.lake(), w.con()).status());  // retires the baseline's files
         w.clock().Advance(Lake::Options{}.gc_grace + kMicrosPerSecond);
         return Status::Ok();
       },
       [](World& w) { return w.lake().CollectGarbage(); }},
  };
}

// A fresh lake holding two baseline commits (one partition, two files), prepared for `cmd`.
std::unique_ptr<World> Baseline(const Command& cmd) {
  auto w = std::make_unique<World>();
  Status s = CommitMinutes(*w, 0, 600, Source::kImport);
  if (s.ok()) s = CommitMinutes(*w, 600, 900, Source::kImport);
  if (s.ok()) s = cmd.prepare(*w);
  EXPECT_TRUE(s.ok()) << cmd.name << " baseline: " << s.ToString();
  return w;
}

TEST(IoFaultTest, EveryFaultAtEveryStepOfEveryCommandFailsCleanly) {
  int64_t total = 0;
  for (const Command& cmd : Commands()) {
    // The clean run: which calls the command makes.
    std::vector<FaultEnv::Call> steps;
    {
      auto w = Baseline(cmd);
      w->env().Disarm();
      Status s = cmd.run(*w);
      ASSERT_TRUE(s.ok()) << cmd.name << ": " << s.ToString();
      steps = w->env().calls();
      EXPECT_EQ(VerifyErrors(*w), "") << cmd.name;
    }
    ASSERT_FALSE(steps.empty()) << cmd.name << " made no file-system call through the Env";
    int64_t cases = 0;
    for (size_t k = 1; k <= steps.size(); ++k) {
      const FaultEnv::Call& step = steps[k - 1];
      for (int err : testing::FaultsFor(step.op)) {
        const std::string where = fmt::format("{} step {} ({} {}) with {}", cmd.name, k,
                                              testing::OpName(step.op), step.path, strerror(err));
        auto w = Baseline(cmd);
        const std::string before = ReadDigest(*w);
        w->env().Arm(static_cast<int64_t>(k), err);
        Status s = cmd.run(*w);
        ASSERT_TRUE(w->env().fired()) << where;
        // The failed call as this lake made it (temp and transaction names differ per lake).
        const FaultEnv::Call failed = w->env().calls().at(k - 1);
        ASSERT_EQ(testing::OpName(failed.op), testing::OpName(step.op)) << where;
        w->env().Disarm();
        ASSERT_FALSE(s.ok()) << where;
        EXPECT_NE(s.message().find(failed.path), std::string::npos)
            << where << ": " << s.ToString();
        EXPECT_NE(s.message().find(strerror(err)), std::string::npos)
            << where << ": " << s.ToString();
        EXPECT_EQ(VerifyErrors(*w), "") << where;
        EXPECT_EQ(ReadDigest(*w), before) << where;
        Status again = cmd.run(*w);
        EXPECT_TRUE(again.ok()) << where << ", rerun: " << again.ToString();
        EXPECT_EQ(VerifyErrors(*w), "") << where << ", after the rerun";
        EXPECT_EQ(ReadDigest(*w), before) << where << ", after the rerun";
        ++cases;
        if (::testing::Test::HasFailure()) return;
      }
    }
    std::printf("io faults: %s: %zu steps, %lld cases\n", cmd.name.c_str(), steps.size(),
                static_cast<long long>(cases));
    total += cases;
  }
  std::printf("io faults: %lld cases (command, step, fault)\n", static_cast<long long>(total));
}

}  // namespace
}  // namespace cryptolake::lake
