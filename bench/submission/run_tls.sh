#!/usr/bin/env bash
# run_tls.sh: TLS submission benchmark (issue 12 follow-up). smtp-source has
# no TLS, so both servers are fed by bench/submission/tls_source.py (Python
# asyncio + ssl) with the same N and CONNS. In ONE run on loopback:
#   - postino's listener (bench/submission/submission_server with a
#     throwaway self-signed certificate: STARTTLS offered, AUTH off) against
#     PostgreSQL with DURABLE settings (fsync, synchronous_commit,
#     full_page_writes on), exactly as run.sh;
#   - Postfix smtpd + cleanup + queue, private instance as run.sh, with
#     smtpd_tls_security_level=may and the same certificate.
# Phases, alternating between the two servers (both up at once, so load
# drift on a shared machine hits both alike):
#   plain (no STARTTLS) 1 msg/conn | STARTTLS 1 msg/conn | STARTTLS PER_CONN msgs/conn
# then postino alone with AUTH required (a user made by `postino user add`):
#   STARTTLS+AUTH PLAIN 1 msg/conn (N_AUTH messages) | PER_CONN msgs/conn (N).
# postino's stored count is checked in the database after every phase.
#
# usage: bench/submission/run_tls.sh SUBMISSION_SERVER_BINARY [N]
#        (cmake --preset bench && cmake --build --preset bench --target submission_server)
# env:   CONNS=20  PER_CONN=20  N_AUTH=1000  PROCS=1 (client processes)
#        KEY=rsa (rsa:2048) | ec (P-256)  STORE_THREADS=4
#        VAR=<repo>/var/submission-tls-bench  POSTINO=<a postino binary>
set -euo pipefail
SERVER=$(readlink -f "${1:?usage: run_tls.sh SUBMISSION_SERVER_BINARY [N]}")
N=${2:-5000}
CONNS=${CONNS:-20}
PER_CONN=${PER_CONN:-20}
N_AUTH=${N_AUTH:-1000}
PROCS=${PROCS:-1}
KEY=${KEY:-rsa}
STORE_THREADS=${STORE_THREADS:-4}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
VAR=${VAR:-$root/var/submission-tls-bench}
mkdir -p "$VAR"
chmod 755 "$root/var" "$VAR" 2>/dev/null || true
VAR=$(cd "$VAR" && pwd)
results="$VAR/results.txt"
: > "$results"
log() { printf '\n== %s\n' "$*" >&2; }
result() { echo "RESULT $1 $2" | tee -a "$results"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# shellcheck source=bench/submission/common.sh
. "$here/common.sh"
# Busy share of all CPUs between two /proc/stat samples ("busy idle" each,
# passed unquoted on purpose: four numbers).
# shellcheck disable=SC2086
cpu_sample() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
busy() { python3 -c "import sys; b0,i0,b1,i1=map(float,sys.argv[1:]); print('%.2f' % ((b1-b0)/((b1-b0)+(i1-i0))))" $1 $2; }

result date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
result nproc "$(nproc)"
result cpu "\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\""
result load_start "\"$(uptime | sed 's/.*load average: //')\""
result params "\"N=$N CONNS=$CONNS PER_CONN=$PER_CONN N_AUTH=$N_AUTH PROCS=$PROCS KEY=$KEY STORE_THREADS=$STORE_THREADS\""

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
  rm -f "$VAR/tls.key"
}
trap cleanup EXIT

log "throwaway self-signed certificate ($KEY)"
case "$KEY" in
  rsa) newkey=(-newkey rsa:2048) ;;
  ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  *) echo "KEY must be rsa or ec" >&2; exit 2 ;;
esac
openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=bench.postino.test \
  -keyout "$VAR/tls.key" -out "$VAR/tls.crt" > "$VAR/openssl.log" 2>&1
chmod 600 "$VAR/tls.key"
result cert "\"$(openssl x509 -in "$VAR/tls.crt" -noout -text | sed -n 's/^ *Public Key Algorithm: *//p') $(openssl x509 -in "$VAR/tls.crt" -noout -text | sed -n 's/^ *Public-Key: *//p')\""

