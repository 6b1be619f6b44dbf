#!/usr/bin/env bash
# Interrupted ingests and concurrent writers, through the CLI: an ingest killed
# with -9 (between two saved states, or between a save and later effects),
# stopped by SIGTERM, or failed on a full disk, then run again, ends exactly as
# an uninterrupted one (incidents, timelines, dead letters, guard, feed); a
# second writer waits for the first instead of losing data; over-long lines
# are skipped in constant memory; a byte-order mark is skipped; the impact of
# the orders before an incident's detection is the same in one ingest and in
# two.
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"

# A simulated day and a half with every fault, broken lines, events with ids and
# duplicates of them.
"$K" simulate --seed 7 --duration 30h --skus 1000 --fault all --out "$T/sim.ndjson" 2>/dev/null
awk 'NR % 3 == 0 { sub(/^\{/, "{\"id\":\"e" NR "\",") }
     { print }
     NR % 1000 == 0 { print }
     NR % 4001 == 0 { print "{\"type\":\"inventory\",\"ts\":\"nope\"}" }' "$T/sim.ndjson" >"$T/day.ndjson"
check day_is_large [ "$(wc -c <"$T/day.ndjson")" -gt 40000000 ]
grep '"type":"inventory"' "$T/day.ndjson" >"$T/inv.ndjson"

# (and each database's own id, which starts the key a hook call is sent with)
nowall() { sed -E 's/"(received_at|next_at)":"[^"]*"//g; s/"idempotency_key":"[0-9a-f]{32}-/"idempotency_key":"DBID-/g'; }
# Everything a person or an adapter reads of a database, in one file.
snapshot() { # db out
    local db=$1 out=$2 n i
    {
        "$K" incidents --db "$db" --json
        n=$("$K" incidents --db "$db" --json | grep -o '"id":[0-9]*' | wc -l)
        for i in $(seq 1 "$n"); do "$K" incident show "$i" --db "$db" --json; done
        "$K" deadletters --db "$db" --json | nowall
        "$K" guard status --db "$db" --json
        for c in amazon ebay shopify walmart; do "$K" feed "$c" --db "$db" --json; done
        "$K" feed amazon --state --db "$db" --json
        "$K" hooks --db "$db" --json | nowall
    } >"$out" 2>&1
}
export -f nowall

check uninterrupted "$K" ingest --quiet --db "$T/u.db" "$T/day.ndjson"
snapshot "$T/u.db" "$T/u.snap"
check uninterrupted_has_incidents bash -c "[ \$(grep -c '\"type\"' $T/u.snap) -ge 5 ]"
check uninterrupted_has_dead_letters grep -q '"reason":"inventory: field \\"ts\\"' "$T/u.snap"
check uninterrupted_counts_duplicates bash -c "$K ingest --json --db $T/dup.db $T/day.ndjson | grep -q '\"duplicates\":[1-9]'"

# kill -9 at a random moment, then the same command again: trials with a save at
# every chunk and with the default (one save at the end: the rows written after
# the start are undone, then written again).
trial() { # name every delay
    local name=$1 every=$2 delay=$3 pid
    KINTSUGI_CHECKPOINT_EVERY=$every "$K" ingest --quiet --db "$T/$name.db" "$T/day.ndjson" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    check "${name}_resumes" "$K" ingest --quiet --db "$T/$name.db" "$T/day.ndjson"
    snapshot "$T/$name.db" "$T/$name.snap"
    check "${name}_same_as_uninterrupted" cmp "$T/u.snap" "$T/$name.snap"
}
trial kill_a 0 0.$((RANDOM % 9 + 1))
trial kill_b 0 $((RANDOM % 2 + 1)).$((RANDOM % 10))
trial kill_c 30 $((RANDOM % 2 + 1)).$((RANDOM % 10))

# SIGTERM: stops at the end of a batch, saves, says how to resume, exits 143.
# The signal must reach a running ingest: an ingest that finished first
# (exit 0) is tried again with the signal sent sooner.
for delay in 0.6 0.3 0.15 0.08 0.04; do
    rm -f "$T"/term.db*
    KINTSUGI_CHECKPOINT_EVERY=30 "$K" ingest --quiet --db "$T/term.db" "$T/day.ndjson" >"$T/term.out" 2>"$T/term.err" &
    pid=$!
    sleep "$delay"
    kill -TERM "$pid"
    wait "$pid"
    term_rc=$?
    [ "$term_rc" -ne 0 ] && break
