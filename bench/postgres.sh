#!/usr/bin/env bash
# bench/postgres.sh - the store backends side by side (`make bench-pg`):
#
#  1. the replay of bench/run.sh's inventory stream (4 channels x BENCH_SKUS
#     SKUs x BENCH_CYCLES cycles) by `kintsugi ingest` as a whole process
#     into a new SQLite file and into a new PostgreSQL schema, alternating,
#     BENCH_REPEAT rounds (the fastest of each counts, every round's ratio is
#     printed);
#  2. restart to ready with 10 M (channel, SKU) pairs: `kintsugi ingest` of
#     4 x 2.5 M SKUs into each backend, then, BENCH_REPEAT rounds alternating
#     the backends: the same command again on the same database (the saved
#     state loaded, nothing new to apply), and `kintsugi serve` on it from its
#     start to the first 200 of /readyz (what a standby taking over after a
#     crash does: docs/DEPLOY.md), its CPU time until then read from
#     /proc/PID/stat, then stopped with SIGTERM. With BENCH_OLD=BINARY (an
#     earlier build) every round runs that one too, just before, for an
#     old/new comparison on the same machine at the same moment.
#
# PostgreSQL is Debian's, started by scripts/pg-test.sh in a temporary
# directory with fsync on (PG_FSYNC=on: what a user gets), reached through its
# unix socket, stopped by its PID at the end. SQLite runs as kintsugi sets it
# up (WAL, synchronous=NORMAL). Figures are wall-clock seconds and peak RSS
# from /usr/bin/time; results in bench/out/pg-*.txt and bench/out/pg-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHANNELS=${BENCH_CHANNELS:-4}
SKUS=${BENCH_SKUS:-250000}
CYCLES=${BENCH_CYCLES:-10}
REPEAT=${BENCH_REPEAT:-3}
OUT=bench/out
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }
val() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
TIME_FMT=$'seconds %e\nuser %U\nsys %S\npeak_rss_kib %M'
timed() { # NAME CMD...
    local name=$1
    shift
    /usr/bin/time -f "$TIME_FMT" -o "$ROOT/$OUT/$name.txt" "$@" >/dev/null
    cat "$ROOT/$OUT/$name.txt"
}
best() { # NAME-PREFIX: the fastest round's file
    local f b="" bf=""
    for f in "$OUT/$1"-*.txt; do
        s=$(val "$f" seconds)
        if [ -z "$b" ] || awk -v a="$s" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$s; bf=$f; fi
    done
    echo "$bf"
}

make --no-print-directory build/kintsugi build/bench/gen_inventory
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ks-bench-pg-XXXXXX")
trap 'bash scripts/pg-test.sh stop "$PG_DIR"' EXIT
PG=$(PG_FSYNC=on bash scripts/pg-test.sh start "$PG_DIR")
say "PostgreSQL: $PG (fsync on)"
nschema=0
fresh_pg() { # sets DB to a URI on a new schema
    nschema=$((nschema + 1))
    psql "$PG" -qAtX -c "CREATE SCHEMA b$nschema" >/dev/null
    DB="$PG&options=-csearch_path%3Db$nschema"
}
fresh_sqlite() { DB=$OUT/pg-bench-$1.db; rm -f "$DB" "$DB-wal" "$DB-shm"; }

# ---- 1. the replay ------------------------------------------------------------------
# BENCH_ONLY=restart skips it.
ratios=""
if [ "${BENCH_ONLY:-}" != restart ]; then
    FILE=$OUT/inventory-${CHANNELS}x${SKUS}x${CYCLES}-seed1-per1.ndjson
    if [ ! -f "$FILE" ]; then
        build/bench/gen_inventory --channels "$CHANNELS" --skus "$SKUS" --cycles "$CYCLES" --seed 1 \
            --lines-per-ms 1 -o "$FILE"
    fi
    cat "$FILE" >/dev/null
    rm -f "$OUT"/pg-replay-*.txt "$OUT"/pg-sqlite-replay-*.txt
    for round in $(seq 1 "$REPEAT"); do
        fresh_sqlite replay
        say "round $round/$REPEAT, SQLite: kintsugi ingest --quiet --db $DB $FILE"
        timed "pg-sqlite-replay-$round" build/kintsugi ingest --quiet --db "$DB" "$FILE"
        fresh_pg
        say "round $round/$REPEAT, PostgreSQL: kintsugi ingest --quiet --db '$DB' $FILE"
        timed "pg-replay-$round" build/kintsugi ingest --quiet --db "$DB" "$FILE"
        psql "$PG" -qAtX -c "SET client_min_messages = warning" -c "DROP SCHEMA b$nschema CASCADE" >/dev/null
        r=$(awk -v a="$(val "$OUT/pg-replay-$round.txt" seconds)" \
            -v b="$(val "$OUT/pg-sqlite-replay-$round.txt" seconds)" 'BEGIN { printf "%.2f", a / b }')
        ratios="$ratios $r"
    done
    rm -f "$OUT/pg-bench-replay.db"*
