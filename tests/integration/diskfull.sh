#!/usr/bin/env bash
# The disk filling up (docs/DURABILITY.md): the store on a small tmpfs (10 MiB),
# filled by a file until no byte is left, under `kintsugi serve` and under
# `kintsugi ingest`. What must hold: a clear error that names the store and
# says the disk is full, a 503 (serve) or a non-zero exit (ingest); no
# corruption (PRAGMA integrity_check = ok while full and after); and, once
# the file is deleted, recovery: everything acknowledged is there, the rest
# is taken, and the store ends as `kintsugi ingest` on a roomy disk makes it.
# Needs root (mount): without it, says SKIP (the SQLite I/O faults are also
# tested through a test VFS, tests/unit/test_store_vfs.c).
# Prints "RESULT passed=N failed=M".
set -u
. "$(dirname "$0")/lib.bash"
# Servers here are stopped hard to show the journal re-applied: none saves its
# state on a quiet spell (which would leave no journal to re-apply).
export KINTSUGI_CHECKPOINT_IDLE=0
D=$(cd "$(dirname "$0")" && pwd)/crash
MNT=$T/mnt
SPID=
cleanup() {
    [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
    mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
    [ -n "${KEEP:-}" ] && cp -r "$T" "$KEEP"
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=10m tmpfs "$MNT" 2>"$T/mount.err"; then
    echo "SKIP diskfull: cannot mount a tmpfs ($(head -1 "$T/mount.err")); see test_store_vfs"
    echo "RESULT passed=0 failed=0"
    exit 0
fi
REF=${KINTSUGI_REF:-build/kintsugi}
[ -x "$REF" ] || REF=$K
read -r _ NREQ < <(python3 "$D/gen.py" "$T/req" 30 200)
fill() { dd if=/dev/zero of="$MNT/filler" bs=64k >/dev/null 2>&1; [ "$(df --output=avail "$MNT" | tail -1)" -eq 0 ]; }
integrity() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
refdb() { # the requests, one ingest each (as ?end=true), on the roomy disk
    local f
    for f in "$T"/req/req-*.ndjson; do "$REF" ingest --quiet --no-deliver --db "$1" "$f" >/dev/null 2>&1 || return 1; done
}
check reference_ingest refdb "$T/ref.db"

# ---- serve -----------------------------------------------------------------------------------
DB=$MNT/serve.db
"$K" token create --name load --role responder --db "$DB" >"$T/tok" 2>/dev/null
TOK=$(cat "$T/tok")
start() {
    : >"$T/serve.err"
    "$K" serve --listen 127.0.0.1:0 --clock event --db "$DB" >"$T/serve.out" 2>"$T/serve.err" &
    SPID=$!
    for _ in $(seq 1 200); do
        URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$T/serve.out" "$T/serve.err" | head -1)
        [ -n "$URL" ] && curl -sf "$URL/readyz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
post() { # N -> prints the HTTP status; the answer in $T/answer
    curl -s -o "$T/answer" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$(printf '%s/req/req-%06d.ndjson' "$T" "$1")" \
        "$URL/v1/events?end=true"
}
check serve_starts start
ok=0
for i in 0 1 2 3 4; do [ "$(post $i)" = 202 ] && ok=$((ok + 1)); done
check room_at_first [ "$ok" -eq 5 ]
check disk_filled fill
# on: answers 202 while SQLite still finds room in its pages, then 503
acked=$ok first503=
for i in $(seq 5 $((NREQ - 1))); do
    code=$(post "$i")
    if [ "$code" = 202 ]; then acked=$((acked + 1)); continue; fi
    first503=$i
    break
done
check full_disk_answers_503 [ "${code:-}" = 503 ]
check store_failed_in_answer grep -q '"unavailable"' "$T/answer"
check later_requests_refused [ "$(post $((first503 + 1)))" = 503 ]
check not_ready_when_full [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 503 ]
check error_names_store_and_disk_full grep -qF "$DB: store: commit: database or disk is full" "$T/serve.err"
kill "$SPID"
wait "$SPID" 2>/dev/null
SPID=
check intact_while_full integrity "$DB"
rm -f "$MNT/filler"
check restarts_with_room start
check journal_reapplied grep -q 're-applied [0-9]* journal entries' "$T/serve.err"
# everything acknowledged is there (all duplicates), the rest is taken now
dups_ok=1
for i in $(seq 0 $((acked - 1))); do
    [ "$(post "$i")" = 202 ] && [ "$(jq '.accepted == 0 and .duplicates == 200' "$T/answer")" = true ] || dups_ok=0
done
check acknowledged_kept_exactly [ "$dups_ok" -eq 1 ]
rest_ok=1
for i in $(seq "$acked" $((NREQ - 1))); do [ "$(post "$i")" = 202 ] || rest_ok=0; done
check rest_taken_after_recovery [ "$rest_ok" -eq 1 ]
kill "$SPID"
wait "$SPID"
check clean_stop [ $? -eq 0 ]
SPID=
check intact_after integrity "$DB"
same() { cmp <("$K" "$@" --db "$DB") <("$K" "$@" --db "$T/ref.db"); }
check serve_same_incidents_as_ingest same incidents --json
check serve_same_feed_as_ingest same feed amazon --json
check serve_same_feed_ebay_as_ingest same feed ebay --json

# ---- ingest ----------------------------------------------------------------------------------
rm -f "$MNT"/serve.db*
DB=$MNT/ingest.db
cat "$T"/req/req-*.ndjson >"$T/all.ndjson"
"$REF" ingest --quiet --no-deliver --db "$T/ref1.db" "$T/all.ndjson" >/dev/null 2>&1
# no room at all: even the schema cannot be written
fill
"$K" ingest --quiet --no-deliver --db "$DB" "$T/all.ndjson" >/dev/null 2>"$T/ingest0.err"
check ingest_fails_at_open_when_full [ $? -ne 0 ]
check open_error_names_store grep -qF "$DB" "$T/ingest0.err"
check open_error_says_disk_full grep -q 'database or disk is full' "$T/ingest0.err"
rm -f "$MNT/filler" "$DB"*
# room for part of the run only (the schema takes 64 KiB pages)
dd if=/dev/zero of="$MNT/filler" bs=64k count=$(($(df --output=avail "$MNT" | tail -1) / 64 - 56)) >/dev/null 2>&1
KINTSUGI_CHECKPOINT_EVERY=0 "$K" ingest --quiet --no-deliver --db "$DB" "$T/all.ndjson" >/dev/null 2>"$T/ingest.err"
check ingest_fails_when_full [ $? -ne 0 ]
check ingest_error_names_store_and_disk_full grep -qF "$DB: store: " "$T/ingest.err"
check ingest_error_says_disk_full grep -q 'database or disk is full' "$T/ingest.err"
check ingest_intact_while_full integrity "$DB"
rm -f "$MNT/filler"
check ingest_resumes_with_room "$K" ingest --quiet --no-deliver --db "$DB" "$T/all.ndjson"
check ingest_intact_after integrity "$DB"
same1() { cmp <("$K" "$@" --db "$DB") <("$K" "$@" --db "$T/ref1.db"); }
check ingest_same_incidents same1 incidents --json
check ingest_same_feed same1 feed amazon --json

echo "diskfull: serve acknowledged $acked requests before the disk was full, 503 from request $first503 on; all $acked found again after recovery"
echo "RESULT passed=$passed failed=$failed"
