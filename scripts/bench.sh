#!/usr/bin/env bash
# Builds the Release preset and runs the benchmarks.
# Usage: scripts/bench.sh [import|backfill|stream|group|serve|delta|prophet|statsforecast|all] [benchmark args]   (default: all, no args)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
which="${1:-all}"; shift || true
bash "$root/scripts/setup.sh"
# Debian packages only the benchmarks need (wrk drives the serving benchmark), installed when
# missing as setup.sh does.
source "$root/scripts/deps.env"
missing=()
for p in $APT_BENCH; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "[bench] installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
# The latency benchmark measures Kafka against a real broker started here (scripts/kafka.sh).
latency() {
  local kdir; kdir="$(mktemp -d "${TMPDIR:-/tmp}/cl-bench-kafka-XXXX")"
  bash "$root/scripts/kafka.sh" fetch >/dev/null
  bash "$root/scripts/kafka.sh" start "$kdir" >/dev/null
  "$root/build/release/bench/stream_latency_bench" --kafka "127.0.0.1:$(cat "$kdir/kafka.port")" "$@" || true
  bash "$root/scripts/kafka.sh" stop "$kdir" >/dev/null; rm -rf "$kdir"
}
# The stream at scale (bench/stream_group_bench.sh): 200 symbols, a Kafka consumer group, one
# consumer SIGKILLed; against a real broker started here.
group() {
  local kdir; kdir="$(mktemp -d "${TMPDIR:-/tmp}/cl-bench-kafka-XXXX")"
  bash "$root/scripts/kafka.sh" fetch >/dev/null
  bash "$root/scripts/kafka.sh" start "$kdir" >/dev/null
  local rc=0
  bash "$root/bench/stream_group_bench.sh" "$root/build/release/src/app/cryptolake" \
    "$root/../shared/data" "127.0.0.1:$(cat "$kdir/kafka.port")" "$@" || rc=$?
  bash "$root/scripts/kafka.sh" stop "$kdir" >/dev/null; rm -rf "$kdir"
  return $rc
}
# The reference check against the real Prophet (bench/prophet_reference.py): PyPI prophet, pinned
# as PIP_BENCH, in .deps/prophet-venv. Python is only the reference; the product does not use it.
prophet_ref() {
  local venv="$root/.deps/prophet-venv" want="${PIP_BENCH#prophet==}"
  if [[ "$("$venv/bin/python" -c 'import prophet; print(prophet.__version__)' 2>/dev/null)" != "$want" ]]; then
    echo "[bench] creating .deps/prophet-venv with $PIP_BENCH" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$PIP_BENCH"
  fi
  "$venv/bin/python" "$root/bench/prophet_reference.py" \
    --cryptolake "$root/build/release/src/app/cryptolake" "$@"
}
# The model suite against statsforecast (bench/statsforecast_reference.py, which runs
# bench/models_bench on the same series in the same run): PyPI statsforecast, pinned as
# PIP_BENCH_SF, in .deps/statsforecast-venv. Python is only the reference.
statsforecast_ref() {
  local venv="$root/.deps/statsforecast-venv" want="${PIP_BENCH_SF#statsforecast==}"
  if [[ "$("$venv/bin/python" -c 'import statsforecast; print(statsforecast.__version__)' 2>/dev/null)" != "$want" ]]; then
    echo "[bench] creating .deps/statsforecast-venv with $PIP_BENCH_SF" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$PIP_BENCH_SF"
  fi
  "$venv/bin/python" "$root/bench/statsforecast_reference.py" \
    --models-bench "$root/build/release/bench/models_bench" "$@"
}
# The Delta log (bench/delta_bench.cc, then bench/delta_read.py on the same lake): delta-rs and
# polars from the test venv (setup.sh --test), installed when missing.
delta() {
  "$root/.deps/venv/bin/python" -c 'import deltalake, polars' 2>/dev/null || bash "$root/scripts/setup.sh" --test
  local keep; keep="$(mktemp -d "${TMPDIR:-/tmp}/cl-delta-bench-XXXX")"
  "$root/build/release/bench/delta_bench" --keep "$keep" "$@"
  "$root/.deps/venv/bin/python" "$root/bench/delta_read.py" "$keep/lake"
  rm -rf "$keep"
}
# The alert rules (bench/alerts_bench.cc): the engine beside DuckDB's SQL, and the live path.
alerts() {
  local keep; keep="$(mktemp -d "${TMPDIR:-/tmp}/cl-alerts-bench-XXXX")"
  "$root/build/release/bench/alerts_bench" --keep "$keep" "$@"
  rm -rf "$keep"
}
case "$which" in
  delta) delta "$@" ;;
  alerts) alerts "$@" ;;
  import) "$root/build/release/bench/import_bench" "$@" ;;
  backfill) "$root/build/release/bench/backfill_bench" "$@" ;;
  stream) "$root/build/release/bench/stream_bench" "$@"; latency ;;
  group) group "$@" ;;
  serve) "$root/build/release/bench/serve_bench" "$@" ;;
  prophet) prophet_ref "$@" ;;
  statsforecast) statsforecast_ref "$@" ;;
  all) "$root/build/release/bench/import_bench"; "$root/build/release/bench/backfill_bench"
       "$root/build/release/bench/stream_bench"; latency; group; "$root/build/release/bench/serve_bench"; delta; alerts; prophet_ref
       statsforecast_ref ;;
  *) echo "usage: scripts/bench.sh [import|backfill|stream|group|serve|delta|alerts|prophet|statsforecast|all] [args]" >&2; exit 64 ;;
esac
