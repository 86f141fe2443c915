#include "speed/stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "lake/klines.h"
#include "lake/typed.h"

namespace cryptolake::speed {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

// One run of RunStream, in its steps: open the view and the bus ends, heal since the last
// closed candle, start the WebSocket producer (its callbacks below run on the WebSocket
// thread), then either wait for the end (kProducer) or consume the bus on the caller's thread.
class StreamRun {
 public:
  StreamRun(lake::Lake& lk, Bus& bus, GapHealer* healer, const StreamOptions& opt,
            const std::atomic<bool>& stop)
      : lk_(lk),
        bus_(bus),
        healer_(healer),
        opt_(opt),
        stop_(stop),
        produce_(opt.role != StreamRole::kConsumer),
        consume_(opt.role != StreamRole::kProducer),
        clock_(lk.clock()),
        parser_(opt.format),
        wanted_(opt.symbols.begin(), opt.symbols.end()),
        commit_after_lake_(opt.role == StreamRole::kConsumer) {}
  ~StreamRun() { StopWs(); }

  StatusOr<StreamStats> Run();

 private:
  static constexpr size_t kPoll = 4096;

  // The view (own or shared, its watermark refreshed) and the bus ends of the role.
  Status Open();
  // --- producer side (the WebSocket thread, and this one before it starts) ---
  void NoteClosed(const std::string& symbol, Micros open_time);
  void Publish(const Event& e);
  void Heal(const std::string& symbol, Micros from, std::optional<Micros> to);
  void OnMessage(std::string_view text);
  void OnReconnect();
  Status HealSinceLastClosed();
  Status StartWs();
  void StopWs();
  void FinishStats();
  // kProducer: waits for the end, then flushes.
  StatusOr<StreamStats> RunProducer();
  // --- consumer side (this thread) ---
  StatusOr<StreamStats> RunConsumer();
  // Decodes and folds one poll into the view; notes the offsets to commit.
  Status FoldMessages(const std::vector<BusMessage>& msgs);
  // Group commit: persists once caught up with the bus or after persist_max_events.
  Status PersistIfDue(bool caught_up);
  // kBoth: commits the offsets of what the view has made durable.
  void CommitDurableOffsets();
  // AppendToLake, then (kConsumer) the offsets it holds, then RefreshWatermark.
  Status AppendAndRefresh(Micros now);
  bool LakeReached();
  bool ShouldFinish(Micros now);
  // The last append and commit after the loop.
  StatusOr<StreamStats> Finish(const Status& result, const Status& flushed);

  lake::Lake& lk_;
  Bus& bus_;
  GapHealer* healer_;
  const StreamOptions& opt_;
  const std::atomic<bool>& stop_;
  const bool produce_, consume_;
  StreamStats st_;
  std::unique_ptr<RealtimeView> own_view_;
  RealtimeView* view_ = nullptr;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Consumer> consumer_;
  const Clock& clock_;

  venue::StreamFormat* const parser_;          // the venue's; null for kConsumer
  std::map<std::string, Micros> last_closed_;  // newest closed open_time per symbol, as received
  // kProducer's `until`: symbols that have published a closed candle at or after it.
  const std::set<std::string> wanted_;
  std::set<std::string> published_until_;
  std::atomic<size_t> n_published_until_{0};
  std::atomic<int64_t> published_{0}, reconnects_{0}, heals_{0}, healed_{0};
  std::unique_ptr<WsStream> ws_;
  std::atomic<bool> ws_done_{false};
  Status ws_status_ = Status::Ok();
  std::thread ws_thread_;
  Micros start_ = 0;

