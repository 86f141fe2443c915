// The HTTP API (api.h) over real sockets on 127.0.0.1, on a real lake: BTCUSDT's recorded 1m
// klines of 2025-06-01..03 streamed through a RealtimeView, appended to the master dataset and
// taken by the batch views (watermark 2025-06-04), then 2025-06-04 00:00 .. 2025-06-05 12:00 in
// the real-time view (speed days), the 12:00 candle still open. ETHUSDT is configured and has no
// data yet. Requests go through libcurl (exchange::HttpClient), streams through a raw socket.
//
// Every malformed case of api.h's table is asserted per endpoint with its exact status and its
// whole JSON body; expected prices come from the sample CSV files, parsed here.
#include "serve/api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "batch/views.h"
#include "exchange/http.h"
#include "ingest/parser.h"
#include "lake/klines.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "testing/raw_conn.h"
#include "testing/recorded.h"
#include "testing/testing.h"

namespace cryptolake::serve {
namespace {

namespace fs = std::filesystem;
using exchange::HttpClient;
using exchange::HttpOptions;
using exchange::HttpResponse;
using nlohmann::json;
using speed::Event;
using speed::KlineEvent;
using testing::RawConn;
using testing::SharedData;
using testing::TempDir;

Micros At(const std::string& t) { return ParseTime(t).value(); }

fs::path Find(const std::string& sub, const std::string& prefix) {
  return testing::FindKlineFile(sub, prefix);
}

const char k1mPrefix[] = "BTCUSDT-1m-20250520_";

// ---------------------------------------------------------------------------------------------
// Expected values, read from the sample files by this test's own parsing (not the ingest
// parser): rows by open_time (micros), fields as text.

using CsvRows = std::map<Micros, std::vector<std::string>>;

// Rows of a kline CSV (1m: header + 6 fields; 1d/1h: 12 fields, no header), ms open_time in
// [from, to).
CsvRows ReadCsv(const fs::path& file, Micros from, Micros to) {
  std::ifstream in(file);
  EXPECT_TRUE(in) << file;
  CsvRows out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    const Micros t = std::stoll(f[0]) * 1000;
    if (t >= from && t < to) out.emplace(t, std::move(f));
  }
  return out;
}

const std::vector<std::string>& Row(const CsvRows& rows, Micros t) {
  static const std::vector<std::string> kNone(12, "0");
  auto it = rows.find(t);
  if (it == rows.end()) {
    ADD_FAILURE() << "no sample row at " << FormatIso(t);
    return kNone;
  }
  return it->second;
}

double D(const std::string& text) { return std::stod(text); }

// A number as JSON carries it: the shortest text that reads back exactly ("104300.0" -> "104300").
std::string Shortest(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
std::string Shortest(const std::string& text) { return Shortest(D(text)); }

// One row of /api/v1/klines' "rows" from a sample 1m row.
std::string KlineRowJson(const std::vector<std::string>& f, const char* source, bool partial) {
  return "{\"open_time\":\"" + FormatIso(std::stoll(f[0]) * 1000) +
         "\",\"open\":" + Shortest(f[1]) + ",\"high\":" + Shortest(f[2]) +
         ",\"low\":" + Shortest(f[3]) + ",\"close\":" + Shortest(f[4]) +
         ",\"volume\":" + Shortest(f[5]) + ",\"source\":\"" + source +
         "\",\"partial\":" + (partial ? "true" : "false") + "}";
}

// {"error":{"status":N,"parameter":"p","message":"m"}}, `message` already JSON-escaped.
std::string Err(int status, const std::string& parameter, const std::string& message) {
  return "{\"error\":{\"status\":" + std::to_string(status) + ",\"parameter\":\"" + parameter +
         "\",\"message\":\"" + message + "\"}}";
}

// ---------------------------------------------------------------------------------------------
// The lake, the view, the API and the server, built once for the suite.

// Closed 1m kline events of [from, to) from the recording.
std::vector<Event> Recorded(const ingest::KlineBatch& b, Micros from, Micros to) {
  return testing::AsEvents(testing::ClosedKlines(b, from, to));
}

struct World {
  TempDir dir;
  FakeClock clock{At("2025-06-05 12:00:30")};
  std::unique_ptr<lake::Lake> lake;
  std::unique_ptr<speed::RealtimeView> view;
  Metrics metrics;
  StreamGauges gauges;
  std::unique_ptr<Merged> merged;
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> server;
  fs::path forecasts;
  std::string base;  // http://127.0.0.1:<port>

  // Empty on success, else what went wrong.
  std::string Build() {
    auto l = lake::Lake::Open(dir / "lake", clock);
    if (!l.ok()) return l.status().ToString();
    lake = std::make_unique<lake::Lake>(std::move(*l));
    auto v = speed::RealtimeView::Open(*lake, dir / "view.duckdb");
    if (!v.ok()) return v.status().ToString();
    view = std::move(*v);
    auto parsed = ingest::ParseInput(Find("1m", k1mPrefix), {});
    if (!parsed.ok()) return parsed.status().ToString();
    const ingest::KlineBatch& b = (*parsed)[0].batch;

    // Three whole days through the speed layer into the master dataset, then the batch views.
    if (auto s = view->Apply(Recorded(b, At("2025-06-01"), At("2025-06-04"))); !s.ok()) {
      return s.status().ToString();
    }
    auto appended = view->AppendToLake();
    if (!appended.ok() || *appended != 3 * 1440) return "AppendToLake did not append 3 days";
    auto db = lake::Database::Open();
    if (!db.ok()) return db.status().ToString();
    auto con = lake::Connection::Open(*db);
    if (!con.ok()) return con.status().ToString();
    if (auto rs = batch::RefreshViews(*lake, *con); !rs.ok()) return rs.status().ToString();
    if (auto s = view->RefreshWatermark(); !s.ok()) return s.ToString();

    // The stream goes on: 06-04 whole, 06-05 until 11:59 closed, 12:00 open.
    if (auto s = view->Apply(Recorded(b, At("2025-06-04"), At("2025-06-05 12:00"))); !s.ok()) {
      return s.status().ToString();
    }
    KlineEvent open =
        std::get<KlineEvent>(Recorded(b, At("2025-06-05 12:00"), At("2025-06-05 12:01")).at(0));
    open.closed = false;
    if (auto s = view->Apply({Event(open)}); !s.ok()) return s.status().ToString();

    gauges.running = true;
    gauges.events = 42;
    gauges.reconnects = 1;
    forecasts = dir / "forecasts";
    fs::create_directories(forecasts);
    merged = std::make_unique<Merged>(*lake, view.get(),
                                      MergedOptions{.symbols = {"BTCUSDT", "ETHUSDT"}});
    ApiOptions opt;
    opt.forecast_dir = forecasts;
    opt.gauges = &gauges;
    api = std::make_unique<Api>(*merged, clock, metrics, opt);
    ServerOptions so;
    so.metrics = &metrics;
    auto srv = HttpServer::Start(so, api->MakeRouter());
    if (!srv.ok()) return srv.status().ToString();
    server = std::move(*srv);
    base = server->url();
    return "";
  }
  ~World() {
    if (server) server->Stop();
  }
};

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    w_ = new World;
    std::string err = w_->Build();
    if (!err.empty()) {
      delete w_;
      w_ = nullptr;
      FAIL() << "building the lake: " << err;
    }
  }
  static void TearDownTestSuite() {
    delete w_;
    w_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(w_, nullptr) << "the suite's lake failed to build"; }

  static HttpResponse Get(const std::string& target, std::vector<std::string> headers = {}) {
    HttpOptions o;
    o.headers = std::move(headers);
    HttpClient client(o);
    auto r = client.Get(w_->base + target);
    if (!r.ok()) {
      ADD_FAILURE() << target << ": " << r.status().ToString();
      return {};
    }
    return std::move(*r);
  }
  // The whole body and status of a refused request, and its JSON content type.
  static void ExpectError(const std::string& target, int status, const std::string& body) {
    HttpResponse r = Get(target);
    EXPECT_EQ(r.status, status) << target;
    EXPECT_EQ(r.body, body) << target;
    EXPECT_EQ(r.Header("content-type"), "application/json") << target;
  }
  // The current value of cryptolake_http_requests_total{route,code} (0 when absent).
  static double RequestsTotal(const std::string& route, int code) {
    const std::string prefix = "cryptolake_http_requests_total{route=\"" + route + "\",code=\"" +
                               std::to_string(code) + "\"} ";
    std::string text = w_->metrics.Render();
    size_t at = text.find(prefix);
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size()));
  }

  static World* w_;
};
World* ApiTest::w_ = nullptr;

