#!/usr/bin/env bash
# kill -9 under load (docs/DURABILITY.md): `kintsugi serve` takes batches of
# events on POST /v1/events while it is killed -9 at random moments
# KS_CRASH_KILLS times (5 here, 100 under `make torture`) and started again
# each time. The client (crash/client.py) sends each request until it is
# acknowledged, so every event ends up sent; events have ids, so a request
# committed before its answer was lost comes back as duplicates. At the end:
#   - every request was acknowledged once, whole: all its events accepted or,
#     sent again, all duplicates (never part of one);
#   - the store holds exactly what `kintsugi ingest` of the same requests
#     makes: the same incidents, the same guarded feed, the same hook and
#     message rows (so nothing acknowledged is lost and nothing is doubled);
#   - every hook and message was delivered (the webhook receiver saw each
#     key, the dir receiver has each file) and none that does not exist.
# KS_TEST_DB picks the store: "sqlite" (default, a file here) or a
# postgresql:// URI of an empty database (the caller makes and drops it).
# Prints "RESULT passed=N failed=M" and a summary line "crash: ...".
set -u
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/load_lib.bash"
KILLS=${KS_CRASH_KILLS:-5}
DBKIND=${KS_TEST_DB:-sqlite}
case "$DBKIND" in
sqlite) DB=$T/crash.db ;;
postgres*) DB=$DBKIND ;;
*) echo "KS_TEST_DB: sqlite or a postgresql:// URI, got '$DBKIND'"; exit 2 ;;
esac
SPID= RPID=
cleanup() {
    [ -n "${KEEP:-}" ] && cp -r "$T" "$KEEP"
    for p in $SPID $RPID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# ---- receivers, configuration, load -------------------------------------------------
load_config
check config_ok "$K" check-config "$T/k.yaml"
# about 24 requests of 20 events a round: some 30 requests a kill
ROUNDS=${KS_CRASH_ROUNDS:-$((KILLS * 30 / 24 + 5))}
load_make

# ---- the server, killed and started again ---------------------------------------------
"$K" token create --name load --role responder --db "$DB" >"$T/tok" 2>"$T/tok.err"
check token_made [ -s "$T/tok" ]
TOK=$(cat "$T/tok")
# (crash/driver.py: the client is quick - a few hundred requests a second - so
# the kills are timed in Python, to the millisecond)
read -r _ kills _ restarts_ok _ crc _ URL < <(python3 "$D/driver.py" "$KILLS" "$TOK" "$T/req" \
    "$T/acks" "$T/serve.log" -- "$K" serve --listen 127.0.0.1:PORT --clock event \
    --config "$T/k.yaml" --db "$DB")
SPID=$(cat "$T/serve.pid" 2>/dev/null)
check every_kill_done [ "${kills:-0}" -eq "$KILLS" ]
check every_restart_ready [ "${restarts_ok:-0}" -eq "${kills:-0}" ]
check client_done [ "${crc:--1}" -eq 0 ]
check server_running kill -0 "${SPID:-0}"

# ---- acknowledgements: every request once, whole ----------------------------------------
check_acks

# ---- deliveries finish, then the server stops ----------------------------------------------
check_drained
kill "$SPID"
stopped() {
    for _ in $(seq 1 300); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$SPID" 2>/dev/null && tail -1 "$T/serve.log" | grep -q 'stopped; state saved'
}
check clean_stop stopped
SPID=

# ---- the same requests through `kintsugi ingest`: the same store ---------------------------
# ---- and every delivery made, to its receiver; none that is not a row -----------------------
check_as_ingest "$DB"
# (hooks and chat there, the files receiver here)
"$K" messages --json --db "$DB" | jq -r '.[] | select(.receiver == "files") | .idempotency_key + ".json"' | sort >"$T/files.keys"
check files_delivered cmp "$T/files.keys" <(ls "$T/outbox" | sort)
# the same key sent twice: a kill between the receiver's answer and its record
# (at-least-once, one idempotency key: docs/DURABILITY.md); counted, not failed
RESENT=$(($(wc -l <"$T/hook.calls") - $(uniq "$T/hook.calls" | wc -l) + $(wc -l <"$T/chat.calls") - $(uniq "$T/chat.calls" | wc -l)))

echo "crash: store $DBKIND, $kills kill -9, $NREQ requests acknowledged, $NEV events ($ACC accepted at once, $DUP duplicates of requests committed before a kill), $(wc -l <"$T/hook.keys") hooks, $(($(wc -l <"$T/chat.keys") + $(wc -l <"$T/files.keys"))) messages, $(jq length <("$K" incidents --json --db "$DB")) incidents, doubles 0 of rows, $RESENT deliveries sent again with their key"
echo "RESULT passed=$passed failed=$failed"
