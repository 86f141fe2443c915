#include "venues/binance/stream_parser.h"

#include <fast_float/fast_float.h>
#include <simdjson.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/bounds.h"
#include "core/symbol.h"
#include "model/validate.h"

namespace cryptolake::venues::binance {

using model::Event;
using model::KlineEvent;
using model::TradeEvent;

namespace od = simdjson::ondemand;

struct StreamParser::Impl {
  od::parser parser;
  std::vector<char> buf;  // the message plus SIMDJSON_PADDING
};

namespace {

// A failure inside one message; turned into a Status once, at the top.
struct Bad {
  std::string reason;
};

double Decimal(od::value v, const char* field) {
  std::string_view s;
  if (v.get_string().get(s)) throw Bad{fmt::format("field {}: not a string", field)};
  double d = 0;
  auto r = fast_float::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(d)) {
    throw Bad{fmt::format("field {}: not a number '{}'", field, s)};
  }
  return d;
}

int64_t Integer(od::value v, const char* field) {
  int64_t i = 0;
  if (v.get_int64().get(i)) throw Bad{fmt::format("field {}: not an integer", field)};
  return i;
}

// ms (13 digits) or us (16 digits) -> micros.
Micros Time(od::value v, const char* field) {
  int64_t t = Integer(v, field);
  if (t < 0 || t >= 100'000'000'000'000'000) {
    throw Bad{fmt::format("field {}: time {} out of range", field, t)};
  }
  return t >= 1'000'000'000'000'000 ? t : t * 1000;  // 16+ digits: already micros
}

std::string Symbol(od::value v, const char* field) {
  std::string_view s;
  if (v.get_string().get(s) || s.empty()) throw Bad{fmt::format("field {}: not a symbol", field)};
  auto norm = NormalizeSymbol(s);
  if (!norm.ok()) throw Bad{fmt::format("field {}: {}", field, norm.status().message())};
  return *norm;
}

// The kline rules every source shares (model/validate.h) and the open-time bounds of
// core/bounds.h: a kline the lake could not store is refused whole.
void CheckBounds(const KlineEvent& k) {
  if (std::string e = model::ValidateKline(k, /*full=*/true, model::kWsKlineFields); !e.empty()) {
    throw Bad{"kline: " + e};
  }
  auto iv = Interval::Parse(k.interval);
  if (!iv.ok()) throw Bad{fmt::format("kline: field k.i: {}", iv.status().message())};
  // Exchange time bounds the open time: at most one interval after the event time.
  if (std::string e = OpenTimeBoundError(k.open_time, *iv, kFirstBinanceKline, k.event_time);
      !e.empty()) {
    throw Bad{"kline: " + e};
  }
}

void CheckBounds(const TradeEvent& t) {
  if (std::string e = PriceBoundError("p", t.price); !e.empty()) throw Bad{"trade: " + e};
  if (std::string e = VolumeBoundError("q", t.quantity); !e.empty()) throw Bad{"trade: " + e};
}

KlineEvent ParseKline(od::object data) {
  KlineEvent k;
  bool have_k = false, have_s = false, have_e = false;
  for (auto fr : data) {
    od::field field;
    std::string_view key;
    if (std::move(fr).get(field) || field.unescaped_key().get(key)) throw Bad{"kline: bad key"};
    od::value v = field.value();
    if (key == "s") {
      k.symbol = Symbol(v, "s");
      have_s = true;
    } else if (key == "E") {
      k.event_time = Time(v, "E");
      have_e = true;
    } else if (key == "k") {
      od::object ko;
      if (v.get_object().get(ko)) throw Bad{"kline: field k: not an object"};
      int seen = 0;  // bit per required field
      std::string ks;
      for (auto kfr : ko) {
        od::field kf;
        std::string_view kk;
        if (std::move(kfr).get(kf) || kf.unescaped_key().get(kk)) throw Bad{"kline: bad key in k"};
        od::value kv = kf.value();
        if (kk.size() != 1) continue;  // unknown long keys are ignored
        switch (kk[0]) {
          case 't':
            k.open_time = Time(kv, "k.t"), seen |= 1 << 0;
            break;
          case 'T':
            k.close_time = Time(kv, "k.T"), seen |= 1 << 1;
            break;
          case 'o':
            k.open = Decimal(kv, "k.o"), seen |= 1 << 2;
            break;
          case 'h':
            k.high = Decimal(kv, "k.h"), seen |= 1 << 3;
            break;
          case 'l':
            k.low = Decimal(kv, "k.l"), seen |= 1 << 4;
            break;
          case 'c':
            k.close = Decimal(kv, "k.c"), seen |= 1 << 5;
            break;
          case 'v':
            k.volume = Decimal(kv, "k.v"), seen |= 1 << 6;
            break;
          case 'q':
            k.quote_volume = Decimal(kv, "k.q"), seen |= 1 << 7;
            break;
          case 'V':
            k.taker_buy_base = Decimal(kv, "k.V"), seen |= 1 << 8;
            break;
          case 'Q':
            k.taker_buy_quote = Decimal(kv, "k.Q"), seen |= 1 << 9;
            break;
          case 'n':
            k.trades = Integer(kv, "k.n"), seen |= 1 << 10;
            break;
          case 'x': {
            bool x = false;
            if (kv.get_bool().get(x)) throw Bad{"kline: field k.x: not a boolean"};
            k.closed = x;
            seen |= 1 << 11;
            break;
          }
          case 'i': {
            std::string_view iv;
            if (kv.get_string().get(iv)) throw Bad{"kline: field k.i: not a string"};
            k.interval = std::string(iv);
            seen |= 1 << 12;
            break;
          }
          case 's':
            ks = Symbol(kv, "k.s");
            break;
          default:
            break;
        }
      }
      static const char* kNames[] = {"k.t", "k.T", "k.o", "k.h", "k.l", "k.c", "k.v",
                                     "k.q", "k.V", "k.Q", "k.n", "k.x", "k.i"};
      for (int b = 0; b < 13; ++b) {
        if (!(seen & (1 << b))) throw Bad{fmt::format("kline: field {} missing", kNames[b])};
      }
      if (!ks.empty() && have_s && ks != k.symbol) {
        throw Bad{fmt::format("kline: k.s {} differs from s {}", ks, k.symbol)};
      }
      if (!have_s && !ks.empty()) {
        k.symbol = ks;
        have_s = true;
      }
      have_k = true;
    }
  }
  if (!have_k) throw Bad{"kline: field k missing"};
  if (!have_s) throw Bad{"kline: field s missing"};
  if (!have_e) throw Bad{"kline: field E missing"};
  CheckBounds(k);
  return k;
}

TradeEvent ParseTrade(od::object data) {
  TradeEvent t;
  int seen = 0;
  for (auto fr : data) {
    od::field field;
    std::string_view key;
    if (std::move(fr).get(field) || field.unescaped_key().get(key)) throw Bad{"trade: bad key"};
    od::value v = field.value();
    if (key.size() != 1) continue;
    switch (key[0]) {
      case 's':
        t.symbol = Symbol(v, "s"), seen |= 1 << 0;
        break;
      case 'E':
        t.event_time = Time(v, "E"), seen |= 1 << 1;
        break;
      case 't':
        t.trade_id = Integer(v, "t"), seen |= 1 << 2;
        break;
      case 'p':
        t.price = Decimal(v, "p"), seen |= 1 << 3;
        break;
      case 'q':
        t.quantity = Decimal(v, "q"), seen |= 1 << 4;
        break;
      case 'T':
        t.trade_time = Time(v, "T"), seen |= 1 << 5;
        break;
      case 'm': {
        bool m = false;
        if (v.get_bool().get(m)) throw Bad{"trade: field m: not a boolean"};
        t.buyer_is_maker = m;
        seen |= 1 << 6;
        break;
      }
      default:
        break;
    }
  }
  static const char* kNames[] = {"s", "E", "t", "p", "q", "T", "m"};
  for (int b = 0; b < 7; ++b) {
    if (!(seen & (1 << b))) throw Bad{fmt::format("trade: field {} missing", kNames[b])};
  }
  CheckBounds(t);
  return t;
}

// The event type of a payload object, found by a first pass over its keys.
std::string_view EventType(od::object obj) {
  std::string_view type;
  for (auto fr : obj) {
    od::field field;
    std::string_view key;
    if (std::move(fr).get(field) || field.unescaped_key().get(key)) throw Bad{"bad key"};
    if (key == "e") {
      if (field.value().get_string().get(type)) throw Bad{"field e: not a string"};
      break;
    }
  }
  return type;
}

}  // namespace

