// WebhookSink (alerts/webhook.h) against a real net::HttpServer on 127.0.0.1 as the receiver:
// the exact backoff schedule on a FakeClock, a receiver that is not up yet, a rejection, a stop
// and a resume from the cursor (with the crash case of the in-flight event), and the URL's
// secret kept out of every file, log and status. Nothing waits on the wall clock but one POST
// timeout; everything else waits for an event (a request, the cursor, a clock's sleep).
#include "alerts/webhook.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "alerts/event_log.h"
#include "core/fsutil.h"
#include "receiver.h"
#include "testing/testing.h"

namespace cryptolake::alerts {
namespace {

using cryptolake::alerts::testing::Received;
using cryptolake::alerts::testing::Receiver;
using cryptolake::testing::LogCapture;
using cryptolake::testing::TempDir;
using cryptolake::testing::WriteText;

const Micros kT0 = MicrosFromCivil(2025, 8, 18, 12, 0);
constexpr Micros kS = kMicrosPerSecond;

AlertEvent Event(int i) {
  AlertEvent e;
  e.rule = "move5";
  e.kind = "move";
  e.severity = "warning";
  e.symbol = "BTCUSDT";
  e.fired_at = MicrosFromCivil(2021, 4, 18, 4, 0) + i * kMicrosPerMinute;
  e.at = e.fired_at;
  e.value = -5.25 - i;
  e.threshold = 5;
  e.message = "BTCUSDT moved " + std::to_string(-5 - i) + "% in 60 min";
  e.key = MakeKey(e.rule, e.symbol, e.fired_at, e.state);
  return e;
}

std::vector<AlertEvent> Events(int n) {
  std::vector<AlertEvent> out;
  for (int i = 0; i < n; ++i) out.push_back(Event(i));
  return out;
}

std::string Body(int i) { return ToJson(Event(i)).dump(); }

// One line of the delivery log.
std::string Attempt(Micros t, int event, int attempt, const std::string& outcome) {
  return FormatIso(t) + "\t" + Event(event).key + "\t" + std::to_string(attempt) + "\t" + outcome +
         "\n";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l + "\n");
  return out;
}

std::unique_ptr<EventLog> OpenLog(const fs::path& dir, int events) {
  auto log = EventLog::Open(dir);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return nullptr;
  EXPECT_TRUE((*log)->Append(Events(events)).ok());
  return std::move(log).value();
}

WebhookOptions Opts(const std::string& url, const std::string& name = "ops") {
  WebhookOptions o;
  o.name = name;
  o.url = url;
  return o;
}

template <typename F>
WebhookOptions With(WebhookOptions o, F change) {
  change(o);
  return o;
}

std::unique_ptr<WebhookSink> CreateSink(EventLog& log, WebhookOptions o, const Clock& clock) {
  auto s = WebhookSink::Create(log, std::move(o), clock);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// A FakeClock whose `hold_at`-th SleepUntil (1-based) jumps and then blocks until Release(): the
// test does something (starts the receiver) while the sink is known to be in that backoff wait.
class GateClock final : public Clock {
 public:
  GateClock(Micros start, int hold_at) : fake_(start), hold_at_(hold_at) {}
  Micros Now() const override { return fake_.Now(); }
  void SleepUntil(Micros t) const override {
    fake_.SleepUntil(t);
    std::unique_lock lock(mu_);
    ++sleeps_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return sleeps_ != hold_at_ || released_; });
  }
  void WaitSleeps(int n) const {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return sleeps_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  mutable FakeClock fake_;
  const int hold_at_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int sleeps_ = 0;
  bool released_ = false;
};

// A port on 127.0.0.1 bound with no listener: a connection to it is refused, and no other
// process can take it until Release().
class BoundPort {
 public:
  BoundPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
  }
  ~BoundPort() { Release(); }
  int port() const { return port_; }
  void Release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(WebhookSinkTest, BacksOffExactlyThenDeliversEveryEventOnceInOrder) {
  TempDir tmp;
  auto log = OpenLog(tmp / "alerts", 3);
  ASSERT_TRUE(log);
  // 503 to the first ten requests and to the fourteenth, 200 to the others.
  Receiver rx([](size_t n) { return Receiver::Status(n < 10 || n == 13 ? 503 : 200); });
  ASSERT_TRUE(rx.ok()) << rx.error();
  FakeClock clock(kT0);
  auto sink = CreateSink(*log, Opts(rx.url() + "/hook"), clock);
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->pending(), 3u);
  sink->Start();
  ASSERT_TRUE(sink->WaitCursor(3));
  // A new event wakes the sink; its backoff starts again at 1 s.
  ASSERT_TRUE(log->Append({Event(3)}).ok());
  ASSERT_TRUE(sink->WaitCursor(4));
  sink->Stop();

