#!/usr/bin/env bash
# run.sh: submission listener benchmark (issue 12). In ONE run on loopback:
#   1. postino's listener (bench/submission/submission_server: the production
#      Listener + SubmissionHandler + PostgreSQL store with group commit; AUTH
#      off because smtp-source cannot authenticate) against a PostgreSQL
#      cluster with DURABLE settings (fsync=on, synchronous_commit=on,
#      full_page_writes=on): every 250 follows its commit.
#   2. Postfix smtpd with its own queue (private instance, `postfix -c DIR`,
#      private queue_directory, inet_interfaces=127.0.0.1, mail delivered to
#      the discard transport), fsync of queue files as shipped.
# Both fed by: smtp-source -s CONNS -m N -l 5000 (TLS off: smtp-source has
# no TLS). Accepted msgs/s = N / wall time of smtp-source; postino's count
# is checked in the database afterwards.
#
# usage: bench/submission/run.sh SUBMISSION_SERVER_BINARY [N]
#        (cmake --preset bench && cmake --build --preset bench --target submission_server;
#         binary: build/bench/bench/submission/submission_server)
# env:   CONNS=20  STORE_THREADS=4  VAR=<repo>/var/submission-bench
#        POSTINO=<a postino binary, for `db migrate`>
set -euo pipefail
SERVER=$(readlink -f "${1:?usage: run.sh SUBMISSION_SERVER_BINARY [N]}")
N=${2:-50000}
CONNS=${CONNS:-20}
STORE_THREADS=${STORE_THREADS:-4}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
VAR=${VAR:-$root/var/submission-bench}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
chmod 755 "$root/var" "$VAR" 2>/dev/null || true
results="$VAR/results.txt"
: > "$results"
log() { printf '\n== %s\n' "$*" >&2; }
result() { echo "RESULT $1 $2" | tee -a "$results"; }
now() { date +%s.%N; }
rate() { python3 -c "print('%.0f' % ($1 / ($3 - $2)))"; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# shellcheck source=bench/submission/common.sh
. "$here/common.sh"

result date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
result nproc "$(nproc)"
result cpu "\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\""
result load_start "\"$(uptime | sed 's/.*load average: //')\""
result command "\"smtp-source -s $CONNS -m $N -l 5000\""

pg_port=$(free_port)
srv_port=$(free_port)
pf_port=$(free_port)
pgdata="$VAR/pgdata"
pf="$VAR/postfix"
srv_pid=""
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
  stop_postfix "$pf"
  stop_pg "$pgdata"
}
trap cleanup EXIT

log "PostgreSQL (durable: fsync, synchronous_commit, full_page_writes on) on $pg_port"
start_durable_pg "$pgdata" "$pg_port"
# Any postino build can create the schema (default: the debug-asan one).
postino_bin=${POSTINO:-$root/build/debug-asan/cli/postino}
"$postino_bin" --config "$VAR/postino.toml" db migrate > "$VAR/migrate.log" 2>&1

log "postino submission listener on 127.0.0.1:$srv_port (store threads $STORE_THREADS)"
"$SERVER" "$db_url" "$srv_port" "$STORE_THREADS" > "$VAR/server.log" 2>&1 &
srv_pid=$!
wait_port "$srv_port"
t0=$(now)
timeout 1800 /usr/sbin/smtp-source -s "$CONNS" -m "$N" -l 5000 -f bench@example.com \
  -t rcpt@dest.example 127.0.0.1:"$srv_port" > "$VAR/source-postino.log" 2>&1
t1=$(now)
stored=$(psql -X -Atq "$db_url" -c "SELECT count(*) FROM submitted_messages")
rows=$(psql -X -Atq "$db_url" -c "SELECT count(*) FROM deliveries WHERE submission_id IS NOT NULL")
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""
result postino_seconds "$(secs "$t0" "$t1")"
result postino_msgs_per_s "$(rate "$N" "$t0" "$t1")"
result postino_stored "$stored"
result postino_delivery_rows "$rows"

log "Postfix smtpd + queue (discard transport) on 127.0.0.1:$pf_port"
start_postfix_discard "$pf" "$pf_port"
t0=$(now)
timeout 1800 /usr/sbin/smtp-source -s "$CONNS" -m "$N" -l 5000 -f bench@example.com \
  -t rcpt@dest.example 127.0.0.1:"$pf_port" > "$VAR/source-postfix.log" 2>&1
t1=$(now)
result postfix_seconds "$(secs "$t0" "$t1")"
result postfix_msgs_per_s "$(rate "$N" "$t0" "$t1")"
postfix -c "$pf/conf" stop >/dev/null 2>&1 || true
result ratio_postino_over_postfix \
  "$(awk '/postino_msgs_per_s/{a=$3} /postfix_msgs_per_s/{b=$3} END{printf "%.2f", a/b}' "$results")"
result load_end "\"$(uptime | sed 's/.*load average: //')\""