  // kConsumer commits offsets only after the lake append that holds their events.
  const bool commit_after_lake_;
  bool lake_done_ = false;
  Micros last_append_ = 0;
  std::map<std::string, Micros> view_closed_;
  std::vector<std::pair<std::vector<Event>, ApplyStats>> folded_;  // not yet persisted
  int64_t folded_events_ = 0;
  std::vector<BusMessage> to_commit_;  // last offset per partition, not yet committed
};

Status StreamRun::Open() {
  view_ = consume_ ? opt_.shared_view : nullptr;
  if (consume_ && !view_) {
    ASSIGN_OR_RETURN(own_view_, RealtimeView::Open(lk_, opt_.view_file, opt_.view));
    view_ = own_view_.get();
  }
  if (view_) {
    RETURN_IF_ERROR(view_->RefreshWatermark());
  }
  if (produce_) {
    ASSIGN_OR_RETURN(producer_, bus_.NewProducer());
  }
  if (consume_) {
    ASSIGN_OR_RETURN(consumer_, bus_.NewConsumer(opt_.group));
  }
  return Status::Ok();
}

void StreamRun::NoteClosed(const std::string& symbol, Micros open_time) {
  if (opt_.until && open_time >= *opt_.until && wanted_.count(symbol) &&
      published_until_.insert(symbol).second) {
    ++n_published_until_;
  }
}

void StreamRun::Publish(const Event& e) {
  Status s = producer_->Publish(SymbolOf(e), Encode(e));
  if (!s.ok()) {
    spdlog::error("stream: publish failed: {}", s.message());
    return;
  }
  ++published_;
}

// Heals [from, to) of `symbol` (to: the exchange's now when absent) with the healer, then
// publishes the healed candles like streamed ones.
void StreamRun::Heal(const std::string& symbol, Micros from, std::optional<Micros> to) {
  if (healer_ == nullptr) return;
  auto candles = healer_->Heal(symbol, from, to);
  if (!candles.ok()) {
    spdlog::warn("stream: healing {} from {} failed: {}", symbol, FormatIso(from),
                 candles.status().message());
    return;
  }
  for (const auto& c : *candles) {
    KlineEvent k;
    static_cast<model::Kline&>(k) = c;
    k.event_time = k.close_time + 1000;
    k.closed = true;
    Publish(Event(std::move(k)));
    NoteClosed(symbol, c.open_time);
  }
  if (!candles->empty()) {
    Micros& t = last_closed_[symbol];
    t = std::max(t, candles->back().open_time);
  }
  ++heals_;
  healed_ += static_cast<int64_t>(candles->size());
  spdlog::info("stream: healed {} {} candles from {}", candles->size(), symbol, FormatIso(from));
}

void StreamRun::OnMessage(std::string_view text) {
  Event e;
  auto r = parser_->Parse(text, &e);
  if (opt_.health) {
    Micros et = 0;
    if (r.ok() && *r) {
      std::visit([&](const auto& ev) { et = ev.event_time; }, e);
    }
    opt_.health->OnMessage(et);
  }
  if (!r.ok()) {
    if (parser_->malformed() <= 5) {
      spdlog::warn("stream: malformed message skipped ({}): {}", r.status().message(),
                   text.substr(0, 200));
    }
    return;
  }
  if (!*r) return;
  if (const auto* k = std::get_if<KlineEvent>(&e); k && k->closed && k->interval == "1m") {
    auto it = last_closed_.find(k->symbol);
    // A minute the stream skipped (a lost or broken message): heal it before going on.
    if (it != last_closed_.end() && k->open_time > it->second + kMicrosPerMinute) {
      Heal(k->symbol, it->second + kMicrosPerMinute, k->open_time);
    }
    Micros& t = last_closed_[k->symbol];
    t = std::max(t, k->open_time);
    Publish(e);
    NoteClosed(k->symbol, k->open_time);
    return;
  }
  Publish(e);
}

void StreamRun::OnReconnect() {
  ++reconnects_;
  if (opt_.health) opt_.health->OnReconnect();
  for (auto [symbol, t] : std::map<std::string, Micros>(last_closed_)) {
    Heal(symbol, t + kMicrosPerMinute, std::nullopt);
  }
}

// A restarted stream first heals the time since the view's last closed candle (the process
// was down), or, with an empty view, since the master dataset's newest 1m candle (a first
// start after an import or backfill); the first streamed candle then closes any gap left
// (OnMessage). A lake that cannot be read here fails the stream: healing would start from
// nothing.
Status StreamRun::HealSinceLastClosed() {
  if (!produce_) return Status::Ok();
  std::map<std::string, Micros> lake_last;
  if (healer_) {
    auto snap = lk_.GetSnapshot();
    if (!snap.ok()) {
      return snap.status().WithContext(
          "stream: reading the newest 1m candle per symbol from the lake's manifest");
    }
    lake_last = lake::LastOpenTimes(*snap, k1m);
  }
  for (const auto& symbol : opt_.symbols) {
    Micros t = view_ ? view_->LastClosed(symbol) : 0;
    if (t == 0 && lake_last.count(symbol)) t = lake_last[symbol];
    if (t > 0) {
      last_closed_[symbol] = t;
      Heal(symbol, t + kMicrosPerMinute, std::nullopt);
    }
  }
  return Status::Ok();
}

Status StreamRun::StartWs() {
  if (!produce_) return Status::Ok();
  WsOptions wo = opt_.ws;
  ASSIGN_OR_RETURN(wo.path, parser_->Path(opt_.symbols, opt_.trades));
  ws_ = std::make_unique<WsStream>(
      wo, [this](std::string_view text) { OnMessage(text); }, [this](Micros) { OnReconnect(); });
  ws_thread_ = std::thread([this] {
    ws_status_ = ws_->Run();
    ws_done_ = true;
  });
  return Status::Ok();
}

void StreamRun::StopWs() {
  if (ws_) ws_->Stop();
  if (ws_thread_.joinable()) ws_thread_.join();
}

void StreamRun::FinishStats() {
  if (ws_) st_.messages = ws_->stats().messages.load();
  st_.malformed = parser_ ? parser_->malformed() : 0;
  st_.ignored = parser_ ? parser_->ignored() : 0;
  st_.published = published_.load();
  st_.reconnects = reconnects_.load();
  st_.heals = heals_.load();
  st_.healed = healed_.load();
}

StatusOr<StreamStats> StreamRun::RunProducer() {
  // Waits for an event (a signal, the WebSocket ending, `until` reached); the short sleep is
  // only the period at which those flags are looked at.
  while (!stop_.load() && !ws_done_.load() &&
         !(opt_.until && n_published_until_.load() >= wanted_.size()) &&
         !(opt_.duration && clock_.Now() - start_ >= *opt_.duration)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  StopWs();
  Status fs = producer_->Flush(std::chrono::milliseconds(30000));
  FinishStats();
  if (!ws_status_.ok()) return ws_status_.WithContext("stream");
  if (!fs.ok()) return fs.WithContext("stream: flushing the bus");
  return st_;
}

Status StreamRun::FoldMessages(const std::vector<BusMessage>& msgs) {
  std::vector<Event> events;
  events.reserve(msgs.size());
  for (const auto& m : msgs) {
    auto e = Decode(m.value);
    if (!e.ok()) {
      spdlog::warn("stream: undecodable bus message at {}:{}: {}", m.partition, m.offset,
                   e.status().message());
      continue;
    }
    if (const auto* k = std::get_if<KlineEvent>(&*e); k && k->closed) {
      Micros& t = view_closed_[k->symbol];
      t = std::max(t, k->open_time);
    }
    events.push_back(std::move(*e));
  }
  st_.consumed += static_cast<int64_t>(events.size());
  if (!events.empty()) {
    ASSIGN_OR_RETURN(ApplyStats as, view_->Fold(events));
    st_.closed_new += as.closed_new;
    st_.duplicates += as.duplicates;
    st_.late += as.late;
    st_.open_updates += as.open_updates;
    st_.trades += as.trades;
    st_.from_trades += as.from_trades;
    st_.trade_disagreements += as.trade_disagreements;
    folded_.push_back({std::move(events), as});
    folded_events_ += static_cast<int64_t>(folded_.back().first.size());
  }
  // Offsets to commit: the last message of each partition is enough.
  for (const auto& m : msgs) {
    auto it = std::find_if(to_commit_.begin(), to_commit_.end(),
                           [&](const BusMessage& c) { return c.partition == m.partition; });
    BusMessage mark{m.key, std::string(), m.partition, m.offset};
    if (it == to_commit_.end()) {
      to_commit_.push_back(std::move(mark));
    } else if (m.offset > it->offset) {
      *it = std::move(mark);
    }
  }
  return Status::Ok();
}

Status StreamRun::PersistIfDue(bool caught_up) {
  if (folded_.empty() || !(caught_up || folded_events_ >= opt_.persist_max_events)) {
    return Status::Ok();
  }
  RETURN_IF_ERROR(view_->Persist());
  if (opt_.on_applied) {
    for (const auto& [evs, as] : folded_) opt_.on_applied(evs, as);
  }
  folded_.clear();
  folded_events_ = 0;
  return Status::Ok();
}

void StreamRun::CommitDurableOffsets() {
  if (!folded_.empty() || to_commit_.empty() || commit_after_lake_) return;
  // A failed commit (e.g. the broker is restarting) only means these events may be delivered
  // again after a restart; the view is idempotent, so go on.
  if (Status s = consumer_->Commit(to_commit_); !s.ok()) {
    spdlog::warn(
        "stream: committing bus offsets failed (will be retried with the next "
        "batch): {}",
        s.message());
  } else {
    to_commit_.clear();
  }
}

Status StreamRun::AppendAndRefresh(Micros now) {
  ASSIGN_OR_RETURN(int64_t n, view_->AppendToLake());  // persists what is folded first
  st_.appended += n;
  if (opt_.on_applied) {
    for (const auto& [evs, as] : folded_) opt_.on_applied(evs, as);
  }
  folded_.clear();
  folded_events_ = 0;
  if (commit_after_lake_ && !to_commit_.empty()) {
    if (Status s = consumer_->Commit(to_commit_); !s.ok()) {
      spdlog::warn("stream: committing bus offsets failed (retried after the next append): {}",
                   s.message());
    } else {
      std::string parts;
      for (const auto& m : to_commit_) {
        parts += fmt::format("{}{}", parts.empty() ? "" : ",", m.partition);
      }
      spdlog::info(
          "stream: appended {} rows to the lake, then committed the offsets of "
          "partitions {}",
          n, parts);
      to_commit_.clear();
    }
  }
  RETURN_IF_ERROR(view_->RefreshWatermark());
  last_append_ = now;
  if (commit_after_lake_ && !lake_done_) lake_done_ = LakeReached();
  return Status::Ok();
}

// kConsumer's `until`: the lake holds a closed candle at or after it for every symbol.
bool StreamRun::LakeReached() {
  if (!opt_.until) return false;
  auto snap = lk_.GetSnapshot();
  if (!snap.ok()) return false;
  for (const auto& s : opt_.symbols) {
    Micros newest = INT64_MIN;
    for (const auto* f : snap->Files(lake::KlinesDataset(k1m), s)) {
      newest = std::max(newest, f->max_time);
    }
    if (newest < *opt_.until) return false;
  }
  return true;
}

bool StreamRun::ShouldFinish(Micros now) {
  bool reached = opt_.until.has_value();
  for (const auto& s : opt_.symbols) {
    if (!opt_.until) break;
    auto it = view_closed_.find(s);
    if (it == view_closed_.end() || it->second < *opt_.until) reached = false;
  }
  if (commit_after_lake_) reached = lake_done_;
  return stop_.load() || reached || ws_done_.load() ||
         (opt_.duration && now - start_ >= *opt_.duration);
}

StatusOr<StreamStats> StreamRun::RunConsumer() {
  last_append_ = start_;
  bool finishing = false;
  Status result = Status::Ok();
  Status flushed = Status::Ok();  // the last flush of the bus: reported after the last append
  for (;;) {
    auto msgs = consumer_->Poll(kPoll, std::chrono::milliseconds(50));
    if (!msgs.ok()) {
      result = msgs.status();
      break;
    }
    result = FoldMessages(*msgs);
    if (result.ok()) result = PersistIfDue(/*caught_up=*/msgs->size() < kPoll);
    if (!result.ok()) break;
    CommitDurableOffsets();
    const Micros now = clock_.Now();
    if (now - last_append_ >= opt_.append_every) {
      result = AppendAndRefresh(now);
      if (!result.ok()) break;
    }
    if (finishing) {
      if (msgs->empty()) break;
      continue;
    }
    if (ShouldFinish(now)) {
      StopWs();
      if (producer_) flushed = producer_->Flush(std::chrono::milliseconds(10000));
      finishing = true;
    }
  }
  return Finish(result, flushed);
}

StatusOr<StreamStats> StreamRun::Finish(const Status& result, const Status& flushed) {
  StopWs();
  FinishStats();
  if (!result.ok()) return result.WithContext("stream");
  if (!ws_status_.ok()) return ws_status_.WithContext("stream");
  auto n = view_->AppendToLake();
  if (!n.ok()) return n.status().WithContext("stream");
  st_.appended += *n;
  if (commit_after_lake_ && !to_commit_.empty()) {
    if (Status s = consumer_->Commit(to_commit_); !s.ok()) {
      spdlog::warn("stream: committing bus offsets failed (they are delivered again): {}",
                   s.message());
    }
  }
  // What reached the bus is in the lake now; events the failed flush did not deliver are not.
  if (!flushed.ok()) return flushed.WithContext("stream: flushing the bus");
  return st_;
}

StatusOr<StreamStats> StreamRun::Run() {
  RETURN_IF_ERROR(Open());
  RETURN_IF_ERROR(HealSinceLastClosed());
  RETURN_IF_ERROR(StartWs());
  start_ = clock_.Now();
  return consume_ ? RunConsumer() : RunProducer();
}

}  // namespace

StatusOr<StreamStats> RunStream(lake::Lake& lk, Bus& bus, GapHealer* healer,
                                const StreamOptions& opt, const std::atomic<bool>& stop) {
  if (opt.symbols.empty()) return InvalidArgument("stream: no symbols given");
  if (opt.role != StreamRole::kConsumer && opt.format == nullptr) {
    return InvalidArgument("stream: no stream format given");
  }
  StreamRun run(lk, bus, healer, opt, stop);
  return run.Run();
}

StatusOr<StreamRole> ParseStreamRole(std::string_view s) {
  if (s == "both") return StreamRole::kBoth;
  if (s == "producer") return StreamRole::kProducer;
  if (s == "consumer") return StreamRole::kConsumer;
  return InvalidArgument("stream role must be both, producer or consumer, got '{}'", s);
}

void StreamHealth::OnMessage(Micros event_time) {
  last_message_at_ = clock_.Now();
  last_message_wall_ = SystemClock::Instance().Now();
  if (event_time != 0) last_event_time_ = event_time;
}

void StreamHealth::OnReconnect() {
  ++reconnects_;
  std::lock_guard lock(mu_);
  reconnect_times_.push_back(clock_.Now());
  if (reconnect_times_.size() > 1024) reconnect_times_.pop_front();
}

std::vector<Micros> StreamHealth::ReconnectTimes() const {
  std::lock_guard lock(mu_);
  return {reconnect_times_.begin(), reconnect_times_.end()};
}

std::string FormatStreamSummary(const StreamStats& s) {
  return fmt::format(
      "stream: {} messages ({} malformed, {} ignored), {} events published, {} consumed; view: "
      "{} new closed candles ({} rebuilt from trades), {} duplicates, {} late, {} open updates, {} "
      "trades ({} trade candles disagreeing with their kline); {} rows appended to the master "
      "dataset; {} reconnects, {} heals ({} candles from REST)",
      s.messages, s.malformed, s.ignored, s.published, s.consumed, s.closed_new, s.from_trades,
      s.duplicates, s.late, s.open_updates, s.trades, s.trade_disagreements, s.appended,
      s.reconnects, s.heals, s.healed);
}

}  // namespace cryptolake::speed
