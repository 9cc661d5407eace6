#!/usr/bin/env bash
# pg-throwaway.sh: start or stop a throwaway PostgreSQL 15 cluster for the
# demo and the tests. Root cannot run postgres, so the cluster runs as the
# `postgres` user (created by the Debian package) when invoked as root.
#
#   pg-throwaway.sh start DIR PORT   # initdb if needed, start, create db "postino"
#   pg-throwaway.sh stop DIR
# Prints the connection URL on start. Listens on 127.0.0.1 only.
set -euo pipefail

cmd=${1:?usage: pg-throwaway.sh start DIR PORT | stop DIR}
dir=${2:?data directory required}
bindir=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$bindir" ] || { echo "pg-throwaway: PostgreSQL 15 not installed (run deploy/install-deps.sh)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?port required}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_pg "$bindir/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
        || { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    if as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bindir/pg_ctl" -D "$dir" stop -m fast >/dev/null
    fi
    as_pg "$bindir/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB" \
      start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    if ! as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='postino'" postgres | grep -q 1; then
      as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres postino
    fi
    echo "postgresql://postgres@127.0.0.1:$port/postino"
    ;;
  stop)
    if [ -f "$dir/PG_VERSION" ] && as_pg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bindir/pg_ctl" -D "$dir" -w -m fast stop >/dev/null
    fi
    ;;
  *) echo "pg-throwaway: unknown command $cmd" >&2; exit 2 ;;
esac
