#!/usr/bin/env bash
# Serializable commits: four writer processes -- import, import, backfill and compact -- on
# overlapping 1m klines of BTCUSDT, started together at seeded moments, TRIALS times. After each
# trial every process has exited 0, the lake holds exactly the union of their rows (the
# read-time rows equal those of a sequential run, each key once), and verify exits 0: no key
# stored twice by one source; and every dataset's Delta log is valid at every version and names
# exactly the manifest's files (delta_check.py, delta-rs). (Before commits re-checked their reads, two overlapping imports
# both committed the rows they shared.)
# Usage: concurrent_writers_test.sh BINARY SHARED_DATA TRIALS SEED
set -euo pipefail
bin="$1"; shared="$2"; trials="$3"; seed="$4"
source "$(dirname "$0")/lib.sh"
here="$(cd "$(dirname "$0")" && pwd)"
: "${CL_PYTHON:?set CL_PYTHON to the python of the test venv (CMake sets it)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-concurrent-XXXX")"
replay_pid=""
cleanup() {
  [[ -n "$replay_pid" ]] && kill "$replay_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
RANDOM=$seed
src="$shared/binance-spot/klines/1m/BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv"
cl() { "$bin" --data "$@"; }
# open_time and OHLCV of every read-time row: the union, whichever source won a key.
rows() { cl "$1" cat klines_1m | cut -d, -f1-7; }
tpl="$work/template"
cl "$tpl" import "$shared/binance-spot/klines/1d/ETHUSDT-1d-2017-08_2026-04.csv" >/dev/null

# Import A: minutes 0..8999 of 2025-05-20; import B: 6000..14399; backfill 2880..11999 (REST).
sed -n '1p; 2,9001p' "$src" > "$work/BTCUSDT-1m-a.csv"
sed -n '1p; 6002,14401p' "$src" > "$work/BTCUSDT-1m-b.csv"
start_replay "$bin" "$work" --data "$src" --weight-limit 1000000000 || exit 1
url="http://127.0.0.1:$replay_port"
# The lake exists before the writers start (compact refuses a data root that is no lake yet).
cmds=("import $work/BTCUSDT-1m-a.csv"
      "import $work/BTCUSDT-1m-b.csv"
      "backfill --exchange $url --symbol BTCUSDT --interval 1m --from 2025-05-22 --to 2025-05-28T08:00:00Z --weight-limit 1000000000 --chunk-rows 2000"
      "compact")

ref="$work/ref"
cp -a "$tpl" "$ref"
for c in "${cmds[@]}"; do read -ra a <<<"$c"; cl "$ref" "${a[@]}" >/dev/null; done
ref_rows="$(rows "$ref")"
[[ "$(wc -l <<<"$ref_rows")" -eq 14401 ]] || { echo "reference has $(wc -l <<<"$ref_rows") lines" >&2; exit 1; }
echo "concurrent_writers_test: $trials trials, seed $seed"

for trial in $(seq 1 "$trials"); do
  lk="$work/t"
  rm -rf "$lk"
  cp -a "$tpl" "$lk"
  pids=()
  order=()
  for i in 0 1 2 3; do
    delay=$(printf '0.%03d' $(( RANDOM % 400 )))
    read -ra a <<<"${cmds[$i]}"
    ( sleep "$delay"; exec "$bin" --data "$lk" "${a[@]}" ) >"$work/out.$i" 2>&1 &
    pids+=($!)
    order+=("${a[0]}@${delay}s")
  done
  for i in 0 1 2 3; do
    if ! wait "${pids[$i]}"; then
      cat "$work/out.$i" >&2
      echo "FAIL (trial $trial: ${order[*]}): ${cmds[$i]} failed" >&2
      exit 1
    fi
  done
  if [[ "$(rows "$lk")" != "$ref_rows" ]]; then
    diff <(echo "$ref_rows") <(rows "$lk") | head -5 >&2
    echo "FAIL (trial $trial: ${order[*]}): the lake is not the union of the writers' rows" >&2
    exit 1
  fi
  set +e; cl "$lk" verify >"$work/verify.out"; vrc=$?; set -e
  if (( vrc != 0 )); then
    cat "$work/verify.out" >&2
    echo "FAIL (trial $trial: ${order[*]}): verify exited $vrc" >&2
    exit 1
  fi
  # The Delta logs: every commit of every writer is one version, delta-rs loads every version,
  # and the latest names exactly the manifest's files (none twice: a Delta table is a set).
  "$CL_PYTHON" "$here/delta_check.py" "$lk" --all-versions >/dev/null ||
    { echo "FAIL (trial $trial: ${order[*]}): the Delta logs do not match the manifest" >&2; exit 1; }
done
echo "$trials passed, 0 failed"
