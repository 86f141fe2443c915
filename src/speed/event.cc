#include "speed/event.h"

#include <bit>
#include <cstring>

namespace cryptolake::speed {

static_assert(std::endian::native == std::endian::little, "the bus payload is little-endian");

namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kKline = 1, kTrade = 2;

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void Str(const std::string& s) {
    Put(static_cast<uint16_t>(s.size()));
    out_ += s;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Str(std::string* s) {
    uint16_t n;
    if (!Get(&n) || in_.size() - pos_ < n) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

const std::string& SymbolOf(const Event& e) {
  return std::visit([](const auto& x) -> const std::string& { return x.symbol; }, e);
}

std::string Encode(const Event& e) {
  Writer w;
  w.Put(kVersion);
  if (const auto* k = std::get_if<KlineEvent>(&e)) {
    w.Put(kKline);
    w.Str(k->symbol);
    w.Str(k->interval);
    w.Put(k->event_time);
    w.Put(k->open_time);
    w.Put(k->close_time);
    for (double d : {k->open, k->high, k->low, k->close, k->volume, k->quote_volume,
                     k->taker_buy_base, k->taker_buy_quote}) {
      w.Put(d);
    }
    w.Put(k->trades);
    w.Put(static_cast<uint8_t>(k->closed));
  } else {
    const auto& t = std::get<TradeEvent>(e);
    w.Put(kTrade);
    w.Str(t.symbol);
    w.Put(t.event_time);
    w.Put(t.trade_id);
    w.Put(t.price);
    w.Put(t.quantity);
    w.Put(t.trade_time);
    w.Put(static_cast<uint8_t>(t.buyer_is_maker));
  }
  return w.Take();
}

StatusOr<Event> Decode(std::string_view payload) {
  Reader r(payload);
  uint8_t version = 0, type = 0;
  if (!r.Get(&version) || !r.Get(&type)) {
    return InvalidArgument("event payload: {} bytes, too short for a header", payload.size());
  }
  if (version != kVersion) {
    return InvalidArgument("event payload: format version {}, expected {}", version, kVersion);
  }
  auto truncated = [&](const char* what) {
    return InvalidArgument("event payload: truncated {} ({} bytes)", what, payload.size());
  };
  uint8_t flag = 0;
  if (type == kKline) {
    KlineEvent k;
    if (!r.Str(&k.symbol) || !r.Str(&k.interval) || !r.Get(&k.event_time) || !r.Get(&k.open_time) ||
        !r.Get(&k.close_time)) {
      return truncated("kline");
    }
    for (double* d : {&k.open, &k.high, &k.low, &k.close, &k.volume, &k.quote_volume,
                      &k.taker_buy_base, &k.taker_buy_quote}) {
      if (!r.Get(d)) return truncated("kline");
    }
    if (!r.Get(&k.trades) || !r.Get(&flag)) return truncated("kline");
    if (!r.done())
      return InvalidArgument("event payload: {} trailing bytes", payload.size() - r.pos());
    k.closed = flag != 0;
    return Event(std::move(k));
  }
  if (type == kTrade) {
    TradeEvent t;
    if (!r.Str(&t.symbol) || !r.Get(&t.event_time) || !r.Get(&t.trade_id) || !r.Get(&t.price) ||
        !r.Get(&t.quantity) || !r.Get(&t.trade_time) || !r.Get(&flag)) {
      return truncated("trade");
    }
    if (!r.done())
      return InvalidArgument("event payload: {} trailing bytes", payload.size() - r.pos());
    t.buyer_is_maker = flag != 0;
    return Event(std::move(t));
  }
  return InvalidArgument("event payload: unknown event type {}", type);
}

}  // namespace cryptolake::speed
