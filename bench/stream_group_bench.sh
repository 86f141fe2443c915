#!/usr/bin/env bash
# The speed layer at scale: SYMBOLS symbols (BTCUSDT, ETHUSDT and SYMBOLS-2 synthetic ones from
# the replay exchange) streamed for MINUTES minutes of exchange time at SPEED x through Kafka.
#   baseline: one `stream --role producer` and one `stream --role consumer` (a group of one);
#   group:    one producer and three consumers of one group; one consumer SIGKILLed after its
#             first commit (seeded delay) and restarted.
# Prints per case: closed klines in the lake, klines/s end to end (from the producer's start to
# the last consumer's exit), the exchange feed rate (symbols x SPEED / 60 closed klines/s), the
# rebalance pause (group: from the kill to the first lake append + offset commit by a surviving
# consumer that covers a partition the dead one had committed), and each process's peak RSS
# (VmHWM from /proc/<pid>/status, sampled until it exits). Checks exactly-once like the suite
# test (tests/scripts/stream_group_test.sh): each key once, verify exit 0.
# Usage: stream_group_bench.sh BINARY SHARED_DATA BROKERS [SYMBOLS] [MINUTES] [SPEED] [SEED]
set -euo pipefail
bin="$1"; shared="$2"; brokers="$3"; nsym="${4:-200}"; minutes="${5:-60}"; speed="${6:-120}"
seed="${7:-2026}"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/scripts/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-group-bench-XXXX")"
pids=(); replay_pid=""
cleanup() {
  for p in "${pids[@]}" $replay_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
RANDOM=$seed
m1="$shared/binance-spot/klines/1m"
# The first day of the 2025 window (the synthetic symbols are copies held in memory).
head -n 1441 "$m1"/BTCUSDT-1m-20250520_*.csv >"$work/BTCUSDT-1m-20250520.csv"
head -n 1441 "$m1"/ETHUSDT-1m-20250520_*.csv >"$work/ETHUSDT-1m-20250520.csv"
btc=("$work/BTCUSDT-1m-20250520.csv"); eth=("$work/ETHUSDT-1m-20250520.csv")
synthetic=$((nsym - 2))
symbols="BTCUSDT,ETHUSDT"
for k in $(seq 0 $((synthetic - 1))); do symbols+=",$(printf 'SYN%03dUSDT' "$k")"; done
start="2025-05-20 00:00:00"
until="$(date -u -d "@$(( $(date -u -d "$start" +%s) + minutes * 60 ))" '+%Y-%m-%d %H:%M')"
now() { date +%s.%N; }
# Timestamps every line a process writes (for the rebalance pause).
stamp() { perl -MTime::HiRes=time -ne '$|=1; printf "%.3f %s", time, $_'; }
declare -A hwm
sample() {  # sample NAME PID: remembers the newest VmHWM (kB) of a running process
  local v; v=$(awk '/VmHWM/ { print $2 }' "/proc/$2/status" 2>/dev/null || true)
  [[ -n "$v" ]] && hwm[$1]=$v
  return 0
}

run_case() {  # run_case NAME CONSUMERS KILL(0|1)
  local name="$1" nc="$2" kill="$3" dir="$work/$1"
  mkdir -p "$dir"
  local lk="$dir/lake" topic="group-bench-$1-$$"
  local bus=(--bus kafka --kafka-brokers "$brokers" --kafka-topic "$topic" --kafka-partitions 12)
  declare -A cpid=()
  consumer() {
    "$bin" --data "$lk" stream --role consumer --group g "${bus[@]}" --member "$1" \
      --symbol "$symbols" --until "$until" --append-every 1 --no-trades \
      > >(stamp >>"$dir/$1.log") 2>&1 &
    cpid[$1]=$!; pids+=("$!")
  }
  for i in $(seq 1 "$nc"); do consumer "c$i"; done
  start_replay "$bin" "$dir" --data "${btc[0]}" --data "${eth[0]}" --synthetic "$synthetic" \
    --synthetic-seed "$seed" --start "$start" --speed "$speed" --weight-limit 1000000000 || exit 1
  local hp="127.0.0.1:$replay_port" t0; t0=$(now)
  "$bin" --data "$lk" stream --role producer "${bus[@]}" --ws "ws://$hp" --exchange "http://$hp" \
    --symbol "$symbols" --until "$until" --no-trades >"$dir/producer.log" 2>&1 &
  local ppid=$!; pids+=("$ppid")
  local victim="" tkill="" killed=0 parts="" first="" t=""
  [[ "$kill" == 1 ]] && victim="c$(( 1 + RANDOM % nc ))"
  hwm=()
  while :; do
    local alive=0
    kill -0 "$ppid" 2>/dev/null && { alive=1; sample producer "$ppid"; }
    for m in "${!cpid[@]}"; do
      kill -0 "${cpid[$m]}" 2>/dev/null && { alive=1; sample "$m" "${cpid[$m]}"; }
    done
    (( alive )) || break
    if [[ -n "$victim" && $killed == 0 ]] && grep -q "then committed" "$dir/$victim.log"; then
      sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
      sample "$victim" "${cpid[$victim]}"
      hwm[${victim}-killed]=${hwm[$victim]}
      tkill=$(now); kill -9 "${cpid[$victim]}"; killed=1
      wait "${cpid[$victim]}" 2>/dev/null || true
      # The dead consumer's partitions: those of its last commit.
      parts=$(grep "then committed" "$dir/$victim.log" | tail -1 | sed 's/.*partitions //')
      unset "cpid[$victim]"
    fi
    # Restart the victim once a survivor has taken one of its partitions over (or after 120 s).
    if [[ $killed == 1 ]]; then
      for m in "${!cpid[@]}"; do
        t=$(awk -v t="$tkill" -v parts=",$parts," '$1 > t && /then committed/ {
            n = split($NF, p, ","); for (i = 1; i <= n; i++) if (index(parts, "," p[i] ",")) { print $1; exit } }' \
          "$dir/$m.log")
        [[ -n "$t" ]] && { [[ -z "$first" ]] || (( $(echo "$t < $first" | bc) )); } && first=$t
      done
      if [[ -n "$first" ]] || (( $(echo "$(now) - $tkill > 120" | bc) )); then
        consumer "$victim"; killed=2
      fi
    fi
    sleep 0.2
  done
  local t1; t1=$(now)
  wait "$ppid" || { cat "$dir/producer.log" >&2; echo "FAIL: producer" >&2; exit 1; }
  kill "$replay_pid"; wait "$replay_pid" 2>/dev/null || true; replay_pid=""
  "$bin" --data "$lk" verify >"$dir/verify.txt" 2>&1 || { cat "$dir/verify.txt" >&2; exit 1; }
  local rows keys
  read -r rows keys <<<"$("$bin" --data "$lk" cat klines_1m |
    awk -F, 'NR > 1 { n++; if (k[$1","$2]++ == 0) u++ } END { print n, u }')"
  [[ "$rows" == "$keys" ]] || { echo "FAIL: $rows rows for $keys keys" >&2; exit 1; }
  local secs; secs=$(echo "$t1 - $t0" | bc -l)
  printf '%-9s %d consumers: %d closed klines in %.1f s = %.0f klines/s end to end (feed %.0f klines/s)\n' \
    "$name" "$nc" "$rows" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(echo "$nsym * $speed / 60" | bc -l)"
  if [[ -n "$victim" && -z "$tkill" ]]; then
    echo "          (no kill: $victim never committed before the run ended)"
  elif [[ -n "$first" ]]; then
    printf '          rebalance pause: %.2f s (SIGKILL of %s, partitions %s, to the first lake append + commit of one of them by a survivor)\n' \
      "$(echo "$first - $tkill" | bc -l)" "$victim" "$parts"
  elif [[ -n "$victim" ]]; then
    echo "          rebalance pause: no survivor took partitions $parts over within 120 s"
  fi
  local line="          peak RSS (MB):"
  for k in $(printf '%s\n' "${!hwm[@]}" | sort); do line+=" $k $(( hwm[$k] / 1024 ))"; done
  echo "$line"
}

echo "stream_group_bench: $nsym symbols, $minutes minutes of exchange time at ${speed}x, Kafka $brokers"
run_case baseline 1 0
run_case group 3 1
