// The replay exchange against real sockets on 127.0.0.1, a FakeClock and the real sample data.
#include "exchange/replay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "ingest/parser.h"
#include "testing/testing.h"

namespace cryptolake::exchange {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using cryptolake::testing::RunCli;
using cryptolake::testing::SharedData;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// A small synchronous HTTP/1.1 client (keep-alive) for these tests. A call waits for the whole
// response (or the connection's end) without a deadline, unless given a timeout: only the test of
// the `slow` fault, whose subject is a client's timeout, passes one.

struct Reply {
  int status = 0;                              // 0: no response at all
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // what arrived, complete or not
  beast::error_code error;                     // success only for a complete response
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
};

class Client {
 public:
  explicit Client(int port) : port_(port), stream_(ioc_) {}

  Reply Get(const std::string& target, const Headers& headers = {},
            std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    Reply r;
    beast::error_code ec;
    auto expires = [&] {
      if (timeout) {
        stream_.expires_after(*timeout);
      } else {
        stream_.expires_never();
      }
    };
    if (!connected_) {
      expires();
      stream_.async_connect(
          tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)),
          [&](beast::error_code e) { ec = e; });
      Run();
      if (ec) {
        r.error = ec;
        return r;
      }
      connected_ = true;
    }
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    expires();
    http::async_write(stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    Run();
    if (!ec) {
      http::response_parser<http::string_body> p;
      p.body_limit(64 << 20);
      http::async_read(stream_, buf_, p, [&](beast::error_code e, size_t) { ec = e; });
      Run();
      if (p.is_header_done()) {
        r.status = static_cast<int>(p.get().result_int());
        for (const auto& f : p.get()) {
          std::string name(f.name_string());
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          r.headers[name] = std::string(f.value());
        }
      }
      r.body = p.get().body();
      if (!ec && !p.get().keep_alive()) Close();
    }
    r.error = ec;
    if (ec) Close();
    return r;
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }
  void Close() {
    beast::error_code e;
    stream_.socket().shutdown(tcp::socket::shutdown_both, e);
    stream_.close();
    buf_.clear();
    connected_ = false;
  }

  int port_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  bool connected_ = false;
};

// ---------------------------------------------------------------------------------------------
// Data and fixture

std::string Btc1m() {
  return (SharedData() /
          "binance-spot/klines/1m/BTCUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz")
      .string();
}
std::string Eth1m() {
  return (SharedData() /
          "binance-spot/klines/1m/ETHUSDT-1m-20210402_20210514__selskas-Freqtrade-configs.csv.gz")
      .string();
}
std::string Btc1d() {
  return (SharedData() / "binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv").string();
}

Micros Ms(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return MicrosFromCivil(y, mo, d, h, mi, s) / 1000;
}

constexpr int64_t kFirstOpenMs = 1617321600000;  // 2021-04-02 00:00, first row of the 1m file
constexpr int64_t kLastOpenMs = 1621023900000;   // 2021-05-14 20:25, last row of the 1m file
constexpr int64_t kRows1m = 61272;

// Real clock time in the tests: 10 s into a minute, so the rate-limit window has 50 s left.
const Micros kT0 = MicrosFromCivil(2026, 1, 1, 0, 0, 10);

class ReplayTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReplayExchange> Make(const std::vector<std::string>& data,
                                       ReplayOptions opt = {}) {
    auto ex = ReplayExchange::Create(data, clock_, std::move(opt));
    EXPECT_TRUE(ex.ok()) << ex.status().ToString();
    if (!ex.ok()) return nullptr;
    Status s = (*ex)->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_GT((*ex)->port(), 0);
    return std::move(ex).value();
  }

  FakeClock clock_{kT0};
};

std::string Klines(const std::string& params) { return "/api/v3/klines?" + params; }

std::vector<int64_t> OpenTimes(const Reply& r) {
  std::vector<int64_t> out;
  for (const auto& row : r.Json()) out.push_back(row[0].get<int64_t>());
  return out;
}

// ---------------------------------------------------------------------------------------------
// FaultSpec

TEST(FaultSpecTest, ParsesGoodSpecs) {
  auto none = FaultSpec::Parse("none");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->any());
  auto empty = FaultSpec::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->any());

  auto f =
      FaultSpec::Parse("429=0.02,418=0.01,5xx=0.05,slow=0.01,truncate=0.02,drop=0.02,corrupt=0.01");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->p429, 0.02);
  EXPECT_EQ(f->p418, 0.01);
  EXPECT_EQ(f->p5xx, 0.05);
  EXPECT_EQ(f->slow, 0.01);
  EXPECT_EQ(f->truncate, 0.02);
  EXPECT_EQ(f->drop, 0.02);
  EXPECT_EQ(f->corrupt, 0.01);
  EXPECT_TRUE(f->any());

  auto one = FaultSpec::Parse(" drop = 1 ");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->drop, 1.0);
  EXPECT_EQ(one->p429, 0.0);
}

TEST(FaultSpecTest, RejectsBadSpecsNamingTheProblem) {
  auto msg = [](std::string_view spec) {
    auto f = FaultSpec::Parse(spec);
    EXPECT_FALSE(f.ok()) << spec;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    return f.status().message();
  };
  EXPECT_EQ(msg("drop"), "fault spec: expected <fault>=<probability>, got 'drop'");
  EXPECT_EQ(msg("timeout=0.1"),
            "fault spec: unknown fault 'timeout' (known: 429, 418, 5xx, slow, truncate, drop, "
            "corrupt)");
  EXPECT_EQ(msg("drop=1.5"),
            "fault spec: probability of 'drop' must be a number in [0, 1], got "
            "'1.5'");
  EXPECT_EQ(msg("5xx=abc"),
            "fault spec: probability of '5xx' must be a number in [0, 1], got 'abc'");
  EXPECT_EQ(msg("slow="), "fault spec: probability of 'slow' must be a number in [0, 1], got ''");
  EXPECT_EQ(msg("drop=-0.1"),
            "fault spec: probability of 'drop' must be a number in [0, 1], got '-0.1'");
  EXPECT_EQ(msg("drop=0.1,drop=0.2"), "fault spec: 'drop' given twice");
  EXPECT_EQ(msg("429=0.6,5xx=0.6"), "fault spec: probabilities sum to 1.2 (at most 1)");
}

// ---------------------------------------------------------------------------------------------
// Klines

TEST_F(ReplayTest, ServesTheFileValuesExactly) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1m&startTime=1617321600000&limit=2"));
  ASSERT_EQ(r.status, 200) << r.body;
  // OHLCV file: 1617321600000,58720.45,58840.43,58720.44,58760.34,61.685675 and the next row;
  // close_time is open + 1m - 1 ms and the fields the file lacks are 0.
  EXPECT_EQ(r.body,
            "[[1617321600000,\"58720.45000000\",\"58840.43000000\",\"58720.44000000\","
            "\"58760.34000000\",\"61.68567500\",1617321659999,\"0.00000000\",0,\"0.00000000\","
            "\"0.00000000\",\"0\"],"
            "[1617321660000,\"58760.34000000\",\"58820.97000000\",\"58739.28000000\","
            "\"58750.01000000\",\"25.39209300\",1617321719999,\"0.00000000\",0,\"0.00000000\","
            "\"0.00000000\",\"0\"]]");
  EXPECT_EQ(r.Header("content-type"), "application/json;charset=UTF-8");
  EXPECT_EQ(r.Header("x-mbx-used-weight-1m"), "2");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
}

TEST_F(ReplayTest, ServesFullVisionRowsFieldForField) {
  auto ex = Make({Btc1d()});
  ASSERT_TRUE(ex);
  // The first 1000 lines of the file, as Binance would send them.
  // The first 1000 lines of the file. Every field is served as the same number; prices and base
  // volumes (at most 15 significant digits) as the very same text. A 16-digit quote volume such
  // as 91430904.34116388 may come back as 91430904.34116387: the same double, in "%.8f".
  std::ifstream in(Btc1d());
  std::vector<std::vector<std::string>> lines;
  for (std::string line; lines.size() < 1000 && std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 12u);
    lines.push_back(f);
  }
  Client c(ex->port());
  Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1d&startTime=0&limit=1000"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto served = r.Json();
  ASSERT_EQ(served.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& f = lines[i];
    const auto& row = served[i];
    ASSERT_EQ(row.size(), 12u);
    for (int k : {0, 6, 8}) ASSERT_EQ(row[k].get<int64_t>(), std::stoll(f[k])) << i << ":" << k;
    for (int k : {1, 2, 3, 4, 5, 9}) ASSERT_EQ(row[k].get<std::string>(), f[k]) << i << ":" << k;
    for (int k : {7, 10}) {
      std::string v = row[k].get<std::string>();
      ASSERT_EQ(std::strtod(v.c_str(), nullptr), std::strtod(f[k].c_str(), nullptr)) << i;
      ASSERT_EQ(v.size() - v.find('.'), 9u) << v;  // 8 decimals
    }
    ASSERT_EQ(row[11], "0");
  }
  // Real Binance daily facts: 2021-11-10 close 64882.43, high 69000.00.
  Reply d = c.Get(Klines(
      "symbol=BTCUSDT&interval=1d&startTime=" + std::to_string(Ms(2021, 11, 10)) + "&limit=1"));
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.Json()[0][2], "69000.00000000");
  EXPECT_EQ(d.Json()[0][4], "64882.43000000");
  EXPECT_EQ(d.Json()[0][6], Ms(2021, 11, 11) - 1);
}

