#include "serve/api.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "core/symbol.h"
#include "serve/alerts_api.h"
#include "serve/gzip.h"

namespace cryptolake::serve {

namespace {

// A JSON number: shortest round-trip text; null for NaN/inf.
void Num(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}
void OptNum(std::string& out, const std::optional<double>& v) {
  if (v) {
    Num(out, *v);
  } else {
    out += "null";
  }
}

struct BadRequest {
  int status;
  std::string parameter, message;
};

// Checks the query against the allowed names (format is always allowed); returns an error for
// an unknown or repeated parameter.
std::optional<BadRequest> CheckParams(const Request& req,
                                      std::initializer_list<const char*> allowed) {
  std::set<std::string> seen;
  for (const auto& [k, v] : req.query) {
    bool ok = k == "format";
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      names.push_back("format");
      return BadRequest{
          400, k, fmt::format("unknown parameter '{}' (allowed: {})", k, fmt::join(names, ", "))};
    }
    if (!seen.insert(k).second) {
      return BadRequest{400, k, fmt::format("parameter '{}' given more than once", k)};
    }
    if (k == "format" && v != "json" && v != "csv") {
      return BadRequest{400, "format", "format must be json or csv"};
    }
  }
  return std::nullopt;
}

Response Error(const BadRequest& b) { return JsonError(b.status, b.parameter, b.message); }

// `s` as a JSON string (quoted, escaped: http_server.h's AppendJsonString).
std::string JsonText(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

// `s` as a CSV field: as is, or quoted (quotes doubled) when it holds a comma, a quote, CR or LF.
std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// `s` cut to at most `n` bytes plus "..." when longer, never inside a UTF-8 character (a cut
// character would make the error body invalid UTF-8 though the request was valid).
std::string Clip(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// ,"open":..,"high":..,"low":..,"close":..,"volume":.. (the fields a daily row and a kline share).
void AppendOhlcv(std::string& out, double open, double high, double low, double close,
                 double volume) {
  out += ",\"open\":";
  Num(out, open);
  out += ",\"high\":";
  Num(out, high);
  out += ",\"low\":";
  Num(out, low);
  out += ",\"close\":";
  Num(out, close);
  out += ",\"volume\":";
  Num(out, volume);
}

std::string DailyJsonRow(const DailyRow& r) {
  std::string out;
  out.reserve(200);
  out += "{\"day\":\"";
  out += FormatDate(r.day);
  out += '"';
  AppendOhlcv(out, r.open, r.high, r.low, r.close, r.volume);
  out += ",\"ma7\":";
  OptNum(out, r.ma7);
  out += ",\"ma30\":";
  OptNum(out, r.ma30);
  out += r.speed ? ",\"source\":\"speed\"" : ",\"source\":\"batch\"";
  out += r.partial ? ",\"partial\":true" : ",\"partial\":false";
  out += r.filled ? ",\"filled\":true}" : ",\"filled\":false}";
  return out;
}

std::string WatermarkJson(Micros w) {
  return w > 0 ? "\"" + FormatDate(w) + "\"" : std::string("null");
}

std::string DailyHeader(const SymbolSeries& s) {
  return "{\"symbol\":" + JsonText(s.symbol) +
         ",\"batch_watermark\":" + WatermarkJson(s.watermark) + ",\"rows\":[";
}

// Rows [from, to) as they follow `before` rows of the same array (comma-separated).
void AppendDailyRows(std::string& out, const SymbolSeries& s, size_t from, size_t to,
                     size_t before) {
  for (size_t i = from; i < to; ++i) {
    if (i > from || before > 0) out += ',';
    out += DailyJsonRow(s.daily[i]);
  }
}

std::string DailyJson(const SymbolSeries& s, size_t from, size_t to) {
  std::string out = DailyHeader(s);
  out.reserve(64 + (to - from) * 200);
  AppendDailyRows(out, s, from, to, 0);
  out += "]}";
  return out;
}

std::string DailyCsv(const SymbolSeries& s, size_t from, size_t to) {
  std::string out = "symbol,day,open,high,low,close,volume,ma7,ma30,source,partial,filled\n";
  for (size_t i = from; i < to; ++i) {
    const DailyRow& r = s.daily[i];
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                   CsvField(s.symbol), FormatDate(r.day), r.open, r.high, r.low, r.close, r.volume,
                   r.ma7 ? fmt::format("{}", *r.ma7) : "", r.ma30 ? fmt::format("{}", *r.ma30) : "",
                   r.speed ? "speed" : "batch", r.partial, r.filled);
  }
  return out;
}

std::string KlineJson(const std::string& symbol, const std::string& interval, const KlineRow& k,
                      bool with_symbol) {
  std::string out = "{";
  if (with_symbol) {
    out += "\"symbol\":" + JsonText(symbol) + ",\"interval\":" + JsonText(interval) + ",";
  }
  out += "\"open_time\":\"" + FormatIso(k.open_time) + "\"";
  AppendOhlcv(out, k.open, k.high, k.low, k.close, k.volume);
  out += k.speed ? ",\"source\":\"speed\"" : ",\"source\":\"batch\"";
  out += k.partial ? ",\"partial\":true" : ",\"partial\":false";
  if (with_symbol) out += k.partial ? ",\"closed\":false" : ",\"closed\":true";
  out += "}";
  return out;
}

Response Json(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}
Response Csv(std::string body) {
  Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(body);
  return r;
}

}  // namespace

struct Api::Impl {
  Merged* merged;
  const Clock* clock;
  Metrics* metrics;
  ApiOptions opt;

