#!/usr/bin/env bash
# Builds the Release preset and runs the benchmarks.
# Usage: scripts/bench.sh [import|backfill|stream|all] [benchmark args]   (default: all, no args)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
which="${1:-all}"; shift || true
bash "$root/scripts/setup.sh"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
case "$which" in
  import) "$root/build/release/bench/import_bench" "$@" ;;
  backfill) "$root/build/release/bench/backfill_bench" "$@" ;;
  stream) "$root/build/release/bench/stream_bench" "$@" ;;
  all) "$root/build/release/bench/import_bench"; "$root/build/release/bench/backfill_bench"
       "$root/build/release/bench/stream_bench" ;;
  *) echo "usage: scripts/bench.sh [import|backfill|stream|all] [args]" >&2; exit 64 ;;
esac
