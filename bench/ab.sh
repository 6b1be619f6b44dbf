#!/usr/bin/env bash
# bench/ab.sh - two (or more) kintsugi binaries, `ingest` of the same file
# into a new database each time, run alternately round by round (A B A B ...)
# as whole processes under /usr/bin/time: wall clock, user and system CPU,
# peak RSS and page faults per run, then each binary's fastest wall clock,
# median wall clock and median CPU (user + sys). Alternating keeps a shared
# machine's drift out of the comparison; the CPU time and the page faults
# move much less with the neighbours' load than the wall clock does.
#
#   bash bench/ab.sh ROUNDS FILE BIN_A BIN_B [BIN...]
#   e.g. cp build/kintsugi /tmp/k-old; (change, make); bash bench/ab.sh 5 \
#        bench/out/inventory-4x250000x10-seed1-per1.ndjson /tmp/k-old build/kintsugi
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: bench/ab.sh ROUNDS FILE BIN_A BIN_B [BIN...]" >&2; exit 2; }
rounds=$1
file=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for r in $(seq 1 "$rounds"); do
    i=0
    for bin in "$@"; do
        i=$((i + 1))
        rm -f "$dir/ab.db" "$dir/ab.db-wal" "$dir/ab.db-shm"
        /usr/bin/time -f "%e %U %S %M %R" -o "$dir/t" "$bin" ingest --quiet --db "$dir/ab.db" "$file"
        read -r wall user sys rss faults <"$dir/t"
        printf '%-2d %-28s wall %6.2f s  user %5.2f s  sys %5.2f s  peak %7d KiB  faults %7d\n' \
            "$r" "$bin" "$wall" "$user" "$sys" "$rss" "$faults"
        echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" >>"$dir/runs-$i"
    done
done
echo
i=0
for bin in "$@"; do
    i=$((i + 1))
    fastest=$(cut -d' ' -f1 "$dir/runs-$i" | sort -n | head -1)
    mwall=$(cut -d' ' -f1 "$dir/runs-$i" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    mcpu=$(cut -d' ' -f2 "$dir/runs-$i" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf '%-28s fastest %.2f s, median wall %.2f s, median CPU %.2f s (%d runs)\n' \
        "$bin" "$fastest" "$mwall" "$mcpu" "$rounds"
done
