#!/usr/bin/env bash
# shaping.sh: cost of traffic shaping in the delivery engine. Sends N
# pre-rendered messages round-robin to SITES recipient domains (each its own
# MX site, all routed to one Postfix smtp-sink on loopback) with shaping OFF
# (per-path connection limit only) and ON (site limits, message and
# connection rates, default backoff rules, a warm-up plan — all set high
# enough not to bind), alternating ROUNDS times, and prints msgs/s and CPU.
#
# usage: bench/engine/shaping.sh <engine_e2e> [messages] [bytes] [connections per site] [sites] [rounds]
set -euo pipefail
E2E=${1:?path to the engine_e2e binary (Release build)}
N=${2:-100000}
SIZE=${3:-5000}
CONNS=${4:-1}
SITES=${5:-1000}
ROUNDS=${6:-2}
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)
ulimit -n 8192 2>/dev/null || true

# -m: smtp-sink serves at most 256 sessions at once by default; 1,000 sites
# open more, and the excess would wait in the kernel backlog. A fresh sink
# for every run: one sink's throughput falls run after run, which would
# favour whichever mode runs first.
SINK=""
trap '[ -n "$SINK" ] && kill $SINK 2>/dev/null || true' EXIT
start_sink() {
  /usr/sbin/smtp-sink "${SINK_USER[@]}" -m 4096 -c 127.0.0.1:"$PORT" 4096 > /tmp/postino-sink.$$.log 2>&1 &
  SINK=$!
  for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
}
stop_sink() { kill "$SINK" 2>/dev/null || true; wait "$SINK" 2>/dev/null || true; SINK=""; sleep 1; }

for r in $(seq "$ROUNDS"); do
  # Alternate which mode goes first.
  if [ $((r % 2)) -eq 1 ]; then modes="off on"; else modes="on off"; fi
  for mode in $modes; do
    echo "== round $r, shaping $mode: $N x $SIZE B, $SITES sites, $CONNS connection(s) per site"
    start_sink
    /usr/bin/time -v "$E2E" "$PORT" "$N" "$SIZE" "$CONNS" "$SITES" "$mode" 2> /tmp/postino-e2e.$$.time
    grep -E "User time|System time|Maximum resident" /tmp/postino-e2e.$$.time
    stop_sink
  done
done
rm -f /tmp/postino-e2e.$$.time /tmp/postino-sink.$$.log
