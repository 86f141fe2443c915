// The outputs of `cryptolake forecast`: the files, their columns, the report's self-containment,
// the API's JSON, and the CLI end to end on the real BTCUSDT daily klines.
#include "forecast/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fsutil.h"
#include "core/time.h"
#include "lake/duck.h"
#include "lake/lake.h"
#include "testing/testing.h"

namespace cryptolake::forecast {
namespace {

using cryptolake::testing::RunCli;
using cryptolake::testing::SharedData;
using cryptolake::testing::TempDir;
using nlohmann::json;

Micros Day(const std::string& d) { return *ParseTime(d); }

std::vector<Micros> Days(const std::string& first, size_t n) {
  std::vector<Micros> out;
  for (size_t i = 0; i < n; ++i) out.push_back(Day(first) + static_cast<Micros>(i) * kMicrosPerDay);
  return out;
}

std::string Slurp(const fs::path& p) {
  auto s = ReadFile(p);
  EXPECT_TRUE(s.ok()) << p;
  return s.ok() ? *s : "";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

void ExpectSelfContained(const std::string& html) {
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_NE(html.find("<canvas id=\"chart\">"), std::string::npos);
  EXPECT_NE(html.find("const DATA = {"), std::string::npos);
  EXPECT_EQ(html.rfind("</html>\n"), html.size() - 8);
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = lake::Database::Open();
    ASSERT_TRUE(db.ok());
    db_ = std::make_unique<lake::Database>(std::move(*db));
    auto con = lake::Connection::Open(*db_);
    ASSERT_TRUE(con.ok());
    con_ = std::make_unique<lake::Connection>(std::move(*con));
  }
  lake::Result Query(const std::string& sql) {
    auto r = con_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : lake::Result();
  }
  // y = 1..20 on 2025-01-01..01-20; initial/period/horizon 5: cutoffs 01-10 and 01-15.
  Evaluation LineEvaluation() {
    Frame f;
    f.ds = Days("2025-01-01", 20);
    for (int i = 1; i <= 20; ++i) f.y.push_back(i);
    CvOptions o;
    o.initial_days = o.period_days = o.horizon_days = 5;
    auto ev = CrossValidate("LINEUSDT", f, NamedModel{"naive", {}}, o);
    EXPECT_TRUE(ev.ok()) << ev.status().ToString();
    return *ev;
  }
  TempDir dir_;
  std::unique_ptr<lake::Database> db_;
  std::unique_ptr<lake::Connection> con_;
};

TEST_F(ReportTest, EvaluationFilesHaveTheExpectedColumns) {
  Evaluation ev = LineEvaluation();
  auto files = WriteEvaluation(ev, dir_ / "out", *con_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  for (const char* name : {"metrics.json", "metrics.csv", "actual_vs_predicted.csv",
                           "forecasts.parquet", "report.html"}) {
    EXPECT_TRUE(fs::exists(dir_ / "out" / name)) << name;
  }

  // metrics.csv: 3 baselines x (5 horizons + all).
  auto metrics = Lines(Slurp(files->metrics_csv));
  ASSERT_EQ(metrics.size(), 1u + 3 * 6);
  EXPECT_EQ(metrics[0],
            "model,baseline,horizon_days,n,mse,rmse,mae,mape,mdape,smape,coverage,"
            "mase,rel_mae");
  // naive at horizon 1: errors -1 at both cutoffs: mse = rmse = mae = 1.
  EXPECT_EQ(metrics[1].substr(0, 22), "naive,true,1,2,1,1,1,0") << metrics[1];
  EXPECT_EQ(metrics[6].substr(0, 21), "naive,true,all,10,11,") << metrics[6];  // mse 110 / 10
  EXPECT_EQ(metrics[1].substr(metrics[1].size() - 4), ",1,1");                 // mase 1, rel_mae 1

  // actual_vs_predicted.csv: one row per model, cutoff and day.
  auto avp = Lines(Slurp(files->actual_vs_predicted_csv));
  ASSERT_EQ(avp.size(), 1u + 3 * 10);
  EXPECT_EQ(avp[0], "model,cutoff,ds,horizon_days,y,yhat,yhat_lower,yhat_upper");
  EXPECT_EQ(avp[1].substr(0, 38), "naive,2025-01-10,2025-01-11,1,11,10,8.") << avp[1];
  EXPECT_EQ(avp[30], "drift,2025-01-15,2025-01-20,5,20,20,20,20");  // the line, exactly

  // forecasts.parquet: the same rows, typed.
  std::string pq = lake::SqlQuote(files->forecasts_parquet.string());
  auto desc = Query("DESCRIBE SELECT * FROM read_parquet(" + pq + ")");
  std::string cols;
  for (size_t i = 0; i < desc.rows(); ++i) {
    cols += (i ? ", " : "") + desc.GetString(0, i) + " " + desc.GetString(1, i);
  }
  EXPECT_EQ(cols, kForecastParquetColumns);
  EXPECT_EQ(cols,
            "symbol VARCHAR, model VARCHAR, cutoff DATE, ds DATE, horizon_days INTEGER, y DOUBLE, "
            "yhat DOUBLE, yhat_lower DOUBLE, yhat_upper DOUBLE");
  auto n =
      Query("SELECT count(*), count(DISTINCT model), min(symbol) FROM read_parquet(" + pq + ")");
  EXPECT_EQ(n.GetInt64(0, 0), 30);
  EXPECT_EQ(n.GetInt64(1, 0), 3);
  EXPECT_EQ(n.GetString(2, 0), "LINEUSDT");
  auto row = Query("SELECT y, yhat, horizon_days, CAST(cutoff AS VARCHAR) FROM read_parquet(" + pq +
                   ") WHERE model = 'seasonal_naive' AND ds = DATE '2025-01-13'");
  ASSERT_EQ(row.rows(), 1u);
  EXPECT_EQ(row.GetDouble(0, 0), 13.0);
  EXPECT_EQ(row.GetDouble(1, 0), 6.0);  // 2025-01-06, a week before, from the 01-10 cutoff
  EXPECT_EQ(row.GetInt64(2, 0), 3);
  EXPECT_EQ(row.GetString(3, 0), "2025-01-10");

  // metrics.json
  json j = json::parse(Slurp(files->metrics_json));
  EXPECT_EQ(j["symbol"], "LINEUSDT");
  EXPECT_EQ(j["protocol"], "rolling");
  EXPECT_EQ(j["leaky"], false);
  EXPECT_EQ(j["cutoffs"], json::parse(R"(["2025-01-10", "2025-01-15"])"));
  EXPECT_EQ(j["horizon_days"], 5);
  EXPECT_TRUE(j["train_days"].is_null());
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_EQ(j["models"][2]["name"], "drift");
  EXPECT_EQ(j["models"][0]["metrics"][0]["horizon_days"], 1);
  EXPECT_EQ(j["models"][0]["metrics"][0]["mae"], 1.0);
  EXPECT_TRUE(j["models"][0]["metrics"][5]["horizon_days"].is_null());  // all horizons

  // report.html: self-contained, the data and the metrics table with the baselines.
  std::string html = Slurp(files->report_html);
  ExpectSelfContained(html);
  EXPECT_NE(html.find("<title>LINEUSDT: rolling-origin cross-validation</title>"),
            std::string::npos);
  EXPECT_NE(html.find("\"history\":{\"d\":[20089,20090,"), std::string::npos);  // 2025-01-01
  EXPECT_NE(html.find("\"cutoffs\":[20098,20103]"), std::string::npos);
  EXPECT_NE(html.find("<th>MAE / naive</th>"), std::string::npos);
  for (const char* m : {"naive (baseline)", "seasonal_naive (baseline)", "drift (baseline)"}) {
    EXPECT_NE(html.find(std::string("<td>") + m + "</td>"), std::string::npos) << m;
  }
  EXPECT_EQ(html.find("Leaky run"), std::string::npos);
}

TEST_F(ReportTest, LeakyRunsAreLabelled) {
  Frame f;
  f.ds = Days("2025-01-01", 50);
  for (int i = 0; i < 50; ++i) {
    f.y.push_back(100 + i % 5);
    f.regressors["ma7"].push_back(100);
  }
  SeedOptions o;
  o.regressors = {*DailyFilledLineage("ma7")};
  o.allow_leakage = true;
  auto ev = SeedProtocol("LEAKUSDT", f, NamedModel{"naive", {}}, o);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  auto files = WriteEvaluation(*ev, dir_.path(), *con_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  json j = json::parse(Slurp(files->metrics_json));
  EXPECT_EQ(j["leaky"], true);
  EXPECT_EQ(j["leakage"], json::parse(R"(["regressor ma7 at 2025-02-10 uses close of 2025-02-10, )"
                                      R"(the day being forecast: leakage"])"));
  EXPECT_EQ(j["train_days"], 40);
  EXPECT_EQ(j["test_days"], 10);
  std::string html = Slurp(files->report_html);
  ExpectSelfContained(html);
  EXPECT_NE(html.find("<div class=\"warn\">Leaky run (--allow-leakage): regressor ma7 at "
                      "2025-02-10 uses close of 2025-02-10, the day being forecast: leakage."),
            std::string::npos);
  EXPECT_NE(html.find("<td>naive_1step (baseline)</td>"), std::string::npos);
}

Forecast TinyForecast() {
  Forecast fc;
  fc.symbol = "BTCUSDT";
  fc.history.ds = Days("2025-01-01", 10);
  fc.history.y = {10, 12, 11, 13, 15, 14, 16, 18, 17, 20};
  Prediction p;
  p.ds = Days("2025-01-11", 2);
  p.yhat = {20.5, 21.25};
  p.yhat_lower = {19, 19.5};
  p.yhat_upper = {22, 23};
  fc.models.push_back({"prophet", false, p});
  auto naive = BaselineForecast(Baseline::kNaive, fc.history, p.ds);
  EXPECT_TRUE(naive.ok());
  fc.models.push_back({"naive", true, *naive});
  return fc;
}

TEST_F(ReportTest, ApiForecastJsonIsWhatTheServingLayerReads) {
  EXPECT_EQ(ApiForecastJson(TinyForecast()),
            R"({"history_end":"2025-01-10","interval_width":0.8,"model":"prophet","rows":[)"
            R"({"ds":"2025-01-11","yhat":20.5,"yhat_lower":19.0,"yhat_upper":22.0},)"
            R"({"ds":"2025-01-12","yhat":21.25,"yhat_lower":19.5,"yhat_upper":23.0}],)"
            R"("symbol":"BTCUSDT"})"
            "\n");
}

TEST_F(ReportTest, ForecastFilesAreWrittenAndGcLeavesThem) {
  FakeClock clock(Day("2026-01-01"));
  auto lk = lake::Lake::Open(dir_.path(), clock, lake::Lake::Options{0});
  ASSERT_TRUE(lk.ok()) << lk.status().ToString();
  auto files = WriteForecast(TinyForecast(), dir_ / "forecasts", *con_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->json, dir_ / "forecasts" / "BTCUSDT.json");
  EXPECT_EQ(Slurp(files->json), ApiForecastJson(TinyForecast()));
  std::string pq = lake::SqlQuote(files->parquet.string());
  auto r = Query(
      "SELECT model, count(*), min(CAST(cutoff AS VARCHAR)), count(y) FROM "
      "read_parquet(" +
      pq + ") GROUP BY model ORDER BY model");
  ASSERT_EQ(r.rows(), 2u);
  EXPECT_EQ(r.GetString(0, 0), "naive");
  EXPECT_EQ(r.GetInt64(1, 0), 2);
  EXPECT_EQ(r.GetString(2, 0), "2025-01-10");
  EXPECT_EQ(r.GetInt64(3, 0), 0);  // no actuals beyond the data
  std::string html = Slurp(files->html);
  ExpectSelfContained(html);
  EXPECT_NE(html.find("<title>BTCUSDT: forecast</title>"), std::string::npos);
  // The lake's garbage collector removes Parquet files no manifest names, but not these.
  ASSERT_TRUE(lk->CollectGarbage().ok());
  EXPECT_TRUE(fs::exists(files->parquet));
}

// ---------------------------------------------------------------------------------------------
// The CLI on the real BTCUSDT daily klines (2017-08-17..2026-04-29, 3178 days).

class ForecastCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir();
    auto imp = RunCli({"--data", Data(), "import",
                       (SharedData() / "binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv")});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    auto bat = RunCli({"--data", Data(), "batch"});
    ASSERT_EQ(bat.exit_code, 0) << bat.err;
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static std::string Data() { return (data_->path() / "lake").string(); }
  static TempDir* data_;
  TempDir out_;
};
TempDir* ForecastCliTest::data_ = nullptr;

TEST_F(ForecastCliTest, HelpExplainsEachFlag) {
  auto cv = RunCli({"forecast", "cv", "--help"});
  EXPECT_EQ(cv.exit_code, 0);
  for (const char* f : {"--symbol", "--model", "--protocol", "--initial", "--period", "--horizon",
                        "--regressor", "--allow-leakage", "--threads", "--out", "--interval-width",
                        "--seed", "rolling-origin", "always evaluated beside the model"}) {
    EXPECT_NE(cv.out.find(f), std::string::npos) << f;
  }
  auto pr = RunCli({"forecast", "predict", "--help"});
  EXPECT_EQ(pr.exit_code, 0);
  for (const char* f : {"--periods", "--model", "<data>/forecasts/<SYMBOL>.json", "1440"}) {
    EXPECT_NE(pr.out.find(f), std::string::npos) << f;
  }
  auto top = RunCli({"--help"});
  EXPECT_NE(top.out.find("forecast"), std::string::npos);
}

TEST_F(ForecastCliTest, SeedProtocolIsRefusedAsLeakage) {
  auto r = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--protocol", "seed",
                   "--out", out_.path().string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "error: regressor ma7 at 2024-08-02 uses close of 2024-08-02, the day being forecast: "
            "leakage; regressor ma30 at 2024-08-02 uses close of 2024-08-02, the day being "
            "forecast: leakage; pass --allow-leakage to compute the prototype's inflated metrics "
            "anyway\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(out_ / "metrics.json"));
}

TEST_F(ForecastCliTest, SeedProtocolWithAllowLeakageIsLabelledLeaky) {
  auto r = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--protocol", "seed",
                   "--allow-leakage", "--model", "naive", "--out", out_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0].substr(0, lines[0].rfind("; ") + 2),
            "cv BTCUSDT (seed protocol, LEAKY): train 2542 days 2017-08-17..2024-08-01, test 636 "
            "days 2024-08-02..2026-04-29; regressors: ma7, ma30; ");
  EXPECT_EQ(lines[1],
            "leakage: regressor ma7 at 2024-08-02 uses close of 2024-08-02, the day being "
            "forecast: leakage");
  json j = json::parse(Slurp(out_ / "metrics.json"));
  EXPECT_EQ(j["leaky"], true);
  EXPECT_EQ(j["protocol"], "seed");
  EXPECT_EQ(j["regressors"], json::parse(R"(["ma7", "ma30"])"));
  EXPECT_NE(Slurp(out_ / "report.html").find("Leaky run"), std::string::npos);
}

