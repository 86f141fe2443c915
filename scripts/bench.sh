#!/usr/bin/env bash
# Builds the Release preset and runs the benchmarks. Usage: scripts/bench.sh [import_bench args]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
"$root/build/release/bench/import_bench" "$@"
