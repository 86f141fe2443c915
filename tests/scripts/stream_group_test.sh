#!/usr/bin/env bash
# The speed layer scaled out: the replay exchange serves 2 recorded + SYNTHETIC synthetic symbols
# (2025 1m window, MINUTES minutes of exchange time at SPEED x); one `stream --role producer`
# publishes them to a Kafka topic, three `stream --role consumer` processes of one consumer
# group append them to one lake. One consumer is SIGKILLed at a seeded moment after it has
# committed offsets (after its first lake append), and restarted under the same member name.
# Then every closed minute of every symbol, from the first one streamed to --until, is in the
# lake exactly once (exact count per symbol, no key twice: verify exit 0), and the close prices
# of a few keys equal what the replay exchange serves for them.
# Usage: stream_group_test.sh BINARY SHARED_DATA KAFKA_DIR SYNTHETIC MINUTES SPEED SEED
set -euo pipefail
bin="$1"; shared="$2"; kafka_dir="$3"; synthetic="$4"; minutes="$5"; speed="$6"; seed="$7"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-stream-group-XXXX")"
replay_pid=""; pids=()
cleanup() {
  for p in "${pids[@]}" $replay_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
RANDOM=$seed
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -s "$kafka_dir/kafka.port" ]] || fail "no broker: $kafka_dir/kafka.port is missing"
brokers="127.0.0.1:$(cat "$kafka_dir/kafka.port")"
topic="stream-group-test-$$"
m1="$shared/binance-spot/klines/1m"
# The first day of the 2025 window (the synthetic symbols are copies held in memory).
head -n 1441 "$m1"/BTCUSDT-1m-20250520_*.csv >"$work/BTCUSDT-1m-20250520.csv"
head -n 1441 "$m1"/ETHUSDT-1m-20250520_*.csv >"$work/ETHUSDT-1m-20250520.csv"
btc=("$work/BTCUSDT-1m-20250520.csv"); eth=("$work/ETHUSDT-1m-20250520.csv")
symbols="BTCUSDT,ETHUSDT"
for k in $(seq 0 $((synthetic - 1))); do symbols+=",$(printf 'SYN%03dUSDT' "$k")"; done
nsym=$((synthetic + 2))
start="2025-05-20 00:00:00"
until_s=$(( $(date -u -d "$start" +%s) + minutes * 60 ))
until="$(date -u -d "@$until_s" '+%Y-%m-%d %H:%M')"
lk="$work/lake"
bus=(--bus kafka --kafka-brokers "$brokers" --kafka-topic "$topic" --kafka-partitions 6)

consumer() {  # consumer MEMBER: one member of the group, in the background; sets cpid
  "$bin" --data "$lk" stream --role consumer --group g "${bus[@]}" --member "$1" \
    --symbol "$symbols" --until "$until" --append-every 1 --no-trades >>"$work/$1.log" 2>&1 &
  cpid=$!
}
declare -A member_pid
for m in c1 c2 c3; do consumer "$m"; member_pid[$m]=$cpid; pids+=("$cpid"); done

start_replay "$bin" "$work" --data "${btc[0]}" --data "${eth[0]}" --synthetic "$synthetic" \
  --synthetic-seed "$seed" --start "$start" --speed "$speed" --weight-limit 1000000000 || exit 1
hp="127.0.0.1:$replay_port"
"$bin" --data "$lk" stream --role producer "${bus[@]}" --ws "ws://$hp" --exchange "http://$hp" \
  --symbol "$symbols" --until "$until" --no-trades >"$work/producer.log" 2>&1 &
producer_pid=$!; pids+=("$producer_pid")

# Await the victim's first offset commit (it comes after its first lake append). The only
# deadline is a generous one for a real broker and three sanitizer builds on a loaded machine.
victim="c$(( 1 + RANDOM % 3 ))"
for _ in $(seq 1 6000); do
  grep -q "then committed the offsets" "$work/$victim.log" && break
  kill -0 "${member_pid[$victim]}" 2>/dev/null || break
  sleep 0.1