TEST_F(ForecastCliTest, CrossValidationWritesEveryOutput) {
  auto r = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--model", "naive",
                   "--threads", "2", "--out", out_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u + 4 * 3 + 1);  // title, header, 4 horizons x 3 models, files
  EXPECT_EQ(lines[0].substr(0, lines[0].rfind(", ") + 2),
            "cv BTCUSDT (rolling origin): 81 cutoffs 2019-09-03..2026-03-30 every 30d, horizon "
            "30d, initial 730d; regressors: none; 2 threads, ");
  EXPECT_EQ(lines[2].substr(0, 16), "1d       naive *");
  EXPECT_EQ(lines[5].substr(0, 9), "7d       ");
  EXPECT_EQ(lines[8].substr(0, 9), "30d      ");
  EXPECT_EQ(lines[11].substr(0, 9), "all      ");
  EXPECT_EQ(lines[14], "wrote " + out_.path().string() +
                           ": metrics.json, metrics.csv, actual_vs_predicted.csv, "
                           "forecasts.parquet, report.html");
  // Progress: cutoffs done / total, every 10%, on stderr.
  auto progress = Lines(r.err);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), "cv BTCUSDT: 81/81 cutoffs");
  auto csv = Lines(Slurp(out_ / "actual_vs_predicted.csv"));
  EXPECT_EQ(csv.size(), 1u + 3 * 81 * 30);
  ExpectSelfContained(Slurp(out_ / "report.html"));
}

