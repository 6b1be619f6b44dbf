# load_lib.bash - the load of crash.sh and pg_restart.sh (sourced after
# lib.bash, not run): requests of events made by crash/gen.py, sent by
# crash/client.py until each is acknowledged (a line "REQ ACCEPTED
# DUPLICATES EVENTS" a request in $T/acks), and what must hold afterwards.
# D                   crash/: client.py, driver.py, gen.py, receiver.py
# load_config         the receiver of hooks and messages (crash/receiver.py;
#                     RPID, its calls in $T/calls) and $T/k.yaml pointing at it
#                     and at the directory $T/outbox
# load_make           $ROUNDS rounds of requests in $T/req (and at least as
#                     many incidents and hooks); sets NEV (events) and NREQ
# acked               how many acknowledgements so far
# check_acks          every request acknowledged once, whole; every event
#                     accepted or a duplicate (sets ACC and DUP)
# check_drained       the store of $DB has no message or hook left to deliver
# check_as_ingest DB  DB holds what `kintsugi ingest` of each request makes in
#                     $T/ref.db (incidents, feeds, hook and message rows), and
#                     every hook and chat message reached the receiver
#                     ($T/hook.keys, $T/chat.keys: the rows' keys)
D=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/crash

load_config() {
    : >"$T/calls"
    python3 "$D/receiver.py" "$T/calls" "$T/recv.port" & RPID=$!
    for _ in $(seq 1 100); do [ -s "$T/recv.port" ] && break; sleep 0.1; done
    local rp
    rp=$(cat "$T/recv.port")
    mkdir -p "$T/outbox"
    cat >"$T/k.yaml" <<EOF
hooks:
  stop_order_import: {url: "http://127.0.0.1:$rp/hooks/stop", retries: 8, backoff: 1s}
  resume_order_import: {url: "http://127.0.0.1:$rp/hooks/resume", retries: 8, backoff: 1s}
  reduce_channel_inventory: {url: "http://127.0.0.1:$rp/hooks/reduce", retries: 8, backoff: 1s}
receivers:
  chat: {webhook: "http://127.0.0.1:$rp/chat", retries: 8, backoff: 1s}
  files: {dir: "$T/outbox"}
notify: {team: [chat, files], leadership: [files]}
EOF
}
load_make() { read -r NEV NREQ < <(python3 "$D/gen.py" "$T/req" "$ROUNDS" 20); }
acked() { wc -l <"$T/acks" 2>/dev/null || echo 0; }

load_once() { [ "$(cut -d' ' -f1 "$T/acks" | sort -n | uniq | wc -l)" = "$NREQ" ] && [ "$(acked)" = "$NREQ" ]; }
check_acks() {
    check every_request_acknowledged_once load_once
    check requests_whole awk '$2 + $3 != $4 || ($2 != $4 && $3 != $4) { bad = 1 } END { exit bad }' "$T/acks"
    ACC=$(awk '{ a += $2 } END { print a + 0 }' "$T/acks")
    DUP=$(awk '{ d += $3 } END { print d + 0 }' "$T/acks")
    check every_event_accounted_for [ "$((ACC + DUP))" -eq "$NEV" ]
}

load_pending() {
    "$K" messages --db "$DB" --json | jq '[.[] | select(.status != "sent")] | length'
    "$K" hooks --db "$DB" --json | jq '[.[] | select(.status != "done" and .status != "delivered")] | length'
}
load_drained() {
    for _ in $(seq 1 600); do
        [ "$(load_pending | tr '\n' ' ')" = "0 0 " ] && return 0
        sleep 0.1
    done
    load_pending
    return 1
}
check_drained() { check deliveries_drained load_drained; }

# One ingest per request: the end of an ingest closes open updates, as
# ?end=true does at the end of a request.
# (with the release build when there is one: the same code, four times faster)
load_reference() {
    local ref=${KINTSUGI_REF:-build/kintsugi} f
    [ -x "$ref" ] || ref=$K
    for f in "$T"/req/req-*.ndjson; do
        "$ref" ingest --quiet --no-deliver --config "$T/k.yaml" --db "$T/ref.db" "$f" \
            >/dev/null 2>"$T/ingest.err" || return 1
    done
}
load_same() { # DB CLI-ARGS...: the CLI's output on DB and on the reference
    local db=$1
    shift
    cmp <("$K" "$@" --db "$db") <("$K" "$@" --db "$T/ref.db")
}
load_made() { [ "$("$K" incidents --json --db "$T/ref.db" | jq length)" -ge "$ROUNDS" ]; }
# Rows by their keys, not their ids: rows written after the last saved state
# are undone at a restart and written again by the journal, with new ids
# (docs/STORAGE.md). Not the subject either: a message not sent yet is
# rendered from the incident as it is now, one sent as it was then. Nor a
# message's key, which carries its database's id (the reference is another
# database): who is told of what, and when, and each key once.
load_hookrows() { "$K" hooks --json --db "$1" | jq -c '.[] | [.key, .incident, .action, .body]' | sort; }
load_msgrows() {
    "$K" messages --json --db "$1" |
        jq -c 'if ([.[] | [.idempotency_key, .receiver]] | unique | length) == length then .[] else error("a key twice") end |
            [.receiver, .incident, .kind, .audience, .recipient, .created_at]' | sort
}
check_as_ingest() {
    local db=$1
    check reference_ingest load_reference
    check same_incidents load_same "$db" incidents --json
    check incidents_made load_made
    check same_feed_amazon load_same "$db" feed amazon --json
    check same_feed_ebay load_same "$db" feed ebay --json
    check same_hook_rows cmp <(load_hookrows "$db") <(load_hookrows "$T/ref.db")
    check same_message_rows cmp <(load_msgrows "$db") <(load_msgrows "$T/ref.db")
    check hooks_made [ "$(load_hookrows "$db" | wc -l)" -ge "$ROUNDS" ]
    # every delivery made, to its receiver; none that is not a row (a hook
    # call is sent with its database's id before its key: idempotency_key)
    "$K" hooks --json --db "$db" | jq -r '.[].idempotency_key' | sort >"$T/hook.keys"
    "$K" messages --json --db "$db" | jq -r '.[] | select(.receiver == "chat") | .idempotency_key' | sort >"$T/chat.keys"
    jq -r 'select(.path | startswith("/hooks/")) | .key' "$T/calls" | sort >"$T/hook.calls"
    jq -r 'select(.path == "/chat") | .key' "$T/calls" | sort >"$T/chat.calls"
    check hooks_delivered cmp "$T/hook.keys" <(uniq "$T/hook.calls")
    check chat_delivered cmp "$T/chat.keys" <(uniq "$T/chat.calls")
}
