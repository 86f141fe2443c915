#!/usr/bin/env bash
# Installs what is missing, idempotently: Debian packages (apt, as root, no prompts),
# DuckDB's official build from the npm registry into .deps/duckdb (integrity-checked),
# the dashboard's chart library (lightweight-charts) from the npm registry into .deps/npm, and,
# with --test, the test-only extras (clang-format, a Python venv with pyarrow, a JRE and Maven,
# the Kafka broker's jars from Maven Central into .deps/kafka, Debian's chromium and
# playwright-core from npm for the browser test).
# Usage: scripts/setup.sh [--test]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/deps.env"
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
pkgs="$APT_BUILD"
(( want_test )) && pkgs="$pkgs $APT_TEST $APT_BROWSER"
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
if (( want_test )) && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
if (( ${#missing[@]} )); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- DuckDB from the npm registry ------------------------------------------
prefix="$root/.deps/duckdb"
check() { echo "$1  $2" | sha256sum --check --status; }
if ! { [[ -f "$prefix/lib/libduckdb.so" ]] && check "$DUCKDB_LIB_SHA256" "$prefix/lib/libduckdb.so" &&
       [[ -f "$prefix/include/duckdb.h" ]] && check "$DUCKDB_HEADER_SHA256" "$prefix/include/duckdb.h"; }; then
  log "fetching DuckDB $DUCKDB_VERSION from the npm registry"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$DUCKDB_BINDINGS_PKG" "$DUCKDB_SRC_PKG" >/dev/null)
  bt="$(ls "$tmp"/duckdb-node-bindings-linux-x64-*.tgz)"; st="$(ls "$tmp"/duckdb-[0-9]*.tgz)"
  check "$DUCKDB_BINDINGS_TGZ_SHA256" "$bt" || { log "checksum mismatch: $bt"; exit 1; }
  check "$DUCKDB_SRC_TGZ_SHA256" "$st" || { log "checksum mismatch: $st"; exit 1; }
  tar -xzf "$bt" -C "$tmp" package/libduckdb.so
  tar -xzf "$st" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  check "$DUCKDB_LIB_SHA256" "$tmp/package/libduckdb.so" || { log "checksum mismatch: libduckdb.so"; exit 1; }
  check "$DUCKDB_HEADER_SHA256" "$tmp/package/src/duckdb/src/include/duckdb.h" || { log "checksum mismatch: duckdb.h"; exit 1; }
  mkdir -p "$prefix/lib" "$prefix/include"
  install -m 0644 "$tmp/package/libduckdb.so" "$prefix/lib/libduckdb.so"
  install -m 0644 "$tmp/package/src/duckdb/src/include/duckdb.h" "$prefix/include/duckdb.h"
  log "DuckDB $DUCKDB_VERSION installed in .deps/duckdb"
fi

# --- the dashboard's chart library (and, for tests, playwright-core) from npm -
if (( want_test )); then bash "$root/scripts/web.sh" fetch --test; else bash "$root/scripts/web.sh" fetch; fi

# --- test-only Python venv (interop checks) ---------------------------------
if (( want_test )); then
  venv="$root/.deps/venv"
  if ! "$venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
    log "creating .deps/venv with $PIP_TEST"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check $PIP_TEST
  fi
  # The Kafka broker's jars for the Kafka bus tests (Maven Central, into .deps/kafka).
  bash "$root/scripts/kafka.sh" fetch
fi