  // The full-history /daily bodies of the newest state (JSON and its gzip copy, per symbol),
  // made by Prepare() before the state is published: the io threads only look them up.
  struct Full {
    std::shared_ptr<const std::string> json, gzip;  // gzip null if compressing failed
  };
  std::mutex cache_mu;
  std::shared_ptr<const MergedState> cache_state;
  std::map<std::string, Full> cache;
  // Per symbol, the stable head of the last body made: the header and the rows before the batch
  // watermark (they change only with the lake's version), their JSON, and that JSON compressed
  // once (gzip.h), so a new state costs the tail's rendering and compression only. Used by
  // Prepare() alone (the Merged builder runs one build at a time).
  struct Head {
    std::string header;
    std::vector<DailyRow> rows;
    std::string json;
    std::optional<GzipPrefix> gz;
  };
  std::map<std::string, Head> heads;

  Full Render(const SymbolSeries& s) {
    const size_t n = s.daily.size();
    const size_t k = std::lower_bound(s.daily.begin(), s.daily.end(), s.watermark,
                                      [](const DailyRow& r, Micros t) { return r.day < t; }) -
                     s.daily.begin();
    std::string header = DailyHeader(s);
    Head& h = heads[s.symbol];
    if (h.json.empty() || h.header != header || h.rows.size() != k ||
        !std::equal(h.rows.begin(), h.rows.end(), s.daily.begin())) {
      h.header = std::move(header);
      h.rows.assign(s.daily.begin(), s.daily.begin() + k);
      h.json = h.header;
      h.json.reserve(h.json.size() + k * 200);
      AppendDailyRows(h.json, s, 0, k, 0);
      h.gz = GzipPrefix::Of(h.json);
    }
    std::string tail;
    AppendDailyRows(tail, s, k, n, k);
    tail += "]}";
    Full f;
    auto json = std::make_shared<std::string>();
    json->reserve(h.json.size() + tail.size());
    *json += h.json;
    *json += tail;
    f.json = std::move(json);
    if (h.gz) {
      if (auto gz = h.gz->Finish(tail))
        f.gzip = std::make_shared<const std::string>(std::move(*gz));
    }
    return f;
  }

  // Merged's prepare hook: the bodies of a new state, before any reader can get it.
  void Prepare(const std::shared_ptr<const MergedState>& st) {
    std::map<std::string, Full> bodies;
    for (const auto& [sym, s] : st->symbols) bodies.emplace(sym, Render(*s));
    // The old bodies are freed after the lock: readers only ever wait for a pointer swap.
    std::shared_ptr<const MergedState> old_state;
    std::map<std::string, Full> old;
    std::lock_guard lock(cache_mu);
    old_state = std::exchange(cache_state, st);
    old = std::exchange(cache, std::move(bodies));
  }

  StatusOr<std::shared_ptr<const MergedState>> State() { return merged->Current(); }

  std::optional<BadRequest> Symbol(const Request& req, const MergedState& st,
                                   const SymbolSeries** out) {
    auto s = req.Param("symbol");
    if (!s || s->empty()) return BadRequest{400, "symbol", "symbol is required"};
    // A served symbol as spelled, else as core/symbol.h normalizes it: "btcusdt" is BTCUSDT.
    *out = st.Find(*s);
    if (!*out) {
      if (auto norm = NormalizeSymbol(*s); norm.ok()) *out = st.Find(*norm);
    }
    if (!*out) {
      std::vector<std::string> known;
      for (const auto& [k, v] : st.symbols) known.push_back(k);
      return BadRequest{
          404, "symbol",
          fmt::format("unknown symbol '{}' (known: {})", Clip(*s, 40), fmt::join(known, ", "))};
    }
    return std::nullopt;
  }