TEST_F(ReplayTest, DefaultStartIsTheEndOfTheData) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->klines_loaded(), kRows1m);
  EXPECT_EQ(ex->Describe(), std::vector<std::string>{"BTCUSDT 1m: 61272 klines "
                                                     "2021-04-02T00:00:00Z..2021-05-14T20:25:00Z"});
  EXPECT_EQ(ex->ExchangeNow(), (kLastOpenMs + 60000) * 1000);
  EXPECT_EQ(ex->url(), "http://127.0.0.1:" + std::to_string(ex->port()));
  Client c(ex->port());
  Reply t = c.Get("/api/v3/time");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.body, "{\"serverTime\":" + std::to_string(kLastOpenMs + 60000) + "}");
  Reply p = c.Get("/api/v3/ping");
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.body, "{}");
  EXPECT_EQ(p.Header("x-mbx-used-weight-1m"), "2");  // time 1 + ping 1

  // Neither startTime nor endTime: the newest 500 (the default limit).
  Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1m"));
  ASSERT_EQ(r.status, 200);
  std::vector<int64_t> ot = OpenTimes(r);
  ASSERT_EQ(ot.size(), 500u);
  EXPECT_EQ(ot.back(), kLastOpenMs);
  EXPECT_EQ(ot.front(), kLastOpenMs - 499 * 60000);
  EXPECT_EQ(ex->Counters().klines_served, 500);
}

TEST_F(ReplayTest, LimitStartTimeAndEndTimeSemantics) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  Client c(ex->port());
  const int64_t t = Ms(2021, 4, 10, 12, 0);
  const std::string ts = std::to_string(t);

  // startTime: the oldest from startTime; an unaligned startTime starts at the next open.
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=3&startTime=" + ts))),
            (std::vector<int64_t>{t, t + 60000, t + 120000}));
  EXPECT_EQ(OpenTimes(c.Get(
                Klines("symbol=BTCUSDT&interval=1m&limit=2&startTime=" + std::to_string(t + 1)))),
            (std::vector<int64_t>{t + 60000, t + 120000}));
  // The same in microseconds (16 digits).
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=3&startTime=" +
                                   std::to_string(t * 1000)))),
            (std::vector<int64_t>{t, t + 60000, t + 120000}));
  // endTime only: the newest up to endTime, inclusive on open_time.
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=3&endTime=" + ts))),
            (std::vector<int64_t>{t - 120000, t - 60000, t}));
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=2&endTime=" +
                                   std::to_string(t * 1000 + 59999999)))),
            (std::vector<int64_t>{t - 60000, t}));
  // Both: from startTime, never past endTime.
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&startTime=" + ts +
                                   "&endTime=" + std::to_string(t + 120000)))),
            (std::vector<int64_t>{t, t + 60000, t + 120000}));
  // Before the data, and after it.
  Reply before = c.Get(Klines("symbol=BTCUSDT&interval=1m&endTime=1500000000000"));
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(before.body, "[]");

  // limit 1000 is the maximum.
  Reply big = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1000&startTime=" + ts));
  ASSERT_EQ(big.status, 200);
  EXPECT_EQ(big.Json().size(), 1000u);
  for (const char* bad : {"1001", "0"}) {
    Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=" + std::string(bad)));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"({"code":-1130,"msg":"Data sent for parameter 'limit' is not valid."})");
    EXPECT_EQ(r.Header("x-mbx-used-weight-1m"), std::to_string(ex->Log().back().used_weight));
  }
  Reply abc = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=abc"));
  EXPECT_EQ(abc.status, 400);
  EXPECT_EQ(
      abc.body,
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."})");
  Reply order = c.Get(Klines("symbol=BTCUSDT&interval=1m&startTime=2000&endTime=1000"));
  EXPECT_EQ(order.status, 400);
  EXPECT_EQ(order.body, R"({"code":-1023,"msg":"Start time is greater than end time."})");
}

TEST_F(ReplayTest, OutageIsAbsentFromAResponseSpanningIt) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  Client c(ex->port());
  // 2021-04-20 01:00..05:00: 241 minutes, of which 02:00..04:29 (150) were never traded.
  Reply r = c.Get(Klines(
      "symbol=BTCUSDT&interval=1m&limit=1000&startTime=" + std::to_string(Ms(2021, 4, 20, 1, 0)) +
      "&endTime=" + std::to_string(Ms(2021, 4, 20, 5, 0))));
  ASSERT_EQ(r.status, 200);
  std::vector<int64_t> ot = OpenTimes(r);
  EXPECT_EQ(ot.size(), 91u);
  EXPECT_EQ(ot.front(), Ms(2021, 4, 20, 1, 0));
  EXPECT_EQ(ot.back(), Ms(2021, 4, 20, 5, 0));
  for (int64_t t : ot) EXPECT_FALSE(t >= Ms(2021, 4, 20, 2, 0) && t < Ms(2021, 4, 20, 4, 30)) << t;
  auto it = std::find(ot.begin(), ot.end(), Ms(2021, 4, 20, 1, 59));
  ASSERT_NE(it, ot.end());
  EXPECT_EQ(*(it + 1), Ms(2021, 4, 20, 4, 30));
  EXPECT_EQ((*(r.Json().begin() + (it - ot.begin()) + 1))[1], "54764.13000000");
}

TEST_F(ReplayTest, RequestErrorsAreBinanceErrors) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  Client c(ex->port());
  auto expect = [&](const std::string& target, int status, const std::string& body) {
    Reply r = c.Get(target);
    EXPECT_EQ(r.status, status) << target;
    EXPECT_EQ(r.body, body) << target;
    EXPECT_FALSE(r.Header("x-mbx-used-weight-1m").empty()) << target;
  };
  expect(Klines("symbol=XRPUSDT&interval=1m"), 400, R"({"code":-1121,"msg":"Invalid symbol."})");
  expect(Klines("symbol=BTCUSDT&interval=7m"), 400, R"({"code":-1120,"msg":"Invalid interval."})");
  expect(
      Klines("interval=1m"), 400,
      R"({"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."})");
  expect(
      Klines("symbol=&interval=1m"), 400,
      R"({"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."})");
  expect(
      Klines("symbol=BTCUSDT"), 400,
      R"({"code":-1102,"msg":"Mandatory parameter 'interval' was not sent, was empty/null, or malformed."})");
  expect(
      Klines("symbol=btcusdt&interval=1m"), 400,
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."})");
  expect(
      Klines("symbol=BTCUSDT&interval=1m&startTime=yesterday"), 400,
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'."})");
  expect(Klines("symbol=BTCUSDT&interval=1m&symbol=ETHUSDT"), 400,
         R"({"code":-1101,"msg":"Duplicate values for a parameter detected."})");
  // A Binance interval with no data loaded: the exchange has no klines for it.
  expect(Klines("symbol=BTCUSDT&interval=1h"), 200, "[]");
  Reply nf = c.Get("/api/v3/nosuch");
  EXPECT_EQ(nf.status, 404);
}

TEST_F(ReplayTest, MicrosecondHeaderSwitchesTimestamps) {
  auto ex = Make({Btc1m()});
  ASSERT_TRUE(ex);
  Client c(ex->port());
  for (const char* unit : {"MICROSECOND", "microsecond"}) {
    Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1&startTime=1617321600000"),
                    {{"X-MBX-TIME-UNIT", unit}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Json()[0][0], 1617321600000000);
    EXPECT_EQ(r.Json()[0][6], 1617321659999999);
    EXPECT_EQ(r.Json()[0][1], "58720.45000000");
    Reply t = c.Get("/api/v3/time", {{"X-MBX-TIME-UNIT", unit}});
    EXPECT_EQ(t.Json()["serverTime"], (kLastOpenMs + 60000) * 1000);
  }
  Reply ms = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1&startTime=1617321600000"),
                   {{"X-MBX-TIME-UNIT", "MILLISECOND"}});
  EXPECT_EQ(ms.Json()[0][0], 1617321600000);
}

