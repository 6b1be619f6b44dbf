# serve_lib.bash - shared by the integration tests of `kintsugi serve`
# (sourced after lib.bash, not run): servers on free ports stopped by PID,
# requests with a token, the comparison of a route with the CLI and of a
# server's database with an ingest's, and nats-server for `serve --bus`.
# start NAME DB ARGS...     a server; sets URL and PID (killed on exit), its
#                           stderr in $T/NAME.err
# stop PID [SIGNAL]         stops it (TERM) and waits; its exit status in STOP_RC
# req METHOD PATH TOKEN [BODY [TYPE]]      sets CODE and BODY
# status_is WANT METHOD PATH TOKEN [BODY [TYPE]]
# get PATH                  the body, with the viewer token $VIEW
# same PATH CLI-ARGS...     the route's body is `kintsugi CLI-ARGS --db $DB`, byte for byte
# until_ok SECONDS CMD...   CMD every 0.1 s until it succeeds
# same_db REF DB FILE       DB's incidents (each one too) and guard are those of
#                           REF, an ingest of FILE, the source named "http"
# incidents_view DB N       incidents, the first N one by one, the guard
# free_port                 a TCP port nothing listens on
# need_nats                 exits (FAIL, RESULT) when nats-server is not installed
# nats_start                nats-server with JetStream on a free port, its store
#                           in $T/js; sets BUS and NATS_PID (killed on exit);
#                           again after nats_kill: the same port and store
# nats_kill                 kill -9 of it
PIDS=()
cleanup() { # the servers, then a PostgreSQL server of the test's own (pg_lib.bash)
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -z "${OWN_PG:-}" ] || bash scripts/pg-test.sh stop "$OWN_PG"
    rm -rf "$T"
}
trap cleanup EXIT

start() { # NAME DB ARGS...: a server on a free port; sets URL and PID
    local name=$1 db=$2
    shift 2
    "$K" serve --listen 127.0.0.1:0 --db "$db" "$@" 2>"$T/$name.err" &
    PID=$!
    PIDS+=("$PID")
    URL=""
    for _ in $(seq 1 600); do
        URL=$(sed -n 's/^listening on //p' "$T/$name.err" | head -1)
        [ -n "$URL" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "server $name did not start:"
    cat "$T/$name.err"
    return 1
}
stop() {
    kill "-${2:-TERM}" "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    STOP_RC=$?
}
req() { # METHOD PATH TOKEN [BODY [TYPE]]: sets CODE and BODY
    local args=(-s -o "$T/body" -w '%{http_code}' -X "$1" "$URL$2")
    [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && args+=(-H "Content-Type: ${5:-application/json}" --data-binary "$4")
    CODE=$(curl "${args[@]}")
    BODY=$(cat "$T/body")
}
status_is() { # WANT METHOD PATH TOKEN [BODY [TYPE]]
    local want=$1
    shift
    req "$@"
    [ "$CODE" = "$want" ] || { echo "want $want, got $CODE: $BODY"; return 1; }
}
get() { curl -s -H "Authorization: Bearer $VIEW" "$URL$1"; }
same() { # PATH CLI-ARGS...: the route's body is the CLI's stdout, byte for byte
    local path=$1 a b
    shift
    a=$(get "$path")
    b=$("$K" "$@" --db "$DB")
    [ "$a" = "$b" ] || { echo "route: ${a:0:300}"; echo "cli:   ${b:0:300}"; return 1; }
}
# until SECONDS CMD...: runs CMD every 0.1 s until it succeeds, at most SECONDS
until_ok() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    "$@"
}


# An incident as compared: without the hook attempts (they carry the wall clock).
undelivered() {
    jq -c '.timeline |= map(select(.text | test("^Hook [a-z_]+ (is not configured|attempt|gave up)") | not))'
}
incidents_view() { # DB N
    local db=$1 n=$2 i
    "$K" incidents --db "$db" --json
    for i in $(seq 1 "$n"); do "$K" incident show "$i" --db "$db" --json | undelivered; done
    "$K" guard status --db "$db" --json
}
# same_db REF DB FILE: the input is named after its door (a file, "http")
same_db() {
    local ref=$1 db=$2 file="file:$3" n
    # hook calls the server had not taken when it stopped are taken here, as
    # ingest takes them after its input: an unconfigured one leaves its step
    # to a person either way (what a call did is left out: undelivered)
    "$K" hooks deliver --wait 0 --db "$db" >/dev/null 2>&1
    n=$("$K" incidents --db "$ref" --json | jq length)
    incidents_view "$ref" "$n" | sed "s#$file#http#g" >"$T/a"
    incidents_view "$db" "$n" >"$T/b"
    diff "$T/a" "$T/b" >/dev/null || { diff "$T/a" "$T/b" | head -5; return 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
need_nats() {
    command -v nats-server >/dev/null && return 0
    echo "nats-server is missing (scripts/deps.sh)"
    echo "RESULT passed=0 failed=1"
    exit 1
}
NPORT=""
NATS_PID=""
nats_start() {
    [ -n "$NPORT" ] || NPORT=$(free_port)
    BUS=nats://127.0.0.1:$NPORT
    nats-server -js -sd "$T/js" -a 127.0.0.1 -p "$NPORT" >>"$T/nats.log" 2>&1 &
    NATS_PID=$!
    PIDS+=("$NATS_PID")
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$NPORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nats-server did not start"; tail -5 "$T/nats.log"; return 1
}
nats_kill() { kill -9 "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; }