  // The state's failure is the server's, not the request's: the client gets a 503 with a request
  // id, the log the reason (it may name files and SQL).
  Response Unavailable(const Request& req, const Status& status) {
    return InternalError(req, 503, status.ToString());
  }

  Response Symbols(const Request& req) {
    if (auto b = CheckParams(req, {})) return Error(*b);
    auto st = State();
    if (!st.ok()) return Unavailable(req, st.status());
    const bool csv = WantsCsv(req);
    std::string out = csv ? "symbol,first_day,last_day,batch_watermark\n" : "{\"symbols\":[";
    bool first = true;
    for (const auto& [sym, s] : (*st)->symbols) {
      std::string fd = s->daily.empty() ? "" : FormatDate(s->daily.front().day);
      std::string ld = s->daily.empty() ? "" : FormatDate(s->daily.back().day);
      if (csv) {
        out += fmt::format("{},{},{},{}\n", CsvField(sym), fd, ld,
                           s->watermark > 0 ? FormatDate(s->watermark) : "");
        continue;
      }
      if (!first) out += ',';
      first = false;
      out +=
          fmt::format("{{\"symbol\":{},\"first_day\":{},\"last_day\":{},\"batch_watermark\":{}}}",
                      JsonText(sym), fd.empty() ? "null" : "\"" + fd + "\"",
                      ld.empty() ? "null" : "\"" + ld + "\"", WatermarkJson(s->watermark));
    }
    if (csv) return Csv(std::move(out));
    out += "]}";
    return Json(std::move(out));
  }

  // from/to of a range, each optional (absent: open on that side); false with *bad set when one
  // does not parse, or when both are given and from is after to.
  bool Range(const Request& req, std::optional<Micros>* from, std::optional<Micros>* to,
             BadRequest* bad) {
    for (const char* name : {"from", "to"}) {
      auto v = req.Param(name);
      if (!v) continue;
      auto t = ParseTime(*v);
      if (!t.ok()) {
        *bad = {400, name,
                fmt::format("cannot parse '{}' as a date or time (YYYY-MM-DD, YYYY-MM-DD "
                            "HH:MM[:SS] or YYYY-MM-DDTHH:MM:SSZ, UTC)",
                            *v)};
        return false;
      }
      (std::string_view(name) == "from" ? *from : *to) = *t;
    }
    if (*from && *to && **from > **to) {
      *bad = {400, "from",
              fmt::format("from ({}) is after to ({})", *req.Param("from"), *req.Param("to"))};
      return false;
    }
    return true;
  }

  Response Daily(const Request& req) {
    if (auto b = CheckParams(req, {"symbol", "from", "to"})) return Error(*b);
    auto st = State();
    if (!st.ok()) return Unavailable(req, st.status());
    const SymbolSeries* s = nullptr;
    if (auto b = Symbol(req, **st, &s)) return Error(*b);
    BadRequest bad;
    std::optional<Micros> from, to;
    if (!Range(req, &from, &to, &bad)) return Error(bad);
    // The days the range names, from's and to's included (to names its whole day).
    if (from && to) {
      const int64_t days = (DayFloor(*to) - DayFloor(*from)) / kMicrosPerDay + 1;
      if (days > opt.max_days) {
        return JsonError(
            400, "to",
            fmt::format("range over the limit: {} days (at most {})", days, opt.max_days));
      }
    }
    const bool csv = WantsCsv(req);
    if (!from && !to && !csv) {
      // The whole series: the bodies Prepare() made for this state. A reader still holding an
      // older state (it got it just before a swap) renders its own.
      Response r;
      {
        std::lock_guard lock(cache_mu);
        if (cache_state == *st) {
          if (auto it = cache.find(s->symbol); it != cache.end()) {
            r.shared_body = it->second.json;
            r.shared_gzip = it->second.gzip;
            return r;
          }
        }
      }
      r.shared_body = std::make_shared<const std::string>(DailyJson(*s, 0, s->daily.size()));
      return r;
    }
    // Days in [from's day, to] (to inclusive: a date names its whole day); a side not given is
    // open. (No sentinel times: flooring the smallest time to its day would overflow.)
    size_t a = 0, b = s->daily.size();
    if (from) {
      a = std::lower_bound(s->daily.begin(), s->daily.end(), DayFloor(*from),
                           [](const DailyRow& r, Micros t) { return r.day < t; }) -
          s->daily.begin();
    }
    if (to) {
      b = std::upper_bound(s->daily.begin(), s->daily.end(), *to,
                           [](Micros t, const DailyRow& r) { return t < r.day; }) -
          s->daily.begin();
    }
    b = std::max(a, b);
    return csv ? Csv(DailyCsv(*s, a, b)) : Json(DailyJson(*s, a, b));
  }