TEST_F(ReplayTest, ServesTheOpenCandleAndNothingAfterNow) {
  ReplayOptions opt;
  opt.start = MicrosFromCivil(2021, 4, 10, 12, 0, 30);  // mid-candle
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=2"));
  ASSERT_EQ(r.status, 200);
  auto j = r.Json();
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1][0], Ms(2021, 4, 10, 12, 0));
  EXPECT_GT(j[1][6].get<int64_t>(), Ms(2021, 4, 10, 12, 0, 30));  // still open
  EXPECT_EQ(j[0][0], Ms(2021, 4, 10, 11, 59));
  // A startTime in the future gives nothing; an endTime in the future stops at now.
  Reply future = c.Get(
      Klines("symbol=BTCUSDT&interval=1m&startTime=" + std::to_string(Ms(2021, 4, 10, 12, 1))));
  EXPECT_EQ(future.body, "[]");
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1&endTime=" +
                                   std::to_string(Ms(2021, 4, 11))))),
            std::vector<int64_t>{Ms(2021, 4, 10, 12, 0)});
  // Exchange time follows the clock.
  clock_.Advance(30 * kMicrosPerSecond);
  EXPECT_EQ(ex->ExchangeNow(), MicrosFromCivil(2021, 4, 10, 12, 1, 0));
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1"))),
            std::vector<int64_t>{Ms(2021, 4, 10, 12, 1)});
}

TEST_F(ReplayTest, SpeedScalesExchangeTime) {
  ReplayOptions opt;
  opt.start = MicrosFromCivil(2021, 4, 10, 12, 0, 0);
  opt.speed = 60;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  clock_.Advance(2 * kMicrosPerSecond);
  EXPECT_EQ(ex->ExchangeNow(), MicrosFromCivil(2021, 4, 10, 12, 2, 0));
  Client c(ex->port());
  EXPECT_EQ(OpenTimes(c.Get(Klines("symbol=BTCUSDT&interval=1m&limit=1"))),
            std::vector<int64_t>{Ms(2021, 4, 10, 12, 2)});
}

TEST_F(ReplayTest, ExchangeInfoListsTheLoadedSymbols) {
  auto ex = Make({Btc1m(), Eth1m()});
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->Describe(),
            (std::vector<std::string>{
                "BTCUSDT 1m: 61272 klines 2021-04-02T00:00:00Z..2021-05-14T20:25:00Z",
                "ETHUSDT 1m: 61273 klines 2021-04-02T00:00:00Z..2021-05-14T20:26:00Z"}));
  Client c(ex->port());
  Reply r = c.Get("/api/v3/exchangeInfo");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-mbx-used-weight-1m"), "20");
  auto j = r.Json();
  EXPECT_EQ(j["timezone"], "UTC");
  EXPECT_EQ(j["serverTime"], kLastOpenMs + 120000);  // after ETHUSDT's last kline, one later
  EXPECT_EQ(j["rateLimits"], nlohmann::json::parse(R"([{"rateLimitType":"REQUEST_WEIGHT",
            "interval":"MINUTE","intervalNum":1,"limit":6000}])"));
  ASSERT_EQ(j["symbols"].size(), 2u);
  EXPECT_EQ(j["symbols"][0]["symbol"], "BTCUSDT");
  EXPECT_EQ(j["symbols"][0]["status"], "TRADING");
  EXPECT_EQ(j["symbols"][0]["baseAsset"], "BTC");
  EXPECT_EQ(j["symbols"][0]["quoteAsset"], "USDT");
  EXPECT_EQ(j["symbols"][1]["symbol"], "ETHUSDT");
  EXPECT_EQ(j["symbols"][1]["baseAsset"], "ETH");

  Reply one = c.Get("/api/v3/exchangeInfo?symbol=ETHUSDT");
  ASSERT_EQ(one.status, 200);
  ASSERT_EQ(one.Json()["symbols"].size(), 1u);
  EXPECT_EQ(one.Json()["symbols"][0]["symbol"], "ETHUSDT");
  // symbols=["ETHUSDT","BTCUSDT"], URL-encoded.
  Reply two = c.Get("/api/v3/exchangeInfo?symbols=%5B%22ETHUSDT%22,%22BTCUSDT%22%5D");
  ASSERT_EQ(two.status, 200) << two.body;
  ASSERT_EQ(two.Json()["symbols"].size(), 2u);
  EXPECT_EQ(two.Json()["symbols"][0]["symbol"], "ETHUSDT");
  Reply bad = c.Get("/api/v3/exchangeInfo?symbol=XRPUSDT");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"code":-1121,"msg":"Invalid symbol."})");
  Reply bad2 = c.Get("/api/v3/exchangeInfo?symbols=%5B%22ETHUSDT%22,%22XRPUSDT%22%5D");
  EXPECT_EQ(bad2.status, 400);
  EXPECT_EQ(bad2.body, R"({"code":-1121,"msg":"Invalid symbol."})");
}

// ---------------------------------------------------------------------------------------------
// Rate limits

TEST_F(ReplayTest, WeightLimitGives429UntilTheMinuteEnds) {
  ReplayOptions opt;
  opt.weight_limit = 10;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  Client c(ex->port());
  const std::string k = Klines("symbol=BTCUSDT&interval=1m&limit=1");
  for (int i = 1; i <= 5; ++i) {
    Reply r = c.Get(k);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("x-mbx-used-weight-1m"), std::to_string(2 * i));
    EXPECT_TRUE(r.Header("retry-after").empty());
  }
  clock_.Advance(5 * kMicrosPerSecond);  // 15 s into the minute
  Reply r = c.Get(k);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "45");
  EXPECT_EQ(r.Header("x-mbx-used-weight-1m"), "10");
  EXPECT_EQ(
      r.body,
      R"({"code":-1003,"msg":"Too much request weight used; current limit is 10 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."})");
  // Lighter endpoints are limited too while the window lasts.
  EXPECT_EQ(c.Get("/api/v3/ping").status, 429);
  clock_.Advance(45 * kMicrosPerSecond - 1);
  EXPECT_EQ(c.Get("/api/v3/ping").Header("retry-after"), "1");
  clock_.Advance(1);  // the next minute
  Reply ok = c.Get(k);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.Header("x-mbx-used-weight-1m"), "2");
  ReplayCounters n = ex->Counters();
  EXPECT_EQ(n.status_429, 3);
  EXPECT_EQ(n.requests, 9);
  EXPECT_EQ(n.earned_bans, 0);
  std::vector<RequestRecord> log = ex->Log();
  ASSERT_EQ(log.size(), 9u);
  EXPECT_EQ(log[0].at, kT0);
  EXPECT_EQ(log[0].target, k);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[5].status, 429);
  EXPECT_EQ(log[5].used_weight, 10);
  EXPECT_EQ(log[8].at, kT0 + 50 * kMicrosPerSecond);
}

TEST_F(ReplayTest, IgnoringRetryAfterEarnsABan) {
  ReplayOptions opt;
  opt.weight_limit = 10;
  opt.ban_threshold = 3;
  opt.ban_seconds = 120;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  Client c(ex->port());
  const std::string k = Klines("symbol=BTCUSDT&interval=1m&limit=1");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.Get(k).status, 200);
  EXPECT_EQ(c.Get(k).status, 429);                                   // the limit
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.Get(k).status, 429) << i;  // ignored, tolerated
  Reply ban = c.Get(k);  // the 4th request inside the Retry-After window
  EXPECT_EQ(ban.status, 418);
  EXPECT_EQ(ban.Header("retry-after"), "120");
  const Micros until = kT0 + 120 * kMicrosPerSecond;
  EXPECT_EQ(ban.body, R"({"code":-1003,"msg":"Way too much request weight used; IP banned until )" +
                          std::to_string(until / 1000) +
                          R"(. Please use WebSocket Streams for live updates to avoid bans."})");
  // The ban outlives the minute; every request gets 418.
  clock_.Advance(60 * kMicrosPerSecond);
  Reply still = c.Get("/api/v3/ping");
  EXPECT_EQ(still.status, 418);
  EXPECT_EQ(still.Header("retry-after"), "60");
  clock_.Set(until);
  EXPECT_EQ(c.Get(k).status, 200);
  ReplayCounters n = ex->Counters();
  EXPECT_EQ(n.earned_bans, 1);
  EXPECT_EQ(n.status_418, 2);
  EXPECT_EQ(n.status_429, 4);
}

// ---------------------------------------------------------------------------------------------
// Faults

ReplayOptions WithFault(const std::string& spec) {
  ReplayOptions opt;
  auto f = FaultSpec::Parse(spec);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (f.ok()) opt.faults = *f;
  return opt;
}

const char kOneKline[] = "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3";

TEST_F(ReplayTest, Fault429IsABurstWithRetryAfter) {
  ReplayOptions opt = WithFault("429=1");
  opt.faults.retry_after_seconds = 2;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(kOneKline);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "2");
  EXPECT_EQ(r.Json()["code"], -1003);
  EXPECT_EQ(c.Get("/api/v3/ping").status, 429);  // the burst covers every endpoint
  clock_.Advance(2 * kMicrosPerSecond);
  EXPECT_EQ(c.Get("/api/v3/ping").status, 200);
  EXPECT_EQ(ex->Counters().faults.at("429"), 1);
  EXPECT_EQ(ex->Log()[0].fault, "429");
}