done
grep -q "then committed the offsets" "$work/$victim.log" ||
  { cat "$work/$victim.log" >&2; fail "consumer $victim never committed"; }
delay_ms=$(( RANDOM % 1500 ))
sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
kill -0 "$producer_pid" 2>/dev/null || fail "the producer ended before the kill: the run is too short"
kill -9 "${member_pid[$victim]}"
wait "${member_pid[$victim]}" 2>/dev/null || true
echo "--- SIGKILL after ${delay_ms} ms; restarted ---" >>"$work/$victim.log"
consumer "$victim"; member_pid[$victim]=$cpid; pids+=("$cpid")

wait "$producer_pid" || { cat "$work/producer.log" >&2; fail "producer exit $?"; }
for m in c1 c2 c3; do
  wait "${member_pid[$m]}" || { cat "$work/$m.log" >&2; fail "consumer $m exit $?"; }
done

# Exactly once: verify (no key stored twice by one source) ...
set +e; "$bin" --data "$lk" verify >"$work/verify.txt" 2>&1; vrc=$?; set -e
(( vrc == 0 )) || { cat "$work/verify.txt" >&2; fail "verify exit $vrc"; }
# ... and every minute of every symbol from the first streamed one to --until, each once.
"$bin" --data "$lk" cat klines_1m >"$work/rows.csv"
IFS='|' read -r first nrows nkeys <<<"$(awk -F, 'NR > 1 { n++; if (k[$1","$2]++ == 0) u++
  if (f == "" || $2 < f) f = $2 } END { print substr(f, 1, 16) "|" n "|" u }' "$work/rows.csv")"
[[ -n "$first" ]] || fail "no rows in the lake"
first_s=$(date -u -d "$first" +%s)
per=$(( (until_s - first_s) / 60 + 1 ))
(( per >= minutes / 2 )) || fail "only $per minutes per symbol streamed (first $first)"
(( nrows == nsym * per && nkeys == nrows )) ||
  fail "$nrows rows, $nkeys keys; want $nsym symbols x $per minutes ($first..$until)"
bad=$(awk -F, -v per="$per" 'NR > 1 { c[$1]++ } END { for (s in c) if (c[s] != per) print s, c[s] }' \
  "$work/rows.csv")
[[ -z "$bad" ]] || fail "symbols with a wrong count of minutes (want $per): $bad"

# Exact close prices of a few keys against the replay exchange.
norm() { sed -e 's/"//g' -e 's/\(\.[0-9]*[1-9]\)0*$/\1/' -e 's/\.0*$//'; }
at_s=$(( first_s + 60 * (per / 2) ))
at="$(date -u -d "@$at_s" '+%Y-%m-%d %H:%M:%S')"
for sym in BTCUSDT ETHUSDT SYN000USDT "$(printf 'SYN%03dUSDT' $((synthetic - 1)))" \
    "$(printf 'SYN%03dUSDT' $((RANDOM % synthetic)))"; do
  want=$(curl -s "http://$hp/api/v3/klines?symbol=$sym&interval=1m&startTime=$((at_s * 1000))&limit=1" |
    sed 's/^\[\[\([^]]*\)\]\]$/\1/' | cut -d, -f5 | norm)
  got=$(awk -F, -v s="$sym" -v t="$at" 'NR > 1 && $1 == s && index($2, t) == 1 { print $6 }' \
    "$work/rows.csv" | norm)
  # As numbers: a synthetic price above 2^53 / 1e8 is printed with 8 decimals that show its
  # binary value (1009714554.79999995), the lake holds the decimal (1009714554.8); both parse
  # to the same double, and a different close does not.
  [[ -n "$want" && -n "$got" ]] && awk -v a="$got" -v b="$want" 'BEGIN { exit !(a + 0 == b + 0) }' ||
    fail "$sym $at: close $got in the lake, $want served"
done
echo "stream_group_test: $nsym symbols x $per minutes through 1 producer and 3 consumers" \
  "($victim SIGKILLed after $delay_ms ms past its first commit, restarted): $nrows rows," \
  "each key once, closes equal the exchange's; verify clean"