  Response Klines(const Request& req) {
    if (auto b = CheckParams(req, {"symbol", "interval", "from", "to", "limit"})) return Error(*b);
    auto st = State();
    if (!st.ok()) return Unavailable(req, st.status());
    const SymbolSeries* s = nullptr;
    if (auto b = Symbol(req, **st, &s)) return Error(*b);
    std::string iv_name = req.Param("interval").value_or("1m");
    auto iv = Interval::Parse(iv_name);
    if (!iv.ok()) {
      return JsonError(400, "interval",
                       fmt::format("unknown interval '{}' (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, "
                                   "8h, 12h, 1d)",
                                   Clip(iv_name, 20)));
    }
    int64_t limit = opt.default_limit;
    if (auto l = req.Param("limit")) {
      char* end = nullptr;
      long long v = std::strtoll(l->c_str(), &end, 10);
      if (l->empty() || *end != '\0' || v < 1 || v > opt.max_klines) {
        return JsonError(400, "limit",
                         fmt::format("limit must be an integer from 1 to {}", opt.max_klines));
      }
      limit = v;
    }
    BadRequest bad;
    std::optional<Micros> from, to;
    if (!Range(req, &from, &to, &bad)) return Error(bad);
    if (from && to && (*to - *from) / iv->micros > opt.max_klines) {
      return JsonError(400, "to",
                       fmt::format("range over the limit: {} {} candles (at most {}; page with "
                                   "from and limit)",
                                   (*to - *from) / iv->micros, iv->name, opt.max_klines));
    }
    auto rows = merged->Klines(s->symbol, *iv, from, to, limit);
    if (!rows.ok()) return InternalError(req, 500, rows.status().ToString());
    if (WantsCsv(req)) {
      std::string out = "symbol,interval,open_time,open,high,low,close,volume,source,partial\n";
      const std::string symbol = CsvField(s->symbol);
      for (const auto& k : *rows) {
        fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{}\n", symbol, iv->name,
                       FormatIso(k.open_time), k.open, k.high, k.low, k.close, k.volume,
                       k.speed ? "speed" : "batch", k.partial);
      }
      return Csv(std::move(out));
    }
    std::string out = "{\"symbol\":" + JsonText(s->symbol) + ",\"interval\":" + JsonText(iv->name) +
                      ",\"rows\":[";
    for (size_t i = 0; i < rows->size(); ++i) {
      if (i) out += ',';
      out += KlineJson(s->symbol, iv->name, (*rows)[i], false);
    }
    out += "]}";
    return Json(std::move(out));
  }

  Response Forecast(const Request& req) {
    if (auto b = CheckParams(req, {"symbol", "model"})) return Error(*b);
    auto st = State();
    if (!st.ok()) return Unavailable(req, st.status());
    const SymbolSeries* s = nullptr;
    if (auto b = Symbol(req, **st, &s)) return Error(*b);
    if (opt.forecast_dir.empty()) {
      return JsonError(404, "symbol", fmt::format("no forecast for {}", s->symbol));
    }
    const std::filesystem::path file = opt.forecast_dir / (s->symbol + ".json");
    std::ifstream in(file, std::ios::binary);
    if (!in) return JsonError(404, "symbol", fmt::format("no forecast for {}", s->symbol));
    std::ostringstream ss;
    ss << in.rdbuf();
    auto model = req.Param("model");
    if (!model) return Json(ss.str());  // the file as written
    return ModelForecast(req, s->symbol, *model, file, ss.str());
  }