TEST_F(ReplayTest, Fault418IsABan) {
  ReplayOptions opt = WithFault("418=1");
  opt.faults.ban_seconds = 30;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(kOneKline);
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(r.Header("retry-after"), "30");
  EXPECT_NE(r.Json()["msg"].get<std::string>().find(
                "IP banned until " + std::to_string((kT0 + 30 * kMicrosPerSecond) / 1000) + "."),
            std::string::npos);
  EXPECT_EQ(c.Get("/api/v3/time").status, 418);
  clock_.Advance(30 * kMicrosPerSecond);
  EXPECT_EQ(c.Get("/api/v3/time").status, 200);
  EXPECT_EQ(ex->Counters().status_418, 2);
  EXPECT_EQ(ex->Counters().earned_bans, 0);
}

TEST_F(ReplayTest, Fault5xxGivesServerErrors) {
  auto ex = Make({Btc1m()}, WithFault("5xx=1"));
  ASSERT_TRUE(ex);
  Client c(ex->port());
  std::set<int> seen;
  for (int i = 0; i < 20; ++i) {
    Reply r = c.Get(kOneKline);
    EXPECT_TRUE(r.status == 500 || r.status == 502 || r.status == 503) << r.status;
    EXPECT_FALSE(r.body.empty());
    EXPECT_FALSE(r.error) << r.error.message();
    seen.insert(r.status);
  }
  EXPECT_GE(seen.size(), 2u);
  EXPECT_EQ(c.Get("/api/v3/ping").status, 200);  // only klines are faulted
  EXPECT_EQ(ex->Counters().faults.at("5xx"), 20);
}

TEST_F(ReplayTest, FaultTruncateSendsHalfTheBody) {
  auto ex = Make({Btc1m()}, WithFault("truncate=1"));
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(kOneKline);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error, http::error::partial_message) << r.error.message();
  int64_t announced = std::stoll(r.Header("content-length"));
  EXPECT_GT(announced, 100);
  EXPECT_EQ(static_cast<int64_t>(r.body.size()), announced / 2);
  EXPECT_EQ(ex->Log()[0].fault, "truncate");
}

TEST_F(ReplayTest, FaultDropClosesWithoutAResponse) {
  auto ex = Make({Btc1m()}, WithFault("drop=1"));
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(kOneKline);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.error, http::error::end_of_stream) << r.error.message();
  EXPECT_EQ(c.Get("/api/v3/ping").status, 200);  // a new connection works
  ASSERT_EQ(ex->Log().size(), 2u);
  EXPECT_EQ(ex->Log()[0].status, 0);
  EXPECT_EQ(ex->Log()[0].fault, "drop");
  EXPECT_EQ(ex->Counters().klines_served, 0);
}

TEST_F(ReplayTest, FaultCorruptCutsTheJson) {
  auto clean = Make({Btc1m()});
  ASSERT_TRUE(clean);
  std::string full = Client(clean->port()).Get(kOneKline).body;
  auto ex = Make({Btc1m()}, WithFault("corrupt=1"));
  ASSERT_TRUE(ex);
  Client c(ex->port());
  Reply r = c.Get(kOneKline);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.body, full.substr(0, full.size() / 2));
  EXPECT_FALSE(nlohmann::json::accept(r.body));
  EXPECT_EQ(c.Get(kOneKline).status, 200);  // the connection stays usable
}

TEST_F(ReplayTest, FaultSlowHoldsTheResponseBack) {
  ReplayOptions opt = WithFault("slow=1");
  opt.faults.slow_delay = 600'000;  // 0.6 s of real time
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  // A client timeout is the subject here: 100 ms against a hold of 600 ms of real time.
  Client impatient(ex->port());
  Reply r = impatient.Get(kOneKline, {}, std::chrono::milliseconds(100));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, beast::error::timeout) << r.error.message();
  Client patient(ex->port());
  Reply ok = patient.Get(kOneKline);  // waits as long as the server holds it back
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.Json().size(), 3u);
  EXPECT_EQ(ex->Counters().faults.at("slow"), 2);
}

TEST_F(ReplayTest, FaultDrawsAreSeeded) {
  auto run = [&](uint64_t seed) {
    ReplayOptions opt = WithFault("5xx=0.3,drop=0.3");
    opt.faults.seed = seed;
    auto ex = Make({Btc1m()}, opt);
    Client c(ex->port());
    std::string statuses;
    for (int i = 0; i < 30; ++i) statuses += std::to_string(c.Get(kOneKline).status) + " ";
    return statuses;
  };
  std::string a = run(7);
  EXPECT_EQ(a, run(7));
  EXPECT_NE(a, run(8));
  EXPECT_NE(a.find("200"), std::string::npos);
  EXPECT_NE(a.find(" 0 "), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Loading

TEST_F(ReplayTest, ALakeServesWhatItsFilesServe) {
  TempDir tmp;
  std::string lake = (tmp / "lake").string();
  auto imp = RunCli({"--data", lake, "import", Btc1m(), Btc1d()});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto from_files = Make({Btc1m(), Btc1d()});
  auto from_lake = Make({lake});
  ASSERT_TRUE(from_files && from_lake);
  EXPECT_EQ(from_lake->Describe(), from_files->Describe());
  EXPECT_EQ(from_lake->klines_loaded(), from_files->klines_loaded());
  EXPECT_EQ(from_lake->ExchangeNow(), from_files->ExchangeNow());
  Client a(from_files->port()), b(from_lake->port());
  for (const std::string& target :
       {Klines("symbol=BTCUSDT&interval=1m&startTime=1617321600000&limit=1000"),
        Klines("symbol=BTCUSDT&interval=1m&startTime=" + std::to_string(Ms(2021, 4, 20)) +
               "&limit=1000"),
        Klines("symbol=BTCUSDT&interval=1m&endTime=" + std::to_string(kLastOpenMs)),
        Klines("symbol=BTCUSDT&interval=1d&limit=1000"),
        Klines("symbol=BTCUSDT&interval=1d&startTime=0&limit=1000"), std::string("/api/v3/time"),
        std::string("/api/v3/exchangeInfo")}) {
    Reply x = a.Get(target), y = b.Get(target);
    EXPECT_EQ(x.status, 200) << target;
    EXPECT_EQ(x.body, y.body) << target;
  }
}

TEST_F(ReplayTest, FirstOccurrenceWinsAndBadRowsAreSkipped) {
  TempDir tmp;
  // Sorted input order: a before b. 00:01 is in both; b's row at 00:02 is bad (high < open).
  WriteText(tmp / "XYZUSDT-1m-a.csv",
            "open_time,open,high,low,close,volume\n"
            "1735689600000,1.5,2,1,1.75,10\n"
            "1735689660000,1.25,2,1,1.5,11\n");
  WriteText(tmp / "XYZUSDT-1m-b.csv",
            "open_time,open,high,low,close,volume\n"
            "1735689660000,9,9,9,9,9\n"
            "1735689720000,5,4,1,2,3\n"
            "1735689780000,0.1,0.30000000000000004,0.1,0.2,1e-9\n");
  auto ex = Make({(tmp / "XYZUSDT-1m-b.csv").string(), (tmp / "XYZUSDT-1m-a.csv").string()});
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->klines_loaded(), 3);
  Client c(ex->port());
  Reply r = c.Get(Klines("symbol=XYZUSDT&interval=1m&startTime=0"));
  ASSERT_EQ(r.status, 200);
  auto j = r.Json();
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[1][0], 1735689660000);
  EXPECT_EQ(j[1][1], "1.25000000");  // a's row, not b's
  EXPECT_EQ(j[2][0], 1735689780000);
  // Values that %.8f would change are served in their shortest exact form.
  EXPECT_EQ(j[2][2], "0.30000000000000004");
  EXPECT_EQ(j[2][5], "1e-09");
  EXPECT_EQ(j[2][1], "0.10000000");
}

TEST(ReplayCreateTest, RejectsMissingDataAndBadOptions) {
  FakeClock clock(kT0);
  auto missing = ReplayExchange::Create({"/nonexistent/klines.csv"}, clock, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "no such file or directory: '/nonexistent/klines.csv'");
  ReplayOptions opt;
  opt.speed = 0;
  auto slow = ReplayExchange::Create({Btc1d()}, clock, opt);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().message(), "replay speed must be positive, got 0");
}

TEST_F(ReplayTest, ConcurrentClientsAreAllServed) {
  auto ex = Make({Btc1m(), Btc1d()});
  ASSERT_TRUE(ex);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Client c(ex->port());
      for (int i = 0; i < 10; ++i) {
        Reply r = c.Get(
            Klines("symbol=BTCUSDT&interval=" + std::string(t % 2 ? "1m" : "1d") + "&limit=1000"));
        if (r.status == 200 && r.Json().size() == 1000) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(ex->Counters().klines_served, 40000);
  EXPECT_EQ(ex->Counters().requests, 40);
}

TEST_F(ReplayTest, StopClosesOpenConnections) {
  auto ex = Make({Btc1d()});
  ASSERT_TRUE(ex);
  Client idle(ex->port());
  ASSERT_EQ(idle.Get("/api/v3/ping").status, 200);  // a kept-alive connection stays open
  ex->Stop();
  ex->Stop();  // idempotent
  Reply r = idle.Get("/api/v3/ping");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.error);
}