TEST_F(ForecastCliTest, PredictWritesWhatTheApiServes) {
  auto r = RunCli({"--data", Data(), "forecast", "predict", "--symbol", "BTCUSDT", "--model",
                   "drift", "--periods", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0],
            "predict BTCUSDT: drift on 3178 days 2017-08-17..2026-04-29, 5 days ahead "
            "2026-04-30..2026-05-04");
  fs::path dir = fs::path(Data()) / "forecasts";
  json j = json::parse(Slurp(dir / "BTCUSDT.json"));
  EXPECT_EQ(j["symbol"], "BTCUSDT");
  EXPECT_EQ(j["model"], "drift");
  ASSERT_EQ(j["rows"].size(), 5u);
  EXPECT_EQ(j["rows"][0]["ds"], "2026-04-30");
  EXPECT_EQ(j["rows"][4]["ds"], "2026-05-04");
  // Drift from the first close (4285.08, 2017-08-17) to the last (75780, 2026-04-29).
  const double slope = (75780.0 - 4285.08) / 3177;
  EXPECT_NEAR(j["rows"][0]["yhat"].get<double>(), 75780.0 + slope, 1e-9);
  EXPECT_NEAR(j["rows"][4]["yhat"].get<double>(), 75780.0 + 5 * slope, 1e-9);
  EXPECT_LT(j["rows"][0]["yhat_lower"].get<double>(), j["rows"][0]["yhat"].get<double>());
  EXPECT_TRUE(fs::exists(dir / "BTCUSDT.parquet"));
  ExpectSelfContained(Slurp(dir / "BTCUSDT.html"));
}

