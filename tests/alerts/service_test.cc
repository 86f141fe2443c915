// The alert service (alerts/service.h) on a real event log: the first start over history raises
// nothing; a crash between the event log's append and state.json re-evaluates after the restart
// and the log drops the repeat; a webhook gets the events in order with their keys; and the
// API's alert routes (serve/alerts_api.h) over a real HTTP server on 127.0.0.1, with their exact
// bodies and errors.
#include "alerts/service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "alerts/receiver.h"
#include "exchange/http.h"
#include "serve/alerts_api.h"
#include "testing/testing.h"

namespace cryptolake::alerts {
namespace {

namespace fs = std::filesystem;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;

Micros At(const std::string& t) { return ParseTime(t).value(); }

model::Kline Candle(const std::string& t, double close) {
  model::Kline k;
  k.symbol = "BTCUSDT";
  k.open_time = At(t);
  k.close_time = k.open_time + kMicrosPerMinute - 1000;
  k.open = k.high = k.low = k.close = close;
  return k;
}

AlertConfig Config(const std::string& webhook_url = "") {
  AlertRule r;
  r.name = "btc-100";
  r.kind = Kind::kLevel;
  r.threshold = 100;
  r.direction = Direction::kUp;
  r.severity = "critical";
  AlertConfig c;
  c.rules = {r};
  if (!webhook_url.empty()) c.webhooks = {WebhookConfig{"ops", webhook_url, "info", 1}};
  return c;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t Lines(const fs::path& p) {
  const std::string t = Read(p);
  return static_cast<size_t>(std::count(t.begin(), t.end(), '\n'));
}

TEST(AlertServiceTest, FirstStartMutesHistoryThenARestartCatchesUpWithoutRepeats) {
  TempDir dir;
  FakeClock clock(At("2021-01-01 01:00"));
  ServiceOptions o;
  o.dir = dir / "alerts";
  o.symbols = {"BTCUSDT"};
  {
    auto s = AlertService::Open(Config(), o, clock);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    // History above the level: nothing raised on the first start.
    ASSERT_TRUE((*s)->Warm({Candle("2021-01-01 00:00", 150), Candle("2021-01-01 00:01", 90)}).ok());
    EXPECT_EQ(Lines(o.dir / "events.jsonl"), 0u);
    EXPECT_EQ((*s)->EvaluatedThrough("BTCUSDT"), At("2021-01-01 00:01"));
  }
  const std::string state_before = Read(o.dir / "state.json");
  {
    auto s = AlertService::Open(Config(), o, clock);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->OnCandles({Candle("2021-01-01 00:02", 101)}).ok());
    ASSERT_EQ((*s)->Active().size(), 1u);
    EXPECT_EQ((*s)->Active()[0].key, "btc-100:BTCUSDT:20210101T000300Z:firing");
  }
  EXPECT_EQ(Lines(o.dir / "events.jsonl"), 1u);
  // A crash after the event log's append and before state.json's rewrite: the old state.
  WriteText(o.dir / "state.json", state_before);
  {
    auto s = AlertService::Open(Config(), o, clock);
    ASSERT_TRUE(s.ok());
    // The warm-up feeds the candle again (it is in the lake or the view): evaluated again,
    // the same key, dropped by the log; the alert is active again from the re-evaluation.
    ASSERT_TRUE((*s)->Warm({Candle("2021-01-01 00:01", 90), Candle("2021-01-01 00:02", 101)}).ok());
    EXPECT_EQ(Lines(o.dir / "events.jsonl"), 1u);
    ASSERT_EQ((*s)->Active().size(), 1u);
    ASSERT_TRUE((*s)->OnCandles({Candle("2021-01-01 00:03", 99)}).ok());
    EXPECT_TRUE((*s)->Active().empty());
    const auto recent = (*s)->Recent(10);
    ASSERT_EQ(recent.size(), 2u);
    EXPECT_EQ(recent[1].key, "btc-100:BTCUSDT:20210101T000300Z:resolved");
  }
}

TEST(AlertServiceTest, AWebhookGetsEveryEventInOrder) {
  TempDir dir;
  FakeClock clock(At("2021-01-01 01:00"));
  testing::Receiver receiver;
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  ServiceOptions o;
  o.dir = dir / "alerts";
  o.symbols = {"BTCUSDT"};
  auto s = AlertService::Open(Config(receiver.url() + "/hook"), o, clock);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Warm({}).ok());
  ASSERT_TRUE((*s)->OnCandles({Candle("2021-01-01 00:00", 101), Candle("2021-01-01 00:01", 99),
                               Candle("2021-01-01 00:02", 100)})
                  .ok());
  receiver.WaitFor(3);
  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "btc-100:BTCUSDT:20210101T000100Z:firing");
  EXPECT_EQ(got[1].key, "btc-100:BTCUSDT:20210101T000100Z:resolved");
  EXPECT_EQ(got[2].key, "btc-100:BTCUSDT:20210101T000300Z:firing");
  EXPECT_EQ(got[2].sequence, "2");
  EXPECT_EQ(got[0].target, "/hook");
  auto j = nlohmann::json::parse(got[1].body);
  EXPECT_EQ(j["state"], "resolved");
  EXPECT_EQ(j["message"], "resolved: BTCUSDT closed at 99, below the level 100");
}

TEST(AlertsApiTest, RoutesOverARealServer) {
  TempDir dir;
  FakeClock clock(At("2021-01-01 01:00"));
  ServiceOptions o;
  o.dir = dir / "alerts";
  o.symbols = {"BTCUSDT"};
  auto s = AlertService::Open(Config(), o, clock);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Warm({}).ok());
  ASSERT_TRUE((*s)->OnCandles({Candle("2021-01-01 00:00", 101)}).ok());
  net::Router router;
  serve::AddAlertRoutes(router, s->get(), std::chrono::milliseconds(50));
  net::Router none;
  serve::AddAlertRoutes(none, nullptr, std::chrono::milliseconds(50));
  net::ServerOptions so;
  so.threads = 1;
  auto server = net::HttpServer::Start(so, std::move(router));
  auto empty = net::HttpServer::Start(so, std::move(none));
  ASSERT_TRUE(server.ok() && empty.ok());
  exchange::HttpClient http;
  auto r = http.Get((*server)->url() + "/api/v1/alerts");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["rules"], 1);
  ASSERT_EQ(j["active"].size(), 1u);
  EXPECT_EQ(j["active"][0]["key"], "btc-100:BTCUSDT:20210101T000100Z:firing");
  EXPECT_EQ(j["active"][0]["at"], "2021-01-01T00:01:00Z");
  EXPECT_EQ(j["active"][0]["value"], 101);
  EXPECT_EQ(j["recent"].size(), 1u);
  r = http.Get((*server)->url() + "/api/v1/alerts?limit=0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body,
            "{\"error\":{\"status\":400,\"parameter\":\"limit\",\"message\":\"limit must be an "
            "integer in [1, 500], got '0'\"}}");
  r = http.Get((*server)->url() + "/api/v1/alerts?symbol=BTCUSDT");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("unknown parameter 'symbol'"), std::string::npos) << r->body;
  r = http.Get((*empty)->url() + "/api/v1/alerts");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "{\"active\":[],\"recent\":[],\"rules\":0}");
}

}  // namespace
}  // namespace cryptolake::alerts