const char kKnown[] = "(known: BTCUSDT, ETHUSDT)";
const char kTimeFormats[] =
    "as a date or time (YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM:SSZ, UTC)";

// ---------------------------------------------------------------------------------------------
// /healthz, /api/v1/symbols

TEST_F(ApiTest, HealthzIsOk) {
  HttpResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}");
  EXPECT_EQ(r.Header("content-type"), "application/json");
}

TEST_F(ApiTest, SymbolsListDaysAndWatermarkAsJsonAndCsv) {
  HttpResponse r = Get("/api/v1/symbols");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"symbols\":[{\"symbol\":\"BTCUSDT\",\"first_day\":\"2025-06-01\",\"last_day\":"
            "\"2025-06-05\",\"batch_watermark\":\"2025-06-04\"},{\"symbol\":\"ETHUSDT\","
            "\"first_day\":null,\"last_day\":null,\"batch_watermark\":null}]}");
  const std::string csv =
      "symbol,first_day,last_day,batch_watermark\nBTCUSDT,2025-06-01,2025-06-05,2025-06-04\n"
      "ETHUSDT,,,\n";
  for (const auto& [target, headers] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"/api/v1/symbols?format=csv", {}}, {"/api/v1/symbols", {"Accept: text/csv"}}}) {
    HttpResponse c = Get(target, headers);
    EXPECT_EQ(c.status, 200) << target;
    EXPECT_EQ(c.body, csv) << target;
    EXPECT_EQ(c.Header("content-type"), "text/csv; charset=utf-8") << target;
  }
}

TEST_F(ApiTest, SymbolsRejectsMalformedRequests) {
  ExpectError("/api/v1/symbols?symbol=BTCUSDT", 400,
              Err(400, "symbol", "unknown parameter 'symbol' (allowed: format)"));
  ExpectError("/api/v1/symbols?format=json&format=json", 400,
              Err(400, "format", "parameter 'format' given more than once"));
  ExpectError("/api/v1/symbols?format=xml", 400, Err(400, "format", "format must be json or csv"));
}

// ---------------------------------------------------------------------------------------------
// /api/v1/daily

TEST_F(ApiTest, DailyBatchDayIsBinancesOwnDailyKline) {
  HttpResponse r = Get("/api/v1/daily?symbol=BTCUSDT&from=2025-06-01&to=2025-06-01");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  json j = json::parse(r.body);
  EXPECT_EQ(j["symbol"], "BTCUSDT");
  EXPECT_EQ(j["batch_watermark"], "2025-06-04");
  ASSERT_EQ(j["rows"].size(), 1u);
  const json& d = j["rows"][0];
  EXPECT_EQ(d["day"], "2025-06-01");
  EXPECT_EQ(d["open"].get<double>(), 104591.88);
  EXPECT_EQ(d["high"].get<double>(), 105866.91);
  EXPECT_EQ(d["low"].get<double>(), 103752.49);
  EXPECT_EQ(d["close"].get<double>(), 105642.93);
  EXPECT_NEAR(d["volume"].get<double>(), 9709.70006, 1e-6);
  EXPECT_EQ(d["source"], "batch");
  EXPECT_EQ(d["partial"], false);
  EXPECT_EQ(d["filled"], false);
}

TEST_F(ApiTest, DailySpeedDaysComeFromTheStream) {
  HttpResponse r = Get("/api/v1/daily?symbol=BTCUSDT");
  ASSERT_EQ(r.status, 200) << r.body;
  // The full history went out gzip-compressed (the client accepts it and inflated it), from the
  // copy made with the state, however soon after the state it was asked for.
  EXPECT_EQ(r.Header("content-encoding"), "gzip");
  json j = json::parse(r.body);
  EXPECT_EQ(j["batch_watermark"], "2025-06-04");
  const json& rows = j["rows"];
  ASSERT_EQ(rows.size(), 5u);
  const char* days[] = {"2025-06-01", "2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rows[i]["day"], days[i]);
    EXPECT_EQ(rows[i]["source"], i < 3 ? "batch" : "speed") << days[i];
    EXPECT_EQ(rows[i]["partial"], i == 4) << days[i];
    EXPECT_EQ(rows[i]["filled"], false) << days[i];
  }
  // Every whole day, batch or speed, is Binance's own daily kline.
  const CsvRows binance = ReadCsv(Find("1d", "BTCUSDT-1d-"), At("2025-06-01"), At("2025-06-05"));
  for (size_t i = 0; i < 4; ++i) {
    const auto& want = Row(binance, At(days[i]));
    EXPECT_EQ(rows[i]["open"].get<double>(), D(want[1])) << days[i];
    EXPECT_EQ(rows[i]["high"].get<double>(), D(want[2])) << days[i];
    EXPECT_EQ(rows[i]["low"].get<double>(), D(want[3])) << days[i];
    EXPECT_EQ(rows[i]["close"].get<double>(), D(want[4])) << days[i];
    // The daily rule sums volumes as decimals (model/daily.h), as Binance does: exact.
    EXPECT_EQ(rows[i]["volume"].get<double>(), D(want[5])) << days[i];
  }
  // Today (06-05) so far: 00:00 .. 11:59 closed and the open 12:00 candle.
  const CsvRows m1 = ReadCsv(Find("1m", k1mPrefix), At("2025-06-05"), At("2025-06-05 12:01"));
  ASSERT_EQ(m1.size(), 721u);
  double high = 0, low = 1e18;
  for (const auto& [t, f] : m1) {
    high = std::max(high, D(f[2]));
    low = std::min(low, D(f[3]));
  }
  EXPECT_EQ(rows[4]["open"].get<double>(), D(m1.begin()->second[1]));
  EXPECT_EQ(rows[4]["high"].get<double>(), high);
  EXPECT_EQ(rows[4]["low"].get<double>(), low);
  EXPECT_EQ(rows[4]["close"].get<double>(), D(m1.rbegin()->second[4]));
  // ma7 across the seam: the mean close of the 5 days so far.
  double sum = 0;
  for (const auto& row : rows) sum += row["close"].get<double>();
  EXPECT_NEAR(rows[4]["ma7"].get<double>(), sum / 5, 1e-9);

  // A range of speed days only.
  HttpResponse s = Get("/api/v1/daily?symbol=BTCUSDT&from=2025-06-04&to=2025-06-30");
  ASSERT_EQ(s.status, 200);
  json sj = json::parse(s.body);
  ASSERT_EQ(sj["rows"].size(), 2u);
  EXPECT_EQ(sj["rows"][0], rows[3]);
  EXPECT_EQ(sj["rows"][1], rows[4]);
  // A configured symbol without data yet.
  HttpResponse e = Get("/api/v1/daily?symbol=ETHUSDT");
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(e.body, "{\"symbol\":\"ETHUSDT\",\"batch_watermark\":null,\"rows\":[]}");
}

TEST_F(ApiTest, DailyCsvByFormatOrAcceptHeader) {
  const std::string q = "/api/v1/daily?symbol=BTCUSDT&from=2025-06-01&to=2025-06-04";
  HttpResponse c = Get(q + "&format=csv");
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.Header("content-type"), "text/csv; charset=utf-8");
  std::vector<std::string> lines;
  std::stringstream ss(c.body);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 5u) << c.body;
  EXPECT_EQ(lines[0], "symbol,day,open,high,low,close,volume,ma7,ma30,source,partial,filled");
  EXPECT_EQ(lines[1].rfind("BTCUSDT,2025-06-01,104591.88,105866.91,103752.49,105642.93,", 0), 0u)
      << lines[1];
  EXPECT_TRUE(lines[1].ends_with(",batch,false,false")) << lines[1];
  EXPECT_TRUE(lines[4].rfind("BTCUSDT,2025-06-04,", 0) == 0) << lines[4];
  EXPECT_TRUE(lines[4].ends_with(",speed,false,false")) << lines[4];

  HttpResponse a = Get(q, {"Accept: text/csv"});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.Header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(a.body, c.body);
  // format=json wins over the Accept header.
  HttpResponse j = Get(q + "&format=json", {"Accept: text/csv"});
  EXPECT_EQ(j.Header("content-type"), "application/json");
  EXPECT_EQ(j.body, Get(q).body);
}