// ---------------------------------------------------------------------------------------------
// WebSocket streams

// A WebSocket test client on its own io_context. Its waits have no deadline: they last exactly as
// long as the server takes to send what is awaited (or to end the connection), so a slow machine
// only makes a test slower; a server that never does hangs the test until its ctest TIMEOUT, which
// fails it. Only ReadFor() runs for a fixed real time: a check that nothing arrives.
class WsClient {
 public:
  WsClient() : ws_(ioc_) {
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) ++pings;
      if (stop_ && stop_()) ioc_.stop();
    });
  }

  // Connects and upgrades. On a refusal the error is websocket::error::upgrade_declined and
  // `response` holds the server's answer.
  beast::error_code Connect(int port, const std::string& target) {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
    if (ec) return ec;
    ws_.read_message_max(1 << 20);
    ws_.handshake(response, "127.0.0.1", target, ec);
    return ec;
  }

  // Reads messages into `messages` until `done()` holds (checked after every message and control
  // frame) or the connection ends (`error` set). Returns done().
  bool ReadUntil(const std::function<bool()>& done) {
    if (done()) return true;
    if (error) return false;
    stop_ = done;
    if (!reading_) StartRead();
    ioc_.restart();
    ioc_.run();  // until stopped: done() or the connection's end (a read is always pending)
    stop_ = nullptr;
    return done();
  }
  bool ReadMessages(size_t n) {
    return ReadUntil([this, n] { return messages.size() >= n; });
  }
  // Reads until the connection ends.
  void ReadToEnd() {
    ReadUntil([this] { return static_cast<bool>(error); });
  }
  // Reads whatever arrives during `d` of real time (the read stays pending for the next call);
  // `timed_out`: the connection was still open at the end. For checks that nothing arrives:
  // silence can only be waited for, and a slow machine can only make such a check pass.
  void ReadFor(std::chrono::milliseconds d) {
    if (error) return;
    if (!reading_) StartRead();
    ioc_.restart();
    ioc_.run_for(d);
    timed_out = !error;
  }
  // A close handshake (normal closure).
  void Close() {
    beast::error_code ec;
    bool done = false;
    ws_.async_close(websocket::close_code::normal, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    while (!done) {  // run_one(): the pending read's handler may stop the loop first
      ioc_.restart();
      if (ioc_.run_one() == 0) break;
    }
    EXPECT_TRUE(done);
    EXPECT_FALSE(ec) << ec.message();
  }
  websocket::stream<beast::tcp_stream>& ws() { return ws_; }

  websocket::response_type response;
  std::vector<std::string> messages;
  int pings = 0;
  beast::error_code error;  // how the connection ended
  bool timed_out = false;

 private:
  void StartRead() {
    reading_ = true;
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      reading_ = false;
      if (ec) {
        error = ec;
        ioc_.stop();
        return;
      }
      messages.push_back(beast::buffers_to_string(buf_.data()));
      buf_.consume(buf_.size());
      if (stop_ && stop_()) {
        ioc_.stop();
        return;
      }
      StartRead();
    });
  }

  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
  bool reading_ = false;
  std::function<bool()> stop_;
};

// The 1m klines of a file, by open_time (us).
std::map<Micros, std::array<double, 5>> FileRows(const std::string& path) {
  auto parsed = ingest::ParseInput(path, ingest::ParseOptions{});
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::map<Micros, std::array<double, 5>> out;
  if (!parsed.ok()) return out;
  for (const auto& f : *parsed) {
    const auto& b = f.batch;
    for (size_t i = 0; i < b.size(); ++i) {
      out.emplace(b.open_time[i],
                  std::array<double, 5>{b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i]});
    }
  }
  return out;
}

std::string Dec8(double v) { return fmt::format("{:.8f}", v); }

ReplayOptions WsOptionsAt(Micros start) {
  ReplayOptions opt;
  opt.start = start;
  return opt;
}

TEST(WsFaultSpecTest, ParsesGoodSpecsAndNamesBadOnes) {
  auto f =
      WsFaultSpec::Parse("disconnect_every=5s,stall_after=250ms,malformed=0.01,duplicate=0.02");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->disconnect_every, 5 * kMicrosPerSecond);
  EXPECT_EQ(f->stall_after, 250'000);
  EXPECT_EQ(f->malformed, 0.01);
  EXPECT_EQ(f->duplicate, 0.02);
  EXPECT_TRUE(f->any());
  auto m = WsFaultSpec::Parse(" stall_after = 2m ");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stall_after, 2 * kMicrosPerMinute);
  EXPECT_EQ(m->disconnect_every, 0);
  ASSERT_TRUE(WsFaultSpec::Parse("none").ok());
  EXPECT_FALSE(WsFaultSpec::Parse("none")->any());
  EXPECT_FALSE(WsFaultSpec::Parse("")->any());

  auto msg = [](std::string_view spec) {
    auto r = WsFaultSpec::Parse(spec);
    EXPECT_FALSE(r.ok()) << spec;
    return r.status().message();
  };
  EXPECT_EQ(msg("stall"), "ws fault spec: expected <fault>=<value>, got 'stall'");
  EXPECT_EQ(msg("drop=0.1"),
            "ws fault spec: unknown fault 'drop' (known: disconnect_every, stall_after, malformed, "
            "duplicate)");
  EXPECT_EQ(msg("stall_after=10"),
            "ws fault spec: duration of 'stall_after' must be a positive number with a unit ms, s, "
            "m or h, got '10'");
  EXPECT_EQ(msg("disconnect_every=0s"),
            "ws fault spec: duration of 'disconnect_every' must be a positive number with a unit "
            "ms, s, m or h, got '0s'");
  EXPECT_EQ(msg("malformed=2"),
            "ws fault spec: probability of 'malformed' must be a number in [0, 1], got '2'");
  EXPECT_EQ(msg("duplicate=0.1,duplicate=0.2"), "ws fault spec: 'duplicate' given twice");
  EXPECT_EQ(msg("malformed=0.6,duplicate=0.6"),
            "ws fault spec: probabilities sum to 1.2 (at most 1)");
}

// The first message of a raw kline stream, field for field; then an hour of exchange time: one
// final per minute, in order, with the file's values, and nothing after exchange now.
TEST_F(ReplayTest, KlineStreamFinalsOfAnHourAreTheFileRows) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10, 0, 0, 30);
  auto ex = Make({Btc1m()}, WsOptionsAt(t0));
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_TRUE(c.ReadMessages(1));
  // Opened at 00:00:30: the open candle of 00:00 at once, "x":false, its recorded values.
  const auto rows = FileRows(Btc1m());
  const Micros m0 = MicrosFromCivil(2021, 4, 10);
  const auto& r0 = rows.at(m0);
  EXPECT_EQ(c.messages[0],
            fmt::format("{{\"e\":\"kline\",\"E\":{},\"s\":\"BTCUSDT\",\"k\":{{\"t\":{},\"T\":{},"
                        "\"s\":\"BTCUSDT\",\"i\":\"1m\",\"f\":0,\"L\":0,\"o\":\"{}\",\"c\":\"{}\","
                        "\"h\":\"{}\",\"l\":\"{}\",\"v\":\"{}\",\"n\":0,\"x\":false,"
                        "\"q\":\"0.00000000\",\"V\":\"0.00000000\",\"Q\":\"0.00000000\","
                        "\"B\":\"0\"}}}}",
                        t0 / 1000, m0 / 1000, m0 / 1000 + 59999, Dec8(r0[0]), Dec8(r0[3]),
                        Dec8(r0[1]), Dec8(r0[2]), Dec8(r0[4])));

  // One hour later (exchange time 01:00:30): the finals of 00:00..00:59, then the open 01:00.
  clock_.Advance(kMicrosPerHour);
  const Micros m60 = m0 + kMicrosPerHour;
  ASSERT_TRUE(c.ReadUntil([&] {
    return nlohmann::json::parse(c.messages.back())["k"]["t"].get<int64_t>() == m60 / 1000;
  }));
  std::vector<Micros> finals;
  for (size_t i = 1; i < c.messages.size(); ++i) {
    auto j = nlohmann::json::parse(c.messages[i]);
    const auto& k = j["k"];
    const Micros t = k["t"].get<int64_t>() * 1000;
    if (!k["x"].get<bool>()) {
      EXPECT_EQ(i, c.messages.size() - 1) << "an update before the last final: " << c.messages[i];
      EXPECT_EQ(j["E"].get<int64_t>(), (t0 + kMicrosPerHour) / 1000);
      continue;
    }
    finals.push_back(t);
    const auto& r = rows.at(t);
    EXPECT_EQ(k["o"], Dec8(r[0])) << t;
    EXPECT_EQ(k["h"], Dec8(r[1])) << t;
    EXPECT_EQ(k["l"], Dec8(r[2])) << t;
    EXPECT_EQ(k["c"], Dec8(r[3])) << t;
    EXPECT_EQ(k["v"], Dec8(r[4])) << t;
    EXPECT_EQ(j["E"].get<int64_t>(), t / 1000 + 60000);  // the instant the candle closed
    EXPECT_EQ(k["T"].get<int64_t>(), t / 1000 + 59999);
    EXPECT_LE(j["E"].get<int64_t>(), ex->ExchangeNow() / 1000);
  }
  std::vector<Micros> expected;
  for (auto it = rows.lower_bound(m0); it != rows.end() && it->first < m60; ++it) {
    expected.push_back(it->first);
  }
  EXPECT_EQ(expected.size(), 60u);
  EXPECT_EQ(finals, expected);

  // 1 s later nothing is due (updates at most every 2 s, the close at 01:01:00); 1.5 s after
  // that the next update, so the next message must be that very update.
  clock_.Advance(kMicrosPerSecond);
  clock_.Advance(1'500'000);
  const size_t n = c.messages.size();
  ASSERT_TRUE(c.ReadMessages(n + 1));
  auto j = nlohmann::json::parse(c.messages[n]);
  EXPECT_EQ(j["E"].get<int64_t>(), (t0 + kMicrosPerHour + 2'500'000) / 1000);
  EXPECT_EQ(j["k"]["t"].get<int64_t>(), m60 / 1000);
  EXPECT_FALSE(j["k"]["x"].get<bool>());
  c.Close();
  ex->Stop();
  EXPECT_EQ(ex->Counters().ws_connections, 1);
  EXPECT_EQ(ex->Counters().ws_finals, 60);
}

