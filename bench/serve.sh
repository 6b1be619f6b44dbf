#!/usr/bin/env bash
# bench/serve.sh - kintsugi serve as clients see it (`make bench-serve`):
#
#  1. POST /v1/events throughput with durable acknowledgement: an inventory
#     stream posted in batches of 1,000 and 10,000 lines from 1 and 4
#     clients (bench/post_events.c, libcurl), each run against a new
#     database, alternating with `kintsugi ingest` of the same file (whole
#     process, /usr/bin/time) for the ratio;
#  2. the latency of single events, request to 202 (the event, the incident
#     it opens or changes and its containment are committed by then): the
#     lines (the first SERVE_SINGLE, or all) of a simulated shop with every fault, one per
#     request;
#     then the same with SERVE_OPEN open incidents (PagerDuty triggers, each
#     its own dedup_key) and messages off, then on (`notify:` to a directory
#     receiver): the first 3,000 lines, one per request (a trigger pass runs
#     with each and leaves out the open incidents with nothing due);
#  3. how late timers fire on the wall clock: SERVE_TIMERS channels whose last
#     ok sync makes them stale 2 to 8 s from now; each incident's first sight
#     (polling every 20 ms) minus its deadline;
#  4. restart to ready with 10 M tracked pairs: a database made by ingesting
#     4 x 2.5 M SKUs, then `kintsugi serve` on it until /readyz answers 200;
#  5. Alertmanager's own POST /api/v2/alerts on the same machine (Debian's
#     prometheus-alertmanager), batches of 100 alerts from 4 clients, for
#     alerts/s beside kintsugi's events/s.
# Prints a summary (also bench/out/serve-summary.txt) and the commands.
#
# Environment: SERVE_SKUS (50000: x 4 channels x 5 cycles = 1 M lines),
# SERVE_REPEAT (3 rounds; the best counts), SERVE_SINGLE (0: every line of the
# simulated day, 65 k requests, so that the faults open incidents),
# SERVE_TIMERS (12), SERVE_PAIRS (1: the 10 M-pair restart; 0 skips it),
# SERVE_OPEN (500 open incidents for the second latency run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=bench/out
mkdir -p "$OUT"
SKUS=${SERVE_SKUS:-50000}
REPEAT=${SERVE_REPEAT:-3}
SINGLE=${SERVE_SINGLE:-0}
NTIMERS=${SERVE_TIMERS:-12}
PAIRS=${SERVE_PAIRS:-1}
NOPEN=${SERVE_OPEN:-500}
K=build/kintsugi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
say() { printf '\n== %s\n' "$*"; }
val() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT

say "build"
make --no-print-directory build/kintsugi build/bench/post_events build/bench/gen_inventory
command -v /usr/bin/time >/dev/null || $SUDO apt-get install -y -qq time

# serve NAME DB ARGS...: a server on a free port; URL and PID set
serve() {
    local name=$1 db=$2
    shift 2
    $K serve --listen 127.0.0.1:0 --db "$db" "$@" 2>"$OUT/$name.err" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 1 2000); do
        URL=$(sed -n 's/^listening on //p' "$OUT/$name.err" | head -1)
        [ -n "$URL" ] && return 0
        sleep 0.005
    done
    echo "server did not start"; cat "$OUT/$name.err"; exit 1
}
stop() { kill -TERM "$1"; wait "$1" || true; }
fresh() { rm -f "$1" "$1-wal" "$1-shm"; }
token() { $K token create --name "$2" --role admin --db "$1" 2>/dev/null; }

# ---- data ------------------------------------------------------------------------
FILE=$OUT/serve-inventory-4x${SKUS}x5.ndjson
GEN="build/bench/gen_inventory --channels 4 --skus $SKUS --cycles 5 -o $FILE"
[ -f "$FILE" ] || { say "data: $GEN"; $GEN; }
LINES=$(wc -l <"$FILE")

