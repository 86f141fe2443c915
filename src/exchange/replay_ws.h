// The replay exchange's WebSocket part (internal to cl_replay): the market streams of replay.h
// ("WebSocket streams": /ws/<stream> and /stream?streams=..., kline events on exchange time,
// pings, pong timeouts, max age, and the WsFaultSpec faults) on one upgraded connection.
//
// The server (replay_server.cc, through the HTTP server core's upgrade hook) hands the upgraded
// connection over; from then on it belongs to this part. All of a session's I/O runs on the
// connection's strand, one handler at a time, so the session needs no lock; the counters are
// atomics shared by every connection.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "exchange/replay.h"
#include "exchange/replay_data.h"
#include "net/http_server.h"

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

// Serves the upgrade request `req` (arrived at clock time `arrived`) on `socket`, which the HTTP
// server core (net/http_server.h, "Upgrades") handed over: everything runs asynchronously on the
// socket's executor (a strand of the core's io context), and the session's state is owned by its
// pending operations, so the core's Stop() ends it and closes the socket. Returns at once.
// `number` (the core's connection number: 1, 2, ... in accept order) seeds the connection's fault
// RNG (ws_faults.seed + number). A bad stream list is refused with HTTP 400 and its error body
// (replay.h), counted in `rejected`; else the upgrade is accepted (101). `record` is called once,
// before the streams start, with the request's record (status 101 or 400). `env` must outlive
// the session (the core's Stop() ends it).
void ServeWebSocket(const WsEnv& env, boost::asio::ip::tcp::socket socket, uint64_t number,
                    const cryptolake::net::Request& req, Micros arrived,
                    std::function<void(const RequestRecord&)> record);

}  // namespace cryptolake::exchange::replay