done
check sigterm_exits_143 [ "$term_rc" -eq 143 ]
check sigterm_says_how_to_resume grep -q "stopped by SIGTERM after saving; run the same command again to resume" "$T/term.err"
"$K" ingest --db "$T/term.db" "$T/day.ndjson" >/dev/null 2>"$T/term2.err"
check sigterm_resume_says_where grep -q "this database took it up to line [0-9]* (byte [0-9]* of [0-9]*); continuing after it" "$T/term2.err"
snapshot "$T/term.db" "$T/term.snap"
check sigterm_same_as_uninterrupted cmp "$T/u.snap" "$T/term.snap"
check again_is_nothing_new bash -c "$K ingest --db $T/term.db $T/day.ndjson 2>&1 | grep -q 'already taken up to its end'"
snapshot "$T/term.db" "$T/term2.snap"
check again_changes_nothing cmp "$T/u.snap" "$T/term2.snap"

# A file that grew continues with its new lines; --from-start takes it again.
head -n 200000 "$T/day.ndjson" >"$T/grow.ndjson"
check grow_first_part "$K" ingest --quiet --db "$T/grow.db" "$T/grow.ndjson"
tail -n +200001 "$T/day.ndjson" >>"$T/grow.ndjson"
check grow_second_part "$K" ingest --quiet --db "$T/grow.db" "$T/grow.ndjson"
check grown_same_incidents bash -c "cmp <($K incidents --db $T/u.db --json) <($K incidents --db $T/grow.db --json)"
check from_start_counts_duplicates bash -c "$K ingest --from-start --json --db $T/grow.db $T/grow.ndjson 2>/dev/null | grep -q '\"duplicates\":[1-9]'"

# An incident's impact counts the orders between its started_at and its
# detection (a stale channel's first missed sync, an outage's last up check),
# each once, and the input cut anywhere into two ingests ends as one.
cat >"$T/imp.ndjson" <<'EOF'
{"type":"sync","ts":"2026-11-22T10:00:00Z","channel":"amazon","status":"ok"}
{"type":"sync","ts":"2026-11-22T10:20:00Z","channel":"ebay","status":"ok"}
{"type":"stock","ts":"2026-11-22T10:20:00Z","sku":"A","qty":1}
{"type":"order","ts":"2026-11-22T10:10:00Z","order_id":"o1","channel":"amazon","status":"cancelled","customer":"c1","value":11}
{"type":"health","ts":"2026-11-22T10:21:00Z","system":"wms","location":"berlin","status":"up"}
{"type":"order","ts":"2026-11-22T10:23:00Z","order_id":"p1","channel":"shop","status":"accepted","customer":"d1","value":20,"location":"berlin","lines":[{"sku":"B","qty":4}]}
{"type":"order","ts":"2026-11-22T10:24:00Z","order_id":"p2","channel":"shop","status":"rejected","customer":"d2","value":9,"location":"berlin"}
{"type":"order","ts":"2026-11-22T10:26:00Z","order_id":"o6","channel":"amazon","status":"accepted","customer":"c6","value":30,"lines":[{"sku":"A","qty":3}]}
{"type":"order","ts":"2026-11-22T10:28:00Z","order_id":"o2","channel":"amazon","status":"rejected","customer":"c2","value":40,"lines":[{"sku":"B","qty":2}]}
{"type":"order","ts":"2026-11-22T10:28:00Z","order_id":"o3","channel":"ebay","status":"rejected","customer":"c3","value":50}
{"type":"tick","ts":"2026-11-22T10:30:00.001Z"}
{"type":"order","ts":"2026-11-22T10:31:00Z","order_id":"o2","channel":"amazon","status":"cancelled"}
{"type":"order","ts":"2026-11-22T10:32:00Z","order_id":"o5","channel":"amazon","status":"rejected","customer":"c5","value":5}
EOF
impact() { # db id: its type and impact
    "$K" incident show "$2" --db "$1" --json | grep -o '"type":"[a-z_]*","severity"\|"impact":{[^}]*}' | tr '\n' ' '
}
shows() { for i in 1 2; do "$K" incident show "$i" --db "$1" --json; done; }
head -n 11 "$T/imp.ndjson" >"$T/imp_a.ndjson"
check impact_to_the_detection "$K" ingest --quiet --db "$T/imp_a.db" "$T/imp_a.ndjson"
check impact_of_an_outage_counts_the_orders_before_its_detection is \
    '"type":"system_outage","severity" "impact":{"orders":1,"customers":1,"revenue":20.0,"units":4} ' \
    "$(impact "$T/imp_a.db" 1)"
