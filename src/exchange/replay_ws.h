// The replay exchange's WebSocket part (internal to cl_replay): the market streams of replay.h
// ("WebSocket streams": /ws/<stream> and /stream?streams=..., kline events on exchange time,
// pings, pong timeouts, max age, and the WsFaultSpec faults) on one upgraded connection.
//
// The server (replay_server.cc) reads the upgrade request and hands the connection over; from
// then on the connection belongs to this part until ServeWebSocket returns. All of a session's
// I/O runs on the connection's own io_context, on the calling thread, so the session needs no
// lock; the counters are atomics shared by every connection.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "exchange/replay.h"
#include "exchange/replay_data.h"

namespace cryptolake::exchange::replay {

// The ws_* fields of ReplayCounters, counted by every connection.
struct WsCounters {
  std::atomic<int64_t> connections{0}, rejected{0}, messages{0}, finals{0}, pings{0}, pongs{0},
      pong_timeouts{0}, max_age_closes{0}, disconnects{0}, stalls{0}, malformed{0}, duplicates{0};
  // Copies them into `c`.
  void CopyTo(ReplayCounters* c) const;
};

// What every session reads (all must outlive the sessions).
struct WsEnv {
  const ReplayOptions& opt;  // ws_* options, ws_faults, ws_clock
  const SeriesMap& data;
  const std::vector<std::string>& symbols;  // sorted
  const ExchangeClock& exchange;
  WsCounters& counters;
};

// One upgraded connection: its socket and the io_context that is to run its I/O. `number` (1, 2,
// ... in accept order) seeds the connection's fault RNG (ws_faults.seed + number).
struct WsConn {
  boost::asio::ip::tcp::socket& socket;
  boost::asio::io_context& io;
  uint64_t number = 0;
};

// Serves the upgrade request `req` (arrived at clock time `arrived`) on `conn` until the
// connection ends. A bad stream list is refused with HTTP 400 and its error body (replay.h),
// counted in `rejected`; else the upgrade is accepted (101). `record` is called once, before the
// streams start, with the request's record (status 101 or 400). `go_async` is called once the
// upgrade is accepted, just before the session starts running on conn.io: from then on only
// code run by conn.io may touch the socket (the server posts its shutdown there); false (the
// server is stopping) returns at once.
void ServeWebSocket(const WsEnv& env, WsConn conn,
                    boost::beast::http::request<boost::beast::http::string_body> req,
                    Micros arrived, const std::function<void(const RequestRecord&)>& record,
                    const std::function<bool()>& go_async);

}  // namespace cryptolake::exchange::replay
