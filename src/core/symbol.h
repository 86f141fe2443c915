// The one rule for trading-pair symbols, applied wherever a symbol enters cryptolake: CLI flags,
// the config's `symbols`, import file names, the REST and WebSocket adapters and the API's
// `symbol` query parameter. A symbol is stored, listed and served only in its normalized form, so
// "btcusdt" and "BTCUSDT" are one series and "BTC/USDT" never reaches the lake.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace cryptolake {

// Binance's symbol pattern, as exchangeInfo enforces it: ^[A-Z0-9-_.]{1,20}$.
inline constexpr size_t kMaxSymbolLength = 20;

// Upper-cases `s` (ASCII only; nothing is trimmed) and checks it against the pattern above.
// Returns the normalized symbol, or InvalidArgument
//   "symbol 'BTC/USDT' is not a Binance symbol (1-20 of A-Z 0-9 - _ .)"
// (the quoted value is the input, clipped to 40 characters; an empty input reads "symbol ''").
// Pure and thread-safe.
StatusOr<std::string> NormalizeSymbol(std::string_view s);

}  // namespace cryptolake