// Updates while a candle is open come at most every ws_update_interval of exchange time.
TEST_F(ReplayTest, KlineUpdatesAreSpacedByTheUpdateInterval) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10, 0, 0, 0);
  ReplayOptions opt = WsOptionsAt(t0);
  opt.ws_update_interval = 5 * kMicrosPerSecond;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_TRUE(c.ReadMessages(1));
  // Exchange time in 1 s steps over 2 minutes; each step waits for what it makes due.
  std::vector<std::pair<int64_t, bool>> seen;  // (E, x)
  for (int s = 1; s <= 120; ++s) {
    clock_.Advance(kMicrosPerSecond);
    if (s % 5 == 0) {
      // Due: an update at every 5 s, plus the final at the minute.
      size_t want = c.messages.size() + (s % 60 == 0 ? 2 : 1);
      ASSERT_TRUE(c.ReadMessages(want)) << s;
    }
  }
  for (const auto& m : c.messages) {
    auto j = nlohmann::json::parse(m);
    seen.emplace_back(j["E"].get<int64_t>(), j["k"]["x"].get<bool>());
  }
  ASSERT_EQ(seen.size(), 1u + 24 + 2);
  const int64_t e0 = t0 / 1000;
  EXPECT_EQ(seen[0], std::make_pair(e0, false));
  EXPECT_EQ(seen[11], std::make_pair(e0 + 55000, false));
  EXPECT_EQ(seen[12], std::make_pair(e0 + 60000, true));   // final of 00:00
  EXPECT_EQ(seen[13], std::make_pair(e0 + 60000, false));  // 00:01 opens
  EXPECT_EQ(seen[25], std::make_pair(e0 + 120000, true));
  EXPECT_EQ(seen[26], std::make_pair(e0 + 120000, false));
  c.Close();
}

// Combined streams wrap each event with its stream name and merge the streams in time order;
// timeUnit=MICROSECOND switches every timestamp.
TEST_F(ReplayTest, CombinedStreamsWrapAndMergeInTimeOrder) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10, 0, 0, 0);
  auto ex = Make({Btc1m(), Eth1m()}, WsOptionsAt(t0));
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(),
                         "/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/btcusdt@trade&"
                         "timeUnit=MICROSECOND"));
  ASSERT_TRUE(c.ReadMessages(2));
  clock_.Advance(3 * kMicrosPerMinute);
  // 3 finals and one update per symbol.
  ASSERT_TRUE(c.ReadMessages(2 + 8));
  std::vector<std::pair<int64_t, std::string>> order;
  for (const auto& m : c.messages) {
    ASSERT_EQ(m.rfind("{\"stream\":\"", 0), 0u) << m;
    auto j = nlohmann::json::parse(m);
    ASSERT_EQ(j.size(), 2u);
    const std::string stream = j["stream"];
    const auto& d = j["data"];
    EXPECT_EQ(stream,
              d["s"].get<std::string>() == "BTCUSDT" ? "btcusdt@kline_1m" : "ethusdt@kline_1m");
    EXPECT_EQ(d["k"]["T"].get<int64_t>(), d["k"]["t"].get<int64_t>() + kMicrosPerMinute - 1);
    order.emplace_back(d["E"].get<int64_t>(), stream);
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));
  EXPECT_EQ(order.front().first, t0);
  EXPECT_EQ(order.back().first, t0 + 3 * kMicrosPerMinute);
  c.Close();
}

TEST_F(ReplayTest, RawStreamAtMicroseconds) {
  const Micros t0 = MicrosFromCivil(2021, 4, 2, 0, 0, 30);
  auto ex = Make({Btc1m()}, WsOptionsAt(t0));
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m?timeUnit=microsecond"));
  ASSERT_TRUE(c.ReadMessages(1));
  EXPECT_EQ(
      c.messages[0],
      "{\"e\":\"kline\",\"E\":1617321630000000,\"s\":\"BTCUSDT\",\"k\":{\"t\":1617321600000000,"
      "\"T\":1617321659999999,\"s\":\"BTCUSDT\",\"i\":\"1m\",\"f\":0,\"L\":0,"
      "\"o\":\"58720.45000000\",\"c\":\"58760.34000000\",\"h\":\"58840.43000000\","
      "\"l\":\"58720.44000000\",\"v\":\"61.68567500\",\"n\":0,\"x\":false,"
      "\"q\":\"0.00000000\",\"V\":\"0.00000000\",\"Q\":\"0.00000000\",\"B\":\"0\"}}");
  c.Close();
}

TEST_F(ReplayTest, BadStreamsAreRefusedWith400) {
  auto ex = Make({Btc1m()}, WsOptionsAt(MicrosFromCivil(2021, 4, 10)));
  ASSERT_TRUE(ex);
  // (Beast's client handshake drops the body of a refusal: send the upgrade request by hand.)
  auto refused = [&](const std::string& target) -> std::string {
    WsClient c;
    EXPECT_EQ(c.Connect(ex->port(), target), websocket::error::upgrade_declined) << target;
    Reply r = Client(ex->port())
                  .Get(target, {{"Connection", "Upgrade"},
                                {"Upgrade", "websocket"},
                                {"Sec-WebSocket-Version", "13"},
                                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.Header("content-type"), "application/json;charset=UTF-8");
    return r.body;
  };
  EXPECT_EQ(refused("/ws/xyzusdt@kline_1m"), "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
  EXPECT_EQ(refused("/stream?streams=btcusdt@kline_1m/xyzusdt@trade"),
            "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
  EXPECT_EQ(refused("/ws/btcusdt@kline_7m"), "{\"code\":-1120,\"msg\":\"Invalid interval.\"}");
  EXPECT_EQ(refused("/ws/btcusdt@depth"),
            "{\"code\":2,\"msg\":\"Invalid request: unknown stream 'btcusdt@depth'\"}");
  EXPECT_EQ(refused("/stream"),
            "{\"code\":2,\"msg\":\"Invalid request: missing parameter "
            "'streams'\"}");
  EXPECT_EQ(refused("/ws/"),
            "{\"code\":2,\"msg\":\"Invalid request: no stream name in the "
            "path\"}");
  // A trade stream is accepted (and sends nothing: no trades are recorded).
  WsClient t;
  EXPECT_FALSE(t.Connect(ex->port(), "/ws/btcusdt@trade"));
  t.Close();
  // REST still works on the same port.
  EXPECT_EQ(Client(ex->port()).Get("/api/v3/ping").status, 200);
  ReplayCounters k = ex->Counters();
  EXPECT_EQ(k.ws_rejected, 12);
  EXPECT_EQ(k.ws_connections, 1);
  EXPECT_EQ(k.ws_messages, 0);
  std::vector<int> statuses;
  for (const auto& r : ex->Log()) statuses.push_back(r.status);
  EXPECT_EQ(statuses.size(), 14u);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 400), 12);
  EXPECT_EQ(statuses[12], 101);
  EXPECT_EQ(statuses[13], 200);
}

TEST_F(ReplayTest, PingsAreAnsweredAndCounted) {
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10));
  opt.ws_ping_interval = 20'000;  // 20 ms
  opt.ws_pong_timeout = 5 * kMicrosPerSecond;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient c;  // Beast answers each ping while it reads
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_TRUE(c.ReadUntil([&] { return c.pings >= 4; }));
  c.Close();  // the server reads the pongs before the close frame
  ReplayCounters k = ex->Counters();
  EXPECT_GE(k.ws_pings, 4);
  EXPECT_GE(k.ws_pongs, 3);
  EXPECT_EQ(k.ws_pong_timeouts, 0);
}

