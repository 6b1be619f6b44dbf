#!/usr/bin/env bash
# bench/ids.sh - the event ids kept for duplicate detection (SPEC 1), `make
# bench-ids`: a database that remembers IDS_N (640,000) ids, taken within the
# retention, then `kintsugi ingest` of one tick line into it: the whole
# process (loading the saved state with its ids, the tick, saving), as
# /usr/bin/time sees it, fastest of 3, at 40,000, 160,000 and IDS_N ids.
# Loading must cost time in proportion to the ids (docs/PERFORMANCE.md,
# "Restart with event ids"). Prints a summary (also bench/out/ids-summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
K=${KINTSUGI:-build/kintsugi}
N=${IDS_N:-640000}
OUT=bench/out
mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 - "$N" >"$T/ids.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "stock", "id": "x%d" % i, "ts": 1796611508000, "sku": "S%d" % (i % 100), "qty": 1}))
PY
echo '{"type":"tick","ts":1796611509000}' >"$T/tick.ndjson"
{
    echo "# bench/ids.sh: ingest of one tick line into a database remembering N event ids"
    echo "# command: IDS_N=$N bash bench/ids.sh   ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
    printf '%10s %10s %12s\n' ids wall_s peak_rss_kb
    for n in 40000 160000 "$N"; do
        head -n "$n" "$T/ids.ndjson" >"$T/part.ndjson"
        best=""
        rss=""
        for _ in 1 2 3; do
            rm -f "$T"/db*
            "$K" ingest --quiet --db "$T/db" "$T/part.ndjson" >/dev/null 2>&1
            /usr/bin/time -f '%e %M' -o "$T/time" "$K" ingest --quiet --db "$T/db" "$T/tick.ndjson" >/dev/null 2>&1
            read -r w m <"$T/time"
            if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $w < $best else 1)"; then
                best=$w
                rss=$m
            fi
        done
        printf '%10s %10s %12s\n' "$n" "$best" "$rss"
    done
} | tee "$OUT/ids-summary.txt"
