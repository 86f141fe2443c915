#include "speed/stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "lake/klines.h"
#include "lake/speed_reads.h"

namespace cryptolake::speed {

namespace {

const Interval k1m{"1m", kMicrosPerMinute};

}  // namespace

StatusOr<StreamStats> RunStream(lake::Lake& lk, Bus& bus, GapHealer* healer,
                                const StreamOptions& opt, const std::atomic<bool>& stop) {
  if (opt.symbols.empty()) return InvalidArgument("stream: no symbols given");
  if (opt.role != StreamRole::kConsumer && opt.format == nullptr) {
    return InvalidArgument("stream: no stream format given");
  }
  StreamStats st;
  const bool produce = opt.role != StreamRole::kConsumer;
  const bool consume = opt.role != StreamRole::kProducer;
  std::unique_ptr<RealtimeView> own_view;
  RealtimeView* view = consume ? opt.shared_view : nullptr;
  if (consume && !view) {
    ASSIGN_OR_RETURN(own_view, RealtimeView::Open(lk, opt.view_file, opt.view));
    view = own_view.get();
  }
  if (view) {
    RETURN_IF_ERROR(view->RefreshWatermark());
  }
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Consumer> consumer;
  if (produce) {
    ASSIGN_OR_RETURN(producer, bus.NewProducer());
  }
  if (consume) {
    ASSIGN_OR_RETURN(consumer, bus.NewConsumer(opt.group));
  }
  const Clock& clock = lk.clock();

  // --- producer side (runs on the WebSocket thread) ----------------------------------------
  WsOptions wo = opt.ws;
  if (produce) {
    ASSIGN_OR_RETURN(wo.path, opt.format->Path(opt.symbols, opt.trades));
  }
  venue::StreamFormat* const parser = opt.format;
  std::map<std::string, Micros> last_closed;  // newest closed open_time per symbol, as received
  // kProducer's `until`: symbols that have published a closed candle at or after it.
  const std::set<std::string> wanted(opt.symbols.begin(), opt.symbols.end());
  std::set<std::string> published_until;
  std::atomic<size_t> n_published_until{0};
  auto note_closed = [&](const std::string& symbol, Micros open_time) {
    if (opt.until && open_time >= *opt.until && wanted.count(symbol) &&
        published_until.insert(symbol).second) {
      ++n_published_until;
    }
  };
  std::atomic<int64_t> published{0}, reconnects{0}, heals{0}, healed{0};
  auto publish = [&](const Event& e) {
    Status s = producer->Publish(SymbolOf(e), Encode(e));
    if (!s.ok()) {
      spdlog::error("stream: publish failed: {}", s.message());
      return;
    }
    ++published;
  };
  // Heals [from, to) of `symbol` (to: the exchange's now when absent) with the healer, then
  // publishes the healed candles like streamed ones.
  auto heal = [&](const std::string& symbol, Micros from, std::optional<Micros> to) {
    if (healer == nullptr) return;
    auto candles = healer->Heal(symbol, from, to);
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
      publish(Event(std::move(k)));
      note_closed(symbol, c.open_time);
    }
    if (!candles->empty()) {
      Micros& t = last_closed[symbol];
      t = std::max(t, candles->back().open_time);
    }
    ++heals;
    healed += static_cast<int64_t>(candles->size());
    spdlog::info("stream: healed {} {} candles from {}", candles->size(), symbol, FormatIso(from));
  };
  auto on_message = [&](std::string_view text) {
    Event e;
    auto r = parser->Parse(text, &e);
    if (!r.ok()) {
      if (parser->malformed() <= 5) {
        spdlog::warn("stream: malformed message skipped ({}): {}", r.status().message(),
                     text.substr(0, 200));
      }
      return;
    }
    if (!*r) return;
    if (const auto* k = std::get_if<KlineEvent>(&e); k && k->closed && k->interval == "1m") {
      auto it = last_closed.find(k->symbol);
      // A minute the stream skipped (a lost or broken message): heal it before going on.
      if (it != last_closed.end() && k->open_time > it->second + kMicrosPerMinute) {
        heal(k->symbol, it->second + kMicrosPerMinute, k->open_time);
      }
      Micros& t = last_closed[k->symbol];
      t = std::max(t, k->open_time);
      publish(e);
      note_closed(k->symbol, k->open_time);
      return;
    }
    publish(e);
  };
  auto on_reconnect = [&](Micros) {
    ++reconnects;
    for (auto [symbol, t] : std::map<std::string, Micros>(last_closed)) {
      heal(symbol, t + kMicrosPerMinute, std::nullopt);
    }
  };
  // A restarted stream first heals the time since the view's last closed candle (the process
  // was down), or, with an empty view, since the master dataset's newest 1m candle (a first
  // start after an import or backfill); the first streamed candle then closes any gap left
  // (on_message).
  // A lake that cannot be read here fails the stream: healing would start from nothing.
  std::map<std::string, Micros> lake_last;
  if (healer && produce) {
    auto snap = lk.GetSnapshot();
    if (!snap.ok()) {
      return snap.status().WithContext(
          "stream: reading the newest 1m candle per symbol from the lake's manifest");
    }
    lake_last = lake::LastOpenTimes(*snap, k1m);
  }
  for (const auto& symbol : opt.symbols) {
    if (!produce) break;
    Micros t = view ? view->LastClosed(symbol) : 0;
    if (t == 0 && lake_last.count(symbol)) t = lake_last[symbol];
    if (t > 0) {
      last_closed[symbol] = t;
      heal(symbol, t + kMicrosPerMinute, std::nullopt);
    }
  }
  std::unique_ptr<WsStream> ws;
  std::atomic<bool> ws_done{false};
  Status ws_status = Status::Ok();
  std::thread ws_thread;
  if (produce) {
    ws = std::make_unique<WsStream>(wo, on_message, on_reconnect);
    ws_thread = std::thread([&] {
      ws_status = ws->Run();
      ws_done = true;
    });
  }
  auto stop_ws = [&] {
    if (ws) ws->Stop();
    if (ws_thread.joinable()) ws_thread.join();
  };
  auto finish_stats = [&] {
    if (ws) st.messages = ws->stats().messages.load();
    st.malformed = parser ? parser->malformed() : 0;
    st.ignored = parser ? parser->ignored() : 0;
    st.published = published.load();
    st.reconnects = reconnects.load();
    st.heals = heals.load();
    st.healed = healed.load();
  };
  const Micros start = clock.Now();

