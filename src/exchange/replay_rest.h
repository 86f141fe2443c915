// The replay exchange's REST part (internal to cl_replay): the Binance endpoints of replay.h
// ("REST endpoints": ping, time, exchangeInfo, klines, their parameter checks and error bodies)
// as pure functions of the loaded data and the exchange time, and the HTTP/1.1 text they are
// sent in. No state, no locks, no sockets: rate limits and faults are the fault part's
// (replay_fault.h), connections the server's (replay_server.cc).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "exchange/replay_data.h"

namespace cryptolake::exchange::replay {

// A response before serialization.
struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json;charset=UTF-8";
  int64_t retry_after = -1;  // seconds; -1: no header
};

// {"code":<code>,"msg":"<msg>"}, Binance's error body.
std::string ErrorBody(int code, std::string_view msg);
// HTTP 400 with ErrorBody(code, msg).
Response Error(int code, std::string_view msg);

// "HTTP/1.1 <status> <reason>" and the headers Content-Type, Content-Length (`content_length`),
// X-MBX-USED-WEIGHT-1M (`used_weight`), Retry-After (when r.retry_after >= 0) and Connection
// (keep-alive or close), ending with the blank line.
std::string SerializeHead(const Response& r, size_t content_length, int64_t used_weight,
                          bool keep_alive);

// A query string's parameters, '+' and %-escapes decoded; `duplicate` when a name came twice
// (the first value is kept).
struct Query {
  std::map<std::string, std::string> params;
  bool duplicate = false;
  const std::string* Get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? nullptr : &it->second;
  }
};
Query ParseQuery(std::string_view q);

std::string Lower(std::string_view s);
// One of Binance's 16 interval names ("1s" ... "1M").
bool IsBinanceInterval(std::string_view s);
// 1 to 20 of A-Z, 0-9, '-', '_', '.'.
bool IsSymbolChars(std::string_view s);

// The request weight of a path (replay.h: 1, 1, 20, 2; anything else 1).
int64_t WeightOf(std::string_view path);

// What the endpoints read: the data, its symbols (sorted), the exchange time of the request and
// the weight limit that exchangeInfo announces.
struct RestContext {
  const SeriesMap& data;
  const std::vector<std::string>& symbols;
  Micros exchange_now = 0;
  int64_t weight_limit = 0;
};

// The answer of a GET of `path` with query `q` that passed the limits; `micros` (the header
// X-MBX-TIME-UNIT: MICROSECOND) switches timestamps to us. Sets *rows to the klines served.
// Unknown paths: 404 with an HTML body.
Response Route(const RestContext& ctx, std::string_view path, const Query& q, bool micros,
               int64_t* rows);

}  // namespace cryptolake::exchange::replay