// A range open on one side: `to` alone is every day up to its own, `from` alone every day from
// its own on. (`to` alone once made an empty series: the missing from, the smallest time,
// overflowed when floored to its day.)
TEST_F(ApiTest, DailyToAloneOrFromAloneIsOpenOnTheOtherSide) {
  const CsvRows binance = ReadCsv(Find("1d", "BTCUSDT-1d-"), At("2025-06-01"), At("2025-06-05"));
  auto expect_binance_day = [&](const json& row, const char* day, const char* source) {
    SCOPED_TRACE(day);
    const auto& want = Row(binance, At(day));
    EXPECT_EQ(row["day"], day);
    EXPECT_EQ(row["open"].get<double>(), D(want[1]));
    EXPECT_EQ(row["high"].get<double>(), D(want[2]));
    EXPECT_EQ(row["low"].get<double>(), D(want[3]));
    EXPECT_EQ(row["close"].get<double>(), D(want[4]));
    EXPECT_NEAR(row["volume"].get<double>(), D(want[5]), 1e-6);
    EXPECT_EQ(row["source"], source);
    EXPECT_EQ(row["partial"], false);
  };
  // `to` alone: the first day of the series to `to`'s day, whatever the time in it.
  for (const char* to : {"2025-06-02", "2025-06-02T23:59:00Z"}) {
    SCOPED_TRACE(to);
    HttpResponse r = Get(std::string("/api/v1/daily?symbol=BTCUSDT&to=") + to);
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    ASSERT_EQ(j["rows"].size(), 2u) << r.body;
    expect_binance_day(j["rows"][0], "2025-06-01", "batch");
    expect_binance_day(j["rows"][1], "2025-06-02", "batch");
    EXPECT_EQ(j["rows"][0]["open"].get<double>(), 104591.88);
    EXPECT_EQ(j["rows"][1]["close"].get<double>(), D(Row(binance, At("2025-06-02"))[4]));
  }
  HttpResponse csv = Get("/api/v1/daily?symbol=BTCUSDT&to=2025-06-01&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.rfind("symbol,day,open,high,low,close,volume,ma7,ma30,source,partial,filled\n"
                           "BTCUSDT,2025-06-01,104591.88,105866.91,103752.49,105642.93,",
                           0),
            0u)
      << csv.body;
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 2) << csv.body;

  // `from` alone: `from`'s day to the last day of the series (today, partial).
  HttpResponse f = Get("/api/v1/daily?symbol=BTCUSDT&from=2025-06-04T08:00:00Z");
  ASSERT_EQ(f.status, 200) << f.body;
  json fj = json::parse(f.body);
  ASSERT_EQ(fj["rows"].size(), 2u) << f.body;
  expect_binance_day(fj["rows"][0], "2025-06-04", "speed");
  EXPECT_EQ(fj["rows"][1]["day"], "2025-06-05");
  EXPECT_EQ(fj["rows"][1]["partial"], true);
  const json whole = json::parse(Get("/api/v1/daily?symbol=BTCUSDT").body);
  EXPECT_EQ(fj["rows"][1], whole["rows"][4]);

  // Before the first day and after the last: no rows (not an error).
  const std::string empty =
      "{\"symbol\":\"BTCUSDT\",\"batch_watermark\":\"2025-06-04\",\"rows\":[]}";
  EXPECT_EQ(Get("/api/v1/daily?symbol=BTCUSDT&to=2025-05-31").body, empty);
  EXPECT_EQ(Get("/api/v1/daily?symbol=BTCUSDT&from=2025-06-06").body, empty);
}

// Symbols are matched as core/symbol.h normalizes them: lower case is the same series, served
// under its upper-case name.
TEST_F(ApiTest, LowerCaseSymbolIsTheSameSeries) {
  const std::string q = "&from=2025-06-01&to=2025-06-04";
  HttpResponse upper = Get("/api/v1/daily?symbol=BTCUSDT" + q);
  HttpResponse lower = Get("/api/v1/daily?symbol=btcUsdt" + q);
  ASSERT_EQ(upper.status, 200) << upper.body;
  EXPECT_EQ(lower.status, 200) << lower.body;
  EXPECT_EQ(lower.body, upper.body);
  EXPECT_EQ(lower.body.rfind("{\"symbol\":\"BTCUSDT\",", 0), 0u) << lower.body;
}

TEST_F(ApiTest, DailyRejectsMalformedRequests) {
  const std::string p = "/api/v1/daily?";
  ExpectError(p + "symbol=BTCUSDT&limit=5", 400,
              Err(400, "limit", "unknown parameter 'limit' (allowed: symbol, from, to, format)"));
  ExpectError(p + "symbol=BTCUSDT&a%22b=1", 400,
              Err(400, "a\\\"b", "unknown parameter 'a\\\"b' (allowed: symbol, from, to, format)"));
  ExpectError(p + "symbol=BTCUSDT&from=2025-06-01&from=2025-06-02", 400,
              Err(400, "from", "parameter 'from' given more than once"));
  ExpectError(p + "symbol=BTCUSDT&symbol=BTCUSDT", 400,
              Err(400, "symbol", "parameter 'symbol' given more than once"));
  ExpectError(p + "from=2025-06-01", 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=&from=2025-06-01", 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=XYZ", 404,
              Err(404, "symbol", std::string("unknown symbol 'XYZ' ") + kKnown));
  ExpectError(p + "symbol=BTC/USDT", 404,
              Err(404, "symbol", std::string("unknown symbol 'BTC/USDT' ") + kKnown));
  ExpectError(p + "symbol=BTCUSDT&from=yesterday", 400,
              Err(400, "from", std::string("cannot parse 'yesterday' ") + kTimeFormats));
  ExpectError(p + "symbol=BTCUSDT&to=2025-02-30", 400,
              Err(400, "to", std::string("cannot parse '2025-02-30' ") + kTimeFormats));
  ExpectError(p + "symbol=BTCUSDT&from=", 400,
              Err(400, "from", std::string("cannot parse '' ") + kTimeFormats));
  ExpectError(p + "symbol=BTCUSDT&from=2025-06-02&to=2025-06-01", 400,
              Err(400, "from", "from (2025-06-02) is after to (2025-06-01)"));
  // max_days (20000) counts the days the range names, from and to included.
  ExpectError(p + "symbol=BTCUSDT&from=1970-01-01&to=2025-06-01", 400,
              Err(400, "to", "range over the limit: 20241 days (at most 20000)"));
  ExpectError(p + "symbol=BTCUSDT&from=1970-01-01&to=2024-10-04", 400,
              Err(400, "to", "range over the limit: 20001 days (at most 20000)"));
  HttpResponse at_limit = Get(p + "symbol=BTCUSDT&from=1970-01-01&to=2024-10-03");
  EXPECT_EQ(at_limit.status, 200) << at_limit.body;
  EXPECT_EQ(at_limit.body,
            "{\"symbol\":\"BTCUSDT\",\"batch_watermark\":\"2025-06-04\",\"rows\":[]}");
  ExpectError(p + "symbol=BTCUSDT&format=xml", 400,
              Err(400, "format", "format must be json or csv"));
  ExpectError(p + "symbol=BTCUSDT&format=", 400, Err(400, "format", "format must be json or csv"));
}