  std::string want;
  const Micros waits[] = {1, 2, 4, 8, 16, 32, 60, 60, 60, 60};
  Micros t = kT0;
  for (int i = 0; i < 10; ++i) {
    want +=
        Attempt(t, 0, i + 1, "failed: HTTP 503, retrying in " + std::to_string(waits[i]) + " s");
    t += waits[i] * kS;
  }
  ASSERT_EQ(t, kT0 + 303 * kS);
  want += Attempt(t, 0, 11, "delivered (HTTP 200)");
  want += Attempt(t, 1, 1, "delivered (HTTP 200)");
  want += Attempt(t, 2, 1, "delivered (HTTP 200)");
  want += Attempt(t, 3, 1, "failed: HTTP 503, retrying in 1 s");
  want += Attempt(t + kS, 3, 2, "delivered (HTTP 200)");
  EXPECT_EQ(*ReadFile(tmp / "alerts" / "webhook-ops.log"), want);
  EXPECT_EQ(*ReadFile(tmp / "alerts" / "webhook-ops.cursor"), "4\n");
  EXPECT_FALSE(fs::exists(tmp / "alerts" / "webhook-ops.rejected.jsonl"));
  EXPECT_EQ(clock.Now(), kT0 + 304 * kS);

  const std::vector<Received> got = rx.received();
  ASSERT_EQ(got.size(), 15u);
  const int event_of[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3};
  for (size_t i = 0; i < got.size(); ++i) {
    const int e = event_of[i];
    EXPECT_EQ(got[i].method, "POST") << i;
    EXPECT_EQ(got[i].target, "/hook") << i;
    EXPECT_EQ(got[i].content_type, "application/json") << i;
    EXPECT_EQ(got[i].key, Event(e).key) << i;
    EXPECT_EQ(got[i].sequence, std::to_string(e)) << i;
    EXPECT_EQ(got[i].body, Body(e)) << i;
  }
  EXPECT_EQ(sink->delivered(), 4);
  EXPECT_EQ(sink->failures(), 11);
  EXPECT_EQ(sink->rejected(), 0);
  EXPECT_EQ(sink->pending(), 0u);
  EXPECT_EQ(sink->last_error(), "");
}

TEST(WebhookSinkTest, AReceiverNotUpYetIsRetriedUntilItIs) {
  TempDir tmp;
  auto log = OpenLog(tmp / "alerts", 2);
  ASSERT_TRUE(log);
  BoundPort port;
  GateClock clock(kT0, 3);  // holds the sink in its third backoff wait
  const std::string url = "http://127.0.0.1:" + std::to_string(port.port()) + "/hook";
  auto sink =
      CreateSink(*log, With(Opts(url), [](WebhookOptions& o) { o.wait_step = 60 * kS; }), clock);
  ASSERT_TRUE(sink);
  sink->Start();
  clock.WaitSleeps(3);
  EXPECT_EQ(sink->failures(), 3);
  EXPECT_EQ(sink->last_error(), "connection refused");
  EXPECT_EQ(sink->pending(), 2u);
  EXPECT_FALSE(sink->Drain(std::chrono::steady_clock::now()));  // the deadline is now: too late
  port.Release();
  Receiver rx(nullptr, port.port());
  ASSERT_TRUE(rx.ok()) << rx.error();
  clock.Release();
  ASSERT_TRUE(sink->Drain(std::chrono::steady_clock::now() + std::chrono::hours(1)));
  EXPECT_EQ(sink->cursor(), 2u);
  sink->Stop();

  EXPECT_EQ(*ReadFile(tmp / "alerts" / "webhook-ops.log"),
            Attempt(kT0, 0, 1, "failed: connection refused, retrying in 1 s") +
                Attempt(kT0 + 1 * kS, 0, 2, "failed: connection refused, retrying in 2 s") +
                Attempt(kT0 + 3 * kS, 0, 3, "failed: connection refused, retrying in 4 s") +
                Attempt(kT0 + 7 * kS, 0, 4, "delivered (HTTP 200)") +
                Attempt(kT0 + 7 * kS, 1, 1, "delivered (HTTP 200)"));
  const std::vector<Received> got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, Event(0).key);
  EXPECT_EQ(got[1].key, Event(1).key);
  EXPECT_EQ(sink->last_error(), "");
}