# ---- 1. throughput -------------------------------------------------------------------
DB=$OUT/serve-bench.db
INGEST="$K ingest --quiet --db $OUT/serve-ingest.db $FILE"
best_ingest=""
declare -A best
for round in $(seq 1 "$REPEAT"); do
    for batch in 1000 10000; do
        for clients in 1 4; do
            fresh "$DB"
            T=$(token "$DB" bench)
            serve "tp" "$DB" --clock event
            CMD="build/bench/post_events --url $URL --token TOKEN --batch $batch --clients $clients $FILE"
            say "round $round: $CMD"
            build/bench/post_events --url "$URL" --token "$T" --batch "$batch" --clients "$clients" "$FILE" \
                | tee "$OUT/post-$batch-$clients.txt"
            stop "$PID"
            e=$(val "$OUT/post-$batch-$clients.txt" events_s)
            k="$batch-$clients"
            if [ -z "${best[$k]:-}" ] || [ "${e%.*}" -gt "${best[$k]%.*}" ]; then best[$k]=$e; fi
        done
    done
    fresh "$OUT/serve-ingest.db"
    say "round $round: $INGEST"
    /usr/bin/time -f "seconds %e" -o "$OUT/serve-ingest.time" $INGEST
    s=$(val "$OUT/serve-ingest.time" seconds)
    cat "$OUT/serve-ingest.time"
    if [ -z "$best_ingest" ] || awk -v a="$s" -v b="$best_ingest" 'BEGIN { exit !(a < b) }'; then best_ingest=$s; fi
done
ingest_eps=$(awk -v l="$LINES" -v s="$best_ingest" 'BEGIN { printf "%.0f", l / s }')

# ---- 2. single-event latency -------------------------------------------------------------
SIM=$OUT/serve-sim.ndjson
[ -f "$SIM" ] || $K simulate --seed 5 --duration 20h --skus 200 --fault all --out "$SIM" 2>/dev/null
fresh "$DB"
T=$(token "$DB" bench)
serve "lat" "$DB" --clock event
LAT_CMD="build/bench/post_events --url $URL --token TOKEN --single --limit $SINGLE $SIM"
say "$LAT_CMD"
build/bench/post_events --url "$URL" --token "$T" --single --limit "$SINGLE" "$SIM" | tee "$OUT/post-single.txt"
incidents=$(curl -s -H "Authorization: Bearer $T" "$URL/v1/incidents" | jq length)
stop "$PID"

# the same with NOPEN open incidents, messages off and on
cat >"$OUT/notify.yaml" <<EOF
receivers:
  files: {dir: "$ROOT/$OUT/notify-outbox"}
notify: {team: [files], leadership: [files]}
EOF
: >"$OUT/no-notify.yaml"
OPEN_CMD="build/bench/post_events --url URL --token TOKEN --single --limit 3000 $SIM"
for cfg in no-notify notify; do
    fresh "$DB"
    rm -rf "$OUT/notify-outbox"
    T=$(token "$DB" bench)
    serve "open-$cfg" "$DB" --clock event --config "$OUT/$cfg.yaml"
    head -1 "$SIM" | curl -s -o /dev/null -H "Authorization: Bearer $T" -H 'Content-Type: application/x-ndjson' \
        --data-binary @- "$URL/v1/events"
    for i in $(seq 1 "$NOPEN"); do
        printf '{"routing_key":"%s","event_action":"trigger","dedup_key":"open-%d","payload":{"summary":"disk %d full","source":"host%d","severity":"critical"}}\n' \
            "$T" "$i" "$i" "$i"
    done | xargs -d '\n' -P 4 -I{} curl -s -o /dev/null -H 'Content-Type: application/json' -d {} "$URL/v2/enqueue"
    open_n=$(curl -s -H "Authorization: Bearer $T" "$URL/v1/incidents" | jq '[.[] | select(.status != "resolved")] | length')
    say "$cfg, $open_n open incidents: $OPEN_CMD"
    build/bench/post_events --url "$URL" --token "$T" --single --limit 3000 "$SIM" | tee "$OUT/post-open-$cfg.txt"
    stop "$PID"
done

