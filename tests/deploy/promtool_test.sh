#!/usr/bin/env bash
# promtool on deploy/prometheus: `check` loads the rules (promtool check rules), `test` runs their
# unit tests (promtool test rules). promtool is Debian's `prometheus` package, installed by
# scripts/setup.sh --test; without it the test fails (it does not skip).
# Usage: promtool_test.sh check|test ROOT
set -euo pipefail
mode="$1"
dir="$2/deploy/prometheus"
if ! command -v promtool >/dev/null; then
  echo "promtool not found: install Debian's prometheus package (scripts/setup.sh --test)" >&2
  exit 1
fi
promtool --version 2>&1 | head -n 1
case "$mode" in
  check) promtool check rules "$dir/cryptolake.rules.yml" ;;
  test) promtool test rules "$dir/cryptolake.rules.test.yml" ;;
  *) echo "usage: $0 check|test ROOT" >&2; exit 2 ;;
esac
