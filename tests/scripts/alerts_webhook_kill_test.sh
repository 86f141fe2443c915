#!/usr/bin/env bash
# Alert delivery end to end, with a crash and a receiver outage: the replay exchange plays the
# real 2021-04-18 crash (02:10-05:00, both symbols) at 200x; `cryptolake stream` evaluates two
# move rules on it and delivers every event to a webhook (a real HTTP receiver on 127.0.0.1,
# tests/alerts/webhook_receiver.cc). The receiver is down (answers 503) for its first 30 s; the
# stream is SIGKILLed once in that time, after at least 6 events were queued, and restarted.
# Then every event of the event log reaches the receiver exactly once by idempotency key, in the
# log's order (resends of one key are counted, and allowed only as repeats of a key already
# received); the events equal what `cryptolake alerts test` computes from the lake's history of
# the same window; the webhook's secret never appears in any log; the lake verifies clean.
# Usage: alerts_webhook_kill_test.sh BINARY RECEIVER SHARED_DATA
set -euo pipefail
bin="$1"; recv="$2"; shared="$3"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-alerts-kill-XXXX")"
replay_pid=""; recv_pid=""; pid=""
cleanup() {
  for p in $pid $replay_pid $recv_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
m1="$shared/binance-spot/klines/1m"
btc=("$m1"/BTCUSDT-1m-20210402_*.csv.gz); eth=("$m1"/ETHUSDT-1m-20210402_*.csv.gz)

# The receiver, down from the start.
echo 503 >"$work/down"
"$recv" --port-file "$work/recv.port" --log "$work/received.tsv" --status-file "$work/down" \
  >"$work/recv.log" 2>&1 &
recv_pid=$!
wait_port_file "$work/recv.port" "$recv_pid" "$work/recv.log" "the webhook receiver" || exit 1
down_at=$(date +%s)
start_replay "$bin" "$work" --data "${btc[0]}" --data "${eth[0]}" --start "2021-04-18 02:10:30" \
  --speed 200 --weight-limit 1000000000 || exit 1
hp="127.0.0.1:$replay_port"
secret="s3cr3t-token-$RANDOM"
cat >"$work/cryptolake.toml" <<CONF
symbols = ["BTCUSDT", "ETHUSDT"]
[[alerts]]
name = "move-5pct-60m"
kind = "move"
percent = 5
window_minutes = 60
cooldown_seconds = 3600
hysteresis = 1
severity = "critical"
[[alerts]]
name = "move-1pct-15m"
kind = "move"
percent = 1
window_minutes = 15
hysteresis = 0.25
[[webhooks]]
name = "ops"
url = "http://127.0.0.1:$(cat "$work/recv.port")/hook/$secret?sig=$secret"
backoff_max_seconds = 2
CONF
lk="$work/lake"
run=(--config "$work/cryptolake.toml" --data "$lk" stream --ws "ws://$hp" --exchange "http://$hp"
     --append-every 1 --no-trades --alert-tick 0.2)
events="$lk/alerts/events.jsonl"
count() { if [[ -f "$1" ]]; then grep -c '' "$1"; else echo 0; fi; }

# Run 1: SIGKILLed once at least 6 events are queued (the receiver still down).
"$bin" "${run[@]}" >"$work/run1.log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  (( $(count "$events") >= 6 )) && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/run1.log" >&2; fail "stream run 1 exited"; }
  sleep 0.1
done
(( $(count "$events") >= 6 )) || fail "no 6 events in 300 s"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
killed_with=$(count "$events")
(( $(count "$work/received.tsv") == 0 )) || fail "the receiver logged events while down"
echo "run 1 SIGKILLed with $killed_with events queued, none delivered"

# Run 2: resumes to the end of the window; the receiver returns 30 s after it went down.
"$bin" "${run[@]}" --until "2021-04-18 05:00" >"$work/run2.log" 2>&1 &
pid=$!
while (( $(date +%s) < down_at + 30 )); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
rm -f "$work/down"
echo "receiver back after $(( $(date +%s) - down_at )) s"
set +e; wait "$pid"; rc=$?; set -e
pid=""
(( rc == 0 )) || { tail -n 30 "$work/run2.log" >&2; fail "stream run 2 exited $rc"; }

# Exactly once by key, in order.
grep -o '"key":"[^"]*"' "$events" | cut -d'"' -f4 >"$work/log.keys"
cut -f1 "$work/received.tsv" >"$work/received.keys"
awk '!seen[$0]++' "$work/received.keys" >"$work/received.unique"
n=$(count "$work/log.keys")
(( n > killed_with )) || fail "no event after the restart ($n)"
diff "$work/log.keys" "$work/received.unique" >/dev/null ||
  { diff "$work/log.keys" "$work/received.unique" | head -20 >&2; fail "received keys differ from the log's"; }
resent=$(( $(count "$work/received.keys") - n ))
# Sequence numbers: each key arrives with its index in the log.
awk -F'\t' '{ print $1 "\t" $2 }' "$work/received.tsv" | sort -u | sort -t$'\t' -k2,2n |
  cut -f1 >"$work/by_seq"
diff "$work/log.keys" "$work/by_seq" >/dev/null || fail "X-Cryptolake-Sequence does not match the log order"
grep -q "failed: HTTP 503" "$lk/alerts/webhook-ops.log" || fail "the delivery log shows no 503 retry"
grep -q "delivered (HTTP 200)" "$lk/alerts/webhook-ops.log" || fail "the delivery log shows no delivery"
# The secret in the URL is never written anywhere but the config.
for f in "$work/run1.log" "$work/run2.log" "$lk/alerts/webhook-ops.log" "$events"; do
  if grep -q "$secret" "$f"; then fail "the webhook URL's secret appears in $f"; fi
done

# The same events from the lake's history, recomputed by `alerts test` (the window's candles
# closed by 05:01).
"$bin" --config "$work/cryptolake.toml" --data "$lk" alerts test --from "2021-04-18 02:10" \
  --to "2021-04-18 05:01" --json >"$work/history.jsonl"
grep -o '"key":"[^"]*"' "$work/history.jsonl" | cut -d'"' -f4 | sort >"$work/history.keys"
grep '"at":"2021-04-18T0[0-5]:[0-9][0-9]:00Z"' "$events" | grep -v '"at":"2021-04-18T05:0[2-9]' |
  grep -o '"key":"[^"]*"' | cut -d'"' -f4 | sort >"$work/live.keys"
diff "$work/history.keys" "$work/live.keys" >/dev/null ||
  { diff "$work/history.keys" "$work/live.keys" | head -20 >&2; fail "live events differ from alerts test's"; }
set +e; "$bin" --data "$lk" verify >"$work/verify.txt"; vrc=$?; set -e
(( vrc == 0 )) || { cat "$work/verify.txt" >&2; fail "verify exit $vrc"; }
echo "alerts_webhook_kill_test: $n events ($(count "$work/history.keys") recomputed by alerts test)," \
  "each delivered once by key in order ($resent resent), across a SIGKILL and a 30 s receiver outage"