fi

# ---- 2. 10 M pairs: restart to ready --------------------------------------------------
PAIRS_FILE=$OUT/pairs-4x2500000x1.ndjson
[ -f "$PAIRS_FILE" ] || build/bench/gen_inventory --channels 4 --skus 2500000 --cycles 1 \
    --lines-per-ms 4 -o "$PAIRS_FILE"
cat "$PAIRS_FILE" >/dev/null
rm -f "$OUT"/pg-pairs-*.txt "$OUT"/pg-sqlite-pairs-*.txt
fresh_sqlite pairs
SQ_PAIRS=$DB
say "10 M pairs into SQLite: kintsugi ingest --quiet --db $SQ_PAIRS $PAIRS_FILE"
timed pg-sqlite-pairs-ingest build/kintsugi ingest --quiet --db "$SQ_PAIRS" "$PAIRS_FILE"
fresh_pg
PG_PAIRS=$DB
say "10 M pairs into PostgreSQL: kintsugi ingest --quiet --db '$PG_PAIRS' $PAIRS_FILE"
timed pg-pairs-ingest build/kintsugi ingest --quiet --db "$PG_PAIRS" "$PAIRS_FILE"
# kintsugi serve from its start to the first 200 of /readyz: NAME BINARY DB.
# Writes NAME.txt (seconds, cpu: user + sys until ready, peak_rss_kib then).
serve_ready() {
    local name=$1 bin=$2 db=$3 err=$OUT/$1.err url="" t0 t1 pid st hz
    hz=$(getconf CLK_TCK)
    t0=$(date +%s.%N)
    "$bin" serve --listen 127.0.0.1:0 --db "$db" 2>"$err" &
    pid=$!
    local line
    for _ in $(seq 1 6000); do
        # read is a builtin: waiting for the line forks nothing that would
        # take the CPU from the server it waits for
        if [ -z "$url" ]; then
            while IFS= read -r line; do
                [ "${line#listening on }" != "$line" ] && url=${line#listening on }
            done <"$err"
        fi
        if [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; then
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    t1=$(date +%s.%N)
    st=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null || echo "0 0")
    local rss
    rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    [ -n "$url" ] || { echo "serve did not start: $(cat "$err")" >&2; return 1; }
    awk -v a="$t0" -v b="$t1" -v st="$st" -v hz="$hz" -v rss="$rss" 'BEGIN {
        split(st, c, " ");
        printf "seconds %.2f\ncpu %.2f\npeak_rss_kib %s\n", b - a, (c[1] + c[2]) / hz, rss }' \
        >"$OUT/$name.txt"
    cat "$OUT/$name.txt"
}
cpu_of() { awk '$1 == "user" { u = $2 } $1 == "sys" { s = $2 } $1 == "cpu" { c = $2 }
    END { printf "%.2f", c != "" ? c : u + s }' "$1"; }
BINS="build/kintsugi"
if [ -n "${BENCH_OLD:-}" ]; then BINS="$BENCH_OLD $BINS"; fi
tag() { [ "$1" = build/kintsugi ] && echo new || echo old; }
rm -f "$OUT"/pg-*-ready-*.txt "$OUT"/pg-*-reload-*.txt
for round in $(seq 1 "$REPEAT"); do
    for bin in $BINS; do
        t=$(tag "$bin")
        say "restart to ready, round $round/$REPEAT ($t: $bin): $bin ingest --quiet --db DB $PAIRS_FILE, then $bin serve --db DB until /readyz answers 200"
        timed "pg-sqlite-$t-reload-$round" "$bin" ingest --quiet --db "$SQ_PAIRS" "$PAIRS_FILE"
        timed "pg-pg-$t-reload-$round" "$bin" ingest --quiet --db "$PG_PAIRS" "$PAIRS_FILE"
        serve_ready "pg-sqlite-$t-ready-$round" "$bin" "$SQ_PAIRS"
        serve_ready "pg-pg-$t-ready-$round" "$bin" "$PG_PAIRS"
    done
done
SIZE=$(psql "$PG" -qAtX -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'b$nschema' AND c.relkind = 'r'")
SQ_SIZE=$(du -h "$SQ_PAIRS" | cut -f1)
rm -f "$SQ_PAIRS"*
# The two databases hold the same incidents.

L_SQ=$(best pg-sqlite-new-reload)
L_PG=$(best pg-pg-new-reload)
S_SQ=$(best pg-sqlite-new-ready)
S_PG=$(best pg-pg-new-ready)
rounds() { # PREFIX: every round's "wall s (cpu s)"
    local r out=""
    for r in $(seq 1 "$REPEAT"); do
        out="$out $(val "$OUT/$1-$r.txt" seconds) ($(cpu_of "$OUT/$1-$r.txt"))"
    done
    echo "$out"
}
{
    echo "kintsugi store backends, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, PostgreSQL $(psql "$PG" -qAtX -c 'SHOW server_version') (fsync on, unix socket)"
    if [ "${BENCH_ONLY:-}" != restart ]; then
        R_SQ=$(best pg-sqlite-replay)
        R_PG=$(best pg-replay)
        echo "replay of $FILE ($(wc -l <"$FILE") lines), kintsugi ingest as a whole process, fastest of $REPEAT:"
        printf '  SQLite      %6.2f s  peak RSS %s KiB\n' "$(val "$R_SQ" seconds)" "$(val "$R_SQ" peak_rss_kib)"
        printf '  PostgreSQL  %6.2f s  peak RSS %s KiB\n' "$(val "$R_PG" seconds)" "$(val "$R_PG" peak_rss_kib)"
        echo "  PostgreSQL / SQLite by round:$ratios"
    fi
    echo "10 M pairs ($PAIRS_FILE):"
    printf '  first ingest: SQLite %.2f s, PostgreSQL %.2f s (database %s / %s)\n' \
        "$(val "$OUT/pg-sqlite-pairs-ingest.txt" seconds)" "$(val "$OUT/pg-pairs-ingest.txt" seconds)" "$SQ_SIZE" "$SIZE"
    printf '  restart to ready, kintsugi ingest (fastest of %s): SQLite %.2f s (%s KiB), PostgreSQL %.2f s (%s KiB); target <= 2 s\n' \
        "$REPEAT" "$(val "$L_SQ" seconds)" "$(val "$L_SQ" peak_rss_kib)" "$(val "$L_PG" seconds)" "$(val "$L_PG" peak_rss_kib)"
    printf '  restart to ready, kintsugi serve to /readyz 200 (fastest of %s): SQLite %.2f s (%s KiB), PostgreSQL %.2f s (%s KiB)\n' \
        "$REPEAT" "$(val "$S_SQ" seconds)" "$(val "$S_SQ" peak_rss_kib)" "$(val "$S_PG" seconds)" "$(val "$S_PG" peak_rss_kib)"
    echo "  every round, wall s (kintsugi CPU user + sys s):"
    for bin in $BINS; do
        t=$(tag "$bin")
        echo "    $t ingest, SQLite:    $(rounds "pg-sqlite-$t-reload")"
        echo "    $t ingest, PostgreSQL:$(rounds "pg-pg-$t-reload")"
        echo "    $t serve, SQLite:     $(rounds "pg-sqlite-$t-ready")"
        echo "    $t serve, PostgreSQL: $(rounds "pg-pg-$t-ready")"
    done
    echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/pg-summary.txt"