  // The forecast file `text` with "model", "interval" and "rows" taken from the entry of
  // "models" named `model` (api.h); the other fields and their order as in the file.
  Response ModelForecast(const Request& req, const std::string& symbol, const std::string& model,
                         const std::filesystem::path& file, const std::string& text) {
    using nlohmann::ordered_json;
    ordered_json doc = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return InternalError(req, 500, fmt::format("{}: not a JSON object", file.string()));
    }
    std::vector<std::string> names;
    ordered_json rows;
    bool found = false;
    if (auto models = doc.find("models"); models != doc.end() && models->is_array()) {
      for (const ordered_json& m : *models) {
        auto name = m.is_object() ? m.find("name") : m.end();
        if (!m.is_object() || name == m.end() || !name->is_string()) continue;
        names.push_back(name->get<std::string>());
        if (names.back() != model) continue;
        auto r = m.find("rows");
        if (r == m.end() || !r->is_array()) {
          return InternalError(
              req, 500, fmt::format("{}: model '{}' has no \"rows\" array", file.string(), model));
        }
        rows = *r;
        found = true;
      }
    }
    if (!found) {
      return JsonError(
          404, "model",
          fmt::format("no model '{}' in the forecast for {} ({})", Clip(model, 40), symbol,
                      names.empty() ? std::string("it lists no models")
                                    : fmt::format("it has: {}", fmt::join(names, ", "))));
    }
    doc["model"] = model;
    doc["interval"] = "model";
    doc["rows"] = std::move(rows);
    return Json(doc.dump() + "\n");
  }

  Response StatusJson(const Request& req) {
    if (auto b = CheckParams(req, {})) return Error(*b);
    auto st = State();
    if (!st.ok()) return Unavailable(req, st.status());
    const Micros now = clock->Now();
    std::string out = fmt::format("{{\"lake_version\":{},\"now\":\"{}\",\"symbols\":[",
                                  (*st)->lake_version, FormatIso(now));
    bool first = true;
    for (const auto& [sym, s] : (*st)->symbols) {
      if (!first) out += ',';
      first = false;
      Micros last = 0;
      int64_t gaps = 0, missing = 0;
      const size_t closed = s->m1.size() - (s->m1_open_last ? 1 : 0);
      for (size_t i = 0; i < closed; ++i) {
        if (i > 0 && s->m1[i].open_time - s->m1[i - 1].open_time > kMicrosPerMinute) {
          ++gaps;
          missing += (s->m1[i].open_time - s->m1[i - 1].open_time) / kMicrosPerMinute - 1;
        }
        last = s->m1[i].open_time;
      }
      out += fmt::format(
          "{{\"symbol\":{},\"batch_watermark\":{},\"last_closed_minute\":{},"
          "\"stream_lag_seconds\":{},\"open_gaps\":{},\"missing_minutes\":{}}}",
          JsonText(sym), WatermarkJson(s->watermark),
          last > 0 ? "\"" + FormatIso(last) + "\"" : std::string("null"),
          last > 0 ? fmt::format("{}", static_cast<double>(now - last - kMicrosPerMinute) / 1e6)
                   : std::string("null"),
          gaps, missing);
    }
    out += "]";
    if (opt.gauges) {
      out += fmt::format(
          ",\"stream\":{{\"running\":{},\"events\":{},\"reconnects\":{},\"malformed\":{}}}",
          opt.gauges->running.load(), opt.gauges->events.load(), opt.gauges->Reconnects(),
          opt.gauges->malformed.load());
    }
    out += "}";
    return Json(std::move(out));
  }

  // What one stream remembers between polls: the state it last looked at and the events it last
  // sent (an event goes out only when it changed).
  struct StreamCursor {
    std::string symbol;
    std::shared_ptr<const MergedState> seen;
    std::string last_daily, last_kline;
  };

  // A poll of one stream (on an io thread): nothing unless the state changed since the last.
  void PollStream(StreamCursor& c, EventSink& sink) {
    auto st = State();
    if (!st.ok() || *st == c.seen) return;  // a failed rebuild keeps the last state: try later
    c.seen = std::move(*st);
    const SymbolSeries* s = c.seen->Find(c.symbol);
    if (s && !s->daily.empty()) {
      std::string d = DailyJsonRow(s->daily.back());
      if (d != c.last_daily) sink.Send("daily", d);
      c.last_daily = std::move(d);
    }
    if (s && !s->m1.empty()) {
      const speed::Candle& k = s->m1.back();
      KlineRow row = KlineRow::Of(k.open_time, k.open, k.high, k.low, k.close, k.volume, true,
                                  s->m1_open_last);
      std::string j = KlineJson(c.symbol, "1m", row, true);
      if (j != c.last_kline) sink.Send("kline", j);
      c.last_kline = std::move(j);
    }
  }

  StreamReply Stream(const Request& req) {
    if (auto b = CheckParams(req, {"symbol"})) return StreamReply::Refuse(Error(*b));
    auto st = State();
    if (!st.ok()) return StreamReply::Refuse(Unavailable(req, st.status()));
    const SymbolSeries* s = nullptr;
    if (auto b = Symbol(req, **st, &s)) return StreamReply::Refuse(Error(*b));
    return StreamReply::Poll([this, c = StreamCursor{s->symbol, nullptr, {}, {}}](
                                 EventSink& sink) mutable { PollStream(c, sink); },
                             opt.stream_poll);
  }

  Response MetricsText(const Request& req) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics->Render();
    return r;
  }
};

