#!/usr/bin/env bash
# The house rules of issue 17, checked over src/ (see docs/ARCHITECTURE.md "House rules"):
#   1. no source file over 700 lines;
#   2. no function over 120 lines, measured by universal-ctags (a function's first line to its
#      closing brace, lambdas and local classes included in the function that holds them);
#   3. at most two OHLCV field lists: classes with a floating-point `high` member (columnar
#      batches, whose `high` is a vector, and lists of field names are not kline structs);
#   4. SQL text and DuckDB only under src/lake, src/batch and src/verify.
# Files still to be reworked are named in source_shape_allow.txt (`rule path[:symbol]`); the
# check fails on any new offender, and on any allowed one that no longer offends (so the list
# only shrinks). Usage: source_shape_test.sh <repo root>
set -euo pipefail
root="${1:?usage: source_shape_test.sh <repo root>}"
cd "$root"
ctags_bin="$(command -v ctags-universal || command -v ctags || true)"
[[ -n "$ctags_bin" ]] || { echo "error: universal-ctags is not installed (scripts/setup.sh --test)"; exit 2; }
allow="tests/scripts/source_shape_allow.txt"
found="$(mktemp)"; trap 'rm -f "$found"' EXIT

# 1. file length
git ls-files -- 'src/*.cc' 'src/*.h' | while read -r f; do
  n=$(wc -l < "$f"); if (( n > 700 )); then echo "file-lines $f $n"; fi
done >> "$found"

# 2. function length (definitions only: kind f)
"$ctags_bin" -x --_xformat="%{end} %{line} %F:%N" --kinds-c++=f --fields=+e --languages=C++ \
  $(git ls-files -- 'src/*.cc' 'src/*.h') 2>/dev/null |
  awk '$1 != "" && ($1 - $2 + 1) > 120 { print "function-lines", $3, ($1 - $2 + 1) }' >> "$found"

# 3. OHLCV field lists
"$ctags_bin" -x --_xformat="%N|%{scope}|%{typeref}|%F" --kinds-c++=m --fields=+St --languages=C++ \
  $(git ls-files -- 'src/*.cc' 'src/*.h') 2>/dev/null |
  awk -F'|' '$1 == "high" && $3 ~ /^typename:(double|float|long double)$/ { sub(/.*::/, "", $2); print $4 ":" $2 }' |
  sort -u > "$found.ohlcv"
nlists=$(wc -l < "$found.ohlcv")
if (( nlists > 2 )); then
  while read -r s; do echo "ohlcv-fields $s"; done < "$found.ohlcv" >> "$found"
fi
rm -f "$found.ohlcv"

# 4. SQL and DuckDB outside lake/batch/verify
sql='"[^"]*\b(SELECT|INSERT INTO|CREATE (OR REPLACE )?(TABLE|VIEW|TEMP)|COPY \(|read_parquet|DELETE FROM|ATTACH|GROUP BY|ORDER BY)\b'
git ls-files -- 'src/*.cc' 'src/*.h' | grep -vE '^src/(lake|batch|verify)/' | while read -r f; do
  if grep -qE "$sql" "$f"; then echo "sql $f"; fi
  if grep -qE '#include "(lake/duck\.h|duckdb\.h)"|#include <duckdb' "$f"; then echo "duckdb $f"; fi
done >> "$found"

status=0
allowed="$({ grep -vE '^\s*(#|$)' "$allow" || true; } | awk '{print $1, $2}' | sort -u)"
actual="$(awk '{print $1, $2}' "$found" | sort -u)"
new="$(comm -13 <(echo "$allowed") <(echo "$actual") | sed '/^$/d')"
gone="$(comm -23 <(echo "$allowed") <(echo "$actual") | sed '/^$/d')"
if [[ -n "$new" ]]; then
  echo "FAIL: new offenders of the house rules:"; grep -F -f <(echo "$new") "$found" | sed 's/^/  /'; status=1
fi
if [[ -n "$gone" ]]; then
  echo "FAIL: fixed, so remove from $allow:"; echo "$gone" | sed 's/^/  /'; status=1
fi
echo "house rules: $(echo "$actual" | sed '/^$/d' | wc -l) offenders, all named in $allow ($(echo "$allowed" | sed '/^$/d' | wc -l) lines); OHLCV field lists: $nlists"
sort "$found" | sed 's/^/  /'
exit $status
