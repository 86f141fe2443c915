// `cryptolake stream`: the speed layer in one process -- WebSocket producer -> bus -> consumer
// -> real-time view and master dataset.
//
//   producer thread   WsStream (the kline_1m + trade streams of every symbol, at the path the
//                     venue's StreamFormat gives, venue/venue.h) -> StreamFormat::Parse -> Encode
//                     -> bus Producer (key = symbol). Malformed messages are counted and logged
//                     (the first few in full) and never stop the stream. After a reconnect that
//                     followed a failure, the gap since the last closed candle is healed by the
//                     GapHealer given (speed/gap_healer.h; `stream` and `up` wire the batch layer's
//                     REST backfill, backfill/healer.h), and the healed candles are published to
//                     the bus as closed kline events, so the view gets them too. The same healing
//                     runs at start-up from the view's last closed candle (a restart after a crash)
//                     and whenever a closed candle arrives with minutes missing before it (a
//                     lost or broken message).
//   consumer (caller) bus Consumer -> Decode -> RealtimeView::Fold (visible) -> Persist
//                     (durable; group commit, see persist_max_events) -> Commit offsets;
//                     every `append_every` of clock time: AppendToLake + RefreshWatermark.
//
// Roles (StreamOptions::role), so that the stream scales out across processes on a shared bus
// (Kafka) and a shared lake:
//   kBoth      both halves above in one process (the default; the embedded bus needs it).
//   kProducer  the WebSocket half only: WS -> bus (keyed by symbol), with its healing; no view.
//   kConsumer  the consumer half only, as a member of consumer group `group`: the group splits
//              the topic's partitions (so the symbols) among its members, and when a member dies
//              the others take its partitions over; a restarted member rejoins. Each member keeps
//              its own view file. Offsets are committed only after the lake append that holds
//              the events has committed (at-least-once), and the append is idempotent across
//              processes (RealtimeView::AppendToLake), so every closed minute lands exactly once.
//
// Contract:
//  * kBoth: offsets are committed only after the view has made the events durable: a killed
//    consumer re-reads at most its uncommitted tail, and the view is idempotent, so no minute is
//    missing or doubled. kConsumer: only after the lake append (above).
//  * Stops when `stop` becomes true, after `duration` of clock time, or once `until` is reached:
//    kBoth when every symbol has a closed candle at or after `until` in the view; kProducer when
//    it has published one for every symbol; kConsumer when the lake holds one for every symbol
//    (whichever member appended it). Then the producer flushes; a consumer drains what is on the
//    bus for it and appends to the lake one last time.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "lake/lake.h"
#include "speed/bus.h"
#include "speed/gap_healer.h"
#include "speed/view.h"
#include "speed/ws_stream.h"
#include "venue/venue.h"

namespace cryptolake::speed {

enum class StreamRole { kBoth, kProducer, kConsumer };
// "both", "producer", "consumer"; InvalidArgument naming the value otherwise.
StatusOr<StreamRole> ParseStreamRole(std::string_view s);

// The live health of a running stream's WebSocket half, for alert rules and metrics: written by
// the producer thread, read from any thread (thread-safe). Times are from the clock given,
// which the reader's rules compare with (the exchange's clock under the replay exchange).
class StreamHealth {
 public:
  explicit StreamHealth(const Clock& clock) : clock_(clock) {}
  // A text message arrived; `event_time` is its exchange event time (0: none, e.g. a reply).
  // Also stamps the wall time (last_message_wall: for Prometheus, which compares it with its
  // own clock).
  void OnMessage(Micros event_time);
  void OnReconnect();
  Micros last_message_at() const { return last_message_at_.load(); }  // 0: none yet
  Micros last_event_time() const { return last_event_time_.load(); }
  Micros last_message_wall() const { return last_message_wall_.load(); }  // 0: none yet
  int64_t reconnects() const { return reconnects_.load(); }
  // The clock times of the newest reconnects (at most 1024), oldest first.
  std::vector<Micros> ReconnectTimes() const;

 private:
  const Clock& clock_;
  std::atomic<Micros> last_message_at_{0}, last_event_time_{0}, last_message_wall_{0};
  std::atomic<int64_t> reconnects_{0};
  mutable std::mutex mu_;
  std::deque<Micros> reconnect_times_;  // guarded by mu_
};

struct StreamOptions {
  StreamRole role = StreamRole::kBoth;
  WsOptions ws;  // url; the path is filled in from `symbols` by `format`
  // The venue's market-stream format (e.g. venues/binance/stream_parser.h): the path that
  // subscribes to the symbols' streams and the parser of their messages. Required unless kConsumer;
  // not owned, used from the producer thread only, must outlive the call.
  venue::StreamFormat* format = nullptr;
  std::vector<std::string> symbols;
  std::filesystem::path view_file;  // e.g. <data>/speed/view.duckdb; unused by kProducer
  // A view opened by the caller (who reads it from other threads, e.g. to serve it) instead of
  // view_file; not owned, must outlive the call. RunStream is still its only writer.
  RealtimeView* shared_view = nullptr;
  ViewOptions view;
  std::string group = "cryptolake-view";
  Micros append_every = 60 * kMicrosPerSecond;
  std::optional<Micros> until;     // exchange time: stop once every symbol closed a candle here
  std::optional<Micros> duration;  // clock time
  bool trades = true;              // also subscribe to <symbol>@trade
  // Group commit: the consumer folds every poll into the view at once (visible) and persists
  // (durable, then commits the bus offsets) when a poll finds the bus drained or after this
  // many folded events.
  int64_t persist_max_events = 65536;
  // Called on the consumer thread after events are durable in the view, with Apply's stats
  // (visible_at: when readers could see them); benchmarks measure end-to-end latency with it.
  std::function<void(const std::vector<Event>&, const ApplyStats&)> on_applied;
  // Told of every WebSocket message and reconnect (optional; not owned, must outlive the call).
  StreamHealth* health = nullptr;
};

struct StreamStats {
  int64_t messages = 0;   // WebSocket text messages
  int64_t malformed = 0;  // messages the parser rejected
  int64_t ignored = 0;    // control replies and other event types
  int64_t published = 0;  // events put on the bus (healed candles included)
  int64_t consumed = 0;   // events taken from the bus
  int64_t closed_new = 0, duplicates = 0, late = 0, open_updates = 0;
  int64_t trades = 0, from_trades = 0, trade_disagreements = 0;  // trade_candles.h
  int64_t appended = 0;  // rows appended to the master dataset
  int64_t reconnects = 0, heals = 0, healed = 0;
};

// `healer` (may be null: no healing) is used from the producer thread only. The bus must
// outlive the call.
StatusOr<StreamStats> RunStream(lake::Lake& lake, Bus& bus, GapHealer* healer,
                                const StreamOptions& options, const std::atomic<bool>& stop);

std::string FormatStreamSummary(const StreamStats& s);

}  // namespace cryptolake::speed