// A client that never answers pings (it upgrades, then only reads raw bytes off the socket, so
// no pong is ever sent) is disconnected after ws_pong_timeout.
TEST_F(ReplayTest, AClientThatDoesNotPongIsDisconnected) {
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10));
  opt.ws_ping_interval = 20'000;
  opt.ws_pong_timeout = 60'000;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(ex->port())));
  websocket::stream<tcp::socket&> ws(sock);
  ws.handshake("127.0.0.1", "/ws/btcusdt@kline_1m");
  const auto t0 = std::chrono::steady_clock::now();
  std::string bytes;
  beast::error_code end;
  std::array<char, 4096> chunk;
  std::function<void()> read = [&] {
    sock.async_read_some(net::buffer(chunk), [&](beast::error_code ec, size_t n) {
      bytes.append(chunk.data(), n);
      if (ec) {
        end = ec;
        return;
      }
      read();
    });
  };
  read();
  ioc.run();  // until the server ends the connection (the read chain stops at its error)
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(end, net::error::eof) << end.message();
  EXPECT_GE(waited, std::chrono::milliseconds(60));
  EXPECT_NE(bytes.find('\x89'), std::string::npos);  // ping frames (FIN + opcode 9) came
  ReplayCounters k = ex->Counters();
  EXPECT_EQ(k.ws_pong_timeouts, 1);
  EXPECT_EQ(k.ws_pongs, 0);
  EXPECT_GE(k.ws_pings, 1);
}

TEST_F(ReplayTest, MaxAgeSendsServerShutdownThenCloses) {
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10, 0, 0, 30));
  opt.ws_max_age = 50'000;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/stream?streams=btcusdt@kline_1m"));
  c.ReadToEnd();
  EXPECT_EQ(c.error, websocket::error::closed) << c.error.message();
  EXPECT_EQ(c.ws().reason().code, websocket::close_code::going_away);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1], fmt::format("{{\"stream\":\"!serverShutdown\",\"data\":{{\"e\":"
                                       "\"serverShutdown\",\"E\":{}}}}}",
                                       MicrosFromCivil(2021, 4, 10, 0, 0, 30) / 1000));
  EXPECT_EQ(ex->Counters().ws_max_age_closes, 1);
}

TEST_F(ReplayTest, WsFaultDisconnectCutsTheConnection) {
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10, 0, 0, 30));
  opt.ws_faults.disconnect_every = 50'000;
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  const auto t0 = std::chrono::steady_clock::now();
  c.ReadToEnd();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(40));
  EXPECT_TRUE(c.error == net::error::eof || c.error == net::error::connection_reset)
      << c.error.message();  // no close frame
  EXPECT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(ex->Counters().ws_disconnects, 1);
}

