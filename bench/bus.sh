#!/usr/bin/env bash
# bench/bus.sh - events through NATS JetStream (`make bench-bus`):
#
#  1. `kintsugi publish` (BENCH_BUS_LINES events per message, default 100) of an inventory stream (4 channels x BENCH_BUS_SKUS
#     SKUs x BENCH_BUS_CYCLES cycles, bench/gen_inventory.c) onto a stream, as
#     a whole process under /usr/bin/time;
#  2. `kintsugi serve --bus` taking that stream into PostgreSQL with 1, 2 and
#     3 instances (the first active, the others standbys: docs/DEPLOY.md),
#     and with 1 instance into SQLite. The headline: the active process as
#     /usr/bin/time sees it, from its start to its exit after SIGTERM once
#     /healthz says the last sequence is committed (load, consume, commit,
#     save); beside it, the engine side: from the moment it listens to the
#     last commit, with its CPU time from /proc;
#  3. the baseline in the same run: `kintsugi ingest` of the same file into
#     the same backend (no bus), as a whole process;
#  4. takeover: the active instance of the 3 killed with -9, the time until a
#     standby answers /readyz 200 with that state loaded.
#
# PostgreSQL (fsync on) and nats-server (file storage) are started here in a
# temporary directory and stopped by PID. Results: bench/out/bus-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SKUS=${BENCH_BUS_SKUS:-25000}
CYCLES=${BENCH_BUS_CYCLES:-10}
BATCH=${BENCH_BUS_BATCH:-512}
LINES=${BENCH_BUS_LINES:-100} # publish --lines-per-message
OUT=bench/out
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
TIME_FMT=$'seconds %e\nuser %U\nsys %S\npeak_rss_kib %M'
val() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

make --no-print-directory build/kintsugi build/bench/gen_inventory
command -v nats-server >/dev/null || { echo "nats-server is missing (bash scripts/deps.sh)"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/ks-bench-bus-XXXXXX")
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ks-bench-bus-pg-XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    bash scripts/pg-test.sh stop "$PG_DIR" || true
    rm -rf "$W"
}
trap cleanup EXIT
PG=$(PG_FSYNC=on bash scripts/pg-test.sh start "$PG_DIR")
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BUS=nats://127.0.0.1:$NPORT
nats-server -js -sd "$W/js" -a 127.0.0.1 -p "$NPORT" >"$W/nats.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$NPORT") 2>/dev/null && break; sleep 0.1; done
say "PostgreSQL $PG (fsync on), nats-server $BUS"
nschema=0
fresh_pg() {
    nschema=$((nschema + 1))
    psql "$PG" -qAtX -c "CREATE SCHEMA s$nschema" >/dev/null
    DB="$PG&options=-csearch_path%3Ds$nschema"
}

FILE=$OUT/inventory-4x${SKUS}x${CYCLES}-seed1-per1.ndjson
[ -f "$FILE" ] || build/bench/gen_inventory --channels 4 --skus "$SKUS" --cycles "$CYCLES" --seed 1 \
    --lines-per-ms 1 -o "$FILE"
N=$(wc -l <"$FILE")
BYTES=$(stat -c %s "$FILE")

# ---- 1. publish ---------------------------------------------------------------------
say "kintsugi publish --bus $BUS --lines-per-message $LINES --json $FILE ($N events)"
/usr/bin/time -f "$TIME_FMT" -o "$OUT/bus-publish.txt" build/kintsugi publish --bus "$BUS" --lines-per-message "$LINES" --json "$FILE" >"$W/pub.json"
cat "$OUT/bus-publish.txt" "$W/pub.json"
MSGS=$(jq .messages "$W/pub.json") # the last stream sequence
PUB_S=$(val "$OUT/bus-publish.txt" seconds)