check impact_of_a_stale_sync_counts_the_orders_before_its_detection is \
    '"type":"sync_failure","severity" "impact":{"orders":2,"customers":2,"revenue":70.0,"units":5} ' \
    "$(impact "$T/imp_a.db" 2)"
check impact_whole "$K" ingest --quiet --db "$T/imp.db" "$T/imp.ndjson"
check impact_counts_an_order_once is \
    '"type":"sync_failure","severity" "impact":{"orders":3,"customers":3,"revenue":75.0,"units":5} ' \
    "$(impact "$T/imp.db" 2)"
shows "$T/imp.db" >"$T/imp.show"
split_ok=1
for k in $(seq 1 12); do
    head -n "$k" "$T/imp.ndjson" >"$T/imp1.ndjson"
    tail -n +"$((k + 1))" "$T/imp.ndjson" >"$T/imp2.ndjson"
    rm -f "$T"/imps.db*
    { "$K" ingest --quiet --db "$T/imps.db" "$T/imp1.ndjson" &&
        "$K" ingest --quiet --db "$T/imps.db" "$T/imp2.ndjson" &&
        shows "$T/imps.db" >"$T/imps.show" && cmp -s "$T/imp.show" "$T/imps.show"; } ||
        { echo "cut after line $k: not the same as one ingest"; split_ok=0; }
done
check impact_the_same_when_the_input_is_cut_anywhere [ "$split_ok" = 1 ]

# One writer at a time: two ingests of other streams at once give the incidents of
# both, and a person's acknowledgement made while an ingest runs is kept.
a=$SC/wms_complete_outage/events.ndjson
b=$SC/order_rejections/events.ndjson
check seq_a "$K" ingest --quiet --db "$T/seq.db" "$a"
check seq_b "$K" ingest --quiet --db "$T/seq.db" "$b"
want=$("$K" incidents --db "$T/seq.db" --json | grep -o '"id":' | wc -l)
# The first reads its second file from a FIFO, so it holds the writer lock
# until the second has said that it waits: no delay a loaded machine can
# outlast.
mkfifo "$T/par.fifo"
"$K" ingest --quiet --db "$T/par.db" "$a" "$T/par.fifo" >/dev/null 2>&1 &
p1=$!
for _ in $(seq 1 500); do
    [ -f "$T/par.db" ] && ! flock -n "$T/par.db" true 2>/dev/null && break
    sleep 0.02
done
"$K" ingest --quiet --db "$T/par.db" "$b" >/dev/null 2>"$T/par.err" &
p2=$!
for _ in $(seq 1 500); do
    grep -q 'waiting for it to finish' "$T/par.err" && break
    sleep 0.02
done
timeout 120 cp "$T/inv.ndjson" "$T/par.fifo" # (not forever if the first has died)
wait "$p2"
r2=$?
wait "$p1"
r1=$?
check concurrent_ingests_succeed [ "$r1$r2" = 00 ]
check second_writer_waited_naming_the_first grep -q "is being written by pid $p1 (kintsugi ingest" "$T/par.err"
got=$("$K" incidents --db "$T/par.db" --json | grep -o '"type":"\(system_outage\|order_rejections\)"' | wc -l)
check concurrent_ingests_keep_both [ "$got" -eq "$want" ]
check ack_before "$K" ingest --quiet --db "$T/ack.db" "$a"
"$K" ingest --quiet --db "$T/ack.db" "$T/inv.ndjson" >/dev/null 2>&1 &
p1=$!
sleep 0.3
check ack_while_ingest_runs "$K" incident ack 1 --by alice --db "$T/ack.db"
wait "$p1"
check ack_is_kept bash -c "$K incident show 1 --db $T/ack.db --json | grep -q '\"acknowledged_at\":\"'"
check ack_in_timeline bash -c "$K incident show 1 --db $T/ack.db --json | grep -q '\"actor\":\"alice\"'"

