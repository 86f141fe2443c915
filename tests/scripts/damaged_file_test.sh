#!/usr/bin/env bash
# A damaged data file, end to end: bytes flipped inside one Parquet file of a real lake (its
# footer intact) -> verify exits 2 naming the file and the key range it held -> `repair --drop`
# retires it and records the range -> backfill from the replay exchange fetches exactly those
# klines again -> the lake holds exactly the original rows and verify exits 0.
# Usage: damaged_file_test.sh BINARY SHARED_DATA
set -euo pipefail
bin="$1"; shared="$2"
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/cl-damaged-XXXX")"
replay_pid=""
cleanup() {
  [[ -n "$replay_pid" ]] && kill "$replay_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
m1="$shared/binance-spot/klines/1m"
files=("$m1"/BTCUSDT-1m-20250520_20250818__*.csv "$m1"/ETHUSDT-1m-20250520_20250818__*.csv)
lk="$work/lake"
cl() { "$bin" --data "$lk" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
rows() { cl cat klines_1m | cut -d, -f1-7; }  # symbol, open_time, OHLCV

start_replay "$bin" "$work" --data "${files[0]}" --data "${files[1]}" --weight-limit 1000000000 ||
  exit 1
cl import "${files[@]}" >/dev/null
cl batch >/dev/null
original="$(rows)"
[[ "$(wc -l <<<"$original")" -eq $((2 * 130708 + 1)) ]] || fail "unexpected original row count"
cl verify >/dev/null || fail "the lake is not clean before the damage"

# Damage the ETHUSDT file of 2025-06: 16 bytes in the middle flipped, the footer intact.
victim="$(jq -r '.files[] | select(.dataset == "klines_1m" and .symbol == "ETHUSDT" and
                                   .partition == "year=2025/month=06") | .path' "$lk/_manifest.json")"
[[ -n "$victim" ]] || fail "no ETHUSDT 2025-06 file"
size=$(stat -c %s "$lk/$victim")
python3 - "$lk/$victim" "$size" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(size // 2)
    b = bytearray(f.read(16))
    f.seek(size // 2)
    f.write(bytes(x ^ 0xA5 for x in b))
PY

set +e; cl verify >"$work/verify.out"; vrc=$?; set -e
[[ $vrc -eq 2 ]] || { cat "$work/verify.out" >&2; fail "verify exited $vrc, expected 2"; }
want="ERROR damaged_file klines_1m ETHUSDT: $victim: its bytes no longer match the checksum taken at its commit; it held klines_1m ETHUSDT 2025-06-01 00:00..2025-06-30 23:59, 43200 rows; \`cryptolake repair --drop $victim\` retires it, then \`cryptolake backfill\` fetches them again"
grep -qF "$want" "$work/verify.out" || { cat "$work/verify.out" >&2; fail "verify did not name the file"; }

cl repair --drop "$victim" >"$work/repair.out" || { cat "$work/repair.out" >&2; fail "repair --drop failed"; }
grep -qF "dropped    $victim" "$work/repair.out" || fail "repair did not report the file"
set +e; cl verify >"$work/verify.out"; vrc=$?; set -e
[[ $vrc -eq 1 ]] || { cat "$work/verify.out" >&2; fail "verify after the drop exited $vrc, expected 1 (a gap)"; }
grep -qF "GAP   klines_1m ETHUSDT: 2025-06-01 00:00..2025-07-01 00:00 (43200 missing)" "$work/verify.out" ||
  { cat "$work/verify.out" >&2; fail "the dropped range is not a gap"; }

url="http://127.0.0.1:$replay_port"
cl backfill --exchange "$url" --symbol BTCUSDT,ETHUSDT --interval 1m \
  --weight-limit 1000000000 >"$work/backfill.out" || { cat "$work/backfill.out" >&2; fail "backfill failed"; }
grep -qE "^backfill ETHUSDT 1m .*: missing 43200 in 1 range, fetched 43200, confirmed empty 0" \
  "$work/backfill.out" || { cat "$work/backfill.out" >&2; fail "backfill did not fetch exactly the dropped klines"; }
[[ "$(rows)" == "$original" ]] || fail "the rows after repair + backfill differ from the original"
cl verify >"$work/verify.out" || { cat "$work/verify.out" >&2; fail "verify is not clean at the end"; }
[[ "$(jq -c '.meta.refetch // {}' "$lk/_manifest.json")" == "{}" ]] ||
  fail "the refetch range was not cleared: $(jq -c '.meta.refetch' "$lk/_manifest.json")"
echo "damaged_file_test: verify named $victim, repair --drop + backfill restored 43200 klines"