// A stalled connection sends nothing (no data, no pings) and stays open until Stop(). The
// connection's timers run on a FakeClock: pings at 10 and 20 ms, the stall at 30 ms, exactly.
TEST_F(ReplayTest, WsFaultStallSilencesAnOpenConnection) {
  FakeClock timers;
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10, 0, 0, 30));
  opt.ws_clock = &timers;
  opt.ws_faults.stall_after = 30'000;
  opt.ws_ping_interval = 10'000;
  opt.ws_pong_timeout = 20'000;  // would end the connection if pings were still sent
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_TRUE(c.ReadMessages(1));  // the connection has started, its timers at 0
  timers.Advance(10'000);
  ASSERT_TRUE(c.ReadUntil([&] { return c.pings == 1; }));
  timers.Advance(10'000);
  ASSERT_TRUE(c.ReadUntil([&] { return c.pings == 2; }));
  timers.Advance(10'000);
  while (ex->Counters().ws_stalls == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Silence must be waited for: an hour of the timers later (pings, pong timeouts due), 150 ms of
  // real time; then data made due and another 150 ms. The connection stays open throughout (no
  // close frame, no EOF).
  timers.Advance(kMicrosPerHour);
  c.ReadFor(std::chrono::milliseconds(150));
  EXPECT_TRUE(c.timed_out) << c.error.message();
  EXPECT_EQ(ex->Counters().ws_stalls, 1);
  const int pings = c.pings;  // sent before the stall only
  EXPECT_EQ(pings, 2);
  const int64_t sent = ex->Counters().ws_pings;
  EXPECT_EQ(sent, 2);
  clock_.Advance(kMicrosPerHour);
  c.ReadFor(std::chrono::milliseconds(150));
  EXPECT_TRUE(c.timed_out) << c.error.message();
  EXPECT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.pings, pings);
  EXPECT_EQ(ex->Counters().ws_pings, sent);
  EXPECT_EQ(ex->Counters().ws_pong_timeouts, 0);
  EXPECT_EQ(ex->Counters().ws_messages, 1);
}

TEST_F(ReplayTest, WsFaultsMalformedAndDuplicate) {
  const Micros t0 = MicrosFromCivil(2021, 4, 10, 0, 0, 0);
  {
    ReplayOptions opt = WsOptionsAt(t0);
    opt.ws_faults.malformed = 1;
    auto ex = Make({Btc1m()}, opt);
    ASSERT_TRUE(ex);
    WsClient c;
    ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
    ASSERT_TRUE(c.ReadMessages(1));  // the connection has started at t0
    clock_.Set(kT0 + kMicrosPerMinute);
    ASSERT_TRUE(c.ReadMessages(3)) << c.messages.size() << " " << c.error.message();
    for (const auto& m : c.messages) {
      EXPECT_FALSE(nlohmann::json::accept(m)) << m;
      EXPECT_EQ(m.rfind("{\"e\":\"kline\",\"E\":", 0), 0u) << m;
    }
    EXPECT_EQ(ex->Counters().ws_malformed, 3);
    c.Close();
  }
  {
    clock_.Set(kT0);
    ReplayOptions opt = WsOptionsAt(t0);
    opt.ws_faults.duplicate = 1;
    auto ex = Make({Btc1m()}, opt);
    ASSERT_TRUE(ex);
    WsClient c;
    ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
    ASSERT_TRUE(c.ReadMessages(2));
    clock_.Set(kT0 + kMicrosPerMinute);
    ASSERT_TRUE(c.ReadMessages(6));
    for (size_t i = 0; i < 6; i += 2) {
      EXPECT_EQ(c.messages[i], c.messages[i + 1]);
      EXPECT_TRUE(nlohmann::json::accept(c.messages[i]));
    }
    EXPECT_NE(c.messages[0], c.messages[2]);
    EXPECT_EQ(ex->Counters().ws_duplicates, 3);
    c.Close();
  }
}

// At a huge speed a connection streams its backlog as fast as the socket takes it: the whole
// file (six weeks of 1m) arrives, every final once and in order.
TEST_F(ReplayTest, HugeSpeedStreamsTheWholeBacklog) {
  auto ex = Make({Btc1m()}, WsOptionsAt(kFirstOpenMs * 1000));
  ASSERT_TRUE(ex);
  WsClient c;
  ASSERT_FALSE(c.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_TRUE(c.ReadMessages(1));
  const auto t0 = std::chrono::steady_clock::now();
  clock_.Advance(60 * kMicrosPerDay);
  int64_t finals = 0, last = 0;
  bool ordered = true;
  ASSERT_TRUE(c.ReadUntil([&] {
    for (size_t i = c.messages.size(); i-- > 0;) {
      const std::string& m = c.messages[i];
      if (m.find("\"x\":true") != std::string::npos) {
        int64_t t = std::stoll(m.substr(m.find("\"t\":") + 4, 13));
        ordered = ordered && t > last;
        last = t;
        ++finals;
      }
    }
    c.messages.clear();
    return last == kLastOpenMs;
  }));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(ordered);
  EXPECT_EQ(finals, kRows1m);
  std::printf("streamed %lld finals in %.2f s\n", static_cast<long long>(finals),
              std::chrono::duration<double>(took).count());
  c.Close();
}

TEST_F(ReplayTest, StopClosesOpenWebSockets) {
  ReplayOptions opt = WsOptionsAt(MicrosFromCivil(2021, 4, 10));
  opt.ws_faults.stall_after = 1000;  // one of them silent
  auto ex = Make({Btc1m()}, opt);
  ASSERT_TRUE(ex);
  WsClient a, b;
  ASSERT_FALSE(a.Connect(ex->port(), "/ws/btcusdt@kline_1m"));
  ASSERT_FALSE(b.Connect(ex->port(), "/ws/btcusdt@trade"));
  ex->Stop();
  a.ReadToEnd();
  b.ReadToEnd();
  EXPECT_TRUE(a.error && !a.timed_out) << a.error.message();
  EXPECT_TRUE(b.error && !b.timed_out) << b.error.message();
}

// ---------------------------------------------------------------------------------------------
// CLI

TEST(ReplayCliTest, ListensWritesThePortFileAndStopsOnSigterm) {
  TempDir tmp;
  std::string port_file = (tmp / "port").string();
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    std::string bin = cryptolake::testing::Binary().string();
    std::vector<std::string> args = {bin,           "replay-exchange", "--data",  Btc1m(),
                                     "--port-file", port_file,         "--speed", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  ASSERT_NE(f, nullptr);
  std::string output, listening;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) {  // blocks until the server has printed the line
    output += buf;
    if (std::string(buf).rfind("replay-exchange: listening on ", 0) == 0) {
      listening = buf;
      break;
    }
  }
  ASSERT_FALSE(listening.empty()) << output;
  EXPECT_EQ(output.substr(0, output.find('\n') + 1),
            "BTCUSDT 1m: 61272 klines 2021-04-02T00:00:00Z..2021-05-14T20:25:00Z\n");
  std::smatch m;
  ASSERT_TRUE(
      std::regex_match(listening, m,
                       std::regex("replay-exchange: listening on http://127\\.0\\.0\\.1:"
                                  "([0-9]+) \\(exchange time 2021-05-14T20:2[6-9]:[0-9]{2}Z,"
                                  " speed 1x, faults none\\)\n")))
      << listening;
  int port = std::stoi(m[1]);
  std::ifstream pf(port_file);  // written before the line was printed
  int port_in_file = 0;
  pf >> port_in_file;
  EXPECT_EQ(port_in_file, port);

  Reply r = Client(port).Get("/api/v3/ping");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");

  ::kill(pid, SIGTERM);
  std::string rest;
  while (std::fgets(buf, sizeof buf, f)) rest += buf;  // until the server exits
  std::fclose(f);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(
      rest,
      "replay-exchange: stopped by SIGTERM after 1 requests, 0 klines served, 0 x 429, 0 x 418 "
      "(0 earned bans), faults injected: none\n");
}

TEST(ReplayCliTest, HelpAndUsageErrors) {
  auto help = RunCli({"replay-exchange", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--port-file"), std::string::npos);
  EXPECT_NE(help.out.find("truncate  half the body"), std::string::npos);
  // --data after the subcommand is the subcommand's: the global lake root is never opened.
  auto missing = RunCli({"replay-exchange", "--data", "/nonexistent/x.csv"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_EQ(missing.err, "error: no such file or directory: '/nonexistent/x.csv'\n");
  auto no_data = RunCli({"replay-exchange"});
  EXPECT_EQ(no_data.exit_code, 64);
  auto bad_faults = RunCli({"replay-exchange", "--data", Btc1d(), "--faults", "drop=2"});
  EXPECT_EQ(bad_faults.exit_code, 3);
  EXPECT_EQ(bad_faults.err,
            "error: fault spec: probability of 'drop' must be a number in [0, 1], got '2'\n");
  EXPECT_NE(help.out.find("--ws-faults"), std::string::npos);
  auto bad_ws = RunCli({"replay-exchange", "--data", Btc1d(), "--ws-faults", "stall_after=5"});
  EXPECT_EQ(bad_ws.exit_code, 3);
  EXPECT_EQ(bad_ws.err,
            "error: ws fault spec: duration of 'stall_after' must be a positive number with a unit "
            "ms, s, m or h, got '5'\n");
}

// ---------------------------------------------------------------------------------------------
// Synthetic symbols

std::string Window2025(const std::string& symbol) {
  return (SharedData() / "binance-spot/klines/1m" /
          (symbol + "-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv"))
      .string();
}

// The first real candles of the 2025 window (2025-05-20 00:00):
//   BTCUSDT  o 105573.73  h 105597.1  l 105554.31  c 105554.32  v 10.82647
//   ETHUSDT  o 2528.14    h 2530.8    l 2527.97    c 2528.28    v 562.6879
// Seed 1 gives the factors f(0) = 6.89, f(2) = 1.56, f(3) = 5.52, so SYN000USDT is BTCUSDT
// x 6.89, SYN002USDT BTCUSDT x 156 and SYN003USDT ETHUSDT x 5520 (volume x 4), exactly.
TEST_F(ReplayTest, SyntheticSymbolsAreExactScaledCopiesOfRecordedCandles) {
  EXPECT_EQ(SyntheticSymbol(7), "SYN007USDT");
  EXPECT_EQ(SyntheticSymbol(1234), "SYN1234USDT");
  EXPECT_EQ(SyntheticScaleOf(3, 1).price, 5520.0);
  EXPECT_EQ(SyntheticScaleOf(3, 1).volume, 4.0);
  EXPECT_NE(SyntheticScaleOf(0, 1).price, SyntheticScaleOf(0, 2).price);  // the seed matters

  const Micros t0 = MicrosFromCivil(2025, 5, 20, 0, 0, 30);
  ReplayOptions opt = WsOptionsAt(t0);
  opt.synthetic = 4;
  auto ex = Make({Window2025("BTCUSDT"), Window2025("ETHUSDT")}, opt);
  ASSERT_TRUE(ex);
  WsClient w;  // connected while the 00:00 candle is open
  ASSERT_FALSE(w.Connect(ex->port(), "/stream?streams=syn003usdt@kline_1m"));
  ASSERT_TRUE(w.ReadMessages(1));
  clock_.Advance(kMicrosPerMinute);  // the 00:00 candle closes
  Client c(ex->port());
  auto first = [&](const std::string& symbol) {
    Reply r = c.Get(Klines("symbol=" + symbol + "&interval=1m&startTime=1747699200000&limit=1"));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = r.Json();
    EXPECT_EQ(j.size(), 1u) << r.body;
    std::vector<std::string> ohlcv;
    for (int i = 1; i <= 5; ++i) ohlcv.push_back(j[0][i].get<std::string>());
    EXPECT_EQ(j[0][0].get<int64_t>(), 1747699200000);
    return ohlcv;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(first("BTCUSDT"), (V{"105573.73000000", "105597.10000000", "105554.31000000",
                                 "105554.32000000", "10.82647000"}));
  EXPECT_EQ(first("SYN000USDT"), (V{"727402.99970000", "727564.01900000", "727269.19590000",
                                    "727269.26480000", "10.82647000"}));
  EXPECT_EQ(first("SYN002USDT"), (V{"16469501.88000000", "16473147.60000000", "16466472.36000000",
                                    "16466473.92000000", "32.47941000"}));
  EXPECT_EQ(first("SYN003USDT"), (V{"13955332.80000000", "13970016.00000000", "13954394.40000000",
                                    "13956105.60000000", "2250.75160000"}));
  // Every recorded row has its synthetic copy.
  Reply all = c.Get(Klines("symbol=SYN001USDT&interval=1m&startTime=1747699200000&limit=1000"));
  ASSERT_EQ(all.status, 200);
  Reply eth = c.Get(Klines("symbol=ETHUSDT&interval=1m&startTime=1747699200000&limit=1000"));
  EXPECT_EQ(all.Json().size(), eth.Json().size());

  // exchangeInfo lists them like recorded ones.
  Reply info = c.Get("/api/v3/exchangeInfo");
  ASSERT_EQ(info.status, 200);
  std::set<std::string> names;
  const nlohmann::json info_json = info.Json();
  for (const auto& s : info_json["symbols"]) names.insert(s["symbol"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"BTCUSDT", "ETHUSDT", "SYN000USDT", "SYN001USDT",
                                          "SYN002USDT", "SYN003USDT"}));

  // The WebSocket stream serves the same candle.
  ASSERT_TRUE(w.ReadUntil([&] {
    for (const auto& m : w.messages) {
      if (m.find("\"x\":true") != std::string::npos) return true;
    }
    return false;
  }));
  bool seen = false;
  for (const auto& m : w.messages) {
    auto k = nlohmann::json::parse(m)["data"]["k"];
    if (!k["x"].get<bool>()) continue;
    seen = true;
    EXPECT_EQ(k["s"].get<std::string>(), "SYN003USDT");
    EXPECT_EQ(k["t"].get<int64_t>(), 1747699200000);
    EXPECT_EQ(k["c"].get<std::string>(), "13956105.60000000");
    EXPECT_EQ(k["v"].get<std::string>(), "2250.75160000");
  }
  EXPECT_TRUE(seen);
  w.Close();

  // A negative count is refused.
  opt.synthetic = -1;
  auto bad = ReplayExchange::Create({Window2025("BTCUSDT")}, clock_, opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "replay-exchange: synthetic symbols must be >= 0, got -1");
}

}  // namespace
}  // namespace cryptolake::exchange
