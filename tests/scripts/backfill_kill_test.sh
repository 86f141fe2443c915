#!/usr/bin/env bash
# Crash safety of backfill: SIGKILL `cryptolake backfill` at seeded random moments while it
# fetches real 1h klines from the replay exchange, then rerun it. After every trial:
#  * the lake's klines equal the original recording row for row (every Binance field), which
#    also means no key was written twice;
#  * verify exits 0: no integrity error (no same-source duplicate), and the only holes left are
#    the ones the exchange confirmed empty;
#  * after gc no Parquet file outside the manifest is left on disk.
# Usage: backfill_kill_test.sh BINARY SHARED_DATA TRIALS SEED
set -euo pipefail
bin="$1"; shared="$2"; trials="$3"; seed="$4"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-kill-backfill-XXXX")"
replay_pid=""
cleanup() { [[ -n "$replay_pid" ]] && kill "$replay_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
RANDOM=$seed
h1="$shared/binance-spot/klines/1h"
files=("$h1"/BTCUSDT-1h-2022-*.csv "$h1"/ETHUSDT-1h-2022-*.csv)
cl() { "$bin" --data "$@"; }
die() { echo "FAIL (trial $trial, delay ${delay}s): $*" >&2; exit 1; }
rows() { cl "$1" cat klines_1h | cut -d, -f1-12; }  # every Binance field, without source

# The exchange, serving the original files. Rate limits are not under test here: no waits.
start_replay "$bin" "$work" --data "$h1/BTCUSDT-1h-2022-*.csv" \
  --data "$h1/ETHUSDT-1h-2022-*.csv" --weight-limit 1000000000 || exit 1
url="http://127.0.0.1:$replay_port"
run=(backfill --exchange "$url" --symbol BTCUSDT,ETHUSDT --interval 1h --from 2022-01-01
     --weight-limit 1000000000 --chunk-rows 100 --concurrency 2 --no-batch)

# Reference: the original rows. Template: the same files with whole days and single hours
# removed (seeded), imported.
cl "$work/ref" import "${files[@]}" >/dev/null
ref_rows="$(rows "$work/ref")"
mkdir -p "$work/damaged"
for f in "${files[@]}"; do
  awk -v seed="$((seed + RANDOM))" 'BEGIN { srand(seed) }
    { day = int($1 / 86400000); if (!(day in d)) d[day] = (rand() < 0.15)
      if (d[day] || rand() < 0.10) next; print }' "$f" > "$work/damaged/$(basename "$f")"
done
tpl="$work/template"
cl "$tpl" import "$work/damaged" >/dev/null
[[ "$(rows "$tpl" | wc -l)" -lt "$(wc -l <<<"$ref_rows")" ]] || { echo "nothing removed" >&2; exit 1; }

# Calibration: an uninterrupted run reaches the reference and tells how long a run takes.
cp -a "$tpl" "$work/full"
t0=$(date +%s%N)
cl "$work/full" "${run[@]}" >/dev/null
t1=$(date +%s%N)
dur_ms=$(( (t1 - t0) / 1000000 ))
trial=0; delay=0
[[ "$(rows "$work/full")" == "$ref_rows" ]] || die "an uninterrupted backfill did not restore the rows"
echo "backfill_kill_test: uninterrupted run ${dur_ms} ms; $trials trials, seed $seed"

partial=0
for trial in $(seq 1 "$trials"); do
  lk="$work/t"
  rm -rf "$lk"; cp -a "$tpl" "$lk"
  delay_ms=$(( RANDOM % (dur_ms + 1) ))
  delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
  "$bin" --data "$lk" "${run[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  n="$(rows "$lk" | wc -l)" || die "cat failed after the kill"
  if (( n > $(rows "$tpl" | wc -l) && n < $(wc -l <<<"$ref_rows") )); then partial=$((partial + 1)); fi
  cl "$lk" "${run[@]}" >/dev/null || die "rerun failed"
  [[ "$(rows "$lk")" == "$ref_rows" ]] || die "rows differ from the original after the rerun"
  set +e; cl "$lk" verify >"$work/verify.txt"; vrc=$?; set -e
  (( vrc == 0 )) || { cat "$work/verify.txt" >&2; die "verify exit $vrc"; }
  cl "$lk" gc >/dev/null
  on_disk="$(cd "$lk" && find . -name '*.parquet' -not -path './_staging/*' -not -path '*/_delta_log/*' | sed 's|^\./||' | sort)"
  named="$(jq -r '(.files[].path), (.retired[].path)' "$lk/_manifest.json" | sort)"
  [[ "$on_disk" == "$named" ]] || die "files on disk differ from the manifest after gc"
done
echo "$trials passed, 0 failed ($partial killed after a partial commit)"