TEST(WebhookSinkTest, ARefusedEventIsKeptAsideAndTheNextOnesDelivered) {
  TempDir tmp;
  auto log = OpenLog(tmp / "alerts", 3);
  ASSERT_TRUE(log);
  // 429 and 408 are retried; 400 is a refusal for good.
  const int answers[] = {429, 408, 200, 400, 200};
  Receiver rx([&](size_t n) { return Receiver::Status(n < 5 ? answers[n] : 500); });
  ASSERT_TRUE(rx.ok()) << rx.error();
  FakeClock clock(kT0);
  LogCapture capture;
  auto sink = CreateSink(*log, Opts(rx.url() + "/hook"), clock);
  ASSERT_TRUE(sink);
  sink->Start();
  ASSERT_TRUE(sink->WaitCursor(3));
  sink->Stop();

  EXPECT_EQ(
      *ReadFile(tmp / "alerts" / "webhook-ops.log"),
      Attempt(kT0, 0, 1, "failed: HTTP 429, retrying in 1 s") +
          Attempt(kT0 + 1 * kS, 0, 2, "failed: HTTP 408, retrying in 2 s") +
          Attempt(kT0 + 3 * kS, 0, 3, "delivered (HTTP 200)") +
          Attempt(kT0 + 3 * kS, 1, 1, "rejected: HTTP 400 (kept in webhook-ops.rejected.jsonl)") +
          Attempt(kT0 + 3 * kS, 2, 1, "delivered (HTTP 200)"));
  EXPECT_EQ(*ReadFile(tmp / "alerts" / "webhook-ops.rejected.jsonl"), Body(1) + "\n");
  EXPECT_EQ(*ReadFile(tmp / "alerts" / "webhook-ops.cursor"), "3\n");
  EXPECT_EQ(rx.received().size(), 5u);
  EXPECT_EQ(sink->delivered(), 2);
  EXPECT_EQ(sink->rejected(), 1);
  EXPECT_EQ(sink->failures(), 2);
  EXPECT_NE(capture.text().find("[error] alerts: webhook 'ops' rejected event 1 (" + Event(1).key +
                                ") with HTTP 400; kept in webhook-ops.rejected.jsonl"),
            std::string::npos)
      << capture.text();
}

