#!/usr/bin/env bash
# bench/postgres.sh - the store backends side by side (`make bench-pg`):
#
#  1. the replay of bench/run.sh's inventory stream (4 channels x BENCH_SKUS
#     SKUs x BENCH_CYCLES cycles) by `kintsugi ingest` as a whole process
#     into a new SQLite file and into a new PostgreSQL schema, alternating,
#     BENCH_REPEAT rounds (the fastest of each counts, every round's ratio is
#     printed);
#  2. restart to ready with 10 M (channel, SKU) pairs: `kintsugi ingest` of
#     4 x 2.5 M SKUs into each backend, then the same command again on the
#     same database (the saved state loaded, nothing new to apply), rounds.
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
FILE=$OUT/inventory-${CHANNELS}x${SKUS}x${CYCLES}-seed1-per1.ndjson
if [ ! -f "$FILE" ]; then
    build/bench/gen_inventory --channels "$CHANNELS" --skus "$SKUS" --cycles "$CYCLES" --seed 1 \
        --lines-per-ms 1 -o "$FILE"
fi
cat "$FILE" >/dev/null
rm -f "$OUT"/pg-replay-*.txt "$OUT"/pg-sqlite-replay-*.txt
ratios=""
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
for round in $(seq 1 "$REPEAT"); do
    say "restart to ready, round $round/$REPEAT: the same commands again"
    timed "pg-sqlite-pairs-reload-$round" build/kintsugi ingest --quiet --db "$SQ_PAIRS" "$PAIRS_FILE"
    timed "pg-pairs-reload-$round" build/kintsugi ingest --quiet --db "$PG_PAIRS" "$PAIRS_FILE"
done
SIZE=$(psql "$PG" -qAtX -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'b$nschema' AND c.relkind = 'r'")
SQ_SIZE=$(du -h "$SQ_PAIRS" | cut -f1)
rm -f "$SQ_PAIRS"*
# The two databases hold the same incidents.

R_SQ=$(best pg-sqlite-replay)
R_PG=$(best pg-replay)
L_SQ=$(best pg-sqlite-pairs-reload)
L_PG=$(best pg-pairs-reload)
{
    echo "kintsugi store backends, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, PostgreSQL $(psql "$PG" -qAtX -c 'SHOW server_version') (fsync on, unix socket)"
    echo "replay of $FILE ($(wc -l <"$FILE") lines), kintsugi ingest as a whole process, fastest of $REPEAT:"
    printf '  SQLite      %6.2f s  peak RSS %s KiB\n' "$(val "$R_SQ" seconds)" "$(val "$R_SQ" peak_rss_kib)"
    printf '  PostgreSQL  %6.2f s  peak RSS %s KiB\n' "$(val "$R_PG" seconds)" "$(val "$R_PG" peak_rss_kib)"
    echo "  PostgreSQL / SQLite by round:$ratios"
    echo "10 M pairs ($PAIRS_FILE):"
    printf '  first ingest: SQLite %.2f s, PostgreSQL %.2f s (database %s / %s)\n' \
        "$(val "$OUT/pg-sqlite-pairs-ingest.txt" seconds)" "$(val "$OUT/pg-pairs-ingest.txt" seconds)" "$SQ_SIZE" "$SIZE"
    printf '  restart to ready (fastest of %s): SQLite %.2f s (%s KiB), PostgreSQL %.2f s (%s KiB); target <= 2 s\n' \
        "$REPEAT" "$(val "$L_SQ" seconds)" "$(val "$L_SQ" peak_rss_kib)" "$(val "$L_PG" seconds)" "$(val "$L_PG" peak_rss_kib)"
} | tee "$OUT/pg-summary.txt"
