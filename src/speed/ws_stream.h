// A market-stream WebSocket connection that stays up: the producer side of the speed layer.
// Boost.Beast over Asio, with OpenSSL for wss:// (Debian's Boost).
//
// Contract:
//  * Connects to <url><path> (the venue's StreamFormat::Path, venue/venue.h; for Binance the
//    combined streams /stream?streams=<s1>/<s2>/...) and hands every text message to OnMessage,
//    in arrival order, on the thread that called Run(). Messages are not parsed here.
//  * Answers every ping frame with a pong carrying the ping's payload, at once.
//  * A silent stall -- no frame of any kind (data, ping, pong) for `stall_timeout` -- closes the
//    connection and reconnects (stats().stalls).
//  * Rotation: `rotate_after` after a connection was opened, a second connection is opened and
//    subscribed; from its first data message on, messages come from the new connection and the
//    old one is closed. Messages that both connections delivered during the overlap may reach
//    OnMessage twice (the consumer is idempotent); none is lost (stats().rotations). So that a
//    message still in flight on the old connection at the switch is not lost either, the old one
//    is closed (close handshake) only `rotation_drain` after the switch; what it delivers until
//    then is passed on as well (duplicates, or the rare message the new one started after).
//  * Any failure (connect, handshake, read, close by the server, a serverShutdown event)
//    reconnects after a backoff: uniform(0, min(backoff_max, backoff_base * 2^failures)),
//    failures reset after a connection delivered data. After each reconnect that followed a
//    failure (not a rotation), OnReconnect(last_message_at) is called on the Run() thread before
//    any new message, so the caller can heal the gap from REST.
//  * Run() returns when Stop() is called (from any thread), with Status::Ok(); it returns an
//    error only for a bad URL (InvalidArgument).
//  * Every duration here (connect timeout, stall, rotation, drain, backoff) is measured on
//    `clock` (the SystemClock unless a test injects a FakeClock and moves it by hand), and so is
//    OnReconnect's argument. Asio timers only wake the loop up to look at the clock: for the whole
//    remaining duration on the SystemClock, every millisecond of real time on an injected clock.
//    Only the WebSocket handshake's own timeout inside Beast (connect_timeout) is real time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::speed {

struct WsOptions {
  std::string url = "wss://stream.binance.com:9443";  // or ws://127.0.0.1:<port>
  std::string path;  // e.g. "/stream?streams=btcusdt@kline_1m/btcusdt@trade"; must start with /
  Micros connect_timeout = 10 * kMicrosPerSecond;
  Micros stall_timeout = 60 * kMicrosPerSecond;
  Micros rotate_after = 23 * kMicrosPerHour;  // Binance closes connections at 24 h
  Micros rotation_drain = 1 * kMicrosPerSecond;
  Micros backoff_base = 500 * 1000;
  Micros backoff_max = 30 * kMicrosPerSecond;
  uint64_t seed = 0;  // jitter; 0 = random_device
  const Clock* clock =
      nullptr;  // of every duration above; nullptr: SystemClock. Must outlive Run().
};

struct WsStats {
  std::atomic<int64_t> connects{0};    // successful handshakes, all causes
  std::atomic<int64_t> reconnects{0};  // after a failure
  std::atomic<int64_t> failures{0};    // connections that failed (connect, handshake, read, ...)
  std::atomic<int64_t> rotations{0};
  std::atomic<int64_t> stalls{0};
  std::atomic<int64_t> messages{0};
  std::atomic<int64_t> pings{0};  // pings answered
};

class WsStream {
 public:
  using OnMessage = std::function<void(std::string_view text)>;
  using OnReconnect = std::function<void(Micros last_message_at)>;  // on options.clock

  WsStream(WsOptions options, OnMessage on_message, OnReconnect on_reconnect = {});
  ~WsStream();

  Status Run();
  void Stop();
  const WsStats& stats() const { return stats_; }

 private:
  struct Impl;
  WsOptions opt_;
  WsStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::speed
