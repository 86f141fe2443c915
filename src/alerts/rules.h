// Alert rules: the [[alerts]] tables of cryptolake.toml, and the [[webhooks]] that receive what
// they raise.
//
//   [[alerts]]
//   name = "btc-5pct-hour"        # required, unique, letters, digits, '-', '_', '.'
//   kind = "move"                 # see below
//   symbols = ["BTCUSDT"]         # price and gap rules; default: every configured symbol
//   severity = "warning"          # info | warning | critical (default warning)
//   percent = 5                   # the kind's own parameters (below)
//   window_minutes = 60
//   cooldown_seconds = 3600       # no new firing within this long of the last (default 0)
//   hysteresis = 0.5              # resolve only once back past threshold by this much, in the
//                                 # threshold's unit (default 0)
//
// Kinds, what they measure (the event's `value`) and when they fire; each resolves when the
// value is back below (above, for "below" rules) the threshold by `hysteresis`:
//  price, on every closed 1m candle of each symbol:
//   level      price, direction above|below: the close is at or above (below) `price`.
//   move       percent, window_minutes, direction up|down|any (default any): the move
//              100 * (close / close of the candle window_minutes earlier - 1) reaches `percent`
//              (down: reaches -percent; any: either); not evaluated when that earlier candle is
//              missing.
//   high_low   days, direction high|low: the close is at or above the highest high (at or below
//              the lowest low) of the `days` UTC days before the candle's day and of the candles
//              of its own day before it; value = the close; resolves when the close is
//              `hysteresis` percent below (above) that extreme.
//   ma_cross   ma = 7|30, direction above|below: the close is above (below) the moving average
//              of the last `ma` daily closes, the candle's day counting with this close (the
//              batch views' MA7/MA30); needs ma-1 earlier days; hysteresis in percent of the MA.
//  data health, on every timer tick:
//   silence    seconds: no stream message for that long (whole stream; symbol "").
//   lag        seconds: the newest message's exchange event time is that far behind the clock.
//   reconnects count, window_minutes: that many WebSocket reconnects within the window.
//   gap        minutes: a 1m candle of the symbol is missing (not received, not healed, not
//              confirmed empty by the exchange) and has been due for that long; value = the age
//              in minutes of the oldest such candle.
//   verify_errors count (default 1): the last `cryptolake verify` found that many errors.
//   weight     share in (0, 1]: REST weight used this minute over the limit.
//   ban        (none): the exchange banned the IP (HTTP 418); value 1 while banned.
//
//   [[webhooks]]
//   name = "ops"                  # required, unique; names its files and metrics
//   url = "https://hooks.example/..."   # may carry a secret: it is never logged
//   min_severity = "warning"      # deliver events of this severity and above (default info)
//   backoff_max_seconds = 60      # retries back off 1, 2, 4 ... s up to this (1..3600, default 60)
//
// Contract: LoadAlertConfig checks every table like Config::Load does: unknown keys, missing
// required keys, wrong types and out-of-range values are InvalidArgument "<file>: alerts[<i>]
// (<name>).<key> must be <what>, got <value>" (webhooks[<i>] likewise; a webhook's URL is never
// quoted in a message), duplicate names "<file>: alerts[<i>]: name '<n>' is used twice".
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace cryptolake::alerts {

enum class Kind {
  kLevel,
  kMove,
  kHighLow,
  kMaCross,
  kSilence,
  kLag,
  kReconnects,
  kGap,
  kVerifyErrors,
  kWeight,
  kBan
};
const char* KindName(Kind k);
// Price rules are evaluated per closed candle, the others per tick.
bool IsPriceKind(Kind k);
// Rules whose value is a per-symbol one (price rules and gap).
bool IsPerSymbol(Kind k);

// above/up/high are kUp, below/down/low are kDown.
enum class Direction { kUp, kDown, kAny };

struct AlertRule {
  std::string name;
  Kind kind = Kind::kMove;
  std::string severity = "warning";
  std::vector<std::string> symbols;  // empty: every configured symbol (per-symbol kinds)
  double threshold = 0;  // price, percent, seconds, count, minutes, share; days for high_low
  Micros window = 0;     // move, reconnects
  Direction direction = Direction::kAny;
  int ma = 0;  // ma_cross
  Micros cooldown = 0;
  double hysteresis = 0;
};

struct WebhookConfig {
  std::string name;
  std::string url;
  std::string min_severity = "info";
  int backoff_max_seconds = 60;
};

struct AlertConfig {
  std::vector<AlertRule> rules;
  std::vector<WebhookConfig> webhooks;
};

// 0 info, 1 warning, 2 critical; -1 for anything else.
int SeverityRank(const std::string& severity);

// Reads the [[alerts]] and [[webhooks]] of `file` (empty path: none).
StatusOr<AlertConfig> LoadAlertConfig(const std::filesystem::path& file);

}  // namespace cryptolake::alerts
