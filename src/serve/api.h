// The HTTP API of `cryptolake serve` (docs/API.md has the reference with examples):
//   GET /healthz                              {"status":"ok"}; 503 while the batch refresh
//                                             fails (serve/refresh_health.h)
//   GET /api/v1/symbols                       symbols with first/last day and batch watermark
//   GET /api/v1/daily?symbol=&from=&to=       the merged daily series (merged.h)
//   GET /api/v1/klines?symbol=&interval=&from=&to=&limit=
//   GET /api/v1/forecast?symbol=[&model=]     the latest forecast (404 until one exists)
//   GET /api/v1/status                        lake version, watermarks, stream lag, open gaps
//   GET /api/v1/stream?symbol=                Server-Sent Events: "daily" and "kline" updates
//   GET /api/v1/alerts[?limit=], /api/v1/alerts/stream   active and recent alerts (alerts_api.h)
//   GET /metrics                              Prometheus text format
// JSON by default; CSV with ?format=csv or an Accept header preferring text/csv (daily, klines,
// symbols). Every string in a JSON body (symbols from the config or the lake, echoed parameters,
// error messages) is written by http_server.h's AppendJsonString: escaped, valid UTF-8; a CSV
// field holding a comma, quote or line break is quoted.
//
// Ranges: from and to are each optional; a bound not given leaves that side open. daily gives
// the days from from's day to to's day, both included. klines gives candles in [from, to): with
// from, the `limit` oldest from it on; without, the `limit` newest before to (or the newest of
// all), in time order, as Binance answers an endTime alone.
//
// Bad requests: 400 (404 for an unknown symbol, and for a forecast that does not exist) with
// {"error":{"status":N,"parameter":"<name>","message":"..."}} naming the parameter:
//   unknown parameter          400 parameter=<it>  "unknown parameter 'x' (allowed: symbol, ...)"
//   repeated parameter         400 parameter=<it>  "parameter 'from' given more than once"
//   missing symbol             400 symbol          "symbol is required"
//   unknown symbol             404 symbol          "unknown symbol 'XYZ' (known: BTCUSDT, ...)"
//   unparseable from/to        400 from|to         "cannot parse 'x' as a date or time ..."
//   from after to              400 from            "from (2025-06-02) is after to (2025-06-01)"
//   range over the limit       400 to|limit        daily: over max_days days (the days from..to
//                                                  names, both included); klines: over
//                                                  max_klines candles, or limit out of 1..max
//   unknown interval           400 interval        "unknown interval '7m' (...)"
//   bad format                 400 format          "format must be json or csv"
//   forecast: model not in it  404 model           "no model 'x' in the forecast for BTCUSDT
//                                                  (it has: naive, drift, ...)" ("(it lists no
//                                                  models)" for a file without "models")
// Forecasts: <forecast_dir>/<SYMBOL>.json (written by `forecast fit|predict` and `up`) is served
// byte for byte as written. With model=NAME the file's "models" entry named NAME is served in the
// same shape: the file's fields in its order, with "model" set to NAME, "interval" to "model"
// (the bands are the model's own interval, not the selected forecast's conformal one) and "rows"
// to that entry's rows; a file that is not a JSON object, or whose NAME entry has no "rows"
// array, is an internal error (500). A symbol never becomes a path: only known symbols name a
// file.
//
// Nothing a client sends reaches SQL text: symbols are checked against the known set, times are
// parsed to integers, intervals to the known set; the lake is read through lake::KlinesSql
// with those values only.
// Internal failures (http_server.h's InternalError): 503 when the merged state cannot be had
// (the lake unreadable at the first build), 500 when reading the lake for klines fails, with
// {"error":{"status":N,"message":"service unavailable"|"internal error","request_id":"<id>"}}
// and nothing else: the reason (DuckDB's text, file paths, SQL) is logged under the same id.
//
// Streams (/api/v1/stream) take no thread: each is polled on the server's io threads every
// ApiOptions::stream_poll, and a poll does nothing unless Merged's state changed since the last;
// then it sends the last merged day and the newest 1m candle, each only if it changed.
//
// Snapshots: every response is computed from one MergedState (merged.h), which holds one lake
// snapshot and one read of the real-time view; a batch refresh swaps in a new state and never
// blocks or tears a response. /api/v1/daily without from/to is served from bodies made per state
// (JSON and gzip) by Merged's prepare hook, on its builder thread, before the state is published:
// the io threads only look them up. The rows before the batch watermark are rendered and
// compressed once per lake version (gzip.h's GzipPrefix), so a new state from the stream costs
// only its speed days. The Api sets the hook on its Merged (one Api per Merged) and removes it
// when destroyed.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "alerts/service.h"
#include "core/status.h"
#include "core/time.h"
#include "serve/http_server.h"
#include "serve/merged.h"
#include "serve/metrics.h"
#include "serve/refresh_health.h"

namespace cryptolake::serve {

// Figures of the speed layer's process for /api/v1/status and /metrics (set by `up`).
struct StreamGauges {
  std::atomic<int64_t> events{0};       // events consumed into the view
  std::atomic<int64_t> reconnects{0};   // WebSocket reconnects
  std::atomic<int64_t> malformed{0};    // malformed messages
  std::atomic<int64_t> rest_weight{0};  // REST weight used in the current minute
  std::atomic<bool> running{false};
  // When set (before the Api is made), read instead of reconnects / rest_weight.
  std::function<int64_t()> reconnects_fn, rest_weight_fn;
  int64_t Reconnects() const { return reconnects_fn ? reconnects_fn() : reconnects.load(); }
  int64_t RestWeight() const { return rest_weight_fn ? rest_weight_fn() : rest_weight.load(); }
};

struct ApiOptions {
  int64_t max_days = 20000;   // a /daily from..to naming more days than this is refused
  int64_t max_klines = 5000;  // limit's maximum (and a from..to span over it is refused)
  int64_t default_limit = 500;
  std::filesystem::path forecast_dir;          // <dir>/<SYMBOL>.json; empty: no forecasts
  std::chrono::milliseconds stream_poll{200};  // how often a stream looks for a new state
  const StreamGauges* gauges = nullptr;        // optional
  const RefreshHealth* refresh = nullptr;      // optional: /healthz reports it
  // Optional: /api/v1/alerts and its stream (serve/alerts_api.h) report it.
  const alerts::AlertService* alerts = nullptr;
};

class Api {
 public:
  // `merged`, `clock` and `metrics` must outlive the Api and every server using its router.
  Api(Merged& merged, const Clock& clock, Metrics& metrics, ApiOptions options = {});
  ~Api();
  // The routes above, for HttpServer::Start.
  Router MakeRouter();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cryptolake::serve
