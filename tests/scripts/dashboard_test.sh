#!/usr/bin/env bash
# The dashboard in a real browser against the real product: `cryptolake up` runs the whole
# Lambda against the replay exchange (the real BTCUSDT/ETHUSDT 1m and 1d recordings, live from
# 2025-08-18 12:00 at 60x): backfill, batch views, stream, serve. Then dashboard_test.mjs
# (playwright-core driving Debian's chromium, headless) checks the chart's candles against the
# recording, the batch/speed seam, the symbol picker, a live update and an active alert in the
# alerts panel (a level rule that fires on the first live candle), and saves a screenshot.
# Once `up` has written both symbols' suite forecasts (in the background), SIGTERM must stop it
# cleanly (exit 0) and the lake must verify clean. Last, on `cryptolake serve` over the same data
# (a server that does not rewrite the forecast files), the forecast panel for ETHUSDT from the
# product's own files: the forecast within 5% of the last close and its band, the leaderboard,
# the why sentence and the model switcher (prophet among the models), with a second
# screenshot, SCREENSHOT_OUT's name with -forecast.
# Usage: dashboard_test.sh BINARY SHARED_DATA SCREENSHOT_OUT
set -euo pipefail
bin="$1"; shared="$2"; shot="$3"
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-dashboard-XXXX")"
up_pid=""
serve_pid=""
cleanup() {
  [[ -n "$up_pid" ]] && kill "$up_pid" 2>/dev/null
  [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
k="$shared/binance-spot/klines"

# One alert rule that fires on the first live candle, for the alerts panel.
cat >"$work/cryptolake.toml" <<'CONF'
[[alerts]]
name = "btc-above-1000"
kind = "level"
symbols = ["BTCUSDT"]
price = 1000
direction = "above"
severity = "critical"
CONF
"$bin" --config "$work/cryptolake.toml" --data "$work/data" up --replay "$k/1m,$k/1d" --start "2025-08-18 12:00" --speed 60 \
  --interval 1m,1d --port 0 --port-file "$work/port" --append-every 2 --batch-every 10 \
  --forecast-models naive,drift,ets,theta,ensemble >"$work/up.log" 2>&1 &
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
 "seam":"2025-08-18","symbols":["BTCUSDT","ETHUSDT"],"live":true,
 "alert":{"rule":"btc-above-1000","symbol":"BTCUSDT"}}
EOF
echo "expect: $candles candles from $first_day; 2025-06-01 O $o H $h L $l C $c"

# A real browser cannot take an injected clock: each wait polls the page for the state it names
# and ends as soon as it holds. The deadlines only turn a page that never gets there into a
# failure naming the check and the page's state; at 120 s (180 s for the first live update) they
# are more than ten times what the checks take here, so a slow machine never reaches them.
node "$root/tests/scripts/dashboard_test.mjs" --url "$url#BTCUSDT" --screenshot "$shot" \
  --expect "$work/expect.json" --timeout 120000 --live-timeout 180000 ||
  { tail -n 30 "$work/up.log" >&2; exit 1; }

# The forecasts, which `up` computes in the background once serving: wait for both files to
# carry the selection's leaderboard. The suite here leaves out arima (about 95 s per symbol in
# the sanitized Debug build; forecast_models_test and arima_test cover it): the page's checks
# need the panel, not every model. The deadline (900 s, polled every 0.5 s) only turns an `up`
# that never writes them into a failure; here they take under a minute.
for _ in $(seq 1 1800); do
  n=$({ grep -l '"leaderboard"' "$work/data/forecasts/BTCUSDT.json" \
    "$work/data/forecasts/ETHUSDT.json" 2>/dev/null || true; } | wc -l)
  (( n == 2 )) && break
  kill -0 "$up_pid" 2>/dev/null || break
  sleep 0.5
done
(( n == 2 )) || { tail -n 30 "$work/up.log" >&2; echo "FAIL: up wrote no suite forecast for both symbols" >&2; exit 1; }
grep -q '"name":"prophet"' "$work/data/forecasts/ETHUSDT.json" ||
  { echo "FAIL: the ETHUSDT forecast file has no prophet forecast beside the suite's" >&2; exit 1; }

kill -TERM "$up_pid"
set +e; wait "$up_pid"; rc=$?; set -e
up_pid=""
(( rc == 0 )) || { tail -n 30 "$work/up.log" >&2; echo "FAIL: up exited $rc after SIGTERM" >&2; exit 1; }
grep -q "up: stopped cleanly" "$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
set +e; "$bin" --data "$work/data" verify >"$work/verify.txt"; vrc=$?; set -e
(( vrc == 0 )) || { cat "$work/verify.txt" >&2; echo "FAIL: verify exit $vrc" >&2; exit 1; }

# The forecast panel, on `serve` (start-up only: it prints its URL once listening).
"$bin" --data "$work/data" serve --port 0 >"$work/serve.log" 2>&1 &
serve_pid=$!
surl=""
for _ in $(seq 1 1200); do
  surl=$(grep -oE '^serve: http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | head -n 1 | cut -c 8-) || true
  [[ -n "$surl" ]] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$surl" ]] || { cat "$work/serve.log" >&2; echo "FAIL: serve did not start" >&2; exit 1; }
cat >"$work/expect-forecast.json" <<EOF
{"symbol":"ETHUSDT","forecast":{"dir":"$work/data/forecasts","symbols":["BTCUSDT","ETHUSDT"]}}
EOF
node "$root/tests/scripts/dashboard_test.mjs" --url "$surl/" --screenshot "${shot%.png}-forecast.png" \
  --expect "$work/expect-forecast.json" --timeout 120000 ||
  { tail -n 30 "$work/serve.log" >&2; exit 1; }
kill -TERM "$serve_pid"
set +e; wait "$serve_pid"; src=$?; set -e
serve_pid=""
(( src == 0 )) || { cat "$work/serve.log" >&2; echo "FAIL: serve exited $src after SIGTERM" >&2; exit 1; }
echo "dashboard_test: browser checks passed, screenshots $shot and ${shot%.png}-forecast.png," \
  "up stopped cleanly, verify clean"