// The default (--model auto): the suite's nested CV, its leaderboard and today's selection.
// A late --initial keeps the run short (7 outer cutoffs, 24 more for the inner CV), and the
// suite is the quick models (Prophet's fits take minutes in the sanitized build).
TEST_F(ForecastCliTest, CrossValidationSelectsByNestedCvByDefault) {
  auto r = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--initial", "2760d",
                   "--period", "60d", "--threads", "2", "--models", "naive,drift", "--models",
                   "ensemble", "--out", out_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 8u);
  EXPECT_EQ(lines[0].substr(0, lines[0].find(";")),
            "cv BTCUSDT (suite, nested CV): 7 cutoffs 2025-04-04..2026-03-30 every 60d, horizon "
            "30d, initial 2760d");
  EXPECT_EQ(lines[1].rfind("model ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(" mape 1d "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" coverage 30d"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("naive ", 0), 0u) << lines[2];
  size_t proc = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("selected (nested CV)", 0) == 0) proc = i;
  }
  ASSERT_GT(proc, 2u);
  ASSERT_GT(lines.size(), proc + 3);
  EXPECT_EQ(lines[proc + 1].rfind("selected today, 1d: ", 0), 0u) << lines[proc + 1];
  EXPECT_EQ(lines[proc + 2].rfind("selected today, 7d: ", 0), 0u) << lines[proc + 2];
  EXPECT_EQ(lines[proc + 3].rfind("selected today, 30d: ", 0), 0u) << lines[proc + 3];
  EXPECT_EQ(lines.back(), "wrote " + out_.path().string() +
                              ": metrics.json, metrics.csv, actual_vs_predicted.csv, "
                              "forecasts.parquet, report.html");
  EXPECT_EQ(Lines(r.err).back(), "cv BTCUSDT suite: 31/31 cutoffs");
  json j = json::parse(Slurp(out_ / "metrics.json"));
  EXPECT_EQ(j["primary"], "selected (nested CV)");
  EXPECT_EQ(j["selection"].size(), 3u);
  EXPECT_EQ(j["models"][0]["name"], "naive");
  EXPECT_EQ(j["models"].back()["name"], "selected (nested CV)");
  // Naive at 1 day: the 7 outer cutoffs c = day 3147 - 60 k (k = 0..6).
  const json& naive1 = j["models"][0]["metrics"][0];
  EXPECT_EQ(naive1["horizon_days"], 1);
  EXPECT_EQ(naive1["n"], 7);
  std::string html = Slurp(out_ / "report.html");
  ExpectSelfContained(html);
  EXPECT_NE(html.find("<h2>Selected today</h2>"), std::string::npos);
}