// A symbol is echoed cut to 40 bytes, never inside a UTF-8 character: the body stays valid JSON
// text for a client that decodes it strictly.
TEST_F(ApiTest, UnknownSymbolIsCutOnACharacterBoundary) {
  const std::string head(39, 'A');
  ExpectError("/api/v1/daily?symbol=" + head + "%E2%82%ACB", 404,
              Err(404, "symbol", "unknown symbol '" + head + "...' " + kKnown));
  const std::string forty(40, 'B');
  ExpectError("/api/v1/daily?symbol=" + forty + "C", 404,
              Err(404, "symbol", "unknown symbol '" + forty + "...' " + kKnown));
  ExpectError("/api/v1/daily?symbol=" + forty, 404,
              Err(404, "symbol", "unknown symbol '" + forty + "' " + kKnown));
  HttpResponse r = Get("/api/v1/klines?symbol=BTCUSDT&interval=1234567890123456789%C3%A9");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, Err(400, "interval",
                        "unknown interval '1234567890123456789...' (1m, 3m, 5m, 15m, 30m, 1h, "
                        "2h, 4h, 6h, 8h, 12h, 1d)"));
  EXPECT_NO_THROW(json::parse(r.body));
}

// ---------------------------------------------------------------------------------------------
// /api/v1/klines

TEST_F(ApiTest, KlinesReturnTheRecordedMinute) {
  const CsvRows m1 = ReadCsv(Find("1m", k1mPrefix), At("2025-06-01"), At("2025-06-06"));
  // A minute of the master dataset (batch) and one of the real-time view (speed).
  struct Case {
    const char* minute;
    const char* source;
  };
  for (const Case& c :
       {Case{"2025-06-02T13:37:00Z", "batch"}, Case{"2025-06-05T09:30:00Z", "speed"}}) {
    HttpResponse r =
        Get(std::string("/api/v1/klines?symbol=BTCUSDT&from=") + c.minute + "&limit=1");
    EXPECT_EQ(r.status, 200) << c.minute;
    EXPECT_EQ(r.body, "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"rows\":[" +
                          KlineRowJson(Row(m1, At(c.minute)), c.source, false) + "]}");
  }
  // The same minute as CSV (format, then Accept).
  const auto& f = Row(m1, At("2025-06-02 13:37"));
  const std::string csv =
      "symbol,interval,open_time,open,high,low,close,volume,source,partial\n"
      "BTCUSDT,1m,2025-06-02T13:37:00Z," +
      Shortest(f[1]) + "," + Shortest(f[2]) + "," + Shortest(f[3]) + "," + Shortest(f[4]) + "," +
      Shortest(f[5]) + ",batch,false\n";
  const std::string q =
      "/api/v1/klines?symbol=BTCUSDT&interval=1m&from=2025-06-02%2013:37&to=2025-06-02%2013:38";
  HttpResponse c = Get(q + "&format=csv");
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.Header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(c.body, csv);
  EXPECT_EQ(Get(q, {"Accept: text/csv;q=0.9, application/json;q=0.5"}).body, csv);
}

TEST_F(ApiTest, KlinesHonourTheLimitAcrossTheWatermark) {
  const CsvRows m1 = ReadCsv(Find("1m", k1mPrefix), At("2025-06-01"), At("2025-06-06"));
  HttpResponse r = Get("/api/v1/klines?symbol=BTCUSDT&from=2025-06-03T23:58:00Z&limit=5");
  ASSERT_EQ(r.status, 200);
  std::string want = "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"rows\":[";
  for (int i = 0; i < 5; ++i) {
    const Micros t = At("2025-06-03 23:58") + i * kMicrosPerMinute;
    if (i > 0) want += ',';
    want += KlineRowJson(Row(m1, t), t < At("2025-06-04") ? "batch" : "speed", false);
  }
  EXPECT_EQ(r.body, want + "]}");

  // Without a limit: the default 500; with limit=5000 (the maximum): 5000, from the batch days
  // into the speed days.
  json d = json::parse(Get("/api/v1/klines?symbol=BTCUSDT&from=2025-06-02").body);
  ASSERT_EQ(d["rows"].size(), 500u);
  EXPECT_EQ(d["rows"][0]["open_time"], "2025-06-02T00:00:00Z");
  EXPECT_EQ(d["rows"][499]["open_time"], "2025-06-02T08:19:00Z");
  json m = json::parse(Get("/api/v1/klines?symbol=BTCUSDT&from=2025-06-02&limit=5000").body);
  ASSERT_EQ(m["rows"].size(), 5000u);
  EXPECT_EQ(m["rows"][4999]["open_time"], "2025-06-05T11:19:00Z");
  EXPECT_EQ(m["rows"][4999]["source"], "speed");
  // The end of the series: the open candle, partial.
  json e = json::parse(Get("/api/v1/klines?symbol=BTCUSDT&from=2025-06-05T11:59:00Z").body);
  ASSERT_EQ(e["rows"].size(), 2u);
  EXPECT_EQ(e["rows"][0]["partial"], false);
  EXPECT_EQ(e["rows"][1]["open_time"], "2025-06-05T12:00:00Z");
  EXPECT_EQ(e["rows"][1]["partial"], true);
}

// Without from, klines are the `limit` candles just before `to` (before the end of the series
// when there is no `to` either), in time order, as Binance answers an endTime alone. (They used
// to be the first candles of the lake, whatever `to` said.)
TEST_F(ApiTest, KlinesToAloneAreTheCandlesJustBeforeIt) {
  const CsvRows m1 = ReadCsv(Find("1m", k1mPrefix), At("2025-06-01"), At("2025-06-06"));
  auto rows = [&](Micros first, int n, bool open_last = false) {
    std::string out = "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"rows\":[";
    for (int i = 0; i < n; ++i) {
      const Micros t = first + i * kMicrosPerMinute;
      if (i > 0) out += ',';
      out += KlineRowJson(Row(m1, t), t < At("2025-06-04") ? "batch" : "speed",
                          open_last && i == n - 1);
    }
    return out + "]}";
  };
  EXPECT_EQ(Get("/api/v1/klines?symbol=BTCUSDT&to=2025-06-02&limit=3").body,
            rows(At("2025-06-01 23:57"), 3));
  // Across the watermark: batch minutes, then speed minutes.
  EXPECT_EQ(Get("/api/v1/klines?symbol=BTCUSDT&to=2025-06-04T00:02:00Z&limit=4").body,
            rows(At("2025-06-03 23:58"), 4));
  // The default limit (500) before `to`.
  json d = json::parse(Get("/api/v1/klines?symbol=BTCUSDT&to=2025-06-02").body);
  ASSERT_EQ(d["rows"].size(), 500u);
  EXPECT_EQ(d["rows"][0]["open_time"], "2025-06-01T15:40:00Z");
  EXPECT_EQ(d["rows"][499]["open_time"], "2025-06-01T23:59:00Z");
  EXPECT_EQ(d["rows"][0]["open"].get<double>(), D(Row(m1, At("2025-06-01 15:40"))[1]));
  EXPECT_EQ(d["rows"][499]["close"].get<double>(), D(Row(m1, At("2025-06-01 23:59"))[4]));
  // Neither from nor to: the newest candles, the open one last.
  EXPECT_EQ(Get("/api/v1/klines?symbol=BTCUSDT&limit=2").body,
            rows(At("2025-06-05 11:59"), 2, /*open_last=*/true));
  // `from` alone: from there on, to the open candle.
  EXPECT_EQ(Get("/api/v1/klines?symbol=BTCUSDT&from=2025-06-05T11:58:00Z").body,
            rows(At("2025-06-05 11:58"), 3, /*open_last=*/true));
  // As CSV, and before the first candle: nothing.
  HttpResponse c = Get("/api/v1/klines?symbol=BTCUSDT&to=2025-06-02&limit=1&format=csv");
  const auto& f = Row(m1, At("2025-06-01 23:59"));
  EXPECT_EQ(c.body,
            "symbol,interval,open_time,open,high,low,close,volume,source,partial\n"
            "BTCUSDT,1m,2025-06-01T23:59:00Z," +
                Shortest(f[1]) + "," + Shortest(f[2]) + "," + Shortest(f[3]) + "," +
                Shortest(f[4]) + "," + Shortest(f[5]) + ",batch,false\n");
  EXPECT_EQ(Get("/api/v1/klines?symbol=BTCUSDT&to=2025-05-01").body,
            "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"rows\":[]}");
  // Hours (aggregated from the speed minutes): the two before 03:00 on 06-04, Binance's own.
  HttpResponse h = Get("/api/v1/klines?symbol=BTCUSDT&interval=1h&to=2025-06-04T03:00:00Z&limit=2");
  ASSERT_EQ(h.status, 200) << h.body;
  json hj = json::parse(h.body);
  ASSERT_EQ(hj["rows"].size(), 2u) << h.body;
  const CsvRows hours =
      ReadCsv(Find("1h", "BTCUSDT-1h-2025-06"), At("2025-06-04"), At("2025-06-04 03:00"));
  for (size_t i = 0; i < 2; ++i) {
    const Micros t = At("2025-06-04 01:00") + static_cast<Micros>(i) * kMicrosPerHour;
    EXPECT_EQ(hj["rows"][i]["open_time"], FormatIso(t));
    EXPECT_EQ(hj["rows"][i]["open"].get<double>(), D(Row(hours, t)[1]));
    EXPECT_EQ(hj["rows"][i]["close"].get<double>(), D(Row(hours, t)[4]));
  }
}