Api::Api(Merged& merged, const Clock& clock, Metrics& metrics, ApiOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->merged = &merged;
  impl_->clock = &clock;
  impl_->metrics = &metrics;
  impl_->opt = std::move(options);
  Impl* m = impl_.get();
  // Gauges evaluated at scrape time.
  metrics
      .AddGauge("cryptolake_open_gaps",
                "Missing 1m candles after the batch watermark, over the symbols")
      .WithLabels({})
      .SetCallback([m] {
        auto st = m->merged->Current();
        if (!st.ok()) return 0.0;
        double missing = 0;
        for (const auto& [sym, s] : (*st)->symbols) {
          size_t closed = s->m1.size() - (s->m1_open_last ? 1 : 0);
          for (size_t i = 1; i < closed; ++i) {
            missing += static_cast<double>(
                (s->m1[i].open_time - s->m1[i - 1].open_time) / kMicrosPerMinute - 1);
          }
        }
        return missing;
      });
  auto& lag = metrics.AddGauge(
      "cryptolake_ingest_lag_seconds",
      "Seconds from the close of the newest closed 1m candle to now, the largest over the "
      "symbols");
  lag.WithLabels({}).SetCallback([m] {
    auto st = m->merged->Current();
    if (!st.ok()) return 0.0;
    double worst = 0;
    for (const auto& [sym, s] : (*st)->symbols) {
      size_t closed = s->m1.size() - (s->m1_open_last ? 1 : 0);
      if (closed == 0) continue;
      double l =
          static_cast<double>(m->clock->Now() - s->m1[closed - 1].open_time - kMicrosPerMinute) /
          1e6;
      worst = std::max(worst, l);
    }
    return worst;
  });
  if (m->opt.gauges) {
    const StreamGauges* g = m->opt.gauges;
    metrics.AddGauge("cryptolake_stream_events", "Events consumed into the view since start")
        .WithLabels({})
        .SetCallback([g] { return static_cast<double>(g->events.load()); });
    metrics.AddGauge("cryptolake_stream_reconnects", "WebSocket reconnects")
        .WithLabels({})
        .SetCallback([g] { return static_cast<double>(g->Reconnects()); });
    metrics.AddGauge("cryptolake_rest_weight_used", "REST request weight used this minute")
        .WithLabels({})
        .SetCallback([g] { return static_cast<double>(g->RestWeight()); });
  }
  // The full-history /daily bodies are made off the io threads, before a state is published.
  merged.SetPrepare([m](const std::shared_ptr<const MergedState>& st) { m->Prepare(st); });
}

Api::~Api() {
  // After this returns the builder never calls Prepare() on the destroyed Impl.
  impl_->merged->SetPrepare(nullptr);
}

Router Api::MakeRouter() {
  Router r;
  Impl* m = impl_.get();
  r.Get("/healthz", [m](const Request&) {
    if (!m->opt.refresh) return Json("{\"status\":\"ok\"}");
    auto [status, body] = m->opt.refresh->Healthz();
    Response r = Json(std::move(body));
    r.status = status;
    return r;
  });
  r.Get("/api/v1/symbols", [m](const Request& q) { return m->Symbols(q); });
  r.Get("/api/v1/daily", [m](const Request& q) { return m->Daily(q); });
  r.Get("/api/v1/klines", [m](const Request& q) { return m->Klines(q); });
  r.Get("/api/v1/forecast", [m](const Request& q) { return m->Forecast(q); });
  r.Get("/api/v1/status", [m](const Request& q) { return m->StatusJson(q); });
  r.Get("/metrics", [m](const Request& q) { return m->MetricsText(q); });
  r.Stream("/api/v1/stream", [m](const Request& q) { return m->Stream(q); });
  AddAlertRoutes(r, m->opt.alerts, m->opt.stream_poll);
  return r;
}

}  // namespace cryptolake::serve
