#!/usr/bin/env bash
# Installs what is missing, idempotently: Debian packages (apt, as root, no prompts),
# DuckDB's official build from the npm registry into .deps/duckdb (integrity-checked),
# the dashboard's chart library (lightweight-charts) from the npm registry into .deps/npm, and,
# with --test, the test-only extras (clang-format, a Python venv with pyarrow and the Delta Lake
# readers deltalake, polars, pyspark and delta-spark, a JRE and Maven, Delta's jars and the Kafka
# broker's jars from Maven Central into .deps/delta-jars and .deps/kafka, Debian's chromium and
# playwright-core from npm for the browser test, Debian's prometheus for promtool).
# Usage: scripts/setup.sh [--test]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/deps.env"
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
pkgs="$APT_BUILD"
(( want_test )) && pkgs="$pkgs $APT_TEST $APT_BROWSER $APT_MONITORING"
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
  # The tests need only promtool: the Prometheus server the package starts under systemd is stopped.
  if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
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
  # The Delta Lake readers (deltalake, polars, pyspark, delta-spark), every package pinned by
  # version and SHA-256; installed again whenever the pins change or an installed version differs.
  delta_req="$venv/delta-requirements.txt"
  printf '%s\n' "$PIP_TEST_DELTA" >"$delta_req.new"
  if ! { cmp -s "$delta_req.new" "$delta_req" && "$venv/bin/python" - "$delta_req" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
pins = [line.split()[0].split("==") for line in open(sys.argv[1]) if "==" in line]
try:
    sys.exit(any(version(name) != want for name, want in pins))
except PackageNotFoundError:
    sys.exit(1)
PY
  }; then
    log "installing the Delta readers into .deps/venv: $(grep -o '^[a-z0-9-]*==[^ ]*' "$delta_req.new" | tr '\n' ' ')"
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$delta_req.new"
  fi
  mv "$delta_req.new" "$delta_req"
  # Delta's jars for Spark from Maven Central (Spark never resolves packages: the tests run offline).
  djars="$root/.deps/delta-jars"
  dspark="delta-spark_2.12-$DELTA_VERSION.jar" dstorage="delta-storage-$DELTA_VERSION.jar"
  if ! { [[ -f "$djars/$dspark" ]] && check "$DELTA_SPARK_JAR_SHA256" "$djars/$dspark" &&
         [[ -f "$djars/$dstorage" ]] && check "$DELTA_STORAGE_JAR_SHA256" "$djars/$dstorage"; }; then
    log "fetching Delta Lake $DELTA_VERSION's jars (delta-spark_2.12, delta-storage) from Maven Central"
    rm -rf "$djars" "$djars.partial"; mkdir -p "$djars.partial"
    for a in delta-spark_2.12 delta-storage; do
      mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="io.delta:$a:$DELTA_VERSION" \
          -DoutputDirectory="$djars.partial" >"$djars.partial/mvn.log" 2>&1 ||
        { log "mvn could not fetch io.delta:$a:$DELTA_VERSION: $(grep ERROR "$djars.partial/mvn.log" | head -n 5)"; exit 1; }
    done
    rm -f "$djars.partial/mvn.log"
    check "$DELTA_SPARK_JAR_SHA256" "$djars.partial/$dspark" || { log "checksum mismatch: $dspark"; exit 1; }
    check "$DELTA_STORAGE_JAR_SHA256" "$djars.partial/$dstorage" || { log "checksum mismatch: $dstorage"; exit 1; }
    mv "$djars.partial" "$djars"
    log "Delta Lake $DELTA_VERSION's jars in .deps/delta-jars"
  fi
  # The Kafka broker's jars for the Kafka bus tests (Maven Central, into .deps/kafka).
  bash "$root/scripts/kafka.sh" fetch
fi
