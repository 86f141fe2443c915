#!/usr/bin/env bash
# Builds the libFuzzer target for the kline parser with clang-14 and fuzzes it for SECONDS
# (default 60), starting from a seed corpus of real lines from ../shared/data.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-60}"
bash "$root/scripts/setup.sh"
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
corpus="$root/build/fuzz/corpus"
mkdir -p "$corpus"
k="$root/../shared/data/binance-spot/klines"
# Seeds: byte 0 = format (bits 0-1) and interval (bits 2-3), then a few real lines.
seed() { { printf "\\x$(printf %02x "$1")"; cat; } > "$corpus/$2"; }
head -5 "$k/1d/BTCUSDT-1d-2017-08_2026-04.csv" | seed 13 vision-1d
head -5 "$k/15m-microseconds/BTCUSDT-15m-2025-01.csv" | seed 5 vision-15m-us
head -5 "$k/1m/BTCUSDT-1m-20250520_20250818__Filimonov-Eremeyka-freqtrade.csv" | seed 2 ohlcv-1m
head -5 "$root/../shared/data/btcusd-daily/BTCUSD_1d_candles_full.csv" | seed 15 bitstamp-1d
"$root/build/fuzz/fuzz/parser_fuzz" -max_total_time="$secs" -max_len=4096 "$corpus"
