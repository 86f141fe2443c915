#!/usr/bin/env bash
# Installs what is missing, builds the Debug preset (AddressSanitizer + UBSan) and runs every
# test: unit, integration (real DuckDB files, real Parquet, the real sample data), crash/kill
# tests and the pyarrow interop test. Then the tsan preset: the tests of the concurrent parts
# (HTTP server, merged and real-time views, the stream over WebSocket, the pacer, the alert
# service live and its webhook delivery) again under
# ThreadSanitizer. Usage: scripts/test.sh [extra ctest args, passed to both runs]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh --test
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$(nproc)"
# The Release binary, for the tests that need a memory limit ASan cannot run under
# (tests/scripts/bomb_test.sh).
cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" --target cryptolake
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --preset debug -j "$(nproc)" "$@"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$(nproc)"
ctest --preset tsan -j "$(nproc)" "$@"