// predict --model auto writes the file the API serves and the dashboard reads (json.md).
TEST_F(ForecastCliTest, PredictWritesTheSelectedForecastWithItsConformalBand) {
  auto r = RunCli({"--data", Data(), "forecast", "predict", "--symbol", "BTCUSDT", "--initial",
                   "2760d", "--period", "60d", "--threads", "2", "--periods", "31", "--models",
                   "naive,drift,ensemble"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0],
            "predict BTCUSDT: selected by nested CV on 3178 days 2017-08-17..2026-04-29, 31 days "
            "ahead 2026-04-30..2026-05-30");
  fs::path dir = fs::path(Data()) / "forecasts";
  json j = json::parse(Slurp(dir / "BTCUSDT.json"));
  EXPECT_EQ(j["symbol"], "BTCUSDT");
  EXPECT_EQ(j["history_end"], "2026-04-29");
  EXPECT_EQ(j["last_close"], 75780.0);
  EXPECT_EQ(j["interval_width"], 0.8);
  EXPECT_EQ(j["interval"], "conformal");
  ASSERT_EQ(j["rows"].size(), 31u);
  EXPECT_EQ(j["rows"][0]["ds"], "2026-04-30");
  EXPECT_EQ(j["rows"][0]["horizon_days"], 1);
  EXPECT_EQ(j["rows"][30]["horizon_days"], 31);
  EXPECT_EQ(j["model"], j["rows"][0]["model"]);
  EXPECT_EQ(j["selection"]["by_horizon"][0]["model"], j["model"]);
  EXPECT_EQ(j["selection"]["margin"], 0.02);
  EXPECT_EQ(j["selection"]["by_horizon"].size(), 3u);
  EXPECT_FALSE(j["selection"]["why"].get<std::string>().empty());
  EXPECT_EQ(j["cv"], json::parse(R"({"initial_days": 2760, "period_days": 60,
                                     "horizon_days": 30, "cutoffs": 7})"));
  // The leaderboard: every model, then the procedure; horizons 1, 7, 30 with 7 points each.
  ASSERT_GE(j["leaderboard"].size(), 3u);
  EXPECT_EQ(j["leaderboard"].back()["model"], "selected (nested CV)");
  EXPECT_EQ(j["leaderboard"][0]["horizons"].size(), 3u);
  EXPECT_EQ(j["leaderboard"][0]["horizons"][2]["horizon_days"], 30);
  EXPECT_EQ(j["leaderboard"][0]["horizons"][2]["n"], 7);
  // Every suite model's own forecast, and each row the selected model's point inside its band.
  ASSERT_EQ(j["models"].size() + 1, j["leaderboard"].size());
  for (size_t i = 0; i < 31; ++i) {
    const json& row = j["rows"][i];
    const json* own = nullptr;
    for (const json& m : j["models"]) {
      if (m["name"] == row["model"]) own = &m;
    }
    ASSERT_NE(own, nullptr) << row.dump();
    EXPECT_EQ((*own)["rows"][i]["yhat"], row["yhat"]);
    EXPECT_LT(row["yhat_lower"].get<double>(), row["yhat"].get<double>());
    EXPECT_GT(row["yhat_upper"].get<double>(), row["yhat"].get<double>());
  }
  // The naive model's point is the last close.
  EXPECT_NEAR(j["models"][0]["rows"][0]["yhat"].get<double>(), 75780.0, 1e-9);
  std::string html = Slurp(dir / "BTCUSDT.html");
  ExpectSelfContained(html);
  EXPECT_NE(html.find("<table class=\"leaderboard\">"), std::string::npos);
  EXPECT_NE(html.find("<h2>Selected model</h2>"), std::string::npos);
}

