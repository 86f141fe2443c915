#!/usr/bin/env bash
# Ownership campaign: the lake deletes only files it wrote. A data root that also holds a user's
# Parquet files (some beside the lake's own, one named like them), another lake copied into it
# and `merge` output goes through ROUNDS seeded rounds of import, backfill, batch, compact and
# gc, a third of them SIGKILLed at a random moment, with retired files collected at once
# (gc_grace_seconds = 0). After every round and at the end each foreign file is byte-identical,
# and verify finds no integrity error.
# Usage: ownership_test.sh BINARY SHARED_DATA ROUNDS SEED
set -euo pipefail
bin="$1"; shared="$2"; rounds="$3"; seed="$4"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-ownership-XXXX")"
replay_pid=""
cleanup() {
  [[ -n "$replay_pid" ]] && kill "$replay_pid" 2>/dev/null
  wait 2>/dev/null
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
RANDOM=$seed
m1="$shared/binance-spot/klines/1m"
lk="$work/data"
printf '[lake]\ngc_grace_seconds = 0\n' >"$work/cryptolake.toml"
cl() { "$bin" --config "$work/cryptolake.toml" --data "$lk" "$@"; }
fail() { echo "FAIL (round $round): $*" >&2; exit 1; }
round=0

# Import slices: 5,000 minutes each of the 2021-09 window, both symbols.
mkdir -p "$work/slices"
for sym in BTCUSDT ETHUSDT; do
  zcat "$m1/$sym-1m-20210917_20211017__"*.csv.gz > "$work/$sym-1m-all.csv"
  for i in 0 1 2 3 4 5 6 7; do
    sed -n "1p; $((i * 5000 + 2)),$((i * 5000 + 5001))p" "$work/$sym-1m-all.csv" \
      > "$work/slices/$sym-1m-part$i.csv"
  done
done
start_replay "$bin" "$work" --data "$work/BTCUSDT-1m-all.csv" --data "$work/ETHUSDT-1m-all.csv" \
  --weight-limit 1000000000 || exit 1
url="http://127.0.0.1:$replay_port"

# The lake, then the foreign files around and inside it.
cl import "$shared/binance-spot/klines/1d" >/dev/null
cl import "$work/slices/BTCUSDT-1m-part0.csv" >/dev/null
cl batch >/dev/null
some="$(find "$lk/klines_1d" -name '*.parquet' | sort | sed -n 1p)"
mkdir -p "$lk/klines_1m/symbol=BTCUSDT/year=2021/month=09" "$lk/views/daily_raw/symbol=BTCUSDT" \
  "$lk/klines_1d/symbol=BTCUSDT/year=2020"
cp "$some" "$lk/mine.parquet"
cp "$some" "$lk/klines_1m/symbol=BTCUSDT/year=2021/month=09/user-export.parquet"
cp "$some" "$lk/klines_1d/symbol=BTCUSDT/year=2020/part-1600000000000000-4242-0.parquet"
cp "$some" "$lk/views/daily_raw/symbol=BTCUSDT/notes.parquet"
"$bin" --data "$work/other" import "$shared/binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv" >/dev/null
cp -a "$work/other" "$lk/backup-lake"
cl merge --out "$lk/forecasts/merged" >/dev/null
foreign() {
  (cd "$lk" && find . -type f \( -path ./mine.parquet -o -path './backup-lake/*' -o -path './forecasts/merged/*' \
     -o -name user-export.parquet -o -name notes.parquet -o -name 'part-1600000000000000-4242-0.parquet' \) |
   sort | xargs sha256sum)
}
before="$(foreign)"
[[ "$(wc -l <<<"$before")" -ge 8 ]] || fail "expected at least 8 foreign files, got: $before"

ops=(import backfill batch compact gc)
killed=0
for round in $(seq 1 "$rounds"); do
  op="${ops[$((RANDOM % 5))]}"
  case "$op" in
    import)
      sym=$([[ $((RANDOM % 2)) -eq 0 ]] && echo BTCUSDT || echo ETHUSDT)
      args=(import "$work/slices/$sym-1m-part$((RANDOM % 8)).csv") ;;
    backfill)
      args=(backfill --exchange "$url" --symbol BTCUSDT,ETHUSDT --interval 1m
            --from "2021-09-$((17 + RANDOM % 10))" --to "2021-09-28" --weight-limit 1000000000
            --chunk-rows 3000) ;;
    *) args=("$op") ;;
  esac
  if (( RANDOM % 3 == 0 )); then
    # The binary itself in the background (a shell function would run in a subshell, and the
    # kill would hit the subshell and leave cryptolake running).
    "$bin" --config "$work/cryptolake.toml" --data "$lk" "${args[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    killed=$((killed + 1))
  else
    cl "${args[@]}" >"$work/op.out" 2>&1 || { cat "$work/op.out" >&2; fail "$op failed"; }
  fi
  [[ "$(foreign)" == "$before" ]] || fail "a foreign file changed or vanished after $op"
  set +e; cl verify >"$work/verify.out" 2>&1; vrc=$?; set -e
  (( vrc < 2 )) || { cat "$work/verify.out" >&2; fail "verify found integrity errors after $op (exit $vrc)"; }
done
round=end
cl gc >/dev/null
[[ "$(foreign)" == "$before" ]] || fail "a foreign file changed or vanished after the last gc"
echo "ownership_test: $rounds rounds ($killed SIGKILLed), $(wc -l <<<"$before") foreign files byte-identical"
