#!/usr/bin/env bash
# run.sh: builds the Release benchmark of templates/ and compares it with
# `openssl speed` on this machine; writes bench/templates/RESULTS-templates.md.
#   bash bench/templates/run.sh            (from the repository root)
# Targets: render + MIME >= 100,000 msg/s on one core; DKIM signing (with
# canonicalization and hashing) >= 0.9x the raw RSA-2048 sign rate and
# >= 0.75x the raw Ed25519 sign rate reported by openssl speed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-$ROOT/build-tpl-rel}
OUT=$ROOT/bench/templates/RESULTS-templates.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

CONFIGURE="cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOSTINO_TESTS=OFF -DPOSTINO_BENCH=ON"
BUILD_CMD="cmake --build $BUILD --target templates_bench -j2"
BENCH_CMD="taskset -c 0 $BUILD/bench/templates_bench --benchmark_min_time=3 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_format=json"
SPEED_CMD="taskset -c 0 openssl speed -seconds 3 rsa2048 ed25519"

if [[ -z "${SKIP_BUILD:-}" ]]; then
  $CONFIGURE >/dev/null
  $BUILD_CMD >/dev/null
fi
# The machine is shared: openssl speed runs right before AND right after the
# benchmark, and the ratios use the mean of the two runs.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
$SPEED_CMD >"$TMP/speed.txt" 2>/dev/null
$BENCH_CMD >"$TMP/bench.json" 2>"$TMP/bench.err"
$SPEED_CMD >>"$TMP/speed.txt" 2>/dev/null
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$TMP/bench.json" "$TMP/speed.txt" "$OUT" <<PY
import json, re, subprocess, sys, datetime
bench = json.load(open(sys.argv[1]))
rates = {}
for b in bench['benchmarks']:
    if b.get('aggregate_name') == 'median':
        rates[b['run_name']] = b['items_per_second']
speed = open(sys.argv[2]).read()
rsa_runs = [float(x) for x in re.findall(r'^rsa 2048 bits\s+\S+s\s+\S+s\s+([\d.]+)', speed, re.M)]
ed_runs = [float(x) for x in re.findall(r'Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)', speed, re.M)]
rsa = sum(rsa_runs) / len(rsa_runs)
ed = sum(ed_runs) / len(ed_runs)
render = rates['BM_RenderMime']
dkim_rsa = rates['BM_DkimSign/rsa2048']
dkim_ed = rates['BM_DkimSign/ed25519']
raw_rsa = rates['BM_RawSign/rsa2048']
raw_ed = rates['BM_RawSign/ed25519']
cpu = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
model = re.search(r'Model name:\s*(.*)', cpu).group(1).strip()
nproc = subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()
def ok(v, t): return 'met' if v >= t else 'MISSED'
lines = [
 '# templates/ benchmark results',
 '',
 f'- date: {datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}',
 f'- CPU: {model}; nproc: {nproc} (shared machine; pinned to core 0 with taskset); load average before/after: $LOAD_BEFORE / $LOAD_AFTER',
 f'- openssl speed sign/s, before and after the benchmark: rsa2048 {rsa_runs}, ed25519 {ed_runs} (ratios use the mean)',
 f'- commands: \`{"$CONFIGURE"}\`, \`{"$BUILD_CMD"}\`, \`{"$BENCH_CMD"}\`, \`{"$SPEED_CMD"}\` (all in bench/templates/run.sh)',
 '- rates are medians of 3 repetitions, per CPU second (Google Benchmark items_per_second; openssl speed also reports per CPU second)',
 '',
 '| measurement | rate (/s) | target | ratio | verdict |',
 '|---|---:|---|---:|---|',
 f'| render + MIME (~5 KB message, 10 attributes, loop of 4) | {render:,.0f} | >= 100,000 | {render/100000:.2f} | {ok(render, 100000)} |',
 f'| DKIM sign rsa-sha256 (relaxed/relaxed, whole message) | {dkim_rsa:,.0f} | >= 0.9 x openssl speed rsa2048 sign ({rsa:,.1f}) | {dkim_rsa/rsa:.3f} | {ok(dkim_rsa/rsa, 0.9)} |',
 f'| DKIM sign ed25519-sha256 (relaxed/relaxed, whole message) | {dkim_ed:,.0f} | >= 0.75 x openssl speed ed25519 sign ({ed:,.1f}) | {dkim_ed/ed:.3f} | {ok(dkim_ed/ed, 0.75)} |',
 f'| raw EVP_DigestSign rsa2048 in-process (32-byte input) | {raw_rsa:,.0f} | (reference) | {dkim_rsa/raw_rsa:.3f} (DKIM/raw) | |',
 f'| raw EVP_DigestSign ed25519 in-process (32-byte input) | {raw_ed:,.0f} | (reference) | {dkim_ed/raw_ed:.3f} (DKIM/raw) | |',
 '',
 'openssl speed output:',
 '',
 '\`\`\`',
 *[l for l in speed.splitlines() if re.search(r'sign|bits', l)],
 '\`\`\`',
 '',
]
open(sys.argv[3], 'w').write('\n'.join(lines))
print('\n'.join(lines))
PY