# ---- 3. timers on the wall clock -----------------------------------------------------------
fresh "$DB"
T=$(token "$DB" bench)
serve "timers" "$DB"
say "timers: $NTIMERS channels going stale 2-8 s from now (30 min without an ok sync)"
now=$(date +%s%3N)
: >"$OUT/timers.txt"
for i in $(seq 1 "$NTIMERS"); do
    dl=$((now + 2000 + (i * 6000 / NTIMERS)))
    last=$((dl - 30 * 60 * 1000))
    ts=$(date -u -d "@$((last / 1000)).$(printf %03d $((last % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
    printf '{"type":"sync","ts":"%s","channel":"ch%02d","status":"ok"}\n' "$ts" "$i"
    echo "ch$(printf %02d "$i") $dl" >>"$OUT/timers.txt"
done >"$OUT/timers.ndjson"
curl -s -o /dev/null -H "Authorization: Bearer $T" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$OUT/timers.ndjson" "$URL/v1/events"
declare -A seen=()
for _ in $(seq 1 1000); do
    t=$(date +%s%3N)
    for ch in $(curl -s -H "Authorization: Bearer $T" "$URL/v1/incidents" | jq -r '.[].scope.channels[]'); do
        [ -z "${seen[$ch]:-}" ] && seen[$ch]=$t
    done
    [ "${#seen[@]}" -ge "$NTIMERS" ] && break
    sleep 0.02
done
stop "$PID"
while read -r ch dl; do
    echo "${ch} $(( ${seen[$ch]:-0} - dl ))"
done <"$OUT/timers.txt" >"$OUT/timers-late.txt"
late_max=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$OUT/timers-late.txt")
late_med=$(sort -k2 -n "$OUT/timers-late.txt" | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] + 0 }')
late_n=$(awk '$2 > -1000000' "$OUT/timers-late.txt" | wc -l)

# ---- 4. restart to ready with 10 M pairs ---------------------------------------------------
ready_s="skipped"
if [ "$PAIRS" = 1 ]; then
    PFILE=$OUT/pairs-4x2500000x1.ndjson
    [ -f "$PFILE" ] || build/bench/gen_inventory --channels 4 --skus 2500000 --cycles 1 --lines-per-ms 4 -o "$PFILE"
    PDB=$OUT/serve-pairs.db
    if [ ! -f "$PDB" ]; then
        say "10 M pairs: $K ingest --quiet --db $PDB $PFILE"
        $K ingest --quiet --db "$PDB" "$PFILE"
    fi
    best_ready=""
    for round in $(seq 1 "$REPEAT"); do
        t0=$(date +%s%N)
        $K serve --listen 127.0.0.1:0 --db "$PDB" 2>"$OUT/pairs.err" &
        PID=$!
        PIDS+=("$PID")
        until grep -q '^listening on' "$OUT/pairs.err" 2>/dev/null; do
            kill -0 "$PID" 2>/dev/null || { echo "kintsugi serve stopped:"; cat "$OUT/pairs.err"; exit 1; }
            sleep 0.005
        done
        URL=$(sed -n 's/^listening on //p' "$OUT/pairs.err")
        until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ]; do sleep 0.005; done
        t1=$(date +%s%N)
        r=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        echo "restart to ready: $r s"
        stop "$PID"
        if [ -z "$best_ready" ] || awk -v a="$r" -v b="$best_ready" 'BEGIN { exit !(a < b) }'; then best_ready=$r; fi
    done
    ready_s=$best_ready
fi

# ---- 5. Alertmanager's own API ---------------------------------------------------------------
am_aps="not measured (prometheus-alertmanager missing)"
AM=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$AM" ]; then
    $SUDO apt-get install -y -qq prometheus-alertmanager >/dev/null 2>&1 || true
    AM=$(command -v prometheus-alertmanager || command -v alertmanager || true)
fi
if [ -n "$AM" ]; then
    AMD=$(mktemp -d)
    cat >"$AMD/am.yml" <<'YML'
route:
  receiver: none
  group_by: [alertname]
receivers:
  - name: none
YML
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 19093)
    "$AM" --config.file="$AMD/am.yml" --storage.path="$AMD" --web.listen-address="127.0.0.1:$port" \
        --cluster.listen-address= >"$AMD/log" 2>&1 &
    AMPID=$!
    PIDS+=("$AMPID")
    until curl -s -o /dev/null "http://127.0.0.1:$port/-/ready"; do sleep 0.05; done
    # 100 alerts a request, each with its own labels, as Prometheus sends them
    awk 'BEGIN { printf "["; for (i = 0; i < 100; i++) printf "%s{\"labels\":{\"alertname\":\"Stock%d\",\"channel\":\"amazon\",\"severity\":\"warning\"},\"annotations\":{\"summary\":\"sync stale\"}}", (i ? "," : ""), i; print "]" }' >"$AMD/alerts.json"
    AM_CMD="build/bench/post_events --url http://127.0.0.1:$port --path /api/v2/alerts --type application/json --raw --repeat 2000 --clients 4 alerts.json"
    say "$AM_CMD"
    build/bench/post_events --url "http://127.0.0.1:$port" --path /api/v2/alerts --type application/json \
        --raw --repeat 2000 --clients 4 "$AMD/alerts.json" | tee "$OUT/alertmanager.txt" || true
    am_aps=$(awk '$1 == "requests_s" { printf "%.0f", $2 * 100 }' "$OUT/alertmanager.txt")
    kill "$AMPID"
    wait "$AMPID" 2>/dev/null || true
    rm -rf "$AMD"