TEST(WebhookSinkTest, ANewSinkResumesFromTheCursorAndResendsOnlyTheEventInFlight) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  auto log = OpenLog(dir, 5);
  ASSERT_TRUE(log);
  std::atomic<bool> down{true};
  Receiver rx([&](size_t n) { return Receiver::Status(n == 3 && down ? 503 : 200); });
  ASSERT_TRUE(rx.ok()) << rx.error();
  {
    // On the system clock with a one-hour backoff: Stop() must end the wait at once (the test
    // would hang until ctest's timeout otherwise).
    auto sink = CreateSink(*log,
                           With(Opts(rx.url() + "/hook"),
                                [](WebhookOptions& o) {
                                  o.backoff_initial = 3600 * kS;
                                  o.backoff_max = 3600 * kS;
                                }),
                           SystemClock::Instance());
    ASSERT_TRUE(sink);
    sink->Start();
    rx.WaitFor(4);  // the fourth event's POST has arrived (and is refused with 503)
    sink->Stop();
    EXPECT_EQ(sink->cursor(), 3u);
    EXPECT_EQ(sink->pending(), 2u);
    EXPECT_EQ(sink->failures(), 1);
  }
  std::vector<std::string> lines = Lines(*ReadFile(dir / "webhook-ops.log"));
  ASSERT_EQ(lines.size(), 4u);
  for (std::string& l : lines) l = l.substr(l.find('\t') + 1);  // the system clock's times
  EXPECT_EQ(lines, (std::vector<std::string>{
                       Event(0).key + "\t1\tdelivered (HTTP 200)\n",
                       Event(1).key + "\t1\tdelivered (HTTP 200)\n",
                       Event(2).key + "\t1\tdelivered (HTTP 200)\n",
                       Event(3).key + "\t1\tfailed: HTTP 503, retrying in 3600 s\n"}));
  EXPECT_EQ(*ReadFile(dir / "webhook-ops.cursor"), "3\n");

  // A crash between the third event's 200 and its cursor write leaves the cursor at 2.
  WriteText(dir / "webhook-ops.cursor", "2\n");
  down = false;
  FakeClock clock(kT0);
  auto sink = CreateSink(*log, Opts(rx.url() + "/hook"), clock);
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->pending(), 3u);
  sink->Start();
  ASSERT_TRUE(sink->WaitCursor(5));
  sink->Stop();

  std::vector<std::string> keys, seqs, first;
  for (const Received& r : rx.received()) {
    keys.push_back(r.key);
    seqs.push_back(r.sequence);
    EXPECT_EQ(r.body, Body(std::stoi(r.sequence)));
    if (std::find(first.begin(), first.end(), r.key) == first.end()) first.push_back(r.key);
  }
  const auto k = [](int i) { return Event(i).key; };
  EXPECT_EQ(keys, (std::vector<std::string>{k(0), k(1), k(2), k(3), k(2), k(3), k(4)}));
  EXPECT_EQ(seqs, (std::vector<std::string>{"0", "1", "2", "3", "2", "3", "4"}));
  EXPECT_EQ(first, (std::vector<std::string>{k(0), k(1), k(2), k(3), k(4)}));  // after dedup
  EXPECT_EQ(*ReadFile(dir / "webhook-ops.cursor"), "5\n");
}

