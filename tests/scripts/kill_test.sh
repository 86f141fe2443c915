#!/usr/bin/env bash
# Crash safety: SIGKILL `cryptolake <command>` at seeded random moments, then check that
#  * the lake holds exactly the state before the command or exactly the state after it
#    (content digests): no committed row lost, no partial commit visible, no duplicate;
#  * verify finds no integrity error (every file the manifest names is whole and well-typed);
#  * a rerun completes and reaches the reference end state;
#  * after gc no Parquet file outside the manifest is left on disk;
#  * verify finds the Delta logs naming the manifest's files (or behind it by the versions the
#    killed commit recorded), and after the rerun delta-rs (delta_check.py) reads every table
#    naming exactly the manifest's files; after the last trial, every version of every table
#    loads and its rows equal `cryptolake cat`'s.
# Usage: kill_test.sh BINARY SHARED_DATA import|compact|batch TRIALS SEED
set -euo pipefail
bin="$1"; shared="$2"; cmd="$3"; trials="$4"; seed="$5"
here="$(cd "$(dirname "$0")" && pwd)"
: "${CL_PYTHON:?set CL_PYTHON to the python of the test venv (CMake sets it)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-kill-$cmd-XXXX")"
trap 'rm -rf "$work"' EXIT
RANDOM=$seed
m1="$shared/binance-spot/klines/1m"
cl() { "$bin" --data "$@"; }
digest() {  # dataset symbol files rows digest, per line: contents and file layout
  cl "$1" stats --digest | awk 'NR > 2 { print $1, $2, $3, $4, $NF }'
}
contents() { awk '{ print $1, $2, $4, $5 }' <<<"$1"; }
die() { echo "FAIL ($cmd, trial $trial, delay ${delay}s): $*" >&2; exit 1; }

# --- the template lake (state before) and the command under test ---------------------------
tpl="$work/template"
case "$cmd" in
  import)
    cl "$tpl" import "$shared/binance-spot/klines/1d" >/dev/null
    run=(import "$m1/BTCUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz"
                "$m1/ETHUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz") ;;
  compact)
    # Three overlapping-in-partition imports of real 1m data: partitions hold several files.
    zcat "$m1/BTCUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz" > "$work/all.csv"
    for part in 1 2 3; do
      { head -1 "$work/all.csv"; tail -n +2 "$work/all.csv" | awk -v p=$part 'NR % 3 == p % 3'; } \
        > "$work/BTCUSDT-1m-part$part.csv"
      cl "$tpl" import "$work/BTCUSDT-1m-part$part.csv" >/dev/null
    done
    cl "$tpl" import "$m1/ETHUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz" >/dev/null
    run=(compact) ;;
  batch)
    cl "$tpl" import "$m1/BTCUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz" >/dev/null
    cl "$tpl" batch >/dev/null
    cl "$tpl" import "$m1/ETHUSDT-1m-20210917_20211017__damiankluk-freqtrade.csv.gz" \
                     "$shared/binance-spot/klines/1d" >/dev/null
    run=(batch) ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
before="$(digest "$tpl")"

# --- reference run: the state after, and how long the command takes -------------------------
ref="$work/ref"
cp -a "$tpl" "$ref"
t0=$(date +%s%N)
cl "$ref" "${run[@]}" >/dev/null
t1=$(date +%s%N)
after="$(digest "$ref")"
dur_ms=$(( (t1 - t0) / 1000000 ))
[[ "$before" != "$after" ]] || { echo "reference run changed nothing" >&2; exit 1; }
if [[ "$cmd" == compact ]]; then
  [[ "$(contents "$before")" == "$(contents "$after")" ]] || { echo "compaction changed the lake's contents" >&2; exit 1; }
fi
echo "kill_test $cmd: reference run ${dur_ms} ms; $trials trials, seed $seed"

killed_before=0; killed_after=0
for trial in $(seq 1 "$trials"); do
  lk="$work/t"
  rm -rf "$lk"; cp -a "$tpl" "$lk"
  delay_ms=$(( RANDOM % (dur_ms + dur_ms / 5 + 1) ))
  delay=$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))
  "$bin" --data "$lk" "${run[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  now="$(digest "$lk")" || die "stats failed after the kill"
  if [[ "$now" == "$before" ]]; then killed_before=$((killed_before + 1))
  elif [[ "$now" == "$after" ]]; then killed_after=$((killed_after + 1))
  else die "lake is neither the state before nor after:
--- before
$before
--- after
$after
--- now
$now"
  fi
  set +e; cl "$lk" verify >/dev/null; vrc=$?; set -e
  (( vrc < 2 )) || die "verify found integrity errors (exit $vrc)"
  cl "$lk" "${run[@]}" >/dev/null || die "rerun failed"
  [[ "$(digest "$lk")" == "$after" ]] || die "rerun did not reach the reference state"
  cl "$lk" gc >/dev/null
  "$CL_PYTHON" "$here/delta_check.py" "$lk" >/dev/null || die "the Delta logs do not match the manifest"
  on_disk="$(cd "$lk" && find . -name '*.parquet' -not -path './_staging/*' -not -path '*/_delta_log/*' | sed 's|^\./||' | sort)"
  named="$(jq -r '(.files[].path), (.retired[].path)' "$lk/_manifest.json" | sort)"
  [[ "$on_disk" == "$named" ]] || die "files on disk differ from the manifest after gc"
  [[ -z "$(ls -A "$lk/_staging")" ]] || die "staging leftovers after gc"
done
# The last trial's lake, row for row: delta-rs reads every table as cryptolake cat prints it.
"$CL_PYTHON" "$here/delta_check.py" "$lk" --all-versions --cat "$bin" || die "delta-rs and cat differ"
echo "$trials passed, 0 failed (killed before commit: $killed_before, after commit: $killed_after)"
