#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks, from Debian's
# packages (initdb and pg_ctl under /usr/lib/postgresql/VERSION/bin):
#
#   scripts/pg-test.sh start DIR   initdb in DIR/data, start on a free port with
#                                  its unix socket in DIR/sock, create database
#                                  kintsugi; prints the URI (postgresql://...)
#   scripts/pg-test.sh stop DIR    stop the server by its PID (postmaster.pid),
#                                  then remove DIR
#   scripts/pg-test.sh crash DIR   stop it at once as a crash would (pg_ctl stop
#                                  -m immediate: sessions cut, no checkpoint;
#                                  the next start replays the server's WAL)
#   scripts/pg-test.sh up DIR      start it again on the same data and port
#
# PostgreSQL refuses to run as root: as root the server runs as the user
# "nobody" (runuser), DIR is made traversable for it and the data directory
# is its own. Authentication is "trust" on the socket and 127.0.0.1 only.
# PG_FSYNC=off (the tests' default) skips fsync: a test server's data need not
# survive a power cut; bench/ sets PG_FSYNC=on to measure what users get.
# synchronous_commit follows it unless PG_SYNC_COMMIT says otherwise: a test
# that crashes the server (crash, below) needs it on, since a commit is
# otherwise answered before its WAL leaves the server's memory, and a crash
# of the server (not of the machine) then loses it.
set -euo pipefail

die() { echo "pg-test: $*" >&2; exit 1; }

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] ||
    die "no PostgreSQL server found under /usr/lib/postgresql (bash scripts/deps.sh installs Debian's postgresql)"

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop|crash|up DIR"

as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

# Starts the server of DIR on its port (DIR/port) with its settings.
serve() {
    local dir=$1 port fsync sync
    port=$(cat "$dir/port")
    fsync=$(cat "$dir/fsync")
    sync=$(cat "$dir/sync_commit")
    # The server's log goes to DIR/sock (writable by the server's user).
    as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/sock/server.log" -w -t 60 \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=$fsync \
            -c synchronous_commit=$sync -c full_page_writes=$fsync -c max_connections=100 \
            -c shared_buffers=128MB" start >>"$dir/pg_ctl.log" 2>&1 ||
        { cat "$dir/pg_ctl.log" "$dir/sock/server.log" >&2 2>/dev/null; die "the server did not start"; }
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/data" "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$dir"
        chown nobody "$dir/data" "$dir/sock"
    fi
    chmod 700 "$dir/data"
    as_server "$bindir/initdb" -D "$dir/data" -U kintsugi --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    port=$(free_port)
    echo "${PG_FSYNC:-off}" >"$dir/fsync"
    echo "${PG_SYNC_COMMIT:-${PG_FSYNC:-off}}" >"$dir/sync_commit"
    echo "$port" >"$dir/port"
    serve "$dir"
    "$bindir/createdb" -h "$dir/sock" -p "$port" -U kintsugi kintsugi ||
        die "createdb kintsugi failed"
    echo "postgresql://kintsugi@/kintsugi?host=$dir/sock&port=$port"
    ;;
crash)
    as_server "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >>"$dir/pg_ctl.log" 2>&1 ||
        die "pg_ctl stop -m immediate failed"
    ;;
up)
    serve "$(cd "$dir" && pwd)"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    pidfile="$dir/data/postmaster.pid"
    if [ -f "$pidfile" ]; then
        pid=$(head -1 "$pidfile")
        # SIGINT: fast shutdown (open sessions are ended), then wait for it.
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    die "usage: $0 start|stop|crash|up DIR"
    ;;
esac
