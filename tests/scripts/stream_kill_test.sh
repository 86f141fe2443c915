#!/usr/bin/env bash
# Crash safety of the speed layer: `cryptolake stream` (embedded bus) is SIGKILLed at seeded
# random moments while the replay exchange plays the real 2025 1m window live at 1200x, and
# restarted each time. A last run streams to a fixed minute. Then the master dataset must hold
# every minute from its first to that one, none twice from one source, all valid, and the
# real-time view's closed candles must have no missing and no doubled minute and equal the
# master dataset's rows (verify exit 0, with the speed view checked). The values themselves are
# checked against the recording by tests/speed/stream_test.cc.
# Usage: stream_kill_test.sh BINARY SHARED_DATA TRIALS SEED
set -euo pipefail
bin="$1"; shared="$2"; trials="$3"; seed="$4"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-kill-stream-XXXX")"
replay_pid=""
cleanup() { [[ -n "$replay_pid" ]] && kill "$replay_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
RANDOM=$seed
m1="$shared/binance-spot/klines/1m"
btc=("$m1"/BTCUSDT-1m-20250520_*.csv); eth=("$m1"/ETHUSDT-1m-20250520_*.csv)
start_replay "$bin" "$work" --data "${btc[0]}" --data "${eth[0]}" --start "2025-06-01 00:00" \
  --speed 1200 --weight-limit 1000000000 || exit 1
hp="127.0.0.1:$replay_port"
lk="$work/lake"
run=(--data "$lk" stream --ws "ws://$hp" --exchange "http://$hp" --append-every 0.5 --no-trades)

for trial in $(seq 1 "$trials"); do
  "$bin" "${run[@]}" >"$work/run.log" 2>&1 &
  pid=$!
  delay_ms=$(( 300 + RANDOM % 1500 ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done

# The last run streams up to two minutes after the exchange's current time.
now_ms=$(curl -s "http://$hp/api/v3/time" | sed 's/[^0-9]//g')
until_s=$(( now_ms / 1000 / 60 * 60 + 120 ))
until="$(date -u -d "@$until_s" '+%Y-%m-%d %H:%M')"
"$bin" "${run[@]}" --until "$until" >"$work/final.log" 2>&1 || { cat "$work/final.log" >&2; exit 1; }

set +e; "$bin" --data "$lk" verify >"$work/verify.txt"; vrc=$?; set -e
(( vrc == 0 )) || { cat "$work/verify.txt" >&2; echo "FAIL: verify exit $vrc" >&2; exit 1; }
view_rows=$(sed -n 's/.*(speed view: \([0-9]*\) closed candles).*/\1/p' "$work/verify.txt")
(( ${view_rows:-0} > 2 * 60 )) || { cat "$work/verify.txt" >&2; echo "FAIL: speed view not checked" >&2; exit 1; }
rows=$("$bin" --data "$lk" cat klines_1m | grep -c '' )
(( rows > 2 * 60 )) || { echo "FAIL: only $rows rows streamed" >&2; exit 1; }
echo "stream_kill_test: $trials kills, final run to $until; $rows rows, $view_rows in the view; verify clean"
