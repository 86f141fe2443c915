#!/usr/bin/env bash
# The dashboard in a real browser against the real product: `cryptolake up` runs the whole
# Lambda against the replay exchange (the real BTCUSDT/ETHUSDT 1m and 1d recordings, live from
# 2025-08-18 12:00 at 60x): backfill, batch views, stream, serve. Then dashboard_test.mjs
# (playwright-core driving Debian's chromium, headless) checks the chart's candles against the
# recording, the batch/speed seam, the symbol picker and a live update, and saves a screenshot.
# Finally SIGTERM must stop `up` cleanly (exit 0) and the lake must verify clean.
# Usage: dashboard_test.sh BINARY SHARED_DATA SCREENSHOT_OUT
set -euo pipefail
bin="$1"; shared="$2"; shot="$3"
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-dashboard-XXXX")"
up_pid=""
cleanup() { [[ -n "$up_pid" ]] && kill "$up_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
k="$shared/binance-spot/klines"

"$bin" --data "$work/data" up --replay "$k/1m,$k/1d" --start "2025-08-18 12:00" --speed 60 \
  --interval 1m,1d --port 0 --port-file "$work/port" --append-every 2 --batch-every 10 \
  >"$work/up.log" 2>&1 &
up_pid=$!
wait_port_file "$work/port" "$up_pid" "$work/up.log" "up (serving)" || exit 1
url="http://127.0.0.1:$(cat "$work/port")/"

# Expected values, from the recording itself (not from the product): one daily candle per day
# from the 1d file's first day to the replay's day, and the 1d file's own 2025-06-01 bar.
d1=("$k"/1d/BTCUSDT-1d-*.csv)
first_ms=$(head -n 2 "${d1[0]}" | grep -E '^[0-9]' | head -n 1 | cut -d, -f1)
first_day=$(date -u -d "@$(( first_ms / 1000 ))" +%F)
candles=$(( ( $(date -u -d 2025-08-18 +%s) - $(date -u -d "$first_day" +%s) ) / 86400 + 1 ))
row=$(grep -E "^$(date -u -d 2025-06-01 +%s)000," "${d1[0]}")
IFS=, read -r _ o h l c _ <<<"$row"
cat >"$work/expect.json" <<EOF
{"symbol":"BTCUSDT","candles":$candles,
 "bars":[{"time":"2025-06-01","open":$o,"high":$h,"low":$l,"close":$c}],
 "seam":"2025-08-18","symbols":["BTCUSDT","ETHUSDT"],"live":true}
EOF
echo "expect: $candles candles from $first_day; 2025-06-01 O $o H $h L $l C $c"

# A real browser cannot take an injected clock: each wait polls the page for the state it names
# and ends as soon as it holds. The deadlines only turn a page that never gets there into a
# failure naming the check and the page's state; at 120 s (180 s for the first live update) they
# are more than ten times what the checks take here, so a slow machine never reaches them.
node "$root/tests/scripts/dashboard_test.mjs" --url "$url#BTCUSDT" --screenshot "$shot" \
  --expect "$work/expect.json" --timeout 120000 --live-timeout 180000 ||
  { tail -n 30 "$work/up.log" >&2; exit 1; }

kill -TERM "$up_pid"
set +e; wait "$up_pid"; rc=$?; set -e
up_pid=""
(( rc == 0 )) || { tail -n 30 "$work/up.log" >&2; echo "FAIL: up exited $rc after SIGTERM" >&2; exit 1; }
grep -q "up: stopped cleanly" "$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
set +e; "$bin" --data "$work/data" verify >"$work/verify.txt"; vrc=$?; set -e
(( vrc == 0 )) || { cat "$work/verify.txt" >&2; echo "FAIL: verify exit $vrc" >&2; exit 1; }
echo "dashboard_test: browser checks passed, screenshot $shot, up stopped cleanly, verify clean"
