# serve_lib.bash - shared by the integration tests of `kintsugi serve`
# (sourced after lib.bash, not run): servers on free ports stopped by PID,
# requests with a token, and the comparison of a route with the CLI.
# start NAME DB ARGS...     a server; sets URL and PID (killed on exit)
# stop PID [SIGNAL]         stops it (TERM) and waits
# req METHOD PATH TOKEN [BODY [TYPE]]      sets CODE and BODY
# status_is WANT METHOD PATH TOKEN [BODY [TYPE]]
# get PATH                  the body, with the viewer token $VIEW
# same PATH CLI-ARGS...     the route's body is `kintsugi CLI-ARGS --db $DB`, byte for byte
# until_ok SECONDS CMD...   CMD every 0.1 s until it succeeds
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
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
stop() { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
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

