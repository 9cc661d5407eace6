#!/usr/bin/env bash
# run.sh: end-to-end delivery benchmark. Sends 100,000 pre-rendered 5 KB
# messages (one recipient each) over 20 connections to Postfix's smtp-sink on
# loopback with postino's Engine (engine_e2e), then the same with Postfix's
# smtp-source against the same sink, and prints msgs/s, CPU seconds and peak
# RSS for both.
#
# usage: bench/engine/run.sh <path to engine_e2e> [recipients] [bytes] [connections]
#   RCPTS=k (default 1): k recipients per message (transaction) for both
#   tools (smtp-source -r k -m recipients/k); rates are then recipients/s.
set -euo pipefail
E2E=${1:?path to the engine_e2e binary (Release build)}
N=${2:-100000}
SIZE=${3:-5000}
CONNS=${4:-20}
RCPTS=${RCPTS:-1}
MSGS=$(( (N + RCPTS - 1) / RCPTS ))
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)

/usr/sbin/smtp-sink "${SINK_USER[@]}" -c 127.0.0.1:"$PORT" 1000 > /tmp/postino-sink.$$.log 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done

echo "== postino engine: $N recipients ($RCPTS per message) x $SIZE B, $CONNS connections -> smtp-sink 127.0.0.1:$PORT"
/usr/bin/time -v "$E2E" "$PORT" "$N" "$SIZE" "$CONNS" 1 off "$RCPTS" 2> /tmp/postino-e2e.$$.time
grep -E "Elapsed|User time|System time|Maximum resident" /tmp/postino-e2e.$$.time

echo "== smtp-source -d -s $CONNS -m $MSGS -r $RCPTS -l $SIZE"
START=$(date +%s.%N)
/usr/bin/time -v /usr/sbin/smtp-source -d -s "$CONNS" -m "$MSGS" -r "$RCPTS" -l "$SIZE" 127.0.0.1:"$PORT" \
  2> /tmp/postino-source.$$.time
END=$(date +%s.%N)
python3 -c "print('smtp-source: %.3f s, %.0f msgs/s, %.0f rcpts/s' % ($END-$START, $MSGS/($END-$START), $MSGS*$RCPTS/($END-$START)))"
grep -E "Elapsed|User time|System time|Maximum resident" /tmp/postino-source.$$.time
rm -f /tmp/postino-e2e.$$.time /tmp/postino-source.$$.time /tmp/postino-sink.$$.log