TEST(WebhookSinkTest, TheUrlsSecretAndTheHeaderValuesNeverAppear) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  auto log = OpenLog(dir, 3);
  ASSERT_TRUE(log);
  // A response that never comes in time, a 503, a 200, a 400 and a 200; then the receiver goes.
  Receiver rx([](size_t n) {
    net::Response r = Receiver::Status(n == 1 ? 503 : n == 3 ? 400 : 200);
    if (n == 0) r.delay = std::chrono::seconds(600);
    return r;
  });
  ASSERT_TRUE(rx.ok()) << rx.error();
  const std::string url = rx.url() + "/hook/s3cr3t-token?sig=abc";
  const std::vector<std::string> secrets = {url, "s3cr3t-token", "sig=abc", "t0ps3cret-header"};
  LogCapture capture;
  std::vector<std::string> statuses;

  WebhookOptions bad = Opts("ftp://u:s3cr3t-token@example.com/?sig=abc");
  statuses.push_back(WebhookSink::Create(*log, bad, SystemClock::Instance()).status().message());
  bad = Opts(url);
  bad.headers = {{"Authorization", "t0ps3cret-header\r\nX: 1"}};
  statuses.push_back(WebhookSink::Create(*log, bad, SystemClock::Instance()).status().message());
  EXPECT_EQ(statuses, (std::vector<std::string>{
                          "webhook 'ops': the url must start with http:// or https://",
                          "webhook 'ops': the value of header Authorization holds a control "
                          "character"}));

  GateClock clock(kT0, 3);
  auto sink = CreateSink(*log,
                         With(Opts(url),
                              [](WebhookOptions& o) {
                                o.timeout = 500 * 1000;
                                o.headers = {{"Authorization", "Bearer t0ps3cret-header"}};
                                o.wait_step = 60 * kS;
                              }),
                         clock);
  ASSERT_TRUE(sink);
  sink->Start();
  ASSERT_TRUE(sink->WaitCursor(3));
  rx.Stop();
  ASSERT_TRUE(log->Append({Event(3)}).ok());
  clock.WaitSleeps(3);  // the fourth event refused: nobody listens any more
  EXPECT_EQ(sink->last_error(), "connection refused");
  clock.Release();
  sink->Stop();

  const std::string delivery = *ReadFile(dir / "webhook-ops.log");
  const std::vector<std::string> lines = Lines(delivery);
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(
      std::vector<std::string>(lines.begin(), lines.begin() + 6),
      (std::vector<std::string>{
          Attempt(kT0, 0, 1, "failed: timeout after 500 ms, retrying in 1 s"),
          Attempt(kT0 + 1 * kS, 0, 2, "failed: HTTP 503, retrying in 2 s"),
          Attempt(kT0 + 3 * kS, 0, 3, "delivered (HTTP 200)"),
          Attempt(kT0 + 3 * kS, 1, 1, "rejected: HTTP 400 (kept in webhook-ops.rejected.jsonl)"),
          Attempt(kT0 + 3 * kS, 2, 1, "delivered (HTTP 200)"),
          Attempt(kT0 + 3 * kS, 3, 1, "failed: connection refused, retrying in 1 s")}));
  const std::string logged = capture.text();
  EXPECT_NE(logged.find("alerts: webhook 'ops': event 0 (" + Event(0).key +
                        ") attempt 1 failed: timeout after 500 ms; retrying in 1 s"),
            std::string::npos)
      << logged;
  for (const std::string& s : secrets) {
    EXPECT_EQ(delivery.find(s), std::string::npos) << s;
    EXPECT_EQ(logged.find(s), std::string::npos) << s << "\n" << logged;
    for (const std::string& st : statuses) EXPECT_EQ(st.find(s), std::string::npos) << st;
    EXPECT_EQ(sink->last_error().find(s), std::string::npos);
  }
  // The receiver did get what the options said.
  const std::vector<Received> got = rx.received();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].target, "/hook/s3cr3t-token?sig=abc");
}

TEST(WebhookSinkTest, CreateChecksTheOptionsAndTheCursor) {
  TempDir tmp;
  const fs::path dir = tmp / "alerts";
  auto log = OpenLog(dir, 2);
  ASSERT_TRUE(log);
  const Clock& clock = SystemClock::Instance();
  auto message = [&](WebhookOptions o) {
    return WebhookSink::Create(*log, std::move(o), clock).status().message();
  };
  const std::string url = "http://127.0.0.1:9/hook";
  EXPECT_EQ(message(Opts(url, "a b")),
            "webhook 'a b': the name must be letters, digits, '-' and '_'");
  EXPECT_EQ(message(With(Opts(url), [](WebhookOptions& o) { o.backoff_initial = 0; })),
            "webhook 'ops': backoff must be positive, its maximum at least its initial value");
  EXPECT_EQ(message(With(Opts(url),
                         [](WebhookOptions& o) {
                           o.headers = {{"idempotency-key", "x"}};
                         })),
            "webhook 'ops': header idempotency-key is the sink's own");
  EXPECT_EQ(message(Opts("http://127.0.0.1:9/a b")),
            "webhook 'ops': the url holds a space or a control character");

  WriteText(dir / "webhook-ops.cursor", "x1\n");
  auto s = WebhookSink::Create(*log, Opts(url), clock);
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.status().message(),
            "webhook 'ops': " + (dir / "webhook-ops.cursor").string() + ": not a number");
  WriteText(dir / "webhook-ops.cursor", "3\n");
  EXPECT_EQ(message(Opts(url)), "webhook 'ops': " + (dir / "webhook-ops.cursor").string() +
                                    ": cursor 3 is beyond the log's 2 events");
  WriteText(dir / "webhook-ops.cursor", "2\n");
  s = WebhookSink::Create(*log, Opts(url), clock);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->cursor(), 2u);
  EXPECT_EQ((*s)->pending(), 0u);
}

}  // namespace
}  // namespace cryptolake::alerts
