#!/usr/bin/env bash
# The main job on the sample data, offline: install what is missing, build (Release), then run
# `cryptolake up` -- the whole Lambda in one process -- against the replay exchange:
#  1. the replay exchange (Binance's REST API and WebSocket streams on 127.0.0.1) serves every
#     recorded kline of ../shared/data, live from 2025-08-18 12:00 at 120x;
#  2. import: the BTC/USD daily file (back to 2011; not a Binance series);
#  3. backfill of BTCUSDT and ETHUSDT (1m, 1d) from the replay exchange, under its rate limits:
#     the recorded history up to the exchange's now comes in over REST, and the ranges it has no
#     data for (real outages, time outside the recordings) are recorded as confirmed empty;
#  4. the batch views;
#  5. the speed layer (WebSocket -> embedded bus -> real-time view -> master dataset) and the
#     HTTP API with the live dashboard at http://127.0.0.1:${DEMO_PORT:-8080}/, side by side,
#     with a batch refresh every 20 s, for ${DEMO_SECONDS:-60} s; then a clean stop;
#  6. verify, and print a summary.
# Safe to rerun: a second run imports and fetches (almost) nothing.
# Usage: scripts/demo.sh [DATA_ROOT]   (default ./data); DEMO_PORT, DEMO_SECONDS
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared/data"
data="${1:-$root/data}"
bash "$root/scripts/setup.sh"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
cl="$root/build/release/src/app/cryptolake"
[[ -d "$shared/binance-spot" ]] || { echo "error: sample data not found at $shared" >&2; exit 1; }
klines="$shared/binance-spot/klines"

echo "== cryptolake up: the whole Lambda against the replay exchange (dashboard: http://127.0.0.1:${DEMO_PORT:-8080}/) =="
"$cl" --config "$root/deploy/cryptolake.example.toml" --data "$data" up --replay "$klines" --start "2025-08-18 12:00" --speed 120 \
  --import "$shared/btcusd-daily" --interval 1m,1d --batch-every 20 --append-every 5 \
  --port "${DEMO_PORT:-8080}" --duration "${DEMO_SECONDS:-60}"
echo "== verify =="
set +e
"$cl" --data "$data" verify --max-ranges 8
rc=$?
set -e
echo "== lake =="
"$cl" --data "$data" stats
case $rc in
  0) echo "verify: clean" ;;
  1) echo "verify: the lake is consistent; the gaps listed are in data the exchange does not serve (BTC/USD daily)" ;;
  *) echo "verify: integrity errors (exit $rc)" >&2; exit "$rc" ;;
esac