TEST_F(ForecastCliTest, BadInputIsNamed) {
  auto unknown = RunCli({"--data", Data(), "forecast", "predict", "--symbol", "FOOUSDT"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_EQ(unknown.err,
            "error: no prophet_input for FOOUSDT: run cryptolake batch (symbols: "
            "BTCUSDT)\n");
  auto proto = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--model",
                       "naive", "--protocol", "holdout", "--out", out_.path().string()});
  EXPECT_EQ(proto.exit_code, 3);
  EXPECT_EQ(proto.err, "error: --protocol must be rolling or seed, not 'holdout'\n");
  auto days = RunCli({"--data", Data(), "forecast", "cv", "--symbol", "BTCUSDT", "--model", "naive",
                      "--horizon", "30h", "--out", out_.path().string()});
  EXPECT_EQ(days.exit_code, 3);
  EXPECT_EQ(days.err, "error: cannot parse '30h' as a number of days (e.g. 730d, 30d)\n");
  auto model =
      RunCli({"--data", Data(), "forecast", "fit", "--symbol", "BTCUSDT", "--model", "lstm"});
  EXPECT_EQ(model.exit_code, 3);
  EXPECT_EQ(model.err.rfind("error: unknown model 'lstm' (auto, prophet, seasonal_naive, naive, "
                            "drift, ",
                            0),
            0u)
      << model.err;
  auto missing = RunCli({"--data", Data(), "forecast", "cv"});
  EXPECT_EQ(missing.exit_code, 64);
}

}  // namespace
}  // namespace cryptolake::forecast