  // --- producer only: wait for the end, then flush ----------------------------------------
  if (!consume) {
    // Waits for an event (a signal, the WebSocket ending, `until` reached); the short sleep is
    // only the period at which those flags are looked at.
    while (!stop.load() && !ws_done.load() &&
           !(opt.until && n_published_until.load() >= wanted.size()) &&
           !(opt.duration && clock.Now() - start >= *opt.duration)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop_ws();
    Status fs = producer->Flush(std::chrono::milliseconds(30000));
    finish_stats();
    if (!ws_status.ok()) return ws_status.WithContext("stream");
    if (!fs.ok()) return fs.WithContext("stream: flushing the bus");
    return st;
  }

  // --- consumer side (this thread) --------------------------------------------------------
  // kConsumer commits offsets only after the lake append that holds their events.
  const bool commit_after_lake = opt.role == StreamRole::kConsumer;
  // kConsumer's `until`: the lake holds a closed candle at or after it for every symbol.
  auto lake_reached = [&]() -> bool {
    if (!opt.until) return false;
    auto snap = lk.GetSnapshot();
    if (!snap.ok()) return false;
    for (const auto& s : opt.symbols) {
      Micros newest = INT64_MIN;
      for (const auto* f : snap->Files(lake::KlinesDataset(k1m), s)) {
        newest = std::max(newest, f->max_time);
      }
      if (newest < *opt.until) return false;
    }
    return true;
  };
  bool lake_done = false;
  Micros last_append = start;
  std::map<std::string, Micros> view_closed;
  bool finishing = false;
  Status result = Status::Ok();
  Status flushed = Status::Ok();  // the last flush of the bus: reported after the last append
  constexpr size_t kPoll = 4096;
  std::vector<std::pair<std::vector<Event>, ApplyStats>> folded;  // not yet persisted
  int64_t folded_events = 0;
  std::vector<BusMessage> to_commit;  // last offset per partition, not yet committed
  for (;;) {
    auto msgs = consumer->Poll(kPoll, std::chrono::milliseconds(50));
    if (!msgs.ok()) {
      result = msgs.status();
      break;
    }
    std::vector<Event> events;
    events.reserve(msgs->size());
    for (const auto& m : *msgs) {
      auto e = Decode(m.value);
      if (!e.ok()) {
        spdlog::warn("stream: undecodable bus message at {}:{}: {}", m.partition, m.offset,
                     e.status().message());
        continue;
      }
      if (const auto* k = std::get_if<KlineEvent>(&*e); k && k->closed) {
        Micros& t = view_closed[k->symbol];
        t = std::max(t, k->open_time);
      }
      events.push_back(std::move(*e));
    }
    st.consumed += static_cast<int64_t>(events.size());
    if (!events.empty()) {
      auto as = view->Fold(events);
      if (!as.ok()) {
        result = as.status();
        break;
      }
      st.closed_new += as->closed_new;
      st.duplicates += as->duplicates;
      st.late += as->late;
      st.open_updates += as->open_updates;
      st.trades += as->trades;
      st.from_trades += as->from_trades;
      st.trade_disagreements += as->trade_disagreements;
      folded.push_back({std::move(events), *as});
      folded_events += static_cast<int64_t>(folded.back().first.size());
    }
    // Offsets to commit: the last message of each partition is enough.
    for (const auto& m : *msgs) {
      auto it = std::find_if(to_commit.begin(), to_commit.end(),
                             [&](const BusMessage& c) { return c.partition == m.partition; });
      BusMessage mark{m.key, std::string(), m.partition, m.offset};
      if (it == to_commit.end()) {
        to_commit.push_back(std::move(mark));
      } else if (m.offset > it->offset) {
        *it = std::move(mark);
      }
    }
    // Group commit: persist once caught up with the bus (a short poll) or after
    // `persist_max_events` folded events; only then may the offsets be committed.
    const bool caught_up = msgs->size() < kPoll;
    if (!folded.empty() && (caught_up || folded_events >= opt.persist_max_events)) {
      if (Status s = view->Persist(); !s.ok()) {
        result = s;
        break;
      }
      if (opt.on_applied) {
        for (const auto& [evs, as] : folded) opt.on_applied(evs, as);
      }
      folded.clear();
      folded_events = 0;
    }
    if (folded.empty() && !to_commit.empty() && !commit_after_lake) {
      // A failed commit (e.g. the broker is restarting) only means these events may be
      // delivered again after a restart; the view is idempotent, so go on.
      if (Status s = consumer->Commit(to_commit); !s.ok()) {
        spdlog::warn(
            "stream: committing bus offsets failed (will be retried with the next "
            "batch): {}",
            s.message());
      } else {
        to_commit.clear();
      }
    }
    const Micros now = clock.Now();
    if (now - last_append >= opt.append_every) {
      auto n = view->AppendToLake();  // persists what is folded first
      if (!n.ok()) {
        result = n.status();
        break;
      }
      st.appended += *n;
      if (opt.on_applied) {
        for (const auto& [evs, as] : folded) opt.on_applied(evs, as);
      }
      folded.clear();
      folded_events = 0;
      if (commit_after_lake && !to_commit.empty()) {
        if (Status s = consumer->Commit(to_commit); !s.ok()) {
          spdlog::warn("stream: committing bus offsets failed (retried after the next append): {}",
                       s.message());
        } else {
          std::string parts;
          for (const auto& m : to_commit) {
            parts += fmt::format("{}{}", parts.empty() ? "" : ",", m.partition);
          }
          spdlog::info(
              "stream: appended {} rows to the lake, then committed the offsets of "
              "partitions {}",
              *n, parts);
          to_commit.clear();
        }
      }
      if (Status s = view->RefreshWatermark(); !s.ok()) {
        result = s;
        break;
      }
      last_append = now;
      if (commit_after_lake && !lake_done) lake_done = lake_reached();
    }
    if (finishing) {
      if (msgs->empty()) break;
      continue;
    }
    bool reached = opt.until.has_value();
    for (const auto& s : opt.symbols) {
      if (!opt.until) break;
      auto it = view_closed.find(s);
      if (it == view_closed.end() || it->second < *opt.until) reached = false;
    }
    if (commit_after_lake) reached = lake_done;
    if (stop.load() || reached || ws_done.load() ||
        (opt.duration && now - start >= *opt.duration)) {
      stop_ws();
      if (producer) flushed = producer->Flush(std::chrono::milliseconds(10000));
      finishing = true;
    }
  }
  stop_ws();
  finish_stats();
  if (!result.ok()) return result.WithContext("stream");
  if (!ws_status.ok()) return ws_status.WithContext("stream");
  auto n = view->AppendToLake();
  if (!n.ok()) return n.status().WithContext("stream");
  st.appended += *n;
  if (commit_after_lake && !to_commit.empty()) {
    if (Status s = consumer->Commit(to_commit); !s.ok()) {
      spdlog::warn("stream: committing bus offsets failed (they are delivered again): {}",
                   s.message());
    }
  }
  // What reached the bus is in the lake now; events the failed flush did not deliver are not.
  if (!flushed.ok()) return flushed.WithContext("stream: flushing the bus");
  return st;
}

StatusOr<StreamRole> ParseStreamRole(std::string_view s) {
  if (s == "both") return StreamRole::kBoth;
  if (s == "producer") return StreamRole::kProducer;
  if (s == "consumer") return StreamRole::kConsumer;
  return InvalidArgument("stream role must be both, producer or consumer, got '{}'", s);
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