StreamParser::StreamParser() : impl_(std::make_unique<Impl>()) {}
StreamParser::~StreamParser() = default;

StatusOr<std::string> StreamParser::Path(const std::vector<std::string>& symbols,
                                         bool trades) const {
  if (symbols.empty()) return InvalidArgument("websocket url: no streams to subscribe to");
  std::string path = "/stream?streams=";
  for (size_t i = 0; i < symbols.size(); ++i) {
    std::string lower = symbols[i];
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.empty() || lower.find_first_of("/?&# ") != std::string::npos) {
      return InvalidArgument("websocket url: bad stream name '{}@kline_1m'", lower);
    }
    if (i > 0) path += '/';
    path += lower + "@kline_1m";
    if (trades) path += "/" + lower + "@trade";
  }
  return path;
}

StatusOr<bool> StreamParser::Parse(std::string_view text, Event* out) {
  auto& buf = impl_->buf;
  if (buf.size() < text.size() + simdjson::SIMDJSON_PADDING) {
    buf.resize(text.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buf.data(), text.data(), text.size());
  std::memset(buf.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  try {
    od::document doc;
    if (impl_->parser.iterate(buf.data(), text.size(), buf.size()).get(doc)) {
      throw Bad{"broken JSON"};
    }
    od::object root;
    if (doc.get_object().get(root)) throw Bad{"not a JSON object"};
    // Combined streams wrap the payload in {"stream":..,"data":{...}}; control replies carry
    // "result"/"id". Find out which, then parse the payload object.
    bool wrapped = false, control = false;
    for (auto fr : root) {
      od::field field;
      std::string_view key;
      if (std::move(fr).get(field) || field.unescaped_key().get(key)) throw Bad{"bad key"};
      if (key == "data") {
        wrapped = true;
        break;
      }
      if (key == "result" || key == "id") control = true;
      if (key == "e") break;
    }
    if (control && !wrapped) {
      ++ignored_;
      return false;
    }
    // The payload object, from the start (On Demand reads forward only: rewind the document).
    auto payload_object = [&] {
      doc.rewind();
      od::object payload;
      if (wrapped) {
        od::value data;
        if (doc.find_field_unordered("data").get(data)) throw Bad{"field data missing"};
        if (data.get_object().get(payload)) throw Bad{"field data: not an object"};
      } else if (doc.get_object().get(payload)) {
        throw Bad{"not a JSON object"};
      }
      return payload;
    };
    std::string_view type = EventType(payload_object());
    std::string type_copy(type);
    type = type_copy;
    od::object payload = payload_object();
    if (type == "kline") {
      *out = ParseKline(payload);
    } else if (type == "trade") {
      *out = ParseTrade(payload);
    } else if (type.empty()) {
      throw Bad{"field e missing"};
    } else {
      ++ignored_;
      return false;
    }
    ++events_;
    return true;
  } catch (const Bad& b) {
    ++malformed_;
    return InvalidArgument("{}", b.reason);
  } catch (const simdjson::simdjson_error& e) {
    ++malformed_;
    return InvalidArgument("broken JSON: {}", e.what());
  }
}

}  // namespace cryptolake::venues::binance