# ---- 2. serve --bus with 1, 2, 3 instances --------------------------------------------
committed() { curl -s "$1/healthz" | jq -r '.bus.committed_seq // 0' 2>/dev/null || echo 0; }
cpu_s() { # PID: user + sys seconds so far
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
url_of() { sed -n 's/^listening on //p' "$1" | head -1; }
# run NAME INSTANCES DB: events/s of the active one; leaves the instances running
run() {
    local name=$1 n=$2 db=$3 i u="" t0 t1 active=""
    for i in $(seq 1 "$n"); do
        local wrap=()
        # the active one as a whole process, as /usr/bin/time sees it
        [ "$i" -eq 1 ] && wrap=(/usr/bin/time -f "$TIME_FMT" -o "$W/$name.time")
        "${wrap[@]}" build/kintsugi serve --listen 127.0.0.1:0 --db "$db" --clock event --update-idle 1h \
            --bus "$BUS" --bus-consumer "$name" --bus-batch "$BATCH" 2>"$W/$name-$i.err" &
        PIDS+=("$!")
        eval "T_$i=$!"
        local p=$!
        if [ "$i" -eq 1 ]; then # the server is /usr/bin/time's child
            until p=$(pgrep -P "$T_1"); do sleep 0.01; done
            PIDS+=("$p")
        fi
        eval "P_$i=$p"
        if [ "$i" -eq 1 ]; then
            for _ in $(seq 1 600); do u=$(url_of "$W/$name-1.err"); [ -n "$u" ] && break; sleep 0.01; done
            t0=$(now_ms)
            active=$P_1
        fi
    done
    until [ "$(committed "$u")" -ge "$MSGS" ]; do sleep 0.05; done
    t1=$(now_ms)
    local secs cpu
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    cpu=$(cpu_s "$active")
    printf '%s (engine side): %d instances, listening to committed %s s, %.0f events/s, active CPU %s s\n' \
        "$name" "$n" "$secs" "$(awk -v n="$N" -v s="$secs" 'BEGIN { print n / s }')" "$cpu" | tee -a "$W/rates"
    ACTIVE_URL=$u
}
stop_all() { # NAME INSTANCES: SIGTERM, standbys first
    local i p
    for i in $(seq "$2" -1 1); do
        eval "p=\$P_$i t=\$T_$i"
        [ -n "$p" ] || continue
        kill -TERM "$p" 2>/dev/null || true
        wait "$t" 2>/dev/null || true
    done
}
# whole NAME: the active process from its start to its exit after SIGTERM
# (load, consume, commit, the save at stop), as /usr/bin/time saw it
whole() {
    local s cpu
    s=$(val "$W/$1.time" seconds)
    cpu=$(awk -v u="$(val "$W/$1.time" user)" -v y="$(val "$W/$1.time" sys)" 'BEGIN { print u + y }')
    printf '%s: whole process %s s, %.0f events/s, CPU %s s, peak RSS %s KiB\n' "$1" "$s" \
        "$(awk -v n="$N" -v s="$s" 'BEGIN { print n / s }')" "$cpu" "$(val "$W/$1.time" peak_rss_kib)" |
        tee -a "$W/rates"
}

: >"$W/rates"
for n in 1 2 3; do
    fresh_pg
    say "serve --bus on PostgreSQL, $n instance(s)"
    run "pg$n" "$n" "$DB"
    if [ "$n" -eq 3 ]; then
        # ---- 4. takeover: kill -9 the active one, a standby ready with the state
        t0=$(now_ms)
        kill -9 "$P_1"; wait "$T_1" 2>/dev/null || true
        u=""
        until [ -n "$u" ]; do
            u=$(url_of "$W/pg3-2.err")
            [ -n "$u" ] || u=$(url_of "$W/pg3-3.err")
            [ -n "$u" ] || sleep 0.01
        done
        until curl -sf "$u/readyz" >/dev/null; do sleep 0.01; done
        TAKEOVER_MS=$(($(now_ms) - t0))
        echo "takeover: kill -9 of the active one to a standby's /readyz 200: $TAKEOVER_MS ms" | tee -a "$W/rates"
        P_1="" # already gone
    fi
    stop_all "pg$n" "$n"
    # (the active one of the three was killed for the takeover: no whole figure)
    [ "$n" -eq 3 ] || whole "pg$n"
done
say "serve --bus on SQLite, 1 instance"
rm -f "$W/bus.db"*
run sq1 1 "$W/bus.db"
stop_all sq1 1
whole sq1

# ---- 3. the baseline: ingest of the same file ----------------------------------------
fresh_pg
say "baseline: kintsugi ingest --quiet --db PG $FILE"
/usr/bin/time -f "$TIME_FMT" -o "$OUT/bus-ingest-pg.txt" build/kintsugi ingest --quiet --db "$DB" "$FILE"
cat "$OUT/bus-ingest-pg.txt"
say "baseline: kintsugi ingest --quiet --db SQLITE $FILE"
rm -f "$W/ing.db"*
/usr/bin/time -f "$TIME_FMT" -o "$OUT/bus-ingest-sq.txt" build/kintsugi ingest --quiet --db "$W/ing.db" "$FILE"
cat "$OUT/bus-ingest-sq.txt"

rate_of() { awk -v k="$1:" '$1 == k && $2 == "whole" { print $6 }' "$W/rates"; }
{
    echo "kintsugi through NATS JetStream, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "stream: $FILE ($N events, $BYTES bytes) in $MSGS messages (--lines-per-message $LINES), --bus-batch $BATCH"
    echo "nats-server $(nats-server --version 2>&1 | head -1), PostgreSQL $(psql "$PG" -qAtX -c 'SHOW server_version') (fsync on)"
    echo "command: make bench-bus"
    printf 'publish: %s s, %.0f events/s\n' "$PUB_S" "$(awk -v n="$N" -v s="$PUB_S" 'BEGIN { print n / s }')"
    cat "$W/rates"
    for f in pg sq; do
        s=$(val "$OUT/bus-ingest-$f.txt" seconds)
        printf 'baseline ingest (%s): %s s, %.0f events/s\n' "$f" "$s" "$(awk -v n="$N" -v s="$s" 'BEGIN { print n / s }')"
    done
    printf 'ratio serve --bus (1 instance, PostgreSQL, whole process) / ingest (PostgreSQL), events/s: %.3f\n' \
        "$(awk -v a="$(rate_of pg1)" -v s="$(val "$OUT/bus-ingest-pg.txt" seconds)" -v n="$N" 'BEGIN { print a / (n / s) }')"
} | tee "$OUT/bus-summary.txt"