fi

# ---- summary -----------------------------------------------------------------------------------
{
    printf '\n== summary (%s, %d cores; best of %d rounds)\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$REPEAT"
    printf 'file: %s lines\n' "$LINES"
    printf '%-44s %14s   %s\n' "figure" "measured" "target"
    for k in 1000-1 1000-4 10000-1 10000-4; do
        b=${k%-*} c=${k#*-}
        printf '%-44s %14s   %s\n' "POST /v1/events, batches of $b, $c client(s), ev/s" "${best[$k]}" ">= 500000"
        printf '%-44s %14s\n' "  / kintsugi ingest of the same file" "$(awk -v a="${best[$k]}" -v b="$ingest_eps" 'BEGIN { printf "%.2f", a / b }')"
    done
    printf '%-44s %14s\n' "kintsugi ingest, same file, ev/s (whole process)" "$ingest_eps"
    printf '%-44s %14s   %s\n' "single event, p50 ms (request to 202)" "$(val "$OUT/post-single.txt" latency_p50_ms)" ""
    printf '%-44s %14s   %s\n' "single event, p99 ms" "$(val "$OUT/post-single.txt" latency_p99_ms)" "<= 5"
    printf '%-44s %14s\n' "single event, max ms" "$(val "$OUT/post-single.txt" latency_max_ms)"
    printf '%-44s %14s\n' "  incidents opened by those events" "$incidents"
    for cfg in no-notify notify; do
        m=$([ "$cfg" = notify ] && echo on || echo off)
        printf '%-44s %14s   %s\n' "$open_n open, messages $m: single p50 / p99 ms" \
            "$(val "$OUT/post-open-$cfg.txt" latency_p50_ms) / $(val "$OUT/post-open-$cfg.txt" latency_p99_ms)" "p99 <= 5"
        printf '%-44s %14s\n' "  requests/s" "$(val "$OUT/post-open-$cfg.txt" requests_s)"
    done
    printf '%-44s %14s   %s\n' "timers: latest first sight after deadline, ms" "$late_max" "<= 1000"
    printf '%-44s %14s\n' "timers: median, ms (incl. 20 ms polling)" "$late_med"
    printf '%-44s %14s\n' "timers seen" "$late_n of $NTIMERS"
    printf '%-44s %14s   %s\n' "restart to ready with 10 M pairs, s" "$ready_s" "<= 2"
    printf '%-44s %14s\n' "Alertmanager POST /api/v2/alerts, alerts/s" "$am_aps"
    echo
    echo "commands:"
    echo "  $GEN"
    echo "  kintsugi token create --name bench --role admin --db DB; kintsugi serve --listen 127.0.0.1:0 --db DB --clock event"
    echo "  build/bench/post_events --url URL --token TOKEN --batch 1000|10000 --clients 1|4 $FILE"
    echo "  rm -f $OUT/serve-ingest.db*; /usr/bin/time $INGEST"
    echo "  $LAT_CMD"
    echo "  $NOPEN x POST /v2/enqueue (one dedup_key each), kintsugi serve --clock event --config $OUT/notify.yaml (or none); $OPEN_CMD"
    echo "  kintsugi serve (wall clock); $NTIMERS sync events stale 2-8 s later; poll GET /v1/incidents every 20 ms"
    echo "  kintsugi ingest --db $OUT/serve-pairs.db $OUT/pairs-4x2500000x1.ndjson; kintsugi serve --db $OUT/serve-pairs.db until /readyz is 200"
    echo "  prometheus-alertmanager; ${AM_CMD:-}"
} | tee "$OUT/serve-summary.txt"