# Over-long lines: skipped as they stream, from a file and from a pipe; the dead
# letter keeps the first 64 KiB and says how long the line was.
{
    head -n 3 "$a"
    printf '{"type":"inventory","sku":"'
    head -c 30000000 /dev/zero | tr '\0' 'x'
    printf '"}\n'
    tail -n +4 "$a"
} >"$T/long.ndjson"
check long_line_file "$K" ingest --quiet --db "$T/long.db" "$T/long.ndjson"
check long_line_reason bash -c "$K deadletters --db $T/long.db --json | grep -q 'line: longer than 1 MiB (30000029 bytes)'"
check long_line_keeps_64k bash -c "[ \$($K deadletters --db $T/long.db | wc -c) -lt 200000 ]"
check only_a "$K" ingest --quiet --db "$T/a.db" "$a"
check long_line_rest_applied bash -c "cmp <($K incidents --db $T/a.db --json) <($K incidents --db $T/long.db --json)"
check long_line_pipe bash -c "$K ingest --quiet --db $T/longp.db - <$T/long.ndjson && $K deadletters --db $T/longp.db --json | grep -q '(30000029 bytes)'"
check long_line_memory_bounded bash -c "/usr/bin/time -f %M build/kintsugi ingest --quiet --db $T/longm.db - <$T/long.ndjson 2>&1 >/dev/null | tail -1 | awk '{ exit !(\$1 < 120000) }'"

# A UTF-8 byte-order mark before the first line is not part of it.
printf '\xef\xbb\xbf' >"$T/bom.ndjson"
cat "$a" >>"$T/bom.ndjson"
check bom_skipped bash -c "$K ingest --db $T/bom.db $T/bom.ndjson 2>&1 | grep -q ' 0 rejected'"
check bom_skipped_pipe bash -c "$K ingest --db $T/bomp.db - <$T/bom.ndjson 2>&1 | grep -q ' 0 rejected'"

# A full disk: a clear error, the log released, what was saved kept; once there is
# room again the same command resumes and ends as an uninterrupted run. The
# disk holds the new database's schema (at 64 KiB pages, three pages or more a
# table with its indexes, in the file and in the log) and a few saved chunks:
# 3 MiB stopped holding that with the tokens table of migration 5, 4 MiB with
# the outbox of messages of migration 7, 5 MiB with the incidents' columns,
# indexes and scope table of migration 9.
mkdir -p "$T/small"
if mount -t tmpfs -o size=6m tmpfs "$T/small" 2>/dev/null; then
    KINTSUGI_CHECKPOINT_EVERY=0 "$K" ingest --quiet --db "$T/small/f.db" "$T/day.ndjson" >/dev/null 2>"$T/full.err"
    check full_disk_fails_with_1 [ $? -eq 1 ]
    check full_disk_says_so grep -q "full" "$T/full.err"
    check full_disk_says_resume grep -q "a later run resumes after its last saved line" "$T/full.err"
    check full_disk_readable "$K" incidents --db "$T/small/f.db"
    mount -o remount,size=400m "$T/small"
    check full_disk_resumes "$K" ingest --quiet --db "$T/small/f.db" "$T/day.ndjson"
    check full_disk_log_released_after bash -c "[ \$(stat -c %s $T/small/f.db-wal 2>/dev/null || echo 0) -lt 4000000 ]"
    snapshot "$T/small/f.db" "$T/full.snap"
    check full_disk_same_as_uninterrupted cmp "$T/u.snap" "$T/full.snap"
    umount "$T/small"
else
    echo "note: cannot mount a tmpfs here; the full-disk checks did not run"
fi

echo "RESULT passed=$passed failed=$failed"
