// `up`'s periodic batch refresh failing, seen from outside (serve/refresh_health.h): a real
// server on 127.0.0.1 over a real lake holding BTCUSDT's real 1m klines of ../shared/data. The
// refresh runs as `up` runs it (batch::RefreshViews, its outcome recorded in a RefreshHealth at
// the lake clock's time); it fails once a master-dataset file is damaged and recovers when the
// file is back. /healthz, /metrics and the log are asserted exactly.
#include "serve/refresh_health.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "batch/sample_lake.h"
#include "batch/views.h"
#include "exchange/http.h"
#include "lake/klines.h"
#include "serve/api.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "testing/testing.h"

namespace cryptolake::serve {
namespace {

namespace fs = std::filesystem;
using exchange::HttpClient;
using exchange::HttpResponse;
using testing::DayMs;
using testing::Klines;
using testing::OneMinuteCsvSql;
using testing::SampleLake;

std::string ReadBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// How many times `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The whole lines of a /metrics body about the batch refresh (the two families' HELP, TYPE
// and value lines).
std::vector<std::string> RefreshMetrics(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.find("cryptolake_batch_refresh_") != std::string::npos) out.push_back(line);
  }
  return out;
}

class RefreshHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 2025-05-20 and 2025-05-21 of BTCUSDT: two master files of one symbol-year.
    lk_.Commit("1m", OneMinuteCsvSql(Klines(testing::kBtc1m2025), "BTCUSDT",
                                     fmt::format("open_time < {}", DayMs("2025-05-21"))));
    merged_ = std::make_unique<Merged>(lk_.lake(), nullptr, MergedOptions{.symbols = {"BTCUSDT"}});
    ApiOptions ao;
    ao.refresh = &health_;
    api_ = std::make_unique<Api>(*merged_, lk_.clock(), metrics_, ao);
    ServerOptions so;
    so.metrics = &metrics_;
    auto srv = HttpServer::Start(so, api_->MakeRouter());
    ASSERT_TRUE(srv.ok()) << srv.status().ToString();
    server_ = std::move(*srv);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  HttpResponse Get(const std::string& target) {
    HttpClient client;
    auto r = client.Get(server_->url() + target);
    if (!r.ok()) {
      ADD_FAILURE() << target << ": " << r.status().ToString();
      return {};
    }
    return std::move(*r);
  }

  // One refresh as `up`'s refresh thread runs it.
  Status Refresh() {
    auto rs = batch::RefreshViews(lk_.lake(), lk_.con(), {});
    health_.Record(rs.status(), lk_.clock().Now());
    return rs.status();
  }

  SampleLake lk_;
  Metrics metrics_;
  RefreshHealth health_{metrics_};
  std::unique_ptr<Merged> merged_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
};

std::vector<std::string> ExpectedMetrics(const std::string& failures,
                                         const std::string& last_success) {
  return {"# HELP cryptolake_batch_refresh_failures_total Batch view refreshes that failed",
          "# TYPE cryptolake_batch_refresh_failures_total counter",
          "cryptolake_batch_refresh_failures_total " + failures,
          "# HELP cryptolake_batch_refresh_last_success_seconds Unix time of the last successful "
          "batch view refresh (0: none yet)",
          "# TYPE cryptolake_batch_refresh_last_success_seconds gauge",
          "cryptolake_batch_refresh_last_success_seconds " + last_success};
}

TEST_F(RefreshHealthTest, AFailingRefreshShowsInHealthzMetricsAndTheLogUntilOneSucceeds) {
  // Before any refresh: healthy, no failure, no success yet.
  HttpResponse h = Get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{\"status\":\"ok\"}");
  EXPECT_EQ(RefreshMetrics(Get("/metrics").body), ExpectedMetrics("0", "0"));

  // 1. A refresh succeeds at 2025-09-01 00:00:01 UTC (1756684801: SampleLake's commit moved
  // its clock one second).
  ASSERT_TRUE(Refresh().ok());
  EXPECT_EQ(Get("/healthz").body, "{\"status\":\"ok\"}");
  EXPECT_EQ(RefreshMetrics(Get("/metrics").body), ExpectedMetrics("0", "1756684801"));

  // 2. A new day arrives (its symbol-year is recomputed, reading every master file of it) and
  // the first day's file is damaged: the refresh fails, twice.
  lk_.Commit("1m", OneMinuteCsvSql(Klines(testing::kBtc1m2025), "BTCUSDT",
                                   fmt::format("open_time >= {} AND open_time < {}",
                                               DayMs("2025-05-21"), DayMs("2025-05-22"))));
  const lake::Snapshot snap = lk_.Snap();
  auto files = snap.Files(lake::KlinesDataset({"1m", kMicrosPerMinute}), "BTCUSDT");
  ASSERT_EQ(files.size(), 2u);
  const fs::path damaged = snap.Abs(*files[0]);
  const std::string original = ReadBytes(damaged);
  testing::WriteText(damaged, "not a parquet file");
  lk_.clock().Advance(60 * kMicrosPerSecond);
  Status failed;
  {
    testing::LogCapture log;
    failed = Refresh();
    ASSERT_FALSE(failed.ok());
    lk_.clock().Advance(60 * kMicrosPerSecond);
    ASSERT_EQ(Refresh().ToString(), failed.ToString());
    // Two log records, each the whole error (it spans lines: DuckDB's context and the SQL).
    const std::string text = log.text();
    const std::string record =
        "[capture] [error] batch refresh failed (will retry): " + failed.ToString() + "\n";
    EXPECT_EQ(Count(text, "[capture] "), 2u) << text;
    EXPECT_EQ(Count(text, record), 2u) << text;
  }
  // The error names the damaged file.
  EXPECT_NE(failed.message().find(damaged.string()), std::string::npos) << failed.ToString();
  h = Get("/healthz");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.Header("content-type"), "application/json");
  std::string error_json;
  AppendJsonString(error_json, failed.ToString());
  EXPECT_EQ(h.body, "{\"status\":\"unhealthy\",\"batch_refresh\":{\"error\":" + error_json +
                        ",\"failures\":2,\"last_success\":\"2025-09-01T00:00:01Z\"}}");
  EXPECT_EQ(RefreshMetrics(Get("/metrics").body), ExpectedMetrics("2", "1756684801"));

  // 3. The file is back: the next refresh succeeds, healthy again; the failures stay counted.
  testing::WriteText(damaged, original);
  lk_.clock().Advance(60 * kMicrosPerSecond);
  ASSERT_TRUE(Refresh().ok());
  h = Get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{\"status\":\"ok\"}");
  EXPECT_EQ(RefreshMetrics(Get("/metrics").body), ExpectedMetrics("2", "1756684982"));
}

// A refresh that never got going (e.g. DuckDB could not be opened) is unhealthy from the start:
// no success to name.
TEST_F(RefreshHealthTest, AFailureBeforeAnySuccessHasNoLastSuccess) {
  health_.Record(Internal("batch refresh: opening DuckDB: out of memory"), lk_.clock().Now());
  HttpResponse h = Get("/healthz");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.body,
            "{\"status\":\"unhealthy\",\"batch_refresh\":{\"error\":\"Internal: batch refresh: "
            "opening DuckDB: out of memory\",\"failures\":1,\"last_success\":null}}");
  EXPECT_EQ(RefreshMetrics(Get("/metrics").body), ExpectedMetrics("1", "0"));
}

}  // namespace
}  // namespace cryptolake::serve
