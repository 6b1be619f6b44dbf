#!/usr/bin/env bash
# bench/idle.sh - what `kintsugi serve` writes when nothing happens
# (`make bench-idle`): a database of IDLE_SKUS x 4 channels (250,000: 1 M
# tracked pairs) made by `kintsugi ingest`, then `kintsugi serve` on the wall
# clock on it; once started and settled (IDLE_SETTLE seconds, 10: the jump of
# the clock from the data's time to now fires what it fires), the bytes the
# whole process writes (write_bytes of /proc/PID/io: the database, its
# write-ahead log and the copy of the log into the database) over IDLE_SECONDS
# (30) with no request, then over as long again with a dashboard polling
# (GET /v1/incidents?view=brief and /v1/guard every second, /metrics every
# 5 s). Prints the figures and the commands.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
SKUS=${IDLE_SKUS:-250000}
SETTLE=${IDLE_SETTLE:-10}
SECONDS_IDLE=${IDLE_SECONDS:-30}
K=build/kintsugi
make --no-print-directory build/kintsugi build/bench/gen_inventory >/dev/null

FILE=$OUT/idle-4x${SKUS}x1.ndjson
GEN="build/bench/gen_inventory --channels 4 --skus $SKUS --cycles 1 --lines-per-ms 4 -o $FILE"
[ -f "$FILE" ] || $GEN
DB=$OUT/idle.db
rm -f "$DB" "$DB-wal" "$DB-shm"
$K ingest --quiet --db "$DB" "$FILE"
TOKEN=$($K token create --name bench --role admin --db "$DB" 2>/dev/null)

$K serve --listen 127.0.0.1:0 --db "$DB" 2>"$OUT/idle.err" &
PID=$!
trap 'kill -9 "$PID" 2>/dev/null || true' EXIT
until grep -q '^listening on' "$OUT/idle.err" 2>/dev/null; do
    kill -0 "$PID" 2>/dev/null || { cat "$OUT/idle.err"; exit 1; }
    sleep 0.05
done
URL=$(sed -n 's/^listening on //p' "$OUT/idle.err")
sleep "$SETTLE"
written() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$PID/io"; }
commits() { curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" | awk '$1 == "kintsugi_commits_total" { print $2 }'; }

c0=$(commits)
w0=$(written)
sleep "$SECONDS_IDLE"
w1=$(written)
c1=$(commits)

end=$((SECONDS + SECONDS_IDLE))
n=0
while [ "$SECONDS" -lt "$end" ]; do
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/v1/incidents?view=brief"
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/v1/guard"
    [ $((n % 5)) -eq 0 ] && curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/metrics"
    n=$((n + 1))
    sleep 1
done
w2=$(written)
c2=$(commits)
kill -TERM "$PID"
wait "$PID" || true

{
    printf '\n== kintsugi serve, idle (%s, %d cores; %d tracked pairs, %s)\n' \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
        $((SKUS * 4)) "$(du -h "$DB" | cut -f1)"
    printf '%-52s %12s\n' "bytes written in ${SECONDS_IDLE} s, no request" "$((w1 - w0))"
    printf '%-52s %12s\n' "  store transactions meanwhile" "$((c1 - c0))"
    printf '%-52s %12s\n' "bytes written in ${SECONDS_IDLE} s, a dashboard polling" "$((w2 - w1))"
    printf '%-52s %12s\n' "  store transactions meanwhile" "$((c2 - c1))"
    echo
    echo "commands:"
    echo "  $GEN"
    echo "  kintsugi ingest --quiet --db $DB $FILE"
    echo "  kintsugi serve --listen 127.0.0.1:0 --db $DB; after ${SETTLE} s, write_bytes of /proc/PID/io over ${SECONDS_IDLE} s, idle then polled"
} | tee "$OUT/idle-summary.txt"