// Hours after the watermark are aggregated from the speed 1m candles: Binance's own 1h klines.
TEST_F(ApiTest, KlinesSpeedHoursAreBinancesHourlyKlines) {
  HttpResponse r =
      Get("/api/v1/klines?symbol=BTCUSDT&interval=1h&from=2025-06-04&to=2025-06-04T03:00:00Z");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["interval"], "1h");
  ASSERT_EQ(j["rows"].size(), 3u);
  const CsvRows hours =
      ReadCsv(Find("1h", "BTCUSDT-1h-2025-06"), At("2025-06-04"), At("2025-06-04 03:00"));
  for (size_t i = 0; i < 3; ++i) {
    const Micros t = At("2025-06-04") + static_cast<Micros>(i) * kMicrosPerHour;
    const auto& want = Row(hours, t);
    const json& k = j["rows"][i];
    EXPECT_EQ(k["open_time"], FormatIso(t));
    EXPECT_EQ(k["open"].get<double>(), D(want[1])) << FormatIso(t);
    EXPECT_EQ(k["high"].get<double>(), D(want[2])) << FormatIso(t);
    EXPECT_EQ(k["low"].get<double>(), D(want[3])) << FormatIso(t);
    EXPECT_EQ(k["close"].get<double>(), D(want[4])) << FormatIso(t);
    EXPECT_NEAR(k["volume"].get<double>(), D(want[5]), 1e-6) << FormatIso(t);
    EXPECT_EQ(k["source"], "speed");
    EXPECT_EQ(k["partial"], false);
  }
}

TEST_F(ApiTest, KlinesRejectMalformedRequests) {
  const std::string p = "/api/v1/klines?";
  const std::string limit = "limit must be an integer from 1 to 5000";
  ExpectError(p + "symbol=BTCUSDT&day=2025-06-01", 400,
              Err(400, "day",
                  "unknown parameter 'day' (allowed: symbol, interval, from, to, limit, format)"));
  ExpectError(p + "symbol=BTCUSDT&interval=1m&interval=1h", 400,
              Err(400, "interval", "parameter 'interval' given more than once"));
  ExpectError(p + "symbol=BTCUSDT&limit=1&limit=2", 400,
              Err(400, "limit", "parameter 'limit' given more than once"));
  ExpectError(p + "interval=1m", 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=DOGEUSDT", 404,
              Err(404, "symbol", std::string("unknown symbol 'DOGEUSDT' ") + kKnown));
  ExpectError(p + "symbol=BTCUSDT&from=2025-06-01T25:00:00Z", 400,
              Err(400, "from", std::string("cannot parse '2025-06-01T25:00:00Z' ") + kTimeFormats));
  ExpectError(p + "symbol=BTCUSDT&to=1749081600000", 400,
              Err(400, "to", std::string("cannot parse '1749081600000' ") + kTimeFormats));
  ExpectError(p + "symbol=BTCUSDT&from=2025-06-02%2000:01&to=2025-06-02", 400,
              Err(400, "from", "from (2025-06-02 00:01) is after to (2025-06-02)"));
  // from defaults to no lower bound: a `to` before 1970 alone is an empty range, not an error
  // about a `from` the client did not send.
  HttpResponse early = Get(p + "symbol=BTCUSDT&to=1969-12-31");
  EXPECT_EQ(early.status, 200) << early.body;
  EXPECT_EQ(early.body, "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"rows\":[]}");
  for (const char* bad : {"0", "5001", "-1", "abc", "1.5", "", "99999999999999999999"}) {
    ExpectError(p + "symbol=BTCUSDT&limit=" + bad, 400, Err(400, "limit", limit));
  }
  // from..to over max_klines (5000) candles of the interval; exactly 5000 is accepted.
  ExpectError(p + "symbol=BTCUSDT&from=2025-06-01&to=2025-06-05", 400,
              Err(400, "to",
                  "range over the limit: 5760 1m candles (at most 5000; page with from and "
                  "limit)"));
  ExpectError(p + "symbol=BTCUSDT&interval=1d&from=2000-01-01&to=2025-06-01", 400,
              Err(400, "to",
                  "range over the limit: 9283 1d candles (at most 5000; page with from and "
                  "limit)"));
  EXPECT_EQ(Get(p + "symbol=BTCUSDT&from=2025-06-01&to=2025-06-04T11:20:00Z&limit=1").status, 200);
  ExpectError(p + "symbol=BTCUSDT&interval=7m", 400,
              Err(400, "interval",
                  "unknown interval '7m' (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d)"));
  ExpectError(p + "symbol=BTCUSDT&interval=1w", 400,
              Err(400, "interval",
                  "unknown interval '1w' (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d)"));
  ExpectError(p + "symbol=BTCUSDT&format=parquet", 400,
              Err(400, "format", "format must be json or csv"));
}

// ---------------------------------------------------------------------------------------------
// /api/v1/forecast, /api/v1/status, /metrics

TEST_F(ApiTest, ForecastIsNotFoundUntilOneIsWritten) {
  const fs::path file = w_->forecasts / "BTCUSDT.json";
  fs::remove(file);
  ExpectError("/api/v1/forecast?symbol=BTCUSDT", 404,
              Err(404, "symbol", "no forecast for BTCUSDT"));
  const std::string body = "{\"symbol\":\"BTCUSDT\",\"rows\":[{\"ds\":\"2025-06-06\",\"yhat\":1}]}";
  testing::WriteText(file, body);
  HttpResponse r = Get("/api/v1/forecast?symbol=BTCUSDT");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  fs::remove(file);
  ExpectError("/api/v1/forecast?symbol=ETHUSDT", 404,
              Err(404, "symbol", "no forecast for ETHUSDT"));
}

TEST_F(ApiTest, ForecastRejectsMalformedRequests) {
  const std::string p = "/api/v1/forecast?";
  ExpectError(p + "symbol=BTCUSDT&days=7", 400,
              Err(400, "days", "unknown parameter 'days' (allowed: symbol, model, format)"));
  ExpectError(p + "symbol=BTCUSDT&symbol=ETHUSDT", 400,
              Err(400, "symbol", "parameter 'symbol' given more than once"));
  ExpectError(p + "symbol=BTCUSDT&model=naive&model=ets", 400,
              Err(400, "model", "parameter 'model' given more than once"));
  ExpectError(p, 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=XRPUSDT", 404,
              Err(404, "symbol", std::string("unknown symbol 'XRPUSDT' ") + kKnown));
  // A symbol never becomes a path: only known symbols name a forecast file.
  ExpectError(p + "symbol=..%2F..%2Fetc%2Fpasswd", 404,
              Err(404, "symbol", std::string("unknown symbol '../../etc/passwd' ") + kKnown));
  ExpectError(p + "symbol=BTCUSDT&format=txt", 400,
              Err(400, "format", "format must be json or csv"));
}

