#!/usr/bin/env bash
# run-tests.sh: the whole test suite from a clean clone. Installs
# dependencies, builds the Debug + ASan/UBSan configuration, runs every unit
# and integration test with ctest, then runs each libFuzzer target for a
# bounded time. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh

echo "== build (debug-asan)"
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan

echo "== ctest"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build/debug-asan --output-on-failure -j2 --timeout 600

echo "== fuzz (bounded)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
fuzz_seconds=${POSTINO_FUZZ_SECONDS:-30}
shopt -s nullglob
for target in build/fuzz/fuzz/*_fuzz; do
  [ -x "$target" ] || continue
  echo "-- $(basename "$target") for ${fuzz_seconds}s"
  corpus=$(mktemp -d)
  mkdir -p build/fuzz/artifacts
  seeds=()
  # returns_fuzz starts from the real bounce corpus when it is there.
  if [ "$(basename "$target")" = returns_fuzz ] && [ -d ../shared/testdata/bounces/eml ]; then
    seeds=(../shared/testdata/bounces/eml)
  fi
  "$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "$corpus" "${seeds[@]}" 2>&1 | tail -5
  rm -rf "$corpus"
done
echo "== all tests passed"
