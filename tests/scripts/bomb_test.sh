#!/usr/bin/env bash
# Decompression bombs against the Release binary under a 1 GiB address-space limit (ASan cannot
# run under `ulimit -v`): a 1.5 MB .gz of zeros that inflates to 1.5 GiB, and a 2 KB .zip whose
# member header claims 4 GB. Each import must fail with exit 3 and a message naming the file,
# never abort; the lake, which already holds a small import, must be unchanged.
# Usage: bomb_test.sh RELEASE_BINARY SHARED_DATA
set -euo pipefail
bin="$1"
data="$2"
if [[ ! -x "$bin" ]]; then
  echo "FAIL: no Release binary at $bin; build it first:" >&2
  echo "  cmake --preset release && cmake --build --preset release --target cryptolake" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
lake="$work/lake"
mkdir -p "$work/in"

head -n 30 "$data/binance-spot/klines/1d/BTCUSDT-1d-2017-08_2026-04.csv" >"$work/in/BTCUSDT-1d-small.csv"
"$bin" --data "$lake" import "$work/in/BTCUSDT-1d-small.csv" >/dev/null
stats_before="$("$bin" --data "$lake" stats)"

# The bomb: 1.5 GiB of zeros, gzip'd on the fly (never on disk uncompressed).
head -c $((1536 * 1024 * 1024)) /dev/zero | gzip -9 >"$work/BTCUSDT-1m-bomb.csv.gz"
# The lying zip: a small CSV member whose local and central headers claim 4026531840 bytes.
python3 - "$work/BTCUSDT-1m-lying.zip" <<'PY'
import struct, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("BTCUSDT-1m-lying.csv", "".join(f"{1747699200000 + i * 60000},1,1,1,1,1\n" for i in range(40)))
b = bytearray(open(path, "rb").read())
for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
    i = b.find(sig)
    b[i + off:i + off + 4] = struct.pack("<I", 0xF0000000)
open(path, "wb").write(bytes(b))
PY
[[ $(stat -c %s "$work/BTCUSDT-1m-lying.zip") -lt 2048 ]] || { echo "FAIL: lying zip too big" >&2; exit 1; }

fail=0
for f in "$work/BTCUSDT-1m-bomb.csv.gz" "$work/BTCUSDT-1m-lying.zip"; do
  set +e
  (ulimit -v 1048576 && exec "$bin" --data "$lake" import "$f") >"$work/out" 2>"$work/err"
  rc=$?
  set -e
  name="$(basename "$f")"
  if [[ $rc -ne 3 ]]; then
    echo "FAIL: import $name exited $rc, expected 3" >&2
    fail=1
  fi
  if ! grep -q "^error: '$f.*refusing it$" "$work/err"; then
    echo "FAIL: import $name: no clear error naming the file:" >&2
    fail=1
  fi
  cat "$work/err" >&2
done

set +e
"$bin" --data "$lake" verify >"$work/verify" 2>&1
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  cat "$work/verify" >&2
  echo "FAIL: verify exited $rc after the bombs" >&2
  fail=1
fi
if [[ "$("$bin" --data "$lake" stats)" != "$stats_before" ]]; then
  echo "FAIL: the lake changed" >&2
  fail=1
fi
[[ $fail -eq 0 ]] && echo "PASS: both bombs refused with exit 3, lake unchanged"
exit $fail