// The "rows" of two models' own forecasts in ForecastFile().
const std::string kNaiveRows =
    "[{\"ds\":\"2025-06-05\",\"yhat\":104696.86,\"yhat_lower\":102011.75,\"yhat_upper\":"
    "107452.5},{\"ds\":\"2025-06-06\",\"yhat\":104696.86,\"yhat_lower\":100921.0,\"yhat_upper\":"
    "108612.25}]";
const std::string kProphetRows =
    "[{\"ds\":\"2025-06-05\",\"yhat\":105012.4,\"yhat_lower\":98765.5,\"yhat_upper\":null},"
    "{\"ds\":\"2025-06-06\",\"yhat\":105240.75,\"yhat_lower\":98001.0,\"yhat_upper\":112480.5}]";

// A forecast file in the format `forecast fit|predict` writes (issue 13): the selected
// procedure's rows with their conformal band, the selection, the leaderboard and every model's
// own forecast under "models". `model`, `interval` and `rows` are the fields ?model= replaces.
std::string ForecastFile(const std::string& model, const std::string& interval,
                         const std::string& rows) {
  return "{\"symbol\":\"BTCUSDT\",\"model\":\"" + model +
         "\",\"history_end\":\"2025-06-04\",\"last_close\":104696.86,\"interval_width\":0.8,"
         "\"interval\":\"" +
         interval + "\",\"rows\":" + rows +
         ",\"selection\":{\"rule\":\"lowest inner-CV MASE at the horizon; the simpler model is "
         "kept unless another is lower by the margin\",\"margin\":0.02,\"why\":\"No model beat "
         "naive by 2% \u2013 naive is kept.\",\"by_horizon\":[{\"horizon_days\":1,\"model\":"
         "\"naive\",\"mase\":0.99,\"runner_up\":\"ets\",\"runner_up_mase\":0.985}]},"
         "\"leaderboard\":[{\"model\":\"naive\",\"selected\":true,\"horizons\":[{\"horizon_"
         "days\":1,\"n\":81,\"mape\":0.0325,\"mase\":1.0,\"coverage\":0.81}]},{\"model\":"
         "\"selected (nested CV)\",\"selected\":false,\"horizons\":[{\"horizon_days\":1,\"n\":69,"
         "\"mape\":0.0331,\"mase\":1.002,\"coverage\":null}]}],\"cv\":{\"initial_days\":730,"
         "\"period_days\":30,\"horizon_days\":30,\"cutoffs\":81},\"models\":[{\"name\":\"naive\","
         "\"description\":\"naive\",\"rows\":" +
         kNaiveRows +
         "},{\"name\":\"prophet\",\"description\":\"Prophet (linear growth)\","
         "\"rows\":" +
         kProphetRows + "}]}\n";
}

TEST_F(ApiTest, ForecastIsServedAsWrittenAndEachModelOnRequest) {
  const fs::path file = w_->forecasts / "BTCUSDT.json";
  const std::string selected =
      "[{\"ds\":\"2025-06-05\",\"yhat\":104696.86,\"yhat_lower\":101200.5,\"yhat_upper\":"
      "108310.25,\"model\":\"naive\",\"horizon_days\":1},{\"ds\":\"2025-06-06\",\"yhat\":"
      "104696.86,\"yhat_lower\":99850.125,\"yhat_upper\":109771.5,\"model\":\"naive\","
      "\"horizon_days\":2}]";
  const std::string written = ForecastFile("naive", "conformal", selected);
  testing::WriteText(file, written);
  const std::string p = "/api/v1/forecast?symbol=BTCUSDT";

  HttpResponse r = Get(p);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, written);
  EXPECT_EQ(r.Header("content-type"), "application/json");

  // Prophet's own forecast and interval, in the same shape (its NaN bound is null).
  HttpResponse prophet = Get(p + "&model=prophet");
  EXPECT_EQ(prophet.status, 200);
  EXPECT_EQ(prophet.body, ForecastFile("prophet", "model", kProphetRows));
  EXPECT_EQ(prophet.Header("content-type"), "application/json");
  // naive's own interval, not the selected forecast's conformal band.
  HttpResponse naive = Get(p + "&model=naive");
  EXPECT_EQ(naive.status, 200);
  EXPECT_EQ(naive.body, ForecastFile("naive", "model", kNaiveRows));

  ExpectError(p + "&model=ets", 404,
              Err(404, "model",
                  "no model 'ets' in the forecast for BTCUSDT (it has: naive, "
                  "prophet)"));
  ExpectError(p + "&model=", 404,
              Err(404, "model",
                  "no model '' in the forecast for BTCUSDT (it has: naive, "
                  "prophet)"));
  ExpectError(p + "&model=%22%3B%20rm", 404,
              Err(404, "model",
                  "no model '\\\"; rm' in the forecast for BTCUSDT (it has: "
                  "naive, prophet)"));
  // A file of the format before issue 13 is served as before; it has no models to pick from.
  const std::string old = "{\"symbol\":\"BTCUSDT\",\"rows\":[{\"ds\":\"2025-06-06\",\"yhat\":1}]}";
  testing::WriteText(file, old);
  EXPECT_EQ(Get(p).body, old);
  ExpectError(
      p + "&model=prophet", 404,
      Err(404, "model", "no model 'prophet' in the forecast for BTCUSDT (it lists no models)"));
  fs::remove(file);
  ExpectError(p + "&model=prophet", 404, Err(404, "symbol", "no forecast for BTCUSDT"));
}

