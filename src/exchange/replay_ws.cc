// The replay exchange's WebSocket part (replay_ws.h): stream resolution and the per-connection
// session that writes kline events, pings and faults.
#include "exchange/replay_ws.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <string_view>

#include "exchange/replay_rest.h"

namespace cryptolake::exchange::replay {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

constexpr size_t kMaxStreams = 1024;
constexpr auto kWsPoll = std::chrono::milliseconds(1);

Micros FloorTo(Micros t, Micros step) {
  Micros r = t % step;
  return t - (r < 0 ? r + step : r);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// One subscribed stream of a connection and where it stands.
struct WsStream {
  std::string name;                // as requested, e.g. "btcusdt@kline_1m"
  std::string symbol;              // "BTCUSDT"
  const Series* series = nullptr;  // klines to send; null for trade streams and missing data
  size_t next = 0;                 // index of the candle in progress
  Micros last_update = INT64_MIN;  // exchange time of its last "x":false update
};

// Resolves the streams of an upgrade target; false with an error body if they are bad.
bool ResolveStreams(const WsEnv& env, std::string_view path, const Query& q,
                    std::vector<WsStream>* out, bool* combined, std::string* error) {
  auto invalid = [&](std::string_view why) {
    *error = ErrorBody(2, fmt::format("Invalid request: {}", why));
    return false;
  };
  std::vector<std::string> names;
  if (path.rfind("/ws/", 0) == 0) {
    *combined = false;
    std::string_view name = path.substr(4);
    if (name.empty()) return invalid("no stream name in the path");
    if (name.find('/') != std::string_view::npos) {
      return invalid("a raw stream path names one stream: /ws/<stream>");
    }
    names.emplace_back(name);
  } else if (path == "/stream" || path == "/stream/") {
    *combined = true;
    const std::string* s = q.Get("streams");
    if (!s || s->empty()) return invalid("missing parameter 'streams'");
    std::string_view rest = *s;
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      names.emplace_back(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      if (names.size() > kMaxStreams) {
        return invalid(fmt::format("more than {} streams", kMaxStreams));
      }
    }
  } else {
    return invalid(
        fmt::format("unknown path '{}' (use /ws/<stream> or /stream?streams=...)", path));
  }
  for (const std::string& name : names) {
    size_t at = name.find('@');
    if (name.empty() || at == std::string::npos || at == 0) {
      return invalid(fmt::format("unknown stream '{}'", name));
    }
    WsStream st;
    st.name = name;
    st.symbol = Upper(std::string_view(name).substr(0, at));
    std::string_view kind = std::string_view(name).substr(at + 1);
    std::string interval;
    if (kind.rfind("kline_", 0) == 0) {
      interval = std::string(kind.substr(6));
      if (!IsBinanceInterval(interval)) {
        *error = ErrorBody(-1120, "Invalid interval.");
        return false;
      }
    } else if (kind != "trade") {
      return invalid(fmt::format("unknown stream '{}'", name));
    }
    if (!IsSymbolChars(st.symbol) ||
        !std::binary_search(env.symbols.begin(), env.symbols.end(), st.symbol)) {
      *error = ErrorBody(-1121, "Invalid symbol.");
      return false;
    }
    if (!interval.empty()) {
      auto it = env.data.find({st.symbol, interval});
      if (it != env.data.end() && !it->second.rows.empty()) st.series = &it->second;
    }
    out->push_back(std::move(st));
  }
  return true;
}

// One upgraded connection's session. Everything runs on the connection's strand, one handler at a
// time, so no member needs a lock; owned by its pending operations (each holds a shared_ptr).
struct WsSession : std::enable_shared_from_this<WsSession> {
  WsSession(const WsEnv& env, tcp::socket socket, uint64_t number, std::vector<WsStream> streams,
            bool combined, bool micros)
      : env(env),
        ws(std::move(socket)),
        timer(ws.get_executor()),
        timers(env.opt.ws_clock ? *env.opt.ws_clock : SystemClock::Instance()),
        streams(std::move(streams)),
        combined(combined),
        micros(micros),
        faults(env.opt.ws_faults),
        rng(env.opt.ws_faults.seed + number) {}

  const WsEnv& env;
  websocket::stream<tcp::socket> ws;
  asio::steady_timer timer;  // the poll (kWsPoll of real time)
  const Clock& timers;       // of ping, pong timeout, max age and the faults (options.ws_clock)
  std::vector<WsStream> streams;
  const bool combined, micros;
  const WsFaultSpec& faults;
  std::mt19937_64 rng;

  Micros opened = 0, next_ping = 0, ping_since = 0;  // on `timers`
  bool ping_outstanding = false;  // a ping is due or sent and no pong has come since
  bool ping_due = false;          // to be written
  bool writing = false;           // a write (message, ping or close) is in flight
  bool duplicate_due = false;     // `out` is to be sent once more
  bool out_is_final = false;
  bool stalled = false;
  bool closed = false;
  enum class Closing { kNo, kShutdownEvent, kCloseFrame, kDone } closing = Closing::kNo;
  std::string out;  // the message being written; its capacity is reused
  beast::flat_buffer in;

  void Start() {
    opened = timers.Now();
    next_ping = opened + env.opt.ws_ping_interval;
    const Micros now = env.exchange.Now();
    for (WsStream& s : streams) {
      if (!s.series) continue;
      Micros from = FloorTo(now, s.series->interval.micros);
      const auto& rows = s.series->rows;
      s.next = static_cast<size_t>(
          std::lower_bound(rows.begin(), rows.end(), from,
                           [](const Row& r, Micros t) { return r.open_time < t; }) -
          rows.begin());
    }
    out.reserve(512);
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) {
        ++env.counters.pongs;
        ping_outstanding = false;
      }
    });
    Read();
    Pump();
    Tick();
  }

  // Ends the connection at once: the TCP socket is shut down, which fails the pending read and
  // write; the socket itself closes with the session, once no operation holds it any more.
  void Abort() {
    if (closed) return;
    closed = true;
    timer.cancel();
    beast::error_code ignored;
    ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void Read() {
    ws.async_read(in, [this, self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return Abort();  // closed by the client (Beast answered its close), EOF, error
      in.consume(in.size());   // client messages (SUBSCRIBE, ...) are ignored
      Read();
    });
  }

  void Tick() {
    if (closed) return;
    const Micros now = timers.Now();
    if (faults.disconnect_every > 0 && now >= opened + faults.disconnect_every) {
      ++env.counters.disconnects;
      return Abort();
    }
    if (!stalled && faults.stall_after > 0 && now >= opened + faults.stall_after) {
      stalled = true;
      ++env.counters.stalls;
    }
    if (!stalled) {
      if (ping_outstanding && now >= ping_since + env.opt.ws_pong_timeout) {
        ++env.counters.pong_timeouts;
        return Abort();
      }
      if (closing == Closing::kNo && now >= opened + env.opt.ws_max_age) {
        ++env.counters.max_age_closes;
        closing = Closing::kShutdownEvent;
      }
      if (closing == Closing::kNo && now >= next_ping) {
        ping_due = true;
        if (!ping_outstanding) {
          ping_outstanding = true;
          ping_since = now;
        }
        next_ping = now + env.opt.ws_ping_interval;
      }
      Pump();
    }
    timer.expires_after(kWsPoll);
    timer.async_wait([this, self = shared_from_this()](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  // Writes the next thing due, if nothing is being written; called again when the write is done,
  // so messages that are due go out back to back.
  void Pump() {
    if (writing || closed || stalled) return;
    if (ping_due) {
      ping_due = false;
      writing = true;
      ++env.counters.pings;
      ws.async_ping({}, [this, self = shared_from_this()](beast::error_code ec) { Written(ec); });
      return;
    }
    if (duplicate_due) {
      duplicate_due = false;
      return Write();
    }
    switch (closing) {
      case Closing::kShutdownEvent:
        closing = Closing::kCloseFrame;
        out.clear();
        if (combined) out += "{\"stream\":\"!serverShutdown\",\"data\":";
        fmt::format_to(std::back_inserter(out), "{{\"e\":\"serverShutdown\",\"E\":{}}}",
                       Ts(env.exchange.Now()));
        if (combined) out += '}';
        out_is_final = false;
        return Write();
      case Closing::kCloseFrame:
        closing = Closing::kDone;
        writing = true;
        ws.async_close(websocket::close_code::going_away,
                       [this, self = shared_from_this()](beast::error_code) {
                         writing = false;
                         Abort();
                       });
        return;
      case Closing::kDone:
        return;
      case Closing::kNo:
        break;
    }
    if (!NextMessage()) return;  // the next tick looks again
    if (faults.malformed > 0 || faults.duplicate > 0) {
      double u = std::uniform_real_distribution<double>(0, 1)(rng);
      if (faults.malformed > 0 && u < faults.malformed) {
        out.resize(out.size() / 2);
        ++env.counters.malformed;
      } else if (faults.duplicate > 0 && u < faults.malformed + faults.duplicate) {
        duplicate_due = true;
        ++env.counters.duplicates;
      }
    }
    Write();
  }

  void Write() {
    writing = true;
    ++env.counters.messages;
    if (out_is_final) ++env.counters.finals;
    ws.async_write(asio::buffer(out), [this, self = shared_from_this()](beast::error_code ec,
                                                                        size_t) { Written(ec); });
  }

  void Written(beast::error_code ec) {
    writing = false;
    if (ec) return Abort();
    Pump();
  }

  int64_t Ts(Micros t) const { return micros ? t : t / 1000; }

  // Formats the earliest due event of all streams into `out`; false if none is due.
  bool NextMessage() {
    const Micros now = env.exchange.Now();
    WsStream* best = nullptr;
    Micros best_at = 0;
    bool best_final = false;
    for (WsStream& s : streams) {
      if (!s.series || s.next >= s.series->rows.size()) continue;
      const Row& r = s.series->rows[s.next];
      const Micros close = r.open_time + s.series->interval.micros;
      Micros at;
      bool final;
      if (now >= close) {
        at = close;
        final = true;
      } else if (now >= r.open_time && (s.last_update == INT64_MIN ||
                                        now - s.last_update >= env.opt.ws_update_interval)) {
        at = now;
        final = false;
      } else {
        continue;
      }
      if (!best || at < best_at) {
        best = &s;
        best_at = at;
        best_final = final;
      }
    }
    if (!best) return false;
    const Row& r = best->series->rows[best->next];
    if (best_final) {
      ++best->next;
      best->last_update = INT64_MIN;
    } else {
      best->last_update = best_at;
    }
    FormatKline(*best, r, best_at, best_final);
    out_is_final = best_final;
    return true;
  }

  void FormatKline(const WsStream& s, const Row& r, Micros event_time, bool final) {
    out.clear();
    auto app = std::back_inserter(out);
    if (combined) {
      out += "{\"stream\":\"";
      out += s.name;
      out += "\",\"data\":";
    }
    fmt::format_to(app,
                   "{{\"e\":\"kline\",\"E\":{},\"s\":\"{}\",\"k\":{{\"t\":{},\"T\":{},\"s\":\"{}\","
                   "\"i\":\"{}\",\"f\":0,\"L\":0,\"o\":\"",
                   Ts(event_time), s.symbol, Ts(r.open_time), Ts(r.close_time), s.symbol,
                   s.series->interval.name);
    AppendDecimal(out, r.open);
    out += "\",\"c\":\"";
    AppendDecimal(out, r.close);
    out += "\",\"h\":\"";
    AppendDecimal(out, r.high);
    out += "\",\"l\":\"";
    AppendDecimal(out, r.low);
    out += "\",\"v\":\"";
    AppendDecimal(out, r.volume);
    fmt::format_to(app, "\",\"n\":{},\"x\":{},\"q\":\"", r.trades, final ? "true" : "false");
    AppendDecimal(out, r.quote_volume);
    out += "\",\"V\":\"";
    AppendDecimal(out, r.taker_buy_base);
    out += "\",\"Q\":\"";
    AppendDecimal(out, r.taker_buy_quote);
    out += "\",\"B\":\"0\"}}";
    if (combined) out += '}';
  }
};

}  // namespace

void WsCounters::CopyTo(ReplayCounters* c) const {
  c->ws_connections = connections;
  c->ws_rejected = rejected;
  c->ws_messages = messages;
  c->ws_finals = finals;
  c->ws_pings = pings;
  c->ws_pongs = pongs;
  c->ws_pong_timeouts = pong_timeouts;
  c->ws_max_age_closes = max_age_closes;
  c->ws_disconnects = disconnects;
  c->ws_stalls = stalls;
  c->ws_malformed = malformed;
  c->ws_duplicates = duplicates;
}

void ServeWebSocket(const WsEnv& env, tcp::socket socket, uint64_t number,
                    const cryptolake::net::Request& req, Micros arrived,
                    std::function<void(const RequestRecord&)> record) {
  RequestRecord rec;
  rec.at = arrived;
  std::string_view target = req.target;
  rec.target = req.target;
  size_t qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  Query q = qpos == std::string_view::npos ? Query{} : ParseQuery(target.substr(qpos + 1));
  bool micros = false;
  if (const std::string* u = q.Get("timeUnit")) micros = Lower(*u) == "microsecond";
  std::vector<WsStream> streams;
  bool combined = false;
  std::string error;
  if (!ResolveStreams(env, path, q, &streams, &combined, &error)) {
    ++env.counters.rejected;
    rec.status = 400;
    record(rec);
    Response resp{400, std::move(error)};
    struct Refusal {
      tcp::socket socket;
      std::string out;
    };
    auto r = std::make_shared<Refusal>(
        Refusal{std::move(socket),
                SerializeHead(resp, resp.body.size(), 0, /*keep_alive=*/false) + resp.body});
    asio::async_write(r->socket, asio::buffer(r->out), [r](beast::error_code, size_t) {
      beast::error_code ignored;
      r->socket.shutdown(tcp::socket::shutdown_both, ignored);
    });
    return;
  }
  // The upgrade request as Beast takes it (the core parsed it; its fields as sent).
  http::request<http::string_body> upgrade;
  upgrade.method_string(req.method);
  upgrade.target(req.target);
  upgrade.version(11);
  for (const auto& [name, value] : req.headers) upgrade.insert(name, value);
  auto session = std::make_shared<WsSession>(env, std::move(socket), number, std::move(streams),
                                             combined, micros);
  session->ws.read_message_max(64 * 1024);
  session->ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "cryptolake-replay"); }));
  session->ws.async_accept(
      upgrade, [session, rec, record = std::move(record)](beast::error_code ec) mutable {
        rec.status = ec ? 400 : 101;
        if (!ec) ++session->env.counters.connections;
        record(rec);
        if (!ec) session->Start();
      });
}

}  // namespace cryptolake::exchange::replay
