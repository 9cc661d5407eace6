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
start=$(date +%s.%N)
taskset -c 0 "$postino" bounces parse "${args[@]}" > /dev/null 2>&1
end=$(date +%s.%N)
awk -v m="$messages" -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN {
  t = e - s; printf "%d messages (%.1f MB) in %.3f s: %.0f messages/s, %.1f MB/s on one core\n",
  m, b / 1e6, t, m / t, b / 1e6 / t }'