TEST_F(ApiTest, StatusHasTheWatermarkAndTheStreamLag) {
  auto snap = w_->lake->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  HttpResponse r = Get("/api/v1/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  // now 12:00:30; the newest closed minute 11:59 closed at 12:00:00: 30 s of lag.
  EXPECT_EQ(r.body, "{\"lake_version\":" + std::to_string(snap->version()) +
                        ",\"now\":\"2025-06-05T12:00:30Z\",\"symbols\":[{\"symbol\":\"BTCUSDT\","
                        "\"batch_watermark\":\"2025-06-04\",\"last_closed_minute\":\"2025-06-05T"
                        "11:59:00Z\",\"stream_lag_seconds\":30,\"open_gaps\":0,\"missing_"
                        "minutes\":0},{\"symbol\":\"ETHUSDT\",\"batch_watermark\":null,\"last_"
                        "closed_minute\":null,\"stream_lag_seconds\":null,\"open_gaps\":0,"
                        "\"missing_minutes\":0}],\"stream\":{\"running\":true,\"events\":42,"
                        "\"reconnects\":1,\"malformed\":0}}");
}

TEST_F(ApiTest, StatusRejectsMalformedRequests) {
  ExpectError("/api/v1/status?symbol=BTCUSDT", 400,
              Err(400, "symbol", "unknown parameter 'symbol' (allowed: format)"));
  ExpectError("/api/v1/status?format=json&format=csv", 400,
              Err(400, "format", "parameter 'format' given more than once"));
  ExpectError("/api/v1/status?format=yaml", 400, Err(400, "format", "format must be json or csv"));
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  const double before = RequestsTotal("/healthz", 200);
  ASSERT_EQ(Get("/healthz").status, 200);
  HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE cryptolake_http_requests_total counter\n"), std::string::npos);
  const std::string line = "cryptolake_http_requests_total{route=\"/healthz\",code=\"200\"} " +
                           Shortest(before + 1) + "\n";
  EXPECT_NE(r.body.find(line), std::string::npos) << line << "\nin\n" << r.body;
  // The gauges evaluated at the scrape.
  EXPECT_NE(r.body.find("\ncryptolake_ingest_lag_seconds 30\n"), std::string::npos);
  EXPECT_NE(r.body.find("\ncryptolake_open_gaps 0\n"), std::string::npos);
  EXPECT_NE(r.body.find("\ncryptolake_stream_events 42\n"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Injection: nothing a client sends reaches SQL text or the file system.

TEST_F(ApiTest, SqlInjectionSymbolIsAnUnknownSymbolAndNothingElse) {
  auto snap = w_->lake->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  const int64_t version = snap->version();
  std::set<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(w_->dir / "lake")) {
    files.insert(e.path().string() + "@" +
                 (e.is_regular_file() ? std::to_string(e.file_size()) : std::string("dir")));
  }
  const std::string daily_before = Get("/api/v1/daily?symbol=BTCUSDT").body;
  const double daily_404 = RequestsTotal("/api/v1/daily", 404);
  const double klines_404 = RequestsTotal("/api/v1/klines", 404);

  struct Case {
    std::string encoded, shown;  // shown JSON-escaped
  };
  const std::vector<Case> cases = {
      {"BTCUSDT%27%20OR%201%3D1--", "BTCUSDT' OR 1=1--"},
      {"BTCUSDT%27%3B%20DROP%20TABLE%20klines_1m%3B--", "BTCUSDT'; DROP TABLE klines_1m;--"},
      {"%22%20OR%20%22%22%3D%22", "\\\" OR \\\"\\\"=\\\""},
  };
  for (const Case& c : cases) {
    const std::string body = Err(404, "symbol", "unknown symbol '" + c.shown + "' " + kKnown);
    ExpectError("/api/v1/daily?symbol=" + c.encoded, 404, body);
    ExpectError("/api/v1/klines?symbol=" + c.encoded + "&from=2025-06-01", 404, body);
    ExpectError("/api/v1/forecast?symbol=" + c.encoded, 404, body);
    ExpectError("/api/v1/stream?symbol=" + c.encoded, 404, body);
  }
  // In the other parameters too: refused before anything is read.
  ExpectError("/api/v1/klines?symbol=BTCUSDT&interval=1m%27%3B--", 400,
              Err(400, "interval",
                  "unknown interval '1m';--' (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, "
                  "1d)"));
  ExpectError("/api/v1/klines?symbol=BTCUSDT&limit=1%3B%20DELETE", 400,
              Err(400, "limit", "limit must be an integer from 1 to 5000"));
  ExpectError("/api/v1/daily?symbol=BTCUSDT&from=2025-06-01%27--", 400,
              Err(400, "from", std::string("cannot parse '2025-06-01'--' ") + kTimeFormats));

  EXPECT_EQ(RequestsTotal("/api/v1/daily", 404), daily_404 + 3);
  EXPECT_EQ(RequestsTotal("/api/v1/klines", 404), klines_404 + 3);
  EXPECT_EQ(w_->server->handler_exceptions(), 0);
  auto after = w_->lake->GetSnapshot();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version(), version);
  std::set<std::string> files_after;
  for (const auto& e : fs::recursive_directory_iterator(w_->dir / "lake")) {
    files_after.insert(e.path().string() + "@" +
                       (e.is_regular_file() ? std::to_string(e.file_size()) : std::string("dir")));
  }
  EXPECT_EQ(files_after, files);
  EXPECT_TRUE(fs::is_empty(w_->forecasts));
  EXPECT_EQ(Get("/api/v1/daily?symbol=BTCUSDT").body, daily_before);
}

// ---------------------------------------------------------------------------------------------
// /api/v1/stream

TEST_F(ApiTest, StreamStartsWithTheLastMergedDayAndTheNewestCandle) {
  const std::string daily = Get("/api/v1/daily?symbol=BTCUSDT").body;
  const size_t at = daily.find("{\"day\":\"2025-06-05\"");
  ASSERT_NE(at, std::string::npos) << daily;
  ASSERT_TRUE(daily.ends_with("]}"));
  const std::string last_day = daily.substr(at, daily.size() - 2 - at);
  const CsvRows m1 = ReadCsv(Find("1m", k1mPrefix), At("2025-06-05 12:00"), At("2025-06-05 12:01"));
  const auto& open = Row(m1, At("2025-06-05 12:00"));

  RawConn c(w_->server->port());
  c.Send(
      "GET /api/v1/stream?symbol=BTCUSDT HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Accept: text/event-stream\r\n\r\n");
  const std::string head = c.ReadUntil("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
  EXPECT_EQ(c.ReadUntil("\n\n"), "event: daily\ndata: " + last_day + "\n\n");
  EXPECT_EQ(c.ReadUntil("\n\n"),
            "event: kline\ndata: {\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"open_time\":\"2025-"
            "06-05T12:00:00Z\",\"open\":" +
                Shortest(open[1]) + ",\"high\":" + Shortest(open[2]) +
                ",\"low\":" + Shortest(open[3]) + ",\"close\":" + Shortest(open[4]) +
                ",\"volume\":" + Shortest(open[5]) +
                ",\"source\":\"speed\",\"partial\":true,\"closed\":false}\n\n");
}

// Before any event, a bad request is answered with an ordinary JSON error, not an event stream.
TEST_F(ApiTest, StreamRejectsMalformedRequestsWithJson) {
  const std::string p = "/api/v1/stream?";
  ExpectError(p + "symbol=BTCUSDT&interval=1m", 400,
              Err(400, "interval", "unknown parameter 'interval' (allowed: symbol, format)"));
  ExpectError(p + "symbol=BTCUSDT&symbol=BTCUSDT", 400,
              Err(400, "symbol", "parameter 'symbol' given more than once"));
  ExpectError(p, 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=", 400, Err(400, "symbol", "symbol is required"));
  ExpectError(p + "symbol=SOLUSDT", 404,
              Err(404, "symbol", std::string("unknown symbol 'SOLUSDT' ") + kKnown));
  ExpectError(p + "symbol=BTCUSDT&format=sse", 400,
              Err(400, "format", "format must be json or csv"));
  // The raw exchange: a complete response with a length, then the server closes.
  RawConn c(w_->server->port());
  c.Send("GET /api/v1/stream?symbol=NOPE HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string raw = c.ReadUntil("\x01never");
  const std::string body = Err(404, "symbol", std::string("unknown symbol 'NOPE' ") + kKnown);
  EXPECT_EQ(raw.rfind("HTTP/1.1 404 ", 0), 0u) << raw;
  EXPECT_NE(raw.find("Content-Type: application/json\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("text/event-stream"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos)
      << raw;
  EXPECT_TRUE(raw.ends_with("\r\n\r\n" + body)) << raw;
}

// ---------------------------------------------------------------------------------------------
// Internal errors, JSON escaping, many streams

bool IsRequestId(const std::string& id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

// A lake file the server cannot read (overwritten here: the lake itself never does that) makes
// a 500 whose body names no path and no SQL, only a request id; the log has the detail under
// the same id. A 4xx about the request keeps its specific message.
TEST_F(ApiTest, InternalErrorsCarryARequestIdAndNoServerDetail) {
  auto snap = w_->lake->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  const auto files = snap->Files(lake::KlinesDataset(Interval{"1m", kMicrosPerMinute}), "BTCUSDT");
  ASSERT_FALSE(files.empty());
  std::vector<std::pair<fs::path, std::string>> saved;
  for (const auto* f : files) {
    std::ifstream in(snap->Abs(*f), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    saved.emplace_back(snap->Abs(*f), ss.str());
  }
  struct Restore {
    std::vector<std::pair<fs::path, std::string>>& files;
    ~Restore() {
      for (const auto& [path, bytes] : files) testing::WriteText(path, bytes);
    }
  } restore{saved};
  const std::string target = "/api/v1/klines?symbol=BTCUSDT&from=2025-06-02&limit=1";
  ASSERT_EQ(Get(target).status, 200);

  testing::LogCapture log;
  for (const auto& [path, bytes] : saved) testing::WriteText(path, "not a parquet file");
  HttpResponse r = Get(target);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  const std::string id = r.Header("x-request-id");
  EXPECT_TRUE(IsRequestId(id)) << id;
  EXPECT_EQ(r.body, "{\"error\":{\"status\":500,\"message\":\"internal error\",\"request_id\":\"" +
                        id + "\"}}");
  // The log line of that id has what the client was not told: the file and DuckDB's words.
  const std::string text = log.text();
  const size_t at = text.find(id);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find(saved[0].first.string()), std::string::npos) << line;
  EXPECT_NE(line.find("DuckDB"), std::string::npos) << line;
  EXPECT_NE(line.find("/api/v1/klines"), std::string::npos) << line;

  // A bad request keeps its own words (they are about the request) and has an id too.
  HttpResponse bad = Get("/api/v1/klines?symbol=XYZ");
  EXPECT_EQ(bad.status, 404);
  EXPECT_EQ(bad.body, Err(404, "symbol", std::string("unknown symbol 'XYZ' ") + kKnown));
  EXPECT_TRUE(IsRequestId(bad.Header("x-request-id")));
  EXPECT_NE(bad.Header("x-request-id"), id);

  for (const auto& [path, bytes] : saved) testing::WriteText(path, bytes);
  EXPECT_EQ(Get(target).status, 200);
}

// A forecast file that is not JSON is the server's fault when a model is asked of it: a 500 with
// a request id, the file named in the log only. As written, it is still served as is.
TEST_F(ApiTest, ForecastFileThatIsNotJsonIsAnInternalErrorForAModel) {
  const fs::path file = w_->forecasts / "BTCUSDT.json";
  testing::WriteText(file, "{\"symbol\":\"BTCUSDT\",\"rows\":[");
  EXPECT_EQ(Get("/api/v1/forecast?symbol=BTCUSDT").body, "{\"symbol\":\"BTCUSDT\",\"rows\":[");
  testing::LogCapture log;
  HttpResponse r = Get("/api/v1/forecast?symbol=BTCUSDT&model=naive");
  EXPECT_EQ(r.status, 500);
  const std::string id = r.Header("x-request-id");
  EXPECT_TRUE(IsRequestId(id)) << id;
  EXPECT_EQ(r.body, "{\"error\":{\"status\":500,\"message\":\"internal error\",\"request_id\":\"" +
                        id + "\"}}");
  const std::string text = log.text();
  const size_t at = text.find(id);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find(file.string() + ": not a JSON object"), std::string::npos) << line;

  // A model entry without rows: the same.
  testing::WriteText(file, "{\"rows\":[],\"models\":[{\"name\":\"naive\"}]}");
  EXPECT_EQ(Get("/api/v1/forecast?symbol=BTCUSDT&model=naive").status, 500);
  fs::remove(file);
}

// A configured symbol with a quote and a backslash (the config does not forbid them) comes back
// as valid JSON everywhere a symbol is written: symbols, daily (whole and ranged), klines,
// status, errors listing the known symbols, and the stream's events; CSV quotes it.
TEST_F(ApiTest, ConfiguredSymbolsAreEscapedInEveryBody) {
  const std::string odd = "QU\"OTE\\SYM";
  const std::string enc = "QU%22OTE%5CSYM";
  auto view = speed::RealtimeView::Open(*w_->lake, w_->dir / "odd_view.duckdb");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  std::vector<KlineEvent> klines = testing::ClosedKlines(
      testing::RecordedBtcusdt1m(), At("2025-06-05 00:00"), At("2025-06-05 00:04"));
  ASSERT_EQ(klines.size(), 4u);
  for (auto& k : klines) k.symbol = odd;
  klines.back().closed = false;
  ASSERT_TRUE((*view)->Apply(testing::AsEvents(klines)).ok());
  Merged merged(*w_->lake, view->get(), MergedOptions{.symbols = {"BTCUSDT", odd}});
  Metrics metrics;
  Api api(merged, w_->clock, metrics);
  auto server = HttpServer::Start({}, api.MakeRouter());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto get = [&](const std::string& target) {
    HttpClient client(HttpOptions{});
    auto r = client.Get((*server)->url() + target);
    EXPECT_TRUE(r.ok()) << target;
    return r.ok() ? std::move(*r) : HttpResponse{};
  };
  auto parse = [](const HttpResponse& r) {
    json j;
    EXPECT_NO_THROW(j = json::parse(r.body)) << r.body;
    return j;
  };

  json sym = parse(get("/api/v1/symbols"));
  ASSERT_EQ(sym["symbols"].size(), 2u);
  EXPECT_EQ(sym["symbols"][1]["symbol"], odd);
  EXPECT_EQ(sym["symbols"][1]["first_day"], "2025-06-05");
  for (const std::string q : {"", "&from=2025-06-05", "&to=2025-06-05"}) {
    json d = parse(get("/api/v1/daily?symbol=" + enc + q));
    EXPECT_EQ(d["symbol"], odd) << q;
    ASSERT_EQ(d["rows"].size(), 1u) << q;
    EXPECT_EQ(d["rows"][0]["day"], "2025-06-05");
  }
  json k = parse(get("/api/v1/klines?symbol=" + enc + "&from=2025-06-05"));
  EXPECT_EQ(k["symbol"], odd);
  EXPECT_EQ(k["rows"].size(), 4u);
  json st = parse(get("/api/v1/status"));
  EXPECT_EQ(st["symbols"][1]["symbol"], odd);
  HttpResponse nope = get("/api/v1/daily?symbol=NOPE");
  EXPECT_EQ(nope.status, 404);
  EXPECT_EQ(parse(nope)["error"]["message"], "unknown symbol 'NOPE' (known: BTCUSDT, " + odd + ")");
  json fc = parse(get("/api/v1/forecast?symbol=" + enc));
  EXPECT_EQ(fc["error"]["message"], "no forecast for " + odd);
  // CSV: the field quoted, its quote doubled.
  HttpResponse csv = get("/api/v1/symbols?format=csv");
  EXPECT_NE(csv.body.find("\n\"QU\"\"OTE\\SYM\",2025-06-05,2025-06-05,\n"), std::string::npos)
      << csv.body;
  // The stream: the daily row, then the kline event with its symbol.
  RawConn c((*server)->port());
  c.Send("GET /api/v1/stream?symbol=" + enc + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(c.ReadUntil("\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(c.ReadUntil("\n\n").rfind("event: daily\ndata: {", 0), 0u);
  std::string ev = c.ReadUntil("\n\n");
  ASSERT_EQ(ev.rfind("event: kline\ndata: ", 0), 0u) << ev;
  json kj;
  ASSERT_NO_THROW(kj = json::parse(ev.substr(19))) << ev;
  EXPECT_EQ(kj["symbol"], odd);
  EXPECT_EQ(kj["closed"], false);
}

// Streams are served on the server's io threads: 1,024 clients (the default cap) cost no thread
// each, and the 1,025th is refused with 503 and Retry-After until one of them goes.
TEST_F(ApiTest, StreamClientsCostNoThreadAndTheOneOverTheCapIs503) {
  const std::string request =
      "GET /api/v1/stream?symbol=BTCUSDT HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const size_t threads_before = testing::ThreadCount();
  std::vector<std::unique_ptr<RawConn>> clients;
  for (int i = 0; i < 1024; ++i) {
    clients.push_back(std::make_unique<RawConn>(w_->server->port()));
    clients.back()->Send(request);
  }
  for (auto& c : clients) {  // every one is served: its headers and its first event
    ASSERT_EQ(c->ReadUntil("\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
    ASSERT_EQ(c->ReadUntil("\n\n").rfind("event: daily\ndata: {\"day\":\"2025-06-05\"", 0), 0u);
  }
  EXPECT_EQ(testing::ThreadCount(), threads_before);

  RawConn over(w_->server->port());
  over.Send(request);
  const std::string raw = over.ReadAll();
  EXPECT_FALSE(over.timed_out());
  EXPECT_EQ(raw.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nRetry-After: 5\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << raw;
  const size_t id_at = raw.find("\r\nX-Request-Id: ");
  ASSERT_NE(id_at, std::string::npos) << raw;
  const std::string id = raw.substr(id_at + 16, 16);
  EXPECT_TRUE(IsRequestId(id)) << raw;
  EXPECT_TRUE(
      raw.ends_with("\r\n\r\n{\"error\":{\"status\":503,\"message\":\"too many event "
                    "streams open (at most 1024); retry later\",\"request_id\":\"" +
                    id + "\"}}"))
      << raw;

  // One client goes: its place is free again.
  clients.pop_back();
  w_->server->WaitForOpenStreams(1023);
  RawConn again(w_->server->port());
  again.Send(request);
  EXPECT_EQ(again.ReadUntil("\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(again.ReadUntil("\n\n").rfind("event: daily\n", 0), 0u);
  again.Close();
  clients.clear();
  w_->server->WaitForOpenStreams(0);
  EXPECT_EQ(testing::ThreadCount(), threads_before);
}

}  // namespace
}  // namespace cryptolake::serve