log "PostgreSQL (durable: fsync, synchronous_commit, full_page_writes on) on $pg_port"
start_durable_pg "$pgdata" "$pg_port"
postino_bin=${POSTINO:-$root/build/release/cli/postino}
"$postino_bin" --config "$VAR/postino.toml" db migrate > "$VAR/migrate.log" 2>&1
stored() { psql -X -Atq "$db_url" -c "SELECT count(*) FROM submitted_messages"; }

log "postino submission listener (STARTTLS, AUTH off) on 127.0.0.1:$srv_port"
"$SERVER" "$db_url" "$srv_port" "$STORE_THREADS" "$VAR/tls.crt" "$VAR/tls.key" \
  > "$VAR/server.log" 2>&1 &
srv_pid=$!
wait_port "$srv_port"

log "Postfix smtpd + queue (STARTTLS offered, discard transport) on 127.0.0.1:$pf_port"
start_postfix_discard "$pf" "$pf_port" "$VAR/tls.crt" "$VAR/tls.key"

# phase NAME PORT N TLS_SOURCE_ARGS...: one tls_source.py run; records its
# line, the machine's busy share, and (postino) the stored-count delta.
phase() {
  local name=$1 port=$2 n=$3; shift 3
  local before=0 c0 c1 line
  case "$name" in postino*) before=$(stored) ;; esac
  c0=$(cpu_sample)
  line=$(timeout 900 python3 "$here/tls_source.py" -c "$CONNS" -n "$n" --procs "$PROCS" "$@" \
           127.0.0.1:"$port" 2> "$VAR/source-$name.err") || true
  c1=$(cpu_sample)
  result "$name" "\"$line machine_busy=$(busy "$c0" "$c1")\""
  case "$name" in
    postino*) result "${name}_stored" "$(( $(stored) - before ))" ;;
  esac
}

for p in "plain_1:--plain -m 1" "starttls_1:-m 1" "starttls_$PER_CONN:-m $PER_CONN"; do
  label=${p%%:*}; args=${p#*:}
  log "phase $label"
  # shellcheck disable=SC2086
  phase "postino_$label" "$srv_port" "$N" $args
  # shellcheck disable=SC2086
  phase "postfix_$label" "$pf_port" "$N" $args
done
postfix -c "$pf/conf" stop >/dev/null 2>&1 || true
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""

log "postino with AUTH required (user bench, STARTTLS + AUTH PLAIN)"
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
printf '%s\n' "$password" | "$postino_bin" --config "$VAR/postino.toml" user add bench \
  --domain example.com --password-stdin > "$VAR/user.log" 2>&1
"$SERVER" "$db_url" "$srv_port" "$STORE_THREADS" "$VAR/tls.crt" "$VAR/tls.key" auth \
  >> "$VAR/server.log" 2>&1 &
srv_pid=$!
wait_port "$srv_port"
phase "postino_starttls_auth_1" "$srv_port" "$N_AUTH" -m 1 --user bench --password "$password"
phase "postino_starttls_auth_$PER_CONN" "$srv_port" "$N" -m "$PER_CONN" --user bench \
  --password "$password"
kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; srv_pid=""

for label in plain_1 starttls_1 "starttls_$PER_CONN"; do
  result "ratio_${label}_postino_over_postfix" "$(awk -v a="postino_$label" -v b="postfix_$label" '
    $2==a { for (i=3;i<=NF;i++) if ($i ~ /^msgs_per_s=/) { split($i,x,"="); pa=x[2] } }
    $2==b { for (i=3;i<=NF;i++) if ($i ~ /^msgs_per_s=/) { split($i,x,"="); pb=x[2] } }
    END { if (pb > 0) printf "%.2f", pa/pb; else print "n/a" }' "$results")"
done
result load_end "\"$(uptime | sed 's/.*load average: //')\""
