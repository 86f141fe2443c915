#!/usr/bin/env bash
# The dashboard's third-party files, from the npm registry, pinned in scripts/deps.env; nothing
# fetched is committed (it lives in .deps/npm/<package>/, the unpacked tarball's package/ dir).
#
# Usage:
#   scripts/web.sh fetch [--test]   download and unpack lightweight-charts (the page's only
#                                   library); with --test also playwright-core (the browser
#                                   test's driver; the browser is Debian's chromium, APT_BROWSER).
#                                   Each tarball is checked against its pinned SHA-256 before it is
#                                   unpacked. Idempotent: a package already unpacked from the
#                                   pinned tarball is not fetched again.
#   scripts/web.sh assemble OUT_DIR copy web/* and the lightweight-charts standalone build into
#                                   OUT_DIR (created if missing), so the page needs no CDN.
#                                   Fails if `fetch` has not been run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/deps.env"
: "${LWC_VERSION:?LWC_VERSION missing from scripts/deps.env}"
: "${LWC_TGZ_SHA256:?LWC_TGZ_SHA256 missing from scripts/deps.env}"
npm_dir="$root/.deps/npm"
LWC_FILE=lightweight-charts.standalone.production.js  # the name the page loads (web/index.html)

tmps=()
trap 'rm -rf "${tmps[@]}"' EXIT

log() { printf '[web] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# fetch_pkg NAME VERSION SHA256: .deps/npm/NAME holds the unpacked tarball; .deps/npm/NAME/.tgz-sha256
# records which tarball it came from, so a changed pin fetches again.
fetch_pkg() {
  local name="$1" version="$2" sha="$3" dest="$npm_dir/$1"
  if [[ -f "$dest/.tgz-sha256" && "$(cat "$dest/.tgz-sha256")" == "$sha" ]]; then return 0; fi
  command -v npm >/dev/null || die "npm is not installed: run scripts/setup.sh"
  log "fetching $name@$version from the npm registry"
  local tmp; tmp="$(mktemp -d)"; tmps+=("$tmp")
  (cd "$tmp" && npm pack --silent --loglevel=error "$name@$version" >/dev/null) ||
    die "npm pack $name@$version failed"
  local tgz; tgz="$(ls "$tmp"/*.tgz)"
  echo "$sha  $tgz" | sha256sum --check --status ||
    die "checksum mismatch for $name@$version: got $(sha256sum "$tgz" | cut -d' ' -f1), pinned $sha"
  mkdir -p "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x"
  rm -rf "$dest"
  mkdir -p "$npm_dir"
  mv "$tmp/x/package" "$dest"
  echo "$sha" >"$dest/.tgz-sha256"
  log "$name@$version unpacked in .deps/npm/$name"
}

cmd="${1:-}"
case "$cmd" in
  fetch)
    fetch_pkg lightweight-charts "$LWC_VERSION" "$LWC_TGZ_SHA256"
    if [[ "${2:-}" == "--test" ]]; then
      : "${PLAYWRIGHT_VERSION:?PLAYWRIGHT_VERSION missing from scripts/deps.env}"
      : "${PLAYWRIGHT_TGZ_SHA256:?PLAYWRIGHT_TGZ_SHA256 missing from scripts/deps.env}"
      fetch_pkg playwright-core "$PLAYWRIGHT_VERSION" "$PLAYWRIGHT_TGZ_SHA256"
    fi
    ;;
  assemble)
    out="${2:?usage: scripts/web.sh assemble OUT_DIR}"
    lwc="$npm_dir/lightweight-charts"
    [[ -f "$lwc/.tgz-sha256" && "$(cat "$lwc/.tgz-sha256")" == "$LWC_TGZ_SHA256" ]] ||
      die "lightweight-charts $LWC_VERSION is not in .deps/npm: run scripts/web.sh fetch"
    mkdir -p "$out"
    install -m 0644 "$root"/web/index.html "$root"/web/app.js "$root"/web/alerts.js "$root"/web/style.css "$out"/
    install -m 0644 "$lwc/dist/$LWC_FILE" "$out/$LWC_FILE"
    # Apache-2.0: the library's licence and notice travel with the copy we serve.
    install -m 0644 "$lwc/LICENSE" "$out/lightweight-charts.LICENSE.txt"
    if [[ -f "$lwc/NOTICE" ]]; then install -m 0644 "$lwc/NOTICE" "$out/lightweight-charts.NOTICE.txt"; fi
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
