#!/usr/bin/env bash
# parse_rate.sh: bounce parsing throughput on one core. Runs the release
# `postino bounces parse` over every message of the bounce corpus, REPEAT
# times in one process (the file list repeated), pinned to CPU 0, and
# prints messages per second (process start and JSON output included).
#
# usage: bench/returns/parse_rate.sh [POSTINO] [CORPUS_DIR] [REPEAT]
#   POSTINO    default build/release/cli/postino (cmake --preset release)
#   CORPUS_DIR default ../shared/testdata/bounces
#   REPEAT     default 20
set -euo pipefail
cd "$(dirname "$0")/../.."
postino=${1:-build/release/cli/postino}
corpus=${2:-../shared/testdata/bounces}
repeat=${3:-20}
shopt -s nullglob
files=("$corpus"/eml/*.eml)
[ ${#files[@]} -gt 0 ] || { echo "no corpus at $corpus/eml" >&2; exit 2; }
args=()
for ((i = 0; i < repeat; i++)); do args+=("${files[@]}"); done
messages=$(( ${#files[@]} * repeat ))
bytes=$(( $(cat "${files[@]}" | wc -c) * repeat ))
# Wall time and the process's own CPU time (user + sys): on a shared,
# loaded machine the CPU time is what one dedicated core would take.
tfile=$(mktemp)
/usr/bin/time -o "$tfile" -f "%e %U %S" taskset -c 0 "$postino" bounces parse "${args[@]}" > /dev/null 2>&1
timing=$(tail -1 "$tfile")
rm -f "$tfile"
read -r wall user sys <<< "$timing"
awk -v m="$messages" -v b="$bytes" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {
  c = u + s;
  printf "%d messages (%.1f MB): wall %.2f s = %.0f messages/s; CPU %.2f s = %.0f messages/s (%.1f MB/s) on one core\n",
  m, b / 1e6, w, m / w, c, m / c, b / 1e6 / c }'
